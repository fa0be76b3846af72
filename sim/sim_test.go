package sim_test

import (
	"flag"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clooster/clooster/sim"
)

var (
	flagSeed      = flag.Int64("seed", 0, "replay this seed only")
	flagSchedules = flag.Int("schedules", 0, "random schedules to run (default 2000; 200 under the race detector; CI runs 10000)")
	flagFirst     = flag.Int64("first", 1, "the first seed of the random schedules")
	flagTrace     = flag.Bool("trace", false, "print the whole trace of a replayed seed")
	flagSets      = flag.Bool("sets", false, "schedules of record sets (2 or 3 records) in place of one record")
	flagSwap      = flag.Bool("swap", false, "schedules against a provider that compares and swaps (RFC 2136)")
)

// TestSimulator runs -schedules random schedules (seeds -first on), or
// one seed with -seed, and fails with the first broken invariant's report.
func TestSimulator(t *testing.T) {
	if *flagSeed != 0 {
		r := sim.Run(*flagSeed, sim.Options{Trace: *flagTrace, Sets: *flagSets, Swap: *flagSwap})
		if *flagTrace {
			t.Logf("seed %d, %d steps:\n%s\ntrace:\n%s", r.Seed, r.Steps, r.Scenario, r.Trace)
		}
		if !r.OK() {
			t.Fatal(r.Report())
		}
		return
	}
	n := *flagSchedules
	if n == 0 {
		n = 2000
		if raceEnabled || testing.Short() {
			n = 200
		}
	}
	start := time.Now()
	var next atomic.Int64
	next.Store(*flagFirst)
	last := *flagFirst + int64(n)
	var mu sync.Mutex
	var failed []sim.Result
	var steps, writes, races, conflicts atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1) - 1
				if seed >= last {
					return
				}
				r := sim.Run(seed, sim.Options{Sets: *flagSets, Swap: *flagSwap})
				steps.Add(int64(r.Steps))
				writes.Add(int64(r.Writes))
				races.Add(int64(r.Races))
				conflicts.Add(int64(r.Conflicts))
				if !r.OK() {
					mu.Lock()
					failed = append(failed, r)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	kind := "schedules"
	if *flagSets {
		kind = "schedules of record sets"
	}
	if *flagSwap {
		kind += " (compare and swap)"
	}
	lost := ""
	if *flagSwap {
		lost = fmt.Sprintf(", %d conditional writes lost", conflicts.Load())
	}
	t.Logf("%d %s (seeds %d to %d) in %s: %d steps, %d node writes, %d raced%s, %d failed",
		n, kind, *flagFirst, last-1, time.Since(start).Round(time.Millisecond), steps.Load(), writes.Load(), races.Load(), lost, len(failed))
	if len(failed) > 0 {
		first := failed[0]
		for _, r := range failed {
			if r.Seed < first.Seed {
				first = r
			}
		}
		byInvariant := map[string][]int64{}
		for _, r := range failed {
			name := r.Failures[0]
			if i := strings.Index(name, " at "); i > 0 {
				name = name[:i]
			}
			byInvariant[name] = append(byInvariant[name], r.Seed)
		}
		for _, name := range slices.Sorted(maps.Keys(byInvariant)) {
			seeds := byInvariant[name]
			slices.Sort(seeds)
			t.Errorf("%s: %d schedules, seeds %v", name, len(seeds), seeds[:min(len(seeds), 200)])
		}
		t.Fatal(first.Report())
	}
}
