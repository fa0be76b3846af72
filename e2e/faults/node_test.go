//go:build faults && linux

package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clooster/clooster/watchdog"
)

// node is one clooster daemon across its restarts: the process of each
// generation runs with ip netns exec in the node's namespace, with the same
// configuration; its output goes to one log.
type node struct {
	label  string // "A" or "B"
	name   string // this_server
	ns     string
	config string // the configuration file
	status string // base URL of the status listener
	log    *nodeLog

	mu    sync.Mutex
	procs []*proc // every generation, oldest first
}

// proc is one process of a node.
type proc struct {
	gen      int
	cmd      *exec.Cmd
	started  time.Time
	done     chan struct{} // closed when the process has exited
	exitAt   time.Time
	err      error       // from Wait
	expected atomic.Bool // the suite ended it, or is about to
}

// Every process of the run, so that an interrupted run can kill them.
var procs struct {
	sync.Mutex
	m map[*proc]bool
}

func killAllProcs() {
	procs.Lock()
	defer procs.Unlock()
	for p := range procs.m {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// start runs a new generation. The previous one must have exited.
func (n *node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if k := len(n.procs); k > 0 && n.procs[k-1].alive() {
		return fmt.Errorf("%s: start: generation %d still running", n.label, k)
	}
	p := &proc{gen: len(n.procs) + 1, done: make(chan struct{})}
	p.cmd = exec.Command("ip", "netns", "exec", n.ns, binary, n.config)
	// Nothing of the test's environment: no proxy, no CLOOSTER_* variable.
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	w := n.log.writer(p.gen)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	// ip netns exec execs the binary: the pid is the daemon's. It dies
	// with the test binary.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", n.label, err)
	}
	p.started = time.Now()
	procs.Lock()
	if procs.m == nil {
		procs.m = make(map[*proc]bool)
	}
	procs.m[p] = true
	procs.Unlock()
	go func() {
		p.err = p.cmd.Wait()
		p.exitAt = time.Now()
		w.flush()
		procs.Lock()
		delete(procs.m, p)
		procs.Unlock()
		close(p.done)
	}()
	n.procs = append(n.procs, p)
	return nil
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// cur is the latest generation.
func (n *node) cur() *proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.procs[len(n.procs)-1]
}

// signal sends sig to the current process and returns when it was sent.
func (n *node) signal(sig syscall.Signal) time.Time {
	p := n.cur()
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		p.expected.Store(true)
	}
	p.cmd.Process.Signal(sig)
	return time.Now()
}

// kill9 kills the current process and waits until it is gone.
func (n *node) kill9() (time.Time, error) {
	at := n.signal(syscall.SIGKILL)
	return at, n.wait(5 * time.Second)
}

func (n *node) stop() time.Time { return n.signal(syscall.SIGSTOP) }
func (n *node) cont() time.Time { return n.signal(syscall.SIGCONT) }

// wait waits for the current process to exit.
func (n *node) wait(limit time.Duration) error {
	p := n.cur()
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("%s: still running %s after it was told to stop", n.label, limit)
	}
}

// exit returns how the current process ended and how long after since.
func (n *node) exit(since time.Time) (code int, took time.Duration) {
	p := n.cur()
	<-p.done
	code = p.cmd.ProcessState.ExitCode()
	return code, p.exitAt.Sub(since)
}

// killAll kills every generation still running, stopped ones included.
func (n *node) killAll() {
	n.mu.Lock()
	ps := append([]*proc(nil), n.procs...)
	n.mu.Unlock()
	for _, p := range ps {
		if p.alive() {
			p.expected.Store(true)
			p.cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
	}
}

// crashes describes every process that exited without being told to, and
// every panic in the log.
func (n *node) crashes(t0 time.Time) []string {
	n.mu.Lock()
	ps := append([]*proc(nil), n.procs...)
	n.mu.Unlock()
	var out []string
	for _, p := range ps {
		if !p.alive() && !p.expected.Load() {
			out = append(out, fmt.Sprintf("node %s (%s, generation %d) exited unexpectedly at %+.1fs: %v",
				n.label, short(n.name), p.gen, p.exitAt.Sub(t0).Seconds(), p.err))
		}
	}
	for _, marker := range []string{"panic:", "fatal error:", "DATA RACE"} {
		if n.log.contains(marker) {
			out = append(out, fmt.Sprintf("node %s (%s) logged %q", n.label, short(n.name), marker))
		}
	}
	return out
}

// statusClient reaches the nodes' status listeners directly, never through
// a proxy.
var statusClient = &http.Client{
	Timeout:   time.Second,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// state asks the node's status listener.
func (n *node) state() (watchdog.Status, error) {
	var st watchdog.Status
	resp, err := statusClient.Get(n.status + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

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
