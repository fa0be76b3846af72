package watchdog

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clooster/clooster/internal/failover"
)

// Two nodes whose files disagree: each says so once per episode, however
// many attempts show it.

// TestNodeKeyMismatchSaidOnce: the keys differ. For a minute the client
// dials and is refused (the listener's rate limit slows it after ten);
// each node reports key_mismatch, in one log line and one push, and the
// record moves at most once.
func TestNodeKeyMismatchSaidOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, func(c *Config) {
			if c.This == "srv2" {
				c.Key = []byte("another key, of sufficient length")
			}
		})
		s1, s2 := p.start("srv1"), p.start("srv2")
		time.Sleep(time.Minute)
		synctest.Wait()

		if n := strings.Count(s1.log.String(), "rejected peer 192.0.2.1: bad proof (wrong key?)"); n < 10 {
			t.Errorf("srv1 refused srv2 %d times in a minute, want 10 at least", n)
		}
		for _, c := range []struct {
			r          *running
			name, what string
		}{
			{s1, "srv1", `"srv2" answers the handshake, but its proof does not match the key of "srv1" (from 192.0.2.1)`},
			{s2, "srv2", `srv1 says "srv2" answers the handshake, but its proof does not match the key of "srv1"`},
		} {
			st := c.r.node.Status()
			if pr := st.Link.Problem; pr == nil || pr.Kind != failover.ProblemKey || pr.What != c.what {
				t.Errorf("%s: link.problem %+v, want %s %q", c.name, pr, failover.ProblemKey, c.what)
			}
			if st.Peer.State == PeerUp {
				t.Errorf("%s: linked with a peer of another key", c.name)
			}
			checkProblemLog(t, c.name, c.r.log.String(), failover.ProblemKey, "ERROR")
			checkProblemGauges(t, c.name, c.r.node, failover.ProblemKey)
			other := map[string]string{"srv1": "srv2", "srv2": "srv1"}[c.name]
			title := fmt.Sprintf("[%s] '%s' answers, but our keys differ | ", c.name, other)
			if got := p.pushes.count(title, failover.AlertMismatch); got != 1 {
				t.Errorf("%s: %d pushes %q of event %s, want 1: %q", c.name, got, title, failover.AlertMismatch, p.pushes.get())
			}
		}
		if _, writes := p.store.get(); len(writes) > 1 || len(writes) == 1 && writes[0] != "srv2" {
			t.Errorf("writes: %q, want at most one, srv2's", writes)
		}
		p.stopAll()
	})
}

// TestServerLooksForSecondServer: both nodes are servers, each with the
// other's listener as its server.peer_address. Once peer_timeout has
// passed with no link, each says hello there as a server and is refused:
// both report role_mismatch, once. The look dials real TCP, so the test
// runs on loopback, in real time, with short timings.
func TestServerLooksForSecondServer(t *testing.T) {
	const timeout = 300 * time.Millisecond
	p := newPair(t, nil)
	lns := map[string]net.Listener{}
	for _, name := range []string{"srv1", "srv2"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[name] = ln
	}
	start := time.Now()
	nodes := map[string]*running{}
	for name, other := range map[string]string{"srv1": "srv2", "srv2": "srv1"} {
		c := p.config("srv1")
		c.This, c.Other = name, other
		c.Listener, c.PeerAddress = lns[name], lns[other].Addr().String()
		c.KeepaliveInterval, c.PeerTimeout = 100*time.Millisecond, timeout
		nodes[name] = p.startWith(c)
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !hasProblem(nodes["srv1"], failover.ProblemRole) || !hasProblem(nodes["srv2"], failover.ProblemRole) {
		select {
		case <-deadline.C:
			t.Fatalf("no role_mismatch on both within 10 s: srv1 %+v, srv2 %+v",
				nodes["srv1"].node.Status().Link.Problem, nodes["srv2"].node.Status().Link.Problem)
		case <-tick.C:
		}
	}
	for name, r := range nodes {
		pr := r.node.Status().Link.Problem
		if !strings.Contains(pr.What, "both nodes are configured as servers") {
			t.Errorf("%s: what %q", name, pr.What)
		}
		if after := pr.Since.Sub(start); after < timeout {
			t.Errorf("%s: role_mismatch %v after start, want after peer_timeout (%v)", name, after, timeout)
		}
		checkProblemLog(t, name, r.log.String(), failover.ProblemRole, "ERROR")
		checkProblemGauges(t, name, r.node, failover.ProblemRole)
		title := "[" + name + "] Both nodes have the same role | "
		if got := p.pushes.count(title, failover.AlertMismatch); got != 1 {
			t.Errorf("%s: %d pushes %q, want 1: %q", name, got, title, p.pushes.get())
		}
	}
	p.stopAll()
}

// TestClientPeerNotListening: a client whose connections are refused
// says peer_not_listening once they have been refused for max(peer_timeout,
// 30 s) with no link since start, not before; and never once it has
// linked (its peer is then stopped, not missing). A link clears it.
func TestClientPeerNotListening(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		linked  bool          // srv1 runs first, then crashes
		want    time.Duration // when it is said; 0 never
	}{
		{"never linked", 5 * time.Second, false, 30 * time.Second},
		{"never linked, peer_timeout over 30 s", 45 * time.Second, false, 45 * time.Second},
		{"linked once", 5 * time.Second, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, func(cfg *Config) { cfg.PeerTimeout = c.timeout })
				var s1 *running
				if c.linked {
					s1 = p.start("srv1")
				}
				s2 := p.start("srv2")
				if c.linked {
					waitLinked(t, s1, s2)
					p.crash(s1)
				}
				if c.want == 0 {
					time.Sleep(2 * time.Minute)
					synctest.Wait()
					if hasProblem(s2, failover.ProblemNoListener) {
						t.Errorf("peer_not_listening after a link: %+v", s2.node.Status().Link.Problem)
					}
					p.stopAll()
					return
				}
				took := waitFor(t, c.want+time.Minute, func() bool { return hasProblem(s2, failover.ProblemNoListener) })
				if took < c.want || took > c.want+redial.Max+50*time.Millisecond {
					t.Errorf("peer_not_listening after %v of refused connections, want %v (the next attempt after it)", took, c.want)
				}
				pr := s2.node.Status().Link.Problem
				if want := "srv1:4096 refuses connections: nothing listens there"; pr.What != want {
					t.Errorf("what %q, want %q", pr.What, want)
				}
				if !strings.Contains(pr.Hint, "configured as a client too") {
					t.Errorf("hint %q, want it to name the client role", pr.Hint)
				}
				time.Sleep(time.Minute) // more refused attempts
				synctest.Wait()
				checkProblemLog(t, "srv2", s2.log.String(), failover.ProblemNoListener, "WARN")
				checkProblemGauges(t, "srv2", s2.node, failover.ProblemNoListener)
				if got := p.pushes.count("[srv2] Nothing listens on the link port of 'srv1' | ", failover.AlertMismatch); got != 1 {
					t.Errorf("%d peer_not_listening pushes, want 1: %q", got, p.pushes.get())
				}

				// The server comes: the link clears it.
				p.start("srv1")
				waitFor(t, 10*time.Second, func() bool { return s2.node.Status().Peer.State == PeerUp })
				if pr := s2.node.Status().Link.Problem; pr != nil {
					t.Errorf("linked: link.problem %+v, want none", pr)
				}
				if !strings.Contains(s2.log.String(), "event="+failover.LogProblemCleared+" problem="+failover.ProblemNoListener) {
					t.Errorf("no %s line for %s in srv2's log", failover.LogProblemCleared, failover.ProblemNoListener)
				}
				p.stopAll()
			})
		})
	}
}

// TestDialerJudgesClosedAfterHello: a server that closes the connection
// after our hello without a word is a server of protocol version 1 once
// it has done so 3 attempts in a row; any other outcome between starts
// the count again.
func TestDialerJudgesClosedAfterHello(t *testing.T) {
	closed := fmt.Errorf("handshake: %w", errClosedAfterHello)
	other := errors.New("dial: connection reset by peer")
	key := fmt.Errorf("handshake: %w", &refusal{Kind: failover.ProblemKey, What: "srv1 says the keys differ", Told: true})
	const v = failover.ProblemVersion
	cases := []struct {
		name string
		errs []error
		want []string // the kind reported after each attempt, "" none
	}{
		{"three in a row", []error{closed, closed, closed, closed}, []string{"", "", v, v}},
		{"another failure between", []error{closed, closed, other, closed, closed}, []string{"", "", "", "", ""}},
		{"a refusal between", []error{closed, closed, key, closed, closed}, []string{"", "", failover.ProblemKey, "", ""}},
		{"a link between", []error{closed, closed, nil, closed, closed, closed}, []string{"", "", "", "", "", v}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got *refusal
			var addr string
			d := &dialer{addr: "srv1:4096", timeout: 5 * time.Second, problem: func(r *refusal, a string) { got, addr = r, a }}
			for i, err := range c.errs {
				got = nil
				d.judge(err)
				kind := ""
				if got != nil {
					kind = got.Kind
				}
				if kind != c.want[i] {
					t.Errorf("attempt %d (%v): reported %q, want %q", i+1, err, kind, c.want[i])
				}
				if kind == v {
					if want := "the server at srv1:4096 closes the connection after this node's hello without a word"; got.What != want || addr != "" {
						t.Errorf("attempt %d: what %q, address %q; want %q, none (the text names it)", i+1, got.What, addr, want)
					}
				}
			}
		})
	}
}

// TestClientMeetsVersion1Server: a real client against a server that
// reads its hello and closes without a word, as a version-1 server does.
// The client says version_mismatch after the third such attempt, not
// before, and once however many follow.
func TestClientMeetsVersion1Server(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		ln := p.net.listen()
		var hellos atomic.Int32
		up := websocket.Upgrader{}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			if mt, b, err := ws.ReadMessage(); err == nil && mt == websocket.BinaryMessage && len(b) > 2 &&
				b[0] == protoVersion && frameType(b[1]) == frameHello {
				hellos.Add(1)
			}
			ws.NetConn().Close()
		})}
		served := make(chan struct{})
		go func() { defer close(served); srv.Serve(tls.NewListener(ln, p.stls)) }()
		s2 := p.start("srv2")

		for step := 0; hellos.Load() < 10; step++ {
			if step > 10000 {
				t.Fatalf("%d hellos in %d ms, want 10", hellos.Load(), step)
			}
			synctest.Wait()
			n := hellos.Load()
			if said := hasProblem(s2, failover.ProblemVersion); said != (n >= 3) {
				t.Fatalf("after %d attempts: version_mismatch said %v, want %v", n, said, n >= 3)
			}
			time.Sleep(time.Millisecond)
		}
		pr := s2.node.Status().Link.Problem
		if want := "the server at srv1:4096 closes the connection after this node's hello without a word"; pr.What != want {
			t.Errorf("what %q, want %q", pr.What, want)
		}
		checkProblemLog(t, "srv2", s2.log.String(), failover.ProblemVersion, "ERROR")
		if got := p.pushes.count("[srv2] 'srv1' speaks another link protocol version | ", failover.AlertMismatch); got != 1 {
			t.Errorf("%d version pushes after %d attempts, want 1: %q", got, hellos.Load(), p.pushes.get())
		}
		p.stopAll()
		srv.Close()
		<-served
	})
}

// hasProblem reports whether r's status lists a problem of kind.
func hasProblem(r *running, kind string) bool {
	for _, pr := range r.node.Status().Link.Problems {
		if pr.Kind == kind {
			return true
		}
	}
	return false
}

// checkProblemLog checks that log has one line of event=kind, at level.
func checkProblemLog(t *testing.T, name, log, kind, level string) {
	t.Helper()
	event := regexp.MustCompile(`(^| )event=` + kind + `( |$)`)
	var lines []string
	for line := range strings.Lines(log) {
		if event.MatchString(line) {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], " level="+level+" ") {
		t.Errorf("%s: log lines of event=%s: %q, want one at level %s", name, kind, lines, level)
	}
}

// checkProblemGauges checks n's clooster_link_problem gauges: 1 for kind,
// 0 for every other kind.
func checkProblemGauges(t *testing.T, name string, n *Node, kind string) {
	t.Helper()
	rec := httptest.NewRecorder()
	StatusHandler(n, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	page := rec.Body.String()
	for _, k := range failover.ProblemKinds {
		want := 0
		if k == kind {
			want = 1
		}
		line := fmt.Sprintf("clooster_link_problem{problem=%q} %d\n", k, want)
		if !strings.Contains(page, line) {
			t.Errorf("%s: /metrics lacks %q", name, line)
		}
	}
}

// count counts the pushes that start with prefix, of event.
func (p *pushes) count(prefix, event string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for i, l := range p.l {
		if strings.HasPrefix(l, prefix) && p.events[i] == event {
			n++
		}
	}
	return n
}
