package watchdog

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clooster/clooster/internal/agree"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

// Notifier announces transitions; events are what the alert is about (of
// failover's Alert* words), the first foremost. Notify must not block.
type Notifier interface {
	Notify(events []string, title, body string)
}

// Config is what a Node needs. Zero durations are invalid; New checks.
type Config struct {
	This, Other string // this node's and the peer's names
	Key         []byte // the shared key
	Role        string // "server" (listens) or "client" (dials)

	ListenAddr string       // server: where to listen, unless Listener is set
	Listener   net.Listener // server: an open listener (tests, socket activation)
	ServerTLS  *tls.Config  // server
	// PeerAddress (server): where to look, while no link has come up
	// since start, for a peer that listens as a server too; "" none.
	PeerAddress string

	DialAddr  string      // client: the server's address
	Dial      DialFunc    // client: opens the TCP connection; nil = net.Dialer
	ClientTLS *tls.Config // client

	KeepaliveInterval time.Duration
	PeerTimeout       time.Duration
	FailbackDelay     time.Duration

	RecordName string // for messages
	ThisValue  string // written on takeover
	// OtherValue is what the peer writes on takeover, if OtherKnown; else
	// it is learned from the peer over the link (default: the peer's name).
	OtherValue string
	OtherKnown bool
	Preferred  string // written on failback by the failback owner
	DryRun     bool   // log writes instead of making them

	// Records are the records of the set, in order, when Store is a set
	// of several (its content their contents joined by recordset.Sep);
	// empty for the one record of RecordName.
	Records []SetRecord
	// RecordStates reports what the store knows of each record of the
	// set, in the order of Records; nil: none.
	RecordStates func() []recordset.State
	// RecordKeys name each record of the set (the one record of
	// RecordName, or each of Records) with its whole configuration, for
	// Reload: a record whose key is in both sets is kept; nil counts
	// every record as changed.
	RecordKeys []string

	// Settings is what this node's file says about the pair, sent to
	// the peer in its INFO and compared with the peer's (package
	// agree): timings, values, the record or the records block's
	// digests. Zero fields are neither sent nor compared.
	Settings agree.Settings

	Store    failover.RecordStore
	Notifier Notifier // nil: no pushes
	Hooks    Hooks    // nil: no hooks
	Logger   *slog.Logger
	Version  string
	// Clock is the wall clock this node's keepalives carry, for the
	// peer's check of the two clocks; nil: time.Now.
	Clock func() time.Time

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
	// RestartGrace: a stop whose context ends with ErrRestart as its
	// cause is a restart: the node hands nothing over and asks its peer,
	// in its BYE, to keep the record where it is for this long. 0: every
	// stop is a stop.
	RestartGrace time.Duration
}

// ErrRestart, as the cause of the context given to Run, makes the stop a
// restart (Config.RestartGrace).
var ErrRestart = errors.New("restarting")

// Hooks runs the operator's commands on transitions. Fire must not block.
type Hooks interface {
	Fire(event string, env map[string]string)
}

// Node is one side of the pair: the link to the peer, the state machine and
// the record updates it decides. Run owns every goroutine it starts and
// waits for them before it returns; Status, SetConfigStatus and Reload may
// be called from any goroutine (Reload hands its configuration to Run's
// loop, which applies it).
type Node struct {
	cfg Config
	mc  failover.Config
	log *slog.Logger

	mu     sync.Mutex
	snap   Status
	conf   *ConfigStatus // the daemon's word on its configuration, for /status
	met    *Metrics
	events eventLog      // the last transitions, for /events
	flags  atomic.Uint32 // keepalive flags, as the loop last set them
	turn   atomic.Int64  // unix nanoseconds of the loop's last turn
	ready  chan struct{} // closed once the link side is up (listening or dialling)

	// reloads carries Reload's configurations to the loop; done is
	// closed when Run returns.
	reloads chan reloadReq
	done    chan struct{}
	// live is what a link made now takes (the link side's goroutines
	// make links): the timings and the INFO, as the last reload left
	// them.
	live atomic.Pointer[linkSettings]
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
		ready:   make(chan struct{}),
		reloads: make(chan reloadReq),
		done:    make(chan struct{}),
		cfg:     cfg,
		log:     cfg.Logger.With("component", "watchdog"),
		met:     newMetrics(),
		mc: failover.Config{
			This:          cfg.This,
			Other:         cfg.Other,
			Record:        cfg.RecordName,
			ThisValue:     cfg.ThisValue,
			OtherValue:    cmp.Or(cfg.OtherValue, cfg.Other), // until the peer's INFO says otherwise, unless known
			OtherKnown:    cfg.OtherKnown,
			Preferred:     cfg.Preferred,
			Server:        cfg.Role == "server",
			PeerTimeout:   cfg.PeerTimeout,
			Keepalive:     cfg.KeepaliveInterval,
			FailbackDelay: cfg.FailbackDelay,
			PeerCheck:     cfg.PeerProbe != nil,
			DriftInterval: cfg.DriftInterval,
			Handover:      cfg.Handover,
			RestartGrace:  cfg.RestartGrace,
		},
	}
	n.snap = n.status(failover.NewState(time.Now(), &n.mc).View(&n.mc), nil)
	n.storeLive()
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
	// New links are taken (listened for, dialled) until the node begins
	// to stop: a link that came up then would only break at the exit, and
	// undo what the BYE said (a restart's grace).
	accept, stopAccepting := context.WithCancel(parts)
	defer stopAccepting()

	defer close(n.done)
	auth := &authenticator{key: n.cfg.Key, this: n.cfg.This, other: n.cfg.Other}
	clock, server := n.cfg.Clock, n.cfg.Role == "server"
	newLink := func(ws *websocket.Conn, remote string) *link {
		live := n.live.Load()
		l := newLink(ws, remote, live.keepalive, live.timeout, n.loadFlags, live.info, server)
		if clock != nil {
			l.clock = clock
		}
		return l
	}
	links := make(chan *link)
	var wg sync.WaitGroup
	linkErr := make(chan error, 1)
	// What the link's goroutines find of a disagreement between the two
	// nodes' files. They repeat at every attempt: one dropped when the
	// loop is busy is said again by the next.
	problems := make(chan failover.EvProblem, 16)
	report := func(r *refusal, addr string) {
		ev := failover.EvProblem{At: time.Now(), Kind: r.Kind, What: r.What, Hint: r.Hint}
		if ev.What != "" && !r.Theirs && addr != "" {
			ev.What += " (from " + addr + ")"
		}
		select {
		case problems <- ev:
		default:
		}
	}
	var linked atomic.Bool // a link came up since start

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
			newLink: newLink, reject: n.met.rejected, problem: report}
		wg.Add(1)
		go func() { defer wg.Done(); linkErr <- s.run(accept, links) }()
		if n.cfg.PeerAddress != "" {
			wg.Add(1)
			addr, first := n.cfg.PeerAddress, n.cfg.PeerTimeout
			go func() {
				defer wg.Done()
				lookForServer(accept, addr, first, auth, &linked, report)
			}()
		}
	case "client":
		dial := n.cfg.Dial
		if dial == nil {
			d := &net.Dialer{KeepAlive: -1} // our keepalives are the link's
			dial = d.DialContext
		}
		dial = tunedDial(dial, n.log)
		d := &dialer{addr: n.cfg.DialAddr, dial: dial, tls: n.cfg.ClientTLS, auth: auth, log: n.log,
			newLink: newLink, reject: n.met.rejected, problem: report, timeout: n.cfg.PeerTimeout}
		n.log.Info("dialling peer", "addr", n.cfg.DialAddr)
		wg.Add(1)
		go func() { defer wg.Done(); linkErr <- d.run(accept, links) }()
	}

	close(n.ready)
	events := make(chan linkEvent, 16)
	results := make(chan failover.Event, 16)
	w := &worker{log: n.log, dryRun: n.cfg.DryRun, out: results, met: n.met}
	w.setTarget(n.cfg.Store, n.mc.ThisValue)
	w.setProbe(n.cfg.PeerProbe)
	w.setHealth(n.cfg.Health)

	var cur *link
	var peerInfo *info // the peer's INFO on cur, as it last said it
	rl := &reloading{done: make(chan setDone, 1)}
	// drop closes a link without stalling the loop on a dead peer.
	drop := func(l *link, code byte, reason string) {
		wg.Add(1)
		go func() { defer wg.Done(); l.close(code, reason) }()
	}
	restart := false // the stop is a restart: the peer holds the record meanwhile
	defer func() {
		switch {
		case cur != nil && restart:
			cur.closeWith(bye{Code: byeRestart, Reason: "restarting", Restart: n.cfg.RestartGrace})
		case cur != nil:
			cur.close(byeShutdown, "shutting down")
		}
		cancel()
		wg.Wait()
		w.wg.Wait()
	}()

	loop := failover.NewLoop(&n.mc, time.Now())
	n.flags.Store(uint32(loop.Flags()))
	timer := time.NewTimer(n.mc.Beat())
	defer timer.Stop()
	stop := ctx.Done()
	exit := false

	// carry carries out what the machine decided for the event at at.
	carry := func(acts []failover.Action, kick bool, at time.Time) {
		for _, a := range acts {
			switch a := a.(type) {
			case failover.ActClose:
				if cur != nil {
					drop(cur, byeTimeout, a.Reason)
					cur = nil
				}
			case failover.ActEnsure:
				w.ensure(parts, a)
			case failover.ActCancel:
				w.cancel()
			case failover.ActRead:
				w.read(parts, a)
			case failover.ActProbe:
				w.probeOnce(parts)
			case failover.ActNotify:
				n.met.notified()
				if n.cfg.Notifier != nil {
					events := []string{a.Event}
					if a.Also != "" {
						events = append(events, a.Also)
					}
					n.cfg.Notifier.Notify(events, a.Title, a.Body)
				}
			case failover.ActHook:
				n.fire(a)
			case failover.ActExit:
				exit = true
			case failover.ActLog:
				n.log.Log(ctx, a.Level, a.Msg, append([]any{"event", a.Event}, a.Attrs...)...)
				n.met.transition(a.Event, at)
				n.events.add(at, a)
			}
		}
		n.flags.Store(uint32(loop.Flags()))
		w.permit(loop.MayWrite(n.mc.ThisValue), loop.MayWrite(n.mc.Preferred))
		if kick && cur != nil {
			cur.kick() // the peer learns a change of health or of the record at once
		}
	}
	apply := func(ev failover.Event) {
		acts, kick := loop.Apply(ev)
		n.turn.Store(ev.When().UnixNano())
		carry(acts, kick, ev.When())
	}
	apply(failover.EvTick{At: time.Now()})
	// settings compares this node's settings with the peer's last INFO.
	settings := func(at time.Time, i info) failover.EvInfo {
		return failover.EvInfo{At: at, Value: i.Value, Differences: agree.Compare(n.ownSettings(), peerSettings(n.cfg.Other, i))}
	}
	// told tells the peer what a reload changed of this node's INFO, and
	// compares the peer's settings with this node's new ones.
	told := func(at time.Time) {
		prev := n.live.Load()
		n.storeLive()
		live := n.live.Load()
		if cur == nil || live.same(prev) {
			return
		}
		cur.retime(live.keepalive, live.timeout)
		cur.resend(live.info)
		cur.kick() // a keepalive at once, and the next after the new interval
		if peerInfo != nil {
			apply(settings(at, *peerInfo))
		}
	}

	for !exit {
		n.publish(loop.S.View(&n.mc), cur)
		timer.Reset(max(time.Until(loop.Wake()), time.Millisecond))
		select {
		case <-stop:
			stop = nil
			stopAccepting()
			restart = errors.Is(context.Cause(ctx), ErrRestart) && n.cfg.RestartGrace > 0
			apply(failover.EvStop{At: time.Now(), Restart: restart})
		case err := <-linkErr:
			if err == nil && accept.Err() != nil {
				break // it stopped taking links, as asked: the node is stopping
			}
			return err
		case l := <-links:
			if cur != nil {
				drop(cur, byeReplaced, "replaced by a newer connection")
			}
			cur, peerInfo = l, nil
			linked.Store(true)
			l.start(parts, events)
			n.met.linked()
			apply(failover.EvLinkUp{At: time.Now()})
		case e := <-events:
			switch {
			case e.link != cur:
				// a link already dropped or replaced
			case e.closed:
				cur, peerInfo = nil, nil
				drop(e.link, byeProtocol, e.reason)
				apply(failover.EvLinkDown{At: e.at, Reason: e.reason, PeerAlive: e.bye == byeTimeout || e.bye == byeProtocol, Restart: e.restart})
			case e.isInfo:
				i := e.info
				peerInfo = &i
				apply(settings(e.at, i))
			default:
				n.met.heard(e.rtt)
				var sent time.Time // unknown: the keepalive echoes none of ours
				if e.rtt > 0 {
					sent = e.at.Add(-e.rtt)
				}
				apply(failover.EvHeard{At: e.at, Sent: sent, Flags: e.flags, PeerClock: e.clock})
			}
		case ev := <-results:
			apply(ev)
		case ev := <-problems:
			apply(ev)
		case now := <-timer.C:
			apply(failover.EvTick{At: now})
		case r := <-n.reloads:
			now := time.Now()
			acts, kick := n.reload(r.cfg, loop, w, rl, now)
			carry(acts, kick, now)
			told(now)
			close(r.taken)
		case d := <-rl.done:
			now := time.Now()
			acts, kick, applied := n.setDone(d, loop, w, rl, now)
			carry(acts, kick, now)
			if applied {
				told(now)
			}
		}
		// Every turn, whatever woke it: a keepalive at least every
		// keepalive interval while linked, the beat otherwise.
		if n.cfg.Health != nil && !exit {
			now := time.Now()
			h, why := n.cfg.Health()
			acts, kick := loop.Health(now, h, why)
			carry(acts, kick, now)
		}
		if !exit {
			n.changeSet(parts, loop, w, rl, time.Now())
		}
	}
	n.publish(loop.S.View(&n.mc), cur)
	return nil
}

func (n *Node) loadFlags() byte { return byte(n.flags.Load()) }

// fire runs a hook with the documented environment.
func (n *Node) fire(a failover.ActHook) {
	if n.cfg.Hooks == nil {
		// The transition, under the hook's event name: no command runs.
		n.log.Info("transition (no hook configured)", "event", "hook_"+a.Event, "content", a.Content)
		return
	}
	n.log.Info("hook", "event", "hook_"+a.Event, "content", a.Content)
	env := map[string]string{
		"CLOOSTER_EVENT":   a.Event,
		"CLOOSTER_NODE":    n.cfg.This,
		"CLOOSTER_PEER":    n.cfg.Other,
		"CLOOSTER_RECORD":  n.cfg.RecordName,
		"CLOOSTER_CONTENT": a.Content,
	}
	if rs := n.cfg.Records; len(rs) > 0 {
		// The single-record variables are of the first record; the set
		// is one line per record: name, type, content.
		contents := strings.Split(a.Content, recordset.Sep)
		var lines []string
		for i, r := range rs {
			c := ""
			if i < len(contents) {
				c = contents[i]
			}
			lines = append(lines, strings.TrimSpace(r.Name+" "+r.Type+" "+c))
		}
		env["CLOOSTER_RECORD"], env["CLOOSTER_CONTENT"] = rs[0].Name, contents[0]
		env["CLOOSTER_RECORDS"] = strings.Join(lines, "\n")
	} else {
		env["CLOOSTER_RECORDS"] = strings.TrimSpace(n.cfg.RecordName + " " + a.Content)
	}
	n.cfg.Hooks.Fire(a.Event, env)
}

// ownInfo is what this node's INFO frame says: its value, and what its
// file says about the pair.
func (n *Node) ownInfo() info {
	st := n.cfg.Settings
	i := info{Value: n.cfg.ThisValue, Keepalive: n.cfg.KeepaliveInterval, PeerTimeout: n.cfg.PeerTimeout, FailbackDelay: n.cfg.FailbackDelay,
		Record: st.Record, Preferred: st.Preferred, OtherValue: st.OtherValue, Version: n.cfg.Version}
	if len(n.cfg.Records) > 0 {
		i.Value = "" // the peer knows it from its own records block
	}
	if st.Records != nil {
		i.Records = make([]recordDigest, len(st.Records))
		for k, d := range st.Records {
			i.Records[k] = recordDigest{d.Key, d.Hash}
		}
	}
	return i
}

// ownSettings is this node's side of the comparison: what its file says,
// as the peer's INFO can say it.
func (n *Node) ownSettings() agree.Settings {
	st := n.cfg.Settings
	// The handshake checked the names and roles: they name the sides.
	st.Name, st.Peer, st.Role = n.cfg.This, n.cfg.Other, ""
	st.Keepalive, st.PeerTimeout, st.FailbackDelay = n.cfg.KeepaliveInterval, n.cfg.PeerTimeout, n.cfg.FailbackDelay
	if st.ThisValue == "" && len(n.cfg.Records) == 0 {
		st.ThisValue = n.cfg.ThisValue
	}
	st.RecordsKnown = true
	return st
}

// peerSettings is the peer's side, from its INFO frame; name is the name it
// proved in the handshake.
func peerSettings(name string, i info) agree.Settings {
	st := agree.Settings{Name: name, Keepalive: i.Keepalive, PeerTimeout: i.PeerTimeout, FailbackDelay: i.FailbackDelay, Record: i.Record,
		Preferred: i.Preferred, ThisValue: i.Value, OtherValue: i.OtherValue, RecordsKnown: true}
	if i.Records != nil {
		st.Records = make([]agree.Digest, len(i.Records))
		for k, d := range i.Records {
			st.Records[k] = agree.Digest{Key: d.Key, Hash: d.Hash}
		}
	}
	return st
}

// SetRecord is one record of a set as configured: its name and type, and
// what each node writes.
type SetRecord struct {
	Name, Type            string
	ThisValue, OtherValue string
	Preferred             string // the value it holds while both nodes are up
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

// worker carries out the record reads and writes the machine asks for,
// off the loop, so that an update never delays the link. It runs each as a
// failover.Job: the procedure (the write rule, retries, backoff) is the
// Job's; the worker only does the I/O. One ensure job runs at a time;
// reads and probes run beside it. Its goroutines end with the context they
// were started with; the node waits for them through wg. A reload changes
// its store (at a moment no job runs), probe and health check: each job,
// read and probe uses those it started with.
type worker struct {
	log    *slog.Logger
	dryRun bool
	out    chan<- failover.Event
	met    *Metrics
	wg     sync.WaitGroup

	target atomic.Pointer[target]
	probe  atomic.Pointer[func(ctx context.Context) error]      // nil: none
	health atomic.Pointer[func() (healthy bool, reason string)] // nil: always healthy

	// What the loop last said this node may write (State.MayWrite): its
	// own value, and anything else.
	mayOwn, mayOther atomic.Bool

	mu   sync.Mutex
	jobC context.CancelFunc
	// jobEnd is closed when the last ensure job's goroutine returns: a
	// cancelled job returns at its next step, or once a write it had
	// under way has its answer.
	jobEnd chan struct{}
}

// target is the record store the worker reads and writes, and this
// node's value in it.
type target struct {
	store failover.RecordStore
	own   string
}

func (w *worker) setTarget(store failover.RecordStore, own string) {
	w.target.Store(&target{store: store, own: own})
}

// setProbe sets the peer_check probe; nil: none.
func (w *worker) setProbe(p func(ctx context.Context) error) {
	if p == nil {
		w.probe.Store(nil)
		return
	}
	w.probe.Store(&p)
}

// setHealth sets the health verdict; nil: always healthy.
func (w *worker) setHealth(h func() (bool, string)) {
	if h == nil {
		w.health.Store(nil)
		return
	}
	w.health.Store(&h)
}

// permit publishes the loop's latest MayWrite answers.
func (w *worker) permit(own, other bool) {
	w.mayOwn.Store(own)
	w.mayOther.Store(other)
}

// mayWrite is the permission to write content: the loop's latest word,
// and for this node's own value the health monitor's verdict right now (a
// check can fail between two turns of the loop).
func (w *worker) mayWrite(t *target, content string) bool {
	if content != t.own {
		return w.mayOther.Load()
	}
	if !w.mayOwn.Load() {
		return false
	}
	if h := w.health.Load(); h != nil {
		if healthy, reason := (*h)(); !healthy || reason != "" {
			return false
		}
	}
	return true
}

// ensure starts a, cancelling the running ensure job first.
// ensure starts the job of a, in place of the one running. A write the
// cancelled job had under way is carried through: the new job reads only
// once it has its answer, so that it judges what that write left and
// does not write beside it.
func (w *worker) ensure(ctx context.Context, a failover.ActEnsure) {
	w.cancel()
	jctx, cancel := context.WithCancel(ctx)
	end := make(chan struct{})
	w.mu.Lock()
	w.jobC = cancel
	prev := w.jobEnd
	w.jobEnd = end
	w.mu.Unlock()
	j := failover.NewEnsure(a, rand.Int64N)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(end)
		if prev != nil {
			select {
			case <-prev:
			case <-jctx.Done():
				<-prev // the job after this one waits for that write too
				return
			}
		}
		w.run(ctx, jctx, j)
	}()
}

// read starts a plain read.
func (w *worker) read(ctx context.Context, a failover.ActRead) {
	w.start(ctx, ctx, failover.NewRead(a, rand.Int64N))
}

func (w *worker) start(ctx, jctx context.Context, j *failover.Job) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.run(ctx, jctx, j)
	}()
}

// run carries out j's steps until it is done or jctx, the job's context,
// ends. A write under way when jctx ends is carried through on ctx, the
// worker's, and its outcome reported: the node must learn of a write that
// landed.
func (w *worker) run(ctx, jctx context.Context, j *failover.Job) {
	t := w.target.Load()
	st := j.Start()
	for {
		if st.Report != nil && !w.send(ctx, st.Report) {
			return
		}
		if jctx.Err() != nil {
			return
		}
		switch st.Op {
		case failover.OpRead:
			asked := time.Now()
			rec, err := w.readRecord(jctx, t)
			if jctx.Err() != nil {
				return
			}
			st = j.Read(asked, time.Now(), rec, err)
		case failover.OpWrite:
			if st = j.Go(time.Now(), w.mayWrite(t, st.Content)); st.Op != failover.OpWrite {
				continue
			}
			if st.Report != nil && !w.send(ctx, st.Report) {
				return
			}
			// The report is queued before the write, so the loop learns
			// of the write in order. The send may have waited on a busy
			// loop, which may have cancelled the job or withdrawn the
			// permission meanwhile: ask again right before writing. A
			// refusal is reported as the job's end, which clears the
			// write the report announced.
			if st = j.Go(time.Now(), jctx.Err() == nil && w.mayWrite(t, st.Content)); st.Op != failover.OpWrite {
				continue
			}
			err := w.write(ctx, t, st.Content, st.If)
			if ctx.Err() != nil {
				return
			}
			st = j.Wrote(time.Now(), err)
		case failover.OpWait:
			if !sleepCtx(jctx, st.Wait) {
				return
			}
			st = j.Waited()
		default:
			return
		}
	}
}
func (w *worker) readRecord(ctx context.Context, t *target) (failover.Record, error) {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, failover.APITimeout)
	defer cancel()
	rec, err := t.store.Read(rctx)
	w.met.api("read", err, time.Since(start))
	return rec, err
}

// write sets the record to content: with a store that can compare and
// swap, only if it still holds old, what the job's read showed.
func (w *worker) write(ctx context.Context, t *target, content, old string) error {
	if w.dryRun {
		w.log.Warn("dry run: not writing the record", "to", content)
		return nil
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, failover.APITimeout)
	defer cancel()
	var err error
	if sw, ok := t.store.(failover.Swapper); ok && old != "" {
		err = sw.Swap(wctx, old, content)
	} else {
		err = t.store.Write(wctx, content)
	}
	w.met.api("write", err, time.Since(start))
	return err
}

// probeOnce probes the peer's service once.
func (w *worker) probeOnce(ctx context.Context) {
	p := w.probe.Load()
	if p == nil {
		return // peer_check was taken out by a reload: the machine awaits no answer
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		err := (*p)(ctx)
		ev := failover.EvProbe{At: time.Now(), Serving: err == nil, Detail: "answers"}
		if err != nil {
			ev.Detail = err.Error()
		}
		w.send(ctx, ev)
	}()
}

func (w *worker) send(ctx context.Context, ev failover.Event) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// cancel stops the running ensure job, if any, without waiting.
func (w *worker) cancel() {
	w.mu.Lock()
	if w.jobC != nil {
		w.jobC()
		w.jobC = nil
	}
	w.mu.Unlock()
}

// lookForServerEvery is how often a server with no link since start looks
// at the peer's address for a second server.
const lookForServerEvery = time.Minute

// lookForServer is the server role's look for a peer that listens as a
// server too (both files with a server role: each waits for the other):
// once peer_timeout has passed with no link since start, then every
// lookForServerEvery until a link comes up. It reports a peer that
// answers as a server; it ends with ctx.
func lookForServer(ctx context.Context, addr string, first time.Duration, auth *authenticator, linked *atomic.Bool, report func(*refusal, string)) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if linked.Load() {
			return
		}
		if r := probeServer(ctx, addr, auth); r != nil {
			report(r, "")
		}
		t.Reset(lookForServerEvery)
	}
}

// probeServer dials addr as a client would and says hello as a server:
// a refusal of kind role_mismatch if a server answers there.
func probeServer(ctx context.Context, addr string, auth *authenticator) *refusal {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	wd := websocket.Dialer{
		NetDialContext: (&net.Dialer{KeepAlive: -1}).DialContext,
		// Trust does not matter here: nothing is proved, and the
		// answer is only reported.
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true},
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
	}
	ws, _, err := wd.DialContext(ctx, "wss://"+addr+"/", nil)
	if err != nil {
		return nil
	}
	defer ws.Close()
	if dl, ok := ctx.Deadline(); ok {
		ws.NetConn().SetDeadline(dl)
	}
	r := auth.probe(ws)
	if r != nil && !r.Theirs {
		r.What += " (at " + addr + ")"
	}
	return r
}
