package quorum_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/quorum"
)

// TestHandOverAndMembership: a stopping leader hands leadership to the
// next node, which moves the records; a follower refuses a membership
// change as not the leader; the leader makes one.
func TestHandOverAndMembership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(threeNodes, 10*time.Second, 0, rand.New(rand.NewPCG(5, 6)))
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Fatal("a does not lead with its values within two minutes")
		}
		nodes := w.nodes()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()

		if to, err := nodes[1].HandOver(ctx); to != "" || err != nil {
			t.Errorf("HandOver on a follower: got %q, %v, want \"\", nil", to, err)
		}
		if err := nodes[1].AddVoter(ctx, "d", "d:7946"); !errors.Is(err, quorum.ErrNotLeader) {
			t.Errorf("AddVoter on a follower: got %v, want ErrNotLeader", err)
		}
		if err := nodes[2].RemoveServer(ctx, "a"); !errors.Is(err, quorum.ErrNotLeader) {
			t.Errorf("RemoveServer on a follower: got %v, want ErrNotLeader", err)
		}

		to, err := nodes[0].HandOver(ctx)
		if to != "b" || err != nil {
			t.Fatalf("HandOver on the leader: got %q, %v, want b, nil", to, err)
		}
		w.setHealth(0, 1) // a stopped serving: no failback to it
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && l == 1 && w.holds(1) }) {
			t.Fatal("b does not lead with its values within a minute of the hand-over")
		}

		// b has no node to hand over to while c is unhealthy too.
		w.setHealth(2, 1)
		ctx2, cancel2 := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel2()
		if _, err := nodes[1].HandOver(ctx2); !errors.Is(err, quorum.ErrNoEligible) {
			t.Errorf("HandOver with every other node unhealthy: got %v, want ErrNoEligible", err)
		}
		w.setHealth(2, -1)

		if err := nodes[1].RemoveServer(ctx2, "c"); err != nil {
			t.Errorf("RemoveServer on the leader: %v", err)
		}
		for i := range w.members {
			if err := w.crash(i); err != nil {
				t.Errorf("stop %d: %v", i, err)
			}
		}
	})
}
