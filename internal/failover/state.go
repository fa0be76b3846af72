package failover

import "time"

// PeerState is the peer as this node sees it.
type PeerState string

// Peer states.
const (
	PeerConnecting PeerState = "connecting" // starting, or the link is being re-established
	PeerUp         PeerState = "up"         // linked
	PeerDown       PeerState = "down"       // declared down, not linked
)

type declared int

const (
	declaredNone declared = iota // since start, nothing declared yet
	declaredUp
	declaredDown
)

// job is a record update in flight: re-read, write if different, retry.
type job struct {
	id       uint64
	content  string
	purpose  Purpose
	announce bool   // push the outcome even if nothing changed
	title    string // the push title for this transition
	event    string // what its alerts are about (Alert*)
	failures int
	since    time.Time
	lastErr  string
}

type probeState int

const (
	probeNone    probeState = iota
	probeServing            // the last probe passed: the peer still serves
	probeFailed             // the last probe failed: the peer's service is gone
)

// knowledge is what this node knows of the record's content, and as of
// when: a read counts from when it was asked, a write from its answer, a
// claim of the peer from when it was made. Newer knowledge replaces older,
// never the other way round, whatever order the answers arrive in.
type knowledge struct {
	content string    // "" unknown
	at      time.Time // as of when
	missing bool      // the last read found no record of the configured type
	// maybe: unknown, but this node's write of it may have landed (its
	// answer was lost): until a read tells, its keepalives say so.
	maybe string
}

// episode is a down episode: from a link loss until the link has held
// again for failback_delay (the peer is declared up). Brief returns of the
// link within it do not end it.
type episode struct {
	on       bool
	began    time.Time // the loss that began it (zero for the one a start begins)
	since    time.Time // when the link was last known good (the peer agreed on the record), the start of this node, or a peer_timeout before the loss
	first    string    // what the record held when the episode began (or what start first found); "" unknown
	peerTook bool      // the peer wrote the record during the episode: it was alive then
	took     bool      // this node's takeover of the episode was announced
	held     bool      // this node's takeover of the episode wrote its value, or found it there
	wrote    bool      // this node wrote its value during the episode
	tookFrom bool      // this node's takeover of the episode wrote over the peer's value (FlagTook)
	evidence bool      // this node took the record on evidence that the peer's service is gone
	contest  bool      // the peer took it back after that: this node does not write again
	// failbackDue: when the peer's failback to the preferred value was
	// due on the link that broke, if that was recent enough for it to
	// land in the episode: then the preferred value, stamped since,
	// counts as unchanged too. Zero if not.
	failbackDue time.Time
	announced   bool // the peer announced that failback (its keepalives claimed the preferred value)
	// lookAt: this node's takeover found the record its own while that
	// failback could still land: it looks once more when it no longer
	// can (zero: no look due).
	lookAt time.Time
	// sawMissing: the record was missing during the episode, or when it
	// began; the first value seen after it, undated, may be the peer's
	// write.
	sawMissing bool
}

// State is one node's state. Only Next changes it; the zero value is not
// valid: start from NewState.
type State struct {
	started  time.Time
	lastTurn time.Time

	link       bool
	everLinked bool
	linkSince  time.Time
	// upOn is the linkSince of the link on which the last down episode
	// ended (the link held for failback_delay).
	upOn      time.Time
	lastHeard time.Time // the last frame, or the end of a freeze (for the ping timeout)
	// agreedAt is when the peer last said it knows of the record what this
	// node knows: the write rule's "when the link was last known good".
	agreedAt time.Time
	reason   string // why the link was last lost
	lostAt   time.Time
	frozeAt  time.Time // the end of this node's last freeze
	infoSeen bool      // the peer's INFO of this link
	mismatch []string  // the settings that block failback, as the peer's INFO said
	problems []Problem // what the two nodes disagree on (copy on write)
	// The last measurements of the peer's and the DNS API's clocks.
	peerClock, apiClock ClockOffset

	peer        declared
	peerSince   time.Time
	pendingDown bool      // the link is lost and this node has not settled the takeover yet
	grace       time.Time // after a freeze of this node: no action before this
	// restartBy: the peer said it is restarting: its record stays where
	// it is until then, or until the link is back; restartGrace is the
	// grace it announced.
	restartBy    time.Time
	restartGrace time.Duration
	ep           episode
	// This node's last write: a read that shows what it replaced, within
	// StaleReads of it, is a read the API answered from before the write.
	wrote, replaced string
	wroteAt         time.Time

	failbackDone bool // for the current link and health
	// failbackHeld: a failback of this link found the peer's unannounced
	// write and held; the next, not before failbackNext, writes.
	failbackHeld bool
	failbackNext time.Time
	// wasDown: the episode that ended last had the peer declared down:
	// the failback that follows is announced.
	wasDown bool

	// What is known of the record and of the peer.
	rec knowledge
	// A write of this node's under way, and its job: counted on until its
	// outcome is known.
	writing    string
	writingJob uint64
	writingAt  time.Time
	partly     bool // the write of writingJob landed in part; the job goes on
	peerValue  string
	peerKnown  bool // peerValue is configured or said by the peer, not a guess

	// The peer's claims, from its keepalives on this link.
	claim        string    // what the peer says the record holds: its value, the preferred one, or "" (neither)
	claimSeen    bool      // a keepalive has come on this link
	claimChanged time.Time // when the peer last changed its claim
	firstClaimAt time.Time // when the link's first keepalive came
	// heardSent: the latest a keepalive heard on this link (the last
	// one, after a loss) can have been sent, at the earliest (EvHeard.Sent).
	heardSent time.Time
	// peerActed: on this link, the peer took the record unasked (its claim
	// changed to holding it, confirmed by a read): it has lost this node
	// (a one-way cut), so the episode that follows begins with the peer
	// having taken it.
	peerActed   bool
	peerActedAt time.Time // the claim change that showed it
	// sanctioned: until then, the peer may move the record at this node's
	// request (it was unhealthy, or handed the record over); such a move
	// is not a takeover of the peer's during a loss.
	sanctioned time.Time
	verifyNext time.Time // no verification read before this
	// The claim and the knowledge of the last verification read.
	verifiedClaim, verifiedRec string
	verifyAgain                time.Time
	verifyGap                  time.Duration

	peerHealthy      bool
	peerHealthySince time.Time
	peerStops        bool // the peer is handing the record over
	peerJobNext      time.Time

	healthy      bool
	healthySince time.Time
	healthReason string
	failing      bool   // healthy, but this node's last check failed
	lastCheck    string // the last check's error; "" if it passed

	// The split-brain guard.
	guard     string // why this node withholds; "" if it does not
	guardAt   time.Time
	probe     probeState // the last probe's verdict in this loss of the link
	probing   bool       // a probe is under way
	probeNext time.Time
	// probeDetail: what the probe found when it last turned to failed.
	probeDetail string
	watchNext   time.Time       // with peer_check and the peer's service gone: the next check of the record
	alerted     map[string]bool // one-shot alerts of the current down episode

	driftNext     time.Time
	driftReported string
	lastLook      time.Time     // the last look for a missing record
	lookGap       time.Duration // while a decision waits on it: from 5 s, doubled, up to a minute
	reading       bool          // a plain read is under way
	lookupAsked   bool          // the start-up lookup has been asked for
	looked        bool          // a plain read has answered since start
	lookFailed    bool          // a read has failed since start, before any answered

	stopping     bool
	handover     bool // stopping, and asking the peer to take the record
	stopAt       time.Time
	stopBy       time.Time
	stopReadNext time.Time // a stopping node's next read of whether the peer holds the record

	active      bool // as last announced to hooks: the record points here
	activeKnown bool // a hook has announced it at all

	job    *job
	jobSeq uint64
}

// NewState is a node's state at start.
func NewState(now time.Time, c *Config) State {
	return State{started: now, lastTurn: now, pendingDown: true, reason: "no link since start",
		ep:      episode{on: true, since: now},
		healthy: true, healthySince: now, peerHealthy: true, peerHealthySince: now,
		peerValue: c.OtherValue, peerKnown: c.OtherKnown,
		driftNext: now.Add(c.DriftInterval), alerted: map[string]bool{}}
}

// owner reports whether this node writes the preferred value on failback:
// the node whose value is the preferred one; if neither is, the server.
func (s State) owner(c *Config) bool {
	return c.ThisValue == c.Preferred || c.Server && s.peerValue != c.Preferred
}

// PeerState is what /status shows.
func (s State) PeerState() PeerState {
	switch {
	case s.link:
		return PeerUp
	case s.peer == declaredDown:
		return PeerDown
	}
	return PeerConnecting
}

// thirdPreferred is the preferred value if it is neither node's, else "".
func (s State) thirdPreferred(c *Config) string {
	if c.Preferred == c.ThisValue || c.Preferred == s.peerValue || !s.peerKnown {
		return ""
	}
	return c.Preferred
}

// claimOf is what the peer would say of the record if it held content:
// its own value, the preferred value that is neither node's, or "".
func (s State) claimOf(c *Config, content string) string {
	switch {
	case content == "":
	case content == s.peerValue || content == s.thirdPreferred(c):
		return content
	case s.holdsPart(c, content, s.peerValue):
		return partClaim // a set the peer holds in part
	}
	return ""
}

// holdsPart reports whether content, a set's, is one node's move of it
// landed in part: every record holds a node's value, and some hold value's.
func (s State) holdsPart(c *Config, content, value string) bool {
	return s.peerKnown && nodesParts(content, c.ThisValue, s.peerValue) && partOf(content, value)
}

// base is what the write rule compares a read with: what this node last
// knew the record to hold (what the link said when it was last good, or a
// read since that showed no write of the peer's), else what the episode
// first knew.
func (s State) base() string {
	if s.rec.content != "" {
		return s.rec.content
	}
	return s.ep.first
}

// baseAt is as of when this node knew the record to hold its base: its
// knowledge's time, or zero for what the episode began with.
func (s State) baseAt() time.Time {
	if s.rec.content != "" {
		return s.rec.at
	}
	return time.Time{}
}

// peersValue reports whether content may be the peer's value.
func (s State) peersValue(c *Config, content string) bool {
	return mayBePeers(content, c.ThisValue, s.peerValue, s.peerKnown)
}

// Flags are the keepalive flags this state advertises.
func (s State) Flags(c *Config) byte {
	var f byte
	if s.healthy {
		f |= FlagHealthy
	}
	content := s.rec.content
	switch {
	case s.writing != "":
		content = s.writing
	case content == "" && s.rec.maybe != "":
		// Its own write may have landed: "not mine" would vouch for a
		// record this node does not know (the peer would count it as
		// agreement once said for a peer_timeout), so it says what it
		// wrote, and the peer, disagreeing, reads.
		content = s.rec.maybe
	}
	switch {
	case content == "":
		f |= FlagUnsure
	case content == c.ThisValue:
		f |= FlagActive
	case s.holdsPart(c, content, c.ThisValue):
		f |= FlagActive | FlagPartial
	case content == s.thirdPreferred(c):
		f |= FlagPreferred
	}
	if s.handover {
		f |= FlagHandover
	}
	if s.ep.on && s.ep.tookFrom && f&FlagActive != 0 && f&FlagPartial == 0 {
		f |= FlagTook
	}
	return f
}

// MayWrite reports whether this node may write content now: never its own
// value while its own service fails its checks, never while stopping.
// The worker asks it right before each write, so that a health verdict
// that arrives while a job is under way still stops the write.
func (s State) MayWrite(c *Config, content string) bool {
	if s.stopping {
		return false
	}
	return content != c.ThisValue || s.healthy && !s.failing
}

// Deadline is when Next must see an event at the latest; zero if never.
// What was due before the last turn and still waits, waits on an event
// (a probe's answer, a job's report, a keepalive), not on the clock.
func (s State) Deadline(c *Config) time.Time {
	var d time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && !t.Before(s.lastTurn) && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if s.stopping {
		earliest(s.stopBy)
		return d
	}
	if s.link {
		earliest(s.lastHeard.Add(c.PeerTimeout))
		if s.ep.on || s.peer != declaredUp {
			earliest(s.upFrom().Add(c.FailbackDelay))
		}
		if !s.failbackDone && s.sound() && !s.rec.missing && s.owner(c) && s.peerHealthy {
			earliest(s.failbackFrom().Add(c.FailbackDelay))
		}
		if s.peerJobDue() {
			earliest(s.peerJobNext)
		}
	} else {
		if s.pendingDown {
			t := later(s.grace, s.restartBy)
			if !s.everLinked && s.started.Add(c.PeerTimeout).After(t) {
				t = s.started.Add(c.PeerTimeout)
			}
			earliest(t)
		}
		if c.PeerCheck && s.probeDue() {
			earliest(s.probeNext)
		}
		if s.ep.evidence && s.probe == probeFailed {
			earliest(s.watchNext)
		}
		if !s.ep.lookAt.IsZero() {
			earliest(s.ep.lookAt)
		}
	}
	if c.DriftInterval > 0 {
		earliest(s.driftNext)
	}
	if s.rec.missing {
		earliest(s.nextLook(c))
	}
	return d
}

// waitsOnRecord reports whether a decision waits on a missing record: a
// takeover, a failback, or the peer's request for the record.
func (s State) waitsOnRecord() bool {
	return !s.link && s.pendingDown || s.link && (!s.failbackDone || s.peerStops || !s.peerHealthy)
}

// nextLook is when to look for a missing record next: soon while a
// decision waits on it (backing off to a minute), else once a minute.
func (s State) nextLook(c *Config) time.Time {
	if s.waitsOnRecord() {
		return s.lastLook.Add(s.lookGap)
	}
	every := missingEvery
	if c.DriftInterval > 0 {
		every = min(every, c.DriftInterval)
	}
	return s.lastLook.Add(every)
}

// onLink is the span in which a write of the peer's, by its stamp, was
// made while the peer was still on the last link: after the link's
// first keepalive came, less a write under way when the peer joined it
// (APITimeout), and before the latest keepalive heard on it was sent. The
// peer writes unasked only once it has lost the link, and it sends no
// keepalive on a link it has lost: such a write was made on the link (a
// failback, a move), whatever this node knew of it, not a takeover of a
// down episode. Zero if no keepalive on the link said when it was sent.
func (s State) onLink() (from, until time.Time) {
	if !s.claimSeen || s.heardSent.IsZero() {
		return time.Time{}, time.Time{}
	}
	return s.firstClaimAt.Add(APITimeout), s.heardSent
}

// lastLink sets what a judges the peer's writes on the last link by:
// onLink's bounds, what the peer said there (linkSaid) and since when.
func (s State) lastLink(a *ActEnsure) {
	a.LinkFrom, a.LinkUntil = s.onLink()
	if a.LinkSaid = s.linkSaid(); a.LinkSaid != "" {
		// What the peer said it holds was written on the link, or before
		// it and under way as the peer joined it (APITimeout): a write
		// of the episode the link did not end. On a link that ended it,
		// the latter belongs to an episode over.
		a.LinkStart = a.LinkFrom
		if s.upOn.Equal(s.linkSince) {
			a.LinkStart = s.firstClaimAt
		}
	}
}

// madeOnLink reports whether rec, by its stamp, was written while the
// peer was on the last link (onLink), or, within the stamps' margin of
// the link's end, holds what the peer said there it held (saidOnLink).
func (s State) madeOnLink(rec Record) bool {
	var a ActEnsure
	s.lastLink(&a)
	return withinStamps(rec, a.LinkFrom, a.LinkUntil) || a.saidOnLink(rec)
}

// linkSaid is what the peer's last keepalive on the last link said the
// record holds, if the peer said it since what this node knows ("" for
// nothing, or no keepalive). A word older than this node's knowledge may
// be stale (the peer had yet to learn of a write since, and may take the
// record back once it loses the link): it says nothing of the record. A
// word heard as this node asked its read (the read it made to check that
// word), which that read contradicts, is no older: the peer may be
// writing what it says, and a read asked then shows the record before
// the write. One the read confirms says nothing more than the read.
func (s State) linkSaid() string {
	switch {
	case !s.claimSeen, s.claimChanged.Before(s.rec.at):
		return ""
	case s.claimChanged.Equal(s.rec.at) && s.claim == s.rec.content:
		return ""
	}
	return s.claim
}

// claimMoved reports whether the peer's claim changed on this link after
// its first keepalive (which tells what the peer knew before the link).
func (s State) claimMoved() bool { return s.claimChanged.After(s.firstClaimAt) }

// upFrom is when the link's time towards failback_delay started: its
// return, or the end of this node's freeze.
func (s State) upFrom() time.Time {
	if s.frozeAt.After(s.linkSince) {
		return s.frozeAt
	}
	return s.linkSince
}

// failbackFrom is when the failback clock started: the link's return, this
// node's return to health, the peer's, or the end of a freeze of this
// node, whichever is latest.
func (s State) failbackFrom() time.Time {
	t := s.linkSince
	for _, u := range []time.Time{s.healthySince, s.peerHealthySince, s.frozeAt} {
		if u.After(t) {
			t = u
		}
	}
	return t
}
