package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
			errs:       []error{unavailable, network},
			wantCalls:  []string{"peer down@0s", "peer down@1s", "peer down@3s", "next@3s"},
			want:       Stats{Sent: 2, Retries: 2},
			wantLevels: []string{"WARN push failed, will retry", "WARN push failed, will retry", "INFO push sent"},
		},
		{
			name:      "gives up after four attempts",
			errs:      []error{network, network, unavailable, network},
			wantCalls: []string{"peer down@0s", "peer down@1s", "peer down@3s", "peer down@7s", "next@7s"},
			want:      Stats{Sent: 1, Failed: 1, Retries: 3},
			wantLevels: []string{"WARN push failed, will retry", "WARN push failed, will retry",
				"WARN push failed, will retry", "ERROR push failed, giving up"},
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
		synctest.Wait()
		stop()
		calls := s.got()
		if got, want := len(calls), queueSize; got != want {
			t.Fatalf("%d sent, want %d", got, want)
		}
		if got, want := calls[0], "36@0s"; got != want {
			t.Errorf("first sent = %s, want %s (the oldest are dropped)", got, want)
		}
		if got, want := calls[len(calls)-1], fmt.Sprintf("%d@0s", n-1); got != want {
			t.Errorf("last sent = %s, want %s", got, want)
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
		synctest.Wait()
		stop()
		if got, want := q.Stats(), (Stats{Sent: queueSize + 1, Dropped: 2 * queueSize}); got != want {
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
		if got, want := s.got(), []string{"a@0s", "a@500ms", "b@500ms", "c@500ms"}; !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
		if got, want := q.Stats(), (Stats{Sent: 3, Retries: 1}); got != want {
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
		if got, want := s.got(), []string{"a@0s", "a@1s"}; !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
		if got, want := q.Stats(), (Stats{Failed: 1, Dropped: 2}); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
		recs := logs.records(t)
		last := recs[len(recs)-1]
		if last["msg"] != "stopped with notes unsent" || last[keyUnsent] != float64(2) {
			t.Errorf("last log = %v, want the unsent count", last)
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
