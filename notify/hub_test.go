package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/standard"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// fakeService stands for one of shoutrrr's: it records what it was asked to
// send, and answers err; while release is not nil, Send waits for it.
type fakeService struct {
	standard.Standard
	mu      sync.Mutex
	inits   int
	initErr error
	sent    []string // "title|message"
	err     error
	release chan struct{}
}

func (f *fakeService) Initialize(*url.URL, types.StdLogger) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inits++
	return f.initErr
}

func (f *fakeService) GetID() string { return "fake" }

func (f *fakeService) Send(message string, params *types.Params) error {
	f.mu.Lock()
	release, err := f.release, f.err
	f.sent = append(f.sent, (*params)["title"]+"|"+message)
	f.mu.Unlock()
	if release != nil {
		<-release
	}
	return err
}

func (f *fakeService) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

// fakeSender opens a shoutrrrSender over f for raw.
func fakeShoutrrr(t *testing.T, raw string, f *fakeService, titled bool) *shoutrrrSender {
	t.Helper()
	u, err := ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &shoutrrrSender{url: u, svc: service{open: func() types.Service { return f }, titled: titled}}
}

func TestShoutrrrTitle(t *testing.T) {
	f := &fakeService{}
	titled := fakeShoutrrr(t, "ntfy://ntfy.sh/topic", f, true)
	untitled := fakeShoutrrr(t, "ntfy://ntfy.sh/topic", f, false)
	if err := titled.Push(t.Context(), "[srv2] down", "body"); err != nil {
		t.Fatal(err)
	}
	if err := untitled.Push(t.Context(), "[srv2] down", "body"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.got(), []string{"[srv2] down|body", "|[srv2] down\n\nbody"}; !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	if f.inits != 2 {
		t.Errorf("%d set-ups, want 2: one at the first push of each sender", f.inits)
	}
	if err := titled.Push(t.Context(), "again", "body"); err != nil || f.inits != 2 {
		t.Errorf("Push = %v with %d set-ups, want the service set up once per sender", err, f.inits)
	}
}

func TestShoutrrrSetUpRetried(t *testing.T) {
	f := &fakeService{initErr: errors.New("login to matrix.example.com: connection refused")}
	s := fakeShoutrrr(t, "ntfy://ntfy.sh/topic", f, true)
	err := s.Push(t.Context(), "t", "b")
	if tmp, known, _ := judge(err); err == nil || !known || !tmp || !strings.Contains(err.Error(), "ntfy: set up: login") {
		t.Fatalf("Push = %v, want a temporary set-up error", err)
	}
	f.initErr = nil
	if err := s.Push(t.Context(), "t", "b"); err != nil {
		t.Fatalf("second Push = %v, want the set-up tried again and the send made", err)
	}
	if f.inits != 2 || len(f.got()) != 1 {
		t.Errorf("%d set-ups, %d sends; want 2, 1", f.inits, len(f.got()))
	}
}

func TestShoutrrrErrors(t *testing.T) {
	tests := []struct {
		name, err string
		temporary bool
	}{
		{"refused", `failed to send ntfy notification: got 401 Unauthorized from https://ntfy.example.com/alerts-topic`, false},
		{"server error", `failed to send ntfy notification: got 503 Service Unavailable`, true},
		{"ntfy's code for a refusal", `failed to send ntfy notification: server response: unauthorized (40101), see: https://ntfy.sh/docs/`, false},
		{"ntfy's code for a rate limit", `failed to send ntfy notification: server response: limit reached (42901)`, true},
		{"network", `Post "https://alice:s3cret-pw@ntfy.example.com/alerts-topic": dial tcp: connection refused`, true},
	}
	// A connection the server closed: net/http's error says Temporary()
	// false, which must not make the message given up.
	eof := fmt.Errorf("posting to ntfy API: %w", &url.Error{Op: "Post", URL: "http://127.0.0.1:1/alerts-topic", Err: io.EOF})
	f := &fakeService{err: eof}
	err := fakeShoutrrr(t, "ntfy://alice:s3cret-pw@ntfy.example.com/alerts-topic", f, true).Push(t.Context(), "t", "b")
	if tmp, _, _ := judge(err); !tmp {
		t.Errorf("Push = %v: not temporary, want a retry", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeService{err: errors.New(tt.err)}
			s := fakeShoutrrr(t, "ntfy://alice:s3cret-pw@ntfy.example.com/alerts-topic", f, true)
			err := s.Push(t.Context(), "t", "b")
			if err == nil {
				t.Fatal("Push = nil, want an error")
			}
			for _, sec := range []string{"s3cret-pw", "alerts-topic", "alice:"} {
				if strings.Contains(err.Error(), sec) {
					t.Errorf("error %q shows %q", err, sec)
				}
			}
			if !strings.HasPrefix(err.Error(), "ntfy: ") {
				t.Errorf("error %q does not name the service", err)
			}
			if tmp, known, _ := judge(err); !known || tmp != tt.temporary {
				t.Errorf("Temporary() of %q, want %v", err, tt.temporary)
			}
			if errors.Unwrap(err) != nil {
				t.Errorf("the error unwraps to the unredacted one")
			}
		})
	}
}

// An attempt that times out leaves its send running; the note's next
// attempt waits for it, and its success is the note's: one message.
func TestShoutrrrSlowSendOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeService{release: make(chan struct{})}
		s := fakeShoutrrr(t, "ntfy://ntfy.sh/topic", f, true)
		ctx, cancel := context.WithTimeout(withGUID(t.Context(), "note-1"), 15*time.Second)
		err := s.Push(ctx, "t", "b")
		cancel()
		if err == nil || !strings.Contains(err.Error(), "no answer") {
			t.Fatalf("first attempt = %v, want no answer", err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Push(withGUID(t.Context(), "note-1"), "t", "b") }()
		synctest.Wait()
		close(f.release) // the first send goes through
		if err := <-done; err != nil {
			t.Errorf("second attempt = %v, want the first send's success", err)
		}
		if got := f.got(); len(got) != 1 {
			t.Errorf("sent %q, want once", got)
		}
		// Another note, with the first send over, is sent anew.
		f.release = nil
		if err := s.Push(withGUID(t.Context(), "note-2"), "t2", "b"); err != nil {
			t.Fatal(err)
		}
		if got := f.got(); len(got) != 2 {
			t.Errorf("sent %q, want two", got)
		}
	})
}

// A failed slow send is tried again by the next attempt.
func TestShoutrrrSlowSendFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeService{release: make(chan struct{}), err: errors.New("got 502 Bad Gateway")}
		s := fakeShoutrrr(t, "ntfy://ntfy.sh/topic", f, true)
		ctx, cancel := context.WithTimeout(withGUID(t.Context(), "note-1"), time.Second)
		s.Push(ctx, "t", "b")
		cancel()
		close(f.release)
		f.mu.Lock()
		f.release, f.err = nil, nil
		f.mu.Unlock()
		if err := s.Push(withGUID(t.Context(), "note-1"), "t", "b"); err != nil {
			t.Fatal(err)
		}
		if got := f.got(); len(got) != 2 {
			t.Errorf("sent %q, want twice: the failed one, then again", got)
		}
	})
}

// blocked never answers until its context ends.
type blocked struct{}

func (blocked) Push(ctx context.Context, _, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestHub(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		all := &recordingSender{start: time.Now()}
		downOnly := &recordingSender{start: time.Now()}
		h := NewHub([]Channel{
			{Name: "notify[0]", Service: "ntfy", Sender: all},
			{Name: "notify[1]", Service: "smtp", Sender: blocked{}}, // a dead channel
			{Name: "notify[2]", Service: "telegram", Events: []string{"down"}, Sender: downOnly},
		}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		h.Notify([]string{"down"}, "[srv2] srv1 down", "b")
		h.Notify([]string{"drift"}, "[srv2] edited", "b")
		h.Notify([]string{"failed", "down"}, "[srv2] srv1 down, but the update fails", "b")
		synctest.Wait()
		// The dead channel delays neither the caller nor the others.
		if got, want := all.got, []string{"[srv2] srv1 down@0s", "[srv2] edited@0s", "[srv2] srv1 down, but the update fails@0s"}; !slices.Equal(got, want) {
			t.Errorf("notify[0] got %q, want %q", got, want)
		}
		if got, want := downOnly.got, []string{"[srv2] srv1 down@0s", "[srv2] srv1 down, but the update fails@0s"}; !slices.Equal(got, want) {
			t.Errorf("notify[2] (events: down) got %q, want %q", got, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		st := h.Stats()
		if len(st) != 3 || st[0].Name != "notify[0]" || st[0].Sent != 3 || st[2].Sent != 2 || st[1].Service != "smtp" {
			t.Errorf("Stats() = %+v", st)
		}
		if want := (Stats{Failed: 1, Dropped: 2}); st[1].Stats != want {
			t.Errorf("the dead channel's stats = %+v, want %+v: its three notes folded into one message at shutdown, not delivered", st[1].Stats, want)
		}
	})
}

func TestNotifyTestResults(t *testing.T) {
	ok := &recordingSender{start: time.Now()}
	chans := []Channel{
		{Name: "notify[0]", Sender: ok},
		{Name: "notify[1]", Sender: failingSender{errors.New("ntfy: got 401")}},
		{Name: "notify[2]", Events: []string{"down"}, Sender: ok},
	}
	rs := Test(t.Context(), chans, "test", "title", "body")
	if len(rs) != 3 || rs[0].Err != nil || rs[0].Skipped || rs[1].Err == nil || !rs[2].Skipped {
		t.Errorf("results = %+v", rs)
	}
	if got := ok.got; len(got) != 1 || !strings.HasPrefix(got[0], "title@") {
		t.Errorf("sent %q, want the test message once", got)
	}
}

type failingSender struct{ err error }

func (f failingSender) Push(context.Context, string, string) error { return f.err }

// Replace while the hub runs: a channel kept keeps its queue and takes
// its new events; a new channel gets the alerts from then on; the queue
// of a channel taken out still delivers what waited in it, then stops.
func TestHubReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newFakeSender(errors.New("503 service unavailable")) // its first attempt fails
		kept, added := newFakeSender(), newFakeSender()
		h := NewHub([]Channel{
			{Name: "notify[0]", Service: "ntfy", Key: "ntfy://a", Sender: out},
			{Name: "notify[1]", Service: "smtp", Key: "smtp://b", Sender: kept},
		}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		h.Notify([]string{"down"}, "one", "b")
		synctest.Wait() // notify[0]'s first attempt failed: "one" waits for its retry

		h.Replace([]Channel{
			{Name: "notify[0]", Service: "smtp", Key: "smtp://b", Events: []string{"down"}, Sender: kept},
			{Name: "notify[1]", Service: "webhook", Key: "generic://c", Sender: added},
		})
		h.Notify([]string{"up"}, "two", "b")
		time.Sleep(time.Minute)
		synctest.Wait()
		h.Notify([]string{"down"}, "three", "b")
		synctest.Wait()

		title := func(calls []string) []string {
			var out []string
			for _, c := range calls {
				t, _, _ := strings.Cut(c, "@")
				out = append(out, t)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			got  []string
			want []string
		}{
			{"the channel taken out: its waiting note, delivered", title(out.got()), []string{"one", "one"}},
			{"the channel kept: its new events", title(kept.got()), []string{"one", "three"}},
			{"the channel added: the alerts since", title(added.got()), []string{"two", "three"}},
		} {
			if !slices.Equal(tc.got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
			}
		}
		st := h.Stats()
		if len(st) != 2 || st[0].Name != "notify[0]" || st[0].Sent != 2 || st[1].Sent != 2 {
			t.Errorf("Stats() = %+v", st)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// Replace before Run: the queue of a channel taken out runs with the rest,
// and delivers what waited in it.
func TestHubReplaceBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out, added := newFakeSender(), newFakeSender()
		h := NewHub([]Channel{{Name: "notify[0]", Key: "a", Sender: out}}, nil)
		h.Notify([]string{"down"}, "one", "b")
		h.Replace([]Channel{{Name: "notify[0]", Key: "b", Sender: added}})
		h.Notify([]string{"down"}, "two", "b")
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		synctest.Wait()
		if got := out.got(); len(got) != 1 || !strings.HasPrefix(got[0], "one@") {
			t.Errorf("the channel taken out sent %q, want one", got)
		}
		if got := added.got(); len(got) != 1 || !strings.HasPrefix(got[0], "two@") {
			t.Errorf("the channel added sent %q, want two", got)
		}
		cancel()
		<-done
	})
}
