// Raft draws its election timeouts from math/rand's global source: the
// simulator seeds it with the schedule's seed, so that a replay draws the
// same timeouts (the order in which goroutines draw stays Go's).
//
//go:debug randseednop=0
package quorum_test

import (
	"flag"
	"fmt"
	mathrand "math/rand"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/quorum"
)

var (
	flagSeeds = flag.Int("seeds", 300, "quorum simulator: how many schedules to run")
	flagFirst = flag.Int64("first", 1, "quorum simulator: the first seed")
	flagSeed  = flag.Int64("seed", 0, "quorum simulator: replay this seed only")
)

// The simulator's bounds, as docs/WRITE-RULE.md states them.
const (
	// faultPhase is how long faults are drawn for.
	faultPhase = 4 * time.Minute
	// liveBound: once a majority with a healthy node is connected (and
	// the API answers), the records hold its leader's values within
	// this: a restarted member's wait (8 s), an election or two (up to
	// 16 s of silence, 8 s a round), a witness's handover, the retry
	// backoff of a failing API (at most 30 s) and the calls themselves.
	liveBound = 90 * time.Second
	// failbackBound: once all members are healthy and connected, the
	// highest-priority node leads and the records hold its values within
	// liveBound + failback_delay + failbackSlack.
	failbackSlack = 20 * time.Second
	// calmCheck: after the failback, nothing moves for this long.
	calmCheck = 2 * time.Minute
)

type faultKind int

const (
	fCrash faultKind = iota
	fCutBoth
	fCutOne
	fFreeze
	fUnhealthy
	fAPIFail
	fAPISlow
	nFaults
)

func (k faultKind) String() string {
	return [...]string{"crash", "cut both ways", "cut one way", "freeze", "unhealthy", "api errors", "api slow"}[k]
}

type fault struct {
	At, Dur time.Duration
	Kind    faultKind
	A, B    int // members (or A: the record, for the API's faults)
}

// scenario is everything a seed draws before the run.
type scenario struct {
	Seed     int64
	Witness  bool // 2 nodes + a witness, else 3 nodes
	Failback time.Duration
	Drift    time.Duration
	Faults   []fault
	Out      int  // the member left out of the majority phase
	OutCrash bool // crashed, else cut off
}

func draw(seed int64) scenario {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x71))
	sc := scenario{
		Seed:     seed,
		Witness:  rng.IntN(2) == 0,
		Failback: []time.Duration{10 * time.Second, 30 * time.Second, 60 * time.Second}[rng.IntN(3)],
		Drift:    []time.Duration{20 * time.Second, time.Minute}[rng.IntN(2)],
		Out:      rng.IntN(3),
		OutCrash: rng.IntN(2) == 0,
	}
	for range 3 + rng.IntN(10) {
		f := fault{Kind: faultKind(rng.IntN(int(nFaults))), A: rng.IntN(3), B: rng.IntN(3)}
		if f.B == f.A {
			f.B = (f.A + 1) % 3
		}
		if f.Kind == fAPIFail || f.Kind == fAPISlow {
			f.A = rng.IntN(3)
		}
		f.At = time.Duration(rng.Int64N(int64(faultPhase - 5*time.Second)))
		f.Dur = min(time.Second+time.Duration(rng.Int64N(int64(time.Minute))), faultPhase-f.At)
		sc.Faults = append(sc.Faults, f)
	}
	return sc
}

func (sc scenario) members() []quorum.Member {
	ms := []quorum.Member{
		{Name: "a", Address: "a:7946", Priority: 1, Role: quorum.RoleNode},
		{Name: "b", Address: "b:7946", Priority: 2, Role: quorum.RoleNode},
		{Name: "c", Address: "c:7946", Priority: 3, Role: quorum.RoleNode},
	}
	if sc.Witness {
		ms[2] = quorum.Member{Name: "w", Address: "w:7946", Priority: 0, Role: quorum.RoleWitness}
	}
	return ms
}

// outcome is what one run found.
type outcome struct {
	Violations    []string
	Writes        int // landed, changed or not
	Elections     int
	LiveAfter     time.Duration // from the majority's heal to its leader's values
	FailbackAfter time.Duration // from the full heal to the best node's values
	StaleLanding  time.Duration // the latest a plain write landed after a later leader was elected
	Trace         string        // the elections and writes, for a failing run
}

// step is one action of the timeline, at its offset from the start.
type step struct {
	At time.Duration
	Do func()
}

// run runs one scenario in a synctest bubble; plant, if not nil, plants a
// fault in every member's configuration.
func run(t *testing.T, sc scenario, plant func(*quorum.Config)) (out outcome) {
	//lint:ignore SA1019 Raft's timeouts come from the global source: see the file's comment
	mathrand.Seed(sc.Seed)
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(uint64(sc.Seed), 0x72))
		w := newWorld(sc.members(), sc.Failback, sc.Drift, rng)
		w.plant = plant
		begin := time.Now()
		for i := range w.members {
			w.start(i)
		}
		var steps []step
		for _, f := range sc.Faults {
			do, undo := w.apply(f)
			steps = append(steps, step{f.At, do}, step{f.At + f.Dur, undo})
		}
		slices.SortStableFunc(steps, func(a, b step) int { return int(a.At - b.At) })
		for _, s := range steps {
			time.Sleep(time.Until(begin.Add(s.At)))
			s.Do()
		}
		time.Sleep(time.Until(begin.Add(faultPhase)))

		// A majority, with a healthy node in it; one member out.
		if sc.OutCrash {
			w.crash(sc.Out)
		} else {
			for j := range w.members {
				if j != sc.Out {
					w.setCut(sc.Out, j, 1)
					w.setCut(j, sc.Out, 1)
				}
			}
		}
		healed := time.Now()
		out.LiveAfter = -1
		for time.Since(healed) <= liveBound {
			if l, ok := w.leader(); ok && w.members[l].m.Role == quorum.RoleNode && w.holds(l) && w.running(sc.Out) {
				out.LiveAfter = time.Since(healed)
				break
			}
			time.Sleep(time.Second)
		}
		if out.LiveAfter < 0 {
			l, ok := w.leader()
			out.Violations = append(out.Violations, fmt.Sprintf("liveness: a majority without %s connected since %s: no leader's values within %s (leader %v %v)", w.members[sc.Out].m.Name, healed.Sub(begin), liveBound, l, ok))
		}

		// All healthy and connected: the best node's values.
		if sc.OutCrash {
			w.start(sc.Out)
		} else {
			for j := range w.members {
				if j != sc.Out {
					w.setCut(sc.Out, j, -1)
					w.setCut(j, sc.Out, -1)
				}
			}
		}
		healed = time.Now()
		bound := liveBound + sc.Failback + failbackSlack
		out.FailbackAfter = -1
		for time.Since(healed) <= bound {
			if l, ok := w.leader(); ok && l == 0 && w.holds(0) && w.running(-1) {
				out.FailbackAfter = time.Since(healed)
				break
			}
			time.Sleep(time.Second)
		}
		if out.FailbackAfter < 0 {
			l, ok := w.leader()
			out.Violations = append(out.Violations, fmt.Sprintf("failback: all healthy and connected since %s: a does not lead with its values within %s (leader %v %v)", healed.Sub(begin), bound, l, ok))
		} else {
			calm := time.Now()
			time.Sleep(calmCheck)
			for r, d := range w.dns {
				_, ws := d.snapshot()
				for _, l := range ws {
					if l.At.After(calm) && l.Changed {
						out.Violations = append(out.Violations, fmt.Sprintf("no flapping: record %d changed at %s by %s, after the failback, with all calm", r, l.At.Sub(begin), l.Writer))
					}
				}
			}
		}
		for i := range w.members {
			if err := w.crash(i); err != nil {
				out.Violations = append(out.Violations, fmt.Sprintf("stop %s: %v", w.members[i].m.Name, err))
			}
		}
		w.check(&out, begin)
	})
	return out
}

// apply returns the actions that start and end fault f.
func (w *world) apply(f fault) (do, undo func()) {
	switch f.Kind {
	case fCrash:
		crashed := false
		return func() {
				if w.members[f.A].node != nil {
					crashed = true
					w.crash(f.A)
				}
			}, func() {
				if crashed {
					w.restarts++
					w.start(f.A)
				}
			}
	case fCutBoth:
		return func() { w.setCut(f.A, f.B, 1); w.setCut(f.B, f.A, 1) },
			func() { w.setCut(f.A, f.B, -1); w.setCut(f.B, f.A, -1) }
	case fCutOne:
		return func() { w.setCut(f.A, f.B, 1) }, func() { w.setCut(f.A, f.B, -1) }
	case fFreeze:
		return func() { w.setFrozen(f.A, 1) }, func() { w.setFrozen(f.A, -1) }
	case fUnhealthy:
		return func() { w.setHealth(f.A, 1) }, func() { w.setHealth(f.A, -1) }
	case fAPIFail:
		return func() { w.dns[f.A].adjust(1, 0) }, func() { w.dns[f.A].adjust(-1, 0) }
	default:
		return func() { w.dns[f.A].adjust(0, 1) }, func() { w.dns[f.A].adjust(0, -1) }
	}
}

// check runs the safety checkers over the run's record of writes and
// elections.
func (w *world) check(out *outcome, begin time.Time) {
	w.mu.Lock()
	elected := slices.Clone(w.elected)
	w.mu.Unlock()
	out.Elections = len(elected)
	var b strings.Builder
	for _, e := range elected {
		fmt.Fprintf(&b, "\n  %s elected %s term %d", e.At.Sub(begin), e.Name, e.Term)
	}
	for r, d := range w.dns {
		_, ws := d.snapshot()
		for _, l := range ws {
			fmt.Fprintf(&b, "\n  record %d: %s wrote %s term %d sent %s landed %s changed %v refused %v", r, l.Writer, l.Content, l.Term, l.Sent.Sub(begin), l.At.Sub(begin), l.Changed, l.Refused)
		}
	}
	out.Trace = b.String()
	for r, d := range w.dns {
		_, ws := d.snapshot()
		out.Writes += len(ws)
		for _, v := range checkOneWriterPerTerm(ws) {
			out.Violations = append(out.Violations, fmt.Sprintf("record %d: %s", r, v))
		}
		vs, late := checkSentWithinLease(ws, elected, begin)
		for _, v := range vs {
			out.Violations = append(out.Violations, fmt.Sprintf("record %d: %s", r, v))
		}
		if d.kind != kindFenced {
			out.StaleLanding = max(out.StaleLanding, late)
		} else {
			for _, v := range checkFenceNoStaleLanding(ws, begin) {
				out.Violations = append(out.Violations, fmt.Sprintf("record %d: %s", r, v))
			}
		}
		for _, v := range checkOneChangePerTerm(ws, begin) {
			out.Violations = append(out.Violations, fmt.Sprintf("record %d: %s", r, v))
		}
	}
}

// checkOneWriterPerTerm: no two members write in one term.
func checkOneWriterPerTerm(ws []landed) []string {
	var vs []string
	by := map[uint64]string{}
	for _, l := range ws {
		if w, ok := by[l.Term]; ok && w != l.Writer {
			vs = append(vs, fmt.Sprintf("one writer per term: %s and %s both wrote in term %d", w, l.Writer, l.Term))
		}
		by[l.Term] = l.Writer
	}
	return vs
}

// checkSentWithinLease: every write was sent before any leader of a later
// term was elected (bound 0: the lease ends before a follower can stand).
// It returns, too, the latest a write landed after such an election: the
// uplink's delay, which only a fence stops.
func checkSentWithinLease(ws []landed, elected []election, begin time.Time) ([]string, time.Duration) {
	var vs []string
	var late time.Duration
	for _, l := range ws {
		for _, e := range elected {
			if e.Term <= l.Term {
				continue
			}
			if !l.Sent.Before(e.At) {
				vs = append(vs, fmt.Sprintf("within the lease: %s's write of term %d sent at %s, after %s was elected in term %d at %s", l.Writer, l.Term, l.Sent.Sub(begin), e.Name, e.Term, e.At.Sub(begin)))
			}
			if !l.Refused && l.At.After(e.At) {
				late = max(late, l.At.Sub(e.At))
			}
		}
	}
	return vs, late
}

// checkFenceNoStaleLanding: with the fence, no write of a term lands after
// a write of a later term did.
func checkFenceNoStaleLanding(ws []landed, begin time.Time) []string {
	var vs []string
	var top uint64
	for _, l := range ws {
		if l.Refused {
			continue
		}
		if l.Term < top {
			vs = append(vs, fmt.Sprintf("fence: %s's write of term %d landed at %s after a write of term %d", l.Writer, l.Term, l.At.Sub(begin), top))
		}
		top = max(top, l.Term)
	}
	return vs
}

// checkOneChangePerTerm: a leader moves a record at most once in its
// term, unless a write of an earlier term landed after its move (a plain
// store's stale landing, which its drift check then corrects).
func checkOneChangePerTerm(ws []landed, begin time.Time) []string {
	var vs []string
	changes := map[uint64]int{}
	staleSince := map[uint64]bool{}
	for _, l := range ws {
		if l.Refused {
			continue
		}
		for term := range changes {
			if l.Term < term {
				staleSince[term] = true
			}
		}
		if !l.Changed {
			continue
		}
		changes[l.Term]++
		if changes[l.Term] > 1 && !staleSince[l.Term] {
			vs = append(vs, fmt.Sprintf("one write per failover: %s moved the record %d times in term %d (at %s)", l.Writer, changes[l.Term], l.Term, l.At.Sub(begin)))
		}
	}
	return vs
}

func (sc scenario) String() string {
	var b strings.Builder
	shape := "3 nodes"
	if sc.Witness {
		shape = "2 nodes + witness"
	}
	fmt.Fprintf(&b, "seed %d: %s, failback_delay %s, drift %s; out %d (crash %v)", sc.Seed, shape, sc.Failback, sc.Drift, sc.Out, sc.OutCrash)
	for _, f := range sc.Faults {
		fmt.Fprintf(&b, "\n  %6s +%-5s %s %d %d", f.At.Round(time.Second), f.Dur.Round(time.Second), f.Kind, f.A, f.B)
	}
	return b.String()
}

func TestSimulator(t *testing.T) {
	first, n := *flagFirst, int64(*flagSeeds)
	if *flagSeed != 0 {
		first, n = *flagSeed, 1
	} else if testing.Short() || raceEnabled && *flagSeeds == 300 {
		n = min(n, 30) // the race detector: CI runs the full count without it
	}
	var writes, elections int
	var live, fb, stale time.Duration
	for seed := first; seed < first+n; seed++ {
		sc := draw(seed)
		out := run(t, sc, nil)
		writes += out.Writes
		elections += out.Elections
		live, fb, stale = max(live, out.LiveAfter), max(fb, out.FailbackAfter), max(stale, out.StaleLanding)
		if len(out.Violations) > 0 {
			if testing.Verbose() {
				t.Log(out.Trace)
			}
			t.Errorf("%s\n%s\nreplay: go test ./quorum -run 'TestSimulator$' -args -seed %d", sc, strings.Join(out.Violations, "\n"), seed)
		}
	}
	t.Logf("%d schedules: %d writes, %d elections; slowest liveness %s, failback %s; latest plain write after a later election %s", n, writes, elections, live, fb, stale)
}

// TestSimulatorCatchesFollowerWrites plants a deposed leader that goes on
// writing without VerifyLeader: the checkers must see it.
func TestSimulatorCatchesFollowerWrites(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		if out := run(t, draw(seed), quorum.PlantFollowerWrites); len(out.Violations) > 0 {
			t.Logf("seed %d caught it: %s", seed, out.Violations[0])
			return
		}
	}
	t.Fatal("40 schedules with a deposed leader writing: no checker saw it")
}

var flagSkipVerify = flag.Bool("skipverify", false, "quorum simulator: run the schedules with VerifyLeader skipped, and say which the checkers catch")

// TestSimulatorSkipVerify runs the schedules without VerifyLeader, on
// request (-skipverify), and reports what the checkers see.
func TestSimulatorSkipVerify(t *testing.T) {
	if !*flagSkipVerify {
		t.Skip("-skipverify not given")
	}
	caught := 0
	for seed := *flagFirst; seed < *flagFirst+int64(*flagSeeds); seed++ {
		if out := run(t, draw(seed), quorum.PlantSkipVerify); len(out.Violations) > 0 {
			caught++
			t.Logf("seed %d: %s", seed, out.Violations[0])
		}
	}
	t.Logf("%d of %d schedules caught it", caught, *flagSeeds)
}
