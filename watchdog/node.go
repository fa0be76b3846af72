package watchdog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// RecordStore is the DNS record the pair fails over. Each call is one
// attempt; the node retries. Errors may carry a hint of when to retry with
// a method RetryAfter() time.Duration.
type RecordStore interface {
	// Read returns the record's current content.
	Read(ctx context.Context) (string, error)
	// Write sets the record's content and nothing else of it.
	Write(ctx context.Context, content string) error
}

// Notifier announces transitions. Notify must not block.
type Notifier interface {
	Notify(title, body string)
}

// Config is what a Node needs. Zero durations are invalid; New checks.
type Config struct {
	This, Other string // this node's and the peer's names
	Key         []byte // the shared key
	Role        string // "server" (listens) or "client" (dials)

	ListenAddr string       // server: where to listen, unless Listener is set
	Listener   net.Listener // server: an open listener (tests, socket activation)
	ServerTLS  *tls.Config  // server

	DialAddr  string      // client: the server's address
	Dial      DialFunc    // client: opens the TCP connection; nil = net.Dialer
	ClientTLS *tls.Config // client

	KeepaliveInterval time.Duration
	PeerTimeout       time.Duration
	FailbackDelay     time.Duration

	RecordName string // for messages
	ThisValue  string // written on takeover
	Preferred  string // written on failback by the failback owner
	DryRun     bool   // log writes instead of making them

	Store    RecordStore
	Notifier Notifier // nil: no pushes
	Logger   *slog.Logger
	Version  string
}

// Node is one side of the pair: the link to the peer, the state machine and
// the record updates it decides. Run owns every goroutine it starts and
// waits for them before it returns; Status may be called from any goroutine.
type Node struct {
	cfg Config
	mc  machineConfig
	log *slog.Logger

	mu   sync.Mutex
	snap Status
	met  *Metrics
}

// New checks cfg and returns a node ready to Run.
func New(cfg Config) (*Node, error) {
	switch {
	case cfg.This == "" || cfg.Other == "":
		return nil, errors.New("node: names required")
	case len(cfg.Key) == 0:
		return nil, errors.New("node: key required")
	case cfg.Role != "server" && cfg.Role != "client":
		return nil, fmt.Errorf("node: role %q, want server or client", cfg.Role)
	case cfg.KeepaliveInterval <= 0 || cfg.PeerTimeout <= cfg.KeepaliveInterval || cfg.FailbackDelay < 0:
		return nil, errors.New("node: bad timings")
	case cfg.Store == nil:
		return nil, errors.New("node: record store required")
	case cfg.Role == "server" && cfg.ServerTLS == nil:
		return nil, errors.New("node: server tls config required")
	case cfg.Role == "client" && cfg.ClientTLS == nil:
		return nil, errors.New("node: client tls config required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ThisValue == "" {
		cfg.ThisValue = cfg.This
	}
	n := &Node{
		cfg: cfg,
		log: cfg.Logger.With("component", "watchdog"),
		met: newMetrics(),
		mc: machineConfig{
			This:        cfg.This,
			Other:       cfg.Other,
			Record:      cfg.RecordName,
			ThisValue:   cfg.ThisValue,
			Preferred:   cfg.Preferred,
			PeerTimeout: cfg.PeerTimeout,
			Keepalive:   cfg.KeepaliveInterval,
			// Rule 4: the node whose value is the preferred one; if
			// neither is, the server.
			FailbackOwner: cfg.ThisValue == cfg.Preferred || cfg.Role == "server" && !cfg.otherPreferred(),
			FailbackDelay: cfg.FailbackDelay,
		},
	}
	n.snap = n.status(newState(time.Now()), nil)
	return n, nil
}

// otherPreferred reports whether the peer is the preferred node. The peer's
// takeover value is not configured here, so the peer's name is taken for it,
// as the original did; with cloudflare.this_value set on both sides, only
// the node whose own value is the preferred one writes on failback.
func (c Config) otherPreferred() bool { return c.Other == c.Preferred }

// Run keeps the link and acts on its changes until ctx ends. It returns an
// error only if it cannot start (the listening address is taken, say).
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	auth := &authenticator{key: n.cfg.Key, this: n.cfg.This, other: n.cfg.Other}
	newLink := func(ws *websocket.Conn, remote string) *link {
		return newLink(ws, remote, n.cfg.KeepaliveInterval, n.cfg.PeerTimeout, n.flags)
	}
	links := make(chan *link)
	var wg sync.WaitGroup
	linkErr := make(chan error, 1)

	switch n.cfg.Role {
	case "server":
		ln := n.cfg.Listener
		if ln == nil {
			var err error
			ln, err = net.Listen("tcp", n.cfg.ListenAddr)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
		}
		n.log.Info("listening", "addr", ln.Addr().String(), "fingerprint", Fingerprint(n.cfg.ServerTLS))
		s := &listener{ln: ln, tls: n.cfg.ServerTLS, auth: auth, log: n.log, limit: newLimiter(),
			newLink: newLink, reject: n.met.rejected}
		wg.Add(1)
		go func() { defer wg.Done(); linkErr <- s.run(ctx, links) }()
	case "client":
		dial := n.cfg.Dial
		if dial == nil {
			d := &net.Dialer{KeepAlive: -1} // our keepalives are the link's
			dial = d.DialContext
		}
		dial = tunedDial(dial, n.log)
		d := &dialer{addr: n.cfg.DialAddr, dial: dial, tls: n.cfg.ClientTLS, auth: auth, log: n.log,
			newLink: newLink, reject: n.met.rejected}
		n.log.Info("dialling peer", "addr", n.cfg.DialAddr)
		wg.Add(1)
		go func() { defer wg.Done(); linkErr <- d.run(ctx, links) }()
	}

	events := make(chan linkEvent, 16)
	results := make(chan event, 16)
	w := &worker{store: n.cfg.Store, log: n.log, dryRun: n.cfg.DryRun, out: results, met: n.met}

	var cur *link
	// drop closes a link without stalling the loop on a dead peer.
	drop := func(l *link, code byte, reason string) {
		wg.Add(1)
		go func() { defer wg.Done(); l.close(code, reason) }()
	}
	defer func() {
		if cur != nil {
			cur.close(byeShutdown, "shutting down")
		}
		cancel()
		wg.Wait()
		w.wg.Wait()
	}()

	s := newState(time.Now())
	w.lookup(ctx)
	timer := time.NewTimer(n.cfg.KeepaliveInterval / 2)
	defer timer.Stop()

	apply := func(ev event) {
		var acts []action
		s, acts = next(&n.mc, s, ev)
		for _, a := range acts {
			switch a := a.(type) {
			case actClose:
				if cur != nil {
					drop(cur, byeTimeout, a.reason)
					cur = nil
				}
			case actEnsure:
				w.ensure(ctx, a.job, a.content)
			case actCancel:
				w.cancel()
			case actNotify:
				n.met.notified()
				if n.cfg.Notifier != nil {
					n.cfg.Notifier.Notify(a.title, a.body)
				}
			case actLog:
				n.log.Log(ctx, a.level, a.msg, append([]any{"event", a.event}, a.attrs...)...)
				n.met.transition(a.event, ev.when())
			}
		}
		n.publish(s, cur)
		// Wake at the state machine's next deadline, and at least every
		// half keepalive interval so that a freeze of this node is noticed.
		wake := time.Until(s.deadline(&n.mc))
		if beat := n.cfg.KeepaliveInterval / 2; s.deadline(&n.mc).IsZero() || wake > beat {
			wake = beat
		}
		timer.Reset(max(wake, time.Millisecond))
	}
	apply(evTick{at: time.Now()})

	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-linkErr:
			return err
		case l := <-links:
			if cur != nil {
				drop(cur, byeReplaced, "replaced by a newer connection")
			}
			cur = l
			l.start(ctx, events)
			n.met.linked(l.remote)
			apply(evLinkUp{at: time.Now()})
		case e := <-events:
			if e.link != cur {
				continue // a link already dropped or replaced
			}
			if e.closed {
				cur = nil
				drop(e.link, byeProtocol, e.reason)
				apply(evLinkDown{at: e.at, reason: e.reason, peerAlive: e.bye == byeTimeout || e.bye == byeProtocol})
				continue
			}
			n.met.heard(e.rtt, e.flags)
			apply(evHeard{at: e.at})
		case ev := <-results:
			apply(ev)
		case now := <-timer.C:
			apply(evTick{at: now})
		}
	}
}

// tunedDial applies tuneConn to every connection dial makes.
func tunedDial(dial DialFunc, log *slog.Logger) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			if terr := tuneConn(c); terr != nil {
				log.Debug("cannot tune the link's TCP socket", "error", terr)
			}
		}
		return c, err
	}
}

// flags are this node's keepalive flags.
func (n *Node) flags() byte { return flagHealthy }

// worker runs the record reads and writes the state machine asks for, one
// job at a time, off the loop: an update never delays the link. Its
// goroutines end with the context they were started with; the node waits
// for them through wg.
type worker struct {
	store  RecordStore
	log    *slog.Logger
	dryRun bool
	out    chan<- event
	met    *Metrics
	wg     sync.WaitGroup

	mu   sync.Mutex
	jobC context.CancelFunc
}

const (
	retryMin   = 250 * time.Millisecond
	retryMax   = 8 * time.Second
	apiTimeout = 10 * time.Second
)

// lookup reads the record once at start, retrying until it succeeds, so that
// configuration mistakes (a wrong zone, a missing record) show at once.
func (w *worker) lookup(ctx context.Context) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for attempt := 1; ; attempt++ {
			content, err := w.read(ctx)
			if err == nil {
				w.log.Info("record found", "content", content)
				w.send(ctx, evRead{at: time.Now(), content: content})
				return
			}
			if ctx.Err() != nil {
				return
			}
			if logAttempt(attempt) {
				w.log.Error("cannot read the record; retrying", "error", err, "attempt", attempt)
			}
			if !sleepCtx(ctx, retryDelay(attempt, err)) {
				return
			}
		}
	}()
}

// ensure starts job id: make the record hold content. A running job is
// cancelled first.
func (w *worker) ensure(ctx context.Context, id uint64, content string) {
	w.cancel()
	ctx, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.jobC = cancel
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for attempt := 1; ; attempt++ {
			changed, err := w.once(ctx, content)
			if err == nil {
				w.send(ctx, evDone{at: time.Now(), job: id, content: content, changed: changed})
				return
			}
			if ctx.Err() != nil {
				return
			}
			w.send(ctx, evAttempt{at: time.Now(), job: id, err: err.Error()})
			if !sleepCtx(ctx, retryDelay(attempt, err)) {
				return
			}
		}
	}()
}

// once re-reads the record and writes content if it differs.
func (w *worker) once(ctx context.Context, content string) (bool, error) {
	cur, err := w.read(ctx)
	if err != nil {
		return false, err
	}
	if cur == content {
		return false, nil
	}
	if w.dryRun {
		w.log.Warn("dry run: not writing the record", "from", cur, "to", content)
		return true, nil
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	err = w.store.Write(wctx, content)
	w.met.api("write", err, time.Since(start))
	if err != nil {
		return false, fmt.Errorf("write record: %w", err)
	}
	return true, nil
}

func (w *worker) read(ctx context.Context) (string, error) {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	content, err := w.store.Read(rctx)
	w.met.api("read", err, time.Since(start))
	if err != nil {
		return "", fmt.Errorf("read record: %w", err)
	}
	return content, nil
}

func (w *worker) send(ctx context.Context, ev event) {
	select {
	case w.out <- ev:
	case <-ctx.Done():
	}
}

// cancel stops the running job, if any, without waiting.
func (w *worker) cancel() {
	w.mu.Lock()
	if w.jobC != nil {
		w.jobC()
		w.jobC = nil
	}
	w.mu.Unlock()
}

// retryDelay is capped exponential backoff with full jitter over the upper
// half, unless the error says when to retry (429 Retry-After, auth errors).
func retryDelay(attempt int, err error) time.Duration {
	d := retryMin << min(attempt-1, 10)
	d = min(d, retryMax)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	var h interface{ RetryAfter() time.Duration }
	if errors.As(err, &h) {
		if ra := h.RetryAfter(); ra > d {
			d = ra
		}
	}
	return d
}

// logAttempt thins repeated failure logs: the first three, then powers of two.
func logAttempt(n int) bool { return n <= 3 || n&(n-1) == 0 }
