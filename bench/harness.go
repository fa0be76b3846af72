//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakepb"
)

// bench owns a temporary directory with the binary and the nodes'
// configurations and logs, and every process it starts.
type bench struct {
	ctx    context.Context
	dir    string
	root   string // the module's directory
	goCmd  string
	binary string

	mu    sync.Mutex
	procs []*proc
	seq   int
	ports map[int]bool
}

func newBench(ctx context.Context) (*bench, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is not on PATH: %w", err)
	}
	out, err := exec.Command(goCmd, "env", "GOMOD").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return nil, errors.New("run bench from within the clooster module: go run ./bench")
	}
	dir, err := os.MkdirTemp("", "clooster-bench-")
	if err != nil {
		return nil, err
	}
	return &bench{ctx: ctx, dir: dir, root: filepath.Dir(gomod), goCmd: goCmd, ports: map[int]bool{}}, nil
}

// cleanup kills every process still running and removes the directory.
func (b *bench) cleanup() {
	b.mu.Lock()
	procs := b.procs
	b.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	os.RemoveAll(b.dir)
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// interrupted reports whether the bench was asked to stop.
func (b *bench) interrupted() error {
	if err := b.ctx.Err(); err != nil {
		return errors.New("interrupted")
	}
	return nil
}

// sleep waits d, or less if the bench is interrupted.
func (b *bench) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-b.ctx.Done():
		return errors.New("interrupted")
	}
}

// build compiles the binary as it is shipped: static, stripped.
func (b *bench) build() error {
	b.binary = filepath.Join(b.dir, "clooster")
	cmd := exec.Command(b.goCmd, "build", "-trimpath", "-ldflags", "-s -w", "-o", b.binary, ".")
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build: %w\n%s", err, out)
	}
	return nil
}

// freePort returns a port on 127.0.0.1 that was free a moment ago, below
// the kernel's ephemeral range so that no outgoing connection takes it
// before it is bound, and never the same one twice.
func (b *bench) freePort() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range 1000 {
		port := 20000 + mrand.IntN(12000)
		if b.ports[port] {
			continue
		}
		ln, err := net.Listen("tcp", loopback(port))
		if err != nil {
			continue
		}
		ln.Close()
		b.ports[port] = true
		return port, nil
	}
	return 0, errors.New("no free port left")
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// The pair's names and record, as in the original example configuration.
const (
	srv1       = "srv1.example.com" // the server, and the preferred value
	srv2       = "srv2.example.com" // the client
	zoneName   = "example.com"
	recordName = "www.example.com"
)

// fakes is one set of stand-ins, served on 127.0.0.1: a Cloudflare API
// holding zoneName with one CNAME record, recordName → srv1, and a
// Pushbullet API.
type fakes struct {
	cf       *fakecf.Server
	cfURL    string // without the API path: each node adds its own prefix
	cfToken  string
	recordID string

	pb    *fakepb.Server
	pbURL string
	pbKey string

	servers []*http.Server
}

func newFakes() (*fakes, error) {
	f := &fakes{cf: fakecf.New(), cfToken: randomHex("cf-token-"), pbKey: randomHex("o.pb-")}
	f.cf.SetToken(f.cfToken)
	zone := f.cf.AddZone(zoneName)
	f.recordID = f.cf.AddRecord(zone, fakecf.Record{Name: recordName, Type: "CNAME", Content: srv1, TTL: 60})
	f.pb = fakepb.New(f.pbKey)
	var err error
	if f.cfURL, err = f.serve(f.cf); err != nil {
		return nil, err
	}
	if f.pbURL, err = f.serve(f.pb); err != nil {
		f.close()
		return nil, err
	}
	f.pbURL += "/v2"
	return f, nil
}

func (f *fakes) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	f.servers = append(f.servers, srv)
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

func (f *fakes) close() {
	for _, s := range f.servers {
		s.Close()
	}
}

// apiBase is the Cloudflare API base for one node. fakecf ignores what
// precedes /zones, so each node gets its own prefix and every request
// tells which node made it.
func (f *fakes) apiBase(label string) string { return f.cfURL + "/" + label + "/client/v4" }

// requestsBy counts the requests of the node label in reqs.
func requestsBy(reqs []fakecf.Request, label string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/"+label+"/") {
			n++
		}
	}
	return n
}

// requestsBetween returns the requests that arrived in [from, to].
func (f *fakes) requestsBetween(from, to time.Time) []fakecf.Request {
	var out []fakecf.Request
	for _, r := range f.cf.Requests() {
		if !r.At.Before(from) && !r.At.After(to) {
			out = append(out, r)
		}
	}
	return out
}

// writeAt is a write as the stand-in saw it, with its arrival time.
type writeAt = fakecf.Write

// waitWrite waits until a write of content arrives at or after since, and
// returns it.
func (b *bench) waitWrite(f *fakes, content string, since time.Time, limit time.Duration) (fakecf.Write, error) {
	deadline := time.Now().Add(limit)
	for {
		for _, w := range f.cf.Writes() {
			if w.Content == content && !w.At.Before(since) {
				return w, nil
			}
		}
		if time.Now().After(deadline) {
			return fakecf.Write{}, fmt.Errorf("no write of %s within %v", content, limit)
		}
		if err := b.sleep(time.Millisecond); err != nil {
			return fakecf.Write{}, err
		}
	}
}

func randomHex(prefix string) string {
	p := make([]byte, 16)
	rand.Read(p)
	return prefix + hex.EncodeToString(p)
}

// timing is the link's timings; a zero field leaves its key out of the
// configuration, so that the daemon's default applies.
type timing struct {
	keepalive, peerTimeout, failbackDelay, drift time.Duration
}

var (
	defaults = timing{} // keepalive_interval 500ms, peer_timeout 2.5s, failback_delay 30s, drift_check_interval 5m
	fastest  = timing{keepalive: 100 * time.Millisecond, peerTimeout: 800 * time.Millisecond}
)

func (t timing) describe() string {
	var parts []string
	add := func(key string, d time.Duration) {
		if d > 0 {
			parts = append(parts, fmt.Sprintf("%s %v", key, d))
		}
	}
	add("keepalive_interval", t.keepalive)
	add("peer_timeout", t.peerTimeout)
	add("failback_delay", t.failbackDelay)
	add("drift_check_interval", t.drift)
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, ", ")
}

// spec is one node's configuration.
type spec struct {
	label       string // "srv1" or "srv2"
	this, other string
	role        string // "server" listens on addr, "client" dials it
	addr        string
	status      string // status.address
	key         string
	f           *fakes
	t           timing
	env         []string // the process's whole environment
	records     []any    // a records block, in place of the cloudflare block's record
	notify      []any    // a notify list
}

func (s spec) config() map[string]any {
	c := map[string]any{
		"this_server":  s.this,
		"other_server": s.other,
		"key":          s.key,
		"status":       map[string]any{"address": s.status},
		"cloudflare": map[string]any{
			"token":           s.f.cfToken,
			"zone":            zoneName,
			"record":          recordName,
			"preferred_value": srv1,
			"api_url":         s.f.apiBase(s.label),
		},
		"pushbullet": map[string]any{"key": s.f.pbKey, "api_url": s.f.pbURL},
		"log":        map[string]any{"level": "info"},
	}
	if s.records != nil {
		c["cloudflare"] = map[string]any{"token": s.f.cfToken, "zone": zoneName, "api_url": s.f.apiBase(s.label)}
		c["records"] = s.records
	}
	if s.notify != nil {
		c["notify"] = s.notify
	}
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	c[s.role] = map[string]any{"address": host, "port": p}
	for key, d := range map[string]time.Duration{
		"keepalive_interval":   s.t.keepalive,
		"peer_timeout":         s.t.peerTimeout,
		"failback_delay":       s.t.failbackDelay,
		"drift_check_interval": s.t.drift,
	} {
		if d > 0 {
			c[key] = d.String()
		}
	}
	return c
}

// pair is srv1 (server, preferred) and srv2 (client) sharing one set of
// stand-ins; the record points to srv1.
type pair struct {
	f          *fakes
	srv1, srv2 spec
}

// newPair makes a pair with its own stand-ins. With viaProxy set, srv2
// dials that address instead of srv1's.
func (b *bench) newPair(t timing, viaProxy func(server string) (string, error)) (*pair, error) {
	f, err := newFakes()
	if err != nil {
		return nil, err
	}
	port, err := b.freePort()
	if err != nil {
		return nil, err
	}
	s1, err := b.freePort()
	if err != nil {
		return nil, err
	}
	s2, err := b.freePort()
	if err != nil {
		return nil, err
	}
	k := make([]byte, 32)
	rand.Read(k)
	key := base64.StdEncoding.EncodeToString(k)
	p := &pair{
		f:    f,
		srv1: spec{label: "srv1", this: srv1, other: srv2, role: "server", addr: loopback(port), status: loopback(s1), key: key, f: f, t: t},
		srv2: spec{label: "srv2", this: srv2, other: srv1, role: "client", addr: loopback(port), status: loopback(s2), key: key, f: f, t: t},
	}
	if viaProxy != nil {
		if p.srv2.addr, err = viaProxy(p.srv1.addr); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// readiness is how long one start took: the server until its status
// listener answered; the client, started once the server was ready, until
// its status listener answered and until it was linked.
type readiness struct {
	serverHealthz, clientHealthz, clientLinked time.Duration
}

// start starts srv1, waits for its status listener, starts srv2 and waits
// until both are linked and have read the record.
func (b *bench) start(p *pair) (a, c *proc, r readiness, err error) {
	if a, err = b.startProc(p.srv1); err != nil {
		return nil, nil, r, err
	}
	if r.serverHealthz, err = b.waitHealthz(a); err != nil {
		return a, nil, r, err
	}
	if c, err = b.startProc(p.srv2); err != nil {
		return a, nil, r, err
	}
	if r.clientHealthz, err = b.waitHealthz(c); err != nil {
		return a, c, r, err
	}
	if err = b.waitFor(10*time.Second, time.Millisecond, "srv2 linked", c.linked, a, c); err != nil {
		return a, c, r, err
	}
	r.clientLinked = time.Since(c.started)
	err = b.waitLinked(10*time.Second, a, c)
	return a, c, r, err
}

// stop kills the pair's processes and closes its stand-ins.
func (p *pair) stop(ps ...*proc) {
	for _, x := range ps {
		if x != nil {
			x.kill()
		}
	}
	p.f.close()
}

// proc is one running clooster process.
type proc struct {
	label   string
	status  string
	cmd     *exec.Cmd
	started time.Time // just before the exec
	logPath string
	done    chan struct{}
	once    sync.Once
}

// startProc runs `clooster FILE` for s in a directory of its own, with
// s.env as its whole environment, its output going to a log file there.
func (b *bench) startProc(s spec) (*proc, error) {
	if err := b.interrupted(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.seq++
	dir := filepath.Join(b.dir, fmt.Sprintf("%04d-%s", b.seq, s.label))
	b.mu.Unlock()
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	text, err := json.MarshalIndent(s.config(), "", "  ")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "clooster.json")
	if err := os.WriteFile(cfgPath, text, 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	p := &proc{label: s.label, status: s.status, logPath: logPath, done: make(chan struct{})}
	p.cmd = exec.Command(b.binary, cfgPath)
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{}, s.env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.label, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	b.mu.Lock()
	b.procs = append(b.procs, p)
	b.mu.Unlock()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig and returns the time just before it was sent.
func (p *proc) signal(sig syscall.Signal) (time.Time, error) {
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		return at, fmt.Errorf("%s: signal %v: %w", p.label, sig, err)
	}
	return at, nil
}

// kill sends SIGKILL (which also ends a stopped process) and waits for the
// process to be gone. It returns the time just before the signal.
func (p *proc) kill() time.Time {
	at := time.Now()
	p.once.Do(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
	return at
}

// logTail is the end of the process's log, for error messages.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return p.label + " log:\n  " + strings.Join(lines, "\n  ")
}

// status is what GET /status answers, as far as the bench reads it.
type status struct {
	Peer struct {
		State string    `json:"state"`
		Since time.Time `json:"since"`
	} `json:"peer"`
	Record struct {
		Content string `json:"content"`
	} `json:"record"`
}

// httpClient talks to the status listeners, never through a proxy.
var httpClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: 10 * time.Second},
}

func (p *proc) get(path string) ([]byte, error) {
	resp, err := httpClient.Get("http://" + p.status + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, err
}

func (p *proc) getStatus() (status, error) {
	var st status
	body, err := p.get("/status")
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(body, &st)
	return st, err
}

// linked reports whether the node shows its peer up and has read the
// record.
func (p *proc) linked() bool {
	st, err := p.getStatus()
	return err == nil && st.Peer.State == "up" && st.Record.Content != ""
}

// metric returns the value of the first sample of the metric whose line
// starts with name (a name, or a name with labels).
func (p *proc) metric(name string) (float64, error) {
	body, err := p.get("/metrics")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, nil // a counter not yet shown is zero
}

// waitHealthz polls GET /healthz every millisecond from the process's
// start and returns how long after the start it first answered ok.
func (b *bench) waitHealthz(p *proc) (time.Duration, error) {
	err := b.waitFor(10*time.Second, time.Millisecond, p.label+" /healthz", func() bool {
		body, err := p.get("/healthz")
		return err == nil && strings.TrimSpace(string(body)) == "ok"
	}, p)
	return time.Since(p.started), err
}

// waitLinked waits until every node shows its peer up and has read the
// record.
func (b *bench) waitLinked(limit time.Duration, ps ...*proc) error {
	return b.waitFor(limit, 2*time.Millisecond, "link", func() bool {
		for _, p := range ps {
			if !p.linked() {
				return false
			}
		}
		return true
	}, ps...)
}

// waitFor polls cond every poll until it holds; it fails after limit, or
// if one of watch exits, with the end of that process's log.
func (b *bench) waitFor(limit, poll time.Duration, what string, cond func() bool, watch ...*proc) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		for _, p := range watch {
			if p.exited() {
				return fmt.Errorf("%s: %s exited\n%s", what, p.label, p.logTail())
			}
		}
		if time.Now().After(deadline) {
			var tails []string
			for _, p := range watch {
				tails = append(tails, p.logTail())
			}
			return fmt.Errorf("%s: not within %v\n%s", what, limit, strings.Join(tails, "\n"))
		}
		if err := b.sleep(poll); err != nil {
			return err
		}
	}
	return nil
}
