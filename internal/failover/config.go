package failover

import "time"

// Config is what the machine knows of the configuration.
type Config struct {
	This, Other   string
	Record        string // the record's name, for messages
	ThisValue     string // what this node writes when it takes over
	OtherValue    string // the peer's value until the peer says otherwise
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
}

// Timings of the rule.
const (
	// HandoverLimit bounds how long a stopping node waits for its peer to
	// take the record.
	HandoverLimit = 5 * time.Second
	// TieDelay is how long the node that is not preferred lets the
	// preferred one go first when both want a record that points at
	// neither.
	TieDelay = time.Second
	// clockSkew is how far a store's Modified and our clock may disagree.
	clockSkew = time.Second
)

// FreezeThreshold is the gap between two turns of the loop beyond which
// this node counts as having been frozen. The loop turns at least every
// beat, so the threshold is three normal gaps.
func (c *Config) FreezeThreshold() time.Duration {
	return max(c.PeerTimeout-c.Keepalive, c.Keepalive)
}

// Beat is the longest the loop sleeps: a third of the freeze threshold
// (583 ms at the defaults). While linked, the peer's keepalives turn it
// more often, so the beat only fires on a silent link.
func (c *Config) Beat() time.Duration { return c.FreezeThreshold() / 3 }
