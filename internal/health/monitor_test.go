package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// script is a fake probe: its results come from a string, one byte per
// probe, 'F' failing and anything else passing; past its end, probes pass.
type script struct {
	mu    sync.Mutex
	steps string
	calls int
}

func (s *script) probe(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.calls
	s.calls++
	if i < len(s.steps) && s.steps[i] == 'F' {
		return fmt.Errorf("probe %d: connection refused", i+1)
	}
	return nil
}

// record is one log record.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu      *sync.Mutex
	records *[]record
	attrs   []slog.Attr
}

func newRecorder() *recorder {
	return &recorder{mu: new(sync.Mutex), records: new([]record)}
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, rec)
	return nil
}

func (h *recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &h2
}

func (h *recorder) WithGroup(string) slog.Handler { return h }

func (h *recorder) all() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), *h.records...)
}

// with returns the records whose message is msg.
func (h *recorder) with(msg string) []record {
	var out []record
	for _, r := range h.all() {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

func TestStep(t *testing.T) {
	failed := errors.New("down")
	tests := []struct {
		name       string
		fall, rise int
		steps      string // F: failed probe, S: passed probe
		want       string // health after each step: + or -
	}{
		{"one failure does not flip", 3, 3, "FSSS", "++++"},
		{"two failures do not flip", 3, 3, "FFSFFS", "++++++"},
		{"fall failures flip", 3, 3, "FFF", "++-"},
		{"more failures stay down", 3, 3, "FFFFF", "++---"},
		{"rise successes recover", 3, 3, "FFFSSS", "++---+"},
		{"broken rise streak", 3, 3, "FFFSSFSSS", "++------+"},
		{"flapping never flips", 3, 3, strings.Repeat("FS", 20), strings.Repeat("+", 40)},
		{"flapping while down never recovers", 3, 3, "FFF" + strings.Repeat("SF", 20), "++-" + strings.Repeat("-", 40)},
		{"fall 1 rise 1", 1, 1, "FSFS", "-+-+"},
		{"asymmetric", 2, 4, "FFSSSFSSSS", "+--------+"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.steps) != len(tt.want) {
				t.Fatalf("bad case: %d steps, %d wants", len(tt.steps), len(tt.want))
			}
			s := State{Healthy: true}
			start := time.Unix(1000, 0)
			var got strings.Builder
			for i, c := range []byte(tt.steps) {
				var err error
				if c == 'F' {
					err = failed
				}
				prev := s
				now := start.Add(time.Duration(i) * time.Second)
				s = Step(s, err, now, tt.fall, tt.rise)
				if s.Healthy {
					got.WriteByte('+')
				} else {
					got.WriteByte('-')
				}
				if s.Checks != uint64(i+1) {
					t.Errorf("step %d: checks: got %d, want %d", i, s.Checks, i+1)
				}
				if s.Healthy != prev.Healthy && !s.Since.Equal(now) {
					t.Errorf("step %d: since: got %v, want %v", i, s.Since, now)
				}
				if s.Healthy == prev.Healthy && !s.Since.Equal(prev.Since) {
					t.Errorf("step %d: since moved without a transition", i)
				}
				if (err != nil) != (s.LastErr != "") {
					t.Errorf("step %d: last error %q after %v", i, s.LastErr, err)
				}
			}
			if got.String() != tt.want {
				t.Errorf("health: got %s, want %s", got.String(), tt.want)
			}
		})
	}
}

func TestMonitorRun(t *testing.T) {
	tests := []struct {
		name       string
		fall, rise int
		steps      string
		want       string // health after each probe
		changes    string // transitions seen on Changes, in order
	}{
		{"single failure", 3, 3, "SFSS", "++++", ""},
		{"down and up", 3, 3, "FFFSSS", "++---+", "-+"},
		{"flapping", 3, 3, strings.Repeat("FS", 10), strings.Repeat("+", 20), ""},
		{"fast thresholds", 1, 2, "FSSF", "--+-", "-+-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const interval = 2 * time.Second
				sc := &script{steps: tt.steps}
				m := &Monitor{Interval: interval, Fall: tt.fall, Rise: tt.rise, probe: sc.probe}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- m.Run(ctx) }()

				var got, changes strings.Builder
				for i := range len(tt.steps) {
					if i > 0 {
						time.Sleep(interval)
					}
					synctest.Wait()
					st := m.State()
					if st.Checks != uint64(i+1) {
						t.Fatalf("probe %d: checks: got %d, want %d", i, st.Checks, i+1)
					}
					if want := start.Add(time.Duration(i) * interval); !st.LastAt.Equal(want) {
						t.Errorf("probe %d: at %v, want %v", i, st.LastAt.Sub(start), want.Sub(start))
					}
					got.WriteString(map[bool]string{true: "+", false: "-"}[st.Healthy])
					select {
					case h := <-m.Changes():
						changes.WriteString(map[bool]string{true: "+", false: "-"}[h])
					default:
					}
				}
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
				if got.String() != tt.want {
					t.Errorf("health: got %s, want %s", got.String(), tt.want)
				}
				if changes.String() != tt.changes {
					t.Errorf("changes: got %q, want %q", changes.String(), tt.changes)
				}
			})
		})
	}
}

func TestMonitorStartsHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		probed := make(chan struct{})
		m := &Monitor{Fall: 1, probe: func(ctx context.Context) error {
			<-probed // the first probe takes its time
			return errors.New("down")
		}}
		if st := m.State(); !st.Healthy || st.Checks != 0 {
			t.Errorf("before Run: got %+v, want healthy, no checks", st)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go m.Run(ctx)
		synctest.Wait()
		if st := m.State(); !st.Healthy || st.Since.IsZero() {
			t.Errorf("during the first probe: got %+v, want healthy since now", st)
		}
		close(probed)
		synctest.Wait()
		if st := m.State(); st.Healthy || st.LastErr != "down" || st.Failures != 1 {
			t.Errorf("after it: got %+v, want unhealthy, 1 failure, error down", st)
		}
	})
}

func TestMonitorChangesNewestWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := &script{steps: "FSF"}
		m := &Monitor{Interval: time.Second, Fall: 1, Rise: 1, probe: sc.probe}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(2500 * time.Millisecond) // three probes, three transitions, none read
		synctest.Wait()
		if n := m.State().Checks; n != 3 {
			t.Fatalf("checks: got %d, want 3", n)
		}
		select {
		case h := <-m.Changes():
			if h {
				t.Errorf("change: got healthy, want the newest: unhealthy")
			}
		default:
			t.Fatal("no change pending")
		}
		select {
		case h := <-m.Changes():
			t.Errorf("a second change pending: %v", h)
		default:
		}
		cancel()
		<-done
	})
}

func TestMonitorCancelDuringProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &Monitor{Fall: 1, probe: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if st := m.State(); !st.Healthy || st.Checks != 0 {
			t.Errorf("got %+v, want healthy and no check counted", st)
		}
		if err := m.Run(t.Context()); err == nil {
			t.Error("second Run: no error")
		}
	})
}

func TestMonitorEmptyCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &Monitor{Fall: 1}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := m.State(); !st.Healthy || st.Checks != 0 {
			t.Errorf("got %+v, want healthy, no checks", st)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestMonitorLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		sc := &script{steps: "FSFFFFSS"}
		m := &Monitor{Check: Check{TCP: "127.0.0.1:80"}, Interval: time.Second, Fall: 3, Rise: 2,
			Logger: slog.New(rec), probe: sc.probe}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(7500 * time.Millisecond)
		cancel()
		<-done

		var got []string
		for _, r := range rec.all() {
			if r.attrs[keyComponent] != "health" {
				t.Errorf("%q: component %q, want health", r.msg, r.attrs[keyComponent])
			}
			if r.msg == "health check started" {
				continue
			}
			got = append(got, fmt.Sprintf("%s %s %s", r.level, r.msg, r.attrs[keyEvent]))
		}
		want := []string{
			"INFO health check failed ",       // first of a streak
			"INFO health check passed again ", // streak over
			"INFO health check failed ",
			"DEBUG health check failed ",
			"WARN service unhealthy health_down",
			"DEBUG health check failed ",
			"DEBUG health check passed ",
			"WARN service healthy again health_up",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("logs:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		down := rec.with("service unhealthy")
		if len(down) == 1 && !strings.Contains(down[0].attrs[keyError], "connection refused") {
			t.Errorf("health_down error: got %q", down[0].attrs[keyError])
		}
		up := rec.with("service healthy again")
		if len(up) == 1 && up[0].attrs[keyDownFor] != "3s" {
			t.Errorf("health_up down_for: got %q, want 3s", up[0].attrs[keyDownFor])
		}
	})
}

// Reconfigure: the new check runs from the next interval; the health
// carries over, and the new check counts anew.
func TestMonitorReconfigure(t *testing.T) {
	failing, passing := Check{TCP: "127.0.0.1:1"}, Check{TCP: "127.0.0.1:2"}
	prober := func(c Check) func(context.Context) error {
		return func(context.Context) error {
			if c == failing {
				return errors.New("connect 127.0.0.1:1: connection refused")
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name string
		from Check
		fall int // of the first check
		to   Check
		// health right after the change, then after each new interval
		want string
	}{
		{"unhealthy, to a check that passes: still unhealthy until rise passes", failing, 1, passing, "--+"},
		{"healthy, to a check that fails: still healthy until fall failures", passing, 1, failing, "++-"},
		{"unhealthy, the check taken out: healthy at once", failing, 1, Check{}, "+++"},
		{"healthy, to the same check: unchanged", passing, 1, passing, "+++"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const interval = 2 * time.Second
				m := &Monitor{Check: tc.from, Interval: interval, Fall: tc.fall, Rise: 1, prober: prober}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- m.Run(ctx) }()
				synctest.Wait()
				checks := m.State().Checks
				time.Sleep(interval / 2)
				m.Reconfigure(tc.to, 3*time.Second, 2, 2)
				synctest.Wait()
				var got strings.Builder
				for i := range 3 {
					if i > 0 {
						time.Sleep(3 * time.Second)
						synctest.Wait()
					}
					got.WriteString(map[bool]string{true: "+", false: "-"}[m.State().Healthy])
				}
				if got.String() != tc.want {
					t.Errorf("health: got %s, want %s", got.String(), tc.want)
				}
				if n, want := m.State().Checks-checks, uint64(2); !tc.to.Empty() && n != want {
					t.Errorf("probes since the change: %d, want %d (none at once, one an interval)", n, want)
				}
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})
		})
	}
}
