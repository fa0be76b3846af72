package failover

import "time"

// Config is what the machine knows of the configuration.
type Config struct {
	This, Other string
	Record      string // the record's name, for messages
	ThisValue   string // what this node writes when it takes over
	OtherValue  string // the peer's value until the peer says otherwise
	// OtherKnown: OtherValue comes from the configuration, not a guess
	// (the peer's name, which an A or AAAA record never holds). Until the
	// peer's value is known, a value that is neither this node's nor the
	// preferred one may be the peer's: it is never corrected.
	OtherKnown    bool
	Preferred     string // what the record holds when both nodes are up
	Server        bool   // this node has the server role
	PeerTimeout   time.Duration
	FailbackDelay time.Duration
	// Keepalive is the keepalive interval; the freeze threshold is one
	// keepalive less than PeerTimeout, since the peer counts its silence
	// from our last frame, sent up to one interval before a freeze.
	Keepalive     time.Duration
	PeerCheck     bool          // a peer_check is configured
	DriftInterval time.Duration // 0: no drift checks
	Handover      bool          // handover_on_stop
	// RestartGrace is what this node announces when it stops to restart:
	// its peer holds the record for it that long.
	RestartGrace time.Duration

	// Disable turns guards of the write rule off, one at a time, for the
	// simulator's test that it catches the bug each one prevents. Zero in
	// production.
	Disable Disable
}

// Disable names guards of the write rule.
type Disable uint8

// Guards the planted-bug test turns off.
const (
	DisableWithhold    Disable = 1 << iota // a takeover that finds the peer's fresh write withholds
	DisableTiePause                        // the node that is not preferred pauses before taking a record that points at neither
	DisableFlapHold                        // the peer took the record earlier in this episode: leave it
	DisableRestartHold                     // a peer that restarts keeps the record for its grace
)

// Timings of the rule.
const (
	// HandoverLimit bounds how long a stopping node waits for its peer to
	// take the record: half a second less than the 5 s a stop with a
	// handover may take, for the shutdown itself.
	HandoverLimit = 4500 * time.Millisecond
	// MaxRestartGrace bounds the grace a restarting peer may ask for: a
	// record waits no longer for a node that said it would be back.
	MaxRestartGrace = 10 * time.Minute
	// FreshRead: a write acts on a read answered less than this long ago,
	// or the job reads again.
	FreshRead = time.Second
	// StaleReads bounds how long the DNS API's reads may lag its writes.
	StaleReads = time.Second
	// tieDelay is how long, beyond the time the preferred node may take
	// to notice the loss of the link (TiePause), the node that is not
	// preferred lets it go first when both want a record that points at
	// neither.
	tieDelay = time.Second
	// clockSkew is how far a store's Modified and our clock may disagree:
	// the Date header's second, and the answer's way back.
	clockSkew = 2 * time.Second
	// PeerJobGap paces the jobs the peer's keepalives start (a health
	// move, a handover, a verification read), so that a peer whose flags
	// flap cannot make this node hammer the DNS API.
	PeerJobGap = 5 * time.Second
	// verifyMax bounds the backoff of verification reads of one lasting
	// disagreement.
	verifyMax = 2 * time.Minute
	// missingEvery is how often a missing record is looked for; while a
	// decision waits on it, the looks start lookFirst apart and back off
	// to missingEvery.
	missingEvery = time.Minute
	lookFirst    = 5 * time.Second
	// WatchEvery: with peer_check failing and the link down, how often the
	// record is read to catch the peer writing it onto its dead service.
	WatchEvery = 10 * time.Second
)

// TiePause is how long the node that is not preferred waits before it
// takes a record that points at neither node: the preferred node may
// notice the loss up to a peer_timeout and a keepalive later (a peer that
// closed the link alive gets a grace), then tieDelay.
func (c *Config) TiePause() time.Duration { return c.PeerTimeout + c.Keepalive + tieDelay }

// freezeThreshold is the gap between two turns of the loop beyond which
// this node counts as having been frozen. The loop turns at least every
// beat, so the threshold is three normal gaps.
func (c *Config) freezeThreshold() time.Duration {
	return max(c.PeerTimeout-c.Keepalive, c.Keepalive)
}

// Beat is the longest the loop sleeps: a third of the freeze threshold
// (667 ms at the defaults). While linked, the peer's keepalives turn it
// more often, so the beat only fires on a silent link.
func (c *Config) Beat() time.Duration { return c.freezeThreshold() / 3 }
