//go:build faults && linux

package faults

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// serviceScenarios check the service, not just the server: each node has
// a health.url on its own service, and the guard scenarios a peer_check on
// the other's (SPEC, "Service health and split-brain guard"). Health keys
// are left at their defaults (interval 2s, fall 3, rise 3).
func serviceScenarios() []scenario {
	return []scenario{
		{name: "service-dead", failback: shortFailback, health: true, run: serviceDead},
		{name: "service-flapping", health: true, run: serviceFlapping},
		{name: "both-services-dead", failback: shortFailback, health: true, run: bothServicesDead},
		{name: "guard-peer-serving", failback: shortFailback, health: true, peerCheck: true, run: guardServing("blackhole")},
		{name: "guard-oneway-a-to-b", failback: shortFailback, health: true, peerCheck: true, run: guardServing("a-to-b")},
		{name: "guard-oneway-b-to-a", failback: shortFailback, health: true, peerCheck: true, run: guardServing("b-to-a")},
		{name: "guard-peer-down", failback: shortFailback, health: true, peerCheck: true, run: guardPeerDown},
	}
}

// fallTime is how long a dead service takes to be found unhealthy: fall
// consecutive failed checks, interval apart, the first up to one interval
// after the death.
func (x *run) fallTime() time.Duration {
	return time.Duration(x.p.tm.fall) * x.p.tm.healthInterval
}

// riseTime is the least a revived service takes to be found healthy.
func (x *run) riseTime() time.Duration {
	return time.Duration(x.p.tm.rise-1) * x.p.tm.healthInterval
}

// serviceDead: A's service fails its health check (503) while the link is
// up. After fall checks A advertises itself unhealthy; B, healthy, takes
// the record off it (SPEC: within fall × interval + 1 s), with one push,
// and the link stays up. When A's service answers again, A is healthy after
// rise checks and, failback_delay of health later, the preferred node
// takes the record back (rule 4), with one push.
func serviceDead(x *run) {
	limit := x.fallTime() + time.Second
	x.r.expected = fmt.Sprintf("srv2 ≤%s (fall×interval+1s), link up; revived: srv1 ≥rise+failback_delay; 2w 2p", secs(limit))
	x.t0 = x.p.svcA.set(serviceDown)
	at, ok := x.p.waitWrite(srv2, x.t0, limit+5*time.Second)
	x.measure(at, ok, limit, "B took the record off unhealthy A")
	if !x.p.a.linked() || !x.p.b.linked() {
		x.errorf("the link is down after the health move: a sick service must not cost the link")
	}
	if st, err := x.p.b.state(); err == nil && (st.Peer.Healthy == nil || *st.Peer.Healthy) {
		x.errorf("B's /status does not show A unhealthy: peer.healthy %v", st.Peer.Healthy)
	}
	time.Sleep(time.Second)
	tu := x.p.svcA.set(serviceUp)
	least := x.riseTime() + x.fb()
	if fb, ok := x.p.waitWrite(srv1, tu, least+x.p.tm.healthInterval+15*time.Second); !ok {
		x.errorf("A did not take the record back within rise + failback_delay + 15 s of its service's return")
	} else {
		x.note("failback %.1fs after the service's return", fb.Sub(tu).Seconds())
		if fb.Sub(tu) < least {
			x.errorf("A took the record back %.2f s after its service returned, before rise checks and failback_delay (%s)", fb.Sub(tu).Seconds(), least)
		}
	}
	x.expect(want{srv1, []string{srv2, srv1}, map[string]int{srv2: 1, srv1: 1}})
}

// serviceFlapping: A's service fails every other check for 12 checks. It
// never fails fall times in a row, so A stays healthy (the asymmetric
// thresholds): no write, no push, no health_down.
func serviceFlapping(x *run) {
	const checks = 12
	d := checks * x.p.tm.healthInterval
	x.r.expected = fmt.Sprintf("%d checks, every other one failed: no failover; 0w 0p", checks)
	x.t0 = x.p.svcA.set(serviceFlap)
	time.Sleep(d)
	x.p.svcA.set(serviceUp)
	x.r.secs = d.Seconds()
	failed := 0
	for _, c := range x.p.svcA.answered(x.p.lab.apiA, x.t0) {
		if c.status != http.StatusOK {
			failed++
		}
	}
	x.note("%d checks failed", failed)
	if failed < checks/2-1 {
		x.errorf("only %d of A's checks failed during the flapping: the health check did not run every interval", failed)
	}
	if ev := x.p.a.log.events("health_down", x.t0); len(ev) > 0 {
		x.errorf("A counted itself unhealthy %d times on checks that never failed %d in a row", len(ev), x.p.tm.fall)
	}
	time.Sleep(2 * time.Second)
	x.expect(want{srv1, nil, nil})
}

// bothServicesDead: both services die at once. Whichever monitor notices
// first, the other node's last check has failed too by then, so nobody
// moves the record onto a dead service: no write. The node without the
// record, B, alerts once that both are unhealthy (rule: both unhealthy, no
// write, one alert). The services come back one after the other, A first,
// so that no healthy-against-unhealthy move is due: still no write.
func bothServicesDead(x *run) {
	x.r.expected = "no write; one alert (B: both unhealthy); revived: 0w 1p"
	x.t0 = x.p.svcA.set(serviceDown)
	x.p.svcB.set(serviceDown)
	if at, ok := x.p.waitPushes(1, x.fallTime()+x.p.tm.healthInterval+5*time.Second); ok {
		x.r.secs = at.Sub(x.t0).Seconds()
	} else {
		x.errorf("no alert within fall×interval + 5 s of both services dying")
	}
	x.sleepUntil(x.t0.Add(x.fallTime() + x.p.tm.healthInterval + 3*time.Second))
	if w := x.p.writeContents(); len(w) > 0 {
		x.errorf("with both services dead the record was written %v", shorts(w))
	}
	for _, n := range []*node{x.p.a, x.p.b} {
		if st, err := n.state(); err != nil || st.Health.Healthy {
			x.errorf("node %s's /status does not show its service unhealthy (%v)", n.label, err)
		}
	}
	x.p.svcA.set(serviceUp)
	if !x.waitHealthy(x.p.a) {
		x.errorf("A not healthy within rise × interval + 5 s of its service's return")
	}
	x.p.svcB.set(serviceUp)
	if !x.waitHealthy(x.p.b) {
		x.errorf("B not healthy within rise × interval + 5 s of its service's return")
	}
	x.sleepUntil(time.Now().Add(x.fb() + 2*time.Second))
	x.expect(want{srv1, nil, map[string]int{srv2: 1}})
}

// waitHealthy waits until n's /status shows its service healthy.
func (x *run) waitHealthy(n *node) bool {
	deadline := time.Now().Add(x.riseTime() + x.p.tm.healthInterval + 5*time.Second)
	for time.Now().Before(deadline) {
		if st, err := n.state(); err == nil && st.Health.Healthy {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// guardServing cuts the link (both ways, or one way) for peer_timeout +
// 8 s while both services answer. Each node loses the link and probes the
// other's service from outside: it answers, so neither takes over (the
// split-brain guard): no write at all, and each alerts once "link down,
// peer still serving", and keeps probing every keepalive_interval. B's
// /status shows the guard withholding. Healed, the link returns and
// failback_delay later A, which had declared B down, announces it up: the
// record is right, so no write (rule 5: one push per transition).
func guardServing(kind string) func(x *run) {
	return func(x *run) {
		hold := x.pt() + 8*time.Second
		x.r.expected = "no write while cut; 1 guard alert each; healed: A announces B up; 0w 3p"
		x.t0 = x.fault(x.p.lab.cut(kind))
		x.sleepUntil(x.t0.Add(hold - time.Second))
		if st, err := x.p.b.state(); err != nil || !st.Guard.Withholding || st.Guard.PeerCheck != "serving" {
			x.errorf("B's /status does not show the guard withholding on a serving peer: %+v (%v)", st.Guard, err)
		}
		x.sleepUntil(x.t0.Add(hold))
		if w := x.p.writeContents(); len(w) > 0 {
			x.errorf("while the link was cut and both services answered, the record was written %v", shorts(w))
		}
		probes := len(x.p.svcA.answered(x.p.lab.apiB, x.t0))
		x.note("B probed A %d times", probes)
		if least := int((hold - x.limit()) / x.p.tm.keepalive / 2); probes < least {
			x.errorf("B probed A's service %d times in the cut, want at least %d: it must keep probing", probes, least)
		}
		if at := x.p.pb.Pushes(); len(at) > 0 {
			x.r.secs = at[0].At.Sub(x.t0).Seconds()
		}
		th := x.fault(x.p.lab.heal())
		tl, ok := x.p.waitLinked(20 * time.Second)
		if !ok {
			x.errorf("the link did not come back within 20 s of healing")
			tl = th
		}
		x.sleepUntil(tl.Add(x.fb() + 2*time.Second))
		x.expect(want{srv1, nil, map[string]int{srv1: 2, srv2: 1}})
	}
}

// guardPeerDown: A's link and A's service go at once, as when A's network
// fails. B loses the link, probes A's service, finds it down and takes
// over (within peer_timeout, plus the probe): one write, one push. A
// probes B's service, which answers: it withholds, with one alert, and
// says nothing more when its own health check then finds its service dead.
// Healed (service and link), A is healthy after rise checks and takes the
// record back failback_delay after link and health are both back; one
// push.
func guardPeerDown(x *run) {
	limit := x.limit()
	x.r.expected = fmt.Sprintf("srv2 ≤%s; A withholds; healed: srv1 ≥failback_delay; 2w 3p", secs(limit))
	x.t0 = x.fault(x.p.lab.blackhole())
	x.p.svcA.set(serviceDown)
	at, ok := x.p.waitWrite(srv2, x.t0, limit+5*time.Second)
	x.measure(at, ok, limit, "B took over from A, whose service failed B's probe")
	x.sleepUntil(x.t0.Add(x.fallTime() + x.p.tm.healthInterval + 2*time.Second))
	if w := x.p.writeContents(); !slices.Equal(w, []string{srv2}) {
		x.errorf("while the link was cut the record was written %v; want only B's takeover [srv2]", shorts(w))
	}
	th := x.fault(x.p.lab.heal())
	x.p.svcA.set(serviceUp)
	least := x.riseTime() + x.fb()
	if fb, ok := x.p.waitWrite(srv1, th, least+x.p.tm.healthInterval+20*time.Second); !ok {
		x.errorf("A did not take the record back within rise + failback_delay + 20 s of healing")
	} else if fb.Sub(th) < least {
		x.errorf("A took the record back %.2f s after healing, before rise checks and failback_delay (%s)", fb.Sub(th).Seconds(), least)
	}
	x.expect(want{srv1, []string{srv2, srv1}, map[string]int{srv1: 2, srv2: 1}})
}
