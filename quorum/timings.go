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
	// CommitTimeout is the longest a leader waits to send an entry.
	CommitTimeout time.Duration
}

// witnessFactor stretches a witness's timeouts: it stands for election
// only when no node has for that much longer, so that it rarely leads.
const witnessFactor = 3

// Preset returns the timings named by the configuration's cluster.preset:
// "lan" (the default, also for "") or "wan".
func Preset(name string) (Timings, error) {
	switch name {
	case "", "lan":
		return Timings{
			HeartbeatTimeout:   8 * time.Second,
			ElectionTimeout:    8 * time.Second,
			LeaderLeaseTimeout: 4 * time.Second,
			CommitTimeout:      50 * time.Millisecond,
		}, nil
	case "wan":
		return Timings{
			HeartbeatTimeout:   15 * time.Second,
			ElectionTimeout:    15 * time.Second,
			LeaderLeaseTimeout: 7500 * time.Millisecond,
			CommitTimeout:      200 * time.Millisecond,
		}, nil
	}
	return Timings{}, fmt.Errorf("preset: unknown %q (want lan or wan)", name)
}

// For returns the timings a member of role runs: a witness waits
// witnessFactor times longer before it stands for election.
func (t Timings) For(role Role) Timings {
	if role == RoleWitness {
		t.HeartbeatTimeout *= witnessFactor
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
