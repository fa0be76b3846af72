//go:build faults && linux

package faults

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slack is what a measured time may exceed its limit by: the API round
// trips of a takeover (a read and a write to the fake, a few ms) and
// scheduling on a busy CI machine. The detector itself may decide sooner
// than peer_timeout, never later (SPEC: peer_timeout).
const slack = time.Second

// goal is SPEC's aim for the defaults: "a silent peer repointed within 3 s".
// It is reported, not enforced: the defaults are still being measured.
const goal = 3 * time.Second

// shortFailback is the failback_delay of the scenarios whose subject is not
// the failback itself: the pair fails back within the scenario, and the
// failback check of the start (one read) is over before the fault.
const shortFailback = 5 * time.Second

// A scenario starts a fresh pair in its own lab, waits for the steady state,
// injects its fault and checks the outcome SPEC's Behaviour rules call for
// (worked out in each scenario's comment; where SPEC is silent, the comment
// says which outcome was chosen and why).
type scenario struct {
	name              string
	failback          time.Duration // 0: the default
	health, peerCheck bool          // see pairOpts
	set               bool          // see pairOpts
	run               func(x *run)
}

// run is one scenario in progress: its pair, the time the fault was
// injected and the row it reports.
type run struct {
	t   *testing.T
	p   *pair
	t0  time.Time
	r   *row
	rep *report
}

// The pair's effective peer_timeout and failback_delay.
func (x *run) pt() time.Duration { return x.p.tm.peerTimeout }
func (x *run) fb() time.Duration { return x.p.tm.failback }

// limit is the longest a silent or closed link may take to be acted on.
func (x *run) limit() time.Duration { return x.pt() + slack }

func (x *run) errorf(format string, args ...any) {
	x.t.Helper()
	x.t.Errorf(format, args...)
}

func (x *run) note(format string, args ...any) {
	x.r.notes = append(x.r.notes, fmt.Sprintf(format, args...))
}

func (x *run) kill(n *node) time.Time {
	x.t.Helper()
	return n.kill9()
}

func (x *run) fault(err error) time.Time {
	x.t.Helper()
	if err != nil {
		x.t.Fatal(err)
	}
	return time.Now()
}

func (x *run) sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

// measure records at-t0 as the scenario's figure and checks it against
// limit. ok false means it never happened: what is then the failure.
func (x *run) measure(at time.Time, ok bool, limit time.Duration, what string) {
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

// want is a scenario's final outcome: the record, the contents written in
// order, and how many pushes each node sent (by this_server).
type want struct {
	record string
	writes []string
	pushes map[string]int
}

// expect waits for the pushes to settle, then compares the outcome with w
// and checks that no process crashed and no secret was logged.
func (x *run) expect(w want) {
	x.t.Helper()
	x.p.quiet(2*time.Second, 20*time.Second)
	record := x.p.content()
	writes := x.p.writeContents()
	pushes := x.p.pb.Pushes()
	x.r.writes, x.r.pushes = len(writes), len(pushes)
	x.r.got = short(record)
	if record != w.record {
		x.errorf("record: got %s, want %s", record, w.record)
	}
	if !slices.Equal(writes, w.writes) {
		x.errorf("record writes: got %v, want %v", shorts(writes), shorts(w.writes))
	}
	bySender := make(map[string]int)
	for _, ps := range pushes {
		bySender[sender(ps.Title)]++
	}
	for _, name := range []string{srv1, srv2} {
		if bySender[name] != w.pushes[name] {
			var titles []string
			for _, ps := range pushes {
				titles = append(titles, fmt.Sprintf("%q", ps.Title))
			}
			x.errorf("pushes from %s: got %d, want %d (a push missing or duplicated); all pushes: %s",
				short(name), bySender[name], w.pushes[name], strings.Join(titles, ", "))
			break
		}
	}
	if n := bySender["?"]; n > 0 {
		x.errorf("%d pushes with a title that names no node", n)
	}
	if err := x.p.setWrites(); err != nil {
		x.errorf("%v", err)
	}
	x.checkHealth()
}

// checkHealth fails on a crash or a secret in a log.
func (x *run) checkHealth() {
	x.t.Helper()
	for _, n := range []*node{x.p.a, x.p.b} {
		for _, c := range n.crashes(x.t0) {
			x.errorf("crash: %s", c)
			x.note("crash")
		}
		for _, s := range x.p.secrets {
			if n.log.contains(s.Value) {
				x.errorf("node %s logged a secret", n.label)
			}
		}
	}
}

// row is one line of the report.
type row struct {
	order    int
	scenario string
	expected string
	got      string
	notes    []string
	secs     float64 // NaN: nothing to measure
	silent   bool    // the figure is a silent peer repointed, at the defaults: compared with the goal
	writes   int
	pushes   int
	verdict  string
}

// scenarios are the short profile, in report order.
func scenarios() []scenario {
	lossFor := time.Minute
	if long() {
		lossFor = 10 * time.Minute
	}
	s := []scenario{
		{name: "kill9-a", run: kill9A},
		{name: "kill9-b", run: kill9B},
		{name: "sigstop-a", failback: shortFailback, run: sigstopA},
		{name: "sigstop-b", failback: shortFailback, run: sigstopB},
		{name: "blackhole", failback: shortFailback, run: partition("blackhole")},
		{name: "oneway-a-to-b", failback: shortFailback, run: partition("a-to-b")},
		{name: "oneway-b-to-a", failback: shortFailback, run: partition("b-to-a")},
		{name: "tcp-reset", failback: shortFailback, run: partition("reset")},
	}
	for _, pct := range []int{10, 20, 30} {
		s = append(s, scenario{name: fmt.Sprintf("loss-%d%%", pct), run: lossSoak(pct, lossFor)})
	}
	return append(append(s,
		scenario{name: "api-500-burst", failback: shortFailback, run: api500},
		scenario{name: "api-429", failback: shortFailback, run: api429},
		scenario{name: "api-latency-5s", failback: shortFailback, run: apiLatency},
		scenario{name: "api-down-60s", failback: shortFailback, run: apiDown},
		scenario{name: "pushbullet-down", failback: shortFailback, run: pushbulletDown},
		scenario{name: "record-edited", failback: shortFailback, run: recordEdited},
		scenario{name: "restart-both", failback: shortFailback, run: restartBoth(false)},
		scenario{name: "crash-both", failback: shortFailback, run: restartBoth(true)},
		scenario{name: "flap-storm", run: flapStorm},
		// The same faults with a record set: every record moves, once.
		scenario{name: "set-kill9-a", set: true, run: kill9A},
		scenario{name: "set-sigstop-a", set: true, failback: shortFailback, run: sigstopA},
		scenario{name: "set-blackhole", set: true, failback: shortFailback, run: partition("blackhole")},
		scenario{name: "set-write-refused", set: true, run: setWriteRefused},
	), serviceScenarios()...)
}

// TestFaults runs every scenario once, in parallel, and prints the table;
// in the long profile it adds the loss soaks' 10 minutes and the repeated
// hang trials.
func TestFaults(t *testing.T) {
	requireEnv(t)
	rep := &report{}
	t.Run("scenario", func(t *testing.T) {
		for i, sc := range scenarios() {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				runScenario(t, rep, i, sc)
			})
		}
		if long() {
			trials := *flagTrials
			if trials <= 0 {
				trials = 20
			}
			for _, kind := range []string{"sigstop", "blackhole"} {
				t.Run("trials-"+kind, func(t *testing.T) {
					t.Parallel()
					rep.addTrials(kind, hangTrials(t, kind, pairOpts{}, trials))
				})
			}
		}
	})
	rep.print(t)
}

// runScenario runs sc in t; its row is complete when t ends.
func runScenario(t *testing.T, rep *report, order int, sc scenario) {
	r := &row{order: order, scenario: sc.name, secs: math.NaN()}
	rep.add(r)
	// Registered first, so it runs last: after the nodes are killed and
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
	if sc.health {
		r.notes = append(r.notes, "health.url")
	}
	if sc.peerCheck {
		r.notes = append(r.notes, "peer_check.url")
	}
	if sc.set {
		r.notes = append(r.notes, "records: A, AAAA, CNAME; writes are moves of the set")
	}
	p := newPair(t, pairOpts{failback: sc.failback, health: sc.health, peerCheck: sc.peerCheck, set: sc.set})
	p.settle()
	x := &run{t: t, p: p, r: r, rep: rep}
	sc.run(x)
}

// kill9A: the server, which the record points to, is killed. Its kernel
// closes the link, so B sees the link close at once (rule 3: the peer is
// down), re-reads the record and writes srv2; one push, from B. A is dead:
// no write, no push from it.
func kill9A(x *run) {
	x.r.expected = fmt.Sprintf("srv2 ≤%s; 1w 1p", secs(x.limit()))
	x.t0 = x.kill(x.p.a)
	at, ok := x.p.waitWrite(srv2, x.t0, x.limit()+5*time.Second)
	x.measure(at, ok, x.limit(), "B repointed the record")
	time.Sleep(3 * time.Second)
	x.expect(want{srv2, []string{srv2}, map[string]int{srv2: 1}})
}

// kill9B: the client dies. A sees the link close, re-reads the record,
// finds its own value: no write (rule 3), but one push announcing that B
// is down ("No record change is necessary"), as the original did. The
// figure is the time to that push.
func kill9B(x *run) {
	x.r.expected = fmt.Sprintf("srv1 kept, A announces ≤%s; 0w 1p", secs(x.limit()))
	x.t0 = x.kill(x.p.b)
	at, ok := x.p.waitPushes(1, x.limit()+5*time.Second)
	x.measure(at, ok, x.limit(), "A announced B down")
	time.Sleep(3 * time.Second)
	x.expect(want{srv1, nil, map[string]int{srv1: 1}})
}

// sigstopA: A hangs (SIGSTOP) for peer_timeout + 3 s. B hears nothing and,
// within peer_timeout, repoints to srv2 (rule 3); one push from B. On
// SIGCONT, A finds its own clock jumped: it was frozen, so it gives the link
// peer_timeout to come back and does not take the record back (rule 3); B
// redials, the link returns, and only failback_delay later does A, the
// preferred node, write srv1 (rule 4), with one push.
func sigstopA(x *run) {
	x.r.expected = fmt.Sprintf("srv2 ≤%s; after SIGCONT srv1 ≥failback_delay; 2w 2p", secs(x.limit()))
	x.r.silent = true
	x.t0 = x.p.a.stop()
	at, ok := x.p.waitWrite(srv2, x.t0, x.limit()+5*time.Second)
	x.measure(at, ok, x.limit(), "B repointed the record")
	x.sleepUntil(x.t0.Add(x.pt() + 3*time.Second))
	tc := x.p.a.cont()
	if _, ok := x.p.waitLinked(15 * time.Second); !ok {
		x.errorf("the link did not come back within 15 s of SIGCONT")
	}
	if fb, ok := x.p.waitWrite(srv1, tc, x.fb()+15*time.Second); !ok {
		x.errorf("A did not fail back within failback_delay + 15 s of SIGCONT")
	} else {
		x.note("failback %.1fs after SIGCONT", fb.Sub(tc).Seconds())
		if fb.Sub(tc) < x.fb()-250*time.Millisecond {
			x.errorf("A wrote srv1 %.2f s after SIGCONT, before failback_delay (%s): a frozen node took the record back", fb.Sub(tc).Seconds(), x.fb())
		}
	}
	x.expect(want{srv1, []string{srv2, srv1}, map[string]int{srv2: 1, srv1: 1}})
}

// sigstopB: B hangs. A declares it down within peer_timeout: the record is
// already A's, so no write, one push. On SIGCONT, B knows it was frozen and
// does not act (no srv2 write), relinks, and failback_delay later A, which
// had declared B down, announces it up: the failback finds the record
// right, so no write, one push (rule 5: one push per transition).
func sigstopB(x *run) {
	x.r.expected = fmt.Sprintf("srv1 kept, A announces ≤%s; B silent after SIGCONT; 0w 2p", secs(x.limit()))
	x.t0 = x.p.b.stop()
	at, ok := x.p.waitPushes(1, x.limit()+5*time.Second)
	x.measure(at, ok, x.limit(), "A announced B down")
	x.sleepUntil(x.t0.Add(x.pt() + 3*time.Second))
	x.p.b.cont()
	if _, ok := x.p.waitLinked(15 * time.Second); !ok {
		x.errorf("the link did not come back within 15 s of SIGCONT")
	}
	if _, ok := x.p.waitPushes(2, x.fb()+15*time.Second); !ok {
		x.errorf("A did not announce B up within failback_delay + 15 s of SIGCONT")
	}
	x.expect(want{srv1, nil, map[string]int{srv1: 2}})
}

// partition cuts the link, both ways (blackhole), one way, or with TCP
// resets, and heals it: for the blackhole and the one-way drops after
// peer_timeout + 6 s, for the resets after 3 s.
//
// Both nodes are alive, but neither can tell a partition from a dead peer
// without peer_check (not configured here). B, which loses the node the
// record points to, must repoint to srv2 (rule 3) within peer_timeout: in
// the blackhole it hears nothing; a one-way drop stalls TCP both ways (the
// data or its acknowledgements are lost), so both sides hear nothing; with
// resets the link closes. A may not
// write while the partition lasts: the record already held its value when
// it lost the link, and overwriting B's takeover would be the two nodes
// writing the record alternately (SPEC, split-brain guard: "In no
// partition, symmetric or one-way, do the two nodes write the record
// alternately"). Chosen, as SPEC is silent on it: A still sends its "B is
// down, no record change" push, as for a dead B, since from A's side it is
// the same transition. Once healed, the link returns and failback_delay
// later A writes srv1 back with one push. In all: writes srv2 then srv1,
// pushes two from A and one from B.
func partition(kind string) func(x *run) {
	return func(x *run) {
		hold := x.pt() + 6*time.Second
		if kind == "reset" {
			hold = 3 * time.Second
		}
		// A reset lands while the command runs (on a busy machine B may
		// repoint the record before it returns): its time is taken
		// before; a cut holds from the command's end.
		start := time.Now()
		err := x.p.lab.cut(kind)
		x.r.expected = fmt.Sprintf("srv2 by B ≤%s, none by A; healed: srv1 ≥failback_delay; 2w 3p", secs(x.limit()))
		x.r.silent = kind == "blackhole"
		x.t0 = x.fault(err)
		if kind == "reset" {
			x.t0 = start
		}
		at, ok := x.p.waitWrite(srv2, x.t0, x.limit()+5*time.Second)
		x.measure(at, ok, x.limit(), "B repointed the record")
		x.sleepUntil(x.t0.Add(hold))
		during := x.p.writeContents()
		if !slices.Equal(during, []string{srv2}) {
			x.errorf("while partitioned the record was written %v; want only B's takeover [srv2]: no alternating writes", shorts(during))
			x.note("partitioned: %s", strings.Join(shorts(during), ","))
		}
		th := x.fault(x.p.lab.heal())
		tl, ok := x.p.waitLinked(20 * time.Second)
		if !ok {
			x.errorf("the link did not come back within 20 s of healing")
		}
		if x.p.content() == srv1 {
			// Already back (see above): let a failback check pass.
			x.sleepUntil(tl.Add(x.fb() + 2*time.Second))
		} else if _, ok := x.p.waitWrite(srv1, th, x.fb()+20*time.Second); !ok {
			x.errorf("A did not fail back within failback_delay + 20 s of healing")
		}
		x.expect(want{srv1, []string{srv2, srv1}, map[string]int{srv1: 2, srv2: 1}})
	}
}

// lossSoak drops pct % of the link's packets at random, each way, for d,
// then heals. Both nodes are alive all along, so the correct outcome is no
// failover at all: no write, no push. (TCP resends a lost segment after
// 200 ms, linearly for the first tries on a thin stream; whether random
// loss ever stalls the stream for peer_timeout, and what the detector then
// does, is what this measures.) The figure is the soak's length; the link
// drops and false failovers are reported.
//
// The goal (issue: zero failovers at 10 %) is enforced at 10 %; 20 and
// 30 % are reported, not judged, as the trade-off table does. At those
// levels the scenario fails only on what no loss excuses: a crash, a
// record that does not end on srv1 once failback_delay has passed, or a
// record moved more than once per link drop (writes alternating between
// live nodes).
func lossSoak(pct int, d time.Duration) func(x *run) {
	return func(x *run) {
		judged := pct <= 10
		x.r.expected = "srv1 kept, no failover; 0w 0p"
		if !judged {
			x.r.expected = "reported: false failovers, link drops; srv1 in the end"
		}
		x.t0 = x.fault(x.p.lab.loss(pct))
		time.Sleep(d)
		x.fault(x.p.lab.heal())
		time.Sleep(3 * time.Second)
		x.r.secs = d.Seconds()
		drops := len(x.p.b.log.events("link_down", x.t0))
		x.note("%d link drops", drops)
		failovers := 0
		for _, w := range x.p.writeContents() {
			if w == srv2 {
				failovers++
			}
		}
		x.rep.addSoak(&soakResult{pct: pct, dur: d, drops: drops, failovers: failovers})
		if _, ok := x.p.waitLinked(10 * time.Second); !ok {
			x.errorf("the link is not up 10 s after the loss ended")
		}
		if judged {
			x.expect(want{srv1, nil, nil})
			return
		}
		x.note("report only")
		if failovers > 0 {
			x.note("%d false failovers", failovers)
			for deadline := time.Now().Add(x.fb() + 15*time.Second); x.p.content() != srv1 && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
		}
		x.p.quiet(2*time.Second, 20*time.Second)
		writes := x.p.writeContents()
		x.r.writes, x.r.pushes, x.r.got = len(writes), len(x.p.pb.Pushes()), short(x.p.content())
		if c := x.p.content(); c != srv1 {
			x.errorf("record %s after the loss and failback_delay, want srv1", c)
		}
		if len(writes) > 2*max(drops, 1) {
			x.errorf("%d record writes for %d link drops: the record moved more than once per drop", len(writes), drops)
		}
		x.checkHealth()
	}
}

// api500: the takeover meets a burst of five 500s. B backs off (rule 6:
// capped exponential backoff with jitter) and succeeds on the sixth
// attempt. Pushes (rule 5): one when the first attempt fails, one "record
// update delayed" when it succeeds, both from B.
func api500(x *run) {
	const burst = 5
	limit := x.limit() + 16*time.Second // five backoffs: 7.75 s at clooster's 250 ms doubling, twice that allowed
	x.r.expected = fmt.Sprintf("srv2 ≤%s after %d×500, backing off; 1w 2p", secs(limit), burst)
	x.p.cf.FailNext(burst, 500)
	x.t0 = x.kill(x.p.a)
	at, ok := x.p.waitWrite(srv2, x.t0, limit+5*time.Second)
	x.measure(at, ok, limit, "B repointed the record")
	var failed []time.Time
	for _, r := range x.p.cf.Requests() {
		if r.Status == 500 {
			failed = append(failed, r.At)
		}
	}
	if len(failed) != burst {
		x.errorf("%d requests answered 500, want the whole burst of %d", len(failed), burst)
	}
	for i := 1; i < len(failed); i++ {
		if gap := failed[i].Sub(failed[i-1]); gap < 100*time.Millisecond {
			x.errorf("retry %d came %s after the previous 500: no backoff", i, gap)
		}
	}
	time.Sleep(2 * time.Second)
	x.expect(want{srv2, []string{srv2}, map[string]int{srv2: 2}})
}

// api429: the takeover's first request is answered 429 with Retry-After:
// 5. B waits at least that long (rule 6), then repoints. Two pushes from
// B, as for any failed then successful update.
func api429(x *run) {
	const retryAfter = 5 * time.Second
	limit := x.limit() + retryAfter + 2*time.Second
	x.r.expected = fmt.Sprintf("srv2 ≤%s, next try ≥5s after the 429; 1w 2p", secs(limit))
	x.p.cf.RateLimitNext(1, retryAfter)
	x.t0 = x.kill(x.p.a)
	at, ok := x.p.waitWrite(srv2, x.t0, limit+5*time.Second)
	x.measure(at, ok, limit, "B repointed the record")
	reqs := x.p.cf.Requests()
	for i, r := range reqs {
		if r.Status != 429 {
			continue
		}
		if i+1 >= len(reqs) {
			x.errorf("no request after the 429")
			break
		}
		gap := reqs[i+1].At.Sub(r.At)
		x.note("retried after %.1fs", gap.Seconds())
		if gap < retryAfter-50*time.Millisecond {
			x.errorf("retried %.2f s after a 429 with Retry-After: %d", gap.Seconds(), int(retryAfter.Seconds()))
		}
		break
	}
	time.Sleep(2 * time.Second)
	x.expect(want{srv2, []string{srv2}, map[string]int{srv2: 2}})
}

// apiLatency: every API answer takes 5 s. The takeover's read and write
// each wait 5 s but succeed: a slow API is not a failed one, so no failure
// push, one push from B once the record is repointed.
func apiLatency(x *run) {
	const lat = 5 * time.Second
	limit := x.limit() + 2*lat + slack
	x.r.expected = fmt.Sprintf("srv2 ≤%s (read + write at 5s each); 1w 1p", secs(limit))
	x.p.cf.SetLatency(lat)
	x.t0 = x.kill(x.p.a)
	at, ok := x.p.waitWrite(srv2, x.t0, limit+10*time.Second)
	x.measure(at, ok, limit, "B repointed the record")
	x.p.cf.SetLatency(0)
	time.Sleep(2 * time.Second)
	x.expect(want{srv2, []string{srv2}, map[string]int{srv2: 1}})
}

// apiDown: A is killed; B's takeover read is held 2 s by the API, which
// then goes down (every connection dropped, the held read included) for
// 60 s: the failover is in its middle. B keeps retrying with capped
// backoff without crashing (rules 1, 6) and repoints soon after the API is
// back. Chosen, as SPEC gives no cap: within 10 s of the API's return
// (clooster's backoff is capped at 8 s). Two pushes from B: the first
// failure, then "record update delayed".
func apiDown(x *run) {
	const down = 60 * time.Second
	x.r.expected = "srv2 ≤10s after the API is back; 1w 2p"
	x.p.cf.SetLatency(2 * time.Second)
	x.t0 = x.kill(x.p.a)
	deadline := time.Now().Add(x.limit())
	for len(x.p.cf.Requests()) == 0 || x.p.cf.Requests()[len(x.p.cf.Requests())-1].At.Before(x.t0) {
		if time.Now().After(deadline) {
			x.t.Fatalf("B made no API request within %s of A's death", secs(x.limit()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	x.p.cf.SetDown(true)
	x.p.cf.SetLatency(0)
	time.Sleep(down)
	x.p.cf.SetDown(false)
	up := time.Now()
	at, ok := x.p.waitWrite(srv2, x.t0, 30*time.Second)
	if !ok {
		x.errorf("B did not repoint within 30 s of the API's return")
	} else {
		x.r.secs = at.Sub(x.t0).Seconds()
		x.note("%.1fs after the API returned", at.Sub(up).Seconds())
		if at.Sub(up) > 10*time.Second {
			x.errorf("B repointed %.1f s after the API returned, limit 10 s", at.Sub(up).Seconds())
		}
		if at.Before(up) {
			x.errorf("a write went through while the API was down")
		}
	}
	if st := x.p.cf.Stats(); st.Dropped < 2 {
		x.errorf("the API dropped %d connections: B did not keep retrying while it was down", st.Dropped)
	}
	time.Sleep(2 * time.Second)
	x.expect(want{srv2, []string{srv2}, map[string]int{srv2: 2}})
}

// pushbulletDown: Pushbullet drops every connection when A is killed. The
// record update does not wait for the push (rule 5: pushes never delay a
// record update): srv2 as fast as with Pushbullet up. Pushbullet comes back
// 2 s after the write; the push, retried (rule 5), arrives exactly once.
func pushbulletDown(x *run) {
	x.r.expected = fmt.Sprintf("srv2 ≤%s; push delivered once after PB returns; 1w 1p", secs(x.limit()))
	x.p.pb.SetDown(true)
	x.t0 = x.kill(x.p.a)
	at, ok := x.p.waitWrite(srv2, x.t0, x.limit()+5*time.Second)
	x.measure(at, ok, x.limit(), "B repointed the record")
	for deadline := time.Now().Add(5 * time.Second); x.p.pb.Stats().Dropped == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			x.errorf("B did not try to push within 5 s of the write")
			break
		}
	}
	x.sleepUntil(at.Add(2 * time.Second))
	x.p.pb.SetDown(false)
	if _, ok := x.p.waitPushes(1, 20*time.Second); !ok {
		x.errorf("the push was lost: not delivered within 20 s of Pushbullet's return")
	}
	x.note("%d push attempts dropped", x.p.pb.Stats().Dropped)
	x.expect(want{srv2, []string{srv2}, map[string]int{srv2: 1}})
}

// recordEdited: an operator points the record at srv2 by hand while both
// nodes are up. Chosen, as SPEC only says drift checks "catch outside
// edits" (every 5 min by default): for 5 s nothing is written. Then B, to
// which the record now points, is killed: A must re-read the record (rule
// 3) rather than trust what it last saw, find srv2 and write srv1; one push
// from A.
func recordEdited(x *run) {
	x.r.expected = fmt.Sprintf("edit kept 5s; B killed: srv1 ≤%s; 1w 1p", secs(x.limit()))
	x.p.cf.SetContent(x.p.rid, srv2)
	time.Sleep(5 * time.Second)
	if w, ps := x.p.writeContents(), x.p.pb.Pushes(); len(w) > 0 || len(ps) > 0 {
		x.errorf("within 5 s of an outside edit in steady state: writes %v, %d pushes", shorts(w), len(ps))
	}
	x.t0 = x.kill(x.p.b)
	at, ok := x.p.waitWrite(srv1, x.t0, x.limit()+5*time.Second)
	x.measure(at, ok, x.limit(), "A repointed the record")
	time.Sleep(2 * time.Second)
	x.expect(want{srv1, []string{srv1}, map[string]int{srv1: 1}})
}

// setWriteRefused: the API refuses every write of the set's AAAA record
// (an invalid content, a locked record) when A is killed. B moves the A
// record and the CNAME at once, and keeps retrying the AAAA record; once
// the API takes it, 10 s later, the whole set points to B. Two pushes from
// B: the update failing (naming the record and the API's error), then
// done, late.
func setWriteRefused(x *run) {
	x.r.expected = fmt.Sprintf("A and CNAME srv2 ≤%s, AAAA once accepted; 1 move 2p", secs(x.limit()))
	aaaa := x.p.set[1]
	x.p.cf.RefuseWrites(aaaa.id, true)
	x.t0 = x.kill(x.p.a)
	moved := func() bool {
		return x.p.cf.Record(x.p.set[0].id).Content == x.p.set[0].b && x.p.cf.Record(x.p.set[2].id).Content == x.p.set[2].b
	}
	deadline := time.Now().Add(x.limit() + 5*time.Second)
	for !moved() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var at time.Time
	for _, w := range x.p.cf.Writes() {
		at = w.At
	}
	x.measure(at, moved(), x.limit(), "B moved the A record and the CNAME")
	time.Sleep(10 * time.Second)
	if c := x.p.cf.Record(aaaa.id).Content; c != aaaa.a {
		x.errorf("the refused AAAA record holds %s", c)
	}
	x.p.cf.RefuseWrites(aaaa.id, false)
	if _, ok := x.p.waitWrite(srv2, x.t0, 20*time.Second); !ok {
		x.errorf("the AAAA record did not follow within 20 s of the API taking it")
	}
	x.expect(want{srv2, []string{srv2}, map[string]int{srv2: 2}})
	if ps := x.p.pb.Pushes(); len(ps) == 0 || !strings.Contains(ps[0].Body, "example.com AAAA") {
		x.errorf("the first push does not name the refused record")
	}
}

// restartBoth stops both nodes at once, with SIGTERM (an operator restarting
// both) or by freezing then killing both (a crash of both), and starts both
// again at once. SIGTERM: each exits 0 within 2 s (rule 7). They link again
// before either's peer_timeout since start runs out (rule 1), so neither
// acts: no write, no push, not even from the failback check. Chosen, as
// SPEC is silent: a node that is itself stopping does not act on its
// peer's goodbye, and handover_on_stop has no linked, healthy peer to hand
// the record to when both stop at once. The figure is the time from the
// restart to the link.
func restartBoth(crash bool) func(x *run) {
	return func(x *run) {
		x.r.expected = fmt.Sprintf("linked ≤%s of the restart, srv1 kept; 0w 0p", secs(x.pt()))
		if crash {
			x.p.a.stop()
			x.p.b.stop()
			x.t0 = time.Now()
			x.kill(x.p.a)
			x.kill(x.p.b)
		} else {
			x.t0 = x.p.a.signal(syscall.SIGTERM)
			x.p.b.signal(syscall.SIGTERM)
			for _, n := range []*node{x.p.a, x.p.b} {
				if err := n.wait(5 * time.Second); err != nil {
					x.t.Fatal(err)
				}
				code, took := n.exit(x.t0)
				x.note("%s exit %d in %.2fs", n.label, code, took.Seconds())
				if code != 0 {
					x.errorf("node %s exited %d on SIGTERM, want 0", n.label, code)
				}
				if took > 2*time.Second {
					x.errorf("node %s took %.2f s to stop on SIGTERM, limit 2 s", n.label, took.Seconds())
				}
			}
		}
		x.p.startBoth()
		ts := time.Now()
		tl, ok := x.p.waitLinked(x.pt())
		if !ok {
			x.errorf("not linked within peer_timeout (%s) of the restart", x.pt())
			tl = time.Now()
		} else {
			x.r.secs = tl.Sub(ts).Seconds()
		}
		x.sleepUntil(tl.Add(x.fb() + 2*time.Second))
		x.expect(want{srv1, nil, nil})
	}
}

// flapStorm: A, the primary, crashes and is restarted at once, 10 times in
// 60 s, at the default failback_delay. The first crash makes B repoint
// (one write, one push). Each restarted A links again within peer_timeout
// of its start, so it never acts; each later crash finds B's record
// already right and B's peer already declared down, so no write and no
// push (rule 5: one push per transition, and A was never declared up
// again). The link never stays up for failback_delay during the storm; it
// does after the last restart, when A writes srv1 back with one push. The
// figure is the time from the last restart to that failback.
func flapStorm(x *run) {
	const restarts, every = 10, 6 * time.Second
	x.r.expected = "1 takeover, no write during the storm; srv1 ≥failback_delay after; 2w 2p"
	x.t0 = time.Now()
	for i := range restarts {
		x.sleepUntil(x.t0.Add(time.Duration(i) * every))
		x.kill(x.p.a)
		x.p.a.start()
		if _, ok := x.p.waitLinked(x.pt()); !ok {
			x.errorf("restart %d: A not linked within peer_timeout of its start", i+1)
		}
	}
	x.sleepUntil(x.t0.Add(restarts * every))
	if w := x.p.writeContents(); !slices.Equal(w, []string{srv2}) {
		x.errorf("during the storm the record was written %v; want only B's first takeover [srv2]", shorts(w))
	}
	last := x.p.a.cur().Started
	fb, ok := x.p.waitWrite(srv1, last, x.fb()+15*time.Second)
	if !ok {
		x.errorf("no failback within failback_delay + 15 s of the last restart")
	} else {
		x.r.secs = fb.Sub(last).Seconds()
		if fb.Sub(last) < x.fb() {
			x.errorf("failback %.1f s after the last restart, before failback_delay (%s)", fb.Sub(last).Seconds(), x.fb())
		}
	}
	x.expect(want{srv1, []string{srv2, srv1}, map[string]int{srv2: 1, srv1: 1}})
}

func shorts(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = short(n)
	}
	return out
}

func secs(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", d.Seconds()), "0"), ".") + "s"
}
