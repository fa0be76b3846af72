package rfc2136_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/clooster/clooster/internal/dnstest"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/rfc2136"
)

// TestFenceServers runs each case against one server of each kind,
// serving dnstest.Example (whose key may update the fence), in turn, the
// records reset and the fence deleted between cases.
func TestFenceServers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		f    func(t *testing.T, s *dnstest.Server)
	}{
		{"Absent", testFenceAbsent},
		{"StaleLeader", testFenceStaleLeader},
		{"StaleRaiseRejected", testFenceStaleRaiseRejected},
		{"Race", testFenceRace},
		{"RaceInterleaved", testFenceRaceInterleaved},
		{"NotOne", testFenceNotOne},
	}
	eachServer(t, dnstest.Example(), func(t *testing.T, s *dnstest.Server) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				reset(t, s)
				s.Update(t, "update delete _clooster.example.test. TXT")
				c.f(t, s)
			})
		}
	})
}

// hookDial is cfg with a Dial that calls before(n) ahead of its n-th dial
// (from 1), then dials.
func hookDial(cfg rfc2136.Config, before func(n int)) rfc2136.Config {
	var mu sync.Mutex
	dials := 0
	var d net.Dialer
	cfg.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		mu.Lock()
		dials++
		n := dials
		mu.Unlock()
		before(n)
		return d.DialContext(ctx, network, address)
	}
	return cfg
}

func raise(t *testing.T, r *rfc2136.Record, term uint64) {
	t.Helper()
	if err := r.RaiseFence(t.Context(), term); err != nil {
		t.Fatalf("RaiseFence(%d): %v", term, err)
	}
}

// wantFence checks what the server's fence holds: none, or one value.
func wantFence(t *testing.T, s *dnstest.Server, want ...string) {
	t.Helper()
	wantGet(t, s, "_clooster", "TXT", want...)
}

func wantConflict(t *testing.T, err error, parts ...string) {
	t.Helper()
	if !errors.Is(err, failover.ErrConflict) {
		t.Fatalf("error = %v, want ErrConflict", err)
	}
	wantError(t, err, false, parts...)
}

// testFenceAbsent: a zone without a fence, raised by the first leader,
// which then writes.
func testFenceAbsent(t *testing.T, s *dnstest.Server) {
	leader := record(t, config(s), "www", "A")
	if got, want := leader.FenceName(), "_clooster.example.test."; got != want {
		t.Errorf("FenceName = %q, want %q", got, want)
	}
	wantFence(t, s)
	raise(t, leader, 5)
	wantFence(t, s, `"term=5"`)
	if got, want := s.TTL(t, "_clooster", "TXT"), uint32(0); got != want {
		t.Errorf("fence TTL = %d, want %d", got, want)
	}
	raise(t, leader, 5) // held already: nothing to do
	wantFence(t, s, `"term=5"`)

	if err := leader.SwapFenced(t.Context(), 5, read(t, leader), "192.0.2.2"); err != nil {
		t.Fatalf("SwapFenced: %v", err)
	}
	wantGet(t, s, "www", "A", "192.0.2.2")
	if got, want := s.TTL(t, "www", "A"), uint32(123); got != want {
		t.Errorf("TTL after SwapFenced = %d, want %d (kept)", got, want)
	}
	// From content it no longer holds: the record's prerequisite fails.
	err := leader.SwapFenced(t.Context(), 5, "192.0.2.1", "192.0.2.3")
	wantConflict(t, err, "update www.example.test. A", `NXRRSET: the RRset no longer holds "192.0.2.1": nothing written`)
	wantGet(t, s, "www", "A", "192.0.2.2")
}

// testFenceStaleLeader: once the leader of term 5 has raised the fence, the
// leader of term 4 (the same key) can neither raise it nor write.
func testFenceStaleLeader(t *testing.T, s *dnstest.Server) {
	leader := record(t, config(s), "www", "A")
	stale := record(t, config(s), "www", "A")
	old := read(t, stale)
	raise(t, stale, 4)
	wantFence(t, s, `"term=4"`)
	raise(t, leader, 5)
	wantFence(t, s, `"term=5"`)

	err := stale.RaiseFence(t.Context(), 4)
	wantConflict(t, err, "_clooster.example.test. TXT", "the fence holds term 5, above this leader's term 4: a later leader exists")
	wantFence(t, s, `"term=5"`)

	// The server itself refuses the stale write: the fence is a
	// prerequisite of the update.
	err = stale.SwapFenced(t.Context(), 4, old, "192.0.2.66")
	wantConflict(t, err, "update www.example.test. A", "NXRRSET: the fence _clooster.example.test. holds term 5, not this leader's term 4: nothing written (a later leader exists)")
	if got, want := read(t, record(t, config(s), "www", "A")), "192.0.2.1"; got != want {
		t.Errorf("after the stale SwapFenced, a fresh Read = %q, want %q (unchanged)", got, want)
	}
	wantGet(t, s, "www", "A", "192.0.2.1")

	if err := leader.SwapFenced(t.Context(), 5, read(t, leader), "192.0.2.2"); err != nil {
		t.Fatalf("the leader's SwapFenced: %v", err)
	}
	wantGet(t, s, "www", "A", "192.0.2.2")
}

// testFenceStaleRaiseRejected: a stale leader that read the fence before
// the new leader raised it is refused by the server, reads again and
// gives up.
func testFenceStaleRaiseRejected(t *testing.T, s *dnstest.Server) {
	s.SetTTL(t, "_clooster", "TXT", 0, `"term=3"`)
	leader := record(t, config(s), "www", "A")
	var raised error
	dials := 0
	stale := record(t, hookDial(config(s), func(n int) {
		dials = n
		if n == 2 { // after the stale leader's read, before its update
			raised = leader.RaiseFence(t.Context(), 5)
		}
	}), "www", "A")
	err := stale.RaiseFence(t.Context(), 4)
	if raised != nil {
		t.Fatalf("the leader's RaiseFence(5): %v", raised)
	}
	if got, want := dials, 3; got != want {
		t.Errorf("the stale leader sent %d messages, want %d (read, update refused, read)", got, want)
	}
	wantConflict(t, err, "the fence holds term 5, above this leader's term 4")
	wantFence(t, s, `"term=5"`)
}

// testFenceRace: raises of 6 and 7 at once end at 7, whatever their order.
func testFenceRace(t *testing.T, s *dnstest.Server) {
	const rounds = 5
	a := record(t, config(s), "www", "A")
	b := record(t, config(s), "www", "A")
	for i := range uint64(rounds) {
		lower, higher := 2*i+6, 2*i+7
		var errLower, errHigher error
		var wg sync.WaitGroup
		wg.Go(func() { errLower = a.RaiseFence(t.Context(), lower) })
		wg.Go(func() { errHigher = b.RaiseFence(t.Context(), higher) })
		wg.Wait()
		if errHigher != nil {
			t.Errorf("RaiseFence(%d): %v", higher, errHigher)
		}
		if errLower != nil && !errors.Is(errLower, failover.ErrConflict) {
			t.Errorf("RaiseFence(%d): error = %v, want nil or ErrConflict", lower, errLower)
		}
		wantFence(t, s, `"term=`+strconv.FormatUint(higher, 10)+`"`)
	}
}

// testFenceRaceInterleaved: the two orders of raises of 6 and 7, each
// between the other's read and its update.
func testFenceRaceInterleaved(t *testing.T, s *dnstest.Server) {
	for _, tc := range []struct {
		name          string
		first, second uint64 // first reads, second raises, first updates
		wantErr       bool   // first's error wraps ErrConflict, else none
		dials         int    // messages first sends
	}{
		{"7 raised between 6's read and update", 6, 7, true, 3},  // read, update refused, read
		{"6 raised between 7's read and update", 7, 6, false, 4}, // the same, then update
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.SetTTL(t, "_clooster", "TXT", 0, `"term=5"`)
			other := record(t, config(s), "www", "A")
			var raised error
			dials := 0
			first := record(t, hookDial(config(s), func(n int) {
				dials = n
				if n == 2 {
					raised = other.RaiseFence(t.Context(), tc.second)
				}
			}), "www", "A")
			err := first.RaiseFence(t.Context(), tc.first)
			if raised != nil {
				t.Fatalf("RaiseFence(%d) in between: %v", tc.second, raised)
			}
			if tc.wantErr {
				wantConflict(t, err, "the fence holds term 7, above this leader's term 6")
			} else if err != nil {
				t.Fatalf("RaiseFence(%d): %v", tc.first, err)
			}
			if got, want := dials, tc.dials; got != want {
				t.Errorf("RaiseFence(%d) sent %d messages, want %d", tc.first, got, want)
			}
			wantFence(t, s, `"term=7"`)
		})
	}
}

// testFenceNotOne: a TXT at the fence's name that is not a fence is named
// in the error and never overwritten.
func testFenceNotOne(t *testing.T, s *dnstest.Server) {
	leader := record(t, config(s), "www", "A")
	for _, value := range []string{`"hello"`, `"term=9x"`, `"term=5" "term=6"`} {
		s.SetTTL(t, "_clooster", "TXT", 0, value)
		err := leader.RaiseFence(t.Context(), 5)
		wantError(t, err, true, "read _clooster.example.test. TXT (zone example.test.)", "the fence holds "+value+`, not one TXT record "term=<n>": nothing written`)
		if errors.Is(err, failover.ErrConflict) {
			t.Errorf("error %q wraps ErrConflict", err)
		}
		wantFence(t, s, value)

		err = leader.SwapFenced(t.Context(), 5, "192.0.2.1", "192.0.2.2")
		wantConflict(t, err, "the record or the fence changed: nothing written", value)
		wantGet(t, s, "www", "A", "192.0.2.1")
	}
}

// TestFenceNotGranted: a key that may not update the fence is told so,
// naming the fence.
func TestFenceNotGranted(t *testing.T) {
	t.Parallel()
	z := dnstest.Example()
	z.Grants = nil
	for _, g := range dnstest.Example().Grants {
		if g.Name != "_clooster" {
			z.Grants = append(z.Grants, g)
		}
	}
	eachServer(t, z, func(t *testing.T, s *dnstest.Server) {
		r := record(t, config(s), "www", "A")
		err := r.RaiseFence(t.Context(), 5)
		e := wantError(t, err, true, "update _clooster.example.test. TXT")
		switch e.Rcode {
		case 5: // REFUSED: BIND
			wantError(t, err, true, `REFUSED: the key "clooster-test" may not update _clooster.example.test. TXT (check the server's update-policy`)
		case 9: // NOTAUTH, TSIG BADKEY: Knot
			wantError(t, err, true, "its ACL does not let the key update _clooster.example.test. TXT")
		default:
			t.Errorf("Rcode = %d, want REFUSED or NOTAUTH", e.Rcode)
		}
		wantFence(t, s)
	})
}
