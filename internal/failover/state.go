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
	failures int
	since    time.Time
	lastErr  string
}

type probeState int

const (
	probeNone    probeState = iota
	probeRunning            // a peer_check probe is under way
	probeServing            // the last probe passed: the peer still serves
	probeFailed             // the last probe failed: the peer is down
)

// State is one node's state. Only Next changes it; the zero value is not
// valid: start from NewState.
type State struct {
	started  time.Time
	lastTurn time.Time

	link       bool
	everLinked bool
	linkSince  time.Time
	lastHeard  time.Time
	reason     string // why the link was last lost
	lostAt     time.Time

	peer        declared
	peerSince   time.Time
	pendingDown bool      // the link is lost and this node has not acted on it yet
	grace       time.Time // after a freeze of this node: no action before this

	failbackDone bool // for the current link and health

	// What is known of the record and of the peer.
	record      string // the record's content as last read or written; "" unknown
	recordAt    time.Time
	base        string // the record's content when the link was last up
	peerValue   string
	peerActive  bool // the peer says the record points to it
	peerHealthy bool
	peerStops   bool // the peer is handing the record over

	healthy      bool
	healthySince time.Time
	healthReason string
	failing      bool   // healthy, but this node's last check failed
	lastCheck    string // the last check's error; "" if it passed

	// The split-brain guard.
	guard     string // why this node withholds; "" if it does not
	guardAt   time.Time
	probe     probeState
	probeNext time.Time
	alerted   map[string]bool // one-shot alerts of the current link episode
	announced bool            // the current down episode's takeover was announced

	driftNext     time.Time
	driftReported string

	stopping bool
	handover bool // stopping, and asking the peer to take the record
	stopBy   time.Time

	active      bool // as last announced to hooks: the record points here
	activeKnown bool // a hook has announced it at all

	job    *job
	jobSeq uint64
}

// NewState is a node's state at start.
func NewState(now time.Time, c *Config) State {
	return State{started: now, lastTurn: now, pendingDown: true, reason: "no link since start",
		healthy: true, healthySince: now, peerHealthy: true, peerValue: c.OtherValue,
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

// holder is the record's content as this node best knows it.
func (s State) holder() string {
	if s.peerActive && s.link {
		return s.peerValue
	}
	return s.record
}

// Flags are the keepalive flags this state advertises.
func (s State) Flags(c *Config) byte {
	var f byte
	if s.healthy {
		f |= FlagHealthy
	}
	if s.record != "" && s.record == c.ThisValue {
		f |= FlagActive
	}
	if s.handover {
		f |= FlagHandover
	}
	return f
}

// Deadline is when Next must see an event at the latest; zero if never.
func (s State) Deadline(c *Config) time.Time {
	var d time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if s.stopping {
		earliest(s.stopBy)
	}
	if s.link {
		earliest(s.lastHeard.Add(c.PeerTimeout))
		if !s.failbackDone {
			earliest(s.failbackFrom().Add(c.FailbackDelay))
		}
	} else if s.pendingDown {
		t := s.grace
		if !s.everLinked && s.started.Add(c.PeerTimeout).After(t) {
			t = s.started.Add(c.PeerTimeout)
		}
		if s.probe == probeServing && s.probeNext.After(t) {
			t = s.probeNext
		}
		if s.peer == declaredDown && s.announced && s.base != "" && s.base == s.peerValue {
			if h := s.lostAt.Add(c.FailbackDelay); h.After(t) {
				t = h
			}
		}
		earliest(t)
	}
	if c.DriftInterval > 0 {
		earliest(s.driftNext)
	}
	return d
}

// failbackFrom is when the failback clock started: the link's return or
// this node's return to health, whichever is later.
func (s State) failbackFrom() time.Time {
	if s.healthySince.After(s.linkSince) {
		return s.healthySince
	}
	return s.linkSince
}
