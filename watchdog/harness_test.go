package watchdog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/clooster/clooster/internal/failover"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// memNet is an in-memory network for one listener: dials become net.Pipe
// pairs, and every connection can be cut silently (a blackhole) or reset.
type memNet struct {
	mu      sync.Mutex
	ln      *memListener
	conns   []*faultConn
	refused bool
}

func (m *memNet) listen() *memListener {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ln = &memListener{ch: make(chan net.Conn), done: make(chan struct{})}
	return m.ln
}

func (m *memNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	m.mu.Lock()
	ln, refused := m.ln, m.refused
	m.mu.Unlock()
	if ln == nil || refused {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	a, b := net.Pipe()
	fa, fb := newFaultConn(a), newFaultConn(b)
	fb.server = true
	select {
	case ln.ch <- fb:
	case <-ln.done:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	m.mu.Lock()
	m.conns = append(m.conns, fa, fb)
	m.mu.Unlock()
	return fa, nil
}

// blackhole drops everything on every current connection, both ways.
// silence is a hung peer as the network sees it: nothing arrives either
// way on the open connections, and new ones are refused.
func (m *memNet) silence() {
	m.blackhole()
	m.mu.Lock()
	m.refused = true
	m.mu.Unlock()
}

func (m *memNet) blackhole() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		c.holed.Store(true)
	}
}

// mute loses everything the server side (server true) or the client side
// sends, on every current connection: a one-way blackhole.
func (m *memNet) mute(server bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		if c.server == server {
			c.muted.Store(true)
		}
	}
}

// reset closes every current connection, as a crash of either end does.
func (m *memNet) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		c.Close()
	}
	m.conns = nil
}

type memListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *memListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "192.0.2.1:4096" }

// faultConn is a pipe end that can be made silent: writes vanish, reads
// wait for close.
type faultConn struct {
	net.Conn
	holed  atomic.Bool // nothing arrives either way
	muted  atomic.Bool // what this side sends is lost, its close too
	once   sync.Once
	closed chan struct{}
	server bool // the accepting side
}

func newFaultConn(c net.Conn) *faultConn { return &faultConn{Conn: c, closed: make(chan struct{})} }

// Close ends this side. A close of the far side is not seen through a hole,
// nor a close of a muted side.
func (c *faultConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	if c.muted.Load() {
		return c.Conn.SetReadDeadline(time.Unix(1, 0)) // unblock our reader only
	}
	return c.Conn.Close()
}

func (c *faultConn) Write(b []byte) (int, error) {
	if c.holed.Load() || c.muted.Load() {
		select {
		case <-c.closed:
			return 0, net.ErrClosed
		default:
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *faultConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		select {
		case <-c.closed:
			return 0, net.ErrClosed
		default:
		}
		if !c.holed.Load() {
			return n, err
		}
		if err != nil {
			<-c.closed
			return 0, net.ErrClosed
		}
	}
}

func (c *faultConn) RemoteAddr() net.Addr { return pipeAddr{} }

// memStore is a record held in memory, with scripted failures.
type memStore struct {
	mu      sync.Mutex
	content string
	reads   int
	writes  []string
	fail    []error // returned by the next calls, in order
}

func (s *memStore) Read(ctx context.Context) (failover.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if err := s.nextErr(); err != nil {
		return failover.Record{}, err
	}
	return failover.Record{Content: s.content}, nil
}

func (s *memStore) Write(ctx context.Context, content string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.nextErr(); err != nil {
		return err
	}
	s.content = content
	s.writes = append(s.writes, content)
	return nil
}

func (s *memStore) nextErr() error {
	if len(s.fail) == 0 {
		return nil
	}
	err := s.fail[0]
	s.fail = s.fail[1:]
	return err
}

func (s *memStore) get() (string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.content, append([]string(nil), s.writes...)
}

// retryAfterErr is an API error that says when to retry.
func retryAfterErr(d time.Duration) error {
	return &failover.RetryLater{After: d, Err: errors.New("429 too many requests")}
}

var errAPI = errors.New("500 internal server error")

// pushes records notifications: "title | body", and their events.
type pushes struct {
	mu     sync.Mutex
	l      []string
	events []string
}

func (p *pushes) Notify(events []string, title, body string) {
	p.mu.Lock()
	p.l = append(p.l, title+" | "+body)
	p.events = append(p.events, strings.Join(events, "+"))
	p.mu.Unlock()
}

func (p *pushes) gotEvents() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

func (p *pushes) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.l...)
}

// logBuf collects log output of one node.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pair is two nodes over a memNet sharing one memStore: srv1 is the server
// and the preferred node, srv2 the client.
type pair struct {
	t      *testing.T
	net    *memNet
	store  *memStore
	pushes *pushes
	key    []byte
	nodes  map[string]*running
	stls   *tls.Config
	cfg    func(*Config)
}

type running struct {
	node    *Node
	cancel  context.CancelFunc
	restart context.CancelFunc // ends Run as SIGUSR2 does
	done    chan struct{}      // closed when Run has returned
	err     error
	log     *logBuf
}

const testKey = "0123456789abcdef0123456789abcdef"

func newPair(t *testing.T, tweak func(*Config)) *pair {
	stls, err := ServerTLS("", "")
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{t: t, net: &memNet{}, store: &memStore{content: "srv1"}, pushes: &pushes{},
		key: []byte(testKey), nodes: map[string]*running{}, stls: stls, cfg: tweak}
	t.Cleanup(func() {
		if t.Failed() {
			for name, r := range p.nodes {
				t.Logf("log of %s:\n%s", name, r.log)
			}
		}
		p.stopAll()
	})
	return p
}

func (p *pair) config(name string) Config {
	c := Config{
		This: name, Key: p.key,
		KeepaliveInterval: time.Second, PeerTimeout: 5 * time.Second, FailbackDelay: 30 * time.Second,
		RecordName: "www.example.com", Preferred: "srv1",
		Store: p.store, Notifier: p.pushes, Version: "test",
	}
	switch name {
	case "srv1":
		c.Other, c.Role = "srv2", "server"
		c.ServerTLS = p.stls
	default:
		c.Other, c.Role = "srv1", "client"
		c.ClientTLS, _ = ClientTLS("", "", "")
		c.Dial = p.net.dial
		c.DialAddr = "srv1:4096"
	}
	if p.cfg != nil {
		p.cfg(&c)
	}
	return c
}

func (p *pair) start(name string) *running {
	return p.startWith(p.config(name))
}

func (p *pair) startWith(c Config) *running {
	p.t.Helper()
	lb := &logBuf{}
	c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(lb), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if c.Role == "server" && c.Listener == nil {
		c.Listener = p.net.listen()
	}
	n, err := New(c)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &running{node: n, cancel: func() { cancel(nil) }, restart: func() { cancel(ErrRestart) }, done: make(chan struct{}), log: lb}
	go func() { r.err = n.Run(ctx); close(r.done) }()
	p.nodes[c.This+fmt.Sprint(len(p.nodes))] = r
	return r
}

// crash ends the server node r as kill -9 would: it does nothing more,
// sends nothing more, and then its connections reset and its listener goes.
func (p *pair) crash(r *running) {
	p.net.mute(true)
	r.cancel()
	<-r.done
	p.net.reset()
}

// stop ends a node as SIGTERM would.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	<-r.done
	if r.err != nil {
		t.Errorf("run: %v", r.err)
	}
}

func (p *pair) stopAll() {
	for _, r := range p.nodes {
		r.cancel()
		<-r.done
	}
}
