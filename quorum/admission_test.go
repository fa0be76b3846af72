package quorum_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/quorum"
)

// pipeListener is an in-memory listener: connect hands it one end of a
// net.Pipe, as if from host.
type pipeListener struct {
	addr string
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newPipeListener(addr string) *pipeListener {
	return &pipeListener{addr: addr, ch: make(chan net.Conn, 128), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", l.addr)
	return a
}

// connect opens a connection from host; the test closes it.
func (l *pipeListener) connect(t *testing.T, host string) net.Conn {
	c, s := net.Pipe()
	t.Cleanup(func() { c.Close() })
	l.ch <- fromHost{Conn: s, host: host}
	return c
}

// admitted connects from host and reports whether the listener took the
// connection into its handshake (rather than closing it at once).
func (l *pipeListener) admitted(t *testing.T, host string) bool {
	c := l.connect(t, host)
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(closed)
	}()
	synctest.Wait()
	select {
	case <-closed:
		return false
	default:
		return true
	}
}

type fromHost struct {
	net.Conn
	host string
}

func (c fromHost) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.ParseIP(c.host), Port: 40000} }

// pipeMember serves member "a" of a, b, c on an in-memory listener, under
// synctest; it returns the listener and the log.
func pipeMember(t *testing.T) (*pipeListener, *logRecorder) {
	members := []quorum.Member{
		{Name: "a", Address: "10.0.0.1:7000", Role: quorum.RoleNode},
		{Name: "b", Address: "10.0.0.2:7000", Role: quorum.RoleNode},
		{Name: "c", Address: "10.0.0.3:7000", Role: quorum.RoleWitness},
	}
	ln := newPipeListener(members[0].Address)
	rec := newLogRecorder()
	cfg := baseConfig(t, "a", members, ln)
	cfg.Log = slog.New(rec)
	serve(t, cfg)
	return ln, rec
}

func TestHandshakeBudget(t *testing.T) {
	tests := []struct {
		name string
		// stall does what the client does before it falls silent.
		stall   func(t *testing.T, c net.Conn)
		wantLog string
	}{
		{name: "before tls", stall: func(*testing.T, net.Conn) {}, wantLog: "rejected peer 192.0.2.7: tls handshake"},
		{name: "before hello", stall: func(t *testing.T, c net.Conn) {
			_, cfg := tlsConfigs(t)
			cfg.NextProtos = []string{quorum.ALPNRaft}
			if err := tls.Client(c, cfg).Handshake(); err != nil {
				t.Fatalf("tls handshake: %v", err)
			}
		}, wantLog: "rejected peer 192.0.2.7: clooster-raft/1: read hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ln, rec := pipeMember(t)
				start := time.Now()
				c := ln.connect(t, "192.0.2.7")
				tt.stall(t, c)
				synctest.Wait()
				if rec.has("rejected peer") {
					t.Fatalf("rejected at once, want after %v", 5*time.Second)
				}
				io.Copy(io.Discard, c) // until the listener closes it
				if got, want := time.Since(start), 5*time.Second; got != want {
					t.Errorf("closed after %v, want %v", got, want)
				}
				synctest.Wait()
				if !rec.has(tt.wantLog) {
					t.Errorf("got log %q, want a line with %q", rec.lines, tt.wantLog)
				}
			})
		})
	}
}

func TestAdmissionLimits(t *testing.T) {
	t.Run("8 per address", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ln, rec := pipeMember(t)
			for i := range 8 {
				if !ln.admitted(t, "192.0.2.1") {
					t.Fatalf("connection %d: got refused, want admitted", i+1)
				}
			}
			if ln.admitted(t, "192.0.2.1") {
				t.Errorf("connection 9: got admitted, want refused")
			}
			if !ln.admitted(t, "192.0.2.2") {
				t.Errorf("another address: got refused, want admitted")
			}
			if want := "rejected peer 192.0.2.1: too many handshakes from this address"; !rec.has(want) {
				t.Errorf("got log %q, want %q", rec.lines, want)
			}
		})
	})
	t.Run("64 at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ln, rec := pipeMember(t)
			for i := range 64 {
				if !ln.admitted(t, fmt.Sprintf("192.0.2.%d", 1+i/8)) {
					t.Fatalf("connection %d: got refused, want admitted", i+1)
				}
			}
			if ln.admitted(t, "198.51.100.1") {
				t.Errorf("connection 65: got admitted, want refused")
			}
			if want := "rejected peer 198.51.100.1: too many handshakes in progress"; !rec.has(want) {
				t.Errorf("got log %q, want %q", rec.lines, want)
			}
		})
	})
	t.Run("10 failures, then one every 2 s", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ln, rec := pipeMember(t)
			fail := func() {
				// Bytes that are not TLS: a failure. (One closed before a
				// byte is abandoned, and not counted: TestAbandonedConnections.)
				c := ln.connect(t, "192.0.2.9")
				go func() { c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); c.Close() }()
				synctest.Wait()
			}
			for range 10 {
				fail()
			}
			if rec.has("rate limited") {
				t.Fatalf("got log %q, want no rate limit before 10 failures", rec.lines)
			}
			if ln.admitted(t, "192.0.2.9") {
				t.Errorf("after 10 failures: got admitted, want refused")
			}
			if want := "rejected peer 192.0.2.9: rate limited"; !rec.has(want) {
				t.Fatalf("got log %q, want %q", rec.lines, want)
			}
			time.Sleep(1900 * time.Millisecond)
			if ln.admitted(t, "192.0.2.9") {
				t.Errorf("after 1.9 s: got admitted, want refused")
			}
			time.Sleep(100 * time.Millisecond)
			if !ln.admitted(t, "192.0.2.9") {
				t.Errorf("after 2 s: got refused, want one more try admitted")
			}
			fail() // that try's token spent
			if ln.admitted(t, "192.0.2.9") {
				t.Errorf("after the try failed: got admitted, want refused")
			}
		})
	})
}

// TestCloseUnderSynctest closes a transport with connections in every
// stage; synctest fails the test if any goroutine of the bubble is left.
func TestCloseUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		members := []quorum.Member{
			{Name: "a", Address: "10.0.0.1:7000", Role: quorum.RoleNode},
			{Name: "b", Address: "10.0.0.2:7000", Role: quorum.RoleNode},
		}
		lns := map[string]*pipeListener{}
		for _, m := range members {
			lns[m.Address] = newPipeListener(m.Address)
		}
		dial := func(host string) func(ctx context.Context, network, address string) (net.Conn, error) {
			return func(ctx context.Context, network, address string) (net.Conn, error) {
				l := lns[address]
				if l == nil {
					return nil, fmt.Errorf("dial %s: unreachable", address)
				}
				c, s := net.Pipe()
				l.ch <- fromHost{Conn: s, host: host}
				return c, nil
			}
		}
		var trs []*quorum.Transport
		var served sync.WaitGroup
		for i, m := range members {
			cfg := baseConfig(t, m.Name, members, lns[m.Address])
			cfg.Dial = dial(fmt.Sprintf("10.0.0.%d", i+1))
			tr, err := quorum.NewTransport(cfg)
			if err != nil {
				t.Fatal(err)
			}
			trs = append(trs, tr)
			served.Go(func() { tr.Serve(t.Context()) })
		}
		st, err := trs[0].Status(t.Context(), members[1])
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		if st.Name != "b" {
			t.Errorf("status: got name %q, want b", st.Name)
		}
		lns[members[1].Address].connect(t, "192.0.2.1") // stalled
		synctest.Wait()
		for _, tr := range trs {
			tr.Close()
		}
		served.Wait()
	})
}
