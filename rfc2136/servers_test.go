package rfc2136_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/dnstest"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/rfc2136"
)

// eachServer runs f against a fresh server of each kind serving z, in
// parallel.
func eachServer(t *testing.T, z dnstest.Zone, f func(t *testing.T, s *dnstest.Server)) {
	for _, srv := range dnstest.Kinds {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			f(t, srv.Start(t, z))
		})
	}
}

// reset puts the records of dnstest.Example back as they were.
func reset(t *testing.T, s *dnstest.Server) {
	t.Helper()
	s.Update(t,
		"update delete www.example.test. A",
		"update add www.example.test. 123 A 192.0.2.1",
		"update delete www.example.test. AAAA",
		"update add www.example.test. 300 AAAA 2001:db8::1",
		"update delete cname.example.test. CNAME",
		"update add cname.example.test. 300 CNAME www.example.test.",
		"update delete gone.example.test. A",
	)
}

// TestServers runs each case against one server of each kind, serving
// dnstest.Example, in turn, the records reset between cases.
func TestServers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		f    func(t *testing.T, s *dnstest.Server)
	}{
		{"ReadWrite", testReadWrite},
		{"Swap", testSwap},
		{"SwapRace", testSwapRace},
		{"Missing", testMissing},
		{"CNAME", testCNAME},
		{"UDP", testUDP},
		{"WrongKey", testWrongKey},
		{"Policy", testPolicy},
		{"ServerDown", testServerDown},
		{"ContextCanceled", testContextCanceled},
		{"ZoneNotServed", testZoneNotServed},
	}
	eachServer(t, dnstest.Example(), func(t *testing.T, s *dnstest.Server) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				reset(t, s)
				c.f(t, s)
			})
		}
	})
}

func config(s *dnstest.Server) rfc2136.Config {
	return rfc2136.Config{
		Server:        s.Addr,
		Zone:          s.Zone,
		TSIGName:      s.KeyName,
		TSIGSecret:    s.Secret,
		TSIGAlgorithm: s.Algorithm,
		Timeout:       2 * time.Second,
	}
}

func record(t *testing.T, cfg rfc2136.Config, name, typ string) *rfc2136.Record {
	t.Helper()
	r, err := rfc2136.New(cfg, name, typ)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func read(t *testing.T, r *rfc2136.Record) string {
	t.Helper()
	rec, err := r.Read(t.Context())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !rec.Modified.IsZero() {
		t.Errorf("Read: Modified = %v, want zero", rec.Modified)
	}
	return rec.Content
}

func wantGet(t *testing.T, s *dnstest.Server, name, typ string, want ...string) {
	t.Helper()
	if got := s.Get(t, name, typ); !slices.Equal(got, want) {
		t.Errorf("server has %s %s = %q, want %q", name, typ, got, want)
	}
}

// wantError checks that err is an *rfc2136.Error whose text contains each
// of parts, and whether it asks to retry later.
func wantError(t *testing.T, err error, retryLater bool, parts ...string) *rfc2136.Error {
	t.Helper()
	var e *rfc2136.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want an *rfc2136.Error", err, err)
	}
	t.Log(err)
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
	var rl *failover.RetryLater
	if got := errors.As(err, &rl); got != retryLater {
		t.Errorf("error %q: RetryLater = %v, want %v", err, got, retryLater)
	} else if got && rl.After != 30*time.Second {
		t.Errorf("error %q: RetryLater.After = %s, want 30s", err, rl.After)
	}
	return e
}

func testReadWrite(t *testing.T, s *dnstest.Server) {
	a := record(t, config(s), "www", "A")
	if got, want := read(t, a), "192.0.2.1"; got != want {
		t.Errorf("Read = %q, want %q", got, want)
	}
	if err := a.Write(t.Context(), "192.0.2.2"); err != nil {
		t.Fatalf("Write: %v", err)
	}
	wantGet(t, s, "www", "A", "192.0.2.2")
	if got, want := read(t, a), "192.0.2.2"; got != want {
		t.Errorf("Read after Write = %q, want %q", got, want)
	}
	if got, want := s.TTL(t, "www", "A"), uint32(123); got != want {
		t.Errorf("TTL after Write = %d, want %d (kept)", got, want)
	}

	// A new Record writes without a Read of its own: it reads first,
	// for the TTL.
	aaaa := record(t, config(s), "WWW.Example.Test.", "aaaa")
	if err := aaaa.Write(t.Context(), "2001:db8::2"); err != nil {
		t.Fatalf("Write AAAA: %v", err)
	}
	wantGet(t, s, "www", "AAAA", "2001:db8::2")
	wantGet(t, s, "www", "A", "192.0.2.2") // the other type untouched
	if got, want := s.TTL(t, "www", "AAAA"), uint32(300); got != want {
		t.Errorf("AAAA TTL after Write = %d, want %d", got, want)
	}

	// Content that is not of the type is refused before sending.
	err := a.Write(t.Context(), "2001:db8::9")
	if !errors.Is(err, failover.ErrRefused) {
		t.Errorf("Write of an IPv6 address to an A record: error = %v, want ErrRefused", err)
	}
}

func TestMultipleRecords(t *testing.T) {
	t.Parallel()
	z := dnstest.Example()
	z.Records = append(z.Records, "www 123 IN A 192.0.2.3")
	eachServer(t, z, func(t *testing.T, s *dnstest.Server) {
		a := record(t, config(s), "www", "A")
		if got, want := read(t, a), "192.0.2.1 192.0.2.3"; got != want {
			t.Errorf("Read = %q, want %q", got, want)
		}
		if err := a.Swap(t.Context(), "192.0.2.3", "192.0.2.4"); !errors.Is(err, failover.ErrConflict) {
			t.Errorf("Swap from a part of the set: error = %v, want ErrConflict", err)
		}
		if err := a.Swap(t.Context(), "192.0.2.3 192.0.2.1", "192.0.2.4"); err != nil {
			t.Errorf("Swap from the whole set: %v", err)
		}
		wantGet(t, s, "www", "A", "192.0.2.4")
	})
}

func testSwap(t *testing.T, s *dnstest.Server) {
	a := record(t, config(s), "www", "A")
	old := read(t, a)
	if err := a.Swap(t.Context(), old, "192.0.2.2"); err != nil {
		t.Fatalf("Swap: %v", err)
	}
	wantGet(t, s, "www", "A", "192.0.2.2")

	// Someone else writes: the swap from what we read loses.
	s.Set(t, "www", "A", "192.0.2.3")
	err := a.Swap(t.Context(), "192.0.2.2", "192.0.2.4")
	if !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("Swap after an outside write: error = %v, want ErrConflict", err)
	}
	wantError(t, err, false, "NXRRSET", `no longer holds "192.0.2.2"`, "127.0.0.1:", "example.test.", "www.example.test. A")
	wantGet(t, s, "www", "A", "192.0.2.3")

	// Gone: no swap re-creates it.
	s.Delete(t, "www", "A")
	if err := a.Swap(t.Context(), "192.0.2.3", "192.0.2.4"); !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("Swap of a deleted record: error = %v, want ErrConflict", err)
	}
	wantGet(t, s, "www", "A")
}

// TestSwapRace: of several swaps from the same content, exactly one wins.
func testSwapRace(t *testing.T, s *dnstest.Server) {
	a := record(t, config(s), "www", "A")
	old := read(t, a)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = a.Swap(t.Context(), old, fmt.Sprintf("192.0.2.%d", 10+i)) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("swaps %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, failover.ErrConflict):
			t.Errorf("swap %d: error = %v, want nil or ErrConflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no swap won")
	}
	wantGet(t, s, "www", "A", fmt.Sprintf("192.0.2.%d", 10+won))
}

func testMissing(t *testing.T, s *dnstest.Server) {
	// gone A is granted but does not exist.
	gone := record(t, config(s), "gone", "A")
	_, err := gone.Read(t.Context())
	if !errors.Is(err, failover.ErrMissing) {
		t.Fatalf("Read of a missing record: error = %v, want ErrMissing", err)
	}
	wantError(t, err, false, "NXDOMAIN", "gone.example.test. A")
	if err := gone.Write(t.Context(), "192.0.2.5"); !errors.Is(err, failover.ErrMissing) {
		t.Errorf("Write of a missing record: error = %v, want ErrMissing", err)
	}
	wantGet(t, s, "gone", "A")

	// Deleted after a Read: the Write's prerequisite fails.
	a := record(t, config(s), "www", "A")
	read(t, a)
	s.Delete(t, "www", "A")
	err = a.Write(t.Context(), "192.0.2.5")
	if !errors.Is(err, failover.ErrMissing) {
		t.Fatalf("Write of a deleted record: error = %v, want ErrMissing", err)
	}
	wantError(t, err, false, "NXRRSET", "not re-created")
	wantGet(t, s, "www", "A")
	// The name still has its AAAA: no data of type A.
	_, err = a.Read(t.Context())
	if !errors.Is(err, failover.ErrMissing) {
		t.Errorf("Read of a deleted record: error = %v, want ErrMissing", err)
	}
	wantError(t, err, false, "no A RRset")

	// A CNAME is not an A.
	c := record(t, config(s), "cname", "A")
	_, err = c.Read(t.Context())
	if !errors.Is(err, failover.ErrMissing) {
		t.Errorf("Read of a CNAME as A: error = %v, want ErrMissing", err)
	}
	wantError(t, err, false, "holds a CNAME")
}

func testCNAME(t *testing.T, s *dnstest.Server) {
	c := record(t, config(s), "cname", "CNAME")
	if got, want := read(t, c), "www.example.test"; got != want {
		t.Errorf("Read = %q, want %q", got, want)
	}
	if err := c.Write(t.Context(), "Other.Example.Test."); err != nil {
		t.Fatalf("Write: %v", err)
	}
	wantGet(t, s, "cname", "CNAME", "other.example.test")
	if err := c.Swap(t.Context(), "other.example.test", "www.example.test"); err != nil {
		t.Fatalf("Swap: %v", err)
	}
	wantGet(t, s, "cname", "CNAME", "www.example.test")
}

func testUDP(t *testing.T, s *dnstest.Server) {
	cfg := config(s)
	cfg.Transport = "udp"
	a := record(t, cfg, "www", "A")
	old := read(t, a)
	if err := a.Swap(t.Context(), old, "192.0.2.2"); err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if err := a.Write(t.Context(), "192.0.2.3"); err != nil {
		t.Fatalf("Write: %v", err)
	}
	wantGet(t, s, "www", "A", "192.0.2.3")
	if err := a.Swap(t.Context(), old, "192.0.2.4"); !errors.Is(err, failover.ErrConflict) {
		t.Errorf("stale Swap: error = %v, want ErrConflict", err)
	}
}

func TestAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"hmac-md5", "hmac-sha512"} {
		t.Run(alg, func(t *testing.T) {
			z := dnstest.Example()
			z.KeyAlgorithm = alg
			eachServer(t, z, func(t *testing.T, s *dnstest.Server) {
				a := record(t, config(s), "www", "A")
				if err := a.Swap(t.Context(), read(t, a), "192.0.2.2"); err != nil {
					t.Fatalf("Swap: %v", err)
				}
				wantGet(t, s, "www", "A", "192.0.2.2")
			})
		})
	}
}

func testWrongKey(t *testing.T, s *dnstest.Server) {
	for _, tc := range []struct {
		name  string
		edit  func(*rfc2136.Config)
		tsig  int // TSIG error
		parts []string
	}{{
		name:  "secret",
		edit:  func(c *rfc2136.Config) { c.TSIGSecret = "c2VjcmV0IHRoYXQgaXMgbm90IHRoZSBrZXk=" },
		tsig:  16,
		parts: []string{"NOTAUTH, TSIG BADSIG", `key "clooster-test" (hmac-sha256): wrong secret`},
	}, {
		name:  "key name",
		edit:  func(c *rfc2136.Config) { c.TSIGName = "nosuchkey" },
		tsig:  17,
		parts: []string{"NOTAUTH, TSIG BADKEY", `key "nosuchkey" with algorithm hmac-sha256`},
	}, {
		name:  "algorithm",
		edit:  func(c *rfc2136.Config) { c.TSIGAlgorithm = "hmac-sha512" },
		tsig:  17,
		parts: []string{"TSIG BADKEY", `key "clooster-test" with algorithm hmac-sha512`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(s)
			tc.edit(&cfg)
			a := record(t, cfg, "www", "A")
			_, err := a.Read(t.Context())
			e := wantError(t, err, true, tc.parts...)
			if e.TSIGError != tc.tsig {
				t.Errorf("Read: TSIGError = %d, want %d", e.TSIGError, tc.tsig)
			}
			err = a.Swap(t.Context(), "192.0.2.1", "192.0.2.2")
			wantError(t, err, true, tc.parts...)
			wantGet(t, s, "www", "A", "192.0.2.1")
		})
	}
}

// TestPolicy: a record the key may not update. BIND says REFUSED; Knot
// answers NOTAUTH with TSIG BADKEY when its ACL denies.
func testPolicy(t *testing.T, s *dnstest.Server) {
	o := record(t, config(s), "other", "A")
	if got, want := read(t, o), "192.0.2.9"; got != want {
		t.Errorf("Read = %q, want %q", got, want)
	}
	err := o.Write(t.Context(), "192.0.2.10")
	e := wantError(t, err, true, "update other.example.test. A", "other.example.test. A")
	switch e.Rcode {
	case 5: // REFUSED
		wantError(t, err, true, `REFUSED: the key "clooster-test" may not update other.example.test. A (check the server's update-policy`)
	case 9: // NOTAUTH
		wantError(t, err, true, `NOTAUTH, TSIG BADKEY: the server does not accept key "clooster-test" (hmac-sha256) for this update`, "its ACL does not let the key update other.example.test. A (Knot: check update-owner and update-type)")
	default:
		t.Errorf("Rcode = %d, want REFUSED or NOTAUTH", e.Rcode)
	}
	wantGet(t, s, "other", "A", "192.0.2.9")
}

func testServerDown(t *testing.T, s *dnstest.Server) {
	var recs []*rfc2136.Record
	for _, transport := range []string{"tcp", "udp"} {
		cfg := config(s)
		cfg.Transport = transport
		recs = append(recs, record(t, cfg, "www", "A"))
		read(t, recs[len(recs)-1])
	}
	s.Stop()
	for _, r := range recs {
		_, err := r.Read(t.Context())
		wantError(t, err, false, "connection refused", "is the server running")
		err = r.Write(t.Context(), "192.0.2.2")
		wantError(t, err, false, "connection refused")
		if errors.Is(err, failover.ErrMissing) || errors.Is(err, failover.ErrConflict) {
			t.Errorf("error %v wraps a store sentinel", err)
		}
	}
	s.Start()
	for i, r := range recs {
		content := fmt.Sprintf("192.0.2.%d", 2+i)
		if err := r.Write(t.Context(), content); err != nil {
			t.Fatalf("Write after restart: %v", err)
		}
		wantGet(t, s, "www", "A", content)
	}
}

func testContextCanceled(t *testing.T, s *dnstest.Server) {
	a := record(t, config(s), "www", "A")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a canceled context: error = %v, want context.Canceled", err)
	}
}

// testZoneNotServed: a zone the server does not serve. BIND signs its
// answers (REFUSED to a query, NOTAUTH to an update), Knot does not.
func testZoneNotServed(t *testing.T, s *dnstest.Server) {
	cfg := config(s)
	cfg.Zone = "example.org"
	r := record(t, cfg, "www", "A")
	_, err := r.Read(t.Context())
	wantError(t, err, true, "read www.example.org. A (zone example.org.)", "REFUSED: the server refused the query (does it serve zone example.org.")

	// The parent zone configured: the record reads (the server answers
	// for the name), the update is for a zone it does not serve.
	cfg.Zone = "test"
	r = record(t, cfg, "www.example.test", "A")
	read(t, r)
	err = r.Write(t.Context(), "192.0.2.2")
	wantError(t, err, false, "update www.example.test. A (zone test.)", "NOTAUTH: the server is not authoritative for zone test. (is it the zone's primary")
	wantGet(t, s, "www", "A", "192.0.2.1")
}
