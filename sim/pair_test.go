package sim_test

import (
	"testing"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/sim"
)

// Written schedules of the pair checking itself: what each mismatch costs
// and what the nodes say of it.

// Each handshake mismatch keeps the link down for ten minutes: both nodes
// say so once, and the record moves once (B takes it from A, whose value
// is preferred: each treats the other as down).
func TestScenarioHandshakeMismatch(t *testing.T) {
	for _, m := range sim.Mismatches {
		if !m.Handshake() {
			continue
		}
		t.Run(string(m), func(t *testing.T) {
			sc := plain()
			sc.Mismatch, sc.Length, sc.CheckLiveEnd = m, 10*time.Minute, false
			r := sim.RunScenario(1, sc, sim.Options{})
			if !r.OK() {
				t.Fatal(r.Report())
			}
			if got, want := r.Raised[m.Problem()], 2; got != want {
				t.Errorf("%s said %d times, want %d (once by each node): %v", m.Problem(), got, want, r.Raised)
			}
			if got, want := r.Writes, 1; got != want {
				t.Errorf("%d node writes, want %d: %+v", got, want, r.Log)
			}
		})
	}
}

// Each node prefers its own value: the link comes and goes, the record
// moves to B during a cut and stays there (neither fails back); the
// difference is said once by each node, however often the link returns.
func TestScenarioPreferredMismatch(t *testing.T) {
	sc := plain()
	sc.Mismatch, sc.NodePreferred = sim.MismatchPreferred, sc.Values
	sc.Faults = []sim.Fault{
		{At: 10 * time.Second, Kind: sim.FaultCut, For: 20 * time.Second},
		{At: 60 * time.Second, Kind: sim.FaultCut, For: 5 * time.Second},
	}
	r := sim.RunScenario(1, sc, sim.Options{})
	if !r.OK() {
		t.Fatal(r.Report())
	}
	if got, want := r.Raised[failover.ProblemSettings], 2; got != want {
		t.Errorf("settings said %d times, want %d: %v", got, want, r.Raised)
	}
	if len(r.Log) != 1 || r.Log[0].By != "B" {
		t.Errorf("writes %+v, want B's takeover alone", r.Log)
	}
}

// An attacker sends B reports of a refused handshake, every 200 ms, from
// before A dies until long after: B takes the record within the liveness
// bound all the same.
func TestScenarioForgedEvidence(t *testing.T) {
	sc := plain()
	sc.Faults = []sim.Fault{
		{At: 50 * time.Second, Kind: sim.FaultForged, Node: 1, For: time.Minute, Period: 200 * time.Millisecond},
		{At: 60 * time.Second, Kind: sim.FaultPowerOff, Node: 0, For: time.Minute},
	}
	r := sim.RunScenario(1, sc, sim.Options{})
	if !r.OK() {
		t.Fatal(r.Report())
	}
	if r.ForgedTakeovers != 1 {
		t.Errorf("%d takeovers judged while forged evidence came, want 1", r.ForgedTakeovers)
	}
	for _, w := range r.Log {
		if w.By == "B" {
			if w.At > 60*time.Second+sc.PeerTimeout+time.Second {
				t.Errorf("B took the record at %s, A died at 1m0s", w.At)
			}
			return
		}
	}
	t.Errorf("B never took the record: %+v", r.Log)
}

// Clocks: more than a second apart (beyond the measurement's margin) is
// said by both nodes, within half a second never; the same for the API.
func TestScenarioClocks(t *testing.T) {
	for _, tc := range []struct {
		name           string
		nodes          [2]time.Duration
		api            time.Duration
		peerSaid, said int
	}{
		{"in step", [2]time.Duration{0, 300 * time.Millisecond}, 200 * time.Millisecond, 0, 0},
		{"B ahead", [2]time.Duration{0, 1500 * time.Millisecond}, 750 * time.Millisecond, 2, 0},
		{"A behind", [2]time.Duration{-1200 * time.Millisecond, 0}, -600 * time.Millisecond, 2, 0},
		{"the API ahead", [2]time.Duration{0, 0}, 5 * time.Second, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := plain()
			sc.NodeSkew, sc.APISkew = tc.nodes, tc.api
			r := sim.RunScenario(1, sc, sim.Options{})
			if !r.OK() {
				t.Fatal(r.Report())
			}
			if got := r.Raised[failover.ProblemClock]; got != tc.peerSaid {
				t.Errorf("clock_skew said %d times, want %d", got, tc.peerSaid)
			}
			if got := r.Raised[failover.ProblemAPIClock]; got != tc.said {
				t.Errorf("api_clock_skew said %d times, want %d", got, tc.said)
			}
		})
	}
}
