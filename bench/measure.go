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
func (b *bench) all(o options) (*report, error) {
	r := &report{opts: o, mach: describeMachine(), began: time.Now()}
	b.progress("building the binary")
	if err := b.build(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(b.binary)
	if err != nil {
		return nil, err
	}
	r.binSize = fi.Size()

	b.progress("starting the idle pair (defaults)")
	idle, err := b.newPair(defaults, nil)
	if err != nil {
		return nil, err
	}
	ia, ic, rd, err := b.start(idle)
	defer idle.stop(ia, ic)
	if err != nil {
		return nil, err
	}
	r.ready = append(r.ready, rd)

	if err := b.crashTrials(r, o.trials); err != nil {
		return nil, err
	}
	if err := b.idleFigures(r, idle, ia, ic, o.cpuWindow); err != nil {
		return nil, err
	}
	idle.stop(ia, ic)

	if r.hangDefault, err = b.hangTrials(r, defaults, o.trials); err != nil {
		return nil, err
	}
	if r.hangFast, err = b.hangTrials(r, fastest, o.trials); err != nil {
		return nil, err
	}
	if err := b.failbackTrials(r, o.trials); err != nil {
		return nil, err
	}
	if r.sets, err = b.setTrials(o); err != nil {
		return nil, err
	}
	if err := b.apiPerHour(r, o.apiWindow); err != nil {
		return nil, err
	}
	if err := b.reconnects(r, o.reconnects, o.settle); err != nil {
		return nil, err
	}
	if o.goBench {
		b.progress("go test -bench ./watchdog/")
		if r.goBench, err = b.goBenchmarks(o.quick); err != nil {
			return nil, err
		}
	}
	r.took = time.Since(r.began)
	return r, nil
}

// idleOnly measures an idle pair alone, at o.idleOnly's timings, and
// prints its CPU and RSS: a quick look while tuning, not the report.
func (b *bench) idleOnly(o options) error {
	b.progress("building the binary")
	if err := b.build(); err != nil {
		return err
	}
	b.progress("starting the idle pair (%s)", o.idleOnly.describe())
	p, err := b.newPair(o.idleOnly, nil)
	if err != nil {
		return err
	}
	if o.notify {
		// Channels on loopback ports nothing listens on: an idle pair
		// sends nothing, and a test must not reach any other address.
		list := []any{
			"smtp://127.0.0.1:1/?from=clooster@example.com&to=ops@example.com",
			"ntfy://127.0.0.1:1/alerts?scheme=http",
			map[string]any{"url": "ntfy://127.0.0.1:1/pages?scheme=http", "events": []any{"down"}},
			"generic+http://127.0.0.1:1/hook",
		}
		p.srv1.notify, p.srv2.notify = list, list
	}
	a, c, _, err := b.start(p)
	defer p.stop(a, c)
	if err != nil {
		return err
	}
	r := &report{}
	if err := b.idleFigures(r, p, a, c, o.cpuWindow); err != nil {
		return err
	}
	for i, label := range []string{"srv1", "srv2"} {
		t, w := r.idle.tasks[i], r.idle.window.Seconds()
		fmt.Printf("%s: CPU %.3f %% of a core over %v (sysmon %.3f %%); %.0f context switches/s; RSS %.1f MB; %d API requests, %d pushes\n",
			label, r.idle.cpu[i], r.idle.window.Round(time.Second), 100*t.sysmon.Seconds()/w, float64(t.switches)/w,
			float64(r.idle.snap.rss[i])/1e6, r.idle.api, r.idle.pushes)
	}
	return nil
}

// settle waits a moment after the link comes up, with a random part so
// that faults fall at every phase of the keepalive cycle.
func (b *bench) settle(t timing) error {
	ka := t.keepalive
	if ka == 0 {
		ka = 500 * time.Millisecond
	}
	return b.sleep(500*time.Millisecond + mrand.N(ka))
}

// crashTrials kill -9 the active node (srv1) of a fresh pair per trial and
// time the survivor's write as the API saw it.
func (b *bench) crashTrials(r *report, n int) error {
	for i := range n {
		b.progress("crash trial %d/%d", i+1, n)
		p, err := b.newPair(defaults, nil)
		if err != nil {
			return err
		}
		a, c, rd, err := b.start(p)
		if err == nil {
			r.ready = append(r.ready, rd)
			err = b.settle(defaults)
		}
		if err == nil {
			at := a.kill()
			var w writeAt
			w, err = b.waitWrite(p.f, srv2, at, 10*time.Second)
			if err == nil {
				r.crash = append(r.crash, w.At.Sub(at).Seconds())
				r.failoverAPI = append(r.failoverAPI, float64(len(p.f.requestsBetween(at, w.At))))
			} else {
				err = fmt.Errorf("crash trial %d: %w\n%s", i+1, err, c.logTail())
			}
		}
		p.stop(a, c)
		if err != nil {
			return err
		}
	}
	return nil
}

// hangTrials SIGSTOP the active node of a fresh pair per trial and time the
// survivor's write. The stopped node is killed afterwards: each trial has
// its own pair and stand-ins, so trials are independent.
func (b *bench) hangTrials(r *report, t timing, n int) ([]float64, error) {
	var out []float64
	for i := range n {
		b.progress("hang trial (%s) %d/%d", t.describe(), i+1, n)
		p, err := b.newPair(t, nil)
		if err != nil {
			return nil, err
		}
		a, c, rd, err := b.start(p)
		if err == nil {
			if t == defaults {
				r.ready = append(r.ready, rd)
			}
			err = b.settle(t)
		}
		if err == nil {
			var at time.Time
			if at, err = a.signal(syscall.SIGSTOP); err == nil {
				var w writeAt
				w, err = b.waitWrite(p.f, srv2, at, 15*time.Second)
				if err == nil {
					out = append(out, w.At.Sub(at).Seconds())
					r.failoverAPI = append(r.failoverAPI, float64(len(p.f.requestsBetween(at, w.At))))
				} else {
					err = fmt.Errorf("hang trial %d: %w\n%s", i+1, err, c.logTail())
				}
				a.signal(syscall.SIGCONT)
			}
		}
		p.stop(a, c)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// failbackTrials: a pair with failback_delay 3s; srv1 is killed, srv2 takes
// over; 2 s later (srv2's redial backoff has reached its cap by then) srv1
// is started again, and the time from that start to its failback write,
// less failback_delay, is the overhead.
func (b *bench) failbackTrials(r *report, n int) error {
	t := timing{failbackDelay: failbackDelay}
	for i := range n {
		b.progress("failback trial %d/%d", i+1, n)
		p, err := b.newPair(t, nil)
		if err != nil {
			return err
		}
		a, c, _, err := b.start(p)
		var a2 *proc
		if err == nil {
			err = b.settle(t)
		}
		if err == nil {
			at := a.kill()
			_, err = b.waitWrite(p.f, srv2, at, 10*time.Second)
		}
		if err == nil {
			err = b.sleep(2 * time.Second)
		}
		if err == nil {
			a2, err = b.startProc(p.srv1)
		}
		if err == nil {
			var w writeAt
			w, err = b.waitWrite(p.f, srv1, a2.started, failbackDelay+15*time.Second)
			if err == nil {
				r.failback = append(r.failback, (w.At.Sub(a2.started) - failbackDelay).Seconds())
				r.failbackAPI = append(r.failbackAPI, float64(len(p.f.requestsBetween(a2.started, w.At))))
				if st, serr := a2.getStatus(); serr == nil && st.Peer.State == "up" {
					r.failbackLink = append(r.failbackLink, st.Peer.Since.Sub(a2.started).Seconds())
					r.failbackWrite = append(r.failbackWrite, (w.At.Sub(st.Peer.Since) - failbackDelay).Seconds())
				}
			} else {
				err = fmt.Errorf("failback trial %d: %w\n%s\n%s", i+1, err, a2.logTail(), c.logTail())
			}
		}
		p.stop(a, c, a2)
		if err != nil {
			return err
		}
	}
	return nil
}

// waitFailbackCheck waits until both nodes have passed their failback
// check (failback_delay after the link came up), after which a linked pair
// is in its steady state.
func (b *bench) waitFailbackCheck(limit time.Duration, ps ...*proc) error {
	return b.waitFor(limit, 100*time.Millisecond, "failback check", func() bool {
		for _, p := range ps {
			if v, err := p.metric("clooster_failbacks_total"); err != nil || v < 1 {
				return false
			}
		}
		return true
	}, ps...)
}

// idleFigures measures the idle pair at the defaults once it is in its
// steady state: CPU over the window, RSS at its end, and the API requests
// and pushes it made meanwhile.
func (b *bench) idleFigures(r *report, p *pair, a, c *proc, window time.Duration) error {
	b.progress("idle pair: waiting for the failback check (failback_delay 30s after the link)")
	if err := b.waitFailbackCheck(45*time.Second, a, c); err != nil {
		return err
	}
	if err := b.sleep(2 * time.Second); err != nil {
		return err
	}
	b.progress("idle pair: CPU over %v, nothing else running", window)
	pushes0 := len(p.f.pb.Pushes())
	t0 := time.Now()
	ua0, err1 := cpuTime(a.pid())
	uc0, err2 := cpuTime(c.pid())
	ta0, err3 := taskStats(a.pid())
	tc0, err4 := taskStats(c.pid())
	if err := firstErr(err1, err2, err3, err4); err != nil {
		return err
	}
	if err := b.sleep(window); err != nil {
		return err
	}
	ua1, err1 := cpuTime(a.pid())
	uc1, err2 := cpuTime(c.pid())
	t1 := time.Now()
	ta1, err3 := taskStats(a.pid())
	tc1, err4 := taskStats(c.pid())
	snap, err5 := snapshot(a, c)
	if err := firstErr(err1, err2, err3, err4, err5); err != nil {
		return err
	}
	wall := t1.Sub(t0)
	r.idle = idleResult{
		window: wall,
		cpu:    [2]float64{100 * (ua1 - ua0).Seconds() / wall.Seconds(), 100 * (uc1 - uc0).Seconds() / wall.Seconds()},
		snap:   snap,
		tasks:  [2]cpuBreakdown{breakdown(a.pid(), ta0, ta1), breakdown(c.pid(), tc0, tc1)},
		api:    len(p.f.requestsBetween(t0, t1)),
		pushes: len(p.f.pb.Pushes()) - pushes0,
		age:    t1.Sub(a.started),
	}
	return nil
}

// apiPerHour counts the API requests of a linked idle pair with a short
// drift_check_interval, and scales them to the default interval.
func (b *bench) apiPerHour(r *report, window time.Duration) error {
	b.progress("API requests in steady state: %v with drift_check_interval %v", window, apiDrift)
	t := timing{failbackDelay: failbackDelay, drift: apiDrift}
	p, err := b.newPair(t, nil)
	if err != nil {
		return err
	}
	a, c, _, err := b.start(p)
	defer p.stop(a, c)
	if err != nil {
		return err
	}
	if err := b.waitFailbackCheck(failbackDelay+10*time.Second, a, c); err != nil {
		return err
	}
	if err := b.sleep(time.Second); err != nil {
		return err
	}
	t0 := time.Now()
	pushes0 := len(p.f.pb.Pushes())
	if err := b.sleep(window); err != nil {
		return err
	}
	t1 := time.Now()
	reqs := p.f.requestsBetween(t0, t1)
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
		pushes:  len(p.f.pb.Pushes()) - pushes0,
	}
	return nil
}

// reconnects puts a TCP proxy between srv2 and srv1, cuts the link n times,
// waiting each time until both nodes count the new link, and compares
// their RSS and open files before and after.
func (b *bench) reconnects(r *report, n int, settle time.Duration) error {
	b.progress("reconnects: %d link cuts through a proxy", n)
	var px *proxy
	p, err := b.newPair(defaults, func(server string) (string, error) {
		var err error
		px, err = newProxy(server)
		if err != nil {
			return "", err
		}
		return px.addr(), nil
	})
	if err != nil {
		return err
	}
	defer px.close()
	// The runtime reports every collection with the live heap it left:
	// what a leak would grow, apart from the heap the runtime keeps.
	p.srv1.env = []string{"GODEBUG=gctrace=1"}
	p.srv2.env = p.srv1.env
	a, c, _, err := b.start(p)
	defer p.stop(a, c)
	if err != nil {
		return err
	}
	if err := b.sleep(5 * time.Second); err != nil {
		return err
	}
	rr := reconnectResult{n: n, warmup: warmupCuts, settle: settle}
	if rr.fresh, err = snapshot(a, c); err != nil {
		return err
	}
	links := 1 // as both nodes count them
	cut := func() error {
		cutAt := time.Now()
		px.cut()
		links++
		err := b.waitFor(10*time.Second, time.Millisecond, fmt.Sprintf("relink after cut %d", links-1), func() bool {
			for _, x := range []*proc{a, c} {
				if v, err := x.metric("clooster_links_total"); err != nil || v < float64(links) {
					return false
				}
			}
			return true
		}, a, c)
		rr.relink = append(rr.relink, time.Since(cutAt).Seconds())
		return err
	}
	// The first link losses run code a fresh node never ran (the takeover,
	// the record write, the push): the pages it touches are the process's
	// for good. "Before" is taken after them.
	for range warmupCuts {
		if err := cut(); err != nil {
			return err
		}
	}
	b.progress("reconnects: warm-up done; settling %v", settle)
	if err := b.sleep(settle); err != nil {
		return err
	}
	if rr.before, err = snapshot(a, c); err != nil {
		return err
	}
	writes0, pushes0 := p.f.cf.Stats().Writes, len(p.f.pb.Pushes())
	start := time.Now()
	for i := 1; i <= n; i++ {
		if err := cut(); err != nil {
			return err
		}
		if i%(n/4) == 0 {
			s, err := snapshot(a, c)
			if err != nil {
				return err
			}
			rr.trend = append(rr.trend, trendPoint{i, s})
			b.progress("reconnects: %d done, RSS srv1 %s (anon %s), srv2 %s (anon %s)", i,
				mib(s.rss[0]), mib(s.anon[0]), mib(s.rss[1]), mib(s.anon[1]))
		}
	}
	rr.took = time.Since(start)
	rr.writes, rr.pushes = p.f.cf.Stats().Writes-writes0, len(p.f.pb.Pushes())-pushes0
	b.progress("reconnects: done; settling %v", settle)
	if err := b.sleep(settle); err != nil {
		return err
	}
	if rr.after, err = snapshot(a, c); err != nil {
		return err
	}
	for i, x := range []*proc{a, c} {
		if rr.gc[i], err = gcTrace(x.logPath); err != nil {
			return err
		}
	}
	r.reconn = rr
	return nil
}

// warmupCuts is how many link cuts precede the "before" figure of the
// reconnect test.
const warmupCuts = 10

// snapshot reads RSS, open files and threads of both nodes.
func snapshot(a, c *proc) (procSnap, error) {
	var s procSnap
	for i, p := range []*proc{a, c} {
		var err1, err2, err3, err4 error
		s.rss[i], err1 = rssBytes(p.pid())
		s.anon[i], err2 = statusField(p.pid(), "RssAnon:")
		s.fds[i], err3 = openFiles(p.pid())
		var th int64
		th, err4 = statusField(p.pid(), "Threads:")
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
func gcTrace(path string) (gcStats, error) {
	var g gcStats
	b, err := os.ReadFile(path)
	if err != nil {
		return g, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
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
	return g, nil
}
