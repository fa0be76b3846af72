package quorum

import (
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Timings are the Raft figures of a preset, as a node member runs them.
type Timings struct {
	// HeartbeatTimeout is how long a follower goes without hearing from
	// the leader before it stands for election (Raft waits between one
	// and two of them).
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader goes without hearing from a
	// majority before it steps down.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how often an idle leader sends each follower an
	// AppendEntries besides the heartbeats (Raft's, to spread the commit
	// index), on a connection of its own: on a lossy path its answers
	// keep the leader's lease while the heartbeats' connection waits out
	// a retransmission. (500 ms halved an idle member's CPU, and a 10 %
	// loss then cost a leader its lease now and then.)
	CommitTimeout time.Duration
	// API is the API timeout the preset runs with: a write is sent only
	// with that much of its lease left (Lease), so it must be shorter.
	API time.Duration
}

// witnessFactor stretches a witness's timeouts: it stands for election
// only when no node has for that much longer, so that it rarely leads.
const witnessFactor = 3

// Preset returns the timings named by the configuration's cluster.preset:
// "lan" (the default, also for "") or "wan".
//
// lan: a leader that crashes or hangs is replaced within one to two
// heartbeat timeouts (1–2 s) and an election; Raft sends a heartbeat every
// tenth of the timeout, so a loss of one in ten frames moves nothing. The
// lease (950 ms) leaves a write 800 ms: a provider that answers slower
// (a DNS API across an ocean) is retried, and wants wan.
//
// wan: members a continent apart (100–300 ms round trips): a new leader
// within 3–6 s, a write 2.5 s.
func Preset(name string) (Timings, error) {
	switch name {
	case "", "lan":
		return Timings{
			HeartbeatTimeout:   time.Second,
			ElectionTimeout:    time.Second,
			LeaderLeaseTimeout: 500 * time.Millisecond,
			CommitTimeout:      50 * time.Millisecond,
			API:                800 * time.Millisecond,
		}, nil
	case "wan":
		return Timings{
			HeartbeatTimeout:   3 * time.Second,
			ElectionTimeout:    3 * time.Second,
			LeaderLeaseTimeout: 1500 * time.Millisecond,
			CommitTimeout:      100 * time.Millisecond,
			API:                2500 * time.Millisecond,
		}, nil
	}
	return Timings{}, fmt.Errorf("preset: unknown %q (want lan or wan)", name)
}

// For returns the timings a member of role runs: a witness whose bid for
// election failed waits witnessFactor times longer before the next, so
// that a node usually wins. Its heartbeat timeout is the nodes': Raft's
// followers refuse votes while they still count the old leader as live,
// and a witness that did so for longer would hold every failover back.
func (t Timings) For(role Role) Timings {
	if role == RoleWitness {
		t.ElectionTimeout *= witnessFactor
	}
	return t
}

// Lease is how long after the start of a successful VerifyLeader no other
// leader can be elected: a follower that answered it stands, or votes for
// another, only a HeartbeatTimeout after that answer (a node member's,
// the shortest of any follower), less a twentieth for clocks that run at
// different rates.
func (t Timings) Lease() time.Duration {
	return t.HeartbeatTimeout - t.HeartbeatTimeout/20
}

// validate reports timings Raft would refuse, or that leave no room to
// write within a lease.
func (t Timings) validate(apiTimeout time.Duration) error {
	switch {
	case t.HeartbeatTimeout <= 0 || t.ElectionTimeout <= 0 || t.CommitTimeout <= 0 || t.LeaderLeaseTimeout <= 0:
		return fmt.Errorf("timings: every figure must be > 0 (got %+v)", t)
	case t.LeaderLeaseTimeout > t.HeartbeatTimeout:
		return fmt.Errorf("timings: leader lease timeout must be <= heartbeat timeout (got %s > %s)", t.LeaderLeaseTimeout, t.HeartbeatTimeout)
	case apiTimeout <= 0:
		return fmt.Errorf("api timeout: must be > 0 (got %s)", apiTimeout)
	case t.Lease() <= apiTimeout:
		return fmt.Errorf("api timeout: must be shorter than the lease, %s (got %s)", t.Lease(), apiTimeout)
	}
	return nil
}

// raftConfig is the raft.Config of member self; Raft's own log goes to w
// (io.Discard if nil) at warning level and above.
func raftConfig(self Member, t Timings, w io.Writer) *raft.Config {
	if w == nil {
		w = io.Discard
	}
	tt := t.For(self.Role)
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(self.Name)
	c.HeartbeatTimeout = tt.HeartbeatTimeout
	c.ElectionTimeout = tt.ElectionTimeout
	c.LeaderLeaseTimeout = tt.LeaderLeaseTimeout
	c.CommitTimeout = tt.CommitTimeout
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: w, Level: hclog.Warn})
	return c
}
