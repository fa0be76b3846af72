package failover

import (
	"strings"
	"testing"
)

// The peer's INFO says the two record sets differ: one alert naming the
// records, no failback on that link; a failover still moves the set, and a
// new link that agrees fails back.
func TestRecordsMismatch(t *testing.T) {
	c := testMachine(true)
	differ := EvInfo{At: at(110 * ms), Value: "srv2", Mismatch: []string{"example.org AAAA (differs)"}}
	_, got := run(c, seq(up(100*ms), differ, read(150*ms, "srv2"), active(sec), actives(2*sec, 40*sec))...)
	var pushes, ensures int
	for _, g := range got {
		if strings.HasPrefix(g, "push: [srv1] Record sets differ") && strings.Contains(g, "example.org AAAA (differs)") {
			pushes++
		}
		if strings.HasPrefix(g, "ensure") {
			ensures++
		}
	}
	if pushes != 1 || ensures != 0 {
		t.Errorf("a mismatch: %d alerts, %d writes, want 1 and none:\n%q", pushes, ensures, got)
	}
	// The link is lost: the takeover is not held up.
	_, got = run(c, seq(up(100*ms), differ, read(150*ms, "srv2"), active(sec), actives(2*sec, 40*sec), down(41*sec), ticks(42*sec, 47*sec))...)
	if !slicesContain(got, "ensure#1 srv1 base=srv2") {
		t.Errorf("no takeover after a mismatch:\n%q", got)
	}
	// A new link that agrees: the failback goes ahead.
	s := NewState(t0, c)
	got = nil
	feedTimed(c, &s, &got, seq(up(100*ms), differ, read(150*ms, "srv2"), active(sec), actives(2*sec, 4*sec), down(4500*ms),
		up(4600*ms), EvInfo{At: at(4610 * ms), Value: "srv2"}, active(5*sec), verified(5100*ms, "srv2"), actives(6*sec, 40*sec))...)
	if !slicesContain(got, "ensure#2 srv1@35s") {
		t.Errorf("no failback once the sets agree:\n%q", got)
	}
	if v := state(c, up(100*ms), differ).View(c); len(v.Mismatch) != 1 {
		t.Errorf("View.Mismatch %q", v.Mismatch)
	}
}
