package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/clooster/clooster/internal/agree"
	"github.com/clooster/clooster/internal/backoff"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/health"
)

type procState int

const (
	procOff     procState = iota // not running: crashed, stopped, or its machine is off
	procRunning                  // running
	procFrozen                   // stopped by SIGSTOP
)

// redial is the client's backoff between failed dials (watchdog/client.go).
var redial = backoff.Policy{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}

// node is one server of the pair: its machine, its service, and the
// clooster process on it. The process is the real decision code
// (failover.Loop, failover.Job) with the glue of watchdog.Node.Run around
// it; what the daemon does with goroutines and sockets, the node does with
// the world's events.
type node struct {
	w     *World
	i     int
	name  string
	value string
	cfg   *failover.Config
	// listens: the server role (the link's listener); else it dials.
	listens bool
	// settings: what its configuration says of the pair, as its INFO
	// gives it (and as agree.Compare takes its own side).
	settings agree.Settings

	// The ground truth.
	machineUp bool
	offs      int       // the machine's power-offs
	offAt     time.Time // the last one
	serviceUp bool
	proc      procState
	inc       int // incarnation: each start of the process
	startedAt time.Time

	// The process.
	loop   *failover.Loop
	cur    *end
	ends   []*end
	ensure *simJob
	// writesOut: ensure jobs' writes sent and not yet answered; a new
	// ensure job reads only once there are none (watchdog's worker
	// waits for the cancelled job's write): waiting holds its start.
	writesOut int
	waiting   []func()
	timerGen  int
	inbox     []input // while frozen, what the process will see when it runs again
	mon       health.State
	monGen    int
	dialGen   int
	dialFail  int
	// The dialer's and the listener's judgment of their attempts
	// (watchdog's dialer.judge): a link since start; since when the
	// peer's port refuses connections; the kind last reported.
	restarting   bool // its stop is a restart (SIGUSR2), with a grace
	everLinked   bool
	refusedSince time.Time
	reported     string
	// What it last told its hooks: the record points here.
	active, activeKnown bool
}

// input is something a frozen process will find waiting when it runs
// again: a frame, an answer, a timer.
type input struct {
	src string
	fn  func()
}

// clock is the node's own clock.
func (n *node) clock() time.Time { return n.w.now.Add(n.w.sc.NodeSkew[n.i]) }

func (n *node) server() bool { return n.listens }

// input runs fn in process incarnation inc: now if it runs, when it runs
// again if frozen, never if that incarnation is gone.
func (n *node) input(inc int, fn func()) { n.inputFrom("", inc, fn) }

func (n *node) inputFrom(src string, inc int, fn func()) {
	if n.inc != inc || n.proc == procOff {
		return
	}
	if n.proc == procFrozen {
		n.inbox = append(n.inbox, input{src: src, fn: fn})
		return
	}
	fn()
}

// whenRunning runs fn once the process runs (now if it does).
func (n *node) whenRunning(fn func()) { n.inputFrom("listener", n.inc, fn) }

// start starts the process (a boot, or a restart by its supervisor).
func (n *node) start() {
	w := n.w
	if !n.machineUp || n.proc != procOff {
		return
	}
	n.inc++
	n.proc = procRunning
	n.startedAt = w.now
	n.cur, n.ends, n.ensure, n.inbox = nil, nil, nil, nil
	n.activeKnown = false
	n.restarting = false
	n.everLinked, n.refusedSince, n.reported = false, time.Time{}, ""
	w.truth.started(n)
	w.logf("%s: process starts", nodeName(n.i))
	n.loop = failover.NewLoop(n.cfg, n.clock())
	n.mon = health.State{Healthy: true}
	n.turn(failover.EvTick{At: n.clock()}) // its first turn asks for the lookup
	if h := w.sc.Health[n.i]; h != nil {
		n.monGen++
		gen, inc := n.monGen, n.inc
		w.after(0, func() { n.monitorTick(inc, gen) })
	}
	if !n.server() {
		n.dialGen++
		gen := n.dialGen
		w.after(0, func() { n.dial(n.inc, gen) })
	} else if w.nodes[1-n.i].listens {
		// A server looks at its peer's link port for a second server
		// (server.peer_address). With a peer that dials, nothing
		// listens there and the look finds nothing: only a pair of two
		// servers is simulated looking.
		n.lookAfter(n.inc, n.cfg.PeerTimeout)
	}
	w.truth.startedPair(n)
}

// turn is one turn of the loop on ev, as watchdog.Node.Run makes it:
// apply, carry out, poll the health, set the timer.
func (n *node) turn(ev failover.Event) {
	if n.w.trace.keep {
		if _, tick := ev.(failover.EvTick); !tick {
			n.w.logf("%s: < %T %+v", nodeName(n.i), ev, ev)
		}
	}
	acts, kick := n.loop.Apply(ev)
	n.carry(acts, kick)
	n.w.truth.turned(n, ev)
	if n.proc != procRunning {
		return // it exited
	}
	if n.w.sc.Health[n.i] != nil {
		acts, kick := n.loop.Health(n.clock(), n.mon.Healthy, n.mon.LastErr)
		n.carry(acts, kick)
		if n.proc != procRunning {
			return
		}
	}
	n.rearm()
}

func (n *node) rearm() {
	n.timerGen++
	gen, inc := n.timerGen, n.inc
	wake := n.loop.Wake().Sub(n.clock())
	if wake < 0 {
		// The daemon's timer would fire at once, again and again.
		n.w.fail("no busy loop", "%s asks to turn again %s in the past", nodeName(n.i), -wake)
	}
	n.w.after(max(wake, time.Millisecond), func() {
		n.inputFrom("timer", inc, func() {
			if n.timerGen == gen {
				n.turn(failover.EvTick{At: n.clock()})
			}
		})
	})
}

// carry carries out the machine's actions (watchdog.Node.Run's carry).
func (n *node) carry(acts []failover.Action, kick bool) {
	w := n.w
	w.truth.problemActs(n, acts)
	for _, a := range acts {
		switch a := a.(type) {
		case failover.ActClose:
			if n.cur != nil {
				n.drop(n.cur, byeTimeout)
				n.cur = nil
			}
		case failover.ActEnsure:
			if w.trace.keep {
				w.logf("%s: > %+v", nodeName(n.i), a)
			}
			n.cancelEnsure()
			n.runJob(failover.NewEnsure(a, w.rng.Int64N), a.Job, a.Purpose)
			if !a.Since.IsZero() && n.ensure != nil {
				n.ensure.since = a.Since.Add(-w.sc.NodeSkew[n.i])
			}
			if a.AlsoBase != "" && n.ensure != nil {
				n.ensure.alsoFrom, n.ensure.alsoUntil = a.AlsoFrom.Add(-w.sc.NodeSkew[n.i]), a.AlsoUntil.Add(-w.sc.NodeSkew[n.i])
			}
		case failover.ActCancel:
			n.cancelEnsure()
		case failover.ActRead:
			n.runJob(failover.NewRead(a, w.rng.Int64N), 0, 0)
		case failover.ActProbe:
			inc := n.inc
			w.net.probe(n.i, w.sc.ProbeTimeout, func(serving bool, detail string) {
				n.input(inc, func() { n.turn(failover.EvProbe{At: n.clock(), Serving: serving, Detail: detail}) })
			})
		case failover.ActNotify:
			w.logf("%s: alert %q", nodeName(n.i), a.Title)
			w.truth.notified(n, a)
		case failover.ActHook:
			w.logf("%s: hook %s %s", nodeName(n.i), a.Event, a.Content)
			switch a.Event {
			case failover.HookActive:
				n.active, n.activeKnown = true, true
			case failover.HookStandby:
				n.active, n.activeKnown = false, true
			}
		case failover.ActExit:
			n.exit()
			return
		case failover.ActLog:
			w.logf("%s: %s %s %v", nodeName(n.i), a.Event, a.Msg, a.Attrs)
		}
	}
	if kick && n.cur != nil {
		n.sendKeepalive(n.cur)
	}
}

// exit ends the process after its stop: Run's deferred close says goodbye
// on the link.
func (n *node) exit() {
	w := n.w
	w.logf("%s: process exits", nodeName(n.i))
	if n.cur != nil {
		bye := frame{kind: frBye, code: byeShutdown}
		if n.restarting {
			bye = frame{kind: frBye, code: byeRestart, grace: n.cfg.RestartGrace}
		}
		n.dropWith(n.cur, bye)
		n.cur = nil
	}
	n.kill(false)
	if w.tail {
		w.after(time.Second, n.start) // its supervisor starts it again
	}
}

// kill ends the process: its sockets close (with a FIN from its kernel,
// unless the machine is off), its goroutines and timers are gone.
func (n *node) kill(machineOff bool) {
	for _, e := range n.ends {
		if machineOff {
			e.open = false
		} else {
			n.w.net.close(e)
		}
		e.gone = true
	}
	n.ends, n.cur, n.ensure, n.inbox = nil, nil, nil, nil
	n.writesOut, n.waiting = 0, nil
	n.proc = procOff
	n.inc++ // whatever was in flight for the old process is dropped
	n.w.truth.exited(n)
}

// freeze and thaw are SIGSTOP and SIGCONT.
func (n *node) freeze() {
	if n.proc == procRunning {
		n.proc = procFrozen
		n.w.logf("%s: frozen", nodeName(n.i))
	}
}

func (n *node) thaw() {
	if n.proc != procFrozen {
		return
	}
	n.proc = procRunning
	n.w.logf("%s: runs again", nodeName(n.i))
	// The goroutines run again in no particular order; each source's own
	// inputs stay in order.
	inbox := n.inbox
	n.inbox = nil
	bySrc := map[string][]input{}
	var srcs []string
	for _, in := range inbox {
		if _, ok := bySrc[in.src]; !ok {
			srcs = append(srcs, in.src)
		}
		bySrc[in.src] = append(bySrc[in.src], in)
	}
	for len(srcs) > 0 {
		k := n.w.rng.IntN(len(srcs))
		q := bySrc[srcs[k]]
		in := q[0]
		if len(q) == 1 {
			srcs = append(srcs[:k], srcs[k+1:]...)
		} else {
			bySrc[srcs[k]] = q[1:]
		}
		if n.proc != procRunning {
			return
		}
		in.fn()
	}
}

// monitorTick is the health monitor's probe: every interval while the
// process runs.
func (n *node) monitorTick(inc, gen int) {
	h := n.w.sc.Health[n.i]
	n.inputFrom("monitor", inc, func() {
		if gen != n.monGen {
			return
		}
		var err error
		if !n.serviceUp {
			err = errors.New("connect: connection refused")
		}
		n.mon = health.Step(n.mon, err, n.clock(), h.Fall, h.Rise)
		n.w.truth.checked(n, err == nil)
		n.monGen++
		next := n.monGen
		n.w.after(h.Interval, func() { n.monitorTick(inc, next) })
	})
}

// dial is the client's dialer (watchdog/client.go): dial, and when the
// link is gone, dial again after a pause.
func (n *node) dial(inc, gen int) {
	w := n.w
	n.inputFrom("dialer", inc, func() {
		if gen != n.dialGen {
			return
		}
		w.net.dial(n, func(c *conn) {
			n.inputFrom("dialer", inc, func() {
				if gen != n.dialGen {
					return
				}
				n.dialFail = 0
				n.judge(nil)
				n.ends = append(n.ends, c.end[n.i])
				n.linked(c.end[n.i])
			})
		}, func(f dialFailure) {
			n.inputFrom("dialer", inc, func() {
				if gen != n.dialGen {
					return
				}
				n.dialFail++
				w.logf("%s: cannot reach peer: %s", nodeName(n.i), f.why)
				n.judge(&f)
				n.redialAfter(redial.Jittered(n.dialFail, w.rng.Int64N))
			})
		})
	})
}

func (n *node) redialAfter(d time.Duration) {
	n.dialGen++
	gen, inc := n.dialGen, n.inc
	n.w.after(d, func() { n.dial(inc, gen) })
}

// accepted is the listener handing over an authenticated connection.
func (n *node) accepted(e *end) {
	n.ends = append(n.ends, e)
	n.inputFrom("listener", e.inc, func() { n.linked(e) })
}

// linked makes e the node's link, replacing any other (Run's links case).
func (n *node) linked(e *end) {
	if !e.open {
		return
	}
	if n.cur != nil {
		n.drop(n.cur, byeReplaced)
	}
	n.cur, e.linkedAt = e, n.w.now
	n.everLinked = true
	n.w.truth.linkUp(n)
	n.w.logf("%s: linked (conn %d)", nodeName(n.i), e.c.id)
	n.startWriter(e)
	n.turn(failover.EvLinkUp{At: n.clock()})
	n.w.truth.authenticated(n)
	e.started = true
	early := e.early
	e.early = nil
	for _, f := range early {
		n.frame(e, f)
	}
}

// drop closes a link: a goodbye with code, then the socket.
func (n *node) drop(e *end, code byte) { n.dropWith(e, frame{kind: frBye, code: code}) }

// dropWith closes a link: the goodbye bye, then the socket.
func (n *node) dropWith(e *end, bye frame) {
	if e.open && !e.gone {
		n.w.net.send(e, bye)
	}
	e.gone = true
	n.w.net.close(e)
	if !n.server() && n.proc == procRunning {
		n.redialAfter(redial.Min) // the dialer sees the link gone
	}
}

// startWriter is the link's writer: the node's value, then a keepalive at
// once and then on its timer; the server answers every keepalive and
// sends on its own only after two silent intervals.
func (n *node) startWriter(e *end) {
	n.w.net.send(e, frame{kind: frInfo, value: n.value, settings: n.settings})
	n.sendKeepalive(e)
}

func (n *node) sendKeepalive(e *end) {
	if !e.open || e.gone {
		return
	}
	e.seq++
	f := frame{kind: frKeepalive, flags: n.loop.Flags(), sent: n.clock(), echo: e.lastPeerSent}
	if !f.echo.IsZero() {
		f.held = f.sent.Sub(e.lastPeerAt)
	}
	n.w.net.send(e, f)
	e.timerGen++
	gen, inc := e.timerGen, n.inc
	ka := n.w.sc.keepalive(n.i)
	d := 2 * ka
	if !n.server() {
		d = ka - time.Duration(n.w.rng.Int64N(int64(ka)*15/100+1))
	}
	n.w.after(d, func() {
		n.inputFrom("writer", inc, func() {
			if e.timerGen == gen {
				n.sendKeepalive(e)
			}
		})
	})
}

// frame is what the link's reader does with a frame, and what Run does
// with the event it reports.
func (n *node) frame(e *end, f frame) {
	n.inputFrom(fmt.Sprintf("reader %d", e.c.id), e.inc, func() {
		if e.gone {
			return
		}
		if !e.started {
			e.early = append(e.early, f)
			return
		}
		switch f.kind {
		case frKeepalive:
			e.lastPeerSent, e.lastPeerAt = f.sent, n.clock()
			if n.server() {
				n.sendKeepalive(e) // the server answers each keepalive
			}
			if e == n.cur {
				var sent time.Time // unknown: it echoes none of ours
				if !f.echo.IsZero() {
					sent = f.echo.Add(f.held)
				}
				// PeerClock: the sender's wall clock when it sent the frame.
				n.turn(failover.EvHeard{At: n.clock(), Sent: sent, Flags: f.flags, PeerClock: f.sent})
			}
		case frInfo:
			if e == n.cur {
				n.turn(failover.EvInfo{At: n.clock(), Value: f.value, Differences: agree.Compare(n.settings, f.settings)})
			}
		default:
			reason := "connection lost: closed by the far end"
			switch f.kind {
			case frBye:
				reason = fmt.Sprintf("peer closed the link: bye %d", f.code)
			case frReset:
				reason = "connection lost: connection reset by peer"
			}
			e.gone = true
			if e != n.cur {
				n.w.net.close(e)
				return
			}
			n.cur = nil
			n.drop(e, byeProtocol)
			ev := failover.EvLinkDown{At: n.clock(), Reason: reason, PeerAlive: f.code == byeTimeout || f.code == byeProtocol}
			if f.kind == frBye && f.code == byeRestart {
				ev.Restart = f.grace
				n.w.truth.restartHeard(n, f.grace)
			}
			n.turn(ev)
		}
	})
}

// simJob is a failover.Job carried out against the simulated API.
type simJob struct {
	n           *node
	inc         int
	j           *failover.Job
	id          uint64
	purpose     failover.Purpose
	cancelled   bool
	calls       int
	conflicts   int           // its conditional writes that lost
	readAt      time.Time     // true time of the last read's answer
	served      time.Time     // true time as of which it showed the record: when the API served it, or for a stale read just before the write it missed
	firstServed time.Time     // of the job's first read
	slowest     time.Duration // what the API's slow periods could add to one leg of its calls, at most
	began       time.Time
	onLink      bool      // decided while the node was linked
	knownAt     time.Time // true time as of which the node knew the record when it decided
	since       time.Time // true time of the job's Since: the link's last good moment; zero if none
	// alsoFrom, alsoUntil: true times of the window of the owner's
	// failback that the node judged due as the link broke (ActEnsure's
	// AlsoFrom, AlsoUntil); zero if none.
	alsoFrom, alsoUntil time.Time
}

func (n *node) cancelEnsure() {
	if n.ensure != nil {
		n.ensure.cancelled = true
		n.ensure = nil
	}
}

// runJob carries out j (watchdog's worker.run).
func (n *node) runJob(j *failover.Job, id uint64, p failover.Purpose) {
	v := n.loop.S.View(n.cfg)
	sj := &simJob{n: n, inc: n.inc, j: j, id: id, purpose: p, began: n.w.now, onLink: v.Linked, knownAt: v.RecordAt.Add(-n.w.sc.NodeSkew[n.i])}
	if id != 0 {
		n.ensure = sj
		if n.writesOut > 0 {
			// A cancelled job's write is under way: read once it has its
			// answer (a job cancelled meanwhile never starts).
			n.waiting = append(n.waiting, func() {
				if !sj.cancelled {
					sj.step(j.Start())
				}
			})
			return
		}
	}
	sj.step(j.Start())
}

// wroteOut ends an ensure job's write under way, and starts the jobs that
// waited for it.
func (n *node) wroteOut() {
	if n.writesOut--; n.writesOut > 0 {
		return
	}
	waiting := n.waiting
	n.waiting = nil
	for _, f := range waiting {
		f()
	}
}

// mayWrite is the worker's permission to write content: the loop's latest
// word, and for this node's own value the health monitor's verdict right
// now (a check can fail between two turns of the loop).
func (n *node) mayWrite(content string) bool {
	if !n.loop.MayWrite(content) {
		return false
	}
	return content != n.value || n.w.sc.Health[n.i] == nil || n.mon.Healthy && n.mon.LastErr == ""
}

// step carries out st (watchdog's worker.run): a cancelled job stops at
// its next step, but a write under way is carried through and reported.
func (sj *simJob) step(st failover.Step) {
	n, w := sj.n, sj.n.w
	src := fmt.Sprintf("job %p", sj)
	if st.Report != nil {
		rep := st.Report
		w.after(0, func() { n.inputFrom("results", sj.inc, func() { n.turn(rep) }) })
	}
	if sj.cancelled {
		return
	}
	switch st.Op {
	case failover.OpRead:
		asked, askedAt := n.clock(), w.now
		w.dns.request(n, sj, false, "", "", func(rec failover.Record, err error) {
			if sj.cancelled {
				return
			}
			if err == nil {
				w.truth.read(n, askedAt)
				sj.readAt, sj.served = w.now, w.dns.lastServed
				if sj.firstServed.IsZero() {
					sj.firstServed = sj.served
				}
			}
			if w.trace.keep {
				w.logf("%s: job %d read %+v %v", nodeName(n.i), sj.id, rec, err)
			}
			sj.step(sj.j.Read(asked, n.clock(), rec, err))
		})
	case failover.OpWrite:
		if st = sj.j.Go(n.clock(), n.mayWrite(st.Content)); st.Op != failover.OpWrite {
			sj.step(st)
			return
		}
		// The report goes to the loop first; once it has taken it, the
		// worker asks again and writes (whatever reached the loop
		// first, a cancel say, counts).
		rep, content := st.Report, st.Content
		w.after(0, func() {
			n.inputFrom("results", sj.inc, func() {
				n.turn(rep)
				if n.proc != procRunning {
					return
				}
				if st := sj.j.Go(n.clock(), !sj.cancelled && n.mayWrite(content)); st.Op != failover.OpWrite {
					sj.step(st) // a refusal is reported, cancelled or not, as the worker does
					return
				}
				w.truth.writing(n, sj, content)
				if sj.id != 0 {
					n.writesOut++
				}
				inc := n.inc
				w.dns.request(n, sj, true, content, st.If, func(_ failover.Record, err error) {
					sj.step(sj.j.Wrote(n.clock(), err))
					if sj.id != 0 && n.inc == inc {
						n.wroteOut()
					}
				})
			})
		})
	case failover.OpDone:
		w.truth.jobDone(sj)
	case failover.OpWait:
		w.after(st.Wait, func() {
			n.inputFrom(src, sj.inc, func() {
				if !sj.cancelled {
					sj.step(sj.j.Waited())
				}
			})
		})
	}
}
