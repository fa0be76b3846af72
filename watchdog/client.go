package watchdog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clooster/clooster/internal/backoff"
	"github.com/clooster/clooster/internal/failover"
)

// Reconnect backoff of the dialling side: short, because the link's return
// is what starts the failback clock, and capped, because a dead peer costs
// one refused connection per attempt.
var redial = backoff.Policy{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}

// DialFunc opens the TCP connection to the peer; tests inject in-memory ones.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dialer keeps one link to the listening peer: it dials, authenticates,
// hands the link to the node and waits for it to end, forever, with capped,
// jittered backoff between failed attempts.
type dialer struct {
	addr    string
	dial    DialFunc
	tls     *tls.Config
	auth    *authenticator
	log     *slog.Logger
	newLink func(ws *websocket.Conn, remote string) *link
	reject  func(addr, reason string) // counts rejections (metrics); may be nil
	// problem reports what the attempts show of a disagreement between
	// the two nodes' configurations (nil r: what it reported is gone);
	// may be nil. It must not block.
	problem func(r *refusal, addr string)
	// timeout is peer_timeout: the peer's port must refuse connections
	// for at least that long, and noListenerAfter, with no link since
	// start, before that is reported.
	timeout time.Duration

	// Of the attempts so far (run's goroutine only).
	linked       bool      // a link was made since start
	refusedSince time.Time // connections refused since then; zero if the last was not
	silentHellos int       // attempts in a row the server closed after our hello
	reported     string    // the kind last reported; "" none
}

// noListenerAfter is how long, at least, the peer's port must refuse
// connections, with no link since start, before it is said: a peer that is
// merely stopped or restarting must not cost a push of its own.
const noListenerAfter = 30 * time.Second

// closedAfterHelloTimes is how many attempts in a row must meet a server
// that closes the connection after our hello without a word before it is
// said: it is what a server of protocol version 1 does.
const closedAfterHelloTimes = 3

// judge reports what an attempt that ended in err shows: a refusal (the
// server says our configurations disagree), a port that refuses
// connections for peer_timeout with no link since start (nothing listens:
// the peer is stopped, or a client too), or a server that keeps closing
// after our hello (an older version).
func (d *dialer) judge(err error) {
	if d.problem == nil {
		return
	}
	var r *refusal
	now := time.Now()
	switch {
	case err == nil:
		d.linked = true
	case errors.Is(err, syscall.ECONNREFUSED):
		if d.refusedSince.IsZero() {
			d.refusedSince = now
		}
		if !d.linked && now.Sub(d.refusedSince) >= max(d.timeout, noListenerAfter) {
			r = &refusal{Kind: failover.ProblemNoListener,
				What: fmt.Sprintf("%s refuses connections: nothing listens there", d.addr),
				Hint: "clooster is not running on the peer, or the peer is configured as a client too: one node must be the server"}
		}
	case errors.Is(err, errClosedAfterHello):
		d.silentHellos++
		if d.silentHellos >= closedAfterHelloTimes {
			r = &refusal{Kind: failover.ProblemVersion,
				What: fmt.Sprintf("the server at %s closes the connection after this node's hello without a word", d.addr),
				Hint: "it may run an older clooster (link protocol version 1): run the same version on both nodes"}
		}
	default:
		r, _ = errors.AsType[*refusal](err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		d.refusedSince = time.Time{}
	}
	if err == nil || !errors.Is(err, errClosedAfterHello) {
		d.silentHellos = 0
	}
	// No address for the report to add: the dialler's own findings name
	// it already, and the others say which node said them.
	switch {
	case r != nil:
		d.reported = r.Kind
		d.problem(r, "")
	case err != nil && d.reported == failover.ProblemNoListener && !errors.Is(err, syscall.ECONNREFUSED):
		// Something listens now: what it says is reported for itself.
		d.problem(&refusal{Kind: failover.ProblemNoListener}, "")
		d.reported = ""
	}
}

func (d *dialer) run(ctx context.Context, out chan<- *link) error {
	delay := time.Duration(0)
	failures := 0
	for {
		if delay > 0 && !sleepCtx(ctx, delay) {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		l, err := d.connect(ctx)
		if ctx.Err() == nil {
			d.judge(err)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			// One line when the peer becomes unreachable, then one a minute.
			if failures == 1 || failures%int(time.Minute/redial.Max) == 0 {
				d.log.Info("cannot reach peer; retrying", "addr", d.addr, "error", err, "attempts", failures)
			} else {
				d.log.Debug("cannot reach peer", "addr", d.addr, "error", err)
			}
			delay = redial.Jittered(failures, rand.Int64N)
			continue
		}
		failures, delay = 0, 0
		select {
		case out <- l:
		case <-ctx.Done():
			l.close(byeShutdown, "shutting down")
			return nil
		}
		select {
		case <-l.gone():
		case <-ctx.Done():
			return nil
		}
		// A link that ended at once is probably refused again: pause.
		delay = redial.Min
	}
}

// connect dials, upgrades to a websocket and authenticates, all within
// handshakeTimeout.
func (d *dialer) connect(ctx context.Context) (*link, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	wd := websocket.Dialer{
		NetDialContext:  d.dial,
		TLSClientConfig: d.tls,
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
	}
	ws, _, err := wd.DialContext(ctx, "wss://"+d.addr+"/", nil)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
		}
		return nil, fmt.Errorf("dial: %s", shortErr(err))
	}
	remote := hostOf(ws.NetConn().RemoteAddr())
	if dl, ok := ctx.Deadline(); ok {
		ws.NetConn().SetDeadline(dl)
	}
	tc, ok := ws.NetConn().(*tls.Conn)
	if !ok {
		ws.Close()
		return nil, errors.New("not a tls connection")
	}
	cb, err := channelBinding(tc.ConnectionState())
	if err == nil {
		err = d.auth.client(ws, cb)
	}
	if err != nil {
		ws.Close()
		r, refused := errors.AsType[*refusal](err)
		switch {
		case refused:
			// The two files disagree: the node says so, once an episode.
			if d.reject != nil {
				d.reject(remote, r.Kind)
			}
			d.log.Debug("handshake refused", "peer", remote, "reason", shortErr(err))
			return nil, fmt.Errorf("handshake: %w", r)
		case errors.Is(err, errClosedAfterHello):
			return nil, fmt.Errorf("handshake: %w", errClosedAfterHello)
		case errors.Is(err, errBadProof) || errors.Is(err, errFrameLayout) || errors.Is(err, errFrameVersion):
			// The listener is not our peer, or someone sits in between.
			if d.reject != nil {
				d.reject(remote, shortErr(err))
			}
			d.log.Warn(fmt.Sprintf("rejected peer %s: %s", remote, shortErr(err)), "peer", remote, "reason", shortErr(err))
		}
		return nil, fmt.Errorf("handshake: %s", shortErr(err))
	}
	ws.NetConn().SetDeadline(time.Time{})
	return d.newLink(ws, remote), nil
}
