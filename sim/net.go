package sim

import (
	"time"

	"github.com/clooster/clooster/internal/agree"
	"github.com/clooster/clooster/internal/failover"
)

// Bye codes, as on the wire (watchdog/frame.go).
const (
	byeShutdown byte = 1
	byeReplaced byte = 2
	byeTimeout  byte = 3
	byeProtocol byte = 4
	byeRestart  byte = 6
)

// handshakeTimeout bounds a dial's TCP, TLS and authentication, as in
// watchdog.
const handshakeTimeout = 5 * time.Second

// rto is the first retransmission timeout of a lost segment; the link's
// sockets use thin-stream linear timeouts, so it stays this long for the
// first retransmissions.
const rto = 200 * time.Millisecond

type frameKind int

const (
	frKeepalive frameKind = iota
	frInfo
	frBye
	frEOF   // the far end's socket closed (its FIN)
	frReset // the far end's kernel refused the stream (RST)
)

// frame is one websocket message, or the end of the TCP stream.
type frame struct {
	kind  frameKind
	flags byte
	sent  time.Time     // keepalive: the sender's clock when sent
	echo  time.Time     // keepalive: the sent of the last keepalive the sender had from the receiver
	held  time.Duration // keepalive: how long the sender had held that one
	value string        // info
	code  byte          // bye
	grace time.Duration // bye of a restart: the grace it asks for
	// info: what the sender's configuration says of the pair (its INFO).
	settings agree.Settings
}

// network is the path between the two nodes (the link) and from each node
// to the other's public service (peer_check). Counters let faults overlap.
type network struct {
	w        *World
	cut      [2]int // cut[i]: frames from node i to the other are dropped
	loss     []float64
	slow     []time.Duration
	slowTail time.Time // a frame sent in a slow period that ended may arrive until then
	probeCut [2]int    // node i cannot reach the other's service
	conns    []*conn
	nextID   int
}

// conn is one TCP connection of the link; end[i] is node i's side.
type conn struct {
	id  int
	end [2]*end
}

// end is one node's side of a connection: its socket, the link's reader
// and writer on it.
type end struct {
	c    *conn
	i    int // whose side: the node's index
	inc  int // the node's incarnation that owns it
	open bool
	gone bool // the reader has stopped: the link is over for this side
	// Before the node's loop takes the link, its frames wait in the
	// socket, as they do before the daemon starts the link's reader.
	started  bool
	early    []frame
	linkedAt time.Time // when the node's loop took it

	// Sending to the other side: in order, held while the way is cut.
	lastDeliver time.Time
	held        []frame
	stranded    bool // a frame's last try never left: its machine went off first

	// The link's writer.
	seq          uint64
	lastPeerSent time.Time // the sent of the last keepalive received, echoed back
	lastPeerAt   time.Time // when it was received, on this node's clock
	timerGen     int
}

func (c *conn) other(e *end) *end { return c.end[1-e.i] }

func (nw *network) cutWay(i int) bool { return nw.cut[i] > 0 }

// oneWay is a one-way delay of a frame sent now, with the retransmissions
// that loss costs.
func (nw *network) oneWay() time.Duration {
	d, _ := nw.delay()
	return d
}

// delay is a one-way delay of a frame sent now and, of it, the
// retransmissions' share: the last try leaves the sender that long after
// the first.
func (nw *network) delay() (d, retries time.Duration) {
	w := nw.w
	d = w.sc.NetDelay + w.uniform(0, w.sc.NetJitter)
	for _, s := range nw.slow {
		d += w.uniform(0, s)
	}
	p := 0.0
	for _, l := range nw.loss {
		p = max(p, l)
	}
	wait := rto
	for i := 0; p > 0 && w.chance(p); i++ {
		d += wait
		retries += wait
		if i >= 6 {
			wait *= 2 // past the thin-stream retransmissions
		}
	}
	return d, retries
}

// slowFor is the most extra delay, beyond the link's own, that a frame
// sent now may take: that of the slow periods in force, or, on a stream
// that delivers in order, that of a frame sent in a period that has ended
// and still ahead of it.
func (nw *network) slowFor() time.Duration {
	var d time.Duration
	for _, s := range nw.slow {
		d += s
	}
	return max(d, nw.slowTail.Sub(nw.w.now))
}

// endSlow ends the oldest slow period; frames sent in it may still arrive
// up to its extra delay later.
func (nw *network) endSlow() {
	if t := nw.w.now.Add(nw.slowFor()); t.After(nw.slowTail) {
		nw.slowTail = t
	}
	nw.slow = nw.slow[1:]
}

// send puts f on e's way to the other side.
func (nw *network) send(e *end, f frame) {
	if !nw.w.nodes[e.i].machineUp {
		return
	}
	if nw.cutWay(e.i) {
		e.held = append(e.held, f)
		return
	}
	d, retries := nw.delay()
	nw.transmit(e, f, nw.w.now.Add(d), nw.w.now.Add(retries))
}

// transmit delivers f at at, its last try having left the sender at
// lastTry. A machine that goes off before that try never makes it: the
// frame is lost, and with it, the stream being in order, every frame
// after it on that way.
func (nw *network) transmit(e *end, f frame, at, lastTry time.Time) {
	if !at.After(e.lastDeliver) {
		at = e.lastDeliver.Add(time.Microsecond)
	}
	e.lastDeliver = at
	to := e.c.other(e)
	from := nw.w.nodes[e.i]
	offs := from.offs
	nw.w.at(at, func() {
		if from.offs != offs && !from.offAt.After(lastTry) {
			e.stranded = true
		}
		if !e.stranded {
			nw.arrive(to, e, f)
		}
	})
}

// heal releases what was held on way i once it is open again.
func (nw *network) heal(i int) {
	if nw.cutWay(i) {
		return
	}
	for _, c := range nw.conns {
		e := c.end[i]
		held := e.held
		e.held = nil
		for _, f := range held {
			pause := nw.w.uniform(0, rto)
			d, retries := nw.delay()
			nw.transmit(e, f, nw.w.now.Add(pause+d), nw.w.now.Add(pause+retries))
		}
	}
}

// arrive hands f to the receiving side, or refuses it as its kernel would.
func (nw *network) arrive(to, from *end, f frame) {
	n := nw.w.nodes[to.i]
	if !n.machineUp {
		return // nobody answers
	}
	if !to.open {
		if f.kind != frReset && f.kind != frEOF && from.open {
			// A closed socket answers data with a reset.
			nw.send(to, frame{kind: frReset})
		}
		return
	}
	n.frame(to, f)
}

// close closes e's socket: with a FIN that ends the far side's stream
// (after what was sent before), unless the machine is off.
func (nw *network) close(e *end) {
	if !e.open {
		return
	}
	e.open = false
	nw.send(e, frame{kind: frEOF})
	nw.prune()
}

// prune forgets connections closed on both sides.
func (nw *network) prune() {
	live := nw.conns[:0]
	for _, c := range nw.conns {
		if c.end[0].open || c.end[1].open || len(c.end[0].held) > 0 || len(c.end[1].held) > 0 {
			live = append(live, c)
		}
	}
	for i := len(live); i < len(nw.conns); i++ {
		nw.conns[i] = nil
	}
	nw.conns = live
}

// resetAll resets every connection, as a middlebox would.
func (nw *network) resetAll() {
	for _, c := range nw.conns {
		for _, e := range c.end {
			if e.open {
				e.held = nil
				nw.w.nodes[e.i].frame(e, frame{kind: frReset})
			}
		}
	}
}

// dialFailure is why a dial failed, as the dialer judges it.
type dialFailure struct {
	why     string
	refused bool // the peer's port refused the connection: nothing listens there
	// kind: the server refused the handshake, and said why (a problem of
	// this kind, what it found).
	kind, what string
}

// dial is the client's attempt to reach the peer: TCP, TLS and the
// handshake, all within handshakeTimeout. ok is called with the new
// connection once the client's side is linked, or fail with why not.
func (nw *network) dial(client *node, ok func(*conn), fail func(dialFailure)) {
	w := nw.w
	server := w.nodes[1-client.i]
	settled := false
	finish := func(fn func()) {
		if !settled {
			settled = true
			fn()
		}
	}
	w.after(handshakeTimeout, func() { finish(func() { fail(dialFailure{why: "handshake: i/o timeout"}) }) })
	rtt := func() time.Duration { return nw.oneWay() + nw.oneWay() }
	switch {
	case nw.cutWay(0) || nw.cutWay(1) || !server.machineUp:
		return // nothing answers: the timeout above
	case server.proc == procOff || !server.listens:
		w.after(rtt(), func() { finish(func() { fail(dialFailure{why: "dial: connection refused", refused: true}) }) })
		return
	}
	// TLS and the handshake take three round trips; the server's loop
	// takes the link when its side is done, the client's half a round trip
	// later. A frozen server answers only once it runs again.
	var step func()
	step = func() {
		switch {
		case settled:
		case nw.cutWay(0) || nw.cutWay(1) || !server.machineUp || server.proc == procOff:
			// the handshake stalls: the timeout above
		case server.proc == procFrozen:
			server.whenRunning(func() { w.after(rtt(), step) })
		case w.sc.Mismatch.refused() != "":
			// The server refuses the client's handshake, reports why,
			// and tells the client (BYE refused), which reports it too.
			settled = true
			kind := w.sc.Mismatch.refused()
			server.refusal(kind, refusalText(kind, true))
			w.after(nw.oneWay(), func() {
				fail(dialFailure{why: "handshake refused: " + kind, kind: kind, what: refusalText(kind, false)})
			})
		default:
			settled = true
			nw.nextID++
			c := &conn{id: nw.nextID}
			c.end[server.i] = &end{c: c, i: server.i, inc: server.inc, open: true}
			c.end[client.i] = &end{c: c, i: client.i, inc: client.inc, open: true}
			nw.conns = append(nw.conns, c)
			server.accepted(c.end[server.i])
			w.after(nw.oneWay(), func() {
				if c.end[client.i].open {
					ok(c)
				}
			})
		}
	}
	w.after(rtt()+rtt()+rtt(), step)
}

// lookForServer is a server's look, with no link since its start, for a
// peer that listens as a server too: it dials the peer's link port and
// says hello as a server; the peer's listener refuses it (both servers),
// reports that, and tells it why, and it reports that too. cb is called
// with whether the peer answered.
func (nw *network) lookForServer(from *node, cb func(answered bool)) {
	w := nw.w
	peer := w.nodes[1-from.i]
	rtt := func() time.Duration { return nw.oneWay() + nw.oneWay() }
	if nw.cutWay(0) || nw.cutWay(1) || !peer.machineUp || peer.proc != procRunning || !peer.listens {
		// Refused, or no answer within the handshake's timeout, or a
		// frozen peer that answers too late: nothing to report.
		w.after(handshakeTimeout, func() { cb(false) })
		return
	}
	w.after(rtt()+rtt()+rtt(), func() {
		if nw.cutWay(0) || nw.cutWay(1) || !peer.machineUp || peer.proc != procRunning {
			w.after(handshakeTimeout, func() { cb(false) })
			return
		}
		peer.refusal(failover.ProblemRole, "the peer says hello as a server: both nodes are servers")
		w.after(nw.oneWay(), func() { cb(true) })
	})
}

// probe is node i's peer_check: does the other node's service answer from
// outside? It calls back after the probe's time.
func (nw *network) probe(i int, timeout time.Duration, cb func(serving bool, detail string)) {
	w := nw.w
	peer := w.nodes[1-i]
	switch {
	case nw.probeCut[i] > 0 || !peer.machineUp:
		w.after(timeout, func() { cb(false, "dial tcp: i/o timeout") })
	case !peer.serviceUp:
		w.after(nw.w.uniform(time.Millisecond, 30*time.Millisecond), func() { cb(false, "connect: connection refused") })
	default:
		w.after(nw.w.uniform(time.Millisecond, 50*time.Millisecond), func() { cb(true, "answers") })
	}
}
