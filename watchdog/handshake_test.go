package watchdog

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clooster/clooster/internal/failover"
)

// msgPipe is an in-memory message transport; what one end writes, the other
// reads. It can record what its end received.
type msgPipe struct {
	in  chan []byte
	out chan []byte
}

func newMsgPipe() (*msgPipe, *msgPipe) {
	a, b := make(chan []byte, 8), make(chan []byte, 8)
	return &msgPipe{in: a, out: b}, &msgPipe{in: b, out: a}
}

func (p *msgPipe) ReadMessage() (int, []byte, error) {
	select {
	case m, ok := <-p.in:
		if !ok {
			return 0, nil, io.EOF
		}
		return binaryMessage, m, nil
	case <-time.After(time.Second):
		return 0, nil, errors.New("read timeout")
	}
}

func (p *msgPipe) WriteMessage(_ int, b []byte) error {
	p.out <- append([]byte(nil), b...)
	return nil
}

func (p *msgPipe) close() { close(p.out) }

// script is a messageConn that answers with recorded messages and records
// what it is sent.
type script struct {
	replies [][]byte
	sent    [][]byte
}

func (s *script) ReadMessage() (int, []byte, error) {
	if len(s.replies) == 0 {
		return 0, nil, io.EOF
	}
	m := s.replies[0]
	s.replies = s.replies[1:]
	return binaryMessage, m, nil
}

func (s *script) WriteMessage(_ int, b []byte) error {
	s.sent = append(s.sent, append([]byte(nil), b...))
	return nil
}

func authPair(clientKey, serverKey string) (*authenticator, *authenticator) {
	return &authenticator{key: []byte(clientKey), this: "srv2", other: "srv1"},
		&authenticator{key: []byte(serverKey), this: "srv1", other: "srv2"}
}

// handshake runs both sides over a msgPipe with the given channel bindings.
func handshake(c, s *authenticator, ccb, scb []byte) (cerr, serr error) {
	cp, sp := newMsgPipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		serr = s.server(sp, scb)
		if serr != nil {
			sp.close()
		}
	}()
	cerr = c.client(cp, ccb)
	wg.Wait()
	return cerr, serr
}

var cb1 = bytes.Repeat([]byte{1}, 32)

func TestHandshake(t *testing.T) {
	tests := []struct {
		name       string
		ckey, skey string
		ccb, scb   []byte
		cname      string
		sname      string
		wantServer string // substring of the server's error, "" for success
		wantClient string
		kind       string // the refusal both sides report
	}{
		{name: "same key", ckey: testKey, skey: testKey, ccb: cb1, scb: cb1},
		{name: "wrong key", ckey: testKey, skey: "another key of 32 bytes, really!", ccb: cb1, scb: cb1,
			wantServer: `"srv2" answers the handshake, but its proof does not match the key of "srv1"`,
			wantClient: `srv1 says "srv2" answers the handshake, but its proof does not match`, kind: failover.ProblemKey},
		{name: "different TLS sessions (a relay)", ckey: testKey, skey: testKey, ccb: cb1, scb: bytes.Repeat([]byte{2}, 32),
			wantServer: "its proof does not match", wantClient: "its proof does not match", kind: failover.ProblemKey},
		{name: "unknown client name", ckey: testKey, skey: testKey, ccb: cb1, scb: cb1, cname: "mallory",
			wantServer: `the peer calls itself "mallory", but the other_server of "srv1" is "srv2"`,
			wantClient: `srv1 says the peer calls itself "mallory"`, kind: failover.ProblemName},
		{name: "unknown server name", ckey: testKey, skey: testKey, ccb: cb1, scb: cb1, sname: "srv9",
			wantServer: `srv2 says the peer calls itself "srv9", but the other_server of "srv2" is "srv1"`,
			wantClient: `the peer calls itself "srv9"`, kind: failover.ProblemName},
		{name: "same name", ckey: testKey, skey: testKey, ccb: cb1, scb: cb1, cname: "srv1",
			wantServer: `the peer calls itself "srv1" too: both nodes have the same name`, wantClient: "srv1 says", kind: failover.ProblemSameName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := authPair(tt.ckey, tt.skey)
			if tt.cname != "" {
				c.this = tt.cname
			}
			if tt.sname != "" {
				s.this = tt.sname
			}
			cerr, serr := handshake(c, s, tt.ccb, tt.scb)
			check := func(side string, err error, want string) {
				t.Helper()
				switch {
				case want == "" && err != nil:
					t.Errorf("%s: got %v, want success", side, err)
				case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("%s: got %v, want an error with %q", side, err, want)
				}
			}
			check("server", serr, tt.wantServer)
			check("client", cerr, tt.wantClient)
			for side, err := range map[string]error{"server": serr, "client": cerr} {
				r, ok := errors.AsType[*refusal](err)
				switch {
				case tt.kind == "" && ok:
					t.Errorf("%s: a refusal %+v", side, r)
				case tt.kind != "" && (!ok || r.Kind != tt.kind || !r.Told):
					t.Errorf("%s: %v (refusal %+v), want a refusal of kind %s, told to the other side", side, err, r, tt.kind)
				}
			}
			if tt.kind == failover.ProblemKey && !errors.Is(serr, errBadProof) {
				t.Errorf("server: %v is not %v", serr, errBadProof)
			}
		})
	}
}

// A recorded client handshake, replayed to the server later, fails: the
// server's nonce is new, and so is the TLS session.
func TestHandshakeReplayFails(t *testing.T) {
	c, s := authPair(testKey, testKey)
	// Record what an honest client sends in a successful handshake.
	cp, sp := newMsgPipe()
	var recorded [][]byte
	done := make(chan error, 1)
	go func() {
		rec := &recorder{messageConn: sp}
		err := s.server(rec, cb1)
		recorded = rec.got
		done <- err
	}()
	if err := c.client(cp, cb1); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 2 {
		t.Fatalf("recorded %d client messages, want 2", len(recorded))
	}
	for _, cb := range [][]byte{cb1, bytes.Repeat([]byte{3}, 32)} {
		replay := &script{replies: recorded}
		err := s.server(replay, cb)
		if !errors.Is(err, errBadProof) {
			t.Errorf("replay (same binding %v): got %v, want %v", bytes.Equal(cb, cb1), err, errBadProof)
		}
		for _, m := range replay.sent {
			if typ, _, _ := decodeFrame(m); typ == frameProof {
				t.Errorf("the server proved itself to a replayed client")
			}
		}
	}
}

type recorder struct {
	messageConn
	got [][]byte
}

func (r *recorder) ReadMessage() (int, []byte, error) {
	mt, b, err := r.messageConn.ReadMessage()
	if err == nil {
		r.got = append(r.got, b)
	}
	return mt, b, err
}

// The server never answers anything keyed before the client has proved
// itself: a prober learns no MAC to attack offline.
func TestServerProvesOnlyAfterClient(t *testing.T) {
	_, s := authPair(testKey, testKey)
	h := hello{Role: roleClient, Name: "srv2"}
	probe := &script{replies: [][]byte{h.encode(), proof{}.encode()}}
	if err := s.server(probe, cb1); !errors.Is(err, errBadProof) {
		t.Fatalf("got %v, want %v", err, errBadProof)
	}
	// Its hello, and why it refuses: no proof.
	var types []frameType
	for _, m := range probe.sent {
		typ, _, _ := decodeFrame(m)
		types = append(types, typ)
	}
	if !slices.Equal(types, []frameType{frameHello, frameBye}) {
		t.Fatalf("server sent frames %v, want its hello and a bye", types)
	}
}

func TestHandshakeMalformed(t *testing.T) {
	good := hello{Role: roleClient, Name: "srv2"}.encode()
	tests := []struct {
		name string
		msgs [][]byte
		want error
	}{
		{"empty", [][]byte{{}}, errFrameShort},
		{"version 1", [][]byte{{1, byte(frameHello)}}, errFrameVersion},
		{"version 3", [][]byte{{3, byte(frameHello)}}, errFrameVersion},
		{"proof first", [][]byte{proof{}.encode()}, errFrameType},
		{"truncated hello", [][]byte{good[:20]}, errFrameLayout},
		{"name length lies", [][]byte{append(append([]byte(nil), good[:len(good)-5]...), 'x')}, errFrameLayout},
		{"control chars in name", [][]byte{hello{Role: roleClient, Name: "srv2\n"}.encode()}, errFrameLayout},
		{"oversized", [][]byte{append(good, make([]byte, maxFrameSize)...)}, errFrameLong},
		{"short proof", [][]byte{good, proof{}.encode()[:10]}, errFrameLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := authPair(testKey, testKey)
			err := s.server(&script{replies: tt.msgs}, cb1)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestChannelBindingNeedsTLS13(t *testing.T) {
	if _, err := channelBinding(tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS12}); err == nil {
		t.Error("TLS 1.2 accepted")
	}
}

// A TLS-terminating man in the middle relays every byte of the websocket
// faithfully between two TLS sessions; the handshake still fails, because
// each side binds its proof to its own session.
func TestRelayThroughTLSTerminatorFails(t *testing.T) {
	server, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mitm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mitm.Close()
	stls, _ := ServerTLS("", "")
	mitmTLS, _ := ServerTLS("", "")
	ctls, _ := ClientTLS("", "", "")

	logs := &logBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, s := authPair(testKey, testKey)
	l := &listener{ln: server, tls: stls, auth: s, log: slog.New(slog.NewTextHandler(logs, nil)), limit: newLimiter(),
		newLink: func(ws *websocket.Conn, remote string) *link {
			return newLink(ws, remote, time.Second, 5*time.Second, func() byte { return 0 }, info{}, false)
		}}
	links := make(chan *link, 1)
	go l.run(ctx, links)

	// The relay: TLS to the client with its own certificate, TLS to the
	// server as a client, plaintext copied both ways.
	go func() {
		for {
			in, err := mitm.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				up, err := tls.Dial("tcp", server.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
				if err != nil {
					return
				}
				defer up.Close()
				down := tls.Server(in, mitmTLS)
				go io.Copy(up, down)
				io.Copy(down, up)
			}()
		}
	}()

	d := &dialer{addr: mitm.Addr().String(), dial: (&net.Dialer{}).DialContext, tls: ctls, auth: c,
		log: slog.New(slog.DiscardHandler), newLink: l.newLink}
	_, err = d.connect(ctx)
	if err == nil {
		t.Fatal("handshake through a relay succeeded")
	}
	select {
	case <-links:
		t.Fatal("the server accepted a relayed link")
	case <-time.After(200 * time.Millisecond):
	}
	for i := 0; i < 100 && !strings.Contains(logs.String(), "rejected peer 127.0.0.1: bad proof"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "rejected peer 127.0.0.1: bad proof") {
		t.Errorf("server log lacks the rejection:\n%s", logs)
	}

	// Without the relay, the same client and server link.
	d.addr = server.Addr().String()
	lk, err := d.connect(ctx)
	if err != nil {
		t.Fatalf("direct handshake: %v", err)
	}
	lk.close(byeShutdown, "test over")
	(<-links).close(byeShutdown, "test over")
}

func TestFingerprintPinning(t *testing.T) {
	stls, _ := ServerTLS("", "")
	other, _ := ServerTLS("", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { tc := tls.Server(c, stls); tc.Handshake(); tc.Close() }()
		}
	}()
	for _, tt := range []struct {
		name string
		fp   string
		ok   bool
	}{
		{"right certificate", Fingerprint(stls), true},
		{"right, with colons and capitals", colons(strings.ToUpper(Fingerprint(stls))), true},
		{"another certificate", Fingerprint(other), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ClientTLS("", "", tt.fp)
			if err != nil {
				t.Fatal(err)
			}
			c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if c != nil {
				c.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := ClientTLS("", "", "abc"); err == nil {
		t.Error("short fingerprint accepted")
	}
}

func colons(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(s[i : i+2])
	}
	return b.String()
}
