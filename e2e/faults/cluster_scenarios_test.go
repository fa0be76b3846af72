//go:build faults && linux

package faults

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
)

// A quorum scenario starts a fresh cluster of its shape in its own lab,
// waits until srv1 leads with the record, injects its fault and checks the
// outcome SPEC's Quorum section and the README's Quorum mode call for
// (worked out in each scenario's comment). Writes and pushes are counted
// from the steady state on.
type qscenario struct {
	name     string
	shape    shape
	failback time.Duration // 0: the default (30 s)
	run      func(x *qrun)
}

// qrun is one quorum scenario in progress.
type qrun struct {
	t  *testing.T
	c  *cluster
	t0 time.Time
	r  *qrow
}

func (x *qrun) errorf(format string, args ...any) {
	x.t.Helper()
	x.t.Errorf(format, args...)
}

func (x *qrun) note(format string, args ...any) {
	x.r.notes = append(x.r.notes, fmt.Sprintf(format, args...))
}

func (x *qrun) fault(err error) time.Time {
	x.t.Helper()
	if err != nil {
		x.t.Fatal(err)
	}
	return time.Now()
}

// measure records at-t0 as the scenario's figure and checks it against
// limit; ok false means it never happened.
func (x *qrun) measure(at time.Time, ok bool, limit time.Duration, what string) {
	x.t.Helper()
	if !ok {
		x.errorf("%s: did not happen within %s of the fault", what, secs(limit+5*time.Second))
		x.note("%s: never", what)
		return
	}
	d := at.Sub(x.t0)
	x.r.secs = d.Seconds()
	if d > limit {
		x.errorf("%s: took %.2f s after the fault, limit %s", what, d.Seconds(), secs(limit))
	}
}

// expect waits for the pushes to settle, then checks the record, the
// writes since the steady state (contents, in order), that no member
// crashed and that no secret was logged, and fills the row.
func (x *qrun) expect(record string, writes []string) {
	x.t.Helper()
	quietPushes(x.c.pb, 2*time.Second, 20*time.Second)
	got := x.c.writeContents()
	x.r.writes, x.r.pushes = len(got), len(x.c.pushes())
	x.r.got = short(x.c.content())
	if c := x.c.content(); c != record {
		x.errorf("record: got %s, want %s", c, record)
	}
	if !slices.Equal(got, writes) {
		x.errorf("record writes: got %v, want %v", shorts(got), shorts(writes))
	}
	for _, m := range x.c.m {
		for _, c := range m.crashes(x.t0) {
			x.errorf("crash: %s", c)
			x.note("crash")
		}
		for _, s := range x.c.secrets {
			if m.log.contains(s.Value) {
				x.errorf("%s logged the %s", m.label, s.Name)
			}
		}
	}
	var kinds []string
	for _, p := range x.c.pushes() {
		kinds = append(kinds, short(sender(p.Title))+": "+strings.TrimSpace(p.Title[strings.IndexByte(p.Title, ']')+1:]))
	}
	if len(kinds) > 0 {
		x.note("pushes: %s", strings.Join(kinds, ", "))
	}
}

// noWritesBy fails if member m logged a write at or after since.
func (x *qrun) noWritesBy(m *qnode, since time.Time, when string) {
	x.t.Helper()
	if w := m.moved(since); len(w) > 0 {
		x.errorf("%s wrote the record %d times %s; want none", m.label, len(w), when)
		x.note("%s wrote %s", m.label, when)
	}
}

// steady checks, for d, that member i leads all along: no other member
// is seen leading, and its term does not change. It returns how often a
// follower counted a change of leader (one that lost its leader for a
// while, to find it again, counts), reported, not judged.
func (x *qrun) steady(i int, d time.Duration) (followerChanges int) {
	x.t.Helper()
	before := x.leaderChanges()
	term := func() uint64 {
		st, err := x.c.m[i].status()
		if err != nil {
			return 0
		}
		return st.Term
	}
	t0 := term()
	others := 0
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if l := x.c.leader(); l != i && l >= 0 {
			others++
		}
		time.Sleep(250 * time.Millisecond)
	}
	if t1 := term(); others > 0 || t1 != t0 {
		x.errorf("%s did not lead all along: another leader seen %d times; its term %d, then %d", x.c.m[i].label, others, t0, t1)
	}
	after := x.leaderChanges()
	for k := range before {
		if k != i && after[k] > before[k] {
			followerChanges += int(after[k] - before[k])
		}
	}
	return followerChanges
}

// leaderChanges is each running member's leader_changes counter.
func (x *qrun) leaderChanges() map[int]uint64 {
	out := make(map[int]uint64)
	for i, m := range x.c.m {
		if !m.running() {
			continue
		}
		if st, err := m.status(); err == nil {
			out[i] = st.Counters.LeaderChanges
		}
	}
	return out
}

// failback waits, after the fault is healed at th, for srv1 to take the
// record back: not before failback_delay, and within failback_delay +
// 20 s.
func (x *qrun) failback(th time.Time) {
	x.t.Helper()
	at, ok := x.c.waitWrite(srv1, th, x.c.fb+20*time.Second)
	if !ok {
		x.errorf("srv1 did not take the record back within failback_delay + 20 s of the heal")
		return
	}
	x.note("back on srv1 %.1fs after the heal", at.Sub(th).Seconds())
	if at.Sub(th) < x.c.fb-250*time.Millisecond {
		x.errorf("srv1 took the record back %.2f s after the heal, before failback_delay (%s)", at.Sub(th).Seconds(), x.c.fb)
	}
	if _, ok := x.c.waitLeader(0, 10*time.Second); !ok {
		x.errorf("srv1 wrote the record back but does not lead (leader %s)", x.c.leaderName())
	}
}

// qrow is one line of the quorum report.
type qrow struct {
	order    int
	scenario string
	shape    shape
	expected string
	got      string
	notes    []string
	secs     float64 // NaN: nothing to measure
	writes   int
	pushes   int
	verdict  string
}

// qscenarios are the quorum suite's short profile, in report order.
func qscenarios() []qscenario {
	soakFor := 2 * time.Minute
	if long() {
		soakFor = 10 * time.Minute
	}
	return []qscenario{
		{name: "q-kill9-leader", shape: threeNodes, failback: shortFailback, run: qkill9Leader},
		{name: "qw-kill9-leader", shape: twoAndWitns, failback: shortFailback, run: qkill9Leader},
		{name: "q-sigstop-leader", shape: threeNodes, failback: shortFailback, run: qsigstopLeader},
		{name: "qw-sigstop-leader", shape: twoAndWitns, failback: shortFailback, run: qsigstopLeader},
		{name: "q-cut-leader", shape: threeNodes, failback: shortFailback, run: qcutLeader("isolate")},
		{name: "qw-cut-leader", shape: twoAndWitns, failback: shortFailback, run: qcutLeader("isolate")},
		{name: "q-oneway-leader-out", shape: threeNodes, failback: shortFailback, run: qcutLeader("out")},
		{name: "q-oneway-leader-in", shape: threeNodes, failback: shortFailback, run: qcutLeader("in")},
		{name: "q-cut-follower", shape: threeNodes, failback: shortFailback, run: qcutFollower},
		{name: "qw-cut-nodes-path", shape: twoAndWitns, failback: shortFailback, run: qcutNodesPath},
		{name: "q-cut-nodes-path", shape: threeNodes, failback: shortFailback, run: qcutNodesPath},
		{name: "qw-witness-lost", shape: twoAndWitns, failback: shortFailback, run: qwitnessLost},
		{name: "qw-witness-and-leader-lost", shape: twoAndWitns, failback: shortFailback, run: qwitnessAndLeaderLost},
		{name: "q-restart-follower", shape: threeNodes, failback: shortFailback, run: qrestartFollower},
		{name: "q-failback", shape: threeNodes, run: qfailback},
		{name: "q-loss-10%", shape: threeNodes, failback: shortFailback, run: qlossSoak(10, soakFor)},
		{name: "qw-loss-10%", shape: twoAndWitns, failback: shortFailback, run: qlossSoak(10, soakFor)},
	}
}

// TestClusterFaults runs every quorum scenario once, in parallel, one lab
// each, and prints the table; the long profile adds repeated kill -9 and
// SIGSTOP trials of the leader, for the timings' percentiles.
func TestClusterFaults(t *testing.T) {
	requireEnv(t)
	rep := &qreport{}
	t.Run("scenario", func(t *testing.T) {
		for i, sc := range qscenarios() {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				runQScenario(t, rep, i, sc)
			})
		}
		if long() {
			trials := *flagTrials
			if trials <= 0 {
				trials = 20
			}
			for _, kind := range []string{"kill9", "sigstop"} {
				for _, sh := range []shape{threeNodes, twoAndWitns} {
					t.Run(fmt.Sprintf("trials-%s-%s", kind, strings.ReplaceAll(string(sh), " ", "")), func(t *testing.T) {
						t.Parallel()
						rep.addTrials(map[string]string{"kill9": "kill -9", "sigstop": "SIGSTOP"}[kind]+" of the leader, "+string(sh), leaderTrials(t, kind, sh, trials))
					})
				}
			}
		}
	})
	rep.print(t)
}

// runQScenario runs sc in t; its row is complete when t ends.
func runQScenario(t *testing.T, rep *qreport, order int, sc qscenario) {
	r := &qrow{order: order, scenario: sc.name, shape: sc.shape, secs: math.NaN()}
	rep.add(r)
	// Registered first, so it runs last: after the members are killed and
	// the lab removed, so that a leak fails the verdict too.
	t.Cleanup(func() {
		r.verdict = "PASS"
		if t.Failed() {
			r.verdict = "FAIL"
		}
	})
	if sc.failback > 0 {
		r.notes = append(r.notes, "failback_delay "+secs(sc.failback))
	}
	c := newCluster(t, sc.shape, sc.failback)
	c.settle()
	sc.run(&qrun{t: t, c: c, r: r})
}

// qkill9Leader: the leader, srv1, is killed. The two others keep a
// majority: one of them stands after one to two heartbeat timeouts and is
// elected; if it is not the best node left (srv3, or the witness) it hands
// leadership to srv2 before it writes. srv2 writes the record once. The
// figure is kill → srv2 written, limit qlimit.
func qkill9Leader(x *qrun) {
	x.r.expected = fmt.Sprintf("srv2 ≤%s; 1w", secs(qlimit))
	x.t0 = x.c.m[0].kill9()
	at, ok := x.c.waitWrite(srv2, x.t0, qlimit+5*time.Second)
	x.measure(at, ok, qlimit, "srv2 wrote the record")
	if _, ok := x.c.waitLeader(1, 10*time.Second); !ok {
		x.errorf("srv2 does not lead after srv1's kill (leader %s)", x.c.leaderName())
	}
	time.Sleep(3 * time.Second)
	x.expect(srv2, []string{srv2})
}

// qsigstopLeader: the leader, srv1, hangs (SIGSTOP) for 30 s. As for a
// kill, srv2 is elected and writes the record once within qlimit. On
// SIGCONT srv1 believes for a moment that it still leads; it must not
// write: its leadership is not confirmed by a quorum round (the others
// are on a later term), so it steps down. It rejoins as a follower, and
// only once it has been healthy for failback_delay does srv2 hand it
// leadership, and srv1 writes the record back. Writes: srv2, then srv1
// not before failback_delay after SIGCONT.
func qsigstopLeader(x *qrun) {
	x.r.expected = fmt.Sprintf("srv2 ≤%s; resumed srv1 silent until failback_delay; 2w", secs(qlimit))
	x.t0 = x.c.m[0].stop()
	at, ok := x.c.waitWrite(srv2, x.t0, qlimit+5*time.Second)
	x.measure(at, ok, qlimit, "srv2 wrote the record")
	time.Sleep(time.Until(x.t0.Add(30 * time.Second)))
	tc := x.c.m[0].cont()
	// The resumed leader's moment: nothing it writes before the
	// failback is legitimate.
	fb, ok := x.c.waitWrite(srv1, tc, x.c.fb+20*time.Second)
	if !ok {
		x.errorf("srv1 did not take the record back within failback_delay + 20 s of SIGCONT")
	} else {
		x.note("back on srv1 %.1fs after SIGCONT", fb.Sub(tc).Seconds())
		if fb.Sub(tc) < x.c.fb-250*time.Millisecond {
			x.errorf("srv1 wrote %.2f s after SIGCONT, before failback_delay (%s): the resumed leader wrote", fb.Sub(tc).Seconds(), x.c.fb)
		}
	}
	if _, ok := x.c.waitLeader(0, 10*time.Second); !ok {
		x.errorf("srv1 does not lead after the failback (leader %s)", x.c.leaderName())
	}
	x.expect(srv1, []string{srv2, srv1})
	// By srv1's own log: one write since SIGCONT, the failback's.
	if w := x.c.m[0].moved(tc); len(w) != 1 || w[0].Sub(tc) < x.c.fb-250*time.Millisecond {
		x.errorf("srv1's writes since SIGCONT, by its log, at %v; want one, the failback's, not before failback_delay", offsets(w, tc))
	}
	if n := x.c.m[0].loggedCount("rate limited", tc) + x.c.m[0].loggedCount("too many handshakes", tc); n > 0 {
		x.note("resumed srv1 rejected the others' queued handshakes (rate limit)")
	}
}

// offsets are the times ts as seconds after t0.
func offsets(ts []time.Time, t0 time.Time) []string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%+.2fs", t.Sub(t0).Seconds()))
	}
	return out
}

// qcutLeader cuts the leader, srv1, off from the others for 15 s: both
// ways ("isolate"), or one way only: what it sends is dropped ("out"), or
// what it receives ("in"). Either way srv1 has no quorum (it cannot hear a
// majority's answers, or they cannot hear it), so it never writes; the
// two others, a majority, elect srv2, which writes the record once. For a
// one-way cut the limit is qlimit + 3 s: with "in", srv1 keeps sending
// heartbeats the others still receive until its leader lease runs out and
// it steps down. srv1, still reaching the fakes, alerts that it lost its
// quorum. Healed, srv1 rejoins and takes the record back after
// failback_delay. Writes: srv2, srv1.
func qcutLeader(kind string) func(x *qrun) {
	return func(x *qrun) {
		limit := qlimit
		if kind != "isolate" {
			limit += 3 * time.Second
		}
		x.r.expected = fmt.Sprintf("srv2 ≤%s, none by srv1; srv1 alerts quorum; healed: srv1 ≥failback_delay; 2w", secs(limit))
		var err error
		switch kind {
		case "isolate":
			err = x.c.lab.isolate(0)
		case "out":
			err = x.c.lab.dropOut(0)
		case "in":
			err = x.c.lab.dropIn(0)
		}
		x.t0 = x.fault(err)
		at, ok := x.c.waitWrite(srv2, x.t0, limit+5*time.Second)
		x.measure(at, ok, limit, "srv2 wrote the record")
		time.Sleep(time.Until(x.t0.Add(15 * time.Second)))
		x.noWritesBy(x.c.m[0], x.t0, "while cut off")
		if n := x.c.pushesFrom(x.c.m[0], "Quorum lost"); n != 1 {
			x.errorf("srv1's quorum-lost alerts while cut off: got %d, want 1", n)
		}
		th := x.fault(x.c.lab.heal())
		x.failback(th)
		x.expect(srv1, []string{srv2, srv1})
	}
}

// qcutFollower cuts srv3, a follower, off for 15 s. srv1 keeps its
// quorum with srv2 and keeps leading: nothing moves. srv3 alerts that it
// lost its quorum and, as its bids for election cannot reach anyone (and
// pre-vote keeps it from raising the term), rejoins without disturbing
// the leader. Writes: none.
func qcutFollower(x *qrun) {
	x.r.expected = "srv1 leads all along; srv3 alerts quorum; 0w"
	x.t0 = x.fault(x.c.lab.isolate(2))
	x.steady(0, 15*time.Second)
	if n := x.c.pushesFrom(x.c.m[2], "Quorum lost"); n != 1 {
		x.errorf("srv3's quorum-lost alerts: got %d, want 1", n)
	}
	th := x.fault(x.c.lab.heal())
	if !pairtest.Within(100*time.Millisecond, 15*time.Second, func() bool {
		st, err := x.c.m[2].status()
		return err == nil && st.Quorum && st.Leader == srv1
	}) {
		x.errorf("srv3 did not rejoin srv1 within 15 s of the heal")
	} else {
		x.r.secs = time.Since(th).Seconds()
		x.note("figure: heal → srv3 follows srv1")
	}
	x.steady(0, 3*time.Second)
	x.expect(srv1, nil)
}

// qcutNodesPath cuts the path between srv1 (the leader) and srv2 only,
// both ways; each still reaches the third member (the witness, or srv3).
// srv1 keeps a majority with the third member and keeps leading; srv2
// loses its leader and stands, but the third member, which hears its
// leader, refuses it its vote: nothing moves. srv2 alerts that it lost
// its quorum. Writes: none.
func qcutNodesPath(x *qrun) {
	x.r.expected = "srv1 leads all along; 0w"
	x.t0 = x.fault(x.c.lab.cutPath(0, 1))
	if n := x.steady(0, 20*time.Second); n > 0 {
		x.note("followers lost their leader %d times", n)
	}
	x.fault(x.c.lab.heal())
	x.steady(0, 5*time.Second)
	x.expect(srv1, nil)
}

// qwitnessLost: the witness is killed; the two nodes keep a majority and
// srv1 keeps leading: nothing moves, and nobody alerts (no member lost
// its quorum). Restarted with its state, the witness rejoins, without a
// write. The figure is restart → the witness follows srv1 with its
// quorum.
func qwitnessLost(x *qrun) {
	x.r.expected = "srv1 leads all along; no alert; restarted, rejoins; 0w 0p"
	w := x.c.m[2]
	x.t0 = w.kill9()
	x.steady(0, 15*time.Second)
	ts := time.Now()
	w.start()
	if !pairtest.Within(100*time.Millisecond, 20*time.Second, func() bool {
		st, err := w.status()
		return err == nil && st.Quorum && st.Leader == srv1
	}) {
		x.errorf("the witness did not rejoin srv1 within 20 s of its restart")
	} else {
		x.r.secs = time.Since(ts).Seconds()
		x.note("figure: restart → the witness follows srv1")
	}
	x.steady(0, 3*time.Second)
	x.expect(srv1, nil)
	if x.r.pushes != 0 {
		x.errorf("pushes: got %d, want none: no member lost its quorum", x.r.pushes)
	}
}

// qwitnessAndLeaderLost: the witness is killed, then the leader srv1.
// srv2 is left alone: it has no quorum, cannot tell a dead srv1 from a
// cut link, and writes nothing, so the record stays on srv1 (no automatic
// change). It alerts once, `quorum`, once its quorum has been missing for
// ten heartbeat timeouts (an ordinary failover's election is shorter). The
// figure is the kill of srv1 → the alert.
func qwitnessAndLeaderLost(x *qrun) {
	x.r.expected = "record stays srv1; srv2 alerts quorum once; 0w"
	x.c.m[2].kill9()
	time.Sleep(2 * time.Second)
	x.t0 = x.c.m[0].kill9()
	ok := pairtest.Within(50*time.Millisecond, 15*time.Second, func() bool { return x.c.pushesFrom(x.c.m[1], "Quorum lost") > 0 })
	var at time.Time
	for _, p := range x.c.pushes() {
		if sender(p.Title) == srv2 && strings.Contains(p.Title, "Quorum lost") {
			at = p.At
			break
		}
	}
	x.measure(at, ok, 12*lanHeartbeat+slack, "srv2 alerted quorum")
	time.Sleep(time.Until(x.t0.Add(20 * time.Second)))
	x.noWritesBy(x.c.m[1], x.t0, "alone")
	if n := x.c.pushesFrom(x.c.m[1], "Quorum lost"); n != 1 {
		x.errorf("srv2's quorum-lost alerts: got %d, want 1", n)
	}
	if st, err := x.c.m[1].status(); err != nil || st.Quorum || st.State == "Leader" {
		x.errorf("srv2 alone: status %+v, %v; want no quorum, not leading", st, err)
	}
	x.expect(srv1, nil)
}

// qrestartFollower: srv2, a follower, is killed and restarted 3 s later
// with its state. srv1 keeps its quorum with srv3 all along; srv2 waits a
// heartbeat timeout, then rejoins as a follower: no write, no leader
// change. The figure is restart → srv2 follows srv1.
func qrestartFollower(x *qrun) {
	x.r.expected = "srv1 leads all along; srv2 rejoins; 0w"
	m := x.c.m[1]
	x.t0 = m.kill9()
	time.Sleep(3 * time.Second)
	ts := time.Now()
	m.start()
	if !pairtest.Within(100*time.Millisecond, 20*time.Second, func() bool {
		st, err := m.status()
		return err == nil && st.Quorum && st.Leader == srv1
	}) {
		x.errorf("srv2 did not rejoin srv1 within 20 s of its restart")
	} else {
		x.r.secs = time.Since(ts).Seconds()
		x.note("figure: restart → srv2 follows srv1")
	}
	x.steady(0, 5*time.Second)
	x.noWritesBy(m, ts, "after its restart")
	x.expect(srv1, nil)
}

// qfailback, at the default failback_delay: srv1 is killed, srv2 takes
// the record; srv1 is restarted 5 s later with its state and, once it has
// been healthy and up to date for failback_delay, srv2 hands it
// leadership and srv1 writes the record back, once. The figure is
// restart → srv1 written; at least failback_delay, at most
// failback_delay + 10 s.
func qfailback(x *qrun) {
	x.r.expected = fmt.Sprintf("srv2; srv1 restarted: srv1 in [%s, %s]; 2w", secs(x.c.fb), secs(x.c.fb+10*time.Second))
	x.t0 = x.c.m[0].kill9()
	if _, ok := x.c.waitWrite(srv2, x.t0, qlimit+5*time.Second); !ok {
		x.errorf("srv2 did not write the record after srv1's kill")
	}
	time.Sleep(time.Until(x.t0.Add(5 * time.Second)))
	ts := time.Now()
	x.c.m[0].start()
	at, ok := x.c.waitWrite(srv1, ts, x.c.fb+20*time.Second)
	if !ok {
		x.errorf("srv1 did not take the record back within failback_delay + 20 s of its restart")
	} else {
		d := at.Sub(ts)
		x.r.secs = d.Seconds()
		x.note("figure: restart → srv1 written")
		if d < x.c.fb || d > x.c.fb+10*time.Second {
			x.errorf("srv1 took the record back %.2f s after its restart; want between failback_delay (%s) and 10 s more", d.Seconds(), x.c.fb)
		}
	}
	if _, ok := x.c.waitLeader(0, 10*time.Second); !ok {
		x.errorf("srv1 does not lead after the failback (leader %s)", x.c.leaderName())
	}
	x.expect(srv1, []string{srv2, srv1})
}

// qlossSoak drops pct % of every packet on the bridge, each path, each
// way, for d. Raft heartbeats every tenth of the heartbeat timeout and TCP
// resends what is lost, so at 10 % no follower should miss its leader for
// a whole timeout: no leader change, no write. The figure is the soak's
// length; the leader changes are reported.
func qlossSoak(pct int, d time.Duration) func(x *qrun) {
	return func(x *qrun) {
		x.r.expected = fmt.Sprintf("%d %% loss %s: no leader change; 0w", pct, secs(d))
		x.t0 = x.fault(x.c.lab.loss(pct))
		n := x.steady(0, d)
		x.fault(x.c.lab.heal())
		x.r.secs = time.Since(x.t0).Seconds()
		x.note("followers lost their leader %d times", n)
		for _, m := range x.c.m {
			if st, err := m.status(); err == nil && st.Counters.Writes > 0 && m.idx != 0 {
				x.errorf("%s counts %d writes", m.label, st.Counters.Writes)
			}
		}
		x.expect(srv1, nil)
	}
}

// leaderTrials runs n trials one after the other, each on a fresh
// cluster of shape sh: the leader, srv1, is killed (kind "kill9") or
// stopped ("sigstop"), and srv2 must write the record within qlimit, once.
func leaderTrials(t *testing.T, kind string, sh shape, n int) []*trial {
	out := make([]*trial, n)
	for i := range n {
		out[i] = &trial{limit: qlimit}
		t.Run(fmt.Sprintf("%02d", i+1), func(t *testing.T) { leaderTrial(t, kind, sh, out[i]) })
	}
	return out
}

func leaderTrial(t *testing.T, kind string, sh shape, tr *trial) {
	c := newCluster(t, sh, shortFailback)
	c.settle()
	// A random phase against the heartbeats.
	time.Sleep(rand.N(lanHeartbeat / 10))
	var t0 time.Time
	switch kind {
	case "kill9":
		t0 = c.m[0].kill9()
	case "sigstop":
		t0 = c.m[0].signal(syscall.SIGSTOP)
	default:
		t.Fatalf("unknown trial %q", kind)
	}
	at, ok := c.waitWrite(srv2, t0, qlimit+5*time.Second)
	if !ok {
		t.Errorf("%s: srv2 did not write the record within %s", kind, secs(qlimit+5*time.Second))
		return
	}
	tr.ok, tr.repoint = true, at.Sub(t0)
	// When srv2 learned of the new leader: its first "leader changed"
	// naming one (an empty leader= is srv2 losing the old one).
	for _, ln := range c.m[1].log.snapshot() {
		at, ok := logTime(ln.text)
		if ok && !at.Before(t0) && strings.Contains(ln.text, `msg="leader changed"`) && !strings.Contains(ln.text, `leader=""`) {
			tr.detect = at.Sub(t0)
			break
		}
	}
	if tr.repoint > tr.limit {
		t.Errorf("%s: srv2 wrote %.2f s after the fault, limit %s", kind, tr.repoint.Seconds(), secs(tr.limit))
	}
	time.Sleep(2 * time.Second)
	if w := c.writeContents(); !slices.Equal(w, []string{srv2}) {
		t.Errorf("%s: record writes %v, want one, to srv2", kind, shorts(w))
	}
}
