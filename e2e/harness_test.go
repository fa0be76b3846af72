//go:build unix

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakepb"
)

// binary is the clooster executable TestMain built.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	// The tests mostly wait on timers in other processes: unless -parallel
	// says otherwise, run more of them at once than there are CPUs.
	if !flagSet("test.parallel") {
		flag.Set("test.parallel", strconv.Itoa(max(minParallel, runtime.GOMAXPROCS(0))))
	}
	dir, err := os.MkdirTemp("", "clooster-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "clooster")
	if err := build(binary); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build clooster: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// minParallel is how many tests run at once at least, unless -parallel is
// given.
const minParallel = 16

// flagSet reports whether the flag name was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// build compiles the module's main package to out with the go command that
// runs the tests.
func build(out string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is not on PATH: %w", err)
	}
	cmd := exec.Command(goCmd, "build", "-o", out, "github.com/clooster/clooster")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n%s", err, buf.Bytes())
	}
	return nil
}

// e2eTest marks a test parallel, and skips it under -short.
func e2eTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: runs the built binary as processes")
	}
	t.Parallel()
}

// The pair's names and record, as in the original example configuration.
const (
	srv1       = "srv1.example.com" // the server, and the preferred value
	srv2       = "srv2.example.com" // the client
	zoneName   = "example.com"
	recordName = "www.example.com"
)

// timing is the link's timings for one test.
type timing struct {
	keepalive, peerTimeout, failbackDelay time.Duration
}

// fastTiming is shorter than the defaults (250 ms, 2 s, 30 s), for tests whose
// subject is not the timings themselves: a pair links, fails over and
// fails back in a few seconds.
var fastTiming = timing{
	keepalive:     250 * time.Millisecond,
	peerTimeout:   1500 * time.Millisecond,
	failbackDelay: 3 * time.Second,
}

// noFailback is fastTiming with the default failback_delay, for tests in
// which the failback check (one record read, failback_delay after the link
// comes up) would get in the way: it never comes within the test.
var noFailback = timing{
	keepalive:     fastTiming.keepalive,
	peerTimeout:   fastTiming.peerTimeout,
	failbackDelay: 30 * time.Second,
}

// secret is a credential to keep out of every log.
type secret struct{ name, value string }

// newSecret returns prefix and 16 random bytes in hex: distinctive enough
// that finding it in a log can only be a leak.
func newSecret(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// fakes is one set of stand-ins: a Cloudflare API holding zoneName with one
// CNAME record, recordName → srv1, that accepts cfToken; and a Pushbullet
// API that accepts pbKey. Both are served on 127.0.0.1 until the test ends.
type fakes struct {
	cf       *fakecf.Server
	cfURL    string
	cfToken  string
	recordID string

	pb    *fakepb.Server
	pbURL string
	pbKey string
}

func newFakes(t testing.TB) *fakes {
	t.Helper()
	f := &fakes{cf: fakecf.New(), cfToken: newSecret("cf-token-"), pbKey: newSecret("o.pb-")}
	f.cf.SetToken(f.cfToken)
	zone := f.cf.AddZone(zoneName)
	f.recordID = f.cf.AddRecord(zone, fakecf.Record{Name: recordName, Type: "CNAME", Content: srv1, TTL: 60, Comment: "kept by clooster"})
	f.cfURL = serve(t, f.cf) + "/client/v4"
	f.pb = fakepb.New(f.pbKey)
	f.pbURL = serve(t, f.pb) + "/v2"
	return f
}

// serve serves h on 127.0.0.1 until the test ends and returns its base URL.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// content is the record's content as the API holds it.
func (f *fakes) content() string { return f.cf.Record(f.recordID).Content }

// writeContents lists the contents written, oldest first.
func (f *fakes) writeContents() []string {
	var out []string
	for _, w := range f.cf.Writes() {
		out = append(out, w.Content)
	}
	return out
}

// pushTitles lists the titles of the pushes received, oldest first.
func (f *fakes) pushTitles() []string {
	var out []string
	for _, p := range f.pb.Pushes() {
		out = append(out, p.Title)
	}
	return out
}

// pushesWith counts the pushes whose title contains s.
func (f *fakes) pushesWith(s string) int {
	n := 0
	for _, p := range f.pb.Pushes() {
		if strings.Contains(p.Title, s) {
			n++
		}
	}
	return n
}

// usedPorts are the ports handed out by freePort, so that parallel tests
// never get the same one.
var usedPorts struct {
	sync.Mutex
	m map[int]bool
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	usedPorts.Lock()
	defer usedPorts.Unlock()
	if usedPorts.m == nil {
		usedPorts.m = make(map[int]bool)
	}
	// Ports below the kernel's ephemeral range (32768 and up by default),
	// so that no outgoing connection of a node or of the test can take a
	// port between the moment it is picked and the moment it is bound.
	for range 1000 {
		port := 20000 + mrand.IntN(12000)
		if usedPorts.m[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		usedPorts.m[port] = true
		return port
	}
	t.Fatal("free port: none left")
	return 0
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// obj is a JSON object with its members in order. It is written as the
// relaxed JSON clooster reads: with a comment, and a trailing comma after
// every member.
type obj []member

type member struct {
	key string
	val any // string, int, bool or obj
}

// relaxedJSON renders o as a configuration file headed by comment.
func relaxedJSON(comment string, o obj) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", comment)
	o.write(&b, "")
	b.WriteString("\n")
	return b.String()
}

func (o obj) write(b *strings.Builder, indent string) {
	b.WriteString("{\n")
	for _, m := range o {
		k, _ := json.Marshal(m.key)
		fmt.Fprintf(b, "%s    %s: ", indent, k)
		if sub, ok := m.val.(obj); ok {
			sub.write(b, indent+"    ")
		} else {
			v, _ := json.Marshal(m.val)
			b.Write(v)
		}
		b.WriteString(",\n")
	}
	b.WriteString(indent + "}")
}

// nodeSpec is one node's configuration.
type nodeSpec struct {
	label  string // for messages: "srv1", "srv1 (restarted)", "intruder"
	this   string
	other  string
	role   string // "server" listens on port, "client" dials it
	port   int
	key    string
	status string // status.address
	fakes  *fakes
	timing timing
	extra  obj // more top-level members
	// records, if set, is the record set, in place of the cloudflare
	// block's record keys.
	records []any
	// dns, if set, is the rfc2136 block; the cloudflare block is left
	// out unless a record of records has provider cloudflare.
	dns *dnsBlock
}

// dnsBlock is an rfc2136 block: the name server and the TSIG key.
type dnsBlock struct {
	server, zone, keyName, secret string
}

// config is the node's configuration file.
func (n nodeSpec) config() obj {
	o := obj{
		{"this_server", n.this},
		{"other_server", n.other},
		{"key", n.key},
		{n.role, obj{{"address", "127.0.0.1"}, {"port", n.port}}},
		{"keepalive_interval", n.timing.keepalive.String()},
		{"peer_timeout", n.timing.peerTimeout.String()},
		{"failback_delay", n.timing.failbackDelay.String()},
		{"status", obj{{"address", n.status}}},
		{"cloudflare", obj{
			{"token", n.fakes.cfToken},
			{"zone", zoneName},
			{"record", recordName},
			{"preferred_value", srv1},
			{"api_url", n.fakes.cfURL},
		}},
		{"pushbullet", obj{{"key", n.fakes.pbKey}, {"api_url", n.fakes.pbURL}}},
		{"log", obj{{"level", "debug"}}},
	}
	if n.records != nil {
		o[8].val = obj{{"token", n.fakes.cfToken}, {"zone", zoneName}, {"api_url", n.fakes.cfURL}}
		o = append(o, member{"records", n.records})
	}
	if n.dns != nil {
		o = append(o, member{"rfc2136", obj{
			{"server", n.dns.server},
			{"zone", n.dns.zone},
			{"tsig_name", n.dns.keyName},
			{"tsig_secret", n.dns.secret},
		}})
		if !usesCloudflare(n.records) {
			o = slices.Delete(o, 8, 9)
		}
	}
	return append(o, n.extra...)
}

// usesCloudflare reports whether a record of records has provider
// cloudflare.
func usesCloudflare(records []any) bool {
	for _, r := range records {
		if m, ok := r.(map[string]any); ok && m["provider"] == "cloudflare" {
			return true
		}
	}
	return false
}

// secrets are the values of n's configuration that no output may show.
func (n nodeSpec) secrets() []secret {
	out := []secret{
		{"key", n.key},
		{"cloudflare.token", n.fakes.cfToken},
		{"pushbullet.key", n.fakes.pbKey},
	}
	if n.dns != nil {
		out = append(out, secret{"rfc2136.tsig_secret", n.dns.secret})
	}
	return out
}

// writeConfig writes n's configuration file into a new directory.
func (n nodeSpec) writeConfig(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clooster.json")
	text := relaxedJSON(fmt.Sprintf("clooster e2e: %s, %s", n.label, n.role), n.config())
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pair is srv1 (server, preferred) and srv2 (client) sharing one set of
// stand-ins; the record points to srv1.
type pair struct {
	f          *fakes
	srv1, srv2 nodeSpec
	// A record set's (setPair): the records' ids, and the records block
	// with srv2's AAAA value as given.
	setIDs     []string
	setRecords func(aaaa2 string) []any
}

func newPair(t testing.TB, tm timing) *pair {
	t.Helper()
	f := newFakes(t)
	key := newSecret("e2e-key-")
	port := freePort(t)
	node := func(label, this, other, role string) nodeSpec {
		return nodeSpec{label: label, this: this, other: other, role: role, port: port, key: key,
			status: loopback(freePort(t)), fakes: f, timing: tm}
	}
	return &pair{f: f, srv1: node("srv1", srv1, srv2, "server"), srv2: node("srv2", srv2, srv1, "client")}
}

// start starts both nodes, at once so that each finds the other within
// peer_timeout of its start, and waits until they are linked.
func (p *pair) start(t testing.TB) (a, b *proc) {
	t.Helper()
	a = startNode(t, p.srv1)
	b = startNode(t, p.srv2)
	waitLinked(t, 10*time.Second, a, b)
	return a, b
}

// startNode runs `clooster FILE` for n, with env as its whole environment.
func startNode(t testing.TB, n nodeSpec, env ...string) *proc {
	t.Helper()
	return startProc(t, n.label, n.status, n.secrets(), t.TempDir(), env, n.writeConfig(t))
}

// proc is one running clooster process.
type proc struct {
	label   string
	status  string // its status address
	secrets []secret
	cmd     *exec.Cmd
	out     *syncBuffer // stdout and stderr
	done    chan struct{}
	exitAt  time.Time // valid once done is closed
}

// startProc starts the binary with args in dir, with env as its whole
// environment (nothing of the test's own leaks in). It is killed when the
// test ends; then its output is checked for secrets, and shown if the
// test failed.
func startProc(t testing.TB, label, status string, secrets []secret, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{label: label, status: status, secrets: secrets, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", label, err)
	}
	go func() {
		p.cmd.Wait()
		p.exitAt = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill() // SIGKILL also ends a stopped process
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: still running 10 s after SIGKILL", label)
		}
		checkNoSecrets(t, label+" output", p.out.String(), p.secrets)
		if t.Failed() {
			t.Logf("--- %s output:\n%s", label, p.out.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig and returns when it was sent.
func (p *proc) signal(t testing.TB, sig syscall.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.label, sig, err)
	}
	return at
}

// kill sends SIGKILL, waits for the process to be gone and returns when
// the signal was sent.
func (p *proc) kill(t testing.TB) time.Time {
	t.Helper()
	at := p.signal(t, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still running 5 s after SIGKILL", p.label)
	}
	return at
}

// log is what the process wrote so far.
func (p *proc) log() string { return p.out.String() }

// status is what GET /status answers, as SPEC.md's Status rule lists it.
type status struct {
	Node    string `json:"node"`
	Role    string `json:"role"`
	Version string `json:"version"`
	Peer    struct {
		Name  string    `json:"name"`
		State string    `json:"state"`
		Since time.Time `json:"since"`
	} `json:"peer"`
	Record struct {
		Name    string `json:"name"`
		Content string `json:"content"`
	} `json:"record"`
	Records []struct {
		Name       string    `json:"name"`
		Type       string    `json:"type"`
		Content    string    `json:"content"`
		PointsTo   string    `json:"points_to"`
		Preferred  bool      `json:"preferred"`
		LastWrite  time.Time `json:"last_write"`
		WriteError string    `json:"write_error"`
	} `json:"records"`
	RecordsMismatch []string `json:"records_mismatch"`
}

// httpClient talks to the processes' status listeners, never through a
// proxy. It keeps its connections, so that polling does not use up
// ephemeral ports that freePort may have handed out.
var httpClient = &http.Client{
	Timeout:   time.Second,
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: 10 * time.Second},
}

func (p *proc) getStatus() (status, error) {
	var st status
	resp, err := httpClient.Get("http://" + p.status + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /status: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// get returns the body of GET path from the status listener.
func (p *proc) get(path string) (string, error) {
	resp, err := httpClient.Get("http://" + p.status + path)
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

// linked reports whether every node shows its peer up and has read the
// record.
func linked(ps ...*proc) bool {
	for _, p := range ps {
		st, err := p.getStatus()
		if err != nil || st.Peer.State != "up" || st.Record.Content == "" {
			return false
		}
	}
	return true
}

// waitLinked waits until every node shows its peer up and has read the
// record, and returns how long that took.
func waitLinked(t testing.TB, limit time.Duration, ps ...*proc) time.Duration {
	t.Helper()
	var names []string
	for _, p := range ps {
		names = append(names, p.label)
	}
	return waitFor(t, limit, "link between "+strings.Join(names, " and "), func() bool {
		for _, p := range ps {
			if p.exited() {
				t.Fatalf("%s exited while waiting for the link", p.label)
			}
		}
		return linked(ps...)
	})
}

// pollEvery is how often the tests look; short, since several durations
// are measured by polling.
const pollEvery = 5 * time.Millisecond

// waitFor polls cond until it holds and returns how long that took. If it
// does not hold within limit, the test fails, naming what it waited for.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: did not happen within %v", what, limit)
		}
		time.Sleep(pollEvery)
	}
	return time.Since(start)
}

// waitExit waits up to limit for the process to exit; it reports how long
// after since it exited, and its exit status (-1 for a signal).
func (p *proc) waitExit(limit time.Duration, since time.Time) (took time.Duration, code int, ok bool) {
	select {
	case <-p.done:
		return p.exitAt.Sub(since), p.cmd.ProcessState.ExitCode(), true
	case <-time.After(limit):
		return time.Since(since), 0, false
	}
}

// runCLI runs a short command of the binary (check, version, ...) in dir
// with env as its whole environment, and returns its output and exit status.
func runCLI(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("clooster %s: %v", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("clooster %s: still running after 10 s", strings.Join(args, " "))
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// checkNoSecrets fails the test if text (named what) contains one of the
// secrets; the message names the secret, never shows it.
func checkNoSecrets(t testing.TB, what, text string, secrets []secret) {
	t.Helper()
	for _, s := range secrets {
		if s.value != "" && strings.Contains(text, s.value) {
			t.Errorf("%s contains the %s", what, s.name)
		}
	}
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
