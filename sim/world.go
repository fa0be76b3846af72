package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// epoch is the simulated true time at the start of every run.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// World is one run: the true clock, the queue of what happens next, the
// seeded source of every random choice, and the parts.
type World struct {
	seed int64
	rng  *rand.Rand
	now  time.Time
	q    queue
	seq  uint64

	sc    *Scenario
	nodes [2]*node
	net   *network
	dns   *dnsAPI
	truth *truth

	trace       *trace
	failures    []string
	steps       int
	tail        bool   // every fault healed
	serviceDown [2]int // service faults under way, per node
}

// at schedules fn at t (not before now). Events at the same time run in an
// order drawn from the seed, so a schedule explores interleavings too.
func (w *World) at(t time.Time, fn func()) {
	if t.Before(w.now) {
		t = w.now
	}
	w.seq++
	heap.Push(&w.q, item{at: t, tie: w.rng.Uint64(), seq: w.seq, fn: fn})
}

func (w *World) after(d time.Duration, fn func()) { w.at(w.now.Add(d), fn) }

// uniform draws a duration in [lo, hi].
func (w *World) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)+1))
}

func (w *World) chance(p float64) bool { return w.rng.Float64() < p }

// elapsed is the run's time so far.
func (w *World) elapsed() time.Duration { return w.now.Sub(epoch) }

// logf adds a line to the trace.
func (w *World) logf(format string, args ...any) {
	w.trace.add(fmt.Sprintf("%9.3fs %s", w.elapsed().Seconds(), fmt.Sprintf(format, args...)))
}

// fail records a broken invariant; the run stops after this step.
func (w *World) fail(invariant, format string, args ...any) {
	msg := fmt.Sprintf("%s at %.3fs: %s", invariant, w.elapsed().Seconds(), fmt.Sprintf(format, args...))
	w.failures = append(w.failures, msg)
	w.logf("VIOLATION %s", msg)
}

func popItem(q *queue) item { return heap.Pop(q).(item) }

type item struct {
	at  time.Time
	tie uint64
	seq uint64
	fn  func()
}

type queue []item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	if q[i].tie != q[j].tie {
		return q[i].tie < q[j].tie
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = item{}
	*q = old[:len(old)-1]
	return it
}

// trace keeps the last lines of a run, for a failure's report.
type trace struct {
	lines []string
	next  int
	full  bool
	all   []string // every line, when the run is verbose
	keep  bool
}

func newTrace(size int, keepAll bool) *trace {
	return &trace{lines: make([]string, size), keep: keepAll}
}

func (t *trace) add(line string) {
	if t.keep {
		t.all = append(t.all, line)
	}
	t.lines[t.next] = line
	t.next++
	if t.next == len(t.lines) {
		t.next, t.full = 0, true
	}
}

// String is the kept lines, oldest first.
func (t *trace) String() string {
	if t.keep {
		return strings.Join(t.all, "\n")
	}
	var out []string
	if t.full {
		out = append(out, t.lines[t.next:]...)
	}
	out = append(out, t.lines[:t.next]...)
	return strings.Join(out, "\n")
}
