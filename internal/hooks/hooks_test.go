//go:build unix

package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

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

// with returns the records whose message is msg.
func (h *recorder) with(msg string) []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []record
	for _, r := range *h.records {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// start runs r in the background until the test ends, and returns a
// function that stops it and reports how long Run took to return.
func start(t *testing.T, r *Runner) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			begin := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			took = time.Since(begin)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls until cond holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitRuns(t *testing.T, r *Runner, n uint64) Stats {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d runs", n), func() bool { return r.Stats().Runs >= n })
	return r.Stats()
}

// readPid waits for a pid file to be written and reads it.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, "the pid file", func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// waitGone fails unless process pid has ended (a zombie waiting for its
// reaper counts as ended) within a second.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat") // Linux
		if i := strings.LastIndexByte(string(stat), ')'); err == nil && i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still running", pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	r := &Runner{
		Commands: map[string]string{
			OnActive: `printf '%s|%s|%s|%s|%s|%s|%s\n' "$CLOOSTER_EVENT" "$CLOOSTER_NODE" "$CLOOSTER_PEER" ` +
				`"$CLOOSTER_RECORD" "$CLOOSTER_CONTENT" "$BASE" "$OVERRIDDEN" > "$OUT"`,
		},
		Environ: []string{"OUT=" + out, "BASE=from the base", "OVERRIDDEN=base", "CLOOSTER_NODE=base"},
	}
	start(t, r)
	r.Fire(OnActive, map[string]string{
		"CLOOSTER_EVENT":   OnActive,
		"CLOOSTER_NODE":    "alpha",
		"CLOOSTER_PEER":    "beta",
		"CLOOSTER_RECORD":  "www.example.com",
		"CLOOSTER_CONTENT": "192.0.2.1",
		"OVERRIDDEN":       "event",
	})
	st := waitRuns(t, r, 1)
	if st.Failures != 0 || st.Timeouts != 0 {
		t.Errorf("stats: got %+v, want a success", st)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "on_active|alpha|beta|www.example.com|192.0.2.1|from the base|event\n"
	if string(got) != want {
		t.Errorf("environment: got %q, want %q", got, want)
	}
}

func TestInheritedEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	t.Setenv("HOOKS_TEST_INHERITED", "yes")
	t.Setenv("OUT", out)
	r := &Runner{Commands: map[string]string{OnPeerUp: `echo "$HOOKS_TEST_INHERITED $CLOOSTER_EVENT" > "$OUT"`}}
	start(t, r)
	r.Fire(OnPeerUp, map[string]string{"CLOOSTER_EVENT": OnPeerUp})
	waitRuns(t, r, 1)
	if got, _ := os.ReadFile(out); string(got) != "yes on_peer_up\n" {
		t.Errorf("got %q, want %q", got, "yes on_peer_up\n")
	}
}

func TestOrder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "order")
	// Each hook writes when it starts and ends; the first is the slowest.
	cmd := func(name, sleep string) string {
		return fmt.Sprintf(`echo "start %s" >> "$OUT"; sleep %s; echo "end %s" >> "$OUT"`, name, sleep, name)
	}
	r := &Runner{
		Commands: map[string]string{
			OnActive:   cmd("active", "0.3"),
			OnStandby:  cmd("standby", "0.1"),
			OnPeerDown: cmd("peer_down", "0"),
			OnPeerUp:   cmd("peer_up", "0"),
		},
		Environ: []string{"OUT=" + out, "PATH=" + os.Getenv("PATH")},
	}
	// Fired before Run starts: queued, and run in order once it does.
	r.Fire(OnActive, nil)
	r.Fire(OnStandby, nil)
	start(t, r)
	r.Fire(OnPeerDown, nil)
	r.Fire("on_unknown", nil) // no command: nothing
	r.Fire(OnPeerUp, nil)
	r.Fire(OnActive, nil)
	st := waitRuns(t, r, 5)
	if st.Runs != 5 || st.Failures != 0 || st.Dropped != 0 {
		t.Errorf("stats: got %+v, want 5 runs, nothing failed or dropped", st)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, name := range []string{"active", "standby", "peer_down", "peer_up", "active"} {
		fmt.Fprintf(&want, "start %s\nend %s\n", name, name)
	}
	if string(got) != want.String() {
		t.Errorf("order:\ngot\n%s\nwant\n%s", got, want.String())
	}
}

func TestTimeoutKills(t *testing.T) {
	tests := []struct {
		name    string
		command string // writes the pid to watch to $PIDFILE, then hangs
	}{
		{"the command", `echo $$ > "$PIDFILE"; exec sleep 30`},
		{"a child", `sleep 30 & echo $! > "$PIDFILE"; wait`},
		{"a child holding no output", `sleep 30 >/dev/null 2>&1 & echo $! > "$PIDFILE"; wait`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pid")
			rec := newRecorder()
			r := &Runner{
				Commands: map[string]string{OnPeerDown: tt.command},
				Timeout:  200 * time.Millisecond,
				Logger:   slog.New(rec),
				Environ:  []string{"PIDFILE=" + pidfile, "PATH=" + os.Getenv("PATH")},
			}
			start(t, r)
			begin := time.Now()
			r.Fire(OnPeerDown, nil)
			pid := readPid(t, pidfile)
			st := waitRuns(t, r, 1)
			if d := time.Since(begin); d > 2*time.Second {
				t.Errorf("the run took %v, want about 200ms", d)
			}
			if st.Timeouts != 1 || st.Failures != 0 {
				t.Errorf("stats: got %+v, want one timeout", st)
			}
			waitGone(t, pid)
			logs := rec.with("hook timed out, killed")
			if len(logs) != 1 || logs[0].level != slog.LevelWarn || logs[0].attrs[keyHook] != OnPeerDown {
				t.Errorf("timeout log: got %+v, want one warning for on_peer_down", logs)
			}
		})
	}
}

func TestFireNeverBlocks(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	rec := newRecorder()
	r := &Runner{
		Commands: map[string]string{OnActive: `echo $$ > "$PIDFILE"; exec sleep 30`, OnStandby: "true"},
		Timeout:  time.Minute,
		Logger:   slog.New(rec),
		Environ:  []string{"PIDFILE=" + pidfile, "PATH=" + os.Getenv("PATH")},
	}
	stop := start(t, r)
	r.Fire(OnActive, nil)
	pid := readPid(t, pidfile) // the hook hangs

	const n = 100
	done := make(chan struct{})
	begin := time.Now()
	go func() {
		defer close(done)
		for i := range n {
			r.Fire([]string{OnActive, OnStandby}[i%2], map[string]string{"N": strconv.Itoa(i)})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Fire blocked")
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("%d Fires took %v", n, d)
	}
	st := r.Stats()
	if st.Queued != queueSize || st.Dropped != n-queueSize || st.Runs != 0 {
		t.Errorf("stats: got %+v, want %d queued, %d dropped, no runs yet", st, queueSize, n-queueSize)
	}
	if logs := rec.with("hook queue full, dropped the oldest"); len(logs) != n-queueSize || logs[0].level != slog.LevelWarn {
		t.Errorf("got %d drop warnings, want %d", len(logs), n-queueSize)
	}

	// Shutting down kills the hanging hook and runs none of the queued ones.
	if d := stop(); d > 2*time.Second {
		t.Errorf("Run took %v to return", d)
	}
	waitGone(t, pid)
	st = r.Stats()
	if st.Runs != 1 || st.Failures != 1 || st.Queued != 0 || st.Dropped != n {
		t.Errorf("after shutdown: got %+v, want 1 run failed, %d dropped", st, n)
	}
	if logs := rec.with("hook killed: shutting down"); len(logs) != 1 {
		t.Errorf("got %d shutdown kill logs, want 1", len(logs))
	}

	// Fired after Run returned: dropped at once.
	r.Fire(OnStandby, nil)
	if st := r.Stats(); st.Dropped != n+1 || st.Queued != 0 {
		t.Errorf("after Run: got %+v, want one more dropped", st)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}
}

func TestFireWithoutRun(t *testing.T) {
	r := &Runner{Commands: map[string]string{OnActive: "true"}}
	for range queueSize + 8 {
		r.Fire(OnActive, nil)
	}
	if st := r.Stats(); st.Queued != queueSize || st.Dropped != 8 {
		t.Errorf("got %+v, want %d queued, 8 dropped", st, queueSize)
	}
	var zero Runner
	zero.Fire(OnActive, nil) // no commands: nothing, no panic
	if st := zero.Stats(); st != (Stats{}) {
		t.Errorf("zero runner: got %+v", st)
	}
}

func TestCancelStopsRunningHook(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	r := &Runner{
		Commands: map[string]string{OnStandby: `sleep 30 & echo $! > "$PIDFILE"; wait`},
		Timeout:  time.Minute,
		Environ:  []string{"PIDFILE=" + pidfile, "PATH=" + os.Getenv("PATH")},
	}
	stop := start(t, r)
	r.Fire(OnStandby, nil)
	pid := readPid(t, pidfile)
	if d := stop(); d > 2*time.Second {
		t.Errorf("Run took %v to return", d)
	}
	waitGone(t, pid)
	if st := r.Stats(); st.Runs != 1 || st.Failures != 1 || st.Timeouts != 0 {
		t.Errorf("stats: got %+v, want one run, failed", st)
	}
}

func TestResults(t *testing.T) {
	tests := []struct {
		name     string
		command  string
		msg      string
		level    slog.Level
		exit     string
		failures uint64
	}{
		{"success", "true", "hook finished", slog.LevelInfo, "0", 0},
		{"exit status", "exit 3", "hook failed", slog.LevelWarn, "3", 1},
		{"not found", "no-such-command-here", "hook failed", slog.LevelWarn, "127", 1},
		{"signal", "kill -9 $$", "hook failed", slog.LevelWarn, "", 1},
		{"background process holding the output", "sleep 1 & exit 0", "hook finished", slog.LevelInfo, "0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			r := &Runner{Commands: map[string]string{OnActive: tt.command}, Logger: slog.New(rec),
				Environ: []string{"PATH=" + os.Getenv("PATH")}}
			start(t, r)
			r.Fire(OnActive, nil)
			st := waitRuns(t, r, 1)
			if st.Failures != tt.failures {
				t.Errorf("failures: got %d, want %d", st.Failures, tt.failures)
			}
			logs := rec.with(tt.msg)
			if len(logs) != 1 {
				t.Fatalf("got %d %q logs, want 1", len(logs), tt.msg)
			}
			l := logs[0]
			if l.level != tt.level || l.attrs[keyExit] != tt.exit || l.attrs[keyHook] != OnActive || l.attrs[keyComponent] != "hooks" {
				t.Errorf("log: got %v %+v, want level %v, exit %q", l.level, l.attrs, tt.level, tt.exit)
			}
			if tt.exit != "" && l.attrs[keyDuration] == "" {
				t.Errorf("log: no duration in %+v", l.attrs)
			}
		})
	}
}

func TestOutputLogged(t *testing.T) {
	tests := []struct {
		name    string
		command string
		want    []string
		skipped string
	}{
		{"stdout and stderr in order", `echo one; echo two >&2; echo; printf 'three\r\nfour'`,
			[]string{"one", "two", "", "three", "four"}, ""},
		{"at most 100 lines", `i=1; while [ $i -le 250 ]; do echo "line $i"; i=$((i+1)); done`,
			func() []string {
				var l []string
				for i := 1; i <= maxLines; i++ {
					l = append(l, fmt.Sprintf("line %d", i))
				}
				return l
			}(), "150"},
		{"long line cut", `head -c 5000 /dev/zero | tr '\0' x; echo; echo next`,
			[]string{strings.Repeat("x", maxLineBytes) + "…", "next"}, ""},
		{"no output", "true", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			r := &Runner{
				Commands: map[string]string{OnPeerDown: tt.command},
				Logger:   slog.New(rec),
				Environ:  []string{"PATH=" + os.Getenv("PATH")},
			}
			start(t, r)
			r.Fire(OnPeerDown, nil)
			waitRuns(t, r, 1)
			var got []string
			for _, l := range rec.with("hook output") {
				if l.level != slog.LevelInfo || l.attrs[keyHook] != OnPeerDown {
					t.Errorf("output log: got %v %+v", l.level, l.attrs)
				}
				got = append(got, l.attrs[keyLine])
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") || len(got) != len(tt.want) {
				t.Errorf("lines:\ngot  %q\nwant %q", got, tt.want)
			}
			cut := rec.with("hook output cut short")
			switch {
			case tt.skipped == "" && len(cut) != 0:
				t.Errorf("unexpected %+v", cut)
			case tt.skipped != "" && (len(cut) != 1 || cut[0].attrs[keySkipped] != tt.skipped):
				t.Errorf("cut short: got %+v, want skipped=%s", cut, tt.skipped)
			}
		})
	}
}

// Set: a hook fired after it runs the new command; one queued before it,
// the command it was fired with; a hook taken out runs nothing.
func TestSet(t *testing.T) {
	out := filepath.Join(t.TempDir(), "set")
	r := &Runner{
		Commands: map[string]string{OnActive: `echo "old active" >> "$OUT"`, OnStandby: `echo "old standby" >> "$OUT"`},
		Environ:  []string{"OUT=" + out, "PATH=" + os.Getenv("PATH")},
	}
	r.Fire(OnActive, nil) // queued before the change
	r.Set(map[string]string{OnActive: `echo "new active" >> "$OUT"`}, time.Second)
	start(t, r)
	r.Fire(OnActive, nil)
	r.Fire(OnStandby, nil) // taken out
	waitRuns(t, r, 2)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "old active\nnew active\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if st := r.Stats(); st.Runs != 2 {
		t.Errorf("runs: %d, want 2", st.Runs)
	}
}
