package rfc2136_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/rfc2136"
)

const (
	fakeKey    = "clooster."
	fakeSecret = "c2VjcmV0IG9mIHRoZSBmYWtlIHNlcnZlciBmb3IgdGVzdHM="
	fakeZone   = "example.test."
	fakeName   = "www.example.test."
)

// fake starts a DNS server on loopback that hands each request to h, and
// returns its address. It verifies and signs with the fake key.
func fake(t *testing.T, network string, h func(w dns.ResponseWriter, req *dns.Msg)) string {
	t.Helper()
	srv := &dns.Server{
		Handler:       dns.HandlerFunc(h),
		TsigSecret:    map[string]string{fakeKey: fakeSecret},
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }, // UPDATE too
	}
	var addr string
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.PacketConn, addr = pc, pc.LocalAddr().String()
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener, addr = l, l.Addr().String()
	}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	return addr
}

func fakeConfig(addr string) rfc2136.Config {
	return rfc2136.Config{Server: addr, Zone: "example.test", TSIGName: "clooster", TSIGSecret: fakeSecret, Timeout: time.Second}
}

// reply is a signed answer to req: www A 192.0.2.1, TTL 60, for a query;
// NOERROR for an update.
func reply(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg).SetReply(req)
	m.Authoritative = true
	if req.Opcode == dns.OpcodeQuery {
		rr, _ := dns.NewRR(fakeName + " 60 IN A 192.0.2.1")
		m.Answer = []dns.RR{rr}
	}
	sign(m, req)
	return m
}

// sign adds a TSIG to m, a reply to req, for the server to sign.
func sign(m, req *dns.Msg) {
	if t := req.IsTsig(); t != nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
	}
}

func serverTime(t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.Unix()))
	return hex.EncodeToString(b[2:])
}

func TestReplies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		update  bool // Write, else Read
		handler func(w dns.ResponseWriter, req *dns.Msg)
		retry   bool     // wraps a *failover.RetryLater
		is      error    // wraps it
		parts   []string // the error's text contains them
		skew    time.Duration
	}{{
		name: "BADTIME",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg).SetReply(req)
			m.Rcode = dns.RcodeNotAuth
			m.SetTsig(fakeKey, dns.HmacSHA256, 300, int64(req.IsTsig().TimeSigned))
			tsig := m.IsTsig()
			tsig.Error = dns.RcodeBadTime
			tsig.OtherLen = 6
			tsig.OtherData = serverTime(time.Now().Add(10 * time.Minute))
			w.WriteMsg(m)
		},
		retry: true,
		parts: []string{"NOTAUTH, TSIG BADTIME: clock skew: the server's clock is 10m", "ahead of ours, more than TSIG's 300s: fix the clock of one of them (NTP)"},
		skew:  10 * time.Minute,
	}, {
		name: "BADTIME behind",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg).SetReply(req)
			m.Rcode = dns.RcodeNotAuth
			m.SetTsig(fakeKey, dns.HmacSHA256, 300, int64(req.IsTsig().TimeSigned))
			tsig := m.IsTsig()
			tsig.Error = dns.RcodeBadTime
			tsig.OtherLen = 6
			tsig.OtherData = serverTime(time.Now().Add(-time.Hour))
			w.WriteMsg(m)
		},
		retry: true,
		parts: []string{"the server's clock is ", "behind ours"},
		skew:  -time.Hour,
	}, {
		name: "reply signed off our clock",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.IsTsig().TimeSigned = uint64(time.Now().Add(-7 * time.Minute).Unix())
			w.WriteMsg(m)
		},
		retry: true,
		parts: []string{"the reply's TSIG was signed ", "ago by our clock, more than TSIG's 300s"},
		skew:  -7 * time.Minute,
	}, {
		name: "reply signed with another secret",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			b, _, err := dns.TsigGenerate(m, "b3RoZXIgc2VjcmV0", req.IsTsig().MAC, false)
			if err != nil {
				panic(err)
			}
			w.Write(b)
		},
		retry: true,
		parts: []string{`the reply's TSIG does not verify with key "clooster" (hmac-sha256)`},
	}, {
		name:   "NOTAUTH",
		update: true,
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Rcode = dns.RcodeNotAuth
			w.WriteMsg(m)
		},
		is:    failover.ErrRefused, // an update answered with an error did not land
		parts: []string{"update www.example.test. A (zone example.test.) at 127.0.0.1:", "NOTAUTH: the server is not authoritative for zone example.test. (is it the zone's primary"},
	}, {
		name:   "NOTZONE",
		update: true,
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Rcode = dns.RcodeNotZone
			w.WriteMsg(m)
		},
		is:    failover.ErrRefused,
		parts: []string{"NOTZONE: the server does not place www.example.test. in zone example.test."},
	}, {
		name: "SERVFAIL",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Rcode = dns.RcodeServerFailure
			w.WriteMsg(m)
		},
		parts: []string{"read www.example.test. A (zone example.test.)", "SERVFAIL: the server failed to process the request (see its log)"},
	}, {
		name:   "REFUSED",
		update: true,
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Rcode = dns.RcodeRefused
			w.WriteMsg(m)
		},
		retry: true,
		is:    failover.ErrRefused,
		parts: []string{`REFUSED: the key "clooster" may not update www.example.test. A (check the server's update-policy or allow-update for this key)`},
	}, {
		name: "REFUSED query, unsigned",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg).SetReply(req)
			m.Rcode = dns.RcodeRefused
			w.WriteMsg(m)
		},
		retry: true,
		parts: []string{"REFUSED: the server refused the query (does it serve zone example.test.", "(unsigned reply)"},
	}, {
		name: "unsigned answer",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Extra = nil
			w.WriteMsg(m)
		},
		parts: []string{`NOERROR, but the reply is not signed with key "clooster": not believed`},
	}, {
		name:   "unsigned NXRRSET",
		update: true,
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := new(dns.Msg).SetReply(req)
			m.Rcode = dns.RcodeNXRrset
			w.WriteMsg(m)
		},
		parts: []string{"NXRRSET, but the reply is not signed"},
	}, {
		name: "not authoritative",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Authoritative = false
			w.WriteMsg(m)
		},
		parts: []string{"the answer is not authoritative: the server does not serve zone example.test."},
	}, {
		name: "garbage",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			w.Write([]byte("this is not a DNS message at all"))
		},
		parts: []string{"unreadable reply"},
	}, {
		name: "short",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			w.Write([]byte{0})
		},
		parts: []string{"unreadable reply"},
	}, {
		name: "id mismatch",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			b, _, err := dns.TsigGenerate(reply(req), fakeSecret, req.IsTsig().MAC, false)
			if err != nil {
				panic(err)
			}
			binary.BigEndian.PutUint16(b, req.Id+1) // the server sets the request's otherwise
			w.Write(b)
		},
		parts: []string{"unreadable reply: it answers another message (id mismatch)"},
	}, {
		name: "not a response",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Response = false
			w.WriteMsg(m)
		},
		parts: []string{"unreadable reply: not a response to the request"},
	}, {
		name: "no reply",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			w.Close()
		},
		parts: []string{"the server closed the connection without a reply"},
	}, {
		name: "NXDOMAIN",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Answer = nil
			m.Rcode = dns.RcodeNameError
			w.WriteMsg(m)
		},
		is:    failover.ErrMissing,
		parts: []string{"NXDOMAIN: no such name (record missing)"},
	}, {
		name: "other names ignored",
		handler: func(w dns.ResponseWriter, req *dns.Msg) {
			m := reply(req)
			m.Answer[0].Header().Name = "xwww.example.test."
			w.WriteMsg(m)
		},
		is:    failover.ErrMissing,
		parts: []string{"no A RRset at this name"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := tc.handler
			if tc.update {
				// Answer the read for the TTL.
				h = func(w dns.ResponseWriter, req *dns.Msg) {
					if req.Opcode == dns.OpcodeQuery {
						w.WriteMsg(reply(req))
						return
					}
					tc.handler(w, req)
				}
			}
			r, err := rfc2136.New(fakeConfig(fake(t, "tcp", h)), "www", "A")
			if err != nil {
				t.Fatal(err)
			}
			if tc.update {
				err = r.Swap(t.Context(), "192.0.2.1", "192.0.2.2")
			} else {
				_, err = r.Read(t.Context())
			}
			if err == nil {
				t.Fatal("no error")
			}
			var e *rfc2136.Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %v (%T), want an *rfc2136.Error", err, err)
			}
			for _, p := range tc.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not contain %q", err, p)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
			for _, s := range []error{failover.ErrMissing, failover.ErrConflict, failover.ErrRefused} {
				if s != tc.is && errors.Is(err, s) {
					t.Errorf("error %q wraps %v", err, s)
				}
			}
			var rl *failover.RetryLater
			if got := errors.As(err, &rl); got != tc.retry {
				t.Errorf("error %q: RetryLater = %v, want %v", err, got, tc.retry)
			}
			if d := e.Skew - tc.skew; d < -2*time.Second || d > 2*time.Second {
				t.Errorf("Skew = %s, want %s", e.Skew, tc.skew)
			}
			if strings.Contains(err.Error(), fakeSecret) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

// TestUpdateMessage checks what Write and Swap send: one UPDATE of the
// zone, signed, with the prerequisite, the deletion of the RRset and the
// new record with the TTL read.
func TestUpdateMessage(t *testing.T) {
	var mu sync.Mutex
	var got []*dns.Msg
	addr := fake(t, "tcp", func(w dns.ResponseWriter, req *dns.Msg) {
		if err := w.TsigStatus(); err != nil {
			t.Errorf("request TSIG: %v", err)
		}
		mu.Lock()
		got = append(got, req.Copy())
		mu.Unlock()
		w.WriteMsg(reply(req))
	})
	r, err := rfc2136.New(fakeConfig(addr), "www", "A")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Write(t.Context(), "192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	if err := r.Swap(t.Context(), "192.0.2.2 192.0.2.3", "192.0.2.4"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3 (a read for the TTL, then two updates)", len(got))
	}
	if q := got[0]; q.Opcode != dns.OpcodeQuery || q.Question[0].Name != fakeName || q.Question[0].Qtype != dns.TypeA || q.RecursionDesired {
		t.Errorf("first request is not a query for www A without RD:\n%v", q)
	}
	text := func(rrs []dns.RR) string {
		var s []string
		for _, rr := range rrs {
			s = append(s, strings.Join(strings.Fields(rr.String()), " "))
		}
		return strings.Join(s, "\n")
	}
	for i, want := range []struct{ prereq, update string }{{
		"www.example.test. 0 CLASS255 A", // RRset exists, value-independent (class ANY)
		"www.example.test. 0 CLASS255 A\nwww.example.test. 60 IN A 192.0.2.2",
	}, {
		"www.example.test. 0 IN A 192.0.2.2\nwww.example.test. 0 IN A 192.0.2.3", // value-dependent
		"www.example.test. 0 CLASS255 A\nwww.example.test. 60 IN A 192.0.2.4",
	}} {
		u := got[i+1]
		if u.Opcode != dns.OpcodeUpdate || len(u.Question) != 1 || u.Question[0].Name != fakeZone || u.Question[0].Qtype != dns.TypeSOA {
			t.Errorf("update %d: not an UPDATE of %s:\n%v", i, fakeZone, u)
		}
		if g := text(u.Answer); g != want.prereq {
			t.Errorf("update %d: prerequisites\n%s\nwant\n%s", i, g, want.prereq)
		}
		if g := text(u.Ns); g != want.update {
			t.Errorf("update %d: updates\n%s\nwant\n%s", i, g, want.update)
		}
		if u.IsTsig() == nil || u.IsTsig().Hdr.Name != fakeKey {
			t.Errorf("update %d: not signed with %s", i, fakeKey)
		}
	}
}

func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := fakeConfig(l.Addr().String())
	cfg.Timeout = 200 * time.Millisecond
	r, err := rfc2136.New(cfg, "www", "A")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Read(t.Context()) // the listener accepts and never answers
	if err == nil || !strings.Contains(err.Error(), "no reply within") || !strings.Contains(err.Error(), "reachable over tcp") {
		t.Errorf("error = %v, want no reply within 200ms", err)
	}
}

func TestTruncatedUDP(t *testing.T) {
	addr := fake(t, "udp", func(w dns.ResponseWriter, req *dns.Msg) {
		m := reply(req)
		m.Truncated = true
		w.WriteMsg(m)
	})
	cfg := fakeConfig(addr)
	cfg.Transport = "udp"
	r, err := rfc2136.New(cfg, "www", "A")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context()); err == nil || !strings.Contains(err.Error(), "truncated over udp (use tcp)") {
		t.Errorf("error = %v, want truncated", err)
	}
}

// TestMangledReplies: replies with random bytes changed never make it
// panic, and never read as a record other than the one sent.
func TestMangledReplies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var mu sync.Mutex
	addr := fake(t, "tcp", func(w dns.ResponseWriter, req *dns.Msg) {
		m := reply(req)
		b, _, err := dns.TsigGenerate(m, fakeSecret, req.IsTsig().MAC, false)
		if err != nil {
			panic(err)
		}
		mu.Lock()
		for range 1 + rng.IntN(4) {
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		}
		if rng.IntN(4) == 0 {
			b = b[:rng.IntN(len(b))]
		}
		mu.Unlock()
		w.Write(b)
	})
	r, err := rfc2136.New(fakeConfig(addr), "www", "A")
	if err != nil {
		t.Fatal(err)
	}
	for range 300 {
		rec, err := r.Read(t.Context())
		if err == nil && rec.Content != "192.0.2.1" {
			t.Fatalf("a mangled reply read as %q", rec.Content)
		}
	}
}
