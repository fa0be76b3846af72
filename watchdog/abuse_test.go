package watchdog

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
)

// realPair links two nodes over loopback TCP and returns them with their
// listening address and logs.
func realPair(t *testing.T, store *memStore) (addr string, s1, s2 *Node, logs *logBuf, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stls, _ := ServerTLS("", "")
	ctls, _ := ClientTLS("", "", "")
	logs = &logBuf{}
	base := Config{Key: []byte(testKey), KeepaliveInterval: 250 * time.Millisecond, PeerTimeout: 2 * time.Second,
		FailbackDelay: 30 * time.Second, RecordName: "www.example.com", Preferred: "srv1", Store: store}
	c1, c2 := base, base
	c1.This, c1.Other, c1.Role, c1.Listener, c1.ServerTLS = "srv1", "srv2", "server", ln, stls
	c1.Logger = slog.New(slog.NewTextHandler(logs, nil))
	c2.This, c2.Other, c2.Role, c2.DialAddr, c2.ClientTLS = "srv2", "srv1", "client", ln.Addr().String(), ctls
	if s1, err = New(c1); err != nil {
		t.Fatal(err)
	}
	if s2, err = New(c2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, n := range []*Node{s1, s2} {
		wg.Add(1)
		go func() { defer wg.Done(); n.Run(ctx) }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for s1.Status().Peer.State != PeerUp || s2.Status().Peer.State != PeerUp {
		if time.Now().After(deadline) {
			t.Fatal("pair did not link")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ln.Addr().String(), s1, s2, logs, func() { cancel(); wg.Wait() }
}

// TestFloodWhileLinked: 1,000 connections at once that send garbage, or a
// TLS hello and then nothing, or nothing at all, while the pair is linked.
// The link stays up, nothing is written, the flood is rate-limited and
// logged, and what the flood cost is given back.
func TestFloodWhileLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	store := &memStore{content: "srv1"}
	addr, s1, s2, logs, stop := realPair(t, store)
	defer stop()
	since := s1.Status().Peer.Since
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			switch i % 3 {
			case 0: // garbage
				junk := make([]byte, 512)
				rand.Read(junk)
				c.Write(junk)
			case 1: // a TLS handshake, then silence: a slow loris
				tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
				tc.SetDeadline(time.Now().Add(2 * time.Second))
				tc.Handshake()
			case 2: // nothing at all
			}
		}()
	}
	wg.Wait()
	// Everything unauthenticated is gone after the 5 s handshake limit.
	time.Sleep(handshakeTimeout + time.Second)
	for _, c := range conns {
		c.Close()
	}

	if got := s1.Status().Peer; got.State != PeerUp || !got.Since.Equal(since) {
		t.Errorf("srv1's link: %s since %s, want up since %s (untouched)", got.State, got.Since, since)
	}
	if got := s2.Status().Peer.State; got != PeerUp {
		t.Errorf("srv2's link: %s, want up", got)
	}
	if _, writes := store.get(); len(writes) != 0 {
		t.Errorf("writes during the flood: %q", writes)
	}
	log := logs.String()
	for _, want := range []string{"rejected peer 127.0.0.1: too many handshakes", "rejected peer 127.0.0.1: handshake timeout"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := strings.Count(log, "rejected peer"); n > 600 {
		t.Errorf("%d rejection lines for 1,000 connections: the log is not rate-limited", n)
	}
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 8<<20 {
		t.Errorf("heap in use grew by %d KiB after the flood", grew>>10)
	}
	if n := runtime.NumGoroutine(); n > goroutines+20 {
		t.Errorf("goroutines: %d after the flood, %d before", n, goroutines)
	}
}

// A connection that stalls in any stage is closed 5 s after the accept and
// logged once; it never reaches the node.
func TestHandshakeDeadlineEveryStage(t *testing.T) {
	stages := []struct {
		name string
		do   func(c net.Conn)
	}{
		{"tcp only", func(c net.Conn) {}},
		{"half a tls hello", func(c net.Conn) { c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0xff}) }},
		{"tls, no upgrade", func(c net.Conn) {
			tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}).Handshake()
		}},
		{"upgrade, no hello", func(c net.Conn) {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
			tc.Handshake()
			io.WriteString(tc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		}},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := &memNet{}
				logs := &logBuf{}
				stls, _ := ServerTLS("", "")
				l := &listener{ln: m.listen(), tls: stls, auth: &authenticator{key: []byte(testKey), this: "srv1", other: "srv2"},
					log: slog.New(slog.NewTextHandler(logs, nil)), limit: newLimiter(),
					newLink: func(ws *websocket.Conn, remote string) *link {
						t.Error("a stalled connection became a link")
						return nil
					}}
				ctx, cancel := context.WithCancel(context.Background())
				links := make(chan *link)
				done := make(chan struct{})
				go func() { l.run(ctx, links); close(done) }()
				c, err := m.dial(ctx, "tcp", "srv1")
				if err != nil {
					t.Fatal(err)
				}
				go st.do(c)
				start := time.Now()
				closed := make(chan time.Duration)
				go func() {
					io.Copy(io.Discard, c)
					closed <- time.Since(start)
				}()
				took := <-closed
				if took < handshakeTimeout-time.Millisecond || took > handshakeTimeout+100*time.Millisecond {
					t.Errorf("closed after %s, want %s", took, handshakeTimeout)
				}
				synctest.Wait()
				if n := strings.Count(logs.String(), "rejected peer"); n != 1 {
					t.Errorf("%d rejection lines, want 1:\n%s", n, logs)
				}
				c.Close()
				cancel()
				<-done
			})
		})
	}
}
