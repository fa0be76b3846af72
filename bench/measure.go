//go:build linux

package main

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
	"github.com/clooster/clooster/watchdog"
)

// failbackDelay is the short failback_delay of the failback trials and of
// the steady-state API count, so that they need not wait 30 s.
const failbackDelay = 3 * time.Second

// apiDrift is the shortened drift_check_interval of the steady-state API
// count; the figure is scaled to the default of 5m.
const (
	apiDrift     = 2 * time.Second
	defaultDrift = 5 * time.Minute
)

// all takes every measurement, in an order that keeps them apart: the idle
// pair settles while the crash trials run, and nothing else runs during
// its CPU window.
func (b *bench) all(t pairtest.T, o options) *report {
	r := &report{opts: o, mach: describeMachine(), began: time.Now()}
	b.build(t)
	fi, err := os.Stat(b.bin.Path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	r.binSize = fi.Size()

	scope(t, "", func(t pairtest.T) {
		b.progress("starting the idle pair (defaults)")
		idle := newPair(t, defaults)
		ia, ic, rd := b.start(t, idle)
		r.ready = append(r.ready, rd)
		b.crashTrials(t, r, o.trials)
		b.idleFigures(t, r, idle, ia, ic, o.cpuWindow)
	})

	r.hangDefault = b.hangTrials(t, r, defaults, o.trials)
	r.hangFast = b.hangTrials(t, r, fastest, o.trials)
	b.failbackTrials(t, r, o.trials)
	r.sets = b.setTrials(t, o)
	b.apiPerHour(t, r, o.apiWindow)
	b.reconnects(t, r, o.reconnects, o.settle)
	if o.goBench {
		b.progress("go test -bench ./watchdog/")
		if r.goBench, err = b.goBenchmarks(o.quick); err != nil {
			t.Fatalf("%v", err)
		}
	}
	r.took = time.Since(r.began)
	return r
}

// idleOnly measures an idle pair alone, at o.idleOnly's timings, and
// prints its CPU and RSS: a quick look while tuning, not the report.
func (b *bench) idleOnly(t pairtest.T, o options) {
	b.build(t)
	b.progress("starting the idle pair (%s)", o.idleOnly)
	p := newPair(t, o.idleOnly)
	if o.notify {
		// Channels on loopback ports nothing listens on: an idle pair
		// sends nothing, and a test must not reach any other address.
		list := []any{
			"smtp://127.0.0.1:1/?from=clooster@example.com&to=ops@example.com",
			"ntfy://127.0.0.1:1/alerts?scheme=http",
			map[string]any{"url": "ntfy://127.0.0.1:1/pages?scheme=http", "events": []any{"down"}},
			"generic+http://127.0.0.1:1/hook",
		}
		for _, n := range []*pairtest.Node{&p.Srv1, &p.Srv2} {
			n.Extra = append(n.Extra, pairtest.Member{Key: "notify", Val: list})
		}
	}
	a, c, _ := b.start(t, p)
	r := &report{}
	b.idleFigures(t, r, p, a, c, o.cpuWindow)
	for i, label := range []string{"srv1", "srv2"} {
		tk, w := r.idle.tasks[i], r.idle.window.Seconds()
		fmt.Printf("%s: CPU %.3f %% of a core over %v (sysmon %.3f %%); %.0f context switches/s; RSS %.1f MB; %d API requests, %d pushes\n",
			label, r.idle.cpu[i], r.idle.window.Round(time.Second), 100*tk.sysmon.Seconds()/w, float64(tk.switches)/w,
			float64(r.idle.snap.rss[i])/1e6, r.idle.api, r.idle.pushes)
	}
}

// settle waits a moment after the link comes up, with a random part so
// that faults fall at every phase of the keepalive cycle.
func settle(t pairtest.T, tm pairtest.Timing) {
	t.Helper()
	ka := tm.Keepalive
	if ka == 0 {
		ka = 500 * time.Millisecond
	}
	pairtest.Sleep(t, 500*time.Millisecond+mrand.N(ka))
}

// crashTrials kill -9 the active node (srv1) of a fresh pair per trial and
// time the survivor's write as the API saw it.
func (b *bench) crashTrials(t pairtest.T, r *report, n int) {
	for i := range n {
		b.progress("crash trial %d/%d", i+1, n)
		scope(t, fmt.Sprintf("crash trial %d", i+1), func(t pairtest.T) {
			p := newPair(t, defaults)
			a, _, rd := b.start(t, p)
			r.ready = append(r.ready, rd)
			settle(t, defaults)
			at := a.Kill(t)
			w := waitWrite(t, p.F, srv2, at, 10*time.Second)
			r.crash = append(r.crash, w.At.Sub(at).Seconds())
			r.failoverAPI = append(r.failoverAPI, float64(len(requestsBetween(p.F, at, w.At))))
		})
	}
}

// hangTrials SIGSTOP the active node of a fresh pair per trial and time the
// survivor's write. The stopped node is killed afterwards: each trial has
// its own pair and stand-ins, so trials are independent.
func (b *bench) hangTrials(t pairtest.T, r *report, tm pairtest.Timing, n int) []float64 {
	var out []float64
	for i := range n {
		b.progress("hang trial (%s) %d/%d", tm, i+1, n)
		scope(t, fmt.Sprintf("hang trial %d", i+1), func(t pairtest.T) {
			p := newPair(t, tm)
			a, _, rd := b.start(t, p)
			if tm == defaults {
				r.ready = append(r.ready, rd)
			}
			settle(t, tm)
			at := a.Signal(t, syscall.SIGSTOP)
			w := waitWrite(t, p.F, srv2, at, 15*time.Second)
			out = append(out, w.At.Sub(at).Seconds())
			r.failoverAPI = append(r.failoverAPI, float64(len(requestsBetween(p.F, at, w.At))))
			a.Signal(t, syscall.SIGCONT)
		})
	}
	return out
}

// failbackTrials: a pair with failback_delay 3s; srv1 is killed, srv2 takes
// over; 2 s later (srv2's redial backoff has reached its cap by then) srv1
// is started again, and the time from that start to its failback write,
// less failback_delay, is the overhead.
func (b *bench) failbackTrials(t pairtest.T, r *report, n int) {
	tm := pairtest.Timing{FailbackDelay: failbackDelay}
	for i := range n {
		b.progress("failback trial %d/%d", i+1, n)
		scope(t, fmt.Sprintf("failback trial %d", i+1), func(t pairtest.T) {
			p := newPair(t, tm)
			a, _, _ := b.start(t, p)
			settle(t, tm)
			at := a.Kill(t)
			waitWrite(t, p.F, srv2, at, 10*time.Second)
			pairtest.Sleep(t, 2*time.Second)
			a2 := b.startNode(t, p.Srv1)
			w := waitWrite(t, p.F, srv1, a2.Started, failbackDelay+15*time.Second)
			r.failback = append(r.failback, (w.At.Sub(a2.Started) - failbackDelay).Seconds())
			r.failbackAPI = append(r.failbackAPI, float64(len(requestsBetween(p.F, a2.Started, w.At))))
			if st, err := a2.Status(); err == nil && st.Peer.State == watchdog.PeerUp {
				r.failbackLink = append(r.failbackLink, st.Peer.Since.Sub(a2.Started).Seconds())
				r.failbackWrite = append(r.failbackWrite, (w.At.Sub(st.Peer.Since) - failbackDelay).Seconds())
			}
		})
	}
}

// waitFailbackCheck waits until both nodes have passed their failback
// check (failback_delay after the link came up), after which a linked pair
// is in its steady state.
func waitFailbackCheck(t pairtest.T, limit time.Duration, ps ...*pairtest.Proc) {
	t.Helper()
	pairtest.WaitEvery(t, 100*time.Millisecond, limit, "failback check", func() bool {
		for _, p := range ps {
			if v, err := p.Metric("clooster_failbacks_total"); err != nil || v < 1 {
				return false
			}
		}
		return true
	}, ps...)
}

// idleFigures measures the idle pair at the defaults once it is in its
// steady state: CPU over the window, RSS at its end, and the API requests
// and pushes it made meanwhile.
func (b *bench) idleFigures(t pairtest.T, r *report, p *pairtest.Pair, a, c *pairtest.Proc, window time.Duration) {
	b.progress("idle pair: waiting for the failback check (failback_delay 30s after the link)")
	waitFailbackCheck(t, 45*time.Second, a, c)
	pairtest.Sleep(t, 2*time.Second)
	b.progress("idle pair: CPU over %v, nothing else running", window)
	pushes0 := len(p.F.PB.Pushes())
	t0 := time.Now()
	ua0, err1 := cpuTime(a.Pid())
	uc0, err2 := cpuTime(c.Pid())
	ta0, err3 := taskStats(a.Pid())
	tc0, err4 := taskStats(c.Pid())
	if err := firstErr(err1, err2, err3, err4); err != nil {
		t.Fatalf("%v", err)
	}
	pairtest.Sleep(t, window)
	ua1, err1 := cpuTime(a.Pid())
	uc1, err2 := cpuTime(c.Pid())
	t1 := time.Now()
	ta1, err3 := taskStats(a.Pid())
	tc1, err4 := taskStats(c.Pid())
	snap, err5 := snapshot(a, c)
	if err := firstErr(err1, err2, err3, err4, err5); err != nil {
		t.Fatalf("%v", err)
	}
	wall := t1.Sub(t0)
	r.idle = idleResult{
		window: wall,
		cpu:    [2]float64{100 * (ua1 - ua0).Seconds() / wall.Seconds(), 100 * (uc1 - uc0).Seconds() / wall.Seconds()},
		snap:   snap,
		tasks:  [2]cpuBreakdown{breakdown(a.Pid(), ta0, ta1), breakdown(c.Pid(), tc0, tc1)},
		api:    len(requestsBetween(p.F, t0, t1)),
		pushes: len(p.F.PB.Pushes()) - pushes0,
		age:    t1.Sub(a.Started),
	}
}

// apiPerHour counts the API requests of a linked idle pair with a short
// drift_check_interval, and scales them to the default interval.
func (b *bench) apiPerHour(t pairtest.T, r *report, window time.Duration) {
	b.progress("API requests in steady state: %v with drift_check_interval %v", window, apiDrift)
	scope(t, "API requests in steady state", func(t pairtest.T) {
		p := newPair(t, pairtest.Timing{FailbackDelay: failbackDelay, DriftCheck: apiDrift})
		a, c, _ := b.start(t, p)
		waitFailbackCheck(t, failbackDelay+10*time.Second, a, c)
		pairtest.Sleep(t, time.Second)
		t0 := time.Now()
		pushes0 := len(p.F.PB.Pushes())
		pairtest.Sleep(t, window)
		t1 := time.Now()
		reqs := requestsBetween(p.F, t0, t1)
		var methods []string
		for _, q := range reqs {
			methods = append(methods, q.Method)
		}
		r.api = apiResult{
			window:  t1.Sub(t0),
			drift:   apiDrift,
			bySrv1:  requestsBy(reqs, "srv1"),
			bySrv2:  requestsBy(reqs, "srv2"),
			methods: countWords(methods),
			pushes:  len(p.F.PB.Pushes()) - pushes0,
		}
	})
}

// reconnects puts a TCP proxy between srv2 and srv1, cuts the link n times,
// waiting each time until both nodes count the new link, and compares
// their RSS and open files before and after.
func (b *bench) reconnects(t pairtest.T, r *report, n int, settle time.Duration) {
	b.progress("reconnects: %d link cuts through a proxy", n)
	scope(t, "reconnects", func(t pairtest.T) {
		p := newPair(t, defaults)
		px, err := newProxy(pairtest.Loopback(p.Srv1.Port))
		if err != nil {
			t.Fatalf("%v", err)
		}
		t.Cleanup(px.close)
		p.Srv2.Port = px.port()
		// The runtime reports every collection with the live heap it left:
		// what a leak would grow, apart from the heap the runtime keeps.
		a, c, _ := b.start(t, p, "GODEBUG=gctrace=1")
		pairtest.Sleep(t, 5*time.Second)
		rr := reconnectResult{n: n, warmup: warmupCuts, settle: settle}
		rr.fresh = mustSnapshot(t, a, c)
		links := 1 // as both nodes count them
		cut := func() {
			cutAt := time.Now()
			px.cut()
			links++
			pairtest.WaitEvery(t, time.Millisecond, 10*time.Second, fmt.Sprintf("relink after cut %d", links-1), func() bool {
				for _, x := range []*pairtest.Proc{a, c} {
					if v, err := x.Metric("clooster_links_total"); err != nil || v < float64(links) {
						return false
					}
				}
				return true
			}, a, c)
			rr.relink = append(rr.relink, time.Since(cutAt).Seconds())
		}
		// The first link losses run code a fresh node never ran (the
		// takeover, the record write, the push): the pages it touches are
		// the process's for good. "Before" is taken after them.
		for range warmupCuts {
			cut()
		}
		b.progress("reconnects: warm-up done; settling %v", settle)
		pairtest.Sleep(t, settle)
		rr.before = mustSnapshot(t, a, c)
		writes0, pushes0 := p.F.CF.Stats().Writes, len(p.F.PB.Pushes())
		start := time.Now()
		for i := 1; i <= n; i++ {
			cut()
			if i%(n/4) == 0 {
				s := mustSnapshot(t, a, c)
				rr.trend = append(rr.trend, trendPoint{i, s})
				b.progress("reconnects: %d done, RSS srv1 %s (anon %s), srv2 %s (anon %s)", i,
					mib(s.rss[0]), mib(s.anon[0]), mib(s.rss[1]), mib(s.anon[1]))
			}
		}
		rr.took = time.Since(start)
		rr.writes, rr.pushes = p.F.CF.Stats().Writes-writes0, len(p.F.PB.Pushes())-pushes0
		b.progress("reconnects: done; settling %v", settle)
		pairtest.Sleep(t, settle)
		rr.after = mustSnapshot(t, a, c)
		for i, x := range []*pairtest.Proc{a, c} {
			rr.gc[i] = gcTrace(x.Log())
		}
		r.reconn = rr
	})
}

// warmupCuts is how many link cuts precede the "before" figure of the
// reconnect test.
const warmupCuts = 10

// mustSnapshot is snapshot, failing t on an error.
func mustSnapshot(t pairtest.T, a, c *pairtest.Proc) procSnap {
	t.Helper()
	s, err := snapshot(a, c)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return s
}

// snapshot reads RSS, open files and threads of both nodes.
func snapshot(a, c *pairtest.Proc) (procSnap, error) {
	var s procSnap
	for i, p := range []*pairtest.Proc{a, c} {
		var err1, err2, err3, err4 error
		s.rss[i], err1 = rssBytes(p.Pid())
		s.anon[i], err2 = statusField(p.Pid(), "RssAnon:")
		s.fds[i], err3 = openFiles(p.Pid())
		var th int64
		th, err4 = statusField(p.Pid(), "Threads:")
		s.threads[i] = int(th)
		if err := firstErr(err1, err2, err3, err4); err != nil {
			return s, err
		}
	}
	return s, nil
}

// goBenchmarks runs the micro-benchmarks of the watchdog package.
func (b *bench) goBenchmarks(quick bool) (string, error) {
	args := []string{"test", "-run", "XXX", "-bench", ".", "-benchmem"}
	if quick {
		args = append(args, "-benchtime", "200ms")
	}
	args = append(args, "./watchdog/")
	cmd := exec.Command(b.goCmd, args...)
	cmd.Dir = b.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// countWords counts each distinct word, as "GET 9, PATCH 1".
func countWords(ws []string) string {
	counts := map[string]int{}
	var order []string
	for _, w := range ws {
		if counts[w] == 0 {
			order = append(order, w)
		}
		counts[w]++
	}
	var parts []string
	for _, w := range order {
		parts = append(parts, fmt.Sprintf("%s %d", w, counts[w]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// gcStats sums up the runtime's gctrace lines of one process.
type gcStats struct {
	n                int // collections
	first, max, last int // MB of live heap after a collection
}

// gcTrace reads the gctrace lines in a log: "gc 7 @12.3s 0%: ..., 3->3->1 MB, 4 MB goal, ...".
func gcTrace(log string) gcStats {
	var g gcStats
	for line := range strings.SplitSeq(log, "\n") {
		if !strings.HasPrefix(line, "gc ") {
			continue
		}
		for f := range strings.SplitSeq(line, ", ") {
			heap, ok := strings.CutSuffix(f, " MB")
			if !ok || strings.Count(heap, "->") != 2 {
				continue
			}
			live, err := strconv.Atoi(heap[strings.LastIndex(heap, "->")+2:])
			if err != nil {
				continue
			}
			if g.n == 0 {
				g.first = live
			}
			g.n++
			g.max, g.last = max(g.max, live), live
		}
	}
	return g
}
