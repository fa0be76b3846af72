package quorum_test

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/quorum"
	"github.com/hashicorp/raft"
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

// TestStatusFollowsRaftMembership: the members a status shows, and the
// voters its quorum counts, are Raft's latest configuration's: a member
// removed is no voter though the file lists it, a member added and not
// listed is shown with what Raft knows of it; a stopping leader does not
// hand leadership to a removed member.
func TestStatusFollowsRaftMembership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Before Raft runs (a restart's wait), the configuration is not
		// known yet.
		lan, _ := quorum.Preset("lan")
		_, trans := raft.NewInmemTransport("a:7946")
		idle, err := quorum.New(quorum.Config{
			Members: threeNodes, Self: "a", Timings: lan, Transport: trans, Stores: quorum.InmemStores(), Statuses: simStatuses{},
			Health: quorum.HealthFunc(func() (bool, time.Time) { return true, time.Time{} }),
		})
		if err != nil {
			t.Fatal(err)
		}
		if st := idle.Status(); st.Voters != 0 || st.Majority() != 0 || len(st.Members) != 3 || st.Members[1].Voter || idle.Voters() != nil {
			t.Errorf("before Raft runs: got %d voters, majority %d, members %+v, Voters %v; want 0, 0, the file's three, none a voter, nil",
				st.Voters, st.Majority(), st.Members, idle.Voters())
		}

		w := newWorld(threeNodes, 10*time.Second, 0, rand.New(rand.NewPCG(7, 8)))
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Fatal("a does not lead with its values within two minutes")
		}
		nodes := w.nodes()
		voters := func(st quorum.Status) map[string]bool {
			out := map[string]bool{}
			for _, m := range st.Members {
				out[m.Name] = m.Voter
			}
			return out
		}
		st := nodes[0].Status()
		if st.Voters != 3 || st.Majority() != 2 || !maps.Equal(voters(st), map[string]bool{"a": true, "b": true, "c": true}) {
			t.Errorf("three voters: got %d voters, majority %d, members %+v", st.Voters, st.Majority(), st.Members)
		}
		if got := nodes[2].Voters(); !maps.Equal(got, map[string]bool{"a": true, "b": true, "c": true}) {
			t.Errorf("Voters on c: got %v, want a, b, c", got)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := nodes[0].RemoveServer(ctx, "b"); err != nil {
			t.Fatalf("remove b: %v", err)
		}
		removed := func(i int) bool {
			st := nodes[i].Status()
			return st.Voters == 2 && st.Majority() == 2 && maps.Equal(voters(st), map[string]bool{"a": true, "b": false, "c": true})
		}
		if !waitFor(time.Minute, func() bool { return removed(0) && removed(2) }) {
			t.Errorf("b removed: a shows %+v, c shows %+v; want b no voter, 2 voters", nodes[0].Status(), nodes[2].Status())
		}
		if st := nodes[0].Status(); st.Members[1].Name != "b" || st.Members[1].Unlisted || len(st.Members) != 3 {
			t.Errorf("b removed: got members %+v, want the file's three, b still listed", st.Members)
		}

		// b, removed, still answers and has the better priority: the
		// hand-over goes to c.
		if to, err := nodes[0].HandOver(ctx); to != "c" || err != nil {
			t.Errorf("HandOver with b removed: got %q, %v; want c, nil", to, err)
		}
		// d added by whichever member leads now (c, and a again after
		// failback_delay).
		if !waitFor(time.Minute, func() bool {
			l, ok := w.leader()
			if ok {
				err = nodes[l].AddVoter(t.Context(), "d", "d:7946")
			}
			return ok && err == nil
		}) {
			t.Errorf("add d: %v", err)
		}
		added := func(i int) bool {
			st := nodes[i].Status()
			if st.Voters != 3 || len(st.Members) != 4 {
				return false
			}
			d := st.Members[3]
			return d.Name == "d" && d.Address == "d:7946" && d.Voter && d.Unlisted && d.Role == "" && !st.Members[1].Voter
		}
		if !waitFor(time.Minute, func() bool { return added(0) && added(2) }) {
			t.Errorf("d added: a shows %+v, c shows %+v; want d unlisted, a voter, 3 voters", nodes[0].Status().Members, nodes[2].Status().Members)
		}
		for i := range w.members {
			if err := w.crash(i); err != nil {
				t.Errorf("stop %d: %v", i, err)
			}
		}
		if st := nodes[0].Status(); st.Voters != 0 || len(st.Members) != 3 {
			t.Errorf("after Run: got %d voters, members %+v; want 0, the file's", st.Voters, st.Members)
		}
	})
}

// TestLeaderLeavesARemovedMemberAlone: a member removed from the cluster
// that still runs, healthy and of the best priority, is neither handed
// leadership by the leader's rounds (each failed hand-over would hold
// the leader's writes back) nor said lost: the leader keeps leading and
// corrects an edit at its next drift check.
func TestLeaderLeavesARemovedMemberAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		failback, drift := 10*time.Second, 5*time.Second
		w := newWorld(threeNodes, failback, drift, rand.New(rand.NewPCG(9, 10)))
		w.setHealth(0, 1)
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 1 && w.holds(1) }) {
			t.Fatal("a unhealthy: b does not lead with its values within two minutes")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := w.nodes()[1].RemoveServer(ctx, "a"); err != nil {
			t.Fatalf("remove a: %v", err)
		}
		w.setHealth(0, -1)
		_, before := w.dns[0].snapshot()
		time.Sleep(3 * failback)
		if l, ok := w.leader(); !ok || l != 1 {
			t.Errorf("a removed, healthy, of the best priority: got leader %d (%v), want b still", l, ok)
		}
		if _, after := w.dns[0].snapshot(); len(after) != len(before) {
			t.Errorf("a removed: got %d writes, want none", len(after)-len(before))
		}
		if got := w.eventsFull("b", quorum.EventMemberLost); len(got) != 0 {
			t.Errorf("a removed: got %+v, want no member_lost", got)
		}
		want, _ := w.dns[0].snapshot()
		w.dns[0].edit("edited.example.com")
		if !waitFor(drift+5*time.Second, func() bool { got, _ := w.dns[0].snapshot(); return got == want }) {
			got, _ := w.dns[0].snapshot()
			t.Errorf("an edit while a, removed, runs: the record holds %q a drift interval later, want b's %q back", got, want)
		}
		for i := range w.members {
			w.crash(i)
		}
	})
}
