package failover

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// What a node may take from its peer's word, and what it says of itself
// when it does not know the record.

// hbAt is a keepalive that arrives at d and was sent no earlier than sent
// (zero: it echoes nothing).
func hbAt(d time.Duration, sent time.Time, flags byte) Event {
	return EvHeard{At: at(d), Sent: sent, Flags: flags}
}

// The peer's word agrees as of the earliest it can have been sent, not
// its arrival; a keepalive that echoes nothing vouches for no moment; a
// send time past the arrival (a clock step) counts as the arrival.
func TestWordDatedBySending(t *testing.T) {
	c := testMachine(false) // srv2; the record on srv1, which says so
	start := seq(up(100*ms), read(150*ms, "srv1"))
	active := FlagHealthy | FlagActive
	for _, tt := range []struct {
		name string
		ev   Event
		want time.Time
	}{
		{"sent 2 s before it arrived", hbAt(3*sec, at(sec), active), at(sec)},
		{"echoes nothing", hbAt(3*sec, time.Time{}, active), time.Time{}},
		{"sent after it arrived", hbAt(3*sec, at(4*sec), active), at(3 * sec)},
	} {
		if s := state(c, seq(start, tt.ev)...); !s.agreedAt.Equal(tt.want) {
			t.Errorf("%s: agreed as of %v, want %v", tt.name, s.agreedAt.Sub(t0), tt.want.Sub(t0))
		}
	}
}

// A node that does not know what the record holds says so; a peer that
// says so vouches only for this node's own knowledge, however long it
// says it. One too old to say so vouches, once it has said "not mine" for
// a peer_timeout on the link.
func TestUnsureWord(t *testing.T) {
	c := testMachine(false) // srv2; the record on srv2: the peer's "not mine" agrees
	if f := NewState(t0, c).Flags(c); f&FlagUnsure == 0 {
		t.Errorf("a node that has read nothing says %#b, without FlagUnsure", f)
	}
	if f := state(c, read(150*ms, "srv2")).Flags(c); f&FlagUnsure != 0 {
		t.Errorf("a node that knows the record says %#b, with FlagUnsure", f)
	}
	if f := state(c, EvRead{At: at(150 * ms), Asked: at(100 * ms), Missing: true}).Flags(c); f&FlagUnsure == 0 {
		t.Errorf("a node that found no record says %#b, without FlagUnsure", f)
	}

	start := seq(up(100*ms), read(150*ms, "srv2"))
	for _, tt := range []struct {
		name  string
		flags byte
		want  time.Time
	}{
		{"unsure, for 10 s", FlagHealthy | FlagUnsure, at(100 * ms)},
		{"silent on it (an older peer), for 10 s", FlagHealthy, at(10 * sec)},
	} {
		var evs []Event
		for d := sec; d <= 10*sec; d += sec {
			evs = append(evs, hbAt(d, at(d), tt.flags))
		}
		if s := state(c, seq(start, evs)...); !s.agreedAt.Equal(tt.want) {
			t.Errorf("%s: agreed as of %v, want %v", tt.name, s.agreedAt.Sub(t0), tt.want.Sub(t0))
		}
	}
}

// A write of this node's whose answer was lost may have landed: until a
// read tells, the node says it holds what it wrote (not "not mine", not
// "unsure"), so that the peer, disagreeing, reads. The attempt of a job
// other than the writing one says nothing of that write.
func TestMaybeLandedClaim(t *testing.T) {
	c := testMachine(false)
	wrote := seq(read(150*ms, "srv1"), EvWriting{At: at(5 * sec), Job: 1, Content: "srv2"})
	s := state(c, seq(wrote, EvAttempt{At: at(5100 * ms), Job: 1, Err: "timeout", Uncertain: true})...)
	if f := s.Flags(c); f&FlagActive == 0 || f&FlagUnsure != 0 {
		t.Errorf("its write's answer lost: says %#b, want FlagActive and not FlagUnsure", f)
	}
	s, _ = Next(c, s, read(6*sec, "srv1"))
	if f := s.Flags(c); f&FlagActive != 0 {
		t.Errorf("read since, the record the peer's: says %#b, want no FlagActive", f)
	}
	s = state(c, seq(wrote, EvAttempt{At: at(5100 * ms), Job: 7, Err: "timeout", Uncertain: true})...)
	if s.rec.maybe != "" {
		t.Errorf("another job's lost answer: maybe %q, want none", s.rec.maybe)
	}
}

// A write whose answer has not come yet, and the peer, sure of the record,
// stops saying it holds it after the write began: the write landed, as of
// the frame's sending. Not from a frame sent before the write, nor from a
// peer unsure of the record, nor while nothing is being written.
func TestPeerSawWriteLand(t *testing.T) {
	c := testMachine(false) // srv2; the record on srv1, which says so
	active := FlagHealthy | FlagActive
	start := seq(up(100*ms), read(150*ms, "srv1"), hbAt(sec, at(sec), active))
	writing := seq(start, EvWriting{At: at(2 * sec), Job: 1, Content: "srv2"})
	for _, tt := range []struct {
		name string
		evs  []Event
		want knowledge
	}{
		{"not mine, sent after the write began", seq(writing, hbAt(3*sec, at(2500*ms), FlagHealthy)), knowledge{content: "srv2", at: at(2500 * ms)}},
		{"not mine, sent before the write began", seq(writing, hbAt(3*sec, at(1500*ms), FlagHealthy)), knowledge{content: "srv1", at: at(100 * ms)}},
		{"not mine, sent as the write began", seq(writing, hbAt(3*sec, at(2*sec), FlagHealthy)), knowledge{content: "srv1", at: at(100 * ms)}},
		{"unsure", seq(writing, hbAt(3*sec, at(2500*ms), FlagHealthy|FlagUnsure)), knowledge{content: "srv1", at: at(100 * ms)}},
		{"still mine", seq(writing, hbAt(3*sec, at(2500*ms), active)), knowledge{content: "srv1", at: at(100 * ms)}},
		{"nothing being written", seq(start, hbAt(3*sec, at(2500*ms), FlagHealthy)), knowledge{content: "srv1", at: at(100 * ms)}},
	} {
		if s := state(c, tt.evs...); s.rec != tt.want {
			t.Errorf("%s: knows %q as of %v, want %q as of %v", tt.name, s.rec.content, s.rec.at.Sub(t0), tt.want.content, tt.want.at.Sub(t0))
		}
	}
}

// The owner's write that lands after its job ended puts the failback due
// again, unless it was the preferred value (or, lost, could only have
// been).
func TestStrayWrite(t *testing.T) {
	lb := func(c *Config) { c.Preferred = "lb" }
	for _, tt := range []struct {
		name    string
		c       *Config
		content string
		due     bool
	}{
		{"the owner's own value, landed", testMachine(true), "srv2", true},
		{"the preferred value, landed", testMachine(true), "srv1", false},
		{"lost, the owner's value the preferred one", testMachine(true), "", false},
		{"lost, a load balancer preferred", with(testMachine(true), lb), "", true},
		{"not the owner", testMachine(false), "srv2", false},
	} {
		s := NewState(t0, tt.c)
		s.link, s.failbackDone = true, true
		s.strayWrite(tt.c, tt.content)
		if s.failbackDone == tt.due {
			t.Errorf("%s: failback due %v, want %v", tt.name, !s.failbackDone, tt.due)
		}
	}
	c := testMachine(true)
	s := NewState(t0, c)
	s.failbackDone = true
	if s.strayWrite(c, "srv2"); !s.failbackDone {
		t.Error("off the link, a stray write put the failback due")
	}
}

// A write of the peer's stamped while the peer was on the last link (an
// API timeout after the link's first keepalive, before the last one
// heard was sent) was made on the link: not its takeover of the episode.
func TestMadeOnLink(t *testing.T) {
	c := testMachine(false)
	s := NewState(t0, c)
	if from, until := s.onLink(); !from.IsZero() || !until.IsZero() {
		t.Errorf("no keepalive yet: on the link %v to %v, want nothing", from, until)
	}
	s.claimSeen, s.firstClaimAt, s.heardSent = true, at(sec), at(60*sec)
	for _, tt := range []struct {
		stamp time.Duration
		want  bool
	}{
		{5 * sec, false},  // within an API timeout of the link's first keepalive
		{20 * sec, true},  // well inside
		{59 * sec, false}, // within the clock margin of the last keepalive's sending
		{80 * sec, false}, // after it
	} {
		if got := s.madeOnLink(Record{Content: "srv1", Modified: at(tt.stamp)}); got != tt.want {
			t.Errorf("stamped at %v: made on the link %v, want %v", tt.stamp, got, tt.want)
		}
	}
	if s.madeOnLink(Record{Content: "srv1"}) {
		t.Error("an undated record: made on the link")
	}
	s.heardSent = time.Time{}
	if s.madeOnLink(Record{Content: "srv1", Modified: at(20 * sec)}) {
		t.Error("no keepalive that said when it was sent: made on the link")
	}

	// Through the machine: the peer's health move on the link, which
	// this node never read, then the peer's loss: not the peer's write
	// of the episode.
	var evs []Event
	for d := sec; d <= 40*sec; d += sec {
		evs = append(evs, hbAt(d, at(d-10*ms), FlagHealthy))
	}
	s = state(c, seq(up(100*ms), read(150*ms, "srv2"), evs, down(41*sec),
		EvSeen{At: at(47 * sec), Asked: at(46 * sec), Record: Record{Content: "srv1", Modified: at(25 * sec)}})...)
	if s.ep.peerTook {
		t.Error("the peer's write made on the link counted as its takeover of the episode")
	}
}

// A node knows as of when its base was current; unknown, it knows of no
// moment.
func TestBaseAt(t *testing.T) {
	c := testMachine(false)
	if got := NewState(t0, c).baseAt(); !got.IsZero() {
		t.Errorf("nothing known: base as of %v", got)
	}
	if got := state(c, read(2*sec, "srv1")).baseAt(); !got.Equal(at(2*sec - 50*ms)) {
		t.Errorf("read at 2 s: base as of %v", got.Sub(t0))
	}
}

// At a loss, the owner's preferred value, seen unasked just before while
// its failback was due, is its failback; any other unasked write is the
// peer's. The failback counts as announced only if the peer's word turned
// to the preferred value no earlier than a keepalive before it fell due.
func TestBrokenFailbackDue(t *testing.T) {
	c := testMachine(false) // srv1 owns the failback to srv1
	due := at(30*sec + 100*ms)
	for _, tt := range []struct {
		name      string
		content   string
		claimedAt time.Time
		took      bool
		announced bool
	}{
		{"the preferred value, announced", "srv1", due, false, true},
		{"the preferred value, claimed long before", "srv1", at(5 * sec), false, false},
		{"another value", "srv3", due, true, true},
	} {
		s := NewState(t0, c)
		s.ep = episode{}
		s.link, s.linkSince, s.everLinked = true, at(100*ms), true
		s.healthySince, s.peerHealthySince = t0, t0
		s.rec = knowledge{content: tt.content, at: due}
		s.claimSeen, s.claim, s.claimChanged = true, "srv1", tt.claimedAt
		s.peerActed, s.peerActedAt = true, due
		now := due.Add(500 * ms)
		s.broken(c, now, nil)
		if s.ep.peerTook != tt.took || s.ep.announced != tt.announced || s.ep.failbackDue.IsZero() {
			t.Errorf("%s: peer took %v, announced %v, failback due %v; want %v, %v, set",
				tt.name, s.ep.peerTook, s.ep.announced, s.ep.failbackDue.Sub(t0), tt.took, tt.announced)
		}
	}
}

// The takeover after such a loss counts the preferred value as the
// failback's for as long as that failback may land: a fresh read and an
// API timeout after it fell due.
func TestFailbackWindow(t *testing.T) {
	c := testMachine(false)
	var evs []Event
	for d := sec; d <= 30*sec; d += sec {
		evs = append(evs, hbAt(d, at(d-10*ms), FlagHealthy))
	}
	acts := actions(c, seq(up(100*ms), read(150*ms, "srv2"), evs, tick(30200*ms), down(30500*ms), ticks(31*sec, 37*sec))...)
	for _, a := range acts {
		if e, ok := a.(ActEnsure); ok {
			if from := at(30*sec + 100*ms); e.AlsoBase != "srv1" || !e.AlsoFrom.Equal(from) || !e.AlsoUntil.Equal(from.Add(FreshRead+APITimeout)) {
				t.Errorf("takeover: also %q from %v until %v", e.AlsoBase, e.AlsoFrom.Sub(t0), e.AlsoUntil.Sub(t0))
			}
			return
		}
	}
	t.Fatal("no takeover")
}

// On a link the peer has been declared up on, the owner's preferred value
// read by the other node is the owner's failback, not an unasked
// takeover; before that, it is one.
func TestUnaskedFailback(t *testing.T) {
	c := testMachine(false)
	for _, tt := range []struct {
		name    string
		peer    declared
		unasked bool
	}{
		{"declared up", declaredUp, false},
		{"not yet", declaredDown, true},
	} {
		s := NewState(t0, c)
		s.link, s.linkSince, s.everLinked, s.peer = true, at(100*ms), true, tt.peer
		s.rec = knowledge{content: "srv2", at: at(sec)}
		s.claimSeen, s.claim, s.firstClaimAt, s.claimChanged = true, "srv1", at(sec), at(40*sec)
		s.lastTurn = at(41 * sec)
		s, _ = Next(c, s, EvRead{At: at(41 * sec), Asked: at(41*sec - 50*ms), Verify: true, Record: Record{Content: "srv1"}})
		if s.peerActed != tt.unasked {
			t.Errorf("%s: unasked %v, want %v", tt.name, s.peerActed, tt.unasked)
		}
	}
}

// The node wakes when its next decision falls due, and only for what can
// fall due in its state.
func TestDeadline(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.DriftInterval = time.Minute })
	s := state(c, read(150*ms, "srv1"))
	s.pendingDown = false
	if got := s.Deadline(c); !got.Equal(s.driftNext) {
		t.Errorf("unlinked, nothing pending: wakes at %v, want the drift check at %v", got.Sub(t0), s.driftNext.Sub(t0))
	}
	noDrift := testMachine(false)
	s2 := state(noDrift, read(150*ms, "srv1"))
	s2.pendingDown = false
	s2.driftNext = at(20 * sec)
	if got := s2.Deadline(noDrift); !got.IsZero() {
		t.Errorf("no drift checks: wakes at %v, want never", got.Sub(t0))
	}

	// Taken on evidence, the probe failing: the watch's next read.
	s.ep.evidence, s.probe, s.watchNext, s.driftNext = true, probeFailed, at(12*sec), at(time.Hour)
	if got := s.Deadline(c); !got.Equal(at(12 * sec)) {
		t.Errorf("watching: wakes at %v, want 12s", got.Sub(t0))
	}
	s.probe = probeServing
	if got := s.Deadline(c); got.Equal(at(12 * sec)) {
		t.Error("the probe passing: still wakes for the watch")
	}

	// Linked in an episode: when the link will have held failback_delay.
	l := state(c, seq(up(100*ms), read(150*ms, "srv1"), hb(sec))...)
	l.driftNext = at(time.Hour)
	if got, want := l.Deadline(c), at(sec+c.PeerTimeout); !got.Equal(want) {
		t.Errorf("linked: wakes at %v, want the ping timeout at %v", got.Sub(t0), want.Sub(t0))
	}
	l.lastHeard = at(time.Hour)
	if got, want := l.Deadline(c), at(100*ms+c.FailbackDelay); !got.Equal(want) {
		t.Errorf("linked in an episode: wakes at %v, want the episode's end at %v", got.Sub(t0), want.Sub(t0))
	}
	l.ep.on, l.peer = false, declaredUp
	if got := l.Deadline(c); got.Equal(at(100*ms + c.FailbackDelay)) {
		t.Error("no episode, the peer up: still wakes for the episode's end")
	}
}

// A missing record is looked for once a minute while nothing waits on it,
// or every drift check if those come sooner.
func TestNextLook(t *testing.T) {
	for _, tt := range []struct {
		drift time.Duration
		want  time.Duration
	}{
		{0, time.Minute},
		{20 * sec, 20 * sec},
		{5 * time.Minute, time.Minute},
	} {
		c := with(testMachine(false), func(c *Config) { c.DriftInterval = tt.drift })
		s := NewState(t0, c)
		s.link, s.failbackDone, s.lastLook = true, true, at(sec)
		if got := s.nextLook(c); !got.Equal(at(sec + tt.want)) {
			t.Errorf("drift every %v: looks again at %v, want %v", tt.drift, got.Sub(t0), (sec + tt.want))
		}
	}
}

// peer_check's failing probe re-arms a withheld survivor, but not one the
// record already points to: there is nothing to take.
func TestProbeRearms(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	for _, tt := range []struct {
		content string
		rearmed bool
	}{{"srv1", true}, {"srv2", false}} {
		s := NewState(t0, c)
		s.pendingDown, s.everLinked = false, true
		s.rec = knowledge{content: tt.content, at: at(sec)}
		s.probing = true
		_, acts := Next(c, s, EvProbe{At: at(2 * sec), Serving: false, Detail: "refused"})
		took := false
		for _, a := range acts {
			if e, ok := a.(ActEnsure); ok && e.Evidence {
				took = true
			}
		}
		if took != tt.rearmed {
			t.Errorf("the record on %s: takes it on evidence %v, want %v", tt.content, took, tt.rearmed)
		}
	}
}

// The owner's failback, due as the link broke, that lands after this
// node's takeover found the record its own (sent just before the owner
// died, slow to land) is not the peer's takeover: the takeover decides
// again, and takes it. Stamped after its window, it is the peer's write.
func TestFailbackLandedLate(t *testing.T) {
	c := testMachine(false)
	var evs []Event
	for d := sec; d <= 30*sec; d += sec {
		evs = append(evs, hbAt(d, at(d-10*ms), FlagHealthy))
	}
	lost := seq(up(100*ms), read(150*ms, "srv2"), evs, tick(30200*ms), down(30500*ms),
		EvDone{At: at(31 * sec), Asked: at(30900 * ms), Job: 1, Content: "srv2", Purpose: Takeover}, ticks(32*sec, 45*sec))
	for _, tt := range []struct {
		name     string
		stamp    time.Time
		again    bool
		withhold bool
	}{
		{"stamped within the failback's window", at(32 * sec), true, false},
		{"stamped after it", at(45 * sec), false, true},
	} {
		landed := EvRead{At: at(46 * sec), Asked: at(45900 * ms), Record: Record{Content: "srv1", Modified: tt.stamp}, Drift: true}
		var ensures int
		var names []string
		for _, a := range actions(c, seq(lost, landed)...) {
			switch a := a.(type) {
			case ActEnsure:
				ensures++
			case ActLog:
				names = append(names, a.Event)
			}
		}
		if again := ensures == 2; again != tt.again || slices.Contains(names, LogFailbackLanded) != tt.again {
			t.Errorf("%s: takeovers %d, logs %q; want a second one: %v", tt.name, ensures, names, tt.again)
		}
		if slices.Contains(names, LogPeerTook) != tt.withhold {
			t.Errorf("%s: logs %q; want the peer's write noted: %v", tt.name, names, tt.withhold)
		}
	}
}

// When a job that found the record its own sets the look at the end of
// the owner's failback window, and when the look is made.
func TestFailbackWindowLook(t *testing.T) {
	c := testMachine(false)
	due := at(30 * sec)
	until := due.Add(FreshRead + APITimeout)
	for _, tt := range []struct {
		name    string
		purpose Purpose
		content string
		link    bool
		due     time.Time
		asked   time.Time
		want    time.Time
	}{
		{"a takeover that found it its own, asked within the window", Takeover, "srv2", false, due, until.Add(-time.Nanosecond), until.Add(StaleReads)},
		{"asked as the window closed", Takeover, "srv2", false, due, until, time.Time{}},
		{"no failback was due", Takeover, "srv2", false, time.Time{}, due, time.Time{}},
		{"a correction", Correction, "srv2", false, due, due, time.Time{}},
		{"a takeover that found the peer's value", Takeover, "srv1", false, due, due, time.Time{}},
		{"linked again", Takeover, "srv2", true, due, due, time.Time{}},
	} {
		s := NewState(t0, c)
		s.ep = episode{on: true, failbackDue: tt.due}
		s.link = tt.link
		s.job = &job{id: 1, purpose: tt.purpose, content: "srv2"}
		s.done(c, EvDone{At: tt.asked.Add(100 * ms), Asked: tt.asked, Job: 1, Purpose: tt.purpose, Content: tt.content}, nil)
		if !s.ep.lookAt.Equal(tt.want) {
			t.Errorf("%s: look at %v, want %v", tt.name, s.ep.lookAt.Sub(t0), tt.want.Sub(t0))
		}
	}

	// The look is made once it is due, while the link stays down, and
	// not while another read or a job is out.
	for _, tt := range []struct {
		name    string
		link    bool
		reading bool
		want    bool
	}{
		{"due, the link down", false, false, true},
		{"due, the link back", true, false, false},
		{"due, a read out", false, true, false},
	} {
		s := NewState(t0, c)
		s.lookupAsked, s.looked = true, true
		s.ep = episode{on: true, lookAt: at(40 * sec)}
		s.link, s.reading = tt.link, tt.reading
		acts := s.scheduleReads(c, at(40*sec), nil)
		if got := len(acts) == 1; got != tt.want {
			t.Errorf("%s: looked %v, want %v (%v)", tt.name, got, tt.want, acts)
		}
	}
}

// A node whose takeover of the episode wrote over the peer's value says so
// (FlagTook) for the rest of the episode; the peer, whose own write may
// have landed unknown to it, learns from it that the two alternated: the
// flap hold keeps the record with the sender.
func TestFlagTook(t *testing.T) {
	c := testMachine(false)
	took := EvDone{At: at(7 * sec), Asked: at(6 * sec), Job: 1, Content: "srv2", Replaced: "srv1", Changed: true, Purpose: Takeover}
	s := state(c, up(100*ms), read(150*ms, "srv1"), down(sec), took)
	if f := s.Flags(c); f&FlagTook == 0 || f&FlagActive == 0 {
		t.Errorf("after its takeover over the peer's value: flags %08b, want FlagTook and FlagActive", f)
	}
	s2, _ := Next(c, s, up(9*sec))
	if f := s2.Flags(c); f&FlagTook == 0 {
		t.Errorf("linked again within the episode: flags %08b, want FlagTook", f)
	}
	fromBase := took
	fromBase.Replaced = "192.0.2.99"
	if f := state(c, up(100*ms), read(150*ms, "192.0.2.99"), down(sec), fromBase).Flags(c); f&FlagTook != 0 {
		t.Errorf("a takeover over a value of neither node: flags %08b, want no FlagTook", f)
	}
	s.ep.on = false
	if f := s.Flags(c); f&FlagTook != 0 {
		t.Errorf("the episode over: flags %08b, want no FlagTook", f)
	}

	// The receiver: its own write's answer lost, the record read back as
	// the peer's value, it learns from the flag alone.
	for _, tt := range []struct {
		name  string
		flags byte
		ev    bool // within a down episode
		want  bool
	}{
		{"the peer says it took the record", FlagHealthy | FlagActive | FlagTook, true, true},
		{"the peer holds the record, no more", FlagHealthy | FlagActive, true, false},
		{"the flag without FlagActive", FlagHealthy | FlagTook, true, false},
		{"no episode under way", FlagHealthy | FlagActive | FlagTook, false, false},
	} {
		r := state(c, up(100*ms), read(150*ms, "srv1"), down(sec), up(9*sec), read(9200*ms, "srv1"))
		r.ep.on = tt.ev
		r, _ = Next(c, r, hbAt(10*sec, at(10*sec-10*ms), tt.flags))
		if r.ep.peerTook != tt.want {
			t.Errorf("%s: peer took the record %v, want %v", tt.name, r.ep.peerTook, tt.want)
		}
	}
}

// A takeover or a correction dropped when the link came back whose write
// landed all the same moved the record: the node says so once. A write
// made on the link (a health move) needs no word of its own.
func TestLandedLateAlert(t *testing.T) {
	c := testMachine(false)
	for _, tt := range []struct {
		purpose Purpose
		want    string
	}{
		{Takeover, "push down: [srv2] Link to 'srv1' back; an update begun without it landed | The takeover begun while the link was down was dropped when it came back, but its write landed: 'www.example.com' now holds 'srv2'. The nodes agree on it over the link; the failback puts the preferred value back after failback_delay."},
		{Correction, "push drift: [srv2] Link to 'srv1' back; an update begun without it landed | The correction begun while the link was down was dropped when it came back, but its write landed: 'www.example.com' now holds 'srv2'. The nodes agree on it over the link; the failback puts the preferred value back after failback_delay."},
		{HealthMove, ""},
	} {
		_, out := run(c, seq(linked(c, "srv1"), down(2*sec), ticks(3*sec, 8*sec),
			EvWriting{At: at(8100 * ms), Job: 1, Content: "srv2"},
			up(8200*ms), hbf(8300*ms, FlagHealthy|FlagActive),
			EvDone{At: at(8400 * ms), Asked: at(8000 * ms), Job: 1, Content: "srv2", Replaced: "srv1", Changed: true, Purpose: tt.purpose})...)
		var pushes []string
		for _, o := range out {
			if strings.HasPrefix(o, "push") {
				pushes = append(pushes, o)
			}
		}
		if tt.want == "" && len(pushes) != 0 || tt.want != "" && (len(pushes) != 1 || pushes[0] != tt.want) {
			t.Errorf("%s: pushes:\n got %q\nwant %q", tt.purpose, pushes, tt.want)
		}
	}
}

// The peer's word on the record: all of it, part of a set, the preferred
// value of neither node, or nothing.
func TestPeerClaim(t *testing.T) {
	c := testMachine(false)
	for _, tt := range []struct {
		name  string
		flags byte
		want  string
	}{
		{"holds it", FlagHealthy | FlagActive, "srv1"},
		{"holds a set in part", FlagHealthy | FlagActive | FlagPartial, partClaim},
		{"the partial bit alone says nothing", FlagHealthy | FlagPartial, ""},
		{"does not hold it", FlagHealthy, ""},
	} {
		s := state(c, up(100*ms), read(150*ms, "srv1"), hbf(sec, tt.flags))
		if s.claim != tt.want {
			t.Errorf("%s: claim %q, want %q", tt.name, s.claim, tt.want)
		}
	}
}

// The peer's word heard as this node asked its read (the read that checks
// that word) is no older than the read; a word heard before it is. On a
// link that ended the episode, what the peer said there was written on
// the link from its start; on one that did not, only after its first API
// timeout (a write under way as the peer joined belongs to the episode).
func TestLinkSaid(t *testing.T) {
	c := testMachine(false)
	for _, tt := range []struct {
		name       string
		claimedAt  time.Time
		upOnLink   bool
		said       string
		linkStart  time.Time
		onLinkRead bool // a record of the claim stamped 2.5 s after the link's start is the link's
	}{
		{"heard as the read was asked, the episode ended on the link", at(20 * sec), true, "srv1", at(10 * sec), true},
		{"heard as the read was asked, no episode ended on the link", at(20 * sec), false, "srv1", at(10*sec + APITimeout), false},
		{"heard before the read", at(20*sec - ms), true, "", time.Time{}, false},
		{"heard as the read was asked, which found it so", at(20 * sec), true, "", time.Time{}, false},
	} {
		s := NewState(t0, c)
		s.linkSince, s.firstClaimAt, s.heardSent = at(10*sec), at(10*sec), at(30*sec)
		if tt.upOnLink {
			s.upOn = s.linkSince
		}
		s.rec = knowledge{content: "srv2", at: at(20 * sec)}
		if strings.HasSuffix(tt.name, "found it so") {
			s.rec.content = "srv1"
		}
		s.claimSeen, s.claim, s.claimChanged = true, "srv1", tt.claimedAt
		var a ActEnsure
		s.lastLink(&a)
		if a.LinkSaid != tt.said || !a.LinkStart.Equal(tt.linkStart) {
			t.Errorf("%s: said %q from %v, want %q from %v", tt.name, a.LinkSaid, a.LinkStart.Sub(t0), tt.said, tt.linkStart.Sub(t0))
		}
		rec := Record{Content: "srv1", Modified: at(12*sec + 500*ms + clockSkew)}
		if got := s.madeOnLink(rec); got != tt.onLinkRead {
			t.Errorf("%s: a record of the claim stamped early on the link made on it: %v, want %v", tt.name, got, tt.onLinkRead)
		}
	}
}

// The watch's takeover on evidence does not wait for a correction under
// way (paused for the preferred node's drift check): the record is to
// come here anyway. A takeover under way is left to finish.
func TestWatchOverCorrection(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck, c.DriftInterval = true, time.Minute })
	for _, tt := range []struct {
		purpose Purpose
		starts  bool
	}{{Correction, true}, {Takeover, false}} {
		s := NewState(t0, c)
		s.everLinked, s.ep, s.pendingDown = true, episode{on: true, evidence: true}, false
		s.probe, s.rec = probeFailed, knowledge{content: "lb", at: at(sec)}
		s.job = &job{id: 7, purpose: tt.purpose, content: "srv2"}
		acts := s.watch(c, at(20*sec), nil)
		started := false
		for _, a := range acts {
			if e, ok := a.(ActEnsure); ok && e.Purpose == Takeover {
				started = true
			}
		}
		if started != tt.starts {
			t.Errorf("a %s under way: takeover started %v, want %v", tt.purpose, started, tt.starts)
		}
	}
}
