package sim

import (
	"slices"
	"time"

	"github.com/clooster/clooster/internal/failover"
)

// truth is what the simulator knows and the nodes do not: who is really
// alive, whether the link really carries frames, every write the API
// applied. The invariants (checks.go) are judged on it after every step.
type truth struct {
	w *World

	lastDown      [2]time.Time // the last step at which node i was not alive and serving
	lastRestart   [2]time.Time
	lastFrozen    [2]time.Time
	lastUnreached [2]time.Time // the last step at which node i's peer_check could not reach the peer's service
	checkOK       [2]bool      // the monitor's last check passed (true without health checks)
	monHealthy    [2]bool
	healthySince  [2]time.Time // both the monitor's verdict and its last check

	linkGoodSince time.Time // zero while the link does not carry frames both ways
	conn          *conn     // the connection both nodes use as their link, if any
	links         int       // connections the nodes came to use both as their link
	connSince     time.Time // since when they both use it
	connEnded     time.Time // when the last one stopped being both nodes' link
	lastSettled   time.Time // the last step at which the nodes' link had held for failback_delay
	settledAt     time.Time // when that link came to have held for failback_delay: the owner's failback fell due
	// dueAt: the last moment the owner's failback fell due on a link the
	// nodes used, as the other node judges it: its failback_delay after
	// the latest of the link's start, either node's return to health and
	// its own freeze (it cannot know of the owner's).
	dueAt       time.Time
	lastEdit    time.Time // the last outside edit, deletion or type change
	apiFaults   int
	apiFaultEnd time.Time // when the last API fault ended (far future while one is active)

	quietSince  time.Time // see checkPartition
	quietWrites int
	races       int // writes that raced: both nodes read before either wrote

	lastPush  [2]time.Time // node i's last alert
	firstRead [2]time.Time // node i's first read answered since it started
	calm      [2]time.Time // the last step at which node i saw no down episode
	deadWrite [2]time.Time // node i's last write of its own value while its service was down
	ownWrite  [2]time.Time // node i's last write of its own value
	expect    []*expectation
	stopAt    [2]time.Time // a SIGTERM not yet followed by the exit
	// handingTo is, while a node stops with a handover the peer can
	// take, the peer's value: the node may not exit before the record
	// holds it ("" for none).
	handingTo  [2]string
	rearmSince [2]time.Time
	// holdUntil: node i heard its peer's BYE(restart): it may not take
	// the record before then, unless the link is back first.
	holdUntil [2]time.Time
	// byeAt: when node i last heard its peer's BYE(restart), which makes
	// it read the record anew; readSinceBye: when the first read it asked
	// since was answered (zero while none).
	byeAt, readSinceBye [2]time.Time
	// holds counts the BYE(restart)s heard, back those whose link came
	// back within the grace; restartTakeovers the liveness bounds of a
	// restart not back in time, judged and kept.
	holds, back, restartTakeovers int
	reloads                       int // reloads applied

	// The pair's checks of itself (checks.go, "said once per episode",
	// "clocks", "a mismatch costs at most one write").
	open      [2]map[string]bool // the problems node i's process has raised and not cleared
	apiSound  [2]bool            // node i's last measurement of the API's clock was within its margin
	starts    []time.Time        // every process start
	lastCut   time.Time          // the last step at which either way of the link was cut
	mmOff     bool               // a premise of checkMismatchWrites broke
	mmWrites  int
	raised    map[string]int // problems raised, per kind
	misjudged int            // measurements of the API's clock beyond their margin (a slow answer)
	// forgedUntil: node i is sent forged evidence until then;
	// forgedTakeovers counts the liveness bounds judged (and kept) while
	// the survivor was.
	forgedUntil     [2]time.Time
	forgedTakeovers int
}

func newTruth(w *World) *truth {
	t := &truth{w: w, raised: map[string]int{}}
	for i := range 2 {
		t.checkOK[i], t.monHealthy[i] = true, true
		t.open[i], t.apiSound[i] = map[string]bool{}, true
	}
	return t
}

// up reports whether node i is alive and serving: its machine, its
// service and its clooster process all running.
func (t *truth) up(i int) bool {
	n := t.w.nodes[i]
	return n.machineUp && n.serviceUp && n.proc == procRunning
}

// linkGood reports whether the link carries frames both ways between two
// running processes that both use it.
func (t *truth) linkGood() bool {
	a, b := t.w.nodes[0], t.w.nodes[1]
	if a.proc != procRunning || b.proc != procRunning || a.cur == nil || b.cur == nil || a.cur.c != b.cur.c {
		return false
	}
	nw := t.w.net
	return a.cur.open && b.cur.open && !nw.cutWay(0) && !nw.cutWay(1)
}

// settledFor reports whether the link has been good for at least d.
func (t *truth) settledFor(d time.Duration) bool {
	return !t.linkGoodSince.IsZero() && t.w.now.Sub(t.linkGoodSince) >= d
}

func (t *truth) apiQuietFor(d time.Duration) bool {
	return t.apiFaults == 0 && t.w.now.Sub(t.apiFaultEnd) >= d
}

// observe updates what is tracked over time; it runs after every step.
func (t *truth) observe() {
	w := t.w
	for i := range 2 {
		if !t.up(i) {
			t.lastDown[i] = w.now
		}
		if w.nodes[i].proc == procFrozen {
			t.lastFrozen[i] = w.now
		}
		if !t.reachable(i) {
			t.lastUnreached[i] = w.now
		}
		if !t.monHealthy[i] || !t.checkOK[i] {
			t.healthySince[i] = time.Time{}
		} else if t.healthySince[i].IsZero() {
			t.healthySince[i] = w.now
		}
	}
	a, b := w.nodes[0], w.nodes[1]
	if a.cur != nil && b.cur != nil && a.cur.c == b.cur.c {
		if t.conn != a.cur.c {
			t.links++
			t.conn, t.connSince = a.cur.c, a.cur.linkedAt
			if b.cur.linkedAt.Before(t.connSince) {
				t.connSince = b.cur.linkedAt
			}
		}
	} else {
		if t.conn != nil {
			t.connEnded = w.now
		}
		t.conn = nil
	}
	if t.conn != nil && w.now.Sub(t.connSince) >= w.sc.FailbackDelay {
		t.lastSettled = w.now // the nodes' link has held for failback_delay: an episode ends
		t.settledAt = t.connSince.Add(w.sc.FailbackDelay)
	}
	if t.conn != nil && !t.healthySince[0].IsZero() && !t.healthySince[1].IsZero() {
		other := 1 - t.owner()
		from := latest(t.connSince, t.healthySince[0], t.healthySince[1], t.lastFrozen[other])
		if due := from.Add(w.nodes[other].cfg.FailbackDelay); !w.now.Before(due) { // its own, as reloaded
			t.dueAt = due
		}
	}
	if t.linkGood() {
		if t.linkGoodSince.IsZero() {
			t.linkGoodSince = w.now
			t.linkClocks()
		}
	} else {
		t.linkGoodSince = time.Time{}
	}
}

// Hooks from the parts.

func (t *truth) started(n *node) {
	t.lastRestart[n.i], t.firstRead[n.i] = t.w.now, time.Time{}
	t.starts = append(t.starts, t.w.now)
	t.open[n.i], t.apiSound[n.i] = map[string]bool{}, true // a new process: a new state
	t.holdUntil[n.i] = time.Time{}                         // it heard no BYE
	t.byeAt[n.i], t.readSinceBye[n.i] = time.Time{}, time.Time{}
}

// read: node n's read, asked at asked, was answered.
func (t *truth) read(n *node, asked time.Time) {
	if t.firstRead[n.i].IsZero() {
		t.firstRead[n.i] = t.w.now
	}
	if !t.byeAt[n.i].IsZero() && t.readSinceBye[n.i].IsZero() && !asked.Before(t.byeAt[n.i]) {
		t.readSinceBye[n.i] = t.w.now // a read asked before the BYE shows the record before it
	}
}

// restartHeard: node n heard its peer's BYE(restart) asking for grace.
func (t *truth) restartHeard(n *node, grace time.Duration) {
	t.holdUntil[n.i] = t.w.now.Add(min(grace, failover.MaxRestartGrace))
	t.byeAt[n.i], t.readSinceBye[n.i] = t.w.now, time.Time{}
	t.holds++
	// A re-armed bound begun as the peer fell silent, a moment before
	// its BYE arrived, begins again with the grace in it.
	t.rearmSince[n.i] = time.Time{}
}

// linkUp: node n's link came up; a restart's hold is over.
func (t *truth) linkUp(n *node) {
	if t.w.now.Before(t.holdUntil[n.i]) {
		t.back++
	}
	t.holdUntil[n.i] = time.Time{}
}

// exited is the end of node n's process, however it came: its exit, a
// crash or its machine's loss. A SIGTERM it got is over with it (a kill -9
// during the handover ends the stop as surely as the exit; the process its
// supervisor starts next has no stop under way).
func (t *truth) exited(n *node) {
	if v := t.handingTo[n.i]; v != "" && !t.recordIs(v) && t.w.now.Before(t.stopAt[n.i].Add(failover.HandoverLimit)) &&
		t.linkGood() && t.healthyFor(1-n.i, 0) && t.steady(t.stopAt[n.i]) {
		t.w.fail("handover", "%s exited %.3fs after SIGTERM while the record did not yet hold %s's value %q: it left the record on a stopped node",
			nodeName(n.i), t.w.since(t.stopAt[n.i]), nodeName(1-n.i), v)
	}
	t.stopAt[n.i], t.handingTo[n.i] = time.Time{}, ""
}

// notified is an alert of node n. Each names what it is about, so that a
// channel's events filter can pass it; "test" is notify-test's alone.
func (t *truth) notified(n *node, a failover.ActNotify) {
	if a.Event != failover.AlertMismatch {
		t.lastPush[n.i] = t.w.now // a withheld takeover's word (observeTold)
	}
	events := []string{a.Event}
	if a.Also != "" {
		events = append(events, a.Also)
	}
	for _, e := range events {
		if e == failover.AlertTest || !slices.Contains(failover.AlertEvents, e) {
			t.w.fail("alert events", "%s's alert %q has event %q, not one of %v", nodeName(n.i), a.Title, e, failover.AlertEvents[:len(failover.AlertEvents)-1])
		}
	}
}

func (t *truth) checked(n *node, passed bool) {
	t.checkOK[n.i] = passed
	t.monHealthy[n.i] = n.mon.Healthy
}

// healthyNode: its service up, its monitor healthy and its last check
// passed, for at least d.
func (t *truth) healthyFor(i int, d time.Duration) bool {
	return t.up(i) && !t.healthySince[i].IsZero() && t.w.now.Sub(t.healthySince[i]) >= d
}

// writing is node n's job issuing a write of content.
func (t *truth) writing(n *node, sj *simJob, content string) {
	t.checkFresh(n, sj)
	if content == n.value && (!t.checkOK[n.i] || !t.monHealthy[n.i]) {
		t.w.fail("never onto a dead service", "%s writes its own value %q while its monitor says unhealthy or its last check failed", nodeName(n.i), content)
	}
	if content == n.value && t.w.now.Before(t.holdUntil[n.i]) && sj.purpose == failover.Takeover {
		t.w.fail("restart hold", "%s takes the record %.3fs before the grace its restarting peer asked for is out, with no link back",
			nodeName(n.i), t.holdUntil[n.i].Sub(t.w.now).Seconds())
	}
}

// wrote is a write the API applied.
func (t *truth) wrote(wr apiWrite) {
	if wr.by == outsider || wr.late {
		// A write applied after its writer gave up on it is known to
		// nobody, like an operator's edit.
		t.lastEdit = t.w.now
	}
	if wr.by == outsider {
		return
	}
	if t.w.sc.Swap && !wr.swap {
		t.w.fail("compare and swap", "%s wrote %q (%s) unconditionally, with a provider that compares and swaps", nodeName(wr.by), wr.content, wr.purpose)
	}
	if n := t.w.nodes[wr.by]; wr.content == n.value {
		t.ownWrite[wr.by] = t.w.now
		if !n.serviceUp {
			t.deadWrite[wr.by] = t.w.now
		}
	}
	if sc := t.w.sc; t.w.nodes[wr.by].proc == procOff && wr.content != sc.Values[0] && wr.content != sc.Values[1] {
		// A write sent before its node crashed, landed after: the
		// survivor may read it and pause as for any record that points
		// at neither node.
		for _, e := range t.expect {
			if e.tie {
				e.deadline = later(e.deadline, t.w.now.Add(t.slack())).Add(sc.tiePause())
				e.tie = false
			}
		}
	}
	t.checkNoPingPong(wr)
	t.checkPartitionWrite(wr)
	t.checkQuietLink(wr)
	t.checkCorrection(wr)
	t.checkMismatchWrites(wr)
	t.checkNoFailback(wr)
}

// step runs every check that watches over time; it follows each step.
func (t *truth) step() {
	t.observe()
	t.observeQuiet()
	t.observeFailback()
	t.observeRearm()
	t.observeBeliefs()
	t.observeTold()
	t.observePair()
	t.checkExpectations()
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
