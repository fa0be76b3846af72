//go:build linux

package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The goals the figures are held against.
const (
	goalCrash         = 0.3 // s, p99
	goalHang          = 3.0 // s, p99 at the defaults
	goalFailback      = 0.5 // s, p99 of the overhead
	goalFailoverCalls = 2   // API requests per failover, at most
	goalCallsPerHour  = 12  // API requests per hour, linked and idle
	goalRSS           = 15e6
	goalCPU           = 0.2 // % of one core
	goalBinary        = 12e6
	goalReady         = 0.1 // s, median
	// rssTolerance is how much RSS may grow over the reconnects and still
	// count as no growth: the Go runtime keeps some freed heap for reuse.
	rssTolerance = 2 << 20
)

type report struct {
	opts  options
	mach  machine
	began time.Time
	took  time.Duration

	binSize int64

	crash, hangDefault, hangFast []float64 // seconds
	failoverAPI                  []float64 // requests, crash and hang trials
	failback                     []float64 // seconds over failback_delay
	failbackLink                 []float64 // start → linked, seconds
	failbackWrite                []float64 // linked → write, less failback_delay
	failbackAPI                  []float64
	ready                        []readiness

	idle    idleResult
	api     apiResult
	reconn  reconnectResult
	goBench string
	sets    string // the record sets' section
}

type idleResult struct {
	window time.Duration
	cpu    [2]float64 // % of one core, srv1 and srv2
	snap   procSnap   // at the window's end
	tasks  [2]cpuBreakdown
	api    int
	pushes int
	age    time.Duration // of srv1 when RSS was read
}

type apiResult struct {
	window         time.Duration
	drift          time.Duration
	bySrv1, bySrv2 int
	methods        string
	pushes         int
}

// perInterval is the requests per drift interval; perHour scales it to
// the default interval.
func (a apiResult) perInterval() float64 {
	return float64(a.bySrv1+a.bySrv2) * a.drift.Seconds() / a.window.Seconds()
}

func (a apiResult) perHour() float64 { return a.perInterval() * float64(time.Hour/defaultDrift) }

type procSnap struct {
	rss     [2]int64
	anon    [2]int64 // RssAnon: heap, stacks; the rest is mostly the binary's pages
	fds     [2]int
	threads [2]int
}

type trendPoint struct {
	after int
	snap  procSnap
}

type reconnectResult struct {
	n, warmup      int
	settle         time.Duration // before "before" and "after"
	fresh          procSnap      // linked 5 s, never cut
	before, after  procSnap      // after the warm-up cuts; after the n cuts
	trend          []trendPoint
	relink         []float64
	took           time.Duration
	writes, pushes int
	gc             [2]gcStats
}

func (r reconnectResult) growth(i int) int64 { return r.after.rss[i] - r.before.rss[i] }

// summary of a sample. p99 is the nearest rank: with fewer than 100
// values it is the largest.
type summary struct {
	n                     int
	median, p99, min, max float64
}

func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	rank := int(math.Ceil(0.99*float64(n))) - 1
	return summary{n: n, median: med, p99: s[rank], min: s[0], max: s[n-1]}
}

// dur formats seconds for a table.
func dur(s float64) string {
	switch a := math.Abs(s); {
	case a < 0.01:
		return fmt.Sprintf("%.2f ms", s*1e3)
	case a < 1:
		return fmt.Sprintf("%.0f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func signedMiB(b int64) string { return fmt.Sprintf("%+.2f MiB", float64(b)/(1<<20)) }

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// commas formats an integer with thousands separators.
func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *report) readiness() (server, client, linked []float64) {
	for _, x := range r.ready {
		server = append(server, x.serverHealthz.Seconds())
		client = append(client, x.clientHealthz.Seconds())
		linked = append(linked, x.clientLinked.Seconds())
	}
	return
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.opts

	p("# clooster benchmarks\n\n")
	p("Produced by\n\n```sh\n%s\n```\n\n", o.command)
	p("from the module's root, on Linux; `go run ./bench -quick` is a smoke test of a few minutes. Every figure below comes from that one run.\n\n")
	if o.quick {
		p("**-quick run: a smoke test with few trials and short windows; do not quote these figures.**\n\n")
	}
	p("Machine: %s, %d cores", r.mach.cpu, r.mach.cores)
	if r.mach.memory != "" {
		p(", %s RAM", r.mach.memory)
	}
	p("; %s; %s. The run took %s.\n\n", r.mach.kernel, r.mach.goVer, r.took.Round(time.Second))
	p("Everything runs on this one machine over loopback: the binary as shipped (`CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w\"`), " +
		"two `clooster` processes (srv1 the server and preferred node, srv2 the client), each with its own configuration file, " +
		"and the local stand-ins for the Cloudflare and Pushbullet APIs (`internal/fakecf`, `internal/fakepb`) served by the bench process. " +
		"Times to a record write are from the fault to the moment the stand-in received the write. " +
		"A real Cloudflare API adds its own latency to every figure that ends in a write: two round trips (a read, then the write).\n\n")

	// Timings.
	server, client, linked := r.readiness()
	cr, hd, hf, fb := summarize(r.crash), summarize(r.hangDefault), summarize(r.hangFast), summarize(r.failback)
	fa := summarize(r.failoverAPI)
	rs, rc, rl := summarize(server), summarize(client), summarize(linked)
	relink := summarize(r.reconn.relink)

	p("## Timings\n\n")
	p("p99 is the nearest rank: with fewer than 100 trials it is the slowest trial.\n\n")
	p("| figure | settings | trials | median | p99 | min | max | goal | |\n")
	p("|---|---|---:|---:|---:|---:|---:|---|:-:|\n")
	row := func(what, settings string, s summary, f func(float64) string, goal string, ok *bool) {
		m := ""
		if ok != nil {
			m = mark(*ok)
		}
		p("| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", what, settings, s.n, f(s.median), f(s.p99), f(s.min), f(s.max), goal, m)
	}
	okCrash, okHang, okFB := cr.p99 <= goalCrash, hd.p99 <= goalHang, fb.p99 <= goalFailback
	okCalls := fa.max <= goalFailoverCalls
	row("crash (kill -9) of the active node → record repointed", "defaults", cr, dur, "p99 ≤ 0.3 s", &okCrash)
	row("hang (SIGSTOP) of the active node → record repointed", "defaults: keepalive_interval 500ms, peer_timeout 2.5s", hd, dur, "p99 ≤ 3 s", &okHang)
	row("hang (SIGSTOP) of the active node → record repointed", "fastest safe settings: keepalive_interval 100ms, peer_timeout 800ms (faster than the loss-tested defaults)", hf, dur, "", nil)
	row("failback overhead: restarted primary's start → failback write, less failback_delay", "failback_delay 3s (short, for the bench), the rest defaults", fb, dur, "p99 ≤ 0.5 s", &okFB)
	row("API requests per failover, from the fault to the failover write inclusive", "crash and hang trials", fa, num, "≤ 2", &okCalls)
	okRS, okRC, okRL := rs.median <= goalReady, rc.median <= goalReady, rl.median <= goalReady
	row("start → status listener answers `GET /healthz` (srv1, server)", "defaults", rs, dur, "median ≤ 100 ms", &okRS)
	row("start → status listener answers `GET /healthz` (srv2, client)", "defaults", rc, dur, "median ≤ 100 ms", &okRC)
	row("start → linked (srv2's `/status` shows `peer.state` up; srv1 already running)", "defaults", rl, dur, "median ≤ 100 ms", &okRL)
	row("link cut (TCP proxy closes both sides) → both nodes count the new link", "defaults", relink, dur, "", nil)
	p("\n")

	// Resources.
	idle := r.idle
	api := r.api
	rr := r.reconn
	okPerHour := api.perHour() <= goalCallsPerHour
	okRSS := max(idle.snap.rss[0], idle.snap.rss[1]) <= goalRSS
	okGrowth := rr.growth(0) <= rssTolerance && rr.growth(1) <= rssTolerance
	okCPU := max(idle.cpu[0], idle.cpu[1]) <= goalCPU
	okBin := float64(r.binSize) <= goalBinary
	p("## Resources\n\n")
	p("MB are 10^6 bytes, MiB 2^20.\n\n")
	p("| figure | srv1 (server) | srv2 (client) | goal | |\n|---|---:|---:|---|:-:|\n")
	p("| API requests per hour, linked and idle, at `drift_check_interval` 5m (scaled from %v at %v; see below) | %s for the pair | | ≤ 12 | %s |\n",
		api.window.Round(time.Second), api.drift, num(math.Round(api.perHour()*10)/10), mark(okPerHour))
	p("| idle RSS (VmRSS), linked, %s after start | %s (%s; anon %s) | %s (%s; anon %s) | ≤ 15 MB | %s |\n",
		idle.age.Round(time.Second), mb(idle.snap.rss[0]), mib(idle.snap.rss[0]), mib(idle.snap.anon[0]),
		mb(idle.snap.rss[1]), mib(idle.snap.rss[1]), mib(idle.snap.anon[1]), mark(okRSS))
	stage := func(i int) string {
		return fmt.Sprintf("%s → %s → %s", mib(rr.fresh.rss[i]), mib(rr.before.rss[i]), mib(rr.after.rss[i]))
	}
	p("| RSS: linked 5 s → after %d warm-up link cuts (\"before\") → after %s more (\"after\") | %s | %s | | |\n",
		rr.warmup, commas(int64(rr.n)), stage(0), stage(1))
	growth := func(i int) string {
		return fmt.Sprintf("%s (anon %s)", signedMiB(rr.growth(i)), signedMiB(rr.after.anon[i]-rr.before.anon[i]))
	}
	p("| RSS growth over the %s reconnects (after the warm-up → after) | %s | %s | no growth (≤ %s) | %s |\n",
		commas(int64(rr.n)), growth(0), growth(1), signedMiB(rssTolerance), mark(okGrowth))
	p("| RSS after the %s reconnects | %s | %s | (idle goal ≤ 15 MB) | %s |\n",
		commas(int64(rr.n)), mb(rr.after.rss[0]), mb(rr.after.rss[1]), mark(max(rr.after.rss[0], rr.after.rss[1]) <= goalRSS))
	gcs := func(i int) string {
		g := rr.gc[i]
		mbs := func(v int) string {
			if v == 0 {
				return "< 1 MB"
			}
			return fmt.Sprintf("%d MB", v)
		}
		return fmt.Sprintf("first %s, max %s, last %s (%d collections)", mbs(g.first), mbs(g.max), mbs(g.last), g.n)
	}
	p("| live heap after each collection, whole test (`GODEBUG=gctrace=1`, whole MB) | %s | %s | | |\n", gcs(0), gcs(1))
	p("| open files, threads: after the warm-up → after the reconnects | %d → %d, %d → %d | %d → %d, %d → %d | | |\n",
		rr.before.fds[0], rr.after.fds[0], rr.before.threads[0], rr.after.threads[0],
		rr.before.fds[1], rr.after.fds[1], rr.before.threads[1], rr.after.threads[1])
	p("| idle CPU, utime+stime over %v, %% of one core | %.3f %% | %.3f %% | ≤ 0.2 %% | %s |\n",
		idle.window.Round(time.Second), idle.cpu[0], idle.cpu[1], mark(okCPU))
	p("| binary, static and stripped, %s | %s bytes (%.1f MiB) | same binary | ≤ 12 MB | %s |\n",
		r.mach.goVer[strings.IndexByte(r.mach.goVer, ' ')+1:], commas(r.binSize), float64(r.binSize)/(1<<20), mark(okBin))
	p("\n")

	// Goals.
	p("## Goals\n\n| goal | figure | |\n|---|---|:-:|\n")
	p("| crash → repointed, p99 ≤ 0.3 s | %s | %s |\n", dur(cr.p99), mark(okCrash))
	p("| hang → repointed at the defaults, p99 ≤ 3 s | %s | %s |\n", dur(hd.p99), mark(okHang))
	p("| failback overhead ≤ 0.5 s (p99) | %s (median %s) | %s |\n", dur(fb.p99), dur(fb.median), mark(okFB))
	p("| ≤ 2 API requests per failover | at most %s | %s |\n", num(fa.max), mark(okCalls))
	p("| ≤ 12 API requests per hour, idle | %s | %s |\n", num(math.Round(api.perHour()*10)/10), mark(okPerHour))
	p("| idle RSS ≤ 15 MB | %s | %s |\n", mb(max(idle.snap.rss[0], idle.snap.rss[1])), mark(okRSS))
	p("| no RSS growth after %s reconnects | %s / %s | %s |\n", commas(int64(rr.n)), growth(0), growth(1), mark(okGrowth))
	p("| idle CPU ≤ 0.2 %% of one core | %.3f %% | %s |\n", max(idle.cpu[0], idle.cpu[1]), mark(okCPU))
	p("| binary ≤ 12 MB | %s | %s |\n", mb(r.binSize), mark(okBin))
	p("| ready ≤ 100 ms (medians) | `/healthz` %s / %s, linked %s | %s |\n", dur(rs.median), dur(rc.median), dur(rl.median), mark(okRS && okRC && okRL))
	p("\n")

	// Method.
	p("## How each figure was taken\n\n")
	p("- **Crash, hang.** A fresh pair and fresh stand-ins per trial, so trials are independent. Once both nodes show the link up and have read the record, " +
		"the bench waits 0.5 s plus a random part of one keepalive interval (so that the fault falls at every phase of the keepalive cycle), " +
		"then sends SIGKILL or SIGSTOP to srv1, which the record points to. The figure ends at the stand-in's timestamp of srv2's write. " +
		"A stopped srv1 is killed after the trial.\n")
	if s := summarize(r.failbackLink); s.n > 0 {
		w := summarize(r.failbackWrite)
		p("- **Failback.** A pair with `failback_delay` 3s (instead of 30s, so that a trial takes seconds; the overhead does not depend on it). "+
			"srv1 is killed, srv2 takes the record, and 2 s later (srv2's redial backoff is at its cap of 500 ms by then, as after any real outage) srv1 is started again "+
			"from the same configuration. Overhead = (failback write − start) − 3 s. Where it goes: start → link up (srv1's `peer.since`) median %s, max %s, "+
			"which is mostly srv2's next redial; link up → write, less 3 s, median %s, max %s. "+
			"Requests from the restart to the failback write: median %s (srv1's start-up lookup of zone and record, then the failback read and write).\n",
			dur(s.median), dur(s.max), dur(w.median), dur(w.max), num(summarize(r.failbackAPI).median))
	}
	p("- **API requests per failover** count every request the Cloudflare stand-in received from the fault to the failover write, inclusive, in the %d crash and hang trials.\n",
		fa.n)
	p("- **API requests per hour.** A linked idle pair with `failback_delay` 3s and `drift_check_interval` %v, counted over %v once both nodes had passed their failback check: "+
		"srv1 made %d, srv2 %d (%s); %d pushes. That is %.2f requests per drift interval (a check runs up to half a keepalive interval after it is due, "+
		"so at %v slightly fewer than one per interval are seen), times 12 intervals per hour at the default 5m. "+
		"While linked only the failback owner (srv1) checks for drift; besides, each link-up costs one read (the failback check). "+
		"At the true defaults, the idle pair below made %d API requests and %d pushes during its %v CPU window.\n",
		api.drift, api.window.Round(time.Second), api.bySrv1, api.bySrv2, api.methods, api.pushes, api.perInterval(), api.drift,
		idle.api, idle.pushes, idle.window.Round(time.Second))
	p("- **Idle RSS and CPU.** A pair at the defaults, left linked until both had passed their failback check (30 s after the link), then 2 s more; " +
		"CPU is the growth of utime+stime in `/proc/PID/stat` (10 ms ticks) over the window, with the bench process asleep; RSS is `VmRSS` from `/proc/PID/status` at the window's end.")
	sec := idle.window.Seconds()
	var where []string
	for i, name := range []string{"srv1", "srv2"} {
		t := idle.tasks[i]
		where = append(where, fmt.Sprintf("%s %.3f %% with %.0f context switches/s, of which the runtime's sysmon thread %.3f %% and %.0f/s",
			name, 100*t.run.Seconds()/sec, float64(t.switches)/sec, 100*t.sysmon.Seconds()/sec, float64(t.sysmonSw)/sec))
	}
	p(" Where it goes, from the threads' `schedstat` (nanoseconds) and context switches over the same window: %s. "+
		"At the defaults each node sends and receives 2 keepalives a second (a TLS record each way), and its event loop turns on each one it receives "+
		"(and at least every 667 ms, a third of the freeze threshold); the Go runtime's own sysmon thread, which wakes whenever the process does, is a large share of what is left.\n", strings.Join(where, "; "))
	var trend []string
	for _, t := range rr.trend {
		trend = append(trend, fmt.Sprintf("%s: %s / %s", commas(int64(t.after)), mib(t.snap.rss[0]), mib(t.snap.rss[1])))
	}
	p("- **Reconnects.** srv2 dials a TCP proxy in the bench process instead of srv1. After the link is up and has settled 5 s, the proxy closes both sides of the connection, "+
		"and the bench waits until both nodes' `clooster_links_total` counts the new link. The first %d cuts are a warm-up: a link loss runs code a fresh node never ran "+
		"(the takeover, the record write, the push), and the pages of the binary it touches stay resident (RSS counts them; `RssAnon`, the heap and stacks, does not). "+
		"\"Before\" is taken %v after the warm-up, then come %s cuts in %s; RSS (srv1 / srv2) along the way: %s; \"after\" is taken %v after the last one. "+
		"%s"+
		"Each cut is a link loss to both nodes: during the %s cuts they made %d record writes and sent %d pushes.\n",
		rr.warmup, rr.settle, commas(int64(rr.n)), rr.took.Round(time.Second), strings.Join(trend, "; "), rr.settle, settled(rr.settle),
		commas(int64(rr.n)), rr.writes, rr.pushes)
	p("- **Ready.** srv1 is started and `/healthz` polled every millisecond until it answers; then srv2 is started, and its `/healthz` and `/status` polled likewise. " +
		"Taken at every start of a pair at the defaults (the idle pair, crash and hang trials).\n")
	p("- **Binary.** The size of the file the bench built and ran.\n\n")

	// Reference.
	p("## Published and reference figures (not measured here)\n\n")
	p("These are not our measurements: the original's come from its reference measurements (same kind of machine, a local stand-in for the Cloudflare API); " +
		"the others are the documented defaults of those services.\n\n")
	p("| | clooster, this run | original clooster 1.1.1 (reference) | Route 53 health checks (published) | Cloudflare LB monitors (published) | keepalived (published) |\n")
	p("|---|---|---|---|---|---|\n")
	p("| crash → record repointed | %s median, %s p99 | 0.17 s | 30 s × 3 failures ≈ 90 s; fast: 10 s × 3 ≈ 30 s | 60 s probe interval | ≈ 3.6 s, same subnet only (moves an address, not a DNS record) |\n", dur(cr.median), dur(cr.p99))
	p("| hang → record repointed | %s median, %s p99 (defaults) | 235 s (keepalive 60 s, watchdog 120 s) | same as crash | same as crash | same as crash |\n", dur(hd.median), dur(hd.p99))
	p("| primary restarted → record back | failback_delay + %s median | 110 s (client reconnects on the 120 s watchdog) | | | |\n", dur(fb.median))
	p("| resident memory per node | %s | 45 MB (Perl + Mojolicious) | | | |\n", mb(max(idle.snap.rss[0], idle.snap.rss[1])))
	p("\n")

	if r.sets != "" {
		p("%s\n", r.sets)
	}
	if r.goBench != "" {
		p("## Go micro-benchmarks\n\n")
		args := "-run XXX -bench . -benchmem"
		if o.quick {
			args += " -benchtime 200ms"
		}
		p("```sh\ngo test %s ./watchdog/\n```\n\n", args)
		p("`BenchmarkHandshake` runs both sides of the authenticator over an in-memory message pipe (channels and a goroutine per handshake, no TLS); " +
			"`BenchmarkKeepaliveDecode` is `decodeFrame` + `decodeKeepalive`; `BenchmarkMachineStep` is one `next` of a linked pair's state machine on a keepalive.\n\n")
		p("```\n%s```\n", r.goBench)
	}
	return b.String()
}

// settled explains the wait before the reconnect test's RSS figures.
func settled(d time.Duration) string {
	if d < 2*time.Minute {
		return fmt.Sprintf("The %v are shorter than the Go runtime's periodic forced collection (every 2 min) and than two of clooster's memory checks (every minute, which hand back free heap over 512 KiB): the figures may still hold heap that would be handed back. ", d)
	}
	return fmt.Sprintf("The %v let the Go runtime run its periodic forced collection (every 2 min) and clooster its memory check (every minute: free heap over 512 KiB is handed back to the system), so that both figures are settled. ", d)
}
