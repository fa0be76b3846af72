package watchdog_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/watchdog"
)

// tlsPair returns the two ends of one TLS 1.3 session over loopback TCP,
// its handshake done.
func tlsPair(t *testing.T) (client, server *tls.Conn) {
	t.Helper()
	scfg, err := watchdog.ServerTLS("", "")
	if err != nil {
		t.Fatal(err)
	}
	ccfg, err := watchdog.ClientTLS("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	client, server = tls.Client(a, ccfg), tls.Server(b, scfg)
	t.Cleanup(func() { client.Close(); server.Close() })
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return client, server
}

func TestStreamAuth(t *testing.T) {
	members := func(name string) bool { return name == "a" || name == "b" || name == "c" }
	tests := []struct {
		name       string
		clientKey  string
		clientName string
		expect     string // the server's name the client expects
		serverKey  string
		wantClient string // error text the client's error contains; "" for none
		wantServer string
	}{
		{name: "ok", clientKey: "k", clientName: "b", expect: "a", serverKey: "k"},
		{name: "wrong key", clientKey: "k1", clientName: "b", expect: "a", serverKey: "k2",
			wantClient: "does not match the key", wantServer: "does not match the key"},
		{name: "unknown name", clientKey: "k", clientName: "z", expect: "a", serverKey: "k",
			wantClient: "not a member", wantServer: "not a member"},
		{name: "same name", clientKey: "k", clientName: "a", expect: "a", serverKey: "k",
			wantClient: "same name", wantServer: "same name"},
		{name: "another server", clientKey: "k", clientName: "b", expect: "c", serverKey: "k",
			wantClient: "other_server", wantServer: "other_server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, sc := tlsPair(t)
			srv := watchdog.NewStreamAuth([]byte(tt.serverKey), "a", members)
			cli := watchdog.NewStreamAuth([]byte(tt.clientKey), tt.clientName, nil)
			type result struct {
				name string
				err  error
			}
			done := make(chan result, 1)
			go func() {
				n, err := srv.Server(sc)
				if err != nil {
					sc.Close()
				}
				done <- result{n, err}
			}()
			cerr := cli.Client(cc, tt.expect)
			if cerr != nil {
				cc.Close()
			}
			r := <-done
			check := func(side string, err error, want string) {
				t.Helper()
				switch {
				case want == "" && err != nil:
					t.Errorf("%s: got %v, want no error", side, err)
				case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("%s: got %v, want an error with %q", side, err, want)
				}
			}
			check("client", cerr, tt.wantClient)
			check("server", r.err, tt.wantServer)
			if tt.wantServer == "" && r.name != tt.clientName {
				t.Errorf("server: got name %q, want %q", r.name, tt.clientName)
			}
		})
	}
}

func TestStreamAuthFrameTooLong(t *testing.T) {
	cc, sc := tlsPair(t)
	srv := watchdog.NewStreamAuth([]byte("k"), "a", func(string) bool { return true })
	done := make(chan error, 1)
	go func() {
		_, err := srv.Server(sc)
		done <- err
	}()
	if _, err := cc.Write([]byte{0x04, 0x01}); err != nil { // 1,025 bytes announced
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "frame too long") {
		t.Errorf("got %v, want frame too long", err)
	}
}

func TestLimiterExported(t *testing.T) {
	l := watchdog.NewLimiter()
	for i := range 8 {
		if ok, why, _, _ := l.Admit("192.0.2.1"); !ok {
			t.Fatalf("admit %d: got refused (%s), want admitted", i, why)
		}
	}
	if ok, _, _, _ := l.Admit("192.0.2.1"); ok {
		t.Errorf("9th at once: got admitted, want refused")
	}
	for range 8 {
		l.Done("192.0.2.1", true)
	}
}
