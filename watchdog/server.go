package watchdog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clooster/clooster/internal/backoff"
)

// handshakeTimeout bounds everything between the TCP accept (or dial) and an
// authenticated link: TLS, the websocket upgrade and our handshake.
const handshakeTimeout = 5 * time.Second

// acceptRetry paces accepts that fail for want of resources.
var acceptRetry = backoff.Policy{Min: 5 * time.Millisecond, Max: time.Second}

// listener accepts the peer's connections. Each accepted connection gets
// handshakeTimeout to authenticate, whatever stage it stalls in; failures are
// logged as "rejected peer <ip>: <reason>" and rate-limited per address. A
// rejected connection never reaches the node, so it cannot disturb the link.
type listener struct {
	ln      net.Listener
	tls     *tls.Config
	auth    *authenticator
	log     *slog.Logger
	limit   *limiter
	newLink func(ws *websocket.Conn, remote string) *link
	reject  func(addr, reason string) // counts rejections (metrics); may be nil
	// problem reports a handshake that failed because the two nodes'
	// configurations disagree; may be nil. It must not block.
	problem func(r *refusal, addr string)

	out chan<- *link
	ctx context.Context
	wg  sync.WaitGroup
}

// run serves until ctx ends, then closes the listener and waits for every
// connection goroutine it started.
func (s *listener) run(ctx context.Context, out chan<- *link) error {
	s.out, s.ctx = out, ctx
	conns := newChanListener(s.ln.Addr())
	up := &websocket.Upgrader{
		HandshakeTimeout: handshakeTimeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		// No browser has business here.
		CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			http.Error(w, http.StatusText(status), status)
		},
	}
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.upgrade(up, w, r) }),
		ReadHeaderTimeout: handshakeTimeout,
		MaxHeaderBytes:    4096,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				if g, ok := tc.NetConn().(*guardConn); ok {
					return context.WithValue(ctx, guardKey{}, g)
				}
			}
			return ctx
		},
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		hs.Serve(conns) // returns when conns is closed
	}()
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()

	failures := 0
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors and the like: wait and retry.
				failures++
				delay := acceptRetry.Delay(failures)
				s.log.Warn("accept failed; retrying", "error", err, "delay", delay)
				sleepCtx(ctx, delay)
				continue
			}
			conns.close()
			hs.Close()
			s.wg.Wait()
			return fmt.Errorf("accept: %w", err)
		}
		failures = 0
		s.admit(c, conns)
	}
	conns.close()
	hs.Close() // closes connections still in their handshake; hijacked ones are the node's
	s.wg.Wait()
	return nil
}

// admit applies the limits and starts the TLS handshake of one connection.
func (s *listener) admit(c net.Conn, conns *chanListener) {
	addr := hostOf(c.RemoteAddr())
	ok, why, logIt, suppressed := s.limit.admit(addr)
	if !ok {
		c.Close()
		if s.reject != nil {
			s.reject(addr, why)
		}
		if logIt {
			s.log.Warn(fmt.Sprintf("rejected peer %s: %s", addr, why), "peer", addr, "reason", why, "suppressed", suppressed)
		}
		return
	}
	if err := tuneConn(c); err != nil {
		s.log.Debug("cannot tune the link's TCP socket", "error", err)
	}
	g := &guardConn{Conn: c, addr: addr}
	g.onEnd = func(reason string) {
		ok := reason == ""
		s.limit.done(addr, ok)
		if !ok {
			if s.reject != nil {
				s.reject(addr, reason)
			}
			s.log.Warn(fmt.Sprintf("rejected peer %s: %s", addr, reason), "peer", addr, "reason", reason)
		}
	}
	g.mu.Lock()
	g.timer = time.AfterFunc(handshakeTimeout, func() { g.fail("handshake timeout") })
	g.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tc := tls.Server(g, s.tls)
		ctx, cancel := context.WithTimeout(s.ctx, handshakeTimeout)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			g.fail("tls handshake: " + shortErr(err))
			return
		}
		if !conns.deliver(tc) {
			g.fail("shutting down")
		}
	}()
}

// upgrade runs in the HTTP server's goroutine for the connection: websocket
// upgrade, then our handshake, then the link goes to the node.
func (s *listener) upgrade(up *websocket.Upgrader, w http.ResponseWriter, r *http.Request) {
	g, _ := r.Context().Value(guardKey{}).(*guardConn)
	if g == nil || r.TLS == nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		g.fail("websocket upgrade: unknown path")
		return
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		g.fail("websocket upgrade: " + shortErr(err))
		return
	}
	cb, err := channelBinding(*r.TLS)
	if err == nil {
		err = s.auth.server(ws, cb)
	}
	if errors.Is(err, errSelfProbe) {
		g.succeed() // this node's own look for a second server: not a failure
		ws.Close()
		return
	}
	if err != nil {
		reason := shortErr(err)
		if errors.Is(err, errBadProof) {
			reason = errBadProof.Error() // the words fail2ban's filter knows
		}
		g.fail(reason)
		if r, ok := errors.AsType[*refusal](err); ok && s.problem != nil {
			s.problem(r, g.addr)
		}
		ws.Close()
		return
	}
	if !g.succeed() { // the deadline won the race
		ws.Close()
		return
	}
	ws.NetConn().SetDeadline(time.Time{})
	l := s.newLink(ws, g.addr)
	select {
	case s.out <- l:
	case <-s.ctx.Done():
		l.close(byeShutdown, "shutting down")
	}
}

// guardConn is an accepted connection that has not yet authenticated. It
// reports its end exactly once: success, or the first failure (including
// the handshake deadline, which closes it).
type guardConn struct {
	net.Conn
	addr  string
	onEnd func(reason string)
	state atomic.Int32 // 0 pending, 1 ended

	mu    sync.Mutex
	timer *time.Timer
}

type guardKey struct{}

func (g *guardConn) end(reason string) bool {
	if !g.state.CompareAndSwap(0, 1) {
		return false
	}
	g.mu.Lock()
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
	g.onEnd(reason)
	return true
}

func (g *guardConn) succeed() bool { return g.end("") }

func (g *guardConn) fail(reason string) {
	if g.end(reason) {
		g.Conn.Close()
	}
}

// Close of a connection still in its handshake (by the HTTP server, say, on
// a malformed request) counts as a failure.
func (g *guardConn) Close() error {
	g.end("closed during handshake")
	return g.Conn.Close()
}

// chanListener hands TLS connections that finished their handshake to the
// HTTP server.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(a net.Addr) *chanListener {
	return &chanListener{addr: a, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) close()         { l.once.Do(func() { close(l.done) }) }
func (l *chanListener) Close() error   { l.close(); return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }

func hostOf(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// shortErr keeps the last, most specific part of a wrapped network error.
func shortErr(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err.Error()
		}
		return oe.Err.Error()
	}
	return err.Error()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
