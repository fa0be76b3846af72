package sim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/sim"
)

func TestRegressions(t *testing.T) {
	for _, r := range sim.Regressions {
		t.Run(fmt.Sprint(r.Seed), func(t *testing.T) {
			if fp := sim.NewScenario(r.Seed, r.Options()).Fingerprint(); fp != r.Fingerprint {
				t.Fatalf("seed %d draws another schedule now (fingerprint %s, was %s): the generator changed; find the seeds again", r.Seed, fp, r.Fingerprint)
			}
			if res := sim.Run(r.Seed, r.Options()); !res.OK() {
				t.Errorf("%s, found again:\n%s", r.Found, res.Report())
			}
		})
	}
}

// TestPlantedBugs turns off one guard of the write rule at a time and shows
// that the simulator catches the bug within a few hundred schedules.
func TestPlantedBugs(t *testing.T) {
	for _, g := range []struct {
		name string
		off  failover.Disable
	}{
		{"the withhold", failover.DisableWithhold},
		{"the tie pause", failover.DisableTiePause},
		{"the flap hold", failover.DisableFlapHold},
		{"the restart hold", failover.DisableRestartHold},
	} {
		t.Run(g.name, func(t *testing.T) {
			for seed := int64(1); seed <= 1000; seed++ {
				r := sim.Run(seed, sim.Options{Tweak: func(c *failover.Config) { c.Disable = g.off }})
				if !r.OK() {
					t.Logf("without %s, seed %d: %s", g.name, seed, r.Failures[0])
					return
				}
			}
			t.Errorf("without %s, 1000 schedules broke no invariant: the simulator does not see this bug", g.name)
		})
	}
}

// Two plain situations that once went wrong, as written schedules.
func TestScenarioRecordLeftOnADeadNode(t *testing.T) {
	// The link is cut, both nodes alive. B (no peer_check) takes the
	// record; A (with peer_check) finds B's service serving and
	// withholds. Then B's machine dies, its service with it: A's probe
	// fails, and A must take the record back.
	sc := plain()
	sc.PeerCheck = [2]bool{true, false}
	sc.Faults = []sim.Fault{
		{At: 10 * time.Second, Kind: sim.FaultCut, For: 100 * time.Second},
		{At: 30 * time.Second, Kind: sim.FaultPowerOff, Node: 1},
	}
	r := sim.RunScenario(1, sc, sim.Options{})
	if !r.OK() {
		t.Fatal(r.Report())
	}
	// B's takeover, then A's after B's death, within peer_check's probe
	// period, the watch and a write.
	var took, back time.Duration
	for _, w := range r.Log {
		switch {
		case w.By == "B" && took == 0:
			took = w.At
		case w.By == "A" && took > 0 && back == 0:
			back = w.At
		}
	}
	if took == 0 || back == 0 || back < 30*time.Second || back > 30*time.Second+sc.PeerTimeout+sc.ProbeTimeout+failover.WatchEvery+2*time.Second {
		t.Errorf("writes %+v: want B's takeover, then A's within the bound after B died at 30s", r.Log)
	}
}

func TestScenarioNoFlipsForEver(t *testing.T) {
	// A records, this_value an address on each node, neither node's
	// configuration names the peer's address, and the link never comes up
	// (a firewall): a drift check every 2 s. Before, each check took the
	// peer's address for "neither node's value" and corrected it: 13
	// writes in 20 s.
	sc := plain()
	sc.Type, sc.Values, sc.Preferred = "A", [2]string{"192.0.2.1", "192.0.2.2"}, "192.0.2.1"
	sc.PeerKnown = [2]bool{false, false}
	sc.Drift = 2 * time.Second
	sc.StartB = 0
	sc.Faults = []sim.Fault{{At: 0, Kind: sim.FaultCut, For: 120 * time.Second}}
	sc.CheckLiveEnd = false
	r := sim.RunScenario(1, sc, sim.Options{})
	if !r.OK() {
		t.Fatal(r.Report())
	}
	n := 0
	for _, w := range r.Log {
		if w.At < 120*time.Second && w.By != "outside" {
			n++
		}
	}
	if n > 1 {
		t.Errorf("%d writes in two minutes of a partition: %+v; want at most one", n, r.Log)
	}
}

// plain is a healthy CNAME pair at the default timings, no health checks,
// linked at once, with a 2-minute run and its tail.
func plain() *sim.Scenario {
	return &sim.Scenario{
		Type: "CNAME", Values: [2]string{"srv1.example.com", "srv2.example.com"}, PeerKnown: [2]bool{true, true},
		Preferred: "srv1.example.com",
		Keepalive: 500 * time.Millisecond, PeerTimeout: 2500 * time.Millisecond, FailbackDelay: 30 * time.Second,
		Drift: 5 * time.Minute, ProbeTimeout: 2 * time.Second, Handover: true,
		NetDelay: 5 * time.Millisecond, NetJitter: 2 * time.Millisecond, APILatency: 30 * time.Millisecond,
		Length: 2 * time.Minute, Tail: 2 * time.Minute, CheckLiveEnd: true,
	}
}
