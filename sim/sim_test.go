package sim_test

import (
	"flag"
	"fmt"
	"maps"
	"regexp"
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
	flagAgreed    = flag.Bool("agreed", false, "schedules as drawn before mismatches: the nodes' configurations agree, no forged evidence")
	flagNoRestart = flag.Bool("norestarts", false, "schedules as drawn before announced restarts (SIGUSR2)")
)

// invariantAt ends an invariant's name in a failure: " at 12.345s: ".
var invariantAt = regexp.MustCompile(` at [0-9.]+s: `)

// TestSimulator runs -schedules random schedules (seeds -first on), or
// one seed with -seed, and fails with the first broken invariant's report.
func TestSimulator(t *testing.T) {
	if *flagSeed != 0 {
		r := sim.Run(*flagSeed, sim.Options{Trace: *flagTrace, Sets: *flagSets, Swap: *flagSwap, Agreed: *flagAgreed, NoRestarts: *flagNoRestart})
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
	fig := newFigures()
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
				r := sim.Run(seed, sim.Options{Sets: *flagSets, Swap: *flagSwap, Agreed: *flagAgreed, NoRestarts: *flagNoRestart})
				fig.add(r)
				steps.Add(int64(r.Steps))
				writes.Add(int64(r.Writes))
				races.Add(int64(r.Races))
				conflicts.Add(int64(r.Conflicts))
				if !r.OK() {
					mu.Lock()
					failed = append(failed, r)
					mu.Unlock()
					// As it is found: a long profile stopped early still
					// says what it found (go test -v shows it at once).
					t.Logf("seed %d: %s", seed, r.Failures[0])
				}
				if done := seed - *flagFirst + 1; n >= 100000 && done%50000 == 0 {
					mu.Lock()
					nf := len(failed)
					mu.Unlock()
					t.Logf("%d schedules begun, %d failed so far", done, nf)
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
	t.Log(fig)
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
			if loc := invariantAt.FindStringIndex(name); loc != nil {
				name = name[:loc[0]]
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

// figures are a profile's figures of the pair's checks of itself: the
// schedules of each mismatch and their node writes, the forged evidence,
// the problems said.
type figures struct {
	mu        sync.Mutex
	runs      map[sim.Mismatch]int
	maxWrites map[sim.Mismatch]int
	forged    int
	forgedOK  int // takeovers within the liveness bound while forged evidence came
	// announced restarts: BYE(restart)s heard, back in time, liveness
	// bounds kept after one not back
	restarts, back, restartOK int
	reloads                   int
	raised                    map[string]int
	misjudged                 int
	// Handshake mismatches whose premises held all run: how many, the
	// most node writes in one, and in one with no start after a write.
	kept, keptMax, keptMaxNoStart int
}

func newFigures() *figures {
	return &figures{runs: map[sim.Mismatch]int{}, maxWrites: map[sim.Mismatch]int{}, raised: map[string]int{}}
}

func (f *figures) add(r sim.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := r.Scenario.Mismatch
	f.runs[m]++
	f.maxWrites[m] = max(f.maxWrites[m], r.Writes)
	for _, ft := range r.Scenario.Faults {
		if ft.Kind == sim.FaultForged {
			f.forged++
			break
		}
	}
	for k, n := range r.Raised {
		f.raised[k] += n
	}
	f.misjudged += r.Misjudged
	f.forgedOK += r.ForgedTakeovers
	f.restarts += r.Restarts
	f.back += r.Back
	f.restartOK += r.RestartTakeovers
	f.reloads += r.Reloads
	if r.PairWrites >= 0 {
		f.kept++
		f.keptMax = max(f.keptMax, r.PairWrites)
		if r.LateStarts == 0 {
			f.keptMaxNoStart = max(f.keptMaxNoStart, r.PairWrites)
		}
	}
}

func (f *figures) String() string {
	var b strings.Builder
	b.WriteString("mismatches (schedules, most node writes in one):")
	for _, m := range sim.Mismatches {
		fmt.Fprintf(&b, " %s %d (%d);", m, f.runs[m], f.maxWrites[m])
	}
	fmt.Fprintf(&b, " none %d\nhandshake mismatches with both nodes up and healthy, no edit, no lost answer all run: %d, "+
		"at most %d node writes (%d with no start after a write)\n", f.runs[""], f.kept, f.keptMax, f.keptMaxNoStart)
	fmt.Fprintf(&b, "forged evidence in %d schedules, %d takeovers within the liveness bound while it came; problems said:", f.forged, f.forgedOK)
	for _, k := range slices.Sorted(maps.Keys(f.raised)) {
		fmt.Fprintf(&b, " %s %d", k, f.raised[k])
	}
	fmt.Fprintf(&b, "; API clock readings beyond their margin: %d\n", f.misjudged)
	fmt.Fprintf(&b, "announced restarts heard: %d, back within the grace: %d; takeovers within the bound after one not back: %d; reloads applied: %d",
		f.restarts, f.back, f.restartOK, f.reloads)
	return b.String()
}
