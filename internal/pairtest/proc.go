package pairtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clooster/clooster/watchdog"
)

// Cmd is how to start one process of the binary.
type Cmd struct {
	Label string   // names the process in messages
	Args  []string // the binary's arguments
	// Prefix, if set, is a command that runs the binary, as "ip netns exec
	// NAME": the binary's path and Args follow it.
	Prefix []string
	Dir    string   // the working directory; "" is a new temporary one
	Env    []string // the whole environment: nothing of the caller's leaks in
	Status string   // the status listener's address, host:port, if any
	// StatusToken, if set, is sent to the status listener as a bearer
	// token.
	StatusToken string
	// Secrets are values the output must not show: it is checked for
	// them when the process is stopped.
	Secrets []Secret
	// Output, if set, takes the output in place of the Proc's own buffer,
	// which then stays empty: the caller checks and shows it.
	Output io.Writer
	// Exited, if set, is called once the process has exited and its
	// output is all written, before Done is closed.
	Exited      func()
	SysProcAttr *syscall.SysProcAttr
}

// Proc is one running process of the binary.
type Proc struct {
	Label   string
	Addr    string    // its status listener's address, host:port
	Started time.Time // just before the exec

	token string

	cmd     *exec.Cmd
	out     SyncBuffer // stdout and stderr, without Cmd.Output
	done    chan struct{}
	exitAt  time.Time // valid once done is closed
	waitErr error     // valid once done is closed
}

// running are the processes started and not yet exited, for KillAll.
var running struct {
	sync.Mutex
	m map[*Proc]bool
}

// KillAll kills every process the package started that is still running:
// for a signal handler, which has no T whose cleanups would.
func KillAll() {
	running.Lock()
	defer running.Unlock()
	for p := range running.m {
		p.cmd.Process.Kill()
	}
}

// Start starts the binary as c says. The process is killed when t ends;
// then its output is checked for c.Secrets, and shown if t failed.
func (b *Binary) Start(t T, c Cmd) *Proc {
	t.Helper()
	p := &Proc{Label: c.Label, Addr: c.Status, token: c.StatusToken, done: make(chan struct{})}
	args := append(append(append([]string{}, c.Prefix...), b.Path), c.Args...)
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Dir = c.Dir
	if p.cmd.Dir == "" {
		p.cmd.Dir = t.TempDir()
	}
	p.cmd.Env = append([]string{}, c.Env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if c.Output != nil {
		p.cmd.Stdout, p.cmd.Stderr = c.Output, c.Output
	}
	p.cmd.SysProcAttr = c.SysProcAttr
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", c.Label, err)
	}
	running.Lock()
	if running.m == nil {
		running.m = make(map[*Proc]bool)
	}
	running.m[p] = true
	running.Unlock()
	go func() {
		p.waitErr = p.cmd.Wait()
		p.exitAt = time.Now()
		if c.Exited != nil {
			c.Exited()
		}
		running.Lock()
		delete(running.m, p)
		running.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			p.cmd.Process.Kill() // SIGKILL also ends a stopped process
		}
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
			t.Errorf("%s: still running 10 s after SIGKILL", c.Label)
		}
		if c.Output == nil {
			CheckNoSecrets(t, c.Label+" output", p.Log(), c.Secrets)
			if t.Failed() {
				t.Logf("--- %s output:\n%s", c.Label, p.Log())
			}
		}
	})
	return p
}

// StartNode runs `clooster FILE` for n in a new temporary directory, with
// env as its whole environment.
func (b *Binary) StartNode(t T, n Node, env ...string) *Proc {
	t.Helper()
	return b.Start(t, Cmd{Label: n.Label, Args: []string{n.WriteConfig(t)}, Env: env, Status: n.Status, StatusToken: n.StatusToken,
		Secrets: n.Secrets()})
}

// StartPair starts both nodes of p at once, so that each finds the other
// within peer_timeout of its start, and waits until they are linked.
func (b *Binary) StartPair(t T, p *Pair) (srv1, srv2 *Proc) {
	t.Helper()
	srv1 = b.StartNode(t, p.Srv1)
	srv2 = b.StartNode(t, p.Srv2)
	WaitLinked(t, 10*time.Second, srv1, srv2)
	return srv1, srv2
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitAt is when the process was seen to exit; zero while it runs.
func (p *Proc) ExitAt() time.Time {
	if !p.Exited() {
		return time.Time{}
	}
	return p.exitAt
}

// ExitCode is the process's exit status, -1 if a signal ended it or it
// still runs.
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Err is what waiting for the process returned (an *exec.ExitError for a
// status other than 0); nil while it runs.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.waitErr
}

// Signal sends sig and returns when it was sent.
func (p *Proc) Signal(t T, sig os.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.Label, sig, err)
	}
	return at
}

// Kill sends SIGKILL, waits for the process to be gone and returns when
// the signal was sent.
func (p *Proc) Kill(t T) time.Time {
	t.Helper()
	at := p.Signal(t, syscall.SIGKILL)
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		t.Fatalf("%s: still running 5 s after SIGKILL", p.Label)
	}
	return at
}

// WaitExit waits up to limit for the process to exit; it reports how long
// after since it exited, and its exit status (-1 for a signal).
func (p *Proc) WaitExit(limit time.Duration, since time.Time) (took time.Duration, code int, ok bool) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.exitAt.Sub(since), p.cmd.ProcessState.ExitCode(), true
	case <-timer.C:
		return time.Since(since), 0, false
	}
}

// Log is what the process wrote so far, stdout and stderr, unless
// Cmd.Output took it.
func (p *Proc) Log() string { return p.out.String() }

// httpClient talks to the processes' status listeners, never through a
// proxy. It keeps its connections, so that polling does not use up
// ephemeral ports.
var httpClient = &http.Client{
	Timeout:   time.Second,
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: 10 * time.Second},
}

// Get returns the body of GET path from the status listener, with the
// status token if there is one; an answer other than 200 is an error.
func (p *Proc) Get(path string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+p.Addr+path, nil)
	if err != nil {
		return "", err
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(body), err
}

// Status is what GET /status answers.
func (p *Proc) Status() (watchdog.Status, error) {
	var st watchdog.Status
	body, err := p.Get("/status")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return st, fmt.Errorf("GET /status: %w", err)
	}
	return st, nil
}

// Metric returns the value of the first sample of GET /metrics whose line
// starts with name (a name, or a name with its labels); 0 if there is none
// yet, as for a counter never incremented.
func (p *Proc) Metric(name string) (float64, error) {
	body, err := p.Get("/metrics")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, nil
}

// Linked reports whether every process shows its peer up and has read the
// record.
func Linked(ps ...*Proc) bool {
	for _, p := range ps {
		st, err := p.Status()
		if err != nil || st.Peer.State != watchdog.PeerUp || st.Record.Content == "" {
			return false
		}
	}
	return true
}

// SyncBuffer is a bytes.Buffer that a process (or a logger) writes while
// its reader reads.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
