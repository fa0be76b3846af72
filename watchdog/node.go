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
	"sync/atomic"
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
	Hooks    Hooks    // nil: no hooks
	Logger   *slog.Logger
	Version  string

	// Health reports this node's own service health, and the last check's
	// error ("" if it passed); nil: always healthy. It is called on every
	// turn of the loop and must be cheap.
	Health func() (healthy bool, reason string)
	// PeerProbe checks the peer's service from outside (peer_check); nil:
	// none. A nil error means the peer still serves.
	PeerProbe func(ctx context.Context) error
	// DriftInterval is how often the record is re-read; 0 disables.
	DriftInterval time.Duration
	// Handover: on stop, the active node first hands the record to a
	// linked, healthy peer (handover_on_stop).
	Handover bool
}

// Hooks runs the operator's commands on transitions. Fire must not block.
type Hooks interface {
	Fire(event string, env map[string]string)
}

// Node is one side of the pair: the link to the peer, the state machine and
// the record updates it decides. Run owns every goroutine it starts and
// waits for them before it returns; Status may be called from any goroutine.
type Node struct {
	cfg Config
	mc  machineConfig
	log *slog.Logger

	mu    sync.Mutex
	snap  Status
	met   *Metrics
	flags atomic.Uint32 // keepalive flags, as the loop last set them
	turn  atomic.Int64  // unix nanoseconds of the loop's last turn
	ready chan struct{} // closed once the link side is up (listening or dialling)
}

// Ready is closed once the node listens (server) or dials (client).
func (n *Node) Ready() <-chan struct{} { return n.ready }

// LastTurn is when the node's loop last ran: a loop that stops turning is a
// hung node (systemd's watchdog uses it).
func (n *Node) LastTurn() time.Time { return time.Unix(0, n.turn.Load()) }

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
		ready: make(chan struct{}),
		cfg:   cfg,
		log:   cfg.Logger.With("component", "watchdog"),
		met:   newMetrics(),
		mc: machineConfig{
			This:          cfg.This,
			Other:         cfg.Other,
			Record:        cfg.RecordName,
			ThisValue:     cfg.ThisValue,
			OtherValue:    cfg.Other, // until the peer's INFO says otherwise
			Preferred:     cfg.Preferred,
			Server:        cfg.Role == "server",
			PeerTimeout:   cfg.PeerTimeout,
			Keepalive:     cfg.KeepaliveInterval,
			FailbackDelay: cfg.FailbackDelay,
			PeerCheck:     cfg.PeerProbe != nil,
			DriftInterval: cfg.DriftInterval,
			Handover:      cfg.Handover,
		},
	}
	n.snap = n.status(newState(time.Now(), &n.mc), nil)
	return n, nil
}

// Run keeps the link and acts on its changes until ctx ends; then it hands
// the record over if it should (at most 5 s), closes the link and returns.
// It returns an error only if it cannot start (the listening address is
// taken, say).
func (n *Node) Run(ctx context.Context) error {
	// The parts run on their own context, so that they outlive ctx for
	// the handover.
	parts, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	auth := &authenticator{key: n.cfg.Key, this: n.cfg.This, other: n.cfg.Other}
	newLink := func(ws *websocket.Conn, remote string) *link {
		return newLink(ws, remote, n.cfg.KeepaliveInterval, n.cfg.PeerTimeout, n.loadFlags, n.cfg.ThisValue, n.cfg.Role == "server")
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
		go func() { defer wg.Done(); linkErr <- s.run(parts, links) }()
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
		go func() { defer wg.Done(); linkErr <- d.run(parts, links) }()
	}

	close(n.ready)
	events := make(chan linkEvent, 16)
	results := make(chan event, 16)
	w := &worker{store: n.cfg.Store, probe: n.cfg.PeerProbe, log: n.log, dryRun: n.cfg.DryRun, out: results, met: n.met}

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

	s := newState(time.Now(), &n.mc)
	w.lookup(parts)
	timer := time.NewTimer(n.mc.beat())
	defer timer.Stop()
	healthy, failing := true, false // failing: the last check failed
	stop := ctx.Done()
	exit := false

	apply := func(ev event) {
		var acts []action
		s, acts = next(&n.mc, s, ev)
		n.turn.Store(ev.when().UnixNano())
		for _, a := range acts {
			switch a := a.(type) {
			case actClose:
				if cur != nil {
					drop(cur, byeTimeout, a.reason)
					cur = nil
				}
			case actEnsure:
				w.ensure(parts, a)
			case actCancel:
				w.cancel()
			case actRead:
				w.read1(parts)
			case actProbe:
				w.probe1(parts)
			case actNotify:
				n.met.notified()
				if n.cfg.Notifier != nil {
					n.cfg.Notifier.Notify(a.title, a.body)
				}
			case actHook:
				n.fire(a)
			case actExit:
				exit = true
			case actLog:
				n.log.Log(ctx, a.level, a.msg, append([]any{"event", a.event}, a.attrs...)...)
				n.met.transition(a.event, ev.when())
			}
		}
		if f := n.flagsOf(s); uint32(f) != n.flags.Swap(uint32(f)) && cur != nil {
			cur.kick() // the peer learns a change of health or of the record at once
		}
		n.publish(s, cur)
		// Wake at the state machine's next deadline, and at least every
		// beat so that a freeze of this node is noticed.
		wake := time.Until(s.deadline(&n.mc))
		if beat := n.mc.beat(); s.deadline(&n.mc).IsZero() || wake > beat {
			wake = beat
		}
		timer.Reset(max(wake, time.Millisecond))
	}
	apply(evTick{at: time.Now()})

	for !exit {
		select {
		case <-stop:
			stop = nil
			apply(evStop{at: time.Now()})
		case err := <-linkErr:
			return err
		case l := <-links:
			if cur != nil {
				drop(cur, byeReplaced, "replaced by a newer connection")
			}
			cur = l
			l.start(parts, events)
			n.met.linked(l.remote)
			apply(evLinkUp{at: time.Now()})
		case e := <-events:
			switch {
			case e.link != cur:
				// a link already dropped or replaced
			case e.closed:
				cur = nil
				drop(e.link, byeProtocol, e.reason)
				apply(evLinkDown{at: e.at, reason: e.reason, peerAlive: e.bye == byeTimeout || e.bye == byeProtocol})
			case e.isInfo:
				apply(evInfo{at: e.at, value: e.info})
			default:
				n.met.heard(e.rtt, e.flags)
				apply(evHeard{at: e.at, flags: e.flags})
			}
		case ev := <-results:
			apply(ev)
		case now := <-timer.C:
			apply(evTick{at: now})
		}
		// Every turn, whatever woke it: a keepalive at least every
		// keepalive interval while linked, the beat otherwise.
		if n.cfg.Health != nil && !exit {
			if h, why := n.cfg.Health(); h != healthy || failing != (why != "") {
				healthy, failing = h, why != ""
				apply(evHealth{at: time.Now(), healthy: h, reason: why})
			}
		}
	}
	return nil
}

func (n *Node) loadFlags() byte { return byte(n.flags.Load()) }

// flagsOf are the keepalive flags that state s advertises.
func (n *Node) flagsOf(s state) byte {
	var f byte
	if s.healthy {
		f |= flagHealthy
	}
	if s.record != "" && s.record == n.cfg.ThisValue {
		f |= flagActive
	}
	if s.handover {
		f |= flagHandover
	}
	return f
}

// fire runs a hook with the documented environment.
func (n *Node) fire(a actHook) {
	n.log.Info("hook", "event", "hook_"+a.event, "content", a.content)
	if n.cfg.Hooks == nil {
		return
	}
	n.cfg.Hooks.Fire(a.event, map[string]string{
		"CLOOSTER_EVENT":   a.event,
		"CLOOSTER_NODE":    n.cfg.This,
		"CLOOSTER_PEER":    n.cfg.Other,
		"CLOOSTER_RECORD":  n.cfg.RecordName,
		"CLOOSTER_CONTENT": a.content,
	})
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

// worker runs the record reads and writes the state machine asks for, one
// job at a time, off the loop: an update never delays the link. Its
// goroutines end with the context they were started with; the node waits
// for them through wg.
type worker struct {
	store  RecordStore
	probe  func(ctx context.Context) error
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

// ensure starts job a.job: make the record hold a.content, under the write
// rule of a.base (see machine.go). A running job is cancelled first.
func (w *worker) ensure(ctx context.Context, a actEnsure) {
	w.cancel()
	ctx, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.jobC = cancel
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for attempt := 1; ; attempt++ {
			content, v, err := w.once(ctx, a)
			if err == nil {
				w.send(ctx, evDone{at: time.Now(), job: a.job, content: content, changed: v == verdictWrite, withheld: v == verdictWithhold})
				return
			}
			if ctx.Err() != nil {
				return
			}
			w.send(ctx, evAttempt{at: time.Now(), job: a.job, err: err.Error()})
			if !sleepCtx(ctx, retryDelay(attempt, err)) {
				return
			}
		}
	}()
}

type verdict int

const (
	verdictNothing  verdict = iota // the record already holds what we want
	verdictWrite                   // write it
	verdictWithhold                // the peer acted since the link was lost: leave it
	verdictYield                   // neither node's value: let the preferred node go first
)

// decide is the write rule for one read of the record (see machine.go):
// current is what the record holds, a says what we want and what the record
// held when the link was last up.
func decide(current string, a actEnsure) verdict {
	switch {
	case current == a.content:
		return verdictNothing
	case a.base != "" && current != a.base && current == a.peer && !a.editedBefore():
		return verdictWithhold
	case a.yield && current != a.peer && current != a.base:
		return verdictYield
	}
	return verdictWrite
}

// clockSkew is how far the API's clock and ours may disagree.
const clockSkew = time.Second

// editedBefore reports whether the record, as read, last changed before the
// link was last known good: then the peer's value in it is an outside edit
// this node did not know of, not the peer's write after the loss.
func (a actEnsure) editedBefore() bool {
	return !a.modified.IsZero() && !a.since.IsZero() && a.modified.Before(a.since.Add(-clockSkew))
}

// tieDelay is how long the node that is not preferred lets the preferred
// one go first when both want a record that points at neither.
const tieDelay = time.Second

// once re-reads the record and writes what a wants if the rule allows. It
// returns the record's content afterwards.
func (w *worker) once(ctx context.Context, a actEnsure) (string, verdict, error) {
	cur, err := w.read(ctx)
	if err != nil {
		return "", 0, err
	}
	if m, ok := w.store.(interface{ LastModified() time.Time }); ok {
		a.modified = m.LastModified()
	}
	v := decide(cur, a)
	if v == verdictYield {
		if !sleepCtx(ctx, tieDelay) {
			return "", 0, ctx.Err()
		}
		if cur, err = w.read(ctx); err != nil {
			return "", 0, err
		}
		a.base, a.yield = cur, false // what it held after the pause
		if v = decide(cur, a); v == verdictWrite && cur == a.peer {
			v = verdictWithhold // the preferred node took it meanwhile
		}
	}
	if v != verdictWrite {
		return cur, v, nil
	}
	if w.dryRun {
		w.log.Warn("dry run: not writing the record", "from", cur, "to", a.content)
		return a.content, v, nil
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	err = w.store.Write(wctx, a.content)
	w.met.api("write", err, time.Since(start))
	if err != nil {
		return "", 0, fmt.Errorf("write record: %w", err)
	}
	return a.content, v, nil
}

// read1 reads the record once, for a drift check; a failure is logged and
// the next check tries again.
func (w *worker) read1(ctx context.Context) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		content, err := w.read(ctx)
		if err != nil {
			w.log.Warn("drift check: cannot read the record", "error", err)
			return
		}
		w.send(ctx, evRead{at: time.Now(), content: content, drift: true})
	}()
}

// probe1 probes the peer's service once.
func (w *worker) probe1(ctx context.Context) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		err := w.probe(ctx)
		ev := evProbe{at: time.Now(), serving: err == nil, detail: "answers"}
		if err != nil {
			ev.detail = err.Error()
		}
		w.send(ctx, ev)
	}()
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
