package quorum_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/clooster/clooster/quorum"
	"github.com/clooster/clooster/watchdog"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// logRecorder is a slog handler that keeps every message, and lets a test
// wait for one.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
}

func newLogRecorder() *logRecorder { return &logRecorder{ch: make(chan string, 256)} }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.lines = append(r.lines, rec.Message)
	r.mu.Unlock()
	select {
	case r.ch <- rec.Message:
	default:
	}
	return nil
}

// has reports whether a line logged so far contains s.
func (r *logRecorder) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// count returns how many lines logged so far contain s.
func (r *logRecorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// wait waits, at most 10 s, for a line that contains s.
func (r *logRecorder) wait(t *testing.T, s string) {
	t.Helper()
	if r.has(s) {
		return
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case l := <-r.ch:
			if strings.Contains(l, s) {
				return
			}
		case <-timeout.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("got log %q, want a line with %q", r.lines, s)
		}
	}
}

// loopbackMembers listens on a loopback port for each name and returns the
// members and their listeners.
func loopbackMembers(t *testing.T, names ...string) ([]quorum.Member, map[string]net.Listener) {
	t.Helper()
	var members []quorum.Member
	lns := make(map[string]net.Listener)
	for i, n := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		lns[n] = ln
		members = append(members, quorum.Member{Name: n, Address: ln.Addr().String(), Priority: i, Role: quorum.RoleNode})
	}
	return members, lns
}

func tlsConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	server, err := watchdog.ServerTLS("", "")
	if err != nil {
		t.Fatal(err)
	}
	client, err = watchdog.ClientTLS("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}

// baseConfig is member self's configuration with the test key, its own
// certificate and a status that names it.
func baseConfig(t *testing.T, self string, members []quorum.Member, ln net.Listener) quorum.TransportConfig {
	st, ct := tlsConfigs(t)
	return quorum.TransportConfig{
		Self: self, Members: members, Key: testKey, ServerTLS: st, ClientTLS: ct, Listener: ln,
		Status:  func() quorum.MemberStatus { return quorum.MemberStatus{Name: self, Role: quorum.RoleNode} },
		RaftLog: hclog.NewNullLogger(),
	}
}

// serve starts a transport and stops it at the end of the test, checking
// that Serve returns.
func serve(t *testing.T, cfg quorum.TransportConfig) *quorum.Transport {
	t.Helper()
	tr, err := quorum.NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Serve(context.Background()) }()
	t.Cleanup(func() {
		tr.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: got %v, want nil", err)
		}
	})
	return tr
}

// noLeak waits, a bounded time, for the goroutines to come back to at most
// before.
func noLeak(t *testing.T, before int) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range 500 {
		if runtime.NumGoroutine() <= before {
			return
		}
		<-tick.C
	}
	buf := make([]byte, 1<<20)
	t.Errorf("goroutines: got %d, want at most %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
}

// chanFSM hands every applied entry to a channel.
type chanFSM struct{ ch chan string }

func (f *chanFSM) Apply(l *raft.Log) any {
	select {
	case f.ch <- string(l.Data):
	default:
	}
	return nil
}
func (f *chanFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (f *chanFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnapshot struct{}

func (nopSnapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnapshot) Release()                          {}

func TestRaftOverTransport(t *testing.T) {
	before := runtime.NumGoroutine()
	names := []string{"a", "b", "c"}
	members, lns := loopbackMembers(t, names...)
	var servers []raft.Server
	for _, m := range members {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Address)})
	}
	var (
		rafts      []*raft.Raft
		fsms       []*chanFSM
		transports []*quorum.Transport
	)
	ctx, cancel := context.WithCancel(context.Background())
	var served sync.WaitGroup
	for _, n := range names {
		tr, err := quorum.NewTransport(baseConfig(t, n, members, lns[n]))
		if err != nil {
			t.Fatal(err)
		}
		transports = append(transports, tr)
		served.Go(func() { tr.Serve(ctx) })

		c := raft.DefaultConfig()
		c.LocalID = raft.ServerID(n)
		c.HeartbeatTimeout = 300 * time.Millisecond
		c.ElectionTimeout = 300 * time.Millisecond
		c.LeaderLeaseTimeout = 150 * time.Millisecond
		c.CommitTimeout = 5 * time.Millisecond
		c.Logger = hclog.NewNullLogger()
		logs, stable, snaps := raft.NewInmemStore(), raft.NewInmemStore(), raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(c, logs, stable, snaps, tr.Raft(), raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		fsm := &chanFSM{ch: make(chan string, 16)}
		r, err := raft.NewRaft(c, fsm, logs, stable, snaps, tr.Raft())
		if err != nil {
			t.Fatal(err)
		}
		rafts, fsms = append(rafts, r), append(fsms, fsm)
	}
	defer func() {
		for _, r := range rafts {
			if err := r.Shutdown().Error(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}
		cancel() // Serve closes each transport
		served.Wait()
		for _, tr := range transports {
			tr.Close()
		}
		noLeak(t, before)
	}()

	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	// On a loaded machine a leader can lose its lease: apply again on the
	// next one, a bounded number of times.
	var err error
	for range 10 {
		var leader *raft.Raft
		for leader == nil {
			for _, r := range rafts {
				if r.State() == raft.Leader {
					leader = r
				}
			}
			if leader != nil {
				break
			}
			select {
			case <-rafts[0].LeaderCh():
			case <-rafts[1].LeaderCh():
			case <-rafts[2].LeaderCh():
			case <-timeout.C:
				t.Fatal("no leader elected within 30 s")
			}
		}
		err = leader.Apply([]byte("entry 1"), 10*time.Second).Error()
		if !errors.Is(err, raft.ErrLeadershipLost) && !errors.Is(err, raft.ErrNotLeader) {
			break
		}
	}
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for i, f := range fsms {
		select {
		case got := <-f.ch:
			if got != "entry 1" {
				t.Errorf("%s applied %q, want %q", names[i], got, "entry 1")
			}
		case <-timeout.C:
			t.Fatalf("%s did not apply the entry within 20 s", names[i])
		}
	}
}

func TestControl(t *testing.T) {
	members, lns := loopbackMembers(t, "a", "b", "c")
	var (
		mu    sync.Mutex
		added []string
	)
	bcfg := baseConfig(t, "b", members, lns["b"])
	want := quorum.MemberStatus{Name: "b", Role: quorum.RoleNode, Healthy: true, HealthyFor: 90 * time.Second, LastIndex: 42, Version: "1.2.3"}
	bcfg.Status = func() quorum.MemberStatus { return want }
	bcfg.AddVoter = func(_ context.Context, name, address string) error {
		mu.Lock()
		defer mu.Unlock()
		added = append(added, name+" "+address)
		return nil
	}
	bcfg.RemoveServer = func(_ context.Context, name string) error {
		return fmt.Errorf("remove %s: %w", name, quorum.ErrNotLeader)
	}
	a := serve(t, baseConfig(t, "a", members, lns["a"]))
	serve(t, bcfg)
	serve(t, baseConfig(t, "c", members, lns["c"])) // no membership functions
	ctx := t.Context()

	got, err := a.Status(ctx, members[1])
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if got != want {
		t.Errorf("status: got %+v, want %+v", got, want)
	}

	tests := []struct {
		name    string
		do      func() error
		wantErr error // nil: success
	}{
		{name: "add voter", do: func() error { return a.AddVoter(ctx, members[1], "d", "127.0.0.1:9") }},
		{name: "remove, not the leader", do: func() error { return a.RemoveServer(ctx, members[1], "c") }, wantErr: quorum.ErrNotLeader},
		{name: "add voter, unsupported", do: func() error { return a.AddVoter(ctx, members[2], "d", "127.0.0.1:9") }, wantErr: quorum.ErrUnsupported},
		{name: "remove, unsupported", do: func() error { return a.RemoveServer(ctx, members[2], "d") }, wantErr: quorum.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(added) != 1 || added[0] != "d 127.0.0.1:9" {
		t.Errorf("added: got %q, want [\"d 127.0.0.1:9\"]", added)
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name string
		// try connects to the member a at addr; it returns the client's
		// error, "" if there is none to check.
		try     func(t *testing.T, members []quorum.Member, addr string) error
		wantErr string // in the client's error
		wantLog string // in the server's log
	}{
		{
			name: "wrong key",
			try: func(t *testing.T, members []quorum.Member, _ string) error {
				cfg := baseConfig(t, "b", members, nil)
				cfg.Key = []byte("another key, another key, another")
				var refused []string
				cfg.KeyRefused = func(m quorum.Member) { refused = append(refused, m.Name) }
				err := statusFrom(t, cfg, members[0])
				if !slices.Equal(refused, []string{"a"}) {
					t.Errorf("KeyRefused: got %v, want [a]", refused)
				}
				return err
			},
			wantErr: "does not match the key", wantLog: "rejected peer 127.0.0.1: bad proof (wrong key?)",
		},
		{
			name: "unknown name",
			try: func(t *testing.T, members []quorum.Member, _ string) error {
				others := append([]quorum.Member{{Name: "z", Address: "127.0.0.1:1", Role: quorum.RoleNode}}, members...)
				return statusFrom(t, baseConfig(t, "z", others, nil), members[0])
			},
			wantErr: "not a member", wantLog: "not a member of the cluster",
		},
		{
			name: "another member answers",
			try: func(t *testing.T, members []quorum.Member, _ string) error {
				swapped := []quorum.Member{members[1], members[2], members[0]}
				swapped[0].Address, swapped[2].Address = members[0].Address, members[1].Address
				return statusFrom(t, baseConfig(t, "c", swapped, nil), swapped[0])
			},
			wantErr: `the peer calls itself "a"`, wantLog: "rejected peer 127.0.0.1",
		},
		{
			// The operator's name opens the control protocol (clooster
			// cluster) and nothing else.
			name: "the operator's name on raft",
			try: func(t *testing.T, members []quorum.Member, _ string) error {
				others := append([]quorum.Member{{Name: quorum.OperatorName, Address: "127.0.0.1:1", Role: quorum.RoleNode}}, members...)
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				cfg := baseConfig(t, quorum.OperatorName, others, ln)
				tr := serve(t, cfg)
				var resp raft.RequestVoteResponse
				return tr.Raft().RequestVote(raft.ServerID(members[0].Name), raft.ServerAddress(members[0].Address), &raft.RequestVoteRequest{Term: 1}, &resp)
			},
			wantLog: `is an operator's command, not a member`,
		},
		{
			name: "plaintext",
			try: func(t *testing.T, _ []quorum.Member, addr string) error {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = io.ReadAll(c)
				return err
			},
			wantLog: "rejected peer 127.0.0.1: tls handshake",
		},
		{
			name: "http/1.1 alpn",
			try: func(t *testing.T, _ []quorum.Member, addr string) error {
				return tlsTo(t, addr, "http/1.1")
			},
			wantErr: "no application protocol", wantLog: "rejected peer 127.0.0.1: tls handshake",
		},
		{
			name: "no alpn",
			try: func(t *testing.T, _ []quorum.Member, addr string) error {
				return tlsTo(t, addr, "")
			},
			wantErr: "EOF", wantLog: "rejected peer 127.0.0.1: no clooster protocol negotiated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			members, lns := loopbackMembers(t, "a", "b", "c")
			rec := newLogRecorder()
			cfg := baseConfig(t, "a", members, lns["a"])
			cfg.Log = slog.New(rec)
			serve(t, cfg)
			err := tt.try(t, members, members[0].Address)
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("client: got %v, want an error with %q", err, tt.wantErr)
			}
			rec.wait(t, tt.wantLog)
		})
	}
}

// statusFrom asks member m's status from a transport of configuration cfg.
func statusFrom(t *testing.T, cfg quorum.TransportConfig, m quorum.Member) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	tr := serve(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = tr.Status(ctx, m)
	return err
}

// tlsTo runs a TLS handshake with addr offering the ALPN protocol proto (none
// if empty), then reads until the server closes.
func tlsTo(t *testing.T, addr, proto string) error {
	t.Helper()
	_, cfg := tlsConfigs(t)
	cfg.NextProtos = nil
	if proto != "" {
		cfg.NextProtos = []string{proto}
	}
	d := &tls.Dialer{Config: cfg}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	members, lns := loopbackMembers(t, "a", "b")
	a, err := quorum.NewTransport(baseConfig(t, "a", members, lns["a"]))
	if err != nil {
		t.Fatal(err)
	}
	b, err := quorum.NewTransport(baseConfig(t, "b", members, lns["b"]))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- a.Serve(context.Background()) }()
	go func() { served <- b.Serve(context.Background()) }()

	// A Raft RPC under way (no Raft consumes it at b), a control
	// exchange done, and a connection stalled in its handshake.
	rpc := make(chan error, 1)
	go func() {
		var resp raft.AppendEntriesResponse
		rpc <- a.Raft().AppendEntries("b", raft.ServerAddress(members[1].Address), &raft.AppendEntriesRequest{}, &resp)
	}()
	select {
	case <-b.Raft().Consumer(): // arrived; left unanswered
	case <-time.After(10 * time.Second):
		t.Fatal("the rpc did not arrive within 10 s")
	}
	if _, err := a.Status(t.Context(), members[1]); err != nil {
		t.Fatalf("status: %v", err)
	}
	stalled, err := net.Dial("tcp", members[1].Address)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()

	a.Close()
	b.Close()
	if err := <-rpc; err == nil {
		t.Errorf("rpc after close: got nil, want an error")
	}
	for range 2 {
		if err := <-served; err != nil {
			t.Errorf("serve: got %v, want nil", err)
		}
	}
	if _, err := a.Status(t.Context(), members[1]); err == nil {
		t.Errorf("status after close: got nil, want an error")
	}
	noLeak(t, before)
}

func TestSetMembers(t *testing.T) {
	members, lns := loopbackMembers(t, "a", "b", "c")
	rec := newLogRecorder()
	acfg := baseConfig(t, "a", members, lns["a"])
	acfg.Log = slog.New(rec)
	a := serve(t, acfg)
	b := serve(t, baseConfig(t, "b", members, lns["b"]))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := b.Status(ctx, members[0]); err != nil {
		t.Fatalf("status before: %v", err)
	}

	moved := append([]quorum.Member(nil), members...)
	moved[0].Address = "127.0.0.1:1"
	tests := []struct {
		name    string
		members []quorum.Member
		wantErr string
	}{
		{name: "own address changed", members: moved, wantErr: "the address of \"a\" changed"},
		{name: "without this member", members: members[1:], wantErr: "no member named \"a\""},
		{name: "name twice", members: append(members[:3:3], members[1]), wantErr: "name \"b\" twice"},
		{name: "b removed", members: []quorum.Member{members[0], members[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.SetMembers(tt.members)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := b.Status(ctx, members[0]); err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Errorf("status after b was removed: got %v, want an error with %q", err, "not a member")
	}
	rec.wait(t, "not a member of the cluster")
}

// Connections closed before a byte of TLS (a member's dials that gave up
// while this process was frozen) are neither rejections nor failures: a
// dozen of them leave the address its allowance, and nothing for
// fail2ban in the log.
func TestAbandonedConnections(t *testing.T) {
	members, lns := loopbackMembers(t, "a", "b", "c")
	rec := newLogRecorder()
	cfg := baseConfig(t, "a", members, lns["a"])
	cfg.Log = slog.New(rec)
	serve(t, cfg)
	// One after the other: a dozen at once would be more than an
	// address may have in their handshake at a time.
	for i := range 12 {
		c, err := net.Dial("tcp", members[0].Address)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		for deadline := time.Now().Add(10 * time.Second); rec.count("connection closed before its handshake") <= i; {
			if time.Now().After(deadline) {
				t.Fatalf("connection %d closed before its handshake: not logged within 10 s", i+1)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := statusFrom(t, baseConfig(t, "b", members, nil), members[0]); err != nil {
		t.Errorf("a member's status request after a dozen abandoned connections: %v", err)
	}
	if rec.has("rejected peer") {
		t.Error("abandoned connections logged as rejections")
	}
}

// The leader's STATUS requests to a member share one connection: one
// handshake, not one per question. A member that closed it (restarted) is
// dialled anew, and a membership change has a connection of its own.
func TestStatusKeepsItsConnection(t *testing.T) {
	members, lns := loopbackMembers(t, "a", "b", "c")
	var dials atomic.Int32
	acfg := baseConfig(t, "a", members, lns["a"])
	acfg.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	a := serve(t, acfg)
	bcfg := baseConfig(t, "b", members, lns["b"])
	b, err := quorum.NewTransport(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Serve(context.Background()) }()
	ask := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if st, err := a.Status(ctx, members[1]); err != nil || st.Name != "b" {
			t.Fatalf("status of b: got %+v, %v", st, err)
		}
	}
	for range 20 {
		ask()
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("20 status requests: got %d dials, want 1", n)
	}

	// b restarts on the same port: the kept connection is gone.
	b.Close()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	ln, err := net.Listen("tcp", members[1].Address)
	if err != nil {
		t.Fatal(err)
	}
	bcfg.Listener = ln
	serve(t, bcfg)
	ask()
	ask()
	if n := dials.Load(); n != 2 {
		t.Errorf("after b's restart: got %d dials in all, want 2", n)
	}
}

// A STATUS request whose time runs out during the dial leaves the dial
// to finish (one cut short in its TLS handshake would count as a failure
// at the member): the connection serves the next request, and the member
// logs no rejection.
func TestStatusDialOutlivesItsRequest(t *testing.T) {
	members, lns := loopbackMembers(t, "a", "b", "c")
	var dials atomic.Int32
	acfg := baseConfig(t, "a", members, lns["a"])
	acfg.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		dials.Add(1)
		time.Sleep(100 * time.Millisecond) // a slow path
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
	a := serve(t, acfg)
	rec := newLogRecorder()
	bcfg := baseConfig(t, "b", members, lns["b"])
	bcfg.Log = slog.New(rec)
	serve(t, bcfg)

	short, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := a.Status(short, members[1]); err == nil {
		t.Fatal("status within 10 ms over a 100 ms path: got no error")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		st, err := a.Status(ctx, members[1])
		cancel()
		if err == nil && st.Name == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status of b after the first request timed out: %v", err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("got %d dials, want the one the first request began", n)
	}
	if rec.has("rejected peer") {
		t.Error("b logged a rejection: the dial was cut short")
	}
}
