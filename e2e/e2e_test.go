//go:build unix

package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakepb"
	"github.com/clooster/clooster/internal/pairtest"
)

// downTitle starts the push the survivor sends when it takes over.
func downTitle(this, other string) string {
	return "[" + this + "] Server '" + other + "' is now down ("
}

// TestCrashFailover: kill -9 of the active node. Its sockets close with it,
// so the survivor learns of the crash from the closed link, not from the
// timeout (fastTiming's peer_timeout, 1.5 s, is longer than the 1 s allowed).
func TestCrashFailover(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, fastTiming)
	a, b := bin.StartPair(t, p)

	killed := a.Kill(t)
	pairtest.WaitFor(t, 5*time.Second, "record repointed to srv2", func() bool { return p.F.Content() == srv2 })
	took := p.F.CF.Writes()[0].At.Sub(killed)
	t.Logf("kill -9 of srv1 → record repointed to srv2 in %d ms", took.Milliseconds())
	if took >= time.Second {
		t.Errorf("kill -9 → record repointed in %v, want < 1s", took.Round(time.Millisecond))
	}

	pairtest.WaitFor(t, 5*time.Second, "push from srv2", func() bool { return len(p.F.PB.Pushes()) > 0 })
	time.Sleep(time.Second) // room for a stray write or push
	if got, want := p.F.WriteContents(), []string{srv2}; !slices.Equal(got, want) {
		t.Errorf("record writes: got %q, want %q", got, want)
	}
	titles := p.F.PushTitles()
	if len(titles) != 1 || !strings.HasPrefix(titles[0], downTitle(srv2, srv1)) {
		t.Errorf("pushes: got %q, want one starting %q", titles, downTitle(srv2, srv1))
	}
	if b.Exited() {
		t.Errorf("srv2 exited after its peer crashed")
	}
}

// TestHangFailoverNoFight: SIGSTOP of the active node. The survivor hears
// nothing for peer_timeout and takes over. After SIGCONT the resumed node
// must not take the broken link for its peer's failure (it was the one
// frozen: Behaviour rule 3) and write the record back at once; it fails back
// only once the link has been up for failback_delay (rule 4), and announces
// no failure of its peer. fastTiming: peer_timeout 1.5 s, failback_delay 3 s.
//
// Most cases resume the node as soon as the record is repointed: frozen for
// about peer_timeout, less the time since its last keepalive, which depends
// on the phase of its keepalive timer against its peer's; several pairs in
// parallel cover several phases. The last case stays frozen for
// peer_timeout + 1 s, clearly longer than peer_timeout.
func TestHangFailoverNoFight(t *testing.T) {
	e2eTest(t)
	tm := fastTiming
	cases := []struct {
		name   string
		frozen time.Duration // at least, from SIGSTOP to SIGCONT
	}{
		{"resumed on repoint 1", 0},
		{"resumed on repoint 2", 0},
		{"resumed on repoint 3", 0},
		{"resumed on repoint 4", 0},
		{"resumed on repoint 5", 0},
		{"frozen peer_timeout+1s", tm.PeerTimeout + time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e2eTest(t)
			p := pairtest.NewPair(t, tm)
			a, b := bin.StartPair(t, p)

			stopped := a.Signal(t, syscall.SIGSTOP)
			pairtest.WaitFor(t, tm.PeerTimeout+5*time.Second, "record repointed to srv2", func() bool { return p.F.Content() == srv2 })
			took := p.F.CF.Writes()[0].At.Sub(stopped)
			t.Logf("SIGSTOP of srv1 → record repointed to srv2 in %.2f s (peer_timeout %v)", took.Seconds(), tm.PeerTimeout)
			if took > tm.PeerTimeout+time.Second {
				t.Errorf("SIGSTOP → record repointed in %v, want within peer_timeout + 1s = %v", took.Round(time.Millisecond), tm.PeerTimeout+time.Second)
			}

			time.Sleep(time.Until(stopped.Add(c.frozen)))
			resumed := a.Signal(t, syscall.SIGCONT)
			frozen := resumed.Sub(stopped).Round(time.Millisecond)
			relink := pairtest.WaitLinked(t, 10*time.Second, a, b)
			t.Logf("SIGCONT of srv1 after %v frozen → linked again in %d ms", frozen, relink.Milliseconds())

			pairtest.WaitFor(t, tm.FailbackDelay+10*time.Second, "failback to srv1", func() bool { return p.F.Content() == srv1 })
			back := p.F.CF.Writes()[1].At.Sub(resumed)
			t.Logf("SIGCONT of srv1 → record back to srv1 in %.2f s (failback_delay %v)", back.Seconds(), tm.FailbackDelay)
			if back < tm.FailbackDelay {
				t.Errorf("srv1, frozen %v, wrote the record %v after SIGCONT, before failback_delay (%v): it took its own freeze for its peer's failure",
					frozen, back.Round(time.Millisecond), tm.FailbackDelay)
			}
			if limit := relink + tm.FailbackDelay + time.Second; back > limit {
				t.Errorf("SIGCONT → failback in %v, want within relink + failback_delay + 1s = %v", back.Round(time.Millisecond), limit.Round(time.Millisecond))
			}

			time.Sleep(tm.PeerTimeout) // room for a fight
			if got, want := p.F.WriteContents(), []string{srv2, srv1}; !slices.Equal(got, want) {
				t.Errorf("record writes: got %q, want %q", got, want)
			}
			if n := p.F.PushesWith(downTitle(srv1, srv2)); n != 0 {
				t.Errorf("srv1, frozen %v, announced its peer down: pushes %q, want none starting %q", frozen, p.F.PushTitles(), downTitle(srv1, srv2))
			}
			if !pairtest.Linked(a, b) {
				t.Errorf("srv1 and srv2 are not linked %v after the failback", tm.PeerTimeout)
			}
		})
	}
}

// TestRestartFailback: the crashed preferred node comes back; the record
// returns to it once the link has been up for failback_delay (3 s here).
// The failback is timed from the link's return as the restarted node
// reports it: how long the process takes to start, which a loaded machine
// stretches, is not the subject.
func TestRestartFailback(t *testing.T) {
	e2eTest(t)
	tm := fastTiming
	p := pairtest.NewPair(t, tm)
	a, b := bin.StartPair(t, p)

	a.Kill(t)
	pairtest.WaitFor(t, 5*time.Second, "record repointed to srv2", func() bool { return p.F.Content() == srv2 })

	restarted := time.Now()
	again := p.Srv1
	again.Label = "srv1 (restarted)"
	a2 := bin.StartNode(t, again)
	pairtest.WaitLinked(t, 10*time.Second, a2, b)
	st, err := a2.Status()
	if err != nil {
		t.Fatal(err)
	}
	up := st.Peer.Since
	pairtest.WaitFor(t, tm.FailbackDelay+10*time.Second, "failback to srv1", func() bool { return p.F.Content() == srv1 })
	back := p.F.CF.Writes()[1].At.Sub(up)
	t.Logf("restart of srv1 → linked in %d ms → failback to srv1 %.2f s later (failback_delay %v)",
		up.Sub(restarted).Milliseconds(), back.Seconds(), tm.FailbackDelay)
	if back > tm.FailbackDelay+time.Second {
		t.Errorf("link up → failback in %v, want within failback_delay + 1s = %v", back.Round(time.Millisecond), tm.FailbackDelay+time.Second)
	}
	if back < tm.FailbackDelay {
		t.Errorf("link up → failback in %v, before the link had been up for failback_delay (%v)", back.Round(time.Millisecond), tm.FailbackDelay)
	}

	time.Sleep(tm.PeerTimeout) // room for a stray write
	if got, want := p.F.WriteContents(), []string{srv2, srv1}; !slices.Equal(got, want) {
		t.Errorf("record writes: got %q, want %q", got, want)
	}
	if !pairtest.Linked(a2, b) {
		t.Errorf("restarted srv1 and srv2 are not linked")
	}
}

// TestAPIFaultsDuringFailover: the API answers the survivor's first
// requests with 500 three times, then 429 with Retry-After: 1. The takeover
// is delayed, honours Retry-After, completes, and is announced as delayed
// (Behaviour rules 5 and 6). failback_delay is the default 30 s so that no
// failback read takes one of the injected faults.
func TestAPIFaultsDuringFailover(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, noFailback)
	a, b := bin.StartPair(t, p)

	before := len(p.F.CF.Requests())
	p.F.CF.FailNext(3, http.StatusInternalServerError)
	p.F.CF.RateLimitNext(1, time.Second)
	killed := a.Kill(t)

	pairtest.WaitFor(t, 20*time.Second, "record repointed to srv2 despite the faults", func() bool { return p.F.Content() == srv2 })
	took := p.F.CF.Writes()[0].At.Sub(killed)
	t.Logf("kill -9 of srv1 → record repointed through 3 × 500 and a 429 in %.2f s", took.Seconds())
	if took < time.Second {
		t.Errorf("repointed %v after the kill, want >= 1s (a 429 with Retry-After: 1 came first)", took.Round(time.Millisecond))
	}

	reqs := p.F.CF.Requests()[before:]
	var statuses []int
	for _, r := range reqs {
		statuses = append(statuses, r.Status)
	}
	if len(statuses) < 4 || !slices.Equal(statuses[:4], []int{500, 500, 500, 429}) {
		t.Fatalf("API answers after the kill: got %v, want 500, 500, 500, 429 first", statuses)
	}
	if len(reqs) > 4 {
		if gap := reqs[4].At.Sub(reqs[3].At); gap < time.Second {
			t.Errorf("request after the 429 came %v later, want >= 1s (Retry-After: 1)", gap.Round(time.Millisecond))
		}
	}

	const wentWrong, delayed = "something went wrong", "record update delayed"
	pairtest.WaitFor(t, 10*time.Second, "pushes about the failed and the delayed update", func() bool {
		return p.F.PushesWith(wentWrong) > 0 && p.F.PushesWith(delayed) > 0
	})
	time.Sleep(500 * time.Millisecond) // room for a duplicate
	titles := p.F.PushTitles()
	if p.F.PushesWith(wentWrong) != 1 || p.F.PushesWith(delayed) != 1 {
		t.Errorf("pushes: got %q, want one with %q and one with %q", titles, wentWrong, delayed)
	}
	for _, title := range titles {
		if !strings.HasPrefix(title, downTitle(srv2, srv1)) {
			t.Errorf("push %q: want it from the survivor, starting %q", title, downTitle(srv2, srv1))
		}
	}
	if got, want := p.F.WriteContents(), []string{srv2}; !slices.Equal(got, want) {
		t.Errorf("record writes: got %q, want %q", got, want)
	}

	if b.Exited() {
		t.Fatalf("srv2 exited during the API faults")
	}
	if body, err := b.Get("/healthz"); err != nil || strings.TrimSpace(body) != "ok" {
		t.Errorf("srv2 GET /healthz: got %q (%v), want 200 ok", body, err)
	}
	for _, push := range p.F.PB.Pushes() {
		pairtest.CheckNoSecrets(t, "push "+strconv.Quote(push.Title), push.Title+"\n"+push.Body, p.Srv2.Secrets())
	}
}

// TestIntruderRejected: a third process with the peer's names but a wrong
// key keeps dialling srv1. It is rejected and logged, and never disturbs
// the pair's link or record (Behaviour rule 2). It has stand-ins of its own,
// where its lone takeover goes unnoticed.
func TestIntruderRejected(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, noFailback)
	a, b := bin.StartPair(t, p)
	since := map[*pairtest.Proc]time.Time{}
	for _, n := range []*pairtest.Proc{a, b} {
		st, err := n.Status()
		if err != nil {
			t.Fatal(err)
		}
		since[n] = st.Peer.Since
	}

	intruder := pairtest.Node{Label: "intruder", This: srv2, Other: srv1, Role: "client", Address: "127.0.0.1", Port: p.Srv1.Port,
		Key: pairtest.NewSecret("wrong-key-"), Status: pairtest.Loopback(pairtest.FreePort(t)), Fakes: pairtest.NewFakes(t), Timing: noFailback,
		LogLevel: "debug"}
	x := bin.StartNode(t, intruder)
	start := time.Now()
	const rejected = "rejected peer 127.0.0.1: "
	// Watch the pair for 3 s, and until srv1 has rejected the intruder twice.
	for time.Since(start) < 3*time.Second || strings.Count(a.Log(), rejected) < 2 {
		if time.Since(start) > 15*time.Second {
			break
		}
		for _, n := range []*pairtest.Proc{a, b} {
			st, err := n.Status()
			if err != nil {
				t.Fatalf("%s: %v", n.Label, err)
			}
			if st.Peer.State != "up" || !st.Peer.Since.Equal(since[n]) {
				t.Fatalf("%s, %v after the intruder started: peer %s since %v, want up since %v",
					n.Label, time.Since(start).Round(time.Millisecond), st.Peer.State, st.Peer.Since, since[n])
			}
		}
		time.Sleep(50 * time.Millisecond)
	}

	n := strings.Count(a.Log(), rejected)
	t.Logf("srv1 logged %d %q lines in %.1f s; the pair's link stayed up", n, rejected, time.Since(start).Seconds())
	if n == 0 {
		t.Errorf("srv1's log has no %q line", rejected)
	}
	if got := p.F.WriteContents(); len(got) != 0 {
		t.Errorf("pair's record writes: got %q, want none", got)
	}
	if got := p.F.PushTitles(); len(got) != 0 {
		t.Errorf("pair's pushes: got %q, want none", got)
	}
	if st, err := x.Status(); err != nil || st.Peer.State == "up" {
		t.Errorf("intruder: peer state %q (%v), want never up", st.Peer.State, err)
	}
}

// TestSIGTERMExitsCleanly: SIGTERM of either node, linked or alone, ends it
// within 2 s with status 0 (Behaviour rule 7). Where the active srv1 is
// stopped while linked, handover_on_stop is off: the handover it enables may
// take up to 5 s, and is not this test's subject.
func TestSIGTERMExitsCleanly(t *testing.T) {
	e2eTest(t)
	for _, order := range [][]string{{"srv1", "srv2"}, {"srv2", "srv1"}} {
		t.Run(strings.Join(order, " then "), func(t *testing.T) {
			e2eTest(t)
			p := pairtest.NewPair(t, fastTiming)
			if order[0] == "srv1" {
				p.Srv1.Extra = pairtest.Obj{{Key: "handover_on_stop", Val: false}}
			}
			a, b := bin.StartPair(t, p)
			procs := map[string]*pairtest.Proc{"srv1": a, "srv2": b}
			for i, name := range order {
				n := procs[name]
				state := "linked"
				if i > 0 {
					state = "alone"
				}
				sent := n.Signal(t, syscall.SIGTERM)
				took, code, ok := n.WaitExit(10*time.Second, sent)
				if !ok {
					t.Fatalf("%s (%s): still running %v after SIGTERM, want exit within 2s", name, state, took.Round(time.Millisecond))
				}
				t.Logf("SIGTERM of %s (%s) → exit status %d in %d ms", name, state, code, took.Milliseconds())
				if took > 2*time.Second {
					t.Errorf("%s (%s): exited %v after SIGTERM, want within 2s", name, state, took.Round(time.Millisecond))
				}
				if code != 0 {
					t.Errorf("%s (%s): exit status after SIGTERM: got %d, want 0", name, state, code)
				}
			}
		})
	}
}

// TestOriginalConfig: the original tool's example configuration, unchanged,
// passes check; a server and a client configuration made from it as its
// users made them (names swapped, the client block uncommented and the
// server block commented out, as the file's own comment says) run a pair
// that fails over. The file keeps the original shape: where to listen and
// which APIs to use come from CLOOSTER_* variables. clooster's defaults
// apply: keepalive 250 ms, peer_timeout 2 s, failback_delay 30 s.
func TestOriginalConfig(t *testing.T) {
	e2eTest(t)
	example, err := os.ReadFile(filepath.Join("testdata", "clooster.json.example"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		key     = "fancy_key"
		cfKey   = "abcdef"
		cfMail  = "webmaster@example.com"
		pbKey   = "abcdef"
		record  = "cluster.example.com"
		origPre = "srv1.example.com"
	)
	secrets := []pairtest.Secret{{Name: "key", Value: key}, {Name: "cloudflare.key", Value: cfKey}, {Name: "pushbullet.key", Value: pbKey}}

	cf := fakecf.New()
	cf.SetLegacyAuth(cfKey, cfMail)
	rid := cf.AddRecord(cf.AddZone("example.com"), fakecf.Record{Name: record, Type: "CNAME", Content: origPre, TTL: 1})
	cfURL := pairtest.Serve(t, cf) + "/client/v4"
	pb := fakepb.New(pbKey)
	pbURL := pairtest.Serve(t, pb) + "/v2"

	// The example as it is passes check, with no environment at all.
	abs, err := filepath.Abs(filepath.Join("testdata", "clooster.json.example"))
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := bin.RunCLI(t, t.TempDir(), nil, "check", abs); code != 0 {
		t.Fatalf("clooster check on the unchanged example: exit status %d, want 0\n%s", code, stderr)
	}

	server := string(example)
	client := server
	client = replaceOnce(t, client, `"this_server": "srv1.example.com"`, `"this_server": "srv2.example.com"`)
	client = replaceOnce(t, client, `"other_server": "srv2.example.com"`, `"other_server": "srv1.example.com"`)
	client = replaceOnce(t, client,
		"    \"server\": {\n        \"port\": 4096,\n        \"backlog\": 2\n    },",
		"    #\"server\": {\n    #    \"port\": 4096,\n    #    \"backlog\": 2\n    #},")
	client = replaceOnce(t, client,
		"    #\"client\": {\n    #    \"address\": \"srv2.example.com\",\n    #    \"port\": 4096\n    #},",
		"    \"client\": {\n        \"address\": \"srv2.example.com\",\n        \"port\": 4096\n    },")

	port := strconv.Itoa(pairtest.FreePort(t))
	common := []string{
		"CLOOSTER_CLOUDFLARE_API_URL=" + cfURL,
		"CLOOSTER_PUSHBULLET_API_URL=" + pbURL,
		"CLOOSTER_LOG_LEVEL=debug",
	}
	status1, status2 := pairtest.Loopback(pairtest.FreePort(t)), pairtest.Loopback(pairtest.FreePort(t))
	env1 := append([]string{"CLOOSTER_SERVER_ADDRESS=127.0.0.1", "CLOOSTER_SERVER_PORT=" + port, "CLOOSTER_STATUS_ADDRESS=" + status1}, common...)
	env2 := append([]string{"CLOOSTER_CLIENT_ADDRESS=127.0.0.1", "CLOOSTER_CLIENT_PORT=" + port, "CLOOSTER_STATUS_ADDRESS=" + status2}, common...)

	dir := t.TempDir()
	file1, file2 := filepath.Join(dir, "srv1.json"), filepath.Join(dir, "srv2.json")
	for file, text := range map[string]string{file1: server, file2: client} {
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		file string
		env  []string
		role string
	}{{file1, env1, "server"}, {file2, env2, "client"}} {
		stdout, stderr, code := bin.RunCLI(t, dir, c.env, "check", c.file)
		if code != 0 {
			t.Fatalf("clooster check %s: exit status %d, want 0\n%s", filepath.Base(c.file), code, stderr)
		}
		pairtest.CheckNoSecrets(t, "clooster check "+filepath.Base(c.file), stdout+stderr, secrets)
		var eff struct {
			Role string `json:"role"`
		}
		if err := json.Unmarshal([]byte(stdout), &eff); err != nil || eff.Role != c.role {
			t.Errorf("clooster check %s: role %q (%v), want %q", filepath.Base(c.file), eff.Role, err, c.role)
		}
	}

	a := bin.Start(t, pairtest.Cmd{Label: "srv1 (original format)", Status: status1, Secrets: secrets, Dir: dir, Env: env1, Args: []string{file1}})
	b := bin.Start(t, pairtest.Cmd{Label: "srv2 (original format)", Status: status2, Secrets: secrets, Dir: dir, Env: env2, Args: []string{file2}})
	pairtest.WaitLinked(t, 10*time.Second, a, b)
	killed := a.Kill(t)
	pairtest.WaitFor(t, 10*time.Second, "record repointed to srv2", func() bool { return cf.Record(rid).Content == srv2 })
	t.Logf("original format: kill -9 of srv1 → record repointed in %d ms", cf.Writes()[0].At.Sub(killed).Milliseconds())
	if n := len(cf.Writes()); n != 1 {
		t.Errorf("record writes: got %d, want 1", n)
	}
	for _, r := range cf.Requests() {
		if r.Auth != "key" {
			t.Errorf("%s %s: credentials %q, want the legacy key and mail", r.Method, r.Path, r.Auth)
		}
	}
	pairtest.WaitFor(t, 5*time.Second, "push from srv2", func() bool { return len(pb.Pushes()) > 0 })
	if title := pb.Pushes()[0].Title; !strings.HasPrefix(title, downTitle(srv2, srv1)) {
		t.Errorf("push: got %q, want it to start %q", title, downTitle(srv2, srv1))
	}
}

// replaceOnce replaces old, which must occur exactly once in s.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times in the example, want once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// TestLogsHoldNoSecret: debug logging, a takeover that meets an auth error
// from Cloudflare (the token has been revoked) and a push that Pushbullet
// refuses: neither the shared key, nor the Cloudflare token, nor the
// Pushbullet key reaches any output (Behaviour rule 9), nor the status
// listener's answers. Every other test checks its processes' output in the
// same way when it ends.
func TestLogsHoldNoSecret(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, noFailback)
	for _, n := range []pairtest.Node{p.Srv1, p.Srv2} {
		stdout, stderr, code := bin.RunCLI(t, t.TempDir(), nil, "check", n.WriteConfig(t))
		if code != 0 {
			t.Fatalf("clooster check (%s): exit status %d, want 0\n%s", n.Label, code, stderr)
		}
		pairtest.CheckNoSecrets(t, "clooster check ("+n.Label+")", stdout+stderr, n.Secrets())
	}
	a, b := bin.StartPair(t, p)
	for _, n := range []*pairtest.Proc{a, b} {
		for _, path := range []string{"/status", "/metrics"} {
			body, err := n.Get(path)
			if err != nil {
				t.Fatalf("%s: %v", n.Label, err)
			}
			pairtest.CheckNoSecrets(t, n.Label+" GET "+path, body, p.Srv1.Secrets())
		}
	}

	p.F.CF.SetToken(pairtest.NewSecret("cf-rotated-"))
	p.F.PB.FailNext(1000, http.StatusUnauthorized)
	a.Kill(t)
	pairtest.WaitFor(t, 10*time.Second, "the takeover's auth error and the refused push", func() bool {
		return p.F.CF.Stats().Failures[http.StatusForbidden] > 0 && p.F.PB.Stats().Rejected[http.StatusUnauthorized] > 0
	})
	time.Sleep(300 * time.Millisecond) // let the failures reach the log
	if body, err := b.Get("/metrics"); err != nil || !regexp.MustCompile(`clooster_dns_api_failures_total\{kind="auth"\} [1-9]`).MatchString(body) {
		t.Errorf("srv2's /metrics does not count the refused credentials (%v):\n%s", err, body)
	}
	sent := b.Signal(t, syscall.SIGTERM)
	if _, _, ok := b.WaitExit(5*time.Second, sent); !ok {
		t.Errorf("srv2 still running 5 s after SIGTERM")
	}

	// The scenario ran as meant: debug lines, and both refusals reported.
	for _, want := range []string{"level=DEBUG", "403", "401"} {
		if !strings.Contains(b.Log(), want) {
			t.Errorf("srv2's log has no %q", want)
		}
	}
	pairtest.CheckNoSecrets(t, "srv1's log", a.Log(), p.Srv1.Secrets())
	pairtest.CheckNoSecrets(t, "srv2's log", b.Log(), p.Srv2.Secrets())
}

// TestEnvironmentOnly: a node configured by CLOOSTER_* variables alone (no
// file, an empty working directory, the key read from CLOOSTER_KEY_FILE)
// links with a peer configured by a file.
func TestEnvironmentOnly(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, fastTiming)
	n, f := p.Srv2, p.F
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(n.Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"CLOOSTER_THIS_SERVER=" + srv2,
		"CLOOSTER_OTHER_SERVER=" + srv1,
		"CLOOSTER_KEY_FILE=" + keyFile,
		"CLOOSTER_CLIENT_ADDRESS=127.0.0.1",
		"CLOOSTER_CLIENT_PORT=" + strconv.Itoa(n.Port),
		"CLOOSTER_KEEPALIVE_INTERVAL=" + n.Timing.Keepalive.String(),
		"CLOOSTER_PEER_TIMEOUT=" + n.Timing.PeerTimeout.String(),
		"CLOOSTER_FAILBACK_DELAY=" + n.Timing.FailbackDelay.String(),
		"CLOOSTER_STATUS_ADDRESS=" + n.Status,
		"CLOOSTER_CLOUDFLARE_TOKEN=" + f.CFToken,
		"CLOOSTER_CLOUDFLARE_ZONE=" + pairtest.Zone,
		"CLOOSTER_CLOUDFLARE_RECORD=" + pairtest.Record,
		"CLOOSTER_CLOUDFLARE_PREFERRED_VALUE=" + srv1,
		"CLOOSTER_CLOUDFLARE_API_URL=" + f.CloudflareURL(),
		"CLOOSTER_PUSHBULLET_KEY=" + f.PBKey,
		"CLOOSTER_PUSHBULLET_API_URL=" + f.PushbulletURL(),
		"CLOOSTER_LOG_LEVEL=debug",
	}
	empty := t.TempDir()

	stdout, stderr, code := bin.RunCLI(t, empty, env, "check")
	if code != 0 {
		t.Fatalf("clooster check from the environment: exit status %d, want 0\n%s", code, stderr)
	}
	pairtest.CheckNoSecrets(t, "clooster check from the environment", stdout+stderr, n.Secrets())
	var eff struct {
		ThisServer string `json:"this_server"`
		Role       string `json:"role"`
	}
	if err := json.Unmarshal([]byte(stdout), &eff); err != nil || eff.ThisServer != srv2 || eff.Role != "client" {
		t.Errorf("clooster check from the environment: this_server %q, role %q (%v), want %q, client", eff.ThisServer, eff.Role, err, srv2)
	}

	a := bin.StartNode(t, p.Srv1)
	b := bin.Start(t, pairtest.Cmd{Label: "srv2 (environment only)", Status: n.Status, Secrets: n.Secrets(), Dir: empty, Env: env})
	took := pairtest.WaitLinked(t, 10*time.Second, a, b)
	t.Logf("file-configured srv1 and environment-configured srv2 linked in %d ms", took.Milliseconds())
	st, err := b.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != srv2 || st.Role != "client" || st.Peer.Name != srv1 || st.Record.Name != pairtest.Record || st.Record.Content != srv1 {
		t.Errorf("srv2 status: node %q, role %q, peer %q, record %q → %q; want %q, client, %q, %q → %q",
			st.Node, st.Role, st.Peer.Name, st.Record.Name, st.Record.Content, srv2, srv1, pairtest.Record, srv1)
	}
}

// TestCloudflareLibraryVariablesIgnored: the Cloudflare library's own
// variables, set to wrong credentials and to an API base that counts every
// request it gets, change nothing: both nodes read, and the survivor
// writes, through their configured api_url and token.
func TestCloudflareLibraryVariablesIgnored(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, fastTiming)
	var strayHits atomic.Int64
	strayURL := pairtest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		strayHits.Add(1)
		http.Error(w, "not the configured API", http.StatusInternalServerError)
	}))
	stray := []string{
		"CLOUDFLARE_API_TOKEN=wrong",
		"CLOUDFLARE_API_KEY=wrong",
		"CLOUDFLARE_EMAIL=wrong@example.org",
		"CLOUDFLARE_API_EMAIL=wrong@example.org",
		"CLOUDFLARE_API_USER_SERVICE_KEY=wrong",
		"CLOUDFLARE_ACCOUNT_ID=wrong",
		"CLOUDFLARE_ZONE_ID=wrong",
		"CLOUDFLARE_BASE_URL=" + strayURL,
		"CLOUDFLARE_API_BASE_URL=" + strayURL,
		"CLOUDFLARE_API_URL=" + strayURL,
		"CF_API_TOKEN=wrong",
		"CF_API_KEY=wrong",
		"CF_API_EMAIL=wrong@example.org",
		"CF_ZONE_ID=wrong",
	}

	stdout, stderr, code := bin.RunCLI(t, t.TempDir(), stray, "check", p.Srv2.WriteConfig(t))
	if code != 0 {
		t.Fatalf("clooster check with CLOUDFLARE_* set: exit status %d, want 0\n%s", code, stderr)
	}
	var eff struct {
		Cloudflare struct {
			APIURL string `json:"api_url"`
		} `json:"cloudflare"`
	}
	if err := json.Unmarshal([]byte(stdout), &eff); err != nil || eff.Cloudflare.APIURL != p.F.CloudflareURL() {
		t.Errorf("clooster check with CLOUDFLARE_* set: cloudflare.api_url %q (%v), want %q", eff.Cloudflare.APIURL, err, p.F.CloudflareURL())
	}

	a := bin.StartNode(t, p.Srv1, stray...)
	b := bin.StartNode(t, p.Srv2, stray...)
	pairtest.WaitLinked(t, 10*time.Second, a, b)
	a.Kill(t)
	pairtest.WaitFor(t, 5*time.Second, "record repointed to srv2", func() bool { return p.F.Content() == srv2 })

	if n := strayHits.Load(); n != 0 {
		t.Errorf("requests to CLOUDFLARE_BASE_URL: got %d, want 0", n)
	}
	reqs := p.F.CF.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the configured API")
	}
	for _, r := range reqs {
		if r.Auth != "token" || r.Status != http.StatusOK {
			t.Errorf("%s %s: credentials %q, status %d; want the configured token, 200", r.Method, r.Path, r.Auth, r.Status)
		}
	}
	if got, want := p.F.WriteContents(), []string{srv2}; !slices.Equal(got, want) {
		t.Errorf("record writes: got %q, want %q", got, want)
	}
	if b.Exited() {
		t.Errorf("srv2 exited")
	}
}
