package quorum

// This file is the member's one TLS port: Raft's transport and the control
// protocol, each connection authenticated as the pair's link is.
//
// Concurrency: a Transport is safe for concurrent use. Serve runs its accept
// loop until its context ends or Close is called; Close stops everything the
// transport started (Raft's transport, the listener, every connection in
// its handshake, in Raft's hands or in a control exchange) and waits for the
// goroutines it owns.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/clooster/clooster/watchdog"
)

// The ALPN protocol names of a member's port; a connection that negotiates
// neither is refused.
const (
	ALPNRaft = "clooster-raft/1"
	ALPNCtl  = "clooster-ctl/1"
)

// TransportConfig is what a Transport needs.
type TransportConfig struct {
	// Self is this member's name; Members lists every member, this one
	// included. Only members may connect, each by its name.
	Self    string
	Members []Member
	// Key is the shared key of the handshake.
	Key []byte
	// ServerTLS is the listening side's TLS configuration, as
	// watchdog.ServerTLS makes it; ClientTLS the dialling side's, as
	// watchdog.ClientTLS makes it (tls.ca, tls.fingerprint). The
	// transport clones both and sets their ALPN protocols; a ClientTLS
	// without a ServerName gets the host of the member it dials.
	ServerTLS, ClientTLS *tls.Config
	// Listener, if set, is the listener to serve on; else the transport
	// listens on this member's address.
	Listener net.Listener
	// Dial, if set, opens the TCP connections to other members.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)

	// Status answers a member's STATUS request. It must be quick.
	Status func() MemberStatus
	// AddVoter and RemoveServer, if set, answer the requests of that name
	// (a membership change asked of the leader); a nil one answers that
	// the request is not supported. They wrap ErrNotLeader to say that
	// this member is not the leader.
	AddVoter     func(ctx context.Context, name, address string) error
	RemoveServer func(ctx context.Context, name string) error

	// KeyRefused, if set, is called when a member refused this member's
	// proof of the key at a dial: the two hold different keys, most
	// likely. It must be quick.
	KeyRefused func(Member)

	// Log gets the transport's warnings; nil discards them.
	Log *slog.Logger
	// RaftLog is the logger of Raft's network transport; nil writes its
	// warnings and errors to Log.
	RaftLog hclog.Logger
	// MaxPool is how many idle connections Raft keeps per member (default
	// 3); Timeout bounds each Raft RPC's I/O (default 10 s).
	MaxPool int
	Timeout time.Duration
}

// Transport is a member's TLS port: Raft's transport and the control
// protocol. See the file's comment for its concurrency contract.
type Transport struct {
	self      Member
	members   atomic.Pointer[[]Member]
	key       []byte
	serverTLS *tls.Config
	clientTLS *tls.Config
	ln        net.Listener
	dial      func(ctx context.Context, network, address string) (net.Conn, error)
	status    func() MemberStatus
	addVoter  func(ctx context.Context, name, address string) error
	remove    func(ctx context.Context, name string) error
	refused   func(Member)
	log       *slog.Logger
	auth      *watchdog.StreamAuth
	limit     *watchdog.Limiter
	raft      *raft.NetworkTransport

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	raftCh chan net.Conn // authenticated Raft connections, for Accept

	idleMu  sync.Mutex
	idle    map[string]net.Conn    // per member, a control connection kept for the next STATUS
	dialing map[string]*statusDial // per member, the dial of one under way

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // every open connection, to close at Close
	closed bool
	wg     sync.WaitGroup // connection goroutines
	serve  sync.WaitGroup // Serve's accept loop
	once   sync.Once
}

// NewTransport checks cfg, listens, and starts Raft's network transport
// over it. Connections are taken once Serve runs.
func NewTransport(cfg TransportConfig) (*Transport, error) {
	self, err := checkMembers(cfg.Self, cfg.Members)
	if err != nil {
		return nil, err
	}
	switch {
	case len(cfg.Key) == 0:
		return nil, errors.New("transport: no key")
	case cfg.ServerTLS == nil || cfg.ClientTLS == nil:
		return nil, errors.New("transport: no tls configuration")
	case cfg.Status == nil:
		return nil, errors.New("transport: no status function")
	}
	t := &Transport{
		self:     self,
		key:      cfg.Key,
		dial:     cfg.Dial,
		status:   cfg.Status,
		addVoter: cfg.AddVoter,
		remove:   cfg.RemoveServer,
		refused:  cfg.KeyRefused,
		log:      cfg.Log,
		limit:    watchdog.NewLimiter(),
		raftCh:   make(chan net.Conn),
		conns:    make(map[net.Conn]struct{}),
	}
	members := append([]Member(nil), cfg.Members...)
	t.members.Store(&members)
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.log = t.log.With("component", "quorum")
	if t.dial == nil {
		var d net.Dialer
		t.dial = d.DialContext
	}
	t.serverTLS = cfg.ServerTLS.Clone()
	t.serverTLS.MinVersion = tls.VersionTLS13
	t.serverTLS.NextProtos = []string{ALPNRaft, ALPNCtl}
	t.clientTLS = cfg.ClientTLS.Clone()
	t.clientTLS.MinVersion = tls.VersionTLS13
	t.auth = watchdog.NewStreamAuth(cfg.Key, self.Name, t.isMember)

	t.ln = cfg.Listener
	if t.ln == nil {
		if t.ln, err = net.Listen("tcp", self.Address); err != nil {
			return nil, fmt.Errorf("transport: %w", err)
		}
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())

	rlog := cfg.RaftLog
	if rlog == nil {
		rlog = hclog.FromStandardLogger(slog.NewLogLogger(t.log.Handler(), slog.LevelWarn),
			&hclog.LoggerOptions{Name: "raft-net", Level: hclog.Warn})
	}
	pool, timeout := cfg.MaxPool, cfg.Timeout
	if pool <= 0 {
		pool = 3
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	t.raft = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: addressBook{t},
		Logger:                rlog,
		Stream:                streamLayer{t},
		MaxPool:               pool,
		Timeout:               timeout,
	})
	return t, nil
}

// checkMembers checks the member list and returns this member.
func checkMembers(self string, members []Member) (Member, error) {
	var me Member
	names := make(map[string]bool, len(members))
	addrs := make(map[string]bool, len(members))
	for i, m := range members {
		switch {
		case m.Name == "":
			return Member{}, fmt.Errorf("members[%d]: no name", i)
		case names[m.Name]:
			return Member{}, fmt.Errorf("members[%d]: name %q twice", i, m.Name)
		case addrs[m.Address]:
			return Member{}, fmt.Errorf("members[%d]: address %q twice", i, m.Address)
		}
		if _, _, err := net.SplitHostPort(m.Address); err != nil {
			return Member{}, fmt.Errorf("members[%d]: address: %w", i, err)
		}
		names[m.Name], addrs[m.Address] = true, true
		if m.Name == self {
			me = m
		}
	}
	if me.Name == "" {
		return Member{}, fmt.Errorf("members: no member named %q (this member)", self)
	}
	return me, nil
}

// SetMembers replaces the member list (a reload): connections already
// authenticated stay; new ones are checked against the new list. This
// member must stay in it, at the same address.
func (t *Transport) SetMembers(members []Member) error {
	self, err := checkMembers(t.self.Name, members)
	if err != nil {
		return err
	}
	if self.Address != t.self.Address {
		return fmt.Errorf("members: the address of %q changed (got %q, listening on %q)", self.Name, self.Address, t.self.Address)
	}
	members = append([]Member(nil), members...)
	t.members.Store(&members)
	return nil
}

func (t *Transport) isMember(name string) bool {
	if name == OperatorName {
		return true // on the control protocol only: accept refuses it for Raft
	}
	_, ok := t.member(func(m Member) bool { return m.Name == name })
	return ok && name != t.self.Name
}

func (t *Transport) member(match func(Member) bool) (Member, bool) {
	for _, m := range *t.members.Load() {
		if match(m) {
			return m, true
		}
	}
	return Member{}, false
}

// Raft returns the transport to give raft.NewRaft. Raft's Shutdown closes
// it (Raft takes no more connections then), not the Transport: the
// control protocol goes on until Close.
func (t *Transport) Raft() raft.Transport { return t.raft }

// Addr returns the address the transport listens on.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Serve takes connections until ctx ends or Close is called; when ctx ends
// it closes the transport. It returns nil then, or the listener's error.
func (t *Transport) Serve(ctx context.Context) error {
	if !t.start(nil, &t.serve) {
		return nil // closed already
	}
	stop := context.AfterFunc(ctx, t.stop)
	err := t.acceptLoop()
	stop()
	t.serve.Done()
	if ctx.Err() != nil {
		t.Close()
	}
	return err
}

// acceptLoop takes connections until the listener is closed.
func (t *Transport) acceptLoop() error {
	failures := 0
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				failures++
				delay := min(5*time.Millisecond<<min(failures, 8), time.Second)
				t.log.Warn("accept failed; retrying", "error", err, "delay", delay)
				sleep(t.ctx, delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		failures = 0
		t.admit(c)
	}
}

// Close stops the transport and waits for its goroutines. It is safe to
// call more than once.
func (t *Transport) Close() error {
	t.stop()
	t.serve.Wait()
	t.wg.Wait()
	return nil
}

// stop closes everything, once, without waiting.
func (t *Transport) stop() {
	t.once.Do(func() {
		t.raft.Close() // first, so that its accept loop ends quietly
		t.cancel()
		t.ln.Close()
		t.mu.Lock()
		t.closed = true
		conns := t.conns
		t.conns = nil
		t.mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
}

// start adds c (if not nil) to the connections Close closes and one to wg
// (if not nil), or reports false if the transport is closed.
func (t *Transport) start(c net.Conn, wg *sync.WaitGroup) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if c != nil {
		t.conns[c] = struct{}{}
	}
	if wg != nil {
		wg.Add(1)
	}
	return true
}

func (t *Transport) track(c net.Conn) bool { return t.start(c, nil) }

func (t *Transport) untrack(c net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.conns, c)
}

// admit applies the admission limits to an accepted connection and starts
// its handshake.
func (t *Transport) admit(c net.Conn) {
	addr := watchdog.HostOf(c.RemoteAddr())
	ok, why, logIt, suppressed := t.limit.Admit(addr)
	if !ok {
		c.Close()
		if logIt {
			t.log.Warn(fmt.Sprintf("rejected peer %s: %s", addr, why), "peer", addr, "reason", why, "suppressed", suppressed)
		}
		return
	}
	c.SetDeadline(time.Now().Add(watchdog.HandshakeTimeout))
	if !t.start(c, &t.wg) {
		c.Close()
		t.limit.Done(addr, true)
		return
	}
	go func() {
		defer t.wg.Done()
		tc, proto, name, err := t.accept(c)
		if errors.Is(err, errAbandoned) {
			// Closed before a byte of TLS: no attempt at the key, and
			// what a frozen member's queue of its peers' dials looks
			// like once it resumes. Not counted, not a rejection.
			t.limit.Abandoned(addr)
			t.log.Debug("connection closed before its handshake", "peer", addr)
			t.untrack(c)
			c.Close()
			return
		}
		if err != nil {
			t.limit.Done(addr, false)
			reason := err.Error()
			if errors.Is(err, watchdog.ErrBadProof) {
				reason = watchdog.ErrBadProof.Error() // the words fail2ban's filter knows
			}
			if t.ctx.Err() == nil {
				t.log.Warn(fmt.Sprintf("rejected peer %s: %s", addr, reason), "peer", addr, "reason", reason)
			}
			t.untrack(c)
			c.Close()
			return
		}
		t.limit.Done(addr, true)
		t.untrack(c)
		conn := t.own(tc)
		if conn == nil {
			return
		}
		switch proto {
		case ALPNRaft:
			select {
			case t.raftCh <- conn:
			case <-t.ctx.Done():
				conn.Close()
			}
		case ALPNCtl:
			t.serveCtl(conn, name)
		}
	}()
}

// accept runs TLS and the handshake on an accepted connection, whose
// deadline is HandshakeTimeout after the accept, and returns the protocol
// and the member's name.
func (t *Transport) accept(c net.Conn) (*tls.Conn, string, string, error) {
	counted := &firstRead{Conn: c}
	tc := tls.Server(counted, t.serverTLS)
	if err := tc.HandshakeContext(t.ctx); err != nil {
		if !counted.any && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			return nil, "", "", errAbandoned
		}
		return nil, "", "", fmt.Errorf("tls handshake: %s", watchdog.ShortErr(err))
	}
	proto := tc.ConnectionState().NegotiatedProtocol
	if proto != ALPNRaft && proto != ALPNCtl {
		return nil, "", "", errors.New("no clooster protocol negotiated (alpn)")
	}
	name, err := t.auth.Server(tc)
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", proto, err)
	}
	if name == OperatorName && proto != ALPNCtl {
		return nil, "", "", fmt.Errorf("%s: %q is an operator's command, not a member", proto, name)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, "", "", err
	}
	return tc, proto, name, nil
}

// dialMember opens an authenticated connection of protocol proto to m,
// within ctx.
func (t *Transport) dialMember(ctx context.Context, m Member, proto string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, watchdog.HandshakeTimeout)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel) // Close ends a dial under way
	defer stop()
	raw, err := t.dial(ctx, "tcp", m.Address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", m.Name, err)
	}
	if !t.track(raw) {
		raw.Close()
		return nil, raft.ErrTransportShutdown
	}
	fail := func(err error) (net.Conn, error) {
		t.untrack(raw)
		raw.Close()
		return nil, fmt.Errorf("dial %s: %w", m.Name, err)
	}
	deadline, _ := ctx.Deadline()
	raw.SetDeadline(deadline)
	unblock := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	defer unblock()
	cfg := t.clientTLS.Clone()
	cfg.NextProtos = []string{proto}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(m.Address)
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fail(fmt.Errorf("tls handshake: %w", err))
	}
	if got := tc.ConnectionState().NegotiatedProtocol; got != proto {
		return fail(fmt.Errorf("alpn: got %q, want %q", got, proto))
	}
	if err := t.auth.Client(tc, m.Name); err != nil {
		if watchdog.KeyRefused(err) && t.refused != nil {
			t.refused(m)
		}
		return fail(err)
	}
	if !unblock() || raw.SetDeadline(time.Time{}) != nil {
		return fail(ctx.Err())
	}
	t.untrack(raw)
	conn := t.own(tc)
	if conn == nil {
		return nil, raft.ErrTransportShutdown
	}
	return conn, nil
}

// own returns c as a connection that Close closes, or nil (and c closed)
// if the transport is closed.
func (t *Transport) own(c net.Conn) net.Conn {
	o := &ownedConn{Conn: c, t: t}
	if !t.track(o) {
		c.Close()
		return nil
	}
	return o
}

// ownedConn leaves the transport's set of connections when closed.
type ownedConn struct {
	net.Conn
	t    *Transport
	once sync.Once
}

func (o *ownedConn) Close() error {
	o.once.Do(func() { o.t.untrack(o) })
	return o.Conn.Close()
}

// streamLayer is the transport as Raft's NetworkTransport sees it.
type streamLayer struct{ t *Transport }

var _ raft.StreamLayer = streamLayer{}

// Accept returns the next authenticated Raft connection.
func (s streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.t.raftCh:
		return c, nil
	case <-s.t.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close is called by NetworkTransport.Close, from Transport.Close: the
// transport closes itself there.
func (s streamLayer) Close() error { return nil }

// Addr is this member's address as the member list gives it: what Raft
// tells others to reach it by.
func (s streamLayer) Addr() net.Addr { return memberAddr(s.t.self.Address) }

// Dial opens an authenticated Raft connection to the member at address.
func (s streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	m, ok := s.t.member(func(m Member) bool { return m.Address == string(address) })
	if !ok {
		return nil, fmt.Errorf("dial %s: no member at this address", address)
	}
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return s.t.dialMember(ctx, m, ALPNRaft)
}

// addressBook gives Raft each member's address from the member list, so
// that an address changed in the configuration wins over the one Raft's
// stored configuration holds.
type addressBook struct{ t *Transport }

func (b addressBook) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	m, ok := b.t.member(func(m Member) bool { return m.Name == string(id) })
	if !ok {
		return "", fmt.Errorf("no member named %q", id)
	}
	return raft.ServerAddress(m.Address), nil
}

type memberAddr string

func (a memberAddr) Network() string { return "tcp" }
func (a memberAddr) String() string  { return string(a) }

// errAbandoned: the other side closed the connection before it sent a
// byte.
var errAbandoned = errors.New("closed before the handshake")

// firstRead is a connection that notes whether anything was read from it.
type firstRead struct {
	net.Conn
	any bool
}

func (f *firstRead) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	if n > 0 {
		f.any = true
	}
	return n, err
}
