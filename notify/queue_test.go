package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeSender records every call. Its answers come from errs, in order, then
// nil; while block is not nil, a call waits for it to close or for ctx.
type fakeSender struct {
	start time.Time

	mu    sync.Mutex
	calls []string // "title@offset from start"
	guids []string
	errs  []error
	block chan struct{}
}

func newFakeSender(errs ...error) *fakeSender {
	return &fakeSender{start: time.Now(), errs: errs}
}

func (f *fakeSender) Push(ctx context.Context, title, body string) error {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("%s@%v", title, time.Since(f.start)))
	f.guids = append(f.guids, guidFrom(ctx))
	var err error
	if len(f.errs) > 0 {
		err, f.errs = f.errs[0], f.errs[1:]
	}
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeSender) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// textLogger logs in the text format, without times.
func (b *logBuffer) textLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// levels returns "LEVEL msg" of the records about title.
func (b *logBuffer) levels(t *testing.T, title string) []string {
	var out []string
	for _, r := range b.records(t) {
		if r[keyTitle] == title {
			out = append(out, fmt.Sprintf("%s %s", r["level"], r["msg"]))
		}
	}
	return out
}

// runQueue starts q.Run and returns a function that stops it and returns
// Run's error and how long Run took to return after the stop.
func runQueue(t *testing.T, q *Queue) (stop func() (time.Duration, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	return func() (time.Duration, error) {
		at := time.Now()
		cancel()
		err := <-done
		return time.Since(at), err
	}
}

// newTestQueue returns a queue without jitter.
func newTestQueue(s Sender, logs *logBuffer) *Queue {
	q := NewQueue(s, logs.logger())
	q.jitter = func(d time.Duration) time.Duration { return d }
	return q
}

func TestQueueSendsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender()
		logs := &logBuffer{}
		q := newTestQueue(s, logs)
		q.Notify("a", "1") // before Run: kept
		stop := runQueue(t, q)
		q.Notify("b", "2")
		q.Notify("c", "3")
		synctest.Wait()
		if got, want := s.got(), []string{"a@0s", "b@0s", "c@0s"}; !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
		if _, err := stop(); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if got, want := q.Stats(), (Stats{Sent: 3}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		if got, want := logs.levels(t, "a"), []string{"INFO push sent"}; !reflect.DeepEqual(got, want) {
			t.Errorf("logs = %v, want %v", got, want)
		}
	})
}

func TestQueueRetry(t *testing.T) {
	unavailable := &Error{Status: 503, Code: "service_unavailable", Type: "server", Message: "down"}
	network := errors.New("pushbullet: dial tcp: connection refused")
	// net/http's error for a connection the server closed says
	// Temporary() false: no reason to give up.
	closed := fmt.Errorf("pushbullet: %w", &url.Error{Op: "Post", URL: "https://api.pushbullet.com/v2/pushes", Err: io.EOF})
	unauthorized := &Error{Status: 401, Code: "invalid_access_token", Message: "Access token is missing or invalid."}
	tests := []struct {
		name       string
		errs       []error // answers to the attempts in order, nil after them
		wantCalls  []string
		want       Stats
		wantLevels []string // of the log records about "peer down"
	}{
		{
			name:       "temporary then sent",
			errs:       []error{unavailable, closed},
			wantCalls:  []string{"peer down@0s", "peer down@1s", "peer down@3s", "next@3s"},
			want:       Stats{Sent: 2, Retries: 2},
			wantLevels: []string{"WARN push failed, will retry", "WARN push failed, will retry", "INFO push sent"},
		},
		{
			name:      "a fifth failure is logged at debug, the eighth at warn",
			errs:      []error{network, network, unavailable, network, network, network, network, network},
			wantCalls: []string{"peer down@0s", "peer down@1s", "peer down@3s", "peer down@7s", "peer down@15s", "peer down@31s", "peer down@1m1s", "peer down@1m31s", "peer down@2m1s", "next@2m1s"},
			want:      Stats{Sent: 2, Retries: 8},
			wantLevels: []string{"WARN push failed, will retry", "WARN push failed, will retry", "DEBUG push failed, will retry",
				"WARN push failed, will retry", "DEBUG push failed, will retry", "DEBUG push failed, will retry", "DEBUG push failed, will retry",
				"WARN push failed, will retry", "INFO push sent"},
		},
		{
			name:       "permanent 4xx is not retried",
			errs:       []error{unauthorized, unauthorized}, // "next" is rejected too
			wantCalls:  []string{"peer down@0s", "next@0s"},
			want:       Stats{Sent: 0, Failed: 2},
			wantLevels: []string{"ERROR push failed, rejected, not retrying"},
		},
		{
			name:       "misconfiguration is not retried",
			errs:       []error{fmt.Errorf("pushbullet: %w: no access token", ErrMisconfigured)},
			wantCalls:  []string{"peer down@0s", "next@0s"},
			want:       Stats{Sent: 1, Failed: 1},
			wantLevels: []string{"ERROR push failed, not retrying a misconfiguration"},
		},
		{
			name:       "rate limit wait is honoured",
			errs:       []error{&Error{Status: 429, Code: "too_many_requests", Retry: 7 * time.Second}},
			wantCalls:  []string{"peer down@0s", "peer down@7s", "next@7s"},
			want:       Stats{Sent: 2, Retries: 1},
			wantLevels: []string{"WARN push failed, will retry", "INFO push sent"},
		},
		{
			name:       "rate limit too long gives up",
			errs:       []error{&Error{Status: 429, Code: "too_many_requests", Retry: time.Hour}},
			wantCalls:  []string{"peer down@0s", "next@0s"},
			want:       Stats{Sent: 1, Failed: 1},
			wantLevels: []string{"ERROR push failed, rate limited for too long, giving up"},
		},
		{
			name:       "429 without a wait backs off",
			errs:       []error{&Error{Status: 429}, &Error{Status: 429}},
			wantCalls:  []string{"peer down@0s", "peer down@1s", "peer down@3s", "next@3s"},
			want:       Stats{Sent: 2, Retries: 2},
			wantLevels: []string{"WARN push failed, will retry", "WARN push failed, will retry", "INFO push sent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newFakeSender(tt.errs...)
				logs := &logBuffer{}
				q := newTestQueue(s, logs)
				q.Notify("peer down", "b.example.com is silent")
				q.Notify("next", "")
				stop := runQueue(t, q)
				time.Sleep(time.Hour)
				if _, err := stop(); err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
				if got := s.got(); !reflect.DeepEqual(got, tt.wantCalls) {
					t.Errorf("calls = %v, want %v", got, tt.wantCalls)
				}
				if got := q.Stats(); got != tt.want {
					t.Errorf("Stats() = %+v, want %+v", got, tt.want)
				}
				if got := logs.levels(t, "peer down"); !reflect.DeepEqual(got, tt.wantLevels) {
					t.Errorf("logs = %v, want %v", got, tt.wantLevels)
				}
			})
		})
	}
}

func TestQueueBackoffCapped(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second},
		{6, 30 * time.Second}, {40, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			if got := retries.Delay(tt.attempt); got != tt.want {
				t.Errorf("backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestJitterBounds(t *testing.T) {
	d := 4 * time.Second
	for range 1000 {
		if got := jitter(d); got < 3*time.Second || got >= 5*time.Second {
			t.Fatalf("jitter(%v) = %v, want in [3s, 5s)", d, got)
		}
	}
}

func TestQueueJitteredRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender(errors.New("down"))
		q := NewQueue(s, nil) // the real jitter
		q.Notify("t", "b")
		stop := runQueue(t, q)
		time.Sleep(time.Minute)
		stop()
		calls := s.got()
		if len(calls) != 2 {
			t.Fatalf("calls = %v, want 2", calls)
		}
		wait, err := time.ParseDuration(strings.TrimPrefix(calls[1], "t@"))
		if err != nil {
			t.Fatal(err)
		}
		if wait < 750*time.Millisecond || wait >= 1250*time.Millisecond {
			t.Errorf("first retry after %v, want about 1s (750ms to 1.25s)", wait)
		}
	})
}

func TestQueueGUIDPerNote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender(errors.New("down"))
		q := newTestQueue(s, &logBuffer{})
		q.Notify("a", "")
		q.Notify("b", "")
		stop := runQueue(t, q)
		time.Sleep(time.Minute)
		stop()
		g := s.guids
		if len(g) != 3 || g[0] == "" || g[0] != g[1] || g[1] == g[2] {
			t.Errorf("guids = %q, want one per note, the same on a retry", g)
		}
	})
}

func TestQueueAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender()
		s.block = make(chan struct{}) // never closed: every attempt hangs
		q := newTestQueue(s, &logBuffer{})
		q.Notify("t", "")
		stop := runQueue(t, q)
		time.Sleep(20 * time.Second)
		stop()
		got := s.got()
		if want := []string{"t@0s", "t@16s"}; len(got) < 2 || !reflect.DeepEqual(got[:2], want) {
			t.Errorf("calls = %v, want %v first: a hung attempt ends after 15s, then 1s backoff", got, want)
		}
	})
}

func TestQueueFullDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender()
		logs := &logBuffer{}
		q := newTestQueue(s, logs)
		const n = queueSize + 36
		for i := range n {
			q.Notify(fmt.Sprint(i), "") // no Run yet: must not block
		}
		if got, want := q.Stats(), (Stats{Queued: queueSize, Dropped: 36}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		stop := runQueue(t, q)
		time.Sleep(time.Hour)
		stop()
		// The oldest are dropped; of the rest, the rate limit lets five
		// through, then one message for the others once the minute is over.
		want := []string{"36@0s", "37@0s", "38@0s", "39@0s", "40@0s", fmt.Sprintf("%d@1m0s", n-1)}
		if got := s.got(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
		if got, want := q.Stats(), (Stats{Sent: 6, Dropped: 36, Coalesced: queueSize - 6}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		var drops []map[string]any
		for _, r := range logs.records(t) {
			if strings.HasPrefix(r["msg"].(string), "queue full") {
				drops = append(drops, r)
			}
		}
		if len(drops) != 1 || drops[0]["level"] != "WARN" || drops[0][keyTitle] != "0" {
			t.Errorf("drop logs = %v, want one warning (rate-limited) naming the first dropped note", drops)
		}
	})
}

func TestQueueNotifyWhileSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender()
		s.block = make(chan struct{})
		q := newTestQueue(s, &logBuffer{})
		stop := runQueue(t, q)
		q.Notify("first", "")
		synctest.Wait() // "first" is in flight and hangs
		for i := range 3 * queueSize {
			q.Notify(fmt.Sprint(i), "")
		}
		if got, want := q.Stats(), (Stats{Queued: queueSize, Dropped: 2 * queueSize}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		close(s.block)
		time.Sleep(time.Hour)
		stop()
		// "first", four more, then the rest as one message.
		if got, want := q.Stats(), (Stats{Sent: 6, Dropped: 2 * queueSize, Coalesced: queueSize - 5}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
}

func TestQueueShutdownFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender(errors.New("down")) // "a" fails once, then waits 1s
		logs := &logBuffer{}
		q := newTestQueue(s, logs)
		q.Notify("a", "")
		q.Notify("b", "")
		q.Notify("c", "")
		stop := runQueue(t, q)
		time.Sleep(500 * time.Millisecond) // in the middle of a's backoff
		took, err := stop()
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if took > flushTimeout {
			t.Errorf("Run took %v to return, want at most %v", took, flushTimeout)
		}
		// What waits goes out as one message, the newest note's.
		if got, want := s.got(), []string{"a@0s", "c@500ms"}; !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
		if got, want := q.Stats(), (Stats{Sent: 1, Retries: 1, Coalesced: 2}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
}

func TestQueueShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender()
		s.block = make(chan struct{}) // the API hangs
		logs := &logBuffer{}
		q := newTestQueue(s, logs)
		q.Notify("a", "")
		q.Notify("b", "")
		q.Notify("c", "")
		stop := runQueue(t, q)
		time.Sleep(time.Second) // "a" is in flight
		took, err := stop()
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if took != flushTimeout {
			t.Errorf("Run took %v to return, want %v", took, flushTimeout)
		}
		if got, want := s.got(), []string{"a@0s", "c@1s"}; !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
		if got, want := q.Stats(), (Stats{Failed: 1, Dropped: 2}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		recs := logs.records(t)
		last := recs[len(recs)-1]
		if last["msg"] != "push failed at shutdown, giving up" || last[keyMerged] != float64(2) {
			t.Errorf("last log = %v, want the failed flush of the message standing for 2 more", last)
		}
	})
}

func TestQueueRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender()
		logs := &logBuffer{}
		q := newTestQueue(s, logs)
		stop := runQueue(t, q)
		synctest.Wait()
		if err := q.Run(t.Context()); err == nil {
			t.Error("second Run = nil, want an error")
		}
		stop()
		if err := q.Run(t.Context()); err == nil {
			t.Error("Run after stop = nil, want an error")
		}
		q.Notify("late", "")
		if got, want := q.Stats(), (Stats{Dropped: 1}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		if got, want := logs.levels(t, "late"), []string{"WARN queue stopped, dropped the note"}; !reflect.DeepEqual(got, want) {
			t.Errorf("logs = %v, want %v", got, want)
		}
	})
}

func TestQueueLogKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeSender(errors.New("boom"))
		logs := &logBuffer{}
		q := newTestQueue(s, logs)
		q.Notify("peer down", "")
		stop := runQueue(t, q)
		time.Sleep(time.Minute)
		stop()
		recs := logs.records(t)
		if len(recs) != 2 {
			t.Fatalf("logs = %v, want 2 records", recs)
		}
		want := map[string]any{
			"level": "WARN", "msg": "push failed, will retry", keyComponent: "notify",
			keyTitle: "peer down", keyAttempt: float64(1), keyWait: float64(time.Second), keyError: "boom",
		}
		got := recs[0]
		delete(got, "time")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record = %v, want %v", got, want)
		}
	})
}

func TestQueueGivesUpAfterTenMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errs := make([]error, 100)
		for i := range errs {
			errs[i] = errors.New("dial tcp: connection refused")
		}
		s := newFakeSender(errs...)
		logs := &logBuffer{}
		q := newTestQueue(s, logs)
		q.Notify("peer down", "")
		stop := runQueue(t, q)
		time.Sleep(time.Hour)
		stop()
		calls := s.got()
		// 0, 1, 3, 7, 15, 31, 61 s, then every 30 s: the attempt at 9m31s
		// is the last, as the next would come after 10 minutes.
		if got, want := calls[len(calls)-1], "peer down@9m31s"; got != want || len(calls) != 24 {
			t.Errorf("%d calls, the last %s; want 24, the last %s", len(calls), got, want)
		}
		if got, want := q.Stats(), (Stats{Failed: 1, Retries: 23}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		levels := logs.levels(t, "peer down")
		if got, want := levels[len(levels)-1], "ERROR push failed, undelivered for 10 minutes, giving up"; got != want {
			t.Errorf("last log = %q, want %q", got, want)
		}
	})
}

// downFor fails every push until its time is up, then delivers.
type downFor struct {
	until time.Time
	mu    sync.Mutex
	calls int
	sent  []string
}

func (d *downFor) Push(ctx context.Context, title, body string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if time.Now().Before(d.until) {
		return &Error{Status: 503, Message: "Service Unavailable"}
	}
	d.sent = append(d.sent, title)
	return nil
}

func TestQueueChannelDownForAMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &downFor{until: time.Now().Add(time.Minute)}
		q := NewQueue(d, nil) // the real jitter
		q.Notify("peer down", "srv1 is silent")
		stop := runQueue(t, q)
		time.Sleep(10 * time.Minute)
		stop()
		if got, want := d.sent, []string{"peer down"}; !reflect.DeepEqual(got, want) {
			t.Errorf("delivered %v, want %v: once, after the minute", got, want)
		}
		if st := q.Stats(); st.Sent != 1 || st.Failed != 0 || st.Retries != uint64(d.calls-1) {
			t.Errorf("Stats() = %+v after %d calls, want 1 sent, none failed", st, d.calls)
		}
	})
}

// recordingSender keeps every message.
type recordingSender struct {
	start time.Time
	mu    sync.Mutex
	got   []string // "title@offset"
	body  []string
}

func (r *recordingSender) Push(ctx context.Context, title, body string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, fmt.Sprintf("%s@%v", title, time.Since(r.start)))
	r.body = append(r.body, body)
	return nil
}

func TestQueueRateLimitCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recordingSender{start: time.Now()}
		q := newTestQueue(r, &logBuffer{})
		stop := runQueue(t, q)
		// A flapping service: a transition every 5 s for a minute.
		for i := range 12 {
			q.Notify(fmt.Sprintf("t%d", i), fmt.Sprintf("body %d", i))
			time.Sleep(5 * time.Second)
		}
		time.Sleep(time.Hour)
		stop()
		want := []string{"t0@0s", "t1@5s", "t2@10s", "t3@15s", "t4@20s", "t11@1m0s"}
		if !reflect.DeepEqual(r.got, want) {
			t.Fatalf("messages = %v, want %v", r.got, want)
		}
		body := r.body[len(r.body)-1]
		for _, part := range []string{"body 11\n\n6 more transitions in the last 35 seconds",
			"(5 messages per 60 seconds):", "\n- ", " t5", " t10"} {
			if !strings.Contains(body, part) {
				t.Errorf("coalesced body %q lacks %q", body, part)
			}
		}
		if strings.Contains(body, "t11") || strings.Contains(body, "t4") {
			t.Errorf("coalesced body %q lists the newest or an earlier message", body)
		}
		if got, want := q.Stats(), (Stats{Sent: 6, Coalesced: 6}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
}

func TestFold(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ns []note
	for i := range 14 {
		ns = append(ns, note{title: fmt.Sprintf("t%d", i), body: fmt.Sprintf("b%d", i), at: at.Add(time.Duration(i) * time.Second)})
	}
	ns[1].folded = 3
	n := fold(ns, at.Add(3*time.Minute))
	if n.title != "t13" || n.folded != 16 || !n.at.Equal(at) || n.guid == "" {
		t.Errorf("fold = %+v, want t13's title, 16 folded, the first's time, a new guid", n)
	}
	want := "b13\n\n16 more transitions in the last 3 minutes, held back by the rate limit (5 messages per 60 seconds):\n- ... 3 earlier\n- 03:04:08 t3\n"
	if !strings.HasPrefix(n.body, want) || !strings.HasSuffix(n.body, "- 03:04:17 t12") {
		t.Errorf("body = %q, want it to start %q and end with t12", n.body, want)
	}
	one := fold([]note{{title: "a", at: at, folded: 1}, {title: "b", at: at}}, at)
	if want := "2 more transitions in the last 0 seconds, held back by the rate limit (5 messages per 60 seconds):\n- 03:04:05 a (and 1 before it)"; one.body != want {
		t.Errorf("body = %q, want %q", one.body, want)
	}
}
