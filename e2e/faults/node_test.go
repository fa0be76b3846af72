//go:build faults && linux

package faults

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
	"github.com/clooster/clooster/watchdog"
	"testing"
)

// node is one clooster daemon across its restarts: the process of each
// generation runs with ip netns exec in the node's namespace, with the same
// configuration; its output goes to one log.
type node struct {
	t      testing.TB
	label  string // "A" or "B"
	name   string // this_server
	ns     string
	spec   pairtest.Node
	config string // the configuration file
	log    *nodeLog

	mu    sync.Mutex
	procs []*proc // every generation, oldest first
}

// proc is one process of a node.
type proc struct {
	*pairtest.Proc
	gen      int
	expected atomic.Bool // the suite ended it, or is about to
}

// start runs a new generation. The previous one must have exited.
func (n *node) start() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if k := len(n.procs); k > 0 && !n.procs[k-1].Exited() {
		n.t.Fatalf("%s: start: generation %d still running", n.label, k)
	}
	p := &proc{gen: len(n.procs) + 1}
	w := n.log.writer(p.gen)
	p.Proc = binary().Start(n.t, pairtest.Cmd{
		Label:  fmt.Sprintf("node %s, generation %d", n.label, p.gen),
		Prefix: []string{"ip", "netns", "exec", n.ns},
		Args:   []string{n.config},
		// Nothing of the test's environment: no proxy, no CLOOSTER_*
		// variable.
		Env:    []string{"PATH=" + os.Getenv("PATH")},
		Status: n.spec.Status,
		Output: w,
		Exited: w.flush,
		// ip netns exec execs the binary: the pid is the daemon's. It
		// dies with the test binary.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	n.procs = append(n.procs, p)
}

// cur is the latest generation.
func (n *node) cur() *proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.procs[len(n.procs)-1]
}

// signal sends sig to the current process and returns when it was sent.
func (n *node) signal(sig syscall.Signal) time.Time {
	n.t.Helper()
	p := n.cur()
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		p.expected.Store(true)
	}
	return p.Signal(n.t, sig)
}

// kill9 kills the current process and waits until it is gone.
func (n *node) kill9() time.Time {
	n.t.Helper()
	p := n.cur()
	p.expected.Store(true)
	return p.Kill(n.t)
}

func (n *node) stop() time.Time { return n.signal(syscall.SIGSTOP) }
func (n *node) cont() time.Time { return n.signal(syscall.SIGCONT) }

// wait waits for the current process to exit.
func (n *node) wait(limit time.Duration) error {
	if _, _, ok := n.cur().WaitExit(limit, time.Now()); !ok {
		return fmt.Errorf("%s: still running %s after it was told to stop", n.label, limit)
	}
	return nil
}

// exit returns how the current process ended and how long after since.
func (n *node) exit(since time.Time) (code int, took time.Duration) {
	p := n.cur()
	<-p.Done()
	return p.ExitCode(), p.ExitAt().Sub(since)
}

// crashes describes every process that exited without being told to, and
// every panic in the log.
func (n *node) crashes(t0 time.Time) []string {
	n.mu.Lock()
	ps := append([]*proc(nil), n.procs...)
	n.mu.Unlock()
	var out []string
	for _, p := range ps {
		if p.Exited() && !p.expected.Load() {
			out = append(out, fmt.Sprintf("node %s (%s, generation %d) exited unexpectedly at %+.1fs: %v",
				n.label, short(n.name), p.gen, p.ExitAt().Sub(t0).Seconds(), p.Err()))
		}
	}
	for _, marker := range []string{"panic:", "fatal error:", "DATA RACE"} {
		if n.log.contains(marker) {
			out = append(out, fmt.Sprintf("node %s (%s) logged %q", n.label, short(n.name), marker))
		}
	}
	return out
}

// state asks the node's status listener.
func (n *node) state() (watchdog.Status, error) { return n.cur().Status() }

// linked reports whether the node says its link to the peer is up.
func (n *node) linked() bool {
	st, err := n.state()
	return err == nil && st.Peer.State == watchdog.PeerUp
}

// nodeLog is a node's output, every generation's, line by line.
type nodeLog struct {
	mu    sync.Mutex
	lines []logLine
}

type logLine struct {
	gen  int
	text string
}

type logWriter struct {
	l   *nodeLog
	gen int
	mu  sync.Mutex
	buf []byte
}

func (l *nodeLog) writer(gen int) *logWriter { return &logWriter{l: l, gen: gen} }

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.l.add(w.gen, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.l.add(w.gen, string(w.buf))
		w.buf = nil
	}
}

func (l *nodeLog) add(gen int, s string) {
	l.mu.Lock()
	l.lines = append(l.lines, logLine{gen, s})
	l.mu.Unlock()
}

func (l *nodeLog) snapshot() []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logLine(nil), l.lines...)
}

func (l *nodeLog) contains(s string) bool {
	for _, ln := range l.snapshot() {
		if strings.Contains(ln.text, s) {
			return true
		}
	}
	return false
}

// events returns when the node logged the transition event (the
// watchdog's stable event names: link_down, peer_down, ...), at or after
// since.
func (l *nodeLog) events(event string, since time.Time) []time.Time {
	var out []time.Time
	for _, ln := range l.snapshot() {
		if !hasField(ln.text, "event="+event) {
			continue
		}
		at, ok := logTime(ln.text)
		if ok && !at.Before(since) {
			out = append(out, at)
		}
	}
	return out
}

func hasField(line, field string) bool {
	i := strings.Index(line, " "+field)
	if i < 0 {
		return false
	}
	rest := line[i+1+len(field):]
	return rest == "" || rest[0] == ' '
}

// logTime reads the time= field slog's text handler starts each line with.
func logTime(line string) (time.Time, bool) {
	v, ok := strings.CutPrefix(line, "time=")
	if !ok {
		return time.Time{}, false
	}
	if i := strings.IndexByte(v, ' '); i >= 0 {
		v = v[:i]
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// tail writes the last n lines of the log.
func (l *nodeLog) tail(w io.Writer, n int) {
	lines := l.snapshot()
	if len(lines) > n {
		fmt.Fprintf(w, "    ... %d lines before\n", len(lines)-n)
		lines = lines[len(lines)-n:]
	}
	for _, ln := range lines {
		fmt.Fprintf(w, "    g%d| %s\n", ln.gen, ln.text)
	}
}
