//go:build unix

package e2e

import (
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/clooster/clooster/internal/dnstest"
	"github.com/clooster/clooster/internal/pairtest"
)

// TestRFC2136 runs the pair with its records on a real BIND 9 and, as
// the same table, a real Knot DNS: each case its own name server, pair and
// ports. The nodes reach the server through proxies of the test, which
// see every update they send; the zone's SOA serial, which each accepted
// update moves on by one, counts the writes independently.
func TestRFC2136(t *testing.T) {
	e2eTest(t)
	cases := []struct {
		name string
		run  func(t *testing.T, start func(testing.TB, dnstest.Zone) *dnstest.Server)
	}{
		{"crash", testDNSCrash},
		{"hang", testDNSHang},
		{"link_cut", testDNSLinkCut},
		{"outside_update_race", testDNSRace},
		{"wrong_key", testDNSWrongKey},
		{"server_down", testDNSServerDown},
		{"with_cloudflare", testDNSWithCloudflare},
	}
	for _, srv := range dnstest.Kinds {
		for _, c := range cases {
			t.Run(srv.Name+"/"+c.name, func(t *testing.T) {
				e2eTest(t)
				c.run(t, srv.Start)
			})
		}
	}
}

// testDNSCrash: kill -9 of the active node of a pair keeping an A and an
// AAAA record. The survivor repoints both, one update each; once the
// killed node is back, both return to it after failback_delay, one update
// each again.
func testDNSCrash(t *testing.T, start func(testing.TB, dnstest.Zone) *dnstest.Server) {
	tm := fastTiming
	p := newDNSPair(t, start(t, dnsTestZone()), tm, "A", "AAAA")
	a, _ := bin.StartPair(t, p.Pair)

	killed := a.Kill(t)
	pairtest.WaitFor(t, 5*time.Second, "A and AAAA repointed to srv2", func() bool { return p.holds(p.on(srv2)) })
	t.Logf("kill -9 of srv1 → A and AAAA seen on srv2 in %d ms", time.Since(killed).Milliseconds())
	p.wantGet(t, p.on(srv2))
	pairtest.WaitFor(t, time.Second, "the proxy's record of srv2's updates", func() bool { return len(p.px2.writes()) == 2 })
	w := p.px2.writes()
	t.Logf("kill -9 of srv1 → srv2's last update answered in %d ms", w[len(w)-1].at.Sub(killed).Milliseconds())

	restarted := time.Now()
	again := p.Srv1
	again.Label = "srv1 (restarted)"
	a2 := bin.StartNode(t, again)
	pairtest.WaitFor(t, tm.FailbackDelay+10*time.Second, "A and AAAA back on srv1", func() bool { return p.holds(p.on(srv1)) })
	back := p.px1.firstWrite(t).at.Sub(restarted)
	t.Logf("restart of srv1 → failback in %.2f s (failback_delay %v)", back.Seconds(), tm.FailbackDelay)
	if back < tm.FailbackDelay {
		t.Errorf("restart → failback in %v, before the link can have been up for failback_delay (%v)", back.Round(time.Millisecond), tm.FailbackDelay)
	}

	time.Sleep(tm.PeerTimeout) // room for a stray write
	p.wantGet(t, p.on(srv1))
	p.wantWrites(t, "srv2", p.px2, p.on(srv2))
	p.wantWrites(t, "srv1", p.px1, p.on(srv1))
	if w1, w2 := p.px1.writes(), p.px2.writes(); len(w1) > 0 && len(w2) > 0 && w1[0].at.Before(w2[len(w2)-1].at) {
		t.Errorf("srv1's failback came before srv2's failover was done: srv2 %q, srv1 %q", summary(w2), summary(w1))
	}
	p.checkSerial(t, 4, 2)
	if !pairtest.Linked(a2) {
		t.Errorf("restarted srv1 is not linked")
	}
}

// testDNSHang: SIGSTOP of the active node. The survivor takes over after
// peer_timeout. After SIGCONT the resumed node does not take its own
// freeze for its peer's failure: it sends no update at all until it fails
// back, failback_delay after the link is up again, and announces no
// failure of its peer. No fight: two updates in all, one each.
func testDNSHang(t *testing.T, start func(testing.TB, dnstest.Zone) *dnstest.Server) {
	tm := fastTiming
	p := newDNSPair(t, start(t, dnsTestZone()), tm, "A")
	a, b := bin.StartPair(t, p.Pair)

	stopped := a.Signal(t, syscall.SIGSTOP)
	pairtest.WaitFor(t, tm.PeerTimeout+5*time.Second, "record repointed to srv2", func() bool { return p.holds(p.on(srv2)) })
	took := p.px2.firstWrite(t).at.Sub(stopped)
	t.Logf("SIGSTOP of srv1 → srv2's update answered in %.2f s (peer_timeout %v)", took.Seconds(), tm.PeerTimeout)
	if took > tm.PeerTimeout+time.Second {
		t.Errorf("SIGSTOP → record repointed in %v, want within peer_timeout + 1s", took.Round(time.Millisecond))
	}

	resumed := a.Signal(t, syscall.SIGCONT)
	relink := pairtest.WaitLinked(t, 10*time.Second, a, b)
	t.Logf("SIGCONT of srv1 after %v frozen → linked again in %d ms", resumed.Sub(stopped).Round(time.Millisecond), relink.Milliseconds())
	pairtest.WaitFor(t, tm.FailbackDelay+10*time.Second, "failback to srv1", func() bool { return p.holds(p.on(srv1)) })
	back := p.px1.firstWrite(t).at.Sub(resumed)
	t.Logf("SIGCONT of srv1 → failback in %.2f s (failback_delay %v)", back.Seconds(), tm.FailbackDelay)
	if back < tm.FailbackDelay {
		t.Errorf("srv1 wrote the record %v after SIGCONT, before failback_delay (%v): it took its own freeze for its peer's failure", back.Round(time.Millisecond), tm.FailbackDelay)
	}

	time.Sleep(tm.PeerTimeout) // room for a fight
	p.wantGet(t, p.on(srv1))
	p.wantWrites(t, "srv2", p.px2, p.on(srv2))
	if got := summary(p.px1.allUpdates()); len(got) != 1 {
		t.Errorf("srv1's updates: %q, want its failback alone: no write, won or lost, over srv2's takeover", got)
	}
	p.wantWrites(t, "srv1", p.px1, p.on(srv1))
	if got := summary(p.px2.allUpdates()); len(got) != 1 {
		t.Errorf("srv2's updates: %q, want its takeover alone", got)
	}
	p.checkSerial(t, 2, 2)
	for _, line := range strings.Split(a.Log(), "\n") {
		if strings.Contains(line, "event=record_updated") && strings.Contains(line, "purpose=takeover") {
			t.Errorf("srv1, frozen and resumed, took the record over: %s", line)
		}
	}
	if n := p.F.PushesWith(downTitle(srv1, srv2)); n != 0 {
		t.Errorf("srv1, frozen, announced its peer down: pushes %q", p.F.PushTitles())
	}
}

// testDNSLinkCut: the link between two live nodes is cut (every
// connection closed, new ones turned away) for peer_timeout + 3 s, then
// healed. srv2 cannot tell the cut from srv1's death and takes the
// record: one update. srv1, which the record pointed to, sends none while
// the cut lasts: no ping-pong. Once healed, srv1 fails back after
// failback_delay: one update.
func testDNSLinkCut(t *testing.T, start func(testing.TB, dnstest.Zone) *dnstest.Server) {
	tm := fastTiming
	p := newDNSPair(t, start(t, dnsTestZone()), tm, "A")
	lp := newLinkProxy(t, pairtest.Loopback(p.Srv1.Port))
	p.Srv2.Port = lp.port
	a, b := bin.StartPair(t, p.Pair)

	cut := lp.cutLink()
	pairtest.WaitFor(t, tm.PeerTimeout+5*time.Second, "record repointed to srv2", func() bool { return p.holds(p.on(srv2)) })
	t.Logf("link cut → srv2's update answered in %d ms", p.px2.firstWrite(t).at.Sub(cut).Milliseconds())
	time.Sleep(time.Until(cut.Add(tm.PeerTimeout + 3*time.Second))) // the cut lasts
	if got := summary(p.px1.allUpdates()); len(got) != 0 {
		t.Errorf("srv1 sent updates while the link was cut: %q, want none", got)
	}
	if got := summary(p.px2.allUpdates()); len(got) != 1 {
		t.Errorf("srv2 sent updates while the link was cut: %q, want its takeover alone", got)
	}

	healed := lp.heal()
	pairtest.WaitLinked(t, 15*time.Second, a, b)
	pairtest.WaitFor(t, tm.FailbackDelay+15*time.Second, "failback to srv1", func() bool { return p.holds(p.on(srv1)) })
	t.Logf("link healed → failback in %.2f s (failback_delay %v)", p.px1.firstWrite(t).at.Sub(healed).Seconds(), tm.FailbackDelay)

	time.Sleep(tm.PeerTimeout) // room for a stray write
	p.wantGet(t, p.on(srv1))
	p.wantWrites(t, "srv2", p.px2, p.on(srv2))
	p.wantWrites(t, "srv1", p.px1, p.on(srv1))
	if n := len(p.px1.allUpdates()) + len(p.px2.allUpdates()); n != 2 {
		t.Errorf("%d updates in all, want 2: srv2 %q, srv1 %q", n, summary(p.px2.allUpdates()), summary(p.px1.allUpdates()))
	}
	p.checkSerial(t, 2, 2)
}

// outsideValue is what an operator's nsupdate puts in the record in
// testDNSRace: neither node's value.
const outsideValue = "192.0.2.77"

// testDNSRace: an outside update lands between the survivor's read and
// its write. srv2's proxy holds srv2's takeover update until the test's
// own nsupdate (another key's) has set the record to a value of neither
// node, then lets it go: the update, conditional on what srv2 read, must
// fail (NXRRSET), be logged as write_conflict and counted as a conflict,
// and leave the outside value in place. srv2 reads again and decides on
// what it finds: its next update is conditional on the outside value.
func testDNSRace(t *testing.T, start func(testing.TB, dnstest.Zone) *dnstest.Server) {
	p := newDNSPair(t, start(t, dnsTestZone()), fastTiming, "A")
	a, b := bin.StartPair(t, p.Pair)

	held := make(chan dnsUpdate)
	release := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	p.px2.setHold(func(u dnsUpdate) {
		select {
		case held <- u:
		case <-done:
			return
		}
		select {
		case <-release:
		case <-done:
		}
	})
	next := func(what string) dnsUpdate {
		t.Helper()
		select {
		case u := <-held:
			return u
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no update from srv2 within 15 s", what)
		}
		return dnsUpdate{}
	}

	a.Kill(t)
	first := next("takeover")
	if !slices.Equal(first.prereq, p.on(srv1)) || !slices.Equal(first.to, p.on(srv2)) {
		t.Fatalf("srv2's takeover update: %v, want conditional on srv1's value, to srv2's", first)
	}
	p.dns.Set(t, dnsName+".", "A", outsideValue) // lands first
	release <- struct{}{}

	second := next("update after the conflict")
	if got := summary(p.px2.allUpdates()); len(got) != 1 || p.px2.allUpdates()[0].rcode != dns.RcodeNXRrset {
		t.Errorf("srv2's takeover update: %q, want refused with NXRRSET: the record changed since it was read", got)
	}
	p.wantGet(t, []string{outsideValue}) // the lost update wrote nothing
	if !slices.Equal(second.prereq, []string{outsideValue}) || !slices.Equal(second.to, p.on(srv2)) {
		t.Errorf("srv2's update after the conflict: %v, want conditional on the outside value, as read again", second)
	}
	line := grepLines(b.Log(), "event=write_conflict")
	t.Logf("srv2: %s", line)
	if !strings.Contains(line, "read="+p.on(srv1)[0]) || !strings.Contains(line, "NXRRSET") {
		t.Errorf("srv2's log has no write_conflict line naming what it read and the server's NXRRSET: %q", line)
	}
	metrics, err := b.Get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if want := `clooster_record_requests_total{op="write",result="conflict"} 1` + "\n"; !strings.Contains(metrics, want) {
		t.Errorf("srv2's /metrics has no %q:\n%s", want, grepLines(metrics, "clooster_record_requests_total"))
	}
	p.px2.setHold(nil)
	release <- struct{}{}

	pairtest.WaitFor(t, 10*time.Second, "record repointed to srv2", func() bool { return p.holds(p.on(srv2)) })
	p.wantGet(t, p.on(srv2))
	t.Logf("srv2's updates: %q", summary(p.px2.allUpdates()))
	if got := summary(p.px2.allUpdates()); len(got) != 2 {
		t.Errorf("srv2's updates: %q, want the lost one and the one over the outside value", got)
	}
	p.checkSerial(t, 2, 2) // the outside update and srv2's second
}

// grepLines is the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// testDNSWrongKey: srv2 has the wrong TSIG secret. The record starts on
// srv2's value, as after an earlier failover: srv1, with the right key,
// fails back, and its write works. After kill -9 of srv1, srv2's takeover
// fails on the server's BADSIG; it logs an error that names the key and
// says the secret is wrong, waits the 30 s an operator's fix needs before
// it tries again, and keeps running. It writes nothing.
func testDNSWrongKey(t *testing.T, start func(testing.TB, dnstest.Zone) *dnstest.Server) {
	tm := fastTiming
	p := newDNSPair(t, start(t, dnsTestZone()), tm, "A")
	p.Srv2.DNS.Secret = pairtest.NewKey()
	p.dns.Set(t, dnsName+".", "A", p.on(srv2)[0])
	p.serial0 = p.serial(t)

	a := bin.StartNode(t, p.Srv1)
	b := bin.StartNode(t, p.Srv2)
	pairtest.WaitFor(t, 10*time.Second, "link between srv1 and srv2", func() bool {
		for _, n := range []*pairtest.Proc{a, b} {
			if st, err := n.Status(); err != nil || st.Peer.State != "up" {
				return false
			}
		}
		return true
	})
	pairtest.WaitFor(t, tm.FailbackDelay+10*time.Second, "srv1's failback", func() bool { return p.holds(p.on(srv1)) })
	p.wantWrites(t, "srv1", p.px1, p.on(srv1))

	a.Kill(t)
	failed := regexp.MustCompile(`(?m)^time=(\S+) .*event=record_update_failed.* attempt=(\d+) .*$`)
	attempts := func() [][]string { return failed.FindAllStringSubmatch(b.Log(), -1) }
	pairtest.WaitFor(t, 10*time.Second, "srv2's failed takeover", func() bool { return len(attempts()) >= 1 })
	line := attempts()[0][0]
	t.Logf("srv2: %s", line)
	for _, want := range []string{`key \"` + p.dns.KeyName + `\"`, "wrong secret", "BADSIG"} {
		if !strings.Contains(line, want) {
			t.Errorf("srv2's error does not say %q: %s", want, line)
		}
	}

	pairtest.WaitFor(t, 45*time.Second, "srv2's second attempt", func() bool { return len(attempts()) >= 2 })
	at := make([]time.Time, 2)
	for i, m := range attempts()[:2] {
		if at[i], _ = time.Parse(time.RFC3339Nano, m[1]); m[2] != []string{"1", "2"}[i] {
			t.Fatalf("srv2's attempts: %q", attempts())
		}
	}
	gap := at[1].Sub(at[0])
	t.Logf("srv2 tried again %.1f s after its first failure", gap.Seconds())
	if gap < 29*time.Second { // 30 s, less the log's rounding and the time the read takes
		t.Errorf("srv2 tried again %v after a refused key, want the 30 s an operator's fix needs", gap.Round(time.Millisecond))
	}
	if b.Exited() {
		t.Fatalf("srv2 exited")
	}
	if _, err := b.Status(); err != nil {
		t.Errorf("srv2's status: %v", err)
	}
	if got := p.px2.allUpdates(); len(got) != 0 {
		t.Errorf("srv2, its key refused, sent updates: %q", summary(got))
	}
	p.wantGet(t, p.on(srv1))
	p.checkSerial(t, 1, 1) // srv1's failback
}

// testDNSServerDown: the name server is down when the active node dies,
// and stays down 30 s. The survivor's attempts fail (connection refused);
// it retries with its backoff, and repoints the record once the server is
// back: one update. The nodes talk to the server directly here, so that
// its absence is a refused connection, as in production.
func testDNSServerDown(t *testing.T, start func(testing.TB, dnstest.Zone) *dnstest.Server) {
	const down = 30 * time.Second
	p := newDNSPair(t, start(t, dnsTestZone()), noFailback, "A")
	p.Srv1.DNS.Server, p.Srv2.DNS.Server = p.dns.Addr, p.dns.Addr
	a, b := bin.StartPair(t, p.Pair)

	p.dns.Stop()
	stopped := time.Now()
	a.Kill(t)
	pairtest.WaitFor(t, 10*time.Second, "srv2's failed attempt", func() bool { return strings.Contains(b.Log(), "event=record_update_failed") })
	if line := grepLines(b.Log(), "event=record_update_failed"); !strings.Contains(line, "connection refused") {
		t.Errorf("srv2's failed attempt does not say the connection was refused: %s", line)
	}
	time.Sleep(time.Until(stopped.Add(down)))
	p.dns.Start()
	started := time.Now()
	took := pairtest.WaitFor(t, 20*time.Second, "record repointed to srv2", func() bool { return p.holds(p.on(srv2)) })
	t.Logf("server down %v → up again → record on srv2 %.2f s later", started.Sub(stopped).Round(time.Second), took.Seconds())

	p.wantGet(t, p.on(srv2))
	p.checkSerial(t, 1, 1)
	n := strings.Count(b.Log(), "event=record_update_failed")
	t.Logf("srv2 logged %d failed attempts", n)
	if n < 2 {
		t.Errorf("srv2 logged %d failed attempts over %v, want it to have retried", n, down)
	}
	if b.Exited() {
		t.Errorf("srv2 exited")
	}
}

// testDNSWithCloudflare: a set of a Cloudflare record (the stand-in's
// CNAME) and an rfc2136 A record. kill -9 of the active node moves both,
// one write each.
func testDNSWithCloudflare(t *testing.T, start func(testing.TB, dnstest.Zone) *dnstest.Server) {
	p := newDNSPair(t, start(t, dnsTestZone()), noFailback, "A")
	cf := map[string]any{"name": pairtest.Record, "type": "CNAME", "provider": "cloudflare"}
	p.Srv1.Records = append([]any{cf}, p.Srv1.Records...)
	p.Srv2.Records = append([]any{cf}, p.Srv2.Records...)
	a, b := bin.StartPair(t, p.Pair)
	st, err := b.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Records) != 2 {
		t.Fatalf("/status records: %+v, want 2", st.Records)
	}

	a.Kill(t)
	pairtest.WaitFor(t, 5*time.Second, "both records repointed to srv2", func() bool { return p.F.Content() == srv2 && p.holds(p.on(srv2)) })
	time.Sleep(500 * time.Millisecond) // room for a stray write
	p.wantGet(t, p.on(srv2))
	if got, want := p.F.WriteContents(), []string{srv2}; !slices.Equal(got, want) {
		t.Errorf("Cloudflare writes: got %q, want %q", got, want)
	}
	p.wantWrites(t, "srv2", p.px2, p.on(srv2))
	p.checkSerial(t, 1, 1)
}
