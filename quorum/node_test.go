package quorum_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/quorum"
	"github.com/hashicorp/raft"
)

var threeNodes = []quorum.Member{
	{Name: "a", Address: "a:7946", Priority: 1, Role: quorum.RoleNode},
	{Name: "b", Address: "b:7946", Priority: 2, Role: quorum.RoleNode},
	{Name: "c", Address: "c:7946", Priority: 3, Role: quorum.RoleNode},
}

func TestNewRejects(t *testing.T) {
	lan, _ := quorum.Preset("lan")
	_, trans := raft.NewInmemTransport("a:1")
	good := quorum.Config{
		Members: threeNodes, Self: "a", Timings: lan, APITimeout: lan.API,
		Health:   quorum.HealthFunc(func() (bool, time.Time) { return true, time.Time{} }),
		Statuses: simStatuses{}, Transport: trans, Stores: quorum.InmemStores(),
	}
	tests := []struct {
		name   string
		change func(c *quorum.Config)
	}{
		{"self not a member", func(c *quorum.Config) { c.Self = "z" }},
		{"a member twice", func(c *quorum.Config) { c.Members = append(slices.Clone(threeNodes), threeNodes[0]) }},
		{"an unknown role", func(c *quorum.Config) {
			c.Members = slices.Clone(threeNodes)
			c.Members[1].Role = "observer"
		}},
		{"API timeout beyond the lease", func(c *quorum.Config) { c.APITimeout = lan.HeartbeatTimeout }},
		{"no transport", func(c *quorum.Config) { c.Transport = nil }},
	}
	if _, err := quorum.New(good); err != nil {
		t.Fatalf("New(good config): %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			if _, err := quorum.New(c); err == nil {
				t.Error("got no error")
			}
		})
	}
}

// TestRaftRunsInABubble: three members elect a leader in fake time, and
// the leader moves the records; an hour of it takes no real hour.
func TestRaftRunsInABubble(t *testing.T) {
	real := time.Now()
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(threeNodes, 10*time.Second, 20*time.Second, rand.New(rand.NewPCG(1, 2)))
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && w.holds(l) }) {
			t.Fatal("no leader with its values within a minute")
		}
		time.Sleep(time.Hour)
		for i := range w.members {
			if err := w.crash(i); err != nil {
				t.Errorf("stop %d: %v", i, err)
			}
		}
	})
	if d := time.Since(real); d > time.Minute {
		t.Errorf("an hour of fake time took %s", d)
	}
}

func TestStatusAndQuorumEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(threeNodes, 10*time.Second, 20*time.Second, rand.New(rand.NewPCG(3, 4)))
		for i := range w.members {
			w.start(i)
		}
		settled := func() bool {
			st := w.members[0].node.Status()
			for _, r := range st.Records {
				if r.Holder != "a" {
					return false
				}
			}
			for _, m := range st.Members {
				if !m.Reachable || !m.Healthy {
					return false
				}
			}
			return true
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) && settled() }) {
			t.Fatalf("a does not lead with its values, and say so, within two minutes: %+v", w.members[0].node.Status())
		}
		st := w.members[0].node.Status()
		if st.Leader != "a" || !st.Quorum || st.Term == 0 || st.Writes < 3 {
			t.Errorf("status of the leader: got leader %q quorum %v term %d writes %d, want a, true, > 0, >= 3", st.Leader, st.Quorum, st.Term, st.Writes)
		}

		// a cut off from both: it loses its quorum, b leads.
		for j := 1; j < 3; j++ {
			w.setCut(0, j, 1)
			w.setCut(j, 0, 1)
		}
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && l == 1 && w.holds(1) }) {
			t.Fatal("b does not lead with its values within a minute of a's cut")
		}
		if got := w.members[0].node.Status(); got.Quorum || got.State == raft.Leader.String() {
			t.Errorf("a cut off: got quorum %v state %s, want no quorum, not leading", got.Quorum, got.State)
		}
		if !waitFor(time.Minute, func() bool { return slices.Contains(w.eventsOf("a"), quorum.EventQuorumLost) }) {
			t.Errorf("a cut off: events %v, want %s", w.eventsOf("a"), quorum.EventQuorumLost)
		}
		// b and c were without a leader for an election: no loss of
		// quorum for them, and no alert.
		for _, name := range []string{"b", "c"} {
			if evs := w.eventsOf(name); slices.Contains(evs, quorum.EventQuorumLost) {
				t.Errorf("%s, in the majority through the failover: events %v, want no %s", name, evs, quorum.EventQuorumLost)
			}
		}

		// back: a regains its quorum, and the lead after failback_delay.
		for j := 1; j < 3; j++ {
			w.setCut(0, j, -1)
			w.setCut(j, 0, -1)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Fatal("a does not lead again within two minutes of its return")
		}
		if !slices.Contains(w.eventsOf("a"), quorum.EventQuorumRegained) {
			t.Errorf("a back: events %v, want %s", w.eventsOf("a"), quorum.EventQuorumRegained)
		}
		for i := range w.members {
			w.crash(i)
		}
	})
}

// TestLeaderSaysMemberLost: the leader says a member silent for thirty
// heartbeat timeouts lost, once, with how many voters answer, and says it
// back when it answers again; a leader whose health fails hands over and
// says so.
func TestLeaderSaysMemberLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(threeNodes, 10*time.Second, 20*time.Second, rand.New(rand.NewPCG(21, 22)))
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Fatal("a does not lead with its values within two minutes")
		}
		w.crash(2)
		lostAfter := 30 * w.timings.HeartbeatTimeout
		time.Sleep(lostAfter - 2*time.Second)
		if got := w.eventsFull("a", quorum.EventMemberLost); len(got) != 0 {
			t.Fatalf("c down for less than thirty heartbeat timeouts: got %+v, want nothing yet", got)
		}
		if !waitFor(10*time.Second, func() bool { return len(w.eventsFull("a", quorum.EventMemberLost)) > 0 }) {
			t.Fatalf("c down: events of a %v, want %s", w.eventsOf("a"), quorum.EventMemberLost)
		}
		time.Sleep(time.Minute)
		lost := w.eventsFull("a", quorum.EventMemberLost)
		if len(lost) != 1 || lost[0].Member.Name != "c" || lost[0].Answering != 2 || lost[0].Voters != 3 {
			t.Errorf("c down a minute: got %+v, want one member_lost of c, 2 of 3 answering", lost)
		}
		for _, name := range []string{"b"} {
			if got := w.eventsFull(name, quorum.EventMemberLost); len(got) != 0 {
				t.Errorf("follower %s: got %+v, want no member_lost: only the leader asks", name, got)
			}
		}
		w.start(2)
		if !waitFor(time.Minute, func() bool { return len(w.eventsFull("a", quorum.EventMemberBack)) > 0 }) {
			t.Fatalf("c back: events of a %v, want %s", w.eventsOf("a"), quorum.EventMemberBack)
		}
		if back := w.eventsFull("a", quorum.EventMemberBack); len(back) != 1 || back[0].Member.Name != "c" || back[0].Answering != 3 {
			t.Errorf("c back: got %+v, want one member_back of c, 3 answering", back)
		}

		// a's health fails: it hands leadership to b, and says so.
		w.setHealth(0, 1)
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && l == 1 && w.holds(1) }) {
			t.Fatal("a unhealthy: b does not lead with its values within a minute")
		}
		if got := w.eventsFull("a", quorum.EventHandedOver); len(got) != 1 || got[0].Member.Name != "b" {
			t.Errorf("a unhealthy: got %+v, want one handed_over to b", got)
		}
		for i := range w.members {
			w.crash(i)
		}
	})
}

func TestNoEligibleNodeKeepsLeadingWithoutWriting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(threeNodes, 10*time.Second, 20*time.Second, rand.New(rand.NewPCG(5, 6)))
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Fatal("a does not lead with its values within two minutes")
		}
		for i := range w.members {
			w.setHealth(i, 1)
		}
		_, before := w.dns[0].snapshot()
		time.Sleep(2 * time.Minute)
		_, after := w.dns[0].snapshot()
		if len(after) != len(before) {
			t.Errorf("nobody healthy: got %d writes, want none", len(after)-len(before))
		}
		if l, ok := w.leader(); !ok || l != 0 {
			t.Errorf("nobody healthy: got leader %d (%v), want a still leading", l, ok)
		}
		got := w.eventsOf("a")
		if n := countKind(got, quorum.EventNoEligibleNode); n != 1 {
			t.Errorf("nobody healthy: events %v, want %s once", got, quorum.EventNoEligibleNode)
		}
		w.setHealth(2, -1)
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && l == 2 && w.holds(2) }) {
			t.Error("c healthy again: it does not lead with its values within a minute")
		}
		for i := range w.members {
			w.crash(i)
		}
	})
}

// TestRestartKeepsItsState: a member on raft-boltdb restarts with its term,
// does not bootstrap again, and waits a heartbeat timeout before it
// starts.
func TestRestartKeepsItsState(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		alone := []quorum.Member{{Name: "a", Address: "a:7946", Priority: 1, Role: quorum.RoleNode}}
		lan, _ := quorum.Preset("lan")
		d := &fakeDNS{rng: rand.New(rand.NewPCG(7, 8)), content: "192.0.2.99"}
		runOnce := func() (leadAfter time.Duration, term uint64) {
			stores, err := quorum.OpenStores(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer stores.Close()
			_, trans := raft.NewInmemTransport("a:7946")
			n, err := quorum.New(quorum.Config{
				Members: alone, Self: "a", Timings: lan, APITimeout: lan.API,
				Records:  []quorum.Record{{Name: "www", Store: &plainRecord{d: d, node: "a"}, Values: map[string]string{"a": "a.0"}}},
				Health:   quorum.HealthFunc(func() (bool, time.Time) { return true, time.Time{} }),
				Statuses: simStatuses{}, Transport: trans, Stores: stores,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- n.Run(ctx) }()
			if !waitFor(time.Minute, func() bool { return n.Status().State == raft.Leader.String() }) {
				t.Fatal("a alone does not lead within a minute")
			}
			leadAfter, term = time.Since(start), n.Status().Term
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			return leadAfter, term
		}
		_, term1 := runOnce()
		after, term2 := runOnce()
		if term2 <= term1 {
			t.Errorf("term after a restart: got %d, want more than %d", term2, term1)
		}
		if after < lan.HeartbeatTimeout {
			t.Errorf("restarted member led after %s, want a heartbeat timeout (%s) at least", after, lan.HeartbeatTimeout)
		}
		if c, _ := d.snapshot(); c != "a.0" {
			t.Errorf("record: got %q, want a.0", c)
		}
	})
}

// TestRecover: a member left alone cannot lead; recovered alone, it does.
func TestRecover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(threeNodes, 10*time.Second, 20*time.Second, rand.New(rand.NewPCG(9, 10)))
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Fatal("a does not lead with its values within two minutes")
		}
		w.crash(1)
		w.crash(2)
		w.crash(0)
		w.start(0)
		if waitFor(time.Minute, func() bool { _, ok := w.leader(); return ok }) {
			t.Fatal("a alone of three leads")
		}
		w.crash(0)
		lan, _ := quorum.Preset("lan")
		if err := quorum.Recover(threeNodes[0], lan, w.members[0].stores); err != nil {
			t.Fatal(err)
		}
		w.dns[0].mu.Lock()
		w.dns[0].content = "edited"
		w.dns[0].mu.Unlock()
		w.start(0)
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Error("a recovered alone does not lead with its values within a minute")
		}
		w.crash(0)
	})
}

func countKind(ks []quorum.EventKind, k quorum.EventKind) int {
	n := 0
	for _, x := range ks {
		if x == k {
			n++
		}
	}
	return n
}

// TestFrozenLeaderWritesNothing: the leader's network freezes while it
// still thinks it leads, and its record drifts meanwhile: it writes
// nothing, the new leader corrects the record, and the old one takes the
// lead back after failback_delay once it thaws.
func TestFrozenLeaderWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(threeNodes, 10*time.Second, 5*time.Second, rand.New(rand.NewPCG(11, 12)))
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Fatal("a does not lead with its values within two minutes")
		}
		frozen := time.Now()
		w.setFrozen(0, 1)
		for _, d := range w.dns {
			d.mu.Lock()
			d.content = "edited"
			d.mu.Unlock()
		}
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && l != 0 && w.holds(l) }) {
			t.Fatal("no other leader with its values within a minute of a's freeze")
		}
		for r, d := range w.dns {
			_, ws := d.snapshot()
			for _, l := range ws {
				if l.Writer == "a" && !l.Sent.Before(frozen) {
					t.Errorf("record %d: frozen a sent a write %s after its freeze", r, l.Sent.Sub(frozen))
				}
			}
		}
		w.setFrozen(0, -1)
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 && w.holds(0) }) {
			t.Error("a thawed does not lead with its values again within two minutes")
		}
		for i := range w.members {
			w.crash(i)
		}
	})
}

// TestWitnessHandsOver: a witness that wins an election writes nothing; it
// hands leadership to the node as soon as that node is healthy.
func TestWitnessHandsOver(t *testing.T) {
	members := []quorum.Member{
		threeNodes[0], threeNodes[1],
		{Name: "w", Address: "w:7946", Priority: 0, Role: quorum.RoleWitness},
	}
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(members, 10*time.Second, 20*time.Second, rand.New(rand.NewPCG(13, 14)))
		w.setHealth(1, 1)
		// b cannot reach w: its elections fail, w's win.
		w.setCut(1, 2, 1)
		w.start(1)
		w.start(2)
		if !waitFor(5*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 2 }) {
			t.Fatal("w does not lead within five minutes")
		}
		w.setCut(1, 2, -1)
		if !waitFor(time.Minute, func() bool { return countKind(w.eventsOf("w"), quorum.EventNoEligibleNode) == 1 }) {
			t.Fatalf("w leads, b unhealthy, a down: events of w %v, want %s once", w.eventsOf("w"), quorum.EventNoEligibleNode)
		}
		for r, d := range w.dns {
			if _, ws := d.snapshot(); len(ws) > 0 {
				t.Errorf("record %d: got %d writes with no healthy node, want none", r, len(ws))
			}
		}
		w.setHealth(1, -1)
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && l == 1 && w.holds(1) }) {
			t.Error("b healthy: it does not lead with its values within a minute")
		}
		for i := range w.members {
			w.crash(i)
		}
	})
}

// TestFailbackKeepsItsTimeThroughABriefSilence: a better node's failback
// time does not start again for a poll or two it missed (a busy machine):
// only silence for a heartbeat timeout, or an unhealthy answer, restarts
// it.
func TestFailbackKeepsItsTimeThroughABriefSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		failback := 10 * time.Second
		w := newWorld(threeNodes, failback, 20*time.Second, rand.New(rand.NewPCG(31, 32)))
		w.setHealth(0, 1)
		for i := range w.members {
			w.start(i)
		}
		if !waitFor(2*time.Minute, func() bool { l, ok := w.leader(); return ok && l == 1 && w.holds(1) }) {
			t.Fatal("a unhealthy: b does not lead with its values within two minutes")
		}
		w.setHealth(0, -1)
		healthy := time.Now()
		time.Sleep(failback / 2)
		// b misses a's answers for less than a heartbeat timeout.
		w.setCut(1, 0, 1)
		w.setCut(0, 1, 1)
		time.Sleep(w.timings.HeartbeatTimeout * 6 / 10)
		w.setCut(1, 0, -1)
		w.setCut(0, 1, -1)
		if !waitFor(time.Minute, func() bool { l, ok := w.leader(); return ok && l == 0 }) {
			t.Fatal("a healthy again: it does not lead within a minute")
		}
		if took := time.Since(healthy); took >= failback/2+failback {
			t.Errorf("a led again %s after its return to health, failback_delay %s: the brief silence restarted its time", took, failback)
		}
		for i := range w.members {
			w.crash(i)
		}
	})
}
