//go:build faults && linux

package faults

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// report collects what TestFaults measured and prints it at the end.
type report struct {
	mu     sync.Mutex
	rows   []*row
	trials map[string][]*trial
	soaks  []*soakResult
}

func (r *report) add(x *row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, x)
}

func (r *report) addTrials(kind string, ts []*trial) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trials == nil {
		r.trials = make(map[string][]*trial)
	}
	r.trials[kind] = ts
}

func (r *report) addSoak(s *soakResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.soaks = append(r.soaks, s)
}

// print writes the tables to stdout and, with -report, to the file.
func (r *report) print(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	profile := "short"
	if long() {
		profile = "long"
	}
	fmt.Fprintf(&b, "\n## clooster fault suite, %s profile\n\n", profile)
	fmt.Fprintf(&b, "Times are from the fault's injection. Limits: peer_timeout + %s (the detector may decide sooner, never later).\n", secs(slack))
	if len(r.rows) > 0 {
		r.printRows(&b)
	}
	if len(r.soaks) > 0 {
		fmt.Fprintf(&b, "\n| loss | minutes | link drops | false failovers |\n|---:|---:|---:|---:|\n")
		slices.SortFunc(r.soaks, func(a, b *soakResult) int { return a.pct - b.pct })
		for _, s := range r.soaks {
			fmt.Fprintf(&b, "| %d %% | %.1f | %d | %d |\n", s.pct, s.dur.Minutes(), s.drops, s.failovers)
		}
	}
	if len(r.trials) > 0 {
		fmt.Fprintf(&b, "\n| trials | n | repointed median | p99 | max | detected median | limit | over limit | missed | within the %s goal |\n", secs(goal))
		fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		kinds := make([]string, 0, len(r.trials))
		for k := range r.trials {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			s := summarize(r.trials[k])
			fmt.Fprintf(&b, "| %s→repointed | %d | %s | %s | %s | %s | %s | %d | %d | %d |\n",
				k, s.n, ms(s.median), ms(s.p99), ms(s.max), ms(s.detect), secs(s.limit), s.over, s.missed, s.inGoal)
		}
	}
	emit(t, b.String())
}

// printRows writes the scenario table.
func (r *report) printRows(b *strings.Builder) {
	fmt.Fprintf(b, "\n| scenario | expected | got | seconds | writes | pushes | verdict |\n")
	fmt.Fprintf(b, "|---|---|---|---:|---:|---:|---|\n")
	slices.SortFunc(r.rows, func(a, b *row) int { return a.order - b.order })
	pass := 0
	for _, x := range r.rows {
		got := x.got
		if got == "" {
			got = "—"
		}
		if len(x.notes) > 0 {
			got += " (" + strings.Join(x.notes, "; ") + ")"
		}
		s := "—"
		if !math.IsNaN(x.secs) {
			s = fmt.Sprintf("%.3f", x.secs)
		}
		if x.verdict == "PASS" {
			pass++
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %d | %s |\n", x.scenario, x.expected, got, s, x.writes, x.pushes, x.verdict)
	}
	fmt.Fprintf(b, "\n%d of %d scenarios passed.\n", pass, len(r.rows))
	var silent []string
	for _, x := range r.rows {
		if x.silent && !math.IsNaN(x.secs) {
			verdict := "met"
			if x.secs > goal.Seconds() {
				verdict = "missed"
			}
			silent = append(silent, fmt.Sprintf("%s %.2fs (%s)", x.scenario, x.secs, verdict))
		}
	}
	if len(silent) > 0 {
		fmt.Fprintf(b, "SPEC's goal at the defaults, a silent peer repointed within %s (reported, not enforced): %s.\n", secs(goal), strings.Join(silent, ", "))
	}
}

var reportOnce sync.Once

// emit prints a report and appends it to the -report file.
func emit(t *testing.T, text string) {
	fmt.Print(text)
	if *flagReport == "" {
		return
	}
	reportOnce.Do(func() { os.Remove(*flagReport) })
	f, err := os.OpenFile(*flagReport, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("report: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Errorf("report: %v", err)
	}
}

// trial is one hang of A, measured.
type trial struct {
	ok      bool          // B repointed
	repoint time.Duration // fault → srv2 written
	detect  time.Duration // fault → B logged the link lost; 0 if it did not
	limit   time.Duration
}

// hangTrials runs n trials one after the other, each on a fresh pair: A
// hangs (SIGSTOP) or the link is blackholed, and B must repoint within
// peer_timeout + slack, with no write by A.
func hangTrials(t *testing.T, kind string, opt pairOpts, n int) []*trial {
	out := make([]*trial, n)
	for i := range n {
		out[i] = &trial{}
		t.Run(fmt.Sprintf("%02d", i+1), func(t *testing.T) { hangTrial(t, kind, opt, out[i]) })
	}
	return out
}

func hangTrial(t *testing.T, kind string, opt pairOpts, tr *trial) {
	p := newPair(t, opt)
	p.settle()
	time.Sleep(rand.N(p.tm.keepalive)) // a random phase against the keepalives
	var t0 time.Time
	switch kind {
	case "sigstop":
		t0 = p.a.stop()
	case "blackhole":
		if err := p.lab.blackhole(); err != nil {
			t.Fatal(err)
		}
		t0 = time.Now()
	default:
		t.Fatalf("unknown trial %q", kind)
	}
	tr.limit = p.tm.peerTimeout + slack
	at, ok := p.waitWrite(srv2, t0, tr.limit+5*time.Second)
	if !ok {
		t.Errorf("%s: B did not repoint within %s", kind, secs(tr.limit+5*time.Second))
		return
	}
	tr.ok, tr.repoint = true, at.Sub(t0)
	if ev := p.b.log.events("link_down", t0); len(ev) > 0 {
		tr.detect = ev[0].Sub(t0)
	}
	if tr.repoint > tr.limit {
		t.Errorf("%s: B repointed %.2f s after the fault, limit %s (peer_timeout %s)", kind, tr.repoint.Seconds(), secs(tr.limit), p.tm.peerTimeout)
	}
	// In a blackhole A loses the link too, up to a keepalive interval
	// later: it must not overwrite B's takeover.
	time.Sleep(p.tm.keepalive + time.Second)
	if w := p.writeContents(); !slices.Equal(w, []string{srv2}) {
		t.Errorf("%s: record writes %v, want only B's takeover [srv2]: no alternating writes", kind, shorts(w))
	}
	for _, n := range []*node{p.a, p.b} {
		for _, c := range n.crashes(t0) {
			t.Errorf("crash: %s", c)
		}
	}
}

// soakResult is one loss soak: how often the link dropped, and how often
// the record was taken over, with both nodes alive all along.
type soakResult struct {
	pct       int
	dur       time.Duration
	drops     int
	failovers int
}

// soak runs pct % random loss on a fresh pair for d.
func soak(t *testing.T, opt pairOpts, pct int, d time.Duration, res *soakResult) {
	p := newPair(t, opt)
	p.settle()
	res.pct, res.dur = pct, d
	t0 := time.Now()
	if pct > 0 {
		if err := p.lab.loss(pct); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(d)
	if pct > 0 {
		if err := p.lab.heal(); err != nil {
			t.Fatal(err)
		}
	}
	res.drops = len(p.b.log.events("link_down", t0))
	for _, w := range p.writeContents() {
		if w == srv2 {
			res.failovers++
		}
	}
	for _, n := range []*node{p.a, p.b} {
		for _, c := range n.crashes(t0) {
			t.Errorf("crash: %s", c)
		}
	}
}

type summary struct {
	n, over, missed, inGoal  int
	median, p99, max, detect time.Duration
	limit                    time.Duration
}

func summarize(ts []*trial) summary {
	var s summary
	var rep, det []time.Duration
	for _, tr := range ts {
		if tr.limit > 0 {
			s.limit = tr.limit
		}
		if !tr.ok {
			s.missed++
			continue
		}
		s.n++
		rep = append(rep, tr.repoint)
		if tr.detect > 0 {
			det = append(det, tr.detect)
		}
		if tr.repoint > tr.limit {
			s.over++
		}
		if tr.repoint <= goal {
			s.inGoal++
		}
	}
	s.median, s.p99, s.max = quantile(rep, 0.5), quantile(rep, 0.99), quantile(rep, 1)
	s.detect = quantile(det, 0.5)
	return s
}

// quantile is the nearest-rank q-quantile; 0 for no samples.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
