package quorum

// This file is what a running node does at an operator's request: change
// the cluster's membership, and hand leadership away before it stops.

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
)

// ErrNoEligible is HandOver's answer when no node member can take
// leadership: none is healthy, answering and up to date.
var ErrNoEligible = errors.New("no eligible node to hand leadership to")

// errNotRunning: Raft does not run (before Run, or after it ended).
var errNotRunning = errors.New("raft is not running")

// running returns the Raft instance while Run runs it, else nil.
func (n *Node) running() *raft.Raft {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.r
}

// AddVoter adds the member name at address to the cluster as a voter. Only
// the leader can: elsewhere the error wraps ErrNotLeader. It returns once
// the change is committed, or when ctx ends.
func (n *Node) AddVoter(ctx context.Context, name, address string) error {
	r := n.running()
	if r == nil {
		return fmt.Errorf("add voter %s: %w", name, errNotRunning)
	}
	err := await(ctx, r.AddVoter(raft.ServerID(name), raft.ServerAddress(address), 0, n.cfg.APITimeout))
	if err != nil {
		return fmt.Errorf("add voter %s: %w", name, notLeader(err))
	}
	n.log.Info("member added", "member", name, "address", address)
	return nil
}

// RemoveServer removes the member name from the cluster. Only the leader
// can: elsewhere the error wraps ErrNotLeader. It returns once the change
// is committed, or when ctx ends.
func (n *Node) RemoveServer(ctx context.Context, name string) error {
	r := n.running()
	if r == nil {
		return fmt.Errorf("remove %s: %w", name, errNotRunning)
	}
	err := await(ctx, r.RemoveServer(raft.ServerID(name), 0, n.cfg.APITimeout))
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, notLeader(err))
	}
	n.log.Info("member removed", "member", name)
	return nil
}

// HandOver hands leadership to the best eligible node member (a voter,
// healthy, answering, its log up to date; the best priority first) if
// this member leads, and returns its name; "" and nil if this member does
// not lead. A
// stopping leader calls it, so that the records move once, to the node
// that would lead next, and not twice through an election. It asks every
// member its status and waits for the new leader's election, both within
// ctx; with no eligible node the error wraps ErrNoEligible.
func (n *Node) HandOver(ctx context.Context) (string, error) {
	r := n.running()
	if r == nil || r.State() != raft.Leader {
		return "", nil
	}
	// A member the file lists and the cluster removed cannot take
	// leadership: Raft transfers it only to a voter.
	voters := n.Voters()
	views := make([]view, len(n.cfg.Members))
	var wg sync.WaitGroup
	for i, m := range n.cfg.Members {
		views[i].Member = m
		if m.Name == n.self.Name || !voters[m.Name] {
			continue
		}
		wg.Go(func() {
			st, err := n.cfg.Statuses.Status(ctx, m)
			views[i].Answered = err == nil && st.Name == m.Name
			views[i].Status = st
		})
	}
	wg.Wait()
	last := r.LastIndex()
	var best *view
	for i := range views {
		v := &views[i]
		if v.Member.Name == n.self.Name || !voters[v.Member.Name] || !eligible(v, last) {
			continue
		}
		if best == nil || before(v.Member, best.Member) {
			best = v
		}
	}
	if best == nil {
		return "", ErrNoEligible
	}
	to := best.Member
	n.log.Info("handing leadership over before stopping", "to", to.Name, "term", r.CurrentTerm())
	if err := await(ctx, r.LeadershipTransferToServer(raft.ServerID(to.Name), raft.ServerAddress(to.Address))); err != nil {
		return "", fmt.Errorf("hand leadership to %s: %w", to.Name, notLeader(err))
	}
	return to.Name, nil
}

// await waits for f, or for ctx to end.
func await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }() // Raft resolves every future, at the latest at Shutdown
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notLeader translates Raft's not-a-leader errors to ErrNotLeader.
func notLeader(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return err
}
