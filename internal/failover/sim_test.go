package failover_test

import (
	"testing"

	"github.com/clooster/clooster/sim"
)

// The simulator's view of this package: a few hundred random schedules,
// a hundred of record sets, and every regression seed, run with the package's own tests, so that a
// change to the rule that breaks an invariant fails here too. The full
// profiles are sim's.
func TestSimulatedSchedules(t *testing.T) {
	n := int64(300)
	if testing.Short() {
		n = 50
	}
	for seed := int64(1); seed <= n; seed++ {
		if r := sim.Run(seed, sim.Options{}); !r.OK() {
			t.Fatal(r.Report())
		}
	}
	for seed := int64(1); seed <= n/3; seed++ { // record sets
		if r := sim.Run(seed, sim.Options{Sets: true}); !r.OK() {
			t.Fatal(r.Report())
		}
	}
	for _, r := range sim.Regressions {
		if res := sim.Run(r.Seed, r.Options()); !res.OK() {
			t.Fatalf("%s, found again:\n%s", r.Found, res.Report())
		}
	}
}
