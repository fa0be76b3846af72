// Package demo runs a failover pair in one process: two nodes on loopback,
// a simulated Cloudflare API and a simulated Pushbullet, and prints what
// happens as one node dies and comes back. Run owns everything it starts and
// stops it before it returns.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakepb"
	"github.com/clooster/clooster/internal/recordset"
	"github.com/clooster/clooster/notify"
	"github.com/clooster/clooster/watchdog"
)

// Options change what Run prints.
type Options struct {
	Verbose bool   // also print the nodes' logs
	Version string // shown in /status of the nodes
}

// Demo timings: faster than the defaults so that the whole story takes a
// few seconds.
const (
	keepalive     = 200 * time.Millisecond
	peerTimeout   = time.Second
	failbackDelay = 3 * time.Second
	srv1          = "srv1.example.com"
	srv2          = "srv2.example.com"
	token         = "demo-token-not-a-secret"
)

// records are the demo's set: an A and an AAAA record of one name and a
// CNAME of another, each with what srv1 and srv2 write.
var records = []struct{ name, typ, v1, v2 string }{
	{"example.com", "A", "192.0.2.1", "198.51.100.1"},
	{"example.com", "AAAA", "2001:db8::1", "2001:db8:1::1"},
	{"www.example.com", "CNAME", srv1, srv2},
}

// setOf is the set's values as the decision code sees them: each node's,
// one record after another.
func setOf(this bool) string {
	var vs []string
	for _, r := range records {
		if this {
			vs = append(vs, r.v1)
		} else {
			vs = append(vs, r.v2)
		}
	}
	return recordset.Join(vs)
}

// Run tells the story and returns nil if every step happened as it should.
func Run(ctx context.Context, out io.Writer, opt Options) error {
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "%7.3fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	cf := fakecf.New()
	cf.SetToken(token)
	zone := cf.AddZone("example.com")
	var ids []string
	for _, r := range records {
		ids = append(ids, cf.AddRecord(zone, fakecf.Record{Name: r.name, Type: r.typ, Content: r.v1, TTL: 60}))
	}
	cfSrv := httptest.NewServer(cf)
	defer cfSrv.Close()
	pb := fakepb.New(token)
	pbSrv := httptest.NewServer(pb)
	defer pbSrv.Close()

	var logs io.Writer = io.Discard
	if opt.Verbose {
		logs = &prefixed{w: out, start: start}
	}
	key := []byte("demo key, 32 bytes long, really!")
	stls, err := watchdog.ServerTLS("", "")
	if err != nil {
		return err
	}
	ctls, err := watchdog.ClientTLS("", "", "")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()

	fmt.Fprintf(out, "clooster demo: two nodes, a simulated DNS API and a simulated Pushbullet, all on loopback\n")
	fmt.Fprintf(out, "the record set, moved together (srv1's values preferred):\n")
	for _, r := range records {
		fmt.Fprintf(out, "  %-16s %-5s %s / %s\n", r.name, r.typ, r.v1, r.v2)
	}
	fmt.Fprintf(out, "keepalive_interval %s, peer_timeout %s, failback_delay %s\n\n", keepalive, peerTimeout, failbackDelay)

	newNode := func(this, other, role string) (*node, error) {
		logger := slog.New(slog.NewTextHandler(logs, nil)).With("node", this)
		var members []recordset.Member
		var clients []*cfapi.Client
		var set []watchdog.SetRecord
		var labels []string
		for _, r := range records {
			c, err := cfapi.New(cfapi.Config{BaseURL: cfSrv.URL, Token: token, Zone: "example.com", Record: r.name, Type: r.typ})
			if err != nil {
				return nil, err
			}
			members, clients = append(members, recordset.Member{Label: r.name + " " + r.typ, Store: c}), append(clients, c)
			mine, theirs := r.v1, r.v2
			if this == srv2 {
				mine, theirs = theirs, mine
			}
			set = append(set, watchdog.SetRecord{Name: r.name, Type: r.typ, ThisValue: mine, OtherValue: theirs, Preferred: r.v1})
			labels = append(labels, r.name+" "+r.typ)
		}
		// One zone: the set is read with one listing and written with one batch.
		rs := recordset.New(members, recordset.Group{Batcher: cfapi.BatchStore{B: cfapi.NewBatch(clients)}, Members: []int{0, 1, 2}})
		q := notify.NewQueue(&notify.Pushbullet{BaseURL: pbSrv.URL, Token: token}, logger)
		n := &node{store: &killable{RecordStore: rs, queue: q}, queue: q}
		c := watchdog.Config{
			This: this, Other: other, Key: key, Role: role,
			KeepaliveInterval: keepalive, PeerTimeout: peerTimeout, FailbackDelay: failbackDelay,
			RecordName: strings.Join(labels, ", "), ThisValue: setOf(this == srv1), OtherValue: setOf(this != srv1), OtherKnown: true,
			Preferred: setOf(true), Records: set, RecordStates: rs.States,
			Store: n.store, Notifier: n.store, Logger: logger, Version: opt.Version,
		}
		if role == "server" {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return nil, err
			}
			n.ln = &trackingListener{Listener: l}
			c.Listener, c.ServerTLS = n.ln, stls
		} else {
			c.DialAddr, c.ClientTLS = addr, ctls
		}
		if n.Node, err = watchdog.New(c); err != nil {
			return nil, err
		}
		n.start(ctx)
		return n, nil
	}

	on := func(v1 bool) func() bool {
		return func() bool {
			for i, id := range ids {
				want := records[i].v2
				if v1 {
					want = records[i].v1
				}
				if cf.Record(id).Content != want {
					return false
				}
			}
			return true
		}
	}
	wait := func(what string, limit time.Duration, cond func() bool) (time.Duration, error) {
		t0 := time.Now()
		for !cond() {
			if time.Since(t0) > limit {
				return 0, fmt.Errorf("demo: %s did not happen within %s", what, limit)
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
		return time.Since(t0), nil
	}
	linked := func(ns ...*node) func() bool {
		return func() bool {
			for _, n := range ns {
				if n.Status().Peer.State != watchdog.PeerUp {
					return false
				}
			}
			return true
		}
	}

	a, err := newNode(srv1, srv2, "server")
	if err != nil {
		return err
	}
	defer func() { a.stop() }()
	b, err := newNode(srv2, srv1, "client")
	if err != nil {
		return err
	}
	defer b.stop()
	say("%s listens on %s; %s dials it", srv1, addr, srv2)
	took, err := wait("linking", 5*time.Second, linked(a, b))
	if err != nil {
		return err
	}
	say("linked in %d ms: TLS 1.3, both sides proved the key over fresh nonces bound to the session", took.Milliseconds())

	time.Sleep(time.Second)
	say("%s crashes (its connections drop, it writes nothing more)", srv1)
	a.kill()
	took, err = wait("failover", 5*time.Second, on(false))
	if err != nil {
		return err
	}
	say("%s repointed all three records to its values in %d ms (one read and one write for the zone)", srv2, took.Milliseconds())

	time.Sleep(time.Second)
	say("%s restarts", srv1)
	if a, err = newNode(srv1, srv2, "server"); err != nil {
		return err
	}
	back := time.Now()
	took, err = wait("relinking", 5*time.Second, linked(a, b))
	if err != nil {
		return err
	}
	say("linked again after %d ms; failback in %s if the link holds", took.Milliseconds(), failbackDelay)
	if _, err = wait("failback", failbackDelay+5*time.Second, on(true)); err != nil {
		return err
	}
	say("%s returned the three records to its preferred values, %.2f s after it restarted", srv1, time.Since(back).Seconds())

	// Let the last pushes go out, then report.
	wait("pushes", 3*time.Second, func() bool { return len(pb.Pushes()) >= 2 })
	fmt.Fprintf(out, "\npushes received by the simulated Pushbullet:\n")
	for _, p := range pb.Pushes() {
		fmt.Fprintf(out, "  %s\n    %s\n", p.Title, p.Body)
	}
	writes := cf.Writes()
	fmt.Fprintf(out, "\nrecord writes: %d (", len(writes))
	for i, w := range writes {
		if i > 0 {
			fmt.Fprint(out, ", ")
		}
		fmt.Fprint(out, w.Content)
	}
	fmt.Fprintf(out, "); API requests in all: %d\n", cf.Stats().Requests)
	if len(writes) != 2*len(records) {
		return fmt.Errorf("demo: %d record writes, want %d", len(writes), 2*len(records))
	}
	fmt.Fprintf(out, "demo OK in %.1f s\n", time.Since(start).Seconds())
	return nil
}

// node is one demo node and what it owns.
type node struct {
	*watchdog.Node
	store  *killable
	queue  *notify.Queue
	ln     *trackingListener
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (n *node) start(ctx context.Context) {
	ctx, n.cancel = context.WithCancel(ctx)
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.Run(ctx) }()
	go func() { defer n.wg.Done(); n.queue.Run(ctx) }()
}

func (n *node) stop() {
	n.cancel()
	n.wg.Wait()
}

// kill stops the node as a crash would: no goodbye, no more writes.
func (n *node) kill() {
	n.store.dead.Store(true)
	if n.ln != nil {
		n.ln.closeAll()
	}
	n.stop()
}

// killable is a record store and notifier that refuse everything once
// their node is dead.
type killable struct {
	failover.RecordStore
	queue *notify.Queue
	dead  atomic.Bool
}

func (k *killable) Notify(_ []string, title, body string) {
	if !k.dead.Load() {
		k.queue.Notify(title, body)
	}
}

var errDead = errors.New("node is dead")

func (k *killable) Read(ctx context.Context) (failover.Record, error) {
	if k.dead.Load() {
		return failover.Record{}, errDead
	}
	return k.RecordStore.Read(ctx)
}

func (k *killable) Write(ctx context.Context, content string) error {
	if k.dead.Load() {
		return errDead
	}
	return k.RecordStore.Write(ctx, content)
}

// trackingListener remembers accepted connections so that a crash can
// drop them all at once.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, as the kernel sends for a killed process
		}
		c.Close()
	}
	l.conns = nil
	l.Listener.Close()
}

// prefixed writes log lines indented under the timeline.
type prefixed struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "           | %s", b)
	return len(b), nil
}

var _ http.Handler = (*fakecf.Server)(nil)
