package watchdog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clooster/clooster/internal/backoff"
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
		if errors.Is(err, errBadProof) || errors.Is(err, errFrameLayout) || errors.Is(err, errFrameVersion) {
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
