package watchdog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// A link is one authenticated connection to the peer. It owns two
// goroutines: a reader that reports every frame to the node, and a writer
// that sends keepalives. The client's writer sends on a jittered ticker;
// the server's answers each keepalive it receives at once, and sends on its
// own only after two intervals without one, so that each node wakes once
// per interval rather than twice. close stops both and waits. A reload
// changes the interval, the deadline and the INFO of a link under way
// (retime, resend): the link is not dropped for it.
type link struct {
	ws       *websocket.Conn
	remote   string
	interval atomic.Int64     // keepalive period, nanoseconds
	timeout  atomic.Int64     // write deadline for one frame, nanoseconds
	flags    func() byte      // keepalive flags, read at every send
	value    info             // this node's record value and set, sent in an INFO frame at the start
	infoC    chan info        // an INFO to send again (a reload); the latest replaces one not yet sent
	kickC    chan struct{}    // a keepalive now, for a change of flags or an answer
	answer   bool             // the server's side: answer each keepalive
	clock    func() time.Time // the wall clock the keepalives carry

	lastSent atomic.Int64 // Sent of the last keepalive heard from the peer
	lastAt   atomic.Int64 // our monotonic time when we heard it

	cancel context.CancelFunc
	wg     sync.WaitGroup
	wdone  chan struct{} // closed when the writer has stopped
	rdone  chan struct{} // closed when the reader has stopped
	byeMu  sync.Mutex
	bye    bye // what the writer says when it stops
	once   sync.Once
}

// linkEvent is what a link reports to the node loop.
type linkEvent struct {
	link   *link
	at     time.Time
	closed bool   // the link is gone; reason says why
	reason string // for closed
	bye    byte   // for closed: the code of the peer's BYE, 0 if none
	// restart: for a BYE(restart), the grace the peer asks for
	restart time.Duration
	rtt     time.Duration // for a keepalive that echoed ours; 0 if unknown
	flags   byte
	clock   time.Time // for a keepalive: the peer's wall clock when it sent it; zero if unknown
	info    info      // the peer's settings, from its INFO frame
	isInfo  bool
}

// processStart anchors monotonic timestamps on the wire.
var processStart = time.Now()

func monoNow() int64 { return int64(time.Since(processStart)) }

func newLink(ws *websocket.Conn, remote string, interval, timeout time.Duration, flags func() byte, value info, answer bool) *link {
	ws.SetReadLimit(maxFrameSize)
	l := &link{
		answer: answer,
		clock:  time.Now,
		ws:     ws,
		remote: remote,
		flags:  flags,
		value:  value,
		infoC:  make(chan info, 1),
		kickC:  make(chan struct{}, 1),
		wdone:  make(chan struct{}),
		rdone:  make(chan struct{}),
	}
	l.retime(interval, timeout)
	return l
}

// retime sets the keepalive interval and the write deadline, from the
// next keepalive on. Safe from any goroutine.
func (l *link) retime(interval, timeout time.Duration) {
	l.interval.Store(int64(interval))
	l.timeout.Store(int64(timeout))
}

// resend sends i, this node's INFO as a reload made it, on the link under
// way; an INFO not yet sent is replaced. It never blocks.
func (l *link) resend(i info) {
	for {
		select {
		case l.infoC <- i:
			return
		default:
		}
		select {
		case <-l.infoC:
		default:
		}
	}
}

func (l *link) keepaliveInterval() time.Duration { return time.Duration(l.interval.Load()) }
func (l *link) writeTimeout() time.Duration      { return time.Duration(l.timeout.Load()) }

// start runs the reader and the writer until close. Events go to out; the
// link never blocks on out once ctx is done.
func (l *link) start(ctx context.Context, out chan<- linkEvent) {
	ctx, l.cancel = context.WithCancel(ctx)
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		defer close(l.wdone)
		l.writeLoop(ctx)
	}()
	go func() {
		defer l.wg.Done()
		defer close(l.rdone)
		reason, y := l.readLoop(ctx, out)
		// Whatever ended the reading ends the link: stop the writer too.
		l.cancel()
		ev := linkEvent{link: l, at: time.Now(), closed: true, reason: reason, bye: y.Code, restart: y.Restart}
		select {
		case out <- ev:
		case <-ctx.Done():
			// The owner is stopping or has already dropped this link;
			// still try to deliver without blocking it.
			select {
			case out <- ev:
			default:
			}
		}
	}()
}

// kick makes the writer send a keepalive now (flags changed). It never
// blocks.
func (l *link) kick() {
	select {
	case l.kickC <- struct{}{}:
	default:
	}
}

// gone is closed once the link can no longer carry frames.
func (l *link) gone() <-chan struct{} { return l.rdone }

// close says bye with the given code, closes the connection and waits for
// both goroutines. It is safe to call more than once and from any goroutine
// but the link's own.
func (l *link) close(code byte, reason string) {
	l.closeWith(bye{Code: code, Reason: reason})
}

// closeWith is close with a BYE of any kind (a restart's carries its grace).
func (l *link) closeWith(y bye) {
	l.once.Do(func() {
		l.byeMu.Lock()
		l.bye = y
		l.byeMu.Unlock()
		if l.cancel == nil { // never started
			l.ws.Close()
			close(l.rdone)
			return
		}
		l.cancel()
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-l.wdone:
		case <-t.C:
		}
		t.Stop()
		l.ws.NetConn().Close()
	})
	l.wg.Wait()
}

func (l *link) writeLoop(ctx context.Context) {
	var seq uint64
	t := time.NewTimer(0) // the first keepalive goes out at once
	defer t.Stop()
	{
		l.ws.SetWriteDeadline(time.Now().Add(l.writeTimeout()))
		if err := l.ws.WriteMessage(websocket.BinaryMessage, l.value.encode()); err != nil {
			l.ws.NetConn().Close()
		}
	}
	for {
		select {
		case i := <-l.infoC:
			l.ws.SetWriteDeadline(time.Now().Add(l.writeTimeout()))
			if err := l.ws.WriteMessage(websocket.BinaryMessage, i.encode()); err != nil {
				l.ws.NetConn().Close()
				<-ctx.Done()
			}
			continue
		case <-l.kickC:
		case <-t.C:
		case <-ctx.Done():
			l.byeMu.Lock()
			y := l.bye
			l.byeMu.Unlock()
			if y.Code == 0 {
				y = bye{Code: byeShutdown, Reason: "closing"}
			}
			l.ws.SetWriteDeadline(time.Now().Add(250 * time.Millisecond))
			l.ws.WriteMessage(websocket.BinaryMessage, y.encode())
			l.ws.Close()
			return
		}
		if l.answer {
			t.Reset(2 * l.keepaliveInterval()) // on our own only if the peer falls silent
		} else {
			t.Reset(jitter(l.keepaliveInterval()))
		}
		seq++
		k := keepalive{Seq: seq, Sent: monoNow(), Clock: l.clock().UnixNano(), Flags: l.flags()}
		if s := l.lastSent.Load(); s != 0 {
			k.Echo = s
			k.Held = k.Sent - l.lastAt.Load()
		}
		l.ws.SetWriteDeadline(time.Now().Add(l.writeTimeout()))
		if err := l.ws.WriteMessage(websocket.BinaryMessage, k.encode()); err != nil {
			// The reader sees the broken connection and reports it.
			l.ws.NetConn().Close()
			<-ctx.Done()
		}
	}
}

// jitter returns d shortened by up to 15 %, so that the two sides never
// synchronise and the period never exceeds what was configured.
func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)*15/100+1))
}

// readLoop reports every frame until the connection fails; it returns why,
// and the code of the peer's BYE if that was it.
func (l *link) readLoop(ctx context.Context, out chan<- linkEvent) (string, bye) {
	for {
		mt, b, err := l.ws.ReadMessage()
		if err != nil {
			return closeReason(err), bye{}
		}
		if mt != websocket.BinaryMessage {
			return "protocol error: text message", bye{}
		}
		t, p, err := decodeFrame(b)
		if err != nil {
			return "protocol error: " + err.Error(), bye{}
		}
		ev := linkEvent{link: l}
		switch t {
		case frameKeepalive:
			k, err := decodeKeepalive(p)
			if err != nil {
				return "protocol error: keepalive: " + err.Error(), bye{}
			}
			now := monoNow()
			l.lastSent.Store(k.Sent)
			l.lastAt.Store(now)
			if k.Echo != 0 {
				if rtt := time.Duration(now - k.Echo - k.Held); rtt > 0 {
					ev.rtt = rtt
				}
			}
			ev.flags = k.Flags
			if k.Clock != 0 {
				ev.clock = time.Unix(0, k.Clock)
			}
			if l.answer {
				l.kick()
			}
		case frameInfo:
			i, err := decodeInfo(p)
			if err != nil {
				return "protocol error: info: " + err.Error(), bye{}
			}
			ev.info, ev.isInfo = i, true
		case frameBye:
			y, err := decodeBye(p)
			if err != nil {
				return "protocol error: bye: " + err.Error(), bye{}
			}
			return "peer closed the link: " + y.Reason, y
		case frameHello, frameProof:
			return fmt.Sprintf("protocol error: unexpected frame type %d", t), bye{}
		default:
			continue // a frame of a later version of this protocol: not for us
		}
		ev.at = time.Now()
		select {
		case out <- ev:
		case <-ctx.Done():
			return "closed", bye{}
		}
	}
}

// closeReason turns a read error into a short operator-facing reason.
func closeReason(err error) string {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("peer closed the websocket (%d)", ce.Code)
	case errors.Is(err, net.ErrClosed):
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "write timeout"
	case errors.Is(err, websocket.ErrReadLimit):
		return "protocol error: frame too long"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection lost: closed by the far end"
	}
	return "connection lost: " + shortErr(err)
}
