package sim

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

// The invariants of docs/WRITE-RULE.md, judged on the ground truth. Each
// names the property it checks; a violation stops the run.

// clockMargin is how far a node's reading of a change stamp may be off:
// the rule's margin and the conversion's second.
const clockMargin = 3 * time.Second

// slack is what the bounds allow for the simulated network and API on
// top of the rule's own timings.
func (t *truth) slack() time.Duration {
	sc := t.w.sc
	return 4*(sc.APILatency+sc.APILatency/2) + 2*(sc.NetDelay+sc.NetJitter) + 500*time.Millisecond
}

// checkNoPingPong: a node never overwrites the peer's write of the same
// down episode while the peer stayed alive. It may when the peer went
// down since its write (crashed, frozen, stopped, its machine or service
// down), when the writer restarted since (it cannot know), or when the
// link has held for failback_delay since (a new episode: failback). A
// write the peer decided on a settled link, before either node dropped
// it, belongs to that link, and so does one made on a live link (a health
// move, a handover, a failback): the first write of the partition that
// follows may replace it. An operator's edit the writer had not read puts
// it aside: both nodes may then write once (undated, an edit that ends
// where it began looks like no change). The rest are the limits that
// docs/WRITE-RULE.md states.
func (t *truth) checkNoPingPong(wr apiWrite) {
	ws := t.w.dns.writes
	if len(ws) < 2 {
		return
	}
	prev := ws[len(ws)-2]
	if prev.by == outsider || prev.by == wr.by || wr.before != prev.content || wr.content == prev.content {
		return
	}
	if raced(wr, prev) {
		// The writer read before the peer's write landed: the two raced,
		// each on a fresh read (checkFresh). Only a provider that
		// compares and swaps can rule that out; see WRITE-RULE.md.
		if t.w.sc.Swap && overlap(wr, prev) {
			t.w.fail("compare and swap", "%s's write of %q raced %s's write of %.3fs, with a provider that compares and swaps",
				nodeName(wr.by), wr.content, nodeName(prev.by), t.w.since(prev.at))
			return
		}
		t.races++
		t.checkTie(wr, prev)
		return
	}
	if t.excused(wr, prev) {
		return
	}
	t.w.fail("no ping-pong", "%s wrote %q (%s) over %s's %q of %.3fs, and %s stayed alive",
		nodeName(wr.by), wr.content, wr.purpose, nodeName(prev.by), prev.content, t.w.since(prev.at), nodeName(prev.by))
}

// overlap reports whether wr and prev changed a record in common: the
// only writes a provider that compares and swaps each record keeps from
// racing (two writes to other records of one set each find their record
// as read).
func overlap(wr, prev apiWrite) bool {
	a, b := strings.Split(wr.content, recordset.Sep), strings.Split(wr.before, recordset.Sep)
	c, d := strings.Split(prev.content, recordset.Sep), strings.Split(prev.before, recordset.Sep)
	if len(a) != len(b) || len(c) != len(d) || len(a) != len(c) {
		return true
	}
	for i := range a {
		if a[i] != b[i] && c[i] != d[i] {
			return true
		}
	}
	return false
}

// raced reports whether wr was decided on a read that showed the record
// as before prev, the write it replaced, landed: the two raced. A stale
// read (the API's reads lag its writes by under a second: StaleReads)
// shows it as before, though served after. A write that timed out and
// landed late was decided on the read before it was sent, whatever its
// job read since.
func raced(wr, prev apiWrite) bool {
	return wr.job != nil && wr.decidedOn.Before(prev.at)
}

// excused reports whether wr, a write over prev of the other node, is
// one of the cases checkNoPingPong allows.
func (t *truth) excused(wr, prev apiWrite) bool {
	switch {
	case t.lastDown[prev.by].After(prev.at),
		t.lastRestart[wr.by].After(prev.at),
		prev.at.Sub(t.lastRestart[wr.by]).Abs() < clockMargin, // at its start, the writer cannot date the peer's write
		t.stopAt[prev.by].After(prev.at),                      // the peer is stopping and hands the record over
		t.w.sc.PeerCheck[wr.by] && t.unreachedSince(wr),       // the writer's peer_check found the peer's service gone
		t.lastSettled.After(prev.at),
		t.lastEdit.After(t.lastSettled) && !t.lastEdit.After(prev.at),                               // outside edits aside
		wr.job != nil && t.lastEdit.After(wr.job.knownAt) && !t.lastEdit.After(prev.at),             // an edit the writer had not read
		t.w.sc.NoModified && t.landedUnknown(wr, prev.at),                                           // its own write landed unknown; undated, the peer's change back looks like none
		t.w.sc.NoModified && t.firstRead[wr.by].After(prev.at),                                      // started before the peer's write, first read after it: undated, it is what it started into
		t.w.sc.NoModified && t.byeAt[wr.by].Before(prev.at) && t.readSinceBye[wr.by].After(prev.at), // likewise since the peer's BYE(restart), which voids what it knew
		t.calm[wr.by].After(prev.at),                                                                // the writer saw the link hold failback_delay since: a new episode, as it saw it
		prev.linked && prev.purpose != failover.Takeover && prev.purpose != failover.Correction,
		prev.job != nil && !prev.job.readAt.After(t.lastSettled), // decided on a settled link, before either node dropped it
		t.failbackLike(prev),
		t.inFailbackWindow(wr, prev),
		t.agreedSince(wr, prev),
		t.tookBackUnseen(wr, prev):
		return true
	}
	return false
}

// tookBackUnseen reports whether prev, the owner's write, put back what the
// record held before the owner's own failback to a preferred value of
// neither node (a load balancer), which the writer of wr never learned of
// (the link broke first): the record is again what the writer knew, and,
// undated or stamped within the stamps' margin of what it knew, or of the
// link's last good moment if later (the rule dates a change from the later
// of the two), looks unchanged (WRITE-RULE.md, limits: the owner's
// takeover just after its failback).
func (t *truth) tookBackUnseen(wr, prev apiWrite) bool {
	ws := t.w.dns.writes
	if len(ws) < 3 || wr.job == nil || prev.by != t.owner() {
		return false
	}
	fb := ws[len(ws)-3]
	sc := t.w.sc
	return fb.by == prev.by && fb.purpose == failover.Failback && fb.content == sc.Preferred &&
		sc.Preferred != sc.Values[0] && sc.Preferred != sc.Values[1] && fb.before == prev.content &&
		wr.job.knownAt.Before(fb.at) && (sc.NoModified || prev.at.Sub(latest(wr.job.knownAt, wr.job.since)) < clockMargin)
}

// failbackLike reports whether wr is the owner's write of the preferred
// value decided within a peer_timeout of the link's holding for
// failback_delay, or landed in the window in which the failback that fell
// due then, or when both nodes had been healthy for failback_delay on the
// link, may still land (decided when due, written on a fresh read, within
// an API timeout; and the stamps' margin): the other node cannot tell it
// from that failback, and may write once over it (WRITE-RULE.md, limits;
// the rule's window is failover's AlsoFrom..AlsoUntil).
func (t *truth) failbackLike(wr apiWrite) bool {
	window := failover.FreshRead + failover.APITimeout + clockMargin
	within := func(due time.Time) bool {
		return !due.IsZero() && !wr.at.Before(due) && wr.at.Sub(due) <= window
	}
	return wr.by == t.owner() && wr.content == t.w.sc.Preferred && wr.job != nil &&
		(t.lastSettled.After(wr.job.readAt.Add(-t.w.sc.PeerTimeout)) || within(t.settledAt) || within(t.dueAt))
}

// agreedSince reports whether the writer of wr agreed with the peer on the
// record, on a link both used, after prev landed: its base is then the
// record as agreed (the link known good, WRITE-RULE.md "After a loss"),
// and its takeover once the link is lost again is the first write over
// that base, though the brief link did not end the episode.
func (t *truth) agreedSince(wr, prev apiWrite) bool {
	j := wr.job
	return j != nil && j.since.After(prev.at) && !j.since.Before(t.connSince.Add(-clockMargin))
}

// inFailbackWindow reports whether prev, the owner's write of the preferred
// value, landed in the window of the owner's failback that the writer of
// wr judged due as the link broke (the rule's AlsoFrom..AlsoUntil, and
// the stamps' margin), at a moment the nodes' last link still held: from
// what the writer heard, the owner's failback may have landed then, and
// the writer takes the record again (WRITE-RULE.md, limits). failbackLike
// judges the same on the ground truth; this is for a writer whose word
// from the owner came late (a slow network) or was the owner's last.
func (t *truth) inFailbackWindow(wr, prev apiWrite) bool {
	j := wr.job
	if j == nil || j.alsoFrom.IsZero() || prev.by != t.owner() || prev.content != t.w.sc.Preferred {
		return false
	}
	heldThen := !j.alsoFrom.Before(t.connSince.Add(-clockMargin)) && (t.conn != nil || !j.alsoFrom.After(t.connEnded.Add(clockMargin)))
	return heldThen && !prev.at.Before(j.alsoFrom.Add(-clockMargin)) && !prev.at.After(j.alsoUntil.Add(clockMargin))
}

// landedUnknown reports whether the writer of wr wrote before at, after
// what it knew when it decided wr or since the link was last good (the
// base it judges against), and its answer was lost: it does not know its
// write landed.
func (t *truth) landedUnknown(wr apiWrite, at time.Time) bool {
	if wr.job == nil {
		return false
	}
	from := wr.job.knownAt.Add(-time.Second)
	if s := wr.job.since; !s.IsZero() && s.Before(from) {
		from = s
	}
	for _, w := range t.w.dns.writes {
		if w.by == wr.by && w.lost && w.at.Before(at) && !w.at.Before(from) {
			return true
		}
	}
	return false
}

// quiet is a partition between two live, healthy nodes with nothing else
// going on: the API answers and nobody edits the record.
func (t *truth) quiet() bool {
	w := t.w
	if t.linkGood() || t.apiFaults > 0 || !t.lastEdit.IsZero() && w.now.Sub(t.lastEdit) < w.sc.PeerTimeout {
		return false
	}
	for i := range 2 {
		if !t.up(i) || !t.checkOK[i] || !t.monHealthy[i] || !t.stopAt[i].IsZero() {
			return false
		}
	}
	return true
}

// checkPartitionWrite: a quiet partition costs at most one write. Counted
// are the writes of jobs a node decided during the partition, off the
// link: one decided on the link (a failback before the silence was
// noticed) is the link's, and one on peer_check's evidence (the writer
// could not reach the peer's service) is the evidence's.
func (t *truth) checkPartitionWrite(wr apiWrite) {
	if t.quietSince.IsZero() || wr.job == nil || wr.job.began.Before(t.quietSince) || wr.job.onLink ||
		t.w.sc.PeerCheck[wr.by] && t.unreachedSince(wr) {
		return
	}
	if ws := t.w.dns.writes; len(ws) >= 2 && ws[len(ws)-2].by == 1-wr.by && (t.excused(wr, ws[len(ws)-2]) || raced(wr, ws[len(ws)-2])) {
		return // what checkNoPingPong allows, or counts as a race
	}
	if t.finishing(wr) {
		return // the rest of a move that lost a swap in part: the same move
	}
	t.quietWrites++
	if t.quietWrites > 1 {
		t.w.fail("partition: at most one write", "%s wrote %q, the %d. write of a partition between live, healthy nodes since %.3fs",
			nodeName(wr.by), wr.content, t.quietWrites, t.w.since(t.quietSince))
	}
}

// finishing reports whether wr finishes its job's move of a set that
// landed in part because some of its records lost their swaps to the other
// node's write: compare and swap keeps the two from overwriting one
// record, not the set from splitting, and the job writes the rest once
// (WRITE-RULE.md, record sets).
func (t *truth) finishing(wr apiWrite) bool {
	ws := t.w.dns.writes
	if t.w.sc.Set <= 1 || wr.job == nil || wr.job.conflicts == 0 || len(ws) < 2 {
		return false
	}
	prev := ws[len(ws)-2]
	return prev.by == wr.by && prev.job == wr.job && prev.partial
}

func (t *truth) observeQuiet() {
	if !t.quiet() {
		t.quietSince, t.quietWrites = time.Time{}, 0
		return
	}
	if t.quietSince.IsZero() {
		t.quietSince = t.w.now
	}
}

// checkQuietLink: while the link holds and both nodes are healthy, with
// the record at its preferred value and nothing edited, nobody writes.
func (t *truth) checkQuietLink(wr apiWrite) {
	sc := t.w.sc
	calm := sc.FailbackDelay + sc.PeerTimeout + t.slack()
	if wr.before != sc.Preferred || wr.content == wr.before || !t.settledFor(calm) || !t.apiQuietFor(calm) {
		return
	}
	if wr.sent.Before(t.linkGoodSince) {
		// Sent before the link was good: decided without it, and nothing
		// on the link can recall a request under way. Slowed by an API
		// fault, it may land up to the API timeout after it was sent,
		// past the fault's end and into the link's quiet time.
		return
	}
	if !t.lastEdit.IsZero() && t.w.now.Sub(t.lastEdit) < sc.Drift+calm {
		return
	}
	for i := range 2 {
		if !t.healthyFor(i, calm) || !t.stopAt[i].IsZero() {
			return
		}
	}
	t.w.fail("quiet link", "%s wrote %q (%s) over the preferred value while linked and healthy for %s",
		nodeName(wr.by), wr.content, wr.purpose, t.w.now.Sub(t.linkGoodSince).Round(time.Millisecond))
}

// jobDone checks a job's API budget: without API faults, a job costs at
// most a read and a write (and a second read after a tie pause), a read
// more where the owner's failback due as the link broke may yet land (it
// looks once more), and a read and a write more for each conditional
// write that lost.
func (t *truth) jobDone(sj *simJob) {
	if sj.id == 0 || t.apiFaults > 0 || t.apiFaultEnd.After(sj.began) {
		return
	}
	budget := 3 + 2*sj.conflicts
	if !sj.alsoFrom.IsZero() {
		budget++
	}
	if sj.calls > budget {
		t.w.fail("API budget", "%s's %s job made %d calls without an API fault", nodeName(sj.n.i), sj.purpose, sj.calls)
	}
}

// expectation is a liveness property: by deadline, want must hold, as
// long as holds held at every step until then.
type expectation struct {
	name     string
	what     string
	deadline time.Time
	holds    func() bool
	want     func() bool
	// tie: a crashed node's write of a value that points at neither
	// node, landing after the crash, costs the survivor its tie pause.
	tie bool
	// forged: the survivor of a crash was sent forged evidence while it
	// waited; counted when the bound held.
	forged bool
	// restart: the node restarted and was not back within its grace;
	// counted when the bound held.
	restart bool
}

func (t *truth) expectBy(name, what string, within time.Duration, holds, want func() bool) *expectation {
	e := &expectation{name: name, what: what, deadline: t.w.now.Add(within), holds: holds, want: want}
	t.expect = append(t.expect, e)
	return e
}

func (t *truth) checkExpectations() {
	live := t.expect[:0]
	for _, e := range t.expect {
		switch {
		case !e.holds():
			continue // its premise broke: no verdict
		case t.w.now.Before(e.deadline):
			live = append(live, e)
		case !e.want():
			t.w.fail(e.name, "%s", e.what)
		case e.forged:
			t.forgedTakeovers++
		case e.restart:
			t.restartTakeovers++
		}
	}
	t.expect = live
}

func (t *truth) recordIs(v string) bool {
	d := t.w.dns
	return d.exists && d.typ == t.w.sc.Type && d.content == v
}

// steady: the API answers, and the record exists and has not been edited
// from outside for long enough that both nodes know what it holds (a
// drift check, a look for a missing record): the premises of every
// liveness bound.
func (t *truth) steady(since time.Time) bool {
	d, sc := t.w.dns, t.w.sc
	known := since.Add(-(max(sc.Drift, time.Minute) + sc.FailbackDelay + 10*time.Second))
	if sc.Drift <= 0 {
		// Without drift checks an edit is learned only by a node that
		// starts after it (its lookup).
		known = t.lastRestart[0]
		if t.lastRestart[1].Before(known) {
			known = t.lastRestart[1]
		}
	}
	return t.apiSteady(since) && !t.lastEdit.After(known) && d.exists && d.typ == sc.Type
}

// apiSteady: the API has answered since 20 s before since (a job's
// backoff after a fault is 8 s at most, a Retry-After 10 s).
func (t *truth) apiSteady(since time.Time) bool {
	return t.apiFaults == 0 && !t.apiFaultEnd.After(since.Add(-20*time.Second))
}

// crashed is a crash (or power-off) of node i: with the link settled, the
// survivor has the record within peer_timeout and a bound (liveness),
// unless its peer_check still finds i's service serving.
func (t *truth) crashed(i int, powerOff bool) { t.crashedAfter(i, powerOff, 0) }

// restarting is a SIGUSR2 of node i: with a restart_grace, it exits at
// once without a handover, and a node that is not back within the grace
// costs that grace more than a crash (liveness); without one, it is a
// stop.
func (t *truth) restarting(i int) {
	w, sc := t.w, t.w.sc
	if sc.RestartGrace <= 0 {
		t.stopped(i)
		return
	}
	n := w.nodes[i]
	if n.proc != procRunning {
		return
	}
	t.stopAt[i] = w.now
	since := w.now
	t.expectBy("stop", nodeName(i)+" exits within 2s of SIGUSR2", 2*time.Second,
		func() bool { return n.proc != procFrozen && t.stopAt[i].Equal(since) },
		func() bool { return n.proc == procOff })
	if e := t.crashedAfter(i, false, sc.RestartGrace); e != nil {
		e.restart = true
	}
}

// crashedAfter is crashed, with extra more to the bound; it returns the
// expectation, nil if the premises do not hold.
func (t *truth) crashedAfter(i int, powerOff bool, extra time.Duration) *expectation {
	w, sc := t.w, t.w.sc
	x := 1 - i
	if !t.settledFor(sc.FailbackDelay) || !t.healthyFor(x, 0) || w.now.Sub(t.lastFrozen[x]) < 2*sc.PeerTimeout {
		return nil
	}
	if sc.PeerCheck[x] && !powerOff {
		return nil // its service still answers: the survivor withholds, as it should
	}
	since := w.now
	// Detection (a keepalive more, and a slow network's extra delay:
	// frames sent before the crash may arrive after it), then a read and
	// a write; the pause of the node that is not preferred only for a
	// record that points at neither node.
	bound := extra + sc.PeerTimeout + sc.Keepalive + t.slack() + w.net.slowFor()
	if d := w.dns.content; d != sc.Values[0] && d != sc.Values[1] {
		bound += sc.tiePause()
	}
	if sc.PeerCheck[x] {
		bound += sc.ProbeTimeout
	}
	value := w.nodes[x].value
	e := t.expectBy("liveness", nodeName(i)+" crashed: the record on "+nodeName(x)+" within "+bound.String(), bound,
		func() bool {
			return t.steady(since) && t.healthyFor(x, 0) && w.nodes[i].proc == procOff &&
				(!sc.PeerCheck[x] || !w.nodes[i].machineUp) && t.stopAt[x].IsZero()
		},
		func() bool { return t.recordIs(value) })
	e.tie = true
	e.forged = t.forgedUntil[x].After(w.now)
	return e
}

func (w *World) since(at time.Time) float64 { return at.Sub(epoch).Seconds() }

// checkCorrection: a drift correction replaces a value that points at
// neither node; it never flips the record from one node to the other.
func (t *truth) checkCorrection(wr apiWrite) {
	sc := t.w.sc
	if ws := t.w.dns.writes; len(ws) >= 2 && raced(wr, ws[len(ws)-2]) {
		return // an operator's edit or the peer's write that raced the correction: written after its read
	}
	if wr.content != wr.before && wr.purpose == failover.Correction && (wr.before == sc.Values[0] || wr.before == sc.Values[1]) {
		t.w.fail("drift: never a flip", "%s's correction wrote %q over %q, a node's value", nodeName(wr.by), wr.content, wr.before)
	}
}

// edited is an outside edit to content: one that points at neither node
// is corrected within drift_check_interval and a bound.
func (t *truth) edited(content string) {
	w, sc := t.w, t.w.sc
	if sc.Mismatch == MismatchPreferred {
		// The nodes disagree on what the record holds while both are up:
		// the owner's drift checks wait for its failback, which waits for
		// them to agree.
		return
	}
	if sc.Drift <= 0 || content == sc.Values[0] || content == sc.Values[1] || content == sc.Preferred {
		return
	}
	if sc.flaps() {
		// Timings far apart break the link again and again: the owner's
		// correction waits for a link that holds, as its failback does.
		return
	}
	if sc.Mismatch == MismatchName || sc.Mismatch == MismatchSameName || sc.Mismatch.Handshake() && !(sc.PeerKnown[0] && sc.PeerKnown[1]) {
		// No link ever: a node whose file does not name the peer's value
		// never learns it, and takes any value but its own for the
		// peer's, an edit too (WRITE-RULE.md, limits); so does one whose
		// peer has another name than its file says.
		return
	}
	since, links := w.now, t.links
	bound := 2*sc.Drift + sc.FailbackDelay + sc.PeerTimeout + sc.tiePause() + t.slack()
	t.expectBy("drift", "the record, edited to "+content+", is corrected within "+bound.String(), bound,
		func() bool {
			// A link that comes back more than once meanwhile is one
			// that does not hold: linked, the owner corrects only once
			// its link has held for failback_delay, as it fails back.
			d := w.dns
			return t.links-links <= 1 && t.apiSteady(since) && !t.lastEdit.After(since) && d.exists && d.typ == sc.Type &&
				t.up(0) && t.up(1) && t.healthyFor(0, 0) && t.healthyFor(1, 0) &&
				t.stopAt[0].IsZero() && t.stopAt[1].IsZero() && t.lastFrozen[0].Before(since) && t.lastFrozen[1].Before(since)
		},
		func() bool { return !t.recordIs(content) })
}

// observeFailback: both nodes healthy and linked for failback_delay, the
// API answering and the record untouched from outside in this link's
// time: the record holds the preferred value within a bound.
func (t *truth) observeFailback() {
	w, sc := t.w, t.w.sc
	ok := sc.Mismatch != MismatchPreferred && t.linkGood() && t.apiFaults == 0 && t.healthyFor(0, 0) && t.healthyFor(1, 0) &&
		t.stopAt[0].IsZero() && t.stopAt[1].IsZero() && w.dns.exists && w.dns.typ == sc.Type &&
		t.lastEdit.Before(t.connSince)
	if !ok {
		return
	}
	since := t.linkGoodSince
	for i := range 2 {
		since = latest(since, t.healthySince[i], t.lastRestart[i], t.lastFrozen[i])
	}
	since = latest(since, t.apiFaultEnd.Add(20*time.Second))
	// A failback waits for a peer heard lately and for a disagreement's
	// verification (PeerJobGap at most).
	bound := sc.FailbackDelay + 2*sc.Keepalive + failover.PeerJobGap + t.slack()
	if w.now.Sub(since) >= bound && !t.recordIs(sc.Preferred) {
		w.fail("failback", "linked and healthy since %.3fs, the record holds %q, not the preferred %q", w.since(since), w.dns.content, sc.Preferred)
	}
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// stopped is a SIGTERM of node i: it exits within 2 s, or within the
// handover limit with handover_on_stop, and, if it held the record while
// linked to a healthy peer with handover_on_stop, the peer holds the
// record by then.
func (t *truth) stopped(i int) {
	w, sc := t.w, t.w.sc
	n := w.nodes[i]
	if n.proc != procRunning {
		return
	}
	t.stopAt[i] = w.now
	since := w.now
	limit := 2 * time.Second
	if n.cfg.Handover { // as last reloaded
		limit = 5 * time.Second
	}
	t.expectBy("stop", nodeName(i)+" exits within "+limit.String()+" of SIGTERM", limit,
		func() bool { return n.proc != procFrozen && t.stopAt[i].Equal(since) },
		func() bool { return n.proc == procOff })
	y := 1 - i
	if !n.cfg.Handover || !t.recordIs(n.value) || !t.settledFor(sc.FailbackDelay) || !t.healthyFor(y, sc.Keepalive) || !t.steady(since) {
		return
	}
	// The stopping node waits the handover limit and no more (its own
	// exit bound), and the peer learns of the handover by a frame on the
	// link: when a slow network's extra delay leaves too little of the
	// limit for that frame to arrive and the peer's read and write to
	// land, no node can make it, and the record moves on the link's loss.
	if w.net.slowFor()+t.slack() > failover.HandoverLimit {
		return
	}
	value := w.nodes[y].value
	t.handingTo[i] = value
	t.expectBy("handover", nodeName(i)+" stops holding the record: "+nodeName(y)+" has it within "+failover.HandoverLimit.String(),
		failover.HandoverLimit,
		func() bool { return t.linkGood() && t.healthyFor(y, 0) && t.steady(since) && n.proc != procFrozen },
		func() bool { return t.recordIs(value) })
}

// serviceDown is node i's service failing while the link holds: with a
// health check on i, the peer takes the record within fall checks and a
// bound (a health move).
func (t *truth) serviceDown(i int) {
	w, sc := t.w, t.w.sc
	h := sc.Health[i]
	x := 1 - i
	if h == nil || !t.recordIs(w.nodes[i].value) || !t.settledFor(sc.FailbackDelay) || !t.healthyFor(x, sc.Keepalive) || !t.steady(w.now) {
		return
	}
	since := w.now
	// Fall checks, the keepalive that says so, and (if the record moved
	// lately and this node has yet to verify where) one paced
	// verification read.
	bound := time.Duration(h.Fall+1)*h.Interval + sc.Keepalive + failover.PeerJobGap + t.slack()
	value := w.nodes[x].value
	t.expectBy("health move", nodeName(i)+"'s service failed: the record on "+nodeName(x)+" within "+bound.String(), bound,
		func() bool {
			// A record that left the failed node for a value of neither
			// (the owner's failback to a load balancer, decided before
			// its monitor saw the failure) no longer points at it: the
			// move is for a record that points at the failed node.
			return t.linkGood() && !w.nodes[i].serviceUp && t.healthyFor(x, 0) && t.steady(since) &&
				t.stopAt[0].IsZero() && t.stopAt[1].IsZero() &&
				(t.recordIs(w.nodes[i].value) || t.recordIs(value))
		},
		func() bool { return t.recordIs(value) })
}

// observeRearm: node x has peer_check, hears nothing from its peer, and
// cannot reach the peer's service: it takes the record within a bound,
// whatever it withheld before (re-armed).
func (t *truth) observeRearm() {
	w, sc := t.w, t.w.sc
	for x := range 2 {
		y := 1 - x
		cond := sc.PeerCheck[x] && t.rearmPremise(x)
		if !cond {
			t.rearmSince[x] = time.Time{}
			continue
		}
		if t.rearmSince[x].IsZero() {
			t.rearmSince[x] = w.now
			since := w.now
			// A peer that writes the record after this node's takeover
			// (onto its own dead service) is caught by the next watch.
			bound := sc.PeerTimeout + sc.Keepalive + sc.ProbeTimeout + failover.WatchEvery + sc.tiePause() + t.slack()
			if h := t.holdUntil[x]; h.After(w.now) {
				bound += h.Sub(w.now) // a restarting peer's grace holds first
			}
			value := w.nodes[x].value
			t.expectBy("re-armed", nodeName(x)+" cannot hear "+nodeName(y)+" nor reach its service: the record on "+nodeName(x)+" within "+bound.String(), bound,
				// A peer without health checks that writes its value onto
				// its own dead service after this node took the record
				// contests it: this node leaves it (WRITE-RULE.md, limits).
				// So does any peer that takes the record back, while this
				// node can neither hear it nor reach its service, after
				// this node's own write: the rule leaves the record with
				// it until the link is back or its service answers (a
				// contest, WRITE-RULE.md, peer_check); this node cannot
				// tell it from a peer whose peer_check finds this node's
				// service gone.
				func() bool {
					// Since this watch began, or earlier in the same
					// episode (since the link last held).
					tookBack := (t.ownWrite[y].After(since) || t.ownWrite[x].After(t.lastSettled)) && t.ownWrite[y].After(t.ownWrite[x])
					return t.rearmSince[x].Equal(since) && t.steady(since) && !t.deadWrite[y].After(since) && !tookBack
				},
				func() bool { return t.recordIs(value) })
		}
	}
}

func (t *truth) rearmPremise(x int) bool {
	w, sc := t.w, t.w.sc
	y := 1 - x
	py := w.nodes[y]
	silent := py.proc != procRunning || w.net.cutWay(y)
	unreachable := !py.machineUp || !py.serviceUp || w.net.probeCut[x] > 0
	return silent && unreachable && t.healthyFor(x, 0) && t.stopAt[x].IsZero() &&
		w.now.Sub(t.lastFrozen[x]) > 2*sc.PeerTimeout && w.now.Sub(t.lastRestart[x]) > sc.PeerTimeout
}

// observeBeliefs: linked for a while after the last write, with no job
// under way, each node knows whether the record points to it (its
// on_active and on_standby hooks tell the truth).
func (t *truth) observeBeliefs() {
	w, sc := t.w, t.w.sc
	ws := w.dns.writes
	settle := 2*sc.PeerTimeout + failover.PeerJobGap + t.slack() // a disagreement is verified within PeerJobGap
	if len(ws) == 0 || !t.settledFor(settle) {
		return
	}
	last := ws[len(ws)-1]
	// A write applied after its writer gave up on it is known to nobody,
	// like an operator's edit (WRITE-RULE.md, limits): no keepalive or
	// verification read is due to settle the nodes' beliefs about it,
	// only a drift check or the next failback.
	if last.by == outsider || last.late || w.now.Sub(last.at) < settle || t.lastEdit.After(last.at) || !w.dns.exists ||
		!t.apiSteady(w.now.Add(-2*sc.PeerTimeout)) {
		return // a claim that conflicts is settled by a read: the API must answer
	}
	for i := range 2 {
		n := w.nodes[i]
		if n.proc != procRunning || n.ensure != nil || !n.activeKnown {
			return
		}
	}
	for i := range 2 {
		n := w.nodes[i]
		if truth := t.recordIs(n.value); n.active != truth {
			w.fail("beliefs", "%s believes the record points to it: %v, but it holds %q (last written by %s at %.3fs)",
				nodeName(i), n.active, w.dns.content, nodeName(last.by), w.since(last.at))
		}
	}
}

// observeTold: a node that withholds a takeover (the peer serves, the
// peer took the record, its own service fails) has said so by an alert
// during the down episode: once per episode, every episode.
func (t *truth) observeTold() {
	for i, n := range t.w.nodes {
		if n.proc != procRunning {
			continue
		}
		v := n.loop.S.View(n.cfg)
		if v.EpisodeBegan.IsZero() {
			t.calm[i] = t.w.now
		}
		skew := t.w.sc.NodeSkew[i] // the view's times are on the node's clock
		if v.Guard == "" || v.EpisodeBegan.IsZero() || !t.lastPush[i].Before(v.EpisodeBegan.Add(-skew)) {
			continue
		}
		t.w.fail("told", "%s withholds (%s) since %.3fs and has sent no alert in the down episode that began at %.3fs",
			nodeName(i), v.Guard, t.w.since(v.GuardAt.Add(-skew)), t.w.since(v.EpisodeBegan.Add(-skew)))
	}
}

// maxCallsPerMinute bounds one node's API calls in any minute without API
// faults: drift checks, a takeover, verification and peer-started jobs
// (one per 5 s), a watch read every 10 s, looks for a missing record.
const maxCallsPerMinute = 40

// called counts a call of node i: the API budget.
func (t *truth) called(i int) {
	w := t.w
	r := append(w.dns.recent[i], w.now)
	for len(r) > 0 && w.now.Sub(r[0]) > time.Minute {
		r = r[1:]
	}
	w.dns.recent[i] = r
	if len(r) > maxCallsPerMinute && t.apiQuietFor(time.Minute) && !w.sc.flaps() {
		w.fail("API budget", "%s made %d API calls in a minute without an API fault", nodeName(i), len(r))
	}
}

// checkFresh: a write acts on a read answered less than FreshRead (and the
// API's way back) before it is issued.
func (t *truth) checkFresh(n *node, sj *simJob) {
	if d := t.w.now.Sub(sj.readAt); d > failover.FreshRead {
		t.w.fail("fresh decisions", "%s writes on a read answered %s ago", nodeName(n.i), d.Round(time.Millisecond))
	}
}

// reachable reports whether node x's peer_check reaches the other's
// service.
func (t *truth) reachable(x int) bool {
	p := t.w.nodes[1-x]
	return t.w.net.probeCut[x] == 0 && p.machineUp && p.serviceUp
}

// unreachedSince reports whether the writer of wr could not reach the
// peer's service at some time since a probe period before its decision.
func (t *truth) unreachedSince(wr apiWrite) bool {
	sc := t.w.sc
	from := wr.at
	if wr.job != nil {
		from = wr.job.readAt
	}
	return !t.lastUnreached[wr.by].Before(from.Add(-(sc.Keepalive + sc.ProbeTimeout + t.slack())))
}

// owner is the node that fails back: the one whose value is preferred, or
// the server if neither's is.
func (t *truth) owner() int {
	if t.w.sc.Preferred == t.w.sc.Values[1] {
		return 1
	}
	return 0
}

// checkTie: when both nodes race to take a record that points at neither
// node, the preferred node wins (the other pauses and reads again), unless
// it acted later than the pause allows for. The pause leaves the API about
// a second for the preferred node's read to come back and its write to
// land; in a slow period of the API each of those two legs may take the
// period's extra delay more, and then the two writes simply race (only
// compare-and-swap orders them): the allowance grows by that much.
func (t *truth) checkTie(wr, prev apiWrite) {
	sc := t.w.sc
	// A set that holds each node's value in some records is a move in
	// progress (WRITE-RULE.md, record sets), not a value of neither.
	neither := prev.before != sc.Values[0] && prev.before != sc.Values[1] && !sc.split(prev.before)
	if !neither || wr.by == t.owner() || wr.job == nil || prev.job == nil || !sc.oneOwner() {
		return
	}
	if n := t.w.nodes[wr.by]; n.loop.S.View(n.cfg).PeerValue != sc.Values[prev.by] {
		// The writer does not know the peer's value (an A record's
		// other_value, unset, and no INFO yet): any value but its own
		// may be the peer's, the preferred one first of all. Nothing
		// points at neither node as it sees it (WRITE-RULE.md, limits).
		return
	}
	if wr.purpose != failover.Takeover && wr.purpose != failover.Correction {
		// A tie is between the jobs that yield (a takeover, a
		// correction during a loss). A health move or a handover is the
		// preferred node's own request over the link: it wants the other
		// node to have the record, whatever its read showed (a stale
		// read may still show the value its own write replaced).
		return
	}
	if t.apiFaultEnd.After(wr.job.firstServed) {
		// The API failed during the pause: the preferred node's job
		// backs off after a failed call (up to 8 s), which no pause
		// allows for.
		return
	}
	// A slow network's extra delay may hold back the frame (the last
	// keepalive, a bye) by which the preferred node notices the loss,
	// as for liveness.
	allow := t.slack() + 2*prev.job.slowest + t.w.net.slowFor()
	late := prev.job.firstServed.Sub(wr.job.firstServed) > sc.tiePause()-allow
	if !late {
		t.w.fail("tie: the preferred node wins", "%s, not preferred, wrote %q over the preferred %s's %q, which it read %s before",
			nodeName(wr.by), wr.content, nodeName(prev.by), prev.content, prev.job.firstServed.Sub(wr.job.firstServed).Round(time.Millisecond))
	}
}

// The pair checks itself: every disagreement between the two nodes'
// configurations is said, once per episode, and costs the write rule
// nothing it promises.

// problemActs: said once per episode. Every problem the machine raises is
// logged at WARN or ERROR under its kind and pushed once, with event
// "mismatch", in the same turn; it is raised again only after it was
// cleared (a new episode); a clear ends a problem that was raised.
func (t *truth) problemActs(n *node, acts []failover.Action) {
	w, open := t.w, t.open[n.i]
	raised, pushes := 0, 0
	for _, a := range acts {
		switch a := a.(type) {
		case failover.ActLog:
			switch {
			case slices.Contains(failover.ProblemKinds, a.Event):
				raised++
				t.raised[a.Event]++
				if a.Level < slog.LevelWarn {
					w.fail("said once per episode", "%s logged the problem %s at %s", nodeName(n.i), a.Event, a.Level)
				}
				if open[a.Event] {
					w.fail("said once per episode", "%s raised %s again before it was cleared", nodeName(n.i), a.Event)
				}
				open[a.Event] = true
			case a.Event == failover.LogProblemCleared:
				kind := attr(a.Attrs, "problem")
				if !open[kind] {
					w.fail("said once per episode", "%s cleared %q, which it had not raised", nodeName(n.i), kind)
				}
				delete(open, kind)
			}
		case failover.ActNotify:
			if a.Event == failover.AlertMismatch {
				pushes++
			}
		}
	}
	if pushes != raised {
		w.fail("said once per episode", "%s raised %d problems in one turn and pushed %d alerts of event %q", nodeName(n.i), raised, pushes, failover.AlertMismatch)
	}
}

// attr is the value of key in a log line's attributes, "" if none.
func attr(attrs []any, key string) string {
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i] == key {
			s, _ := attrs[i+1].(string)
			return s
		}
	}
	return ""
}

// shows reports whether v shows a problem of kind.
func shows(v failover.View, kind string) bool {
	return slices.ContainsFunc(v.Problems, func(p failover.Problem) bool { return p.Kind == kind })
}

// turned checks node n's problems after it applied ev: the view shows
// what was raised and not cleared; a peer's INFO that differs is shown;
// and the clocks (checkClocks).
func (t *truth) turned(n *node, ev failover.Event) {
	w := t.w
	v := n.loop.S.View(n.cfg)
	var kinds []string
	for _, p := range v.Problems {
		kinds = append(kinds, p.Kind)
	}
	for kind := range t.open[n.i] {
		if !slices.Contains(kinds, kind) {
			w.fail("said once per episode", "%s raised %s, but /status does not show it", nodeName(n.i), kind)
		}
	}
	for _, kind := range kinds {
		if !t.open[n.i][kind] {
			w.fail("said once per episode", "%s shows %s, which it never said", nodeName(n.i), kind)
		}
	}
	if ev, ok := ev.(failover.EvInfo); ok && len(ev.Differences) > 0 && !shows(v, failover.ProblemSettings) && !shows(v, failover.ProblemRecords) {
		w.fail("said once per episode", "%s's peer's INFO differs (%v), and it says nothing", nodeName(n.i), ev.Differences)
	}
	t.checkClocks(n, v, ev)
}

// authenticated: an authenticated link ends every handshake problem; and
// under a handshake mismatch none can come up.
func (t *truth) authenticated(n *node) {
	if t.w.sc.Mismatch.Handshake() {
		t.w.fail("said once per episode", "%s linked, though the pair's %s keeps every link from coming up", nodeName(n.i), t.w.sc.Mismatch)
		return
	}
	for kind := range t.open[n.i] {
		switch kind {
		case failover.ProblemKey, failover.ProblemName, failover.ProblemSameName, failover.ProblemRole, failover.ProblemVersion, failover.ProblemNoListener:
			t.w.fail("said once per episode", "%s still says %s on an authenticated link", nodeName(n.i), kind)
		}
	}
}

// startedPair: under a handshake mismatch, once both processes run, both
// nodes say what keeps the link from coming up within a few attempts: a
// refused handshake at the next dial (the redial backoff is 500 ms at
// most, and a dial under way when a cut ended may wait its timeout); both
// servers at a server's first look, a peer_timeout after its start; both
// clients once the peer's port has refused connections for
// max(peer_timeout, 30 s) (a dial under way when the peer's machine came
// back may wait its timeout first). As long as both run, unfrozen, with the link's
// path open, no loss nor slow network since, and (both clients) both
// machines up.
func (t *truth) startedPair(n *node) {
	w, sc := t.w, t.w.sc
	t.apiClockAtStart(n)
	a, b := w.nodes[0], w.nodes[1]
	if !sc.Mismatch.Handshake() || a.proc != procRunning || b.proc != procRunning {
		return
	}
	kind := sc.Mismatch.Problem()
	trip := 10 * (sc.NetDelay + sc.NetJitter)
	var bound time.Duration
	switch sc.Mismatch {
	case MismatchServers:
		bound = sc.PeerTimeout + trip
	case MismatchClients:
		bound = max(sc.PeerTimeout, noListenerAfter) + handshakeTimeout + 2*redial.Max + trip
	default:
		bound = handshakeTimeout + 2*redial.Max + trip
	}
	bound += t.slack()
	since, incs := w.now, [2]int{a.inc, b.inc}
	t.expectBy("said once per episode", fmt.Sprintf("both nodes say %s within %s of %s's start", kind, bound, nodeName(n.i)), bound,
		func() bool {
			return a.inc == incs[0] && b.inc == incs[1] && a.proc == procRunning && b.proc == procRunning &&
				a.machineUp && b.machineUp && t.lastCut.Before(since.Add(-handshakeTimeout)) && !w.net.cutWay(0) && !w.net.cutWay(1) &&
				len(w.net.loss) == 0 && w.net.slowFor() == 0
		},
		func() bool { return shows(a.loop.S.View(a.cfg), kind) && shows(b.loop.S.View(b.cfg), kind) })
}

// checkClocks: clocks. A measurement of the peer's clock (a keepalive)
// or of the DNS API's (an answer's Date) that puts the two clocks surely
// more than a second apart, the true offset within its margin, is
// reported by the time it is applied: whenever the true offset is more
// than 1 s and twice its margin. Clocks within half a second are never
// reported, unless the last measurement was wrong beyond its own margin
// (the API's Date read as if the answer took no time on its way back: a
// slow answer; WRITE-RULE.md, limits). The link's measurement is always
// within its margin.
func (t *truth) checkClocks(n *node, v failover.View, ev failover.Event) {
	w, sc := t.w, t.w.sc
	peer := sc.NodeSkew[1-n.i] - sc.NodeSkew[n.i]
	api := sc.APISkew - sc.NodeSkew[n.i]
	var off failover.ClockOffset
	switch ev := ev.(type) {
	case failover.EvHeard:
		if !ev.PeerClock.IsZero() && !ev.Sent.IsZero() {
			half := ev.At.Sub(ev.Sent) / 2
			off = failover.ClockOffset{Est: ev.PeerClock.Sub(ev.Sent.Add(half)), Err: half, Known: true}
			if (off.Est - peer).Abs() > off.Err {
				w.fail("clocks", "%s measured the peer's clock %s off, ±%s; it is %s off", nodeName(n.i), off.Est, off.Err, peer)
			}
			if peer.Abs() > failover.MaxSkew+2*off.Err && !shows(v, failover.ProblemClock) {
				w.fail("clocks", "%s measured the peer's clock %s off, ±%s, and does not say so", nodeName(n.i), off.Est, off.Err)
			}
		}
	case failover.EvRead:
		off = ev.Record.APIClock
	case failover.EvSeen:
		off = ev.Record.APIClock
	}
	if _, heard := ev.(failover.EvHeard); !heard && off.Known {
		t.apiSound[n.i] = (off.Est - api).Abs() <= off.Err
		if !t.apiSound[n.i] {
			t.misjudged++
		}
		if t.apiSound[n.i] && api.Abs() > failover.MaxSkew+2*off.Err && !shows(v, failover.ProblemAPIClock) {
			w.fail("clocks", "%s measured the DNS API's clock %s off, ±%s, and does not say so", nodeName(n.i), off.Est, off.Err)
		}
	}
	if peer.Abs() <= failover.MaxSkew/2 && shows(v, failover.ProblemClock) {
		w.fail("clocks", "%s says the clocks differ; they are %s apart", nodeName(n.i), peer)
	}
	if api.Abs() <= failover.MaxSkew/2 && t.apiSound[n.i] && shows(v, failover.ProblemAPIClock) {
		w.fail("clocks", "%s says the DNS API's clock differs; it is %s off", nodeName(n.i), api)
	}
}

// apiClockAtStart: clocks, of the DNS API. A node whose clock and the
// API's are more than a second apart beyond the Date header's margin (its
// whole second, and the request's way there and back) says so once its lookup at start is answered, while the API
// answers without fault and the record exists (an answer that finds none
// carries no Date the store keeps).
func (t *truth) apiClockAtStart(n *node) {
	w, sc := t.w, t.w.sc
	off := sc.APISkew - sc.NodeSkew[n.i]
	if off.Abs() <= failover.MaxSkew+2*750*time.Millisecond+2*sc.APILatency {
		return
	}
	inc, bound := n.inc, t.slack()
	t.expectBy("clocks", fmt.Sprintf("the DNS API's clock is %s off %s's: it says so within %s of its start", off, nodeName(n.i), bound), bound,
		func() bool {
			return n.inc == inc && n.proc == procRunning && t.apiFaults == 0 && w.dns.exists && w.dns.typ == sc.Type
		},
		func() bool { return shows(n.loop.S.View(n.cfg), failover.ProblemAPIClock) })
}

// linkClocks: clocks, on a link. Node clocks more than a second apart,
// beyond the link's margin (half a round trip of the network at most, both
// ways), are reported by both nodes within three keepalive intervals of
// the link's being good, while it stays good with no loss or slow
// network (each node's first keepalive that echoes one of its own
// measures the offset).
func (t *truth) linkClocks() {
	w, sc := t.w, t.w.sc
	skew := sc.NodeSkew[1] - sc.NodeSkew[0]
	if skew.Abs() <= failover.MaxSkew+2*(sc.NetDelay+sc.NetJitter)+time.Millisecond {
		return
	}
	since := t.linkGoodSince
	bound := 3*sc.Keepalive + t.slack()
	a, b := w.nodes[0], w.nodes[1]
	t.expectBy("clocks", fmt.Sprintf("the clocks are %s apart: both nodes say so within %s of the link", skew, bound), bound,
		func() bool { return t.linkGoodSince.Equal(since) && len(w.net.loss) == 0 && w.net.slowFor() == 0 },
		func() bool {
			return shows(a.loop.S.View(a.cfg), failover.ProblemClock) && shows(b.loop.S.View(b.cfg), failover.ProblemClock)
		})
}

// observePair keeps the premises of checkMismatchWrites: both machines
// and services up, both monitors healthy, each node's peer_check reaching
// the other's service, no outside edit (nor a write applied after its
// writer gave up); and when the link was last cut.
func (t *truth) observePair() {
	w := t.w
	for i, n := range w.nodes {
		if !n.machineUp || !n.serviceUp || !t.checkOK[i] || !t.monHealthy[i] || w.net.probeCut[i] > 0 {
			t.mmOff = true
		}
	}
	if !t.lastEdit.IsZero() {
		t.mmOff = true
	}
	if w.net.cutWay(0) || w.net.cutWay(1) {
		t.lastCut = w.now
	}
}

// checkMismatchWrites: a mismatch costs at most one write. Under a
// handshake mismatch the nodes never link, and each treats the other as
// down for the whole run. While both machines and services are up and
// healthy, peer_check reaches the peer's service, nobody edits the record
// and no API fault loses an answer or lands a write in part, the nodes
// write at most once in the run, and once more for each start of a
// process after the first node write (a node that starts, or restarts,
// after the peer's write knows nothing of it: it takes the record once,
// WRITE-RULE.md, limits); a node writes over the other's write only if it
// started since. A start within the stamps' margin (3 s) before a write
// counts as after it: the starting node cannot date it. A write that raced the other's (each read before the other's
// landed) is a race, counted by checkNoPingPong.
func (t *truth) checkMismatchWrites(wr apiWrite) {
	w := t.w
	if !w.sc.Mismatch.Handshake() || t.mmOff || wr.by == outsider || !t.lastEdit.IsZero() {
		return
	}
	ws := w.dns.writes
	if len(ws) >= 2 {
		prev := ws[len(ws)-2]
		if prev.by == 1-wr.by && raced(wr, prev) {
			return
		}
		if prev.by == 1-wr.by && prev.content != wr.content && !t.lastRestart[wr.by].After(prev.at.Add(-clockMargin)) {
			w.fail("a mismatch costs at most one write", "%s wrote %q over %s's %q of %.3fs, and has not started since (%s)",
				nodeName(wr.by), wr.content, nodeName(prev.by), prev.content, w.since(prev.at), w.sc.Mismatch)
			return
		}
	}
	t.mmWrites++
	if late := t.lateStarts(); t.mmWrites > 1+late {
		w.fail("a mismatch costs at most one write", "%s wrote %q, the %d. node write of a run with %s and %d starts after the first",
			nodeName(wr.by), wr.content, t.mmWrites, w.sc.Mismatch, late)
	}
}

// lateStarts counts the process starts after the run's first node write,
// less the stamps' margin; none before it.
func (t *truth) lateStarts() int {
	i := slices.IndexFunc(t.w.dns.writes, func(wr apiWrite) bool { return wr.by != outsider })
	if i < 0 {
		return 0
	}
	n := 0
	for _, s := range t.starts {
		if s.After(t.w.dns.writes[i].at.Add(-clockMargin)) {
			n++
		}
	}
	return n
}

// checkNoFailback: settings. With preferred values that differ, both
// nodes think they own the failback: neither writes one (the difference
// blocks it from the peer's INFO on, the INFO being the first frame of
// every link).
func (t *truth) checkNoFailback(wr apiWrite) {
	if t.w.sc.Mismatch == MismatchPreferred && wr.purpose == failover.Failback {
		t.w.fail("settings", "%s failed back to %q while the nodes' preferred values differ", nodeName(wr.by), wr.content)
	}
}
