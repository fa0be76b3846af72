//go:build unix

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clooster/clooster/internal/agree"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/pairtest"
	"github.com/clooster/clooster/watchdog"
)

// mismatchSoak is how long TestKeyMismatch watches two nodes whose keys
// differ, attempting the link again and again.
var mismatchSoak = flag.Duration("mismatch-soak", 60*time.Second,
	"how long TestKeyMismatch watches a pair whose keys differ")

// The titles of the mismatch pushes, after "[node] " (failover's
// problemTitle).
const (
	titleKey      = "'%s' answers, but our keys differ"
	titleName     = "'%s' answers, but our names do not match"
	titleSameName = "Both nodes are named '%s'"
	titleRole     = "Both nodes have the same role"
	titleListen   = "Nothing listens on the link port of '%s'"
	titleVersion  = "'%s' speaks another link protocol version"
	titleSettings = "Settings differ between '%s' and '%s'"
	titleClock    = "The clocks of '%s' and '%s' differ"
	titleAPIClock = "The DNS API's clock differs from this node's"
)

// TestKeyMismatch: the two files hold different keys. Each node says so,
// the server from the client's proof, the client from the server's
// refusal; for the soak (-mismatch-soak) the client keeps dialling and is
// refused, and neither says it again: one push, one log line each. The
// nodes never link, each takes the other for down, and the record moves
// at most once: the client takes it, the server leaves it.
func TestKeyMismatch(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, fastTiming)
	p.Srv2.Key = pairtest.NewSecret("other-key-")
	a := bin.StartNode(t, p.Srv1)
	b := bin.StartNode(t, p.Srv2)

	waitProblem(t, a, 10*time.Second, failover.ProblemKey,
		`^"srv2\.example\.com" answers the handshake, but its proof does not match the key of "srv1\.example\.com" \(from 127\.0\.0\.1\)$`)
	waitProblem(t, b, 10*time.Second, failover.ProblemKey,
		`^srv1\.example\.com says "srv2\.example\.com" answers the handshake, but its proof does not match the key of "srv1\.example\.com"$`)

	start := time.Now()
	for time.Since(start) < *mismatchSoak {
		for _, n := range []*pairtest.Proc{a, b} {
			st, err := n.Status()
			if err != nil {
				t.Fatalf("%s: %v", n.Label, err)
			}
			if st.Peer.State == watchdog.PeerUp {
				t.Fatalf("%s: linked with a peer of another key", n.Label)
			}
			if st.Link.Problem == nil || st.Link.Problem.Kind != failover.ProblemKey {
				t.Fatalf("%s, %v into the soak: link.problem %+v, want %s", n.Label, time.Since(start).Round(time.Second), st.Link.Problem, failover.ProblemKey)
			}
		}
		checkWrites(t, p.F, srv2)
		for _, n := range []string{srv1, srv2} {
			if got := pushesFrom(p.F, n, fmt.Sprintf(titleKey, other(n)), ""); got > 1 {
				t.Fatalf("%s, %v into the soak: %d key mismatch pushes, want one", n, time.Since(start).Round(time.Second), got)
			}
		}
		pairtest.Sleep(t, time.Second)
	}
	t.Logf("soak of %v: srv1 refused srv2 %d times; record writes %q", *mismatchSoak,
		strings.Count(a.Log(), "rejected peer 127.0.0.1: bad proof"), p.F.WriteContents())

	checkReported(t, a, slog.LevelError, failover.ProblemKey)
	checkReported(t, b, slog.LevelError, failover.ProblemKey)
	for _, n := range []string{srv1, srv2} {
		if got := pushesFrom(p.F, n, fmt.Sprintf(titleKey, other(n)), `(?i)set the same key on both nodes`); got != 1 {
			t.Errorf("%s: %d key mismatch pushes after the soak, want 1: %q", n, got, p.F.PushTitles())
		}
	}
	checkWrites(t, p.F, srv2)
	secrets := append(p.Srv1.Secrets(), p.Srv2.Secrets()...)
	for _, push := range p.F.PB.Pushes() {
		pairtest.CheckNoSecrets(t, "push "+strconv.Quote(push.Title), push.Title+"\n"+push.Body, secrets)
	}
	pairtest.CheckNoSecrets(t, "srv1's log", a.Log(), secrets)
	pairtest.CheckNoSecrets(t, "srv2's log", b.Log(), secrets)
}

// TestNameMismatch: the client calls itself another name than the
// server's other_server, or the same name as the server (its file is a
// copy of the server's, made a client). The server refuses the client's
// hello and tells it why; both say so, naming the name seen.
func TestNameMismatch(t *testing.T) {
	e2eTest(t)
	const srv3 = "srv3.example.com"
	cases := []struct {
		name        string
		this, other string // the client's this_server and other_server
		kind        string
		title       func(node, other string) string // of node's push
		// what1 and what2 are the server's and the client's what.
		what1, what2 string
		// body1 and body2 match the two nodes' pushes' bodies, to tell
		// them apart.
		body1, body2 string
		writes       []string // the client's lone takeover, if any
	}{
		{
			name: "another name", this: srv3, other: srv1, kind: failover.ProblemName,
			title:  func(_, other string) string { return fmt.Sprintf(titleName, other) },
			what1:  `^the peer calls itself "srv3\.example\.com", but the other_server of "srv1\.example\.com" is "srv2\.example\.com" \(from 127\.0\.0\.1\)$`,
			what2:  `^srv1\.example\.com says the peer calls itself "srv3\.example\.com", but the other_server of "srv1\.example\.com" is "srv2\.example\.com"$`,
			body1:  `^the peer calls itself`,
			body2:  `^srv1\.example\.com says`,
			writes: []string{srv3},
		},
		{
			name: "the same name", this: srv1, other: srv2, kind: failover.ProblemSameName,
			title: func(node, _ string) string { return fmt.Sprintf(titleSameName, node) },
			what1: `^the peer calls itself "srv1\.example\.com" too: both nodes have the same name \(from 127\.0\.0\.1\)$`,
			what2: `^srv1\.example\.com says the peer calls itself "srv1\.example\.com" too: both nodes have the same name$`,
			body1: `^the peer calls itself`,
			body2: `^srv1\.example\.com says`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e2eTest(t)
			p := pairtest.NewPair(t, fastTiming)
			p.Srv2.This, p.Srv2.Other = c.this, c.other
			p.Srv2.Label = "client " + c.this
			a := bin.StartNode(t, p.Srv1)
			b := bin.StartNode(t, p.Srv2)
			waitProblem(t, a, 10*time.Second, c.kind, c.what1)
			waitProblem(t, b, 10*time.Second, c.kind, c.what2)
			waitRefusals(t, a, 5)

			checkReported(t, a, slog.LevelError, c.kind)
			checkReported(t, b, slog.LevelError, c.kind)
			for _, n := range []struct{ node, other, body string }{{srv1, srv2, c.body1}, {c.this, c.other, c.body2}} {
				title := c.title(n.node, n.other)
				if got := pushesFrom(p.F, n.node, title, n.body); got != 1 {
					t.Errorf("%s: %d pushes %q with %q in the body, want 1: %q", n.node, got, title, n.body, p.F.PushTitles())
				}
			}
			checkWrites(t, p.F, c.writes...)
		})
	}
}

// TestBothServers: both files say server. The nodes have IP addresses
// for names and listen on 127.0.0.1 and 127.0.0.2, at the same port, so
// that no name is resolved; each one's server.peer_address is the other's
// address. Once peer_timeout has passed with no link, each looks there,
// says hello as a server and is refused: both say role_mismatch.
func TestBothServers(t *testing.T) {
	e2eTest(t)
	const ip1, ip2 = "127.0.0.1", "127.0.0.2"
	p := pairtest.NewPair(t, fastTiming)
	p.F.CF.SetContent(p.F.RecordID, ip1)
	port := strconv.Itoa(p.Srv1.Port)
	for _, n := range []struct {
		node        *pairtest.Node
		this, other string
	}{{&p.Srv1, ip1, ip2}, {&p.Srv2, ip2, ip1}} {
		n.node.This, n.node.Other, n.node.Role, n.node.Address = n.this, n.other, "server", n.this
		n.node.PeerAddress = net.JoinHostPort(n.other, port)
		n.node.Preferred = ip1
	}
	a := bin.StartNode(t, p.Srv1)
	b := bin.StartNode(t, p.Srv2)
	both := `both nodes are configured as servers`
	// The first look is the first-started node's, a peer_timeout after its
	// start; the other hears of it then, its own peer_timeout or not.
	first := a.Started
	if b.Started.Before(first) {
		first = b.Started
	}
	for _, n := range []*pairtest.Proc{a, b} {
		got := waitProblem(t, n, 10*time.Second, failover.ProblemRole, both)
		if after := got.Since.Sub(first); after < fastTiming.PeerTimeout {
			t.Errorf("%s: role_mismatch %v after the first start, want after peer_timeout (%v): a node looks only then", n.Label, after, fastTiming.PeerTimeout)
		}
		if !strings.Contains(got.Hint, "one node must be the server") {
			t.Errorf("%s: hint %q", n.Label, got.Hint)
		}
	}
	pairtest.Sleep(t, 2*time.Second) // room for a second push
	checkReported(t, a, slog.LevelError, failover.ProblemRole)
	checkReported(t, b, slog.LevelError, failover.ProblemRole)
	for _, n := range []string{ip1, ip2} {
		if got := pushesFrom(p.F, n, titleRole, ""); got != 1 {
			t.Errorf("%s: %d role mismatch pushes, want 1: %q", n, got, p.F.PushTitles())
		}
	}
	checkWrites(t, p.F, ip2)
}

// TestBothClients: both files say client; each dials the other's port,
// where nothing listens. After 30 s of refused connections with no link
// since start (peer_timeout is shorter), each says peer_not_listening,
// with a hint that names the client role; not before.
func TestBothClients(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, fastTiming)
	p.Srv1.Role = "client"
	p.Srv1.Port, p.Srv2.Port = pairtest.FreePort(t), pairtest.FreePort(t)
	a := bin.StartNode(t, p.Srv1)
	b := bin.StartNode(t, p.Srv2)
	for _, n := range []*pairtest.Proc{a, b} {
		got := waitProblem(t, n, 45*time.Second, failover.ProblemNoListener, `^127\.0\.0\.1:[0-9]+ refuses connections: nothing listens there$`)
		after := got.Since.Sub(n.Started)
		t.Logf("%s: peer_not_listening %.1f s after start", n.Label, after.Seconds())
		if after < 30*time.Second {
			t.Errorf("%s: peer_not_listening %v after start, want 30 s at least", n.Label, after.Round(time.Millisecond))
		}
		if !strings.Contains(got.Hint, "configured as a client too") {
			t.Errorf("%s: hint %q, want it to name the client role", n.Label, got.Hint)
		}
	}
	pairtest.Sleep(t, 2*time.Second) // a few more refused attempts
	checkReported(t, a, slog.LevelWarn, failover.ProblemNoListener)
	checkReported(t, b, slog.LevelWarn, failover.ProblemNoListener)
	for _, n := range []string{srv1, srv2} {
		if got := pushesFrom(p.F, n, fmt.Sprintf(titleListen, other(n)), ""); got != 1 {
			t.Errorf("%s: %d peer_not_listening pushes, want 1: %q", n, got, p.F.PushTitles())
		}
	}
	checkWrites(t, p.F, srv2)
}

// TestVersionMismatch: the peer speaks link protocol version 1. A
// version-1 client's HELLO is refused at once, with a BYE that says why;
// a version-1 server, which closes the connection after our HELLO
// without a word, is said to be one after 3 attempts in a row.
func TestVersionMismatch(t *testing.T) {
	e2eTest(t)
	t.Run("version-1 client", func(t *testing.T) {
		e2eTest(t)
		p := pairtest.NewPair(t, fastTiming)
		a := bin.StartNode(t, p.Srv1)
		pairtest.WaitFor(t, 10*time.Second, "srv1 listening", func() bool { return strings.Contains(a.Log(), "msg=listening") })
		const attempts = 5
		for i := range attempts {
			bye := helloV1(t, pairtest.Loopback(p.Srv1.Port), srv2)
			const want = "version_mismatch: srv1.example.com says the peer speaks link protocol version 1, this node version 2"
			if bye != want {
				t.Errorf("attempt %d: the server's answer: got %q, want a BYE(refused) %q", i+1, bye, want)
			}
		}
		waitProblem(t, a, 5*time.Second, failover.ProblemVersion,
			`^the peer speaks link protocol version 1, this node version 2 \(from 127\.0\.0\.1\)$`)
		checkReported(t, a, slog.LevelError, failover.ProblemVersion)
		if got := pushesFrom(p.F, srv1, fmt.Sprintf(titleVersion, srv2), `(?i)run the same clooster version`); got != 1 {
			t.Errorf("srv1: %d version mismatch pushes after %d attempts, want 1: %q", got, attempts, p.F.PushTitles())
		}
		checkWrites(t, p.F)
	})
	t.Run("version-1 server", func(t *testing.T) {
		e2eTest(t)
		p := pairtest.NewPair(t, fastTiming)
		v1 := serveV1(t, pairtest.Loopback(p.Srv2.Port))
		b := bin.StartNode(t, p.Srv2)
		got := waitProblem(t, b, 10*time.Second, failover.ProblemVersion,
			"^the server at "+regexp.QuoteMeta(pairtest.Loopback(p.Srv2.Port))+" closes the connection after this node's hello without a word$")
		if !strings.Contains(got.Hint, "link protocol version 1") {
			t.Errorf("srv2: hint %q, want it to name version 1", got.Hint)
		}
		// Said once the server had closed after the third hello, not
		// before (one machine, one clock).
		if third, ok := v1.hello(3); !ok || got.Since.Before(third) {
			t.Errorf("srv2: version_mismatch since %v, before the server read its third hello (%v, %v)", got.Since, third, ok)
		}
		n := v1.hellos()
		pairtest.WaitFor(t, 10*time.Second, "3 more attempts", func() bool { return v1.hellos() >= n+3 })
		checkReported(t, b, slog.LevelError, failover.ProblemVersion)
		if got := pushesFrom(p.F, srv2, fmt.Sprintf(titleVersion, srv1), `older clooster`); got != 1 {
			t.Errorf("srv2: %d version mismatch pushes after %d attempts, want 1: %q", got, v1.hellos(), p.F.PushTitles())
		}
		// Nothing it could link with: it takes the record once, alone.
		checkWrites(t, p.F, srv2)
	})
}

// TestSettingsMismatch: the nodes link, and the peer's INFO shows
// settings that differ. Timings far apart are said and the link works;
// preferred values that differ are said and hold off failback: a
// failover still happens, and after the failed node's return the record
// stays where it is.
func TestSettingsMismatch(t *testing.T) {
	e2eTest(t)
	t.Run("timings far apart", func(t *testing.T) {
		e2eTest(t)
		p := pairtest.NewPair(t, fastTiming)
		p.Srv2.Timing = pairtest.Timing{Keepalive: time.Second, PeerTimeout: 6 * time.Second, FailbackDelay: fastTiming.FailbackDelay}
		a, b := bin.StartPair(t, p)
		for _, n := range []*pairtest.Proc{a, b} {
			got := waitProblem(t, n, 5*time.Second, failover.ProblemSettings, `keepalive_interval: "(250ms|1s)" \(srv[12]\.example\.com\) vs "(250ms|1s)" \(srv[12]\.example\.com\): more than 2 times apart`)
			if !strings.Contains(got.What, `peer_timeout: `) {
				t.Errorf("%s: what %q, want it to name peer_timeout", n.Label, got.What)
			}
			if st, _ := n.Status(); len(st.Link.NoFailback) != 0 {
				t.Errorf("%s: no_failback %q, want none: timings do not say where the record belongs", n.Label, st.Link.NoFailback)
			}
		}
		since := map[*pairtest.Proc]time.Time{}
		for _, n := range []*pairtest.Proc{a, b} {
			st, _ := n.Status()
			since[n] = st.Peer.Since
		}
		pairtest.Sleep(t, 3*time.Second) // several of srv2's keepalives
		for _, n := range []*pairtest.Proc{a, b} {
			if st, err := n.Status(); err != nil || st.Peer.State != watchdog.PeerUp || !st.Peer.Since.Equal(since[n]) {
				t.Errorf("%s: peer %s since %v (%v), want up since %v: the link must work", n.Label, st.Peer.State, st.Peer.Since, err, since[n])
			}
			checkReported(t, n, slog.LevelError, failover.ProblemSettings)
		}
		for _, n := range []string{srv1, srv2} {
			if got := pushesFrom(p.F, n, fmt.Sprintf(titleSettings, n, other(n)), ""); got != 1 {
				t.Errorf("%s: %d settings pushes, want 1: %q", n, got, p.F.PushTitles())
			}
		}
		checkWrites(t, p.F)
	})
	t.Run("preferred values differ", func(t *testing.T) {
		e2eTest(t)
		tm := fastTiming
		p := pairtest.NewPair(t, tm)
		p.Srv2.Preferred = srv2
		a, b := bin.StartPair(t, p)
		preferred := `cloudflare\.preferred_value: "srv[12]\.example\.com" \(srv[12]\.example\.com\) vs "srv[12]\.example\.com" \(srv[12]\.example\.com\): the nodes disagree`
		for _, n := range []*pairtest.Proc{a, b} {
			waitProblem(t, n, 5*time.Second, failover.ProblemSettings, preferred)
			if st, _ := n.Status(); len(st.Link.NoFailback) != 1 || !strings.HasPrefix(st.Link.NoFailback[0], "cloudflare.preferred_value: ") {
				t.Errorf("%s: no_failback %q, want the preferred value", n.Label, st.Link.NoFailback)
			}
			checkReported(t, n, slog.LevelError, failover.ProblemSettings)
		}

		a.Kill(t)
		pairtest.WaitFor(t, 5*time.Second, "record repointed to srv2", func() bool { return p.F.Content() == srv2 })
		p.Srv1.Label = "srv1 (restarted)"
		a = bin.StartNode(t, p.Srv1)
		pairtest.WaitLinked(t, 10*time.Second, a, b)
		waitProblem(t, a, 5*time.Second, failover.ProblemSettings, preferred)
		pairtest.Sleep(t, tm.FailbackDelay+2*time.Second)
		if got := p.F.Content(); got != srv2 {
			t.Errorf("record %q %v after the link came back, want it left on srv2 while the preferred values differ", got, tm.FailbackDelay+2*time.Second)
		}
		checkWrites(t, p.F, srv2)
		// One push per node per episode: srv2's goes on while srv1 is
		// away; the restarted srv1 starts one of its own.
		if got := pushesFrom(p.F, srv2, fmt.Sprintf(titleSettings, srv2, srv1), `no failback until they agree`); got != 1 {
			t.Errorf("srv2: %d settings pushes, want 1: %q", got, p.F.PushTitles())
		}
		if got := pushesFrom(p.F, srv1, fmt.Sprintf(titleSettings, srv1, srv2), `no failback until they agree`); got != 2 {
			t.Errorf("srv1: %d settings pushes, want 2: one before its crash, one after its restart: %q", got, p.F.PushTitles())
		}
	})
}

// TestClockSkew: a clock 5 s ahead. The peer's, as its keepalives carry
// it (an in-process node whose Config.Clock is 5 s ahead: the machine has
// one clock), is said by the node that reads them; the DNS API's, as its
// answers' Date shows it, by both nodes.
func TestClockSkew(t *testing.T) {
	e2eTest(t)
	const skew = 5 * time.Second
	t.Run("peer's clock", func(t *testing.T) {
		e2eTest(t)
		p := pairtest.NewPair(t, fastTiming)
		peer := startNode(t, watchdog.Config{
			This: srv2, Other: srv1, Key: []byte(p.Srv2.Key), Role: "client",
			DialAddr:          pairtest.Loopback(p.Srv2.Port),
			KeepaliveInterval: fastTiming.Keepalive, PeerTimeout: fastTiming.PeerTimeout, FailbackDelay: fastTiming.FailbackDelay,
			RecordName: pairtest.Record, Preferred: srv1,
			Settings: agree.Settings{Preferred: srv1},
			Store:    &memRecord{content: srv1},
			Clock:    func() time.Time { return time.Now().Add(skew) },
		})
		a := bin.StartNode(t, p.Srv1)
		pairtest.WaitFor(t, 10*time.Second, "link between srv1 and the in-process srv2", func() bool {
			return pairtest.Linked(a) && peer.Status().Peer.State == watchdog.PeerUp
		})
		got := waitProblem(t, a, 5*time.Second, failover.ProblemClock, `^the peer's clock is [0-9.]+m?s ahead of this node's \(±[0-9.]+[mµ]?s\)$`)
		if ahead := secondsIn(got.What); math.Abs(ahead-skew.Seconds()) > 0.5 {
			t.Errorf("srv1: what %q, want the peer's clock about %v ahead", got.What, skew)
		}
		pairtest.Sleep(t, 2*time.Second) // a few more keepalives
		checkReported(t, a, slog.LevelWarn, failover.ProblemClock)
		ms := metricsOf(t, a)
		if v, ok := ms[`clooster_clock_offset_seconds{clock="peer"}`]; !ok || math.Abs(v-skew.Seconds()) > 0.5 {
			t.Errorf("srv1: clooster_clock_offset_seconds{clock=\"peer\"} = %v (present %v), want about %v", v, ok, skew.Seconds())
		}
		if got := pushesFrom(p.F, srv1, fmt.Sprintf(titleClock, srv1, srv2), `(?i)run NTP \(`); got != 1 {
			t.Errorf("srv1: %d clock pushes, want 1: %q", got, p.F.PushTitles())
		}
		if st, err := a.Status(); err != nil || st.Peer.State != watchdog.PeerUp {
			t.Errorf("srv1: peer %s (%v), want up: a clock apart does not break the link", st.Peer.State, err)
		}
		checkWrites(t, p.F)
	})
	t.Run("DNS API's clock", func(t *testing.T) {
		e2eTest(t)
		p := pairtest.NewPair(t, fastTiming)
		p.F.CF.SetClockSkew(skew)
		a, b := bin.StartPair(t, p)
		for _, n := range []*pairtest.Proc{a, b} {
			got := waitProblem(t, n, 5*time.Second, failover.ProblemAPIClock, `^the DNS API's clock is [0-9.]+m?s ahead of this node's \(±[0-9.]+[mµ]?s\)$`)
			// The API's Date has whole seconds.
			if ahead := secondsIn(got.What); math.Abs(ahead-skew.Seconds()) > 1.5 {
				t.Errorf("%s: what %q, want the API's clock about %v ahead", n.Label, got.What, skew)
			}
			checkReported(t, n, slog.LevelWarn, failover.ProblemAPIClock)
			ms := metricsOf(t, n)
			if v, ok := ms[`clooster_clock_offset_seconds{clock="dns_api"}`]; !ok || math.Abs(v-skew.Seconds()) > 1.5 {
				t.Errorf("%s: clooster_clock_offset_seconds{clock=\"dns_api\"} = %v (present %v), want about %v", n.Label, v, ok, skew.Seconds())
			}
		}
		// srv1's failback check reads the record again: one more
		// measurement, no second push.
		reads := p.F.CF.Stats().Reads
		pairtest.WaitFor(t, fastTiming.FailbackDelay+5*time.Second, "another read", func() bool { return p.F.CF.Stats().Reads > reads })
		pairtest.Sleep(t, 200*time.Millisecond) // room for its push
		for _, n := range []string{srv1, srv2} {
			if got := pushesFrom(p.F, n, titleAPIClock, `(?i)run NTP on this node`); got != 1 {
				t.Errorf("%s: %d API clock pushes, want 1: %q", n, got, p.F.PushTitles())
			}
		}
		if !pairtest.Linked(a, b) {
			t.Errorf("srv1 and srv2 not linked")
		}
		checkWrites(t, p.F)
	})
}

// waitProblem waits up to limit until n's /status shows a link.problem
// of kind whose what matches the regular expression what, and returns
// it. t fails if n exits meanwhile.
func waitProblem(t *testing.T, n *pairtest.Proc, limit time.Duration, kind, what string) failover.Problem {
	t.Helper()
	re := regexp.MustCompile(what)
	deadline := time.Now().Add(limit)
	var last *failover.Problem
	for {
		st, err := n.Status()
		if err == nil {
			last = st.Link.Problem
			if last != nil && last.Kind == kind && re.MatchString(last.What) {
				return *last
			}
		}
		if n.Exited() {
			t.Fatalf("%s exited, waiting for %s", n.Label, kind)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no link.problem %s with a what matching %q within %v; the last: %+v", n.Label, kind, what, limit, last)
		}
		pairtest.Sleep(t, 20*time.Millisecond)
	}
}

// checkReported checks how n says the problems of kinds (the first the
// most serious): one log line each, of event=kind, at level, for the
// whole episode; clooster_link_problem 1 for each, 0 for every other
// kind; /status link.problem of the first kind, link.problems all.
func checkReported(t *testing.T, n *pairtest.Proc, level slog.Level, kinds ...string) {
	t.Helper()
	for _, kind := range kinds {
		event := regexp.MustCompile(`(^| )event=` + kind + `( |$)`)
		var lines []string
		for line := range strings.Lines(n.Log()) {
			if event.MatchString(line) {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
		if len(lines) != 1 || !strings.Contains(lines[0], "level="+level.String()+" ") {
			t.Errorf("%s: log lines of event=%s: %q, want one at level %s", n.Label, kind, lines, level)
		}
	}
	ms := metricsOf(t, n)
	for _, kind := range failover.ProblemKinds {
		name := `clooster_link_problem{problem="` + kind + `"}`
		want := 0.0
		if slices.Contains(kinds, kind) {
			want = 1
		}
		if got, ok := ms[name]; !ok || got != want {
			t.Errorf("%s: %s = %v (present %v), want %v", n.Label, name, got, ok, want)
		}
	}
	st, err := n.Status()
	if err != nil {
		t.Errorf("%s: %v", n.Label, err)
		return
	}
	var got []string
	for _, p := range st.Link.Problems {
		got = append(got, p.Kind)
	}
	if st.Link.Problem == nil || st.Link.Problem.Kind != kinds[0] || !slices.Equal(got, kinds) {
		t.Errorf("%s: link.problem %+v, link.problems %q; want %s, %q", n.Label, st.Link.Problem, got, kinds[0], kinds)
	}
}

// metricsOf is every sample of n's /metrics, by its name and labels.
func metricsOf(t *testing.T, n *pairtest.Proc) map[string]float64 {
	t.Helper()
	body, err := n.Get("/metrics")
	if err != nil {
		t.Errorf("%s: %v", n.Label, err)
		return nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// pushesFrom counts the pushes of node whose title, after "[node] ",
// contains title and whose body matches the regular expression body.
func pushesFrom(f *pairtest.Fakes, node, title, body string) int {
	re := regexp.MustCompile(body)
	n := 0
	for _, p := range f.PB.Pushes() {
		rest, ok := strings.CutPrefix(p.Title, "["+node+"] ")
		// The problem's own push: its title is the problem's (a
		// takeover's "is now down" names the problem as its reason).
		if ok && strings.HasPrefix(rest, title) && re.MatchString(p.Body) {
			n++
		}
	}
	return n
}

// checkWrites checks that the record was written at most once, and then
// to one of allowed: a pair that cannot link moves it once, never back.
func checkWrites(t *testing.T, f *pairtest.Fakes, allowed ...string) {
	t.Helper()
	got := f.WriteContents()
	if len(got) > 1 || len(got) == 1 && !slices.Contains(allowed, got[0]) {
		t.Errorf("record writes: got %q, want at most one, of %q", got, allowed)
	}
}

// waitRefusals waits until the server n has refused the client count
// times: the client has tried again and again.
func waitRefusals(t *testing.T, n *pairtest.Proc, count int) {
	t.Helper()
	pairtest.WaitFor(t, 15*time.Second, fmt.Sprintf("%s refuses the client %d times", n.Label, count), func() bool {
		return strings.Count(n.Log(), "rejected peer 127.0.0.1: ") >= count
	})
}

// other is the other name of the pair.
func other(name string) string {
	if name == srv1 {
		return srv2
	}
	return srv1
}

// secondsIn is the first duration of what, in seconds; NaN if none.
func secondsIn(what string) float64 {
	m := regexp.MustCompile(`[0-9.]+m?s`).FindString(what)
	d, err := time.ParseDuration(m)
	if err != nil {
		return math.NaN()
	}
	return d.Seconds()
}

// helloV1 is a client of link protocol version 1: it opens a TLS
// websocket to addr, says HELLO as docs/PROTOCOL.md's table of version 1
// lays it out (version 1, type 1, role 2 client, a 32-byte nonce, the
// name's length and the name), and returns the reason of the BYE the
// server answers; "" if it answers anything else.
func helloV1(t *testing.T, addr, name string) string {
	t.Helper()
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}},
		HandshakeTimeout: 5 * time.Second,
	}
	ws, _, err := d.Dial("wss://"+addr+"/", nil)
	if err != nil {
		t.Fatalf("version-1 client: dial: %v", err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	hello := []byte{1, 1, 2}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	hello = append(hello, nonce...)
	hello = append(hello, byte(len(name)))
	hello = append(hello, name...)
	if err := ws.WriteMessage(websocket.BinaryMessage, hello); err != nil {
		t.Fatalf("version-1 client: send hello: %v", err)
	}
	mt, b, err := ws.ReadMessage()
	// A BYE: version, type 4, code 5 (refused), the reason's length, the reason.
	if err != nil || mt != websocket.BinaryMessage || len(b) < 4 || b[1] != 4 || b[2] != 5 || int(b[3]) != len(b)-4 {
		t.Logf("version-1 client: answer %q (%v)", b, err)
		return ""
	}
	return string(b[4:])
}

// serveV1 is a server of link protocol version 1 on addr, until t ends:
// it accepts the TLS websocket, reads the HELLO and closes the connection
// without a word, as a version-1 server does with a HELLO of another
// version.
func serveV1(t *testing.T, addr string) *v1Server {
	t.Helper()
	cfg, err := watchdog.ServerTLS("", "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("version-1 server: %v", err)
	}
	v1 := &v1Server{}
	up := websocket.Upgrader{}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if mt, b, err := ws.ReadMessage(); err == nil && mt == websocket.BinaryMessage && len(b) > 2 && b[0] == 2 && b[1] == 1 {
			v1.mu.Lock()
			v1.at = append(v1.at, time.Now())
			v1.mu.Unlock()
		}
		ws.NetConn().Close()
	})}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return v1
}

// v1Server is what serveV1's server saw: when it read each HELLO of
// version 2.
type v1Server struct {
	mu sync.Mutex
	at []time.Time
}

// hellos counts the HELLOs read.
func (v *v1Server) hellos() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.at)
}

// hello is when the nth HELLO (from 1) was read; false if it was not.
func (v *v1Server) hello(n int) (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n > len(v.at) {
		return time.Time{}, false
	}
	return v.at[n-1], true
}

// startNode runs a watchdog.Node in the test process until t ends, with
// a fresh client TLS configuration if cfg has none; its log is shown if t
// fails.
func startNode(t *testing.T, cfg watchdog.Config) *watchdog.Node {
	t.Helper()
	if cfg.ClientTLS == nil {
		var err error
		if cfg.ClientTLS, err = watchdog.ClientTLS("", "", ""); err != nil {
			t.Fatal(err)
		}
	}
	var log pairtest.SyncBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Version = "e2e"
	n, err := watchdog.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("in-process %s: %v", cfg.This, err)
			}
		case <-timer.C:
			t.Errorf("in-process %s: still running 10 s after its stop", cfg.This)
		}
		if t.Failed() {
			t.Logf("--- in-process %s log:\n%s", cfg.This, log.String())
		}
	})
	return n
}

// memRecord is a record held in memory: the in-process node's own, so
// that it writes nothing the pair's stand-in counts.
type memRecord struct {
	mu      sync.Mutex
	content string
}

func (m *memRecord) Read(ctx context.Context) (failover.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return failover.Record{Content: m.content}, nil
}

func (m *memRecord) Write(ctx context.Context, content string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.content = content
	return nil
}
