package rfc2136_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/quorum"
	"github.com/clooster/clooster/rfc2136"
)

var _ quorum.Fencer = (*rfc2136.Record)(nil)

const fakeFence = "_clooster.example.test."

// describe is req in short: "QUERY name TYPE", or "UPDATE zone" then a
// line per prerequisite ("prereq: ...") and per update ("update: ..."),
// each record as a zone file line with its spaces collapsed.
func describe(req *dns.Msg) string {
	q := req.Question[0]
	if req.Opcode == dns.OpcodeQuery {
		return "QUERY " + q.Name + " " + dns.TypeToString[q.Qtype]
	}
	lines := []string{"UPDATE " + q.Name}
	for _, rr := range req.Answer {
		lines = append(lines, "prereq: "+strings.Join(strings.Fields(rr.String()), " "))
	}
	for _, rr := range req.Ns {
		lines = append(lines, "update: "+strings.Join(strings.Fields(rr.String()), " "))
	}
	return strings.Join(lines, "\n")
}

// fenceServer is a fake server for www.example.test. A (192.0.2.1, TTL 60)
// and its fence: the i-th read of the fence finds fences[i] (the last one
// after), the i-th update gets the RCODE updates[i] (the last one after).
// A fence is "" for no such name, "nodata" for a name without TXT, else
// the TXT RRset's records, as in a zone file, separated by "|".
type fenceServer struct {
	fences  []string
	updates []int

	mu       sync.Mutex
	requests []string
	nfence   int
	nupdate  int
}

func (f *fenceServer) serve(t *testing.T) string {
	return fake(t, "tcp", func(w dns.ResponseWriter, req *dns.Msg) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, describe(req))
		m := reply(req)
		switch {
		case req.Opcode == dns.OpcodeUpdate:
			m.Rcode = at(f.updates, f.nupdate, dns.RcodeSuccess)
			f.nupdate++
		case req.Question[0].Qtype == dns.TypeTXT:
			m.Answer = nil
			switch fence := at(f.fences, f.nfence, ""); fence {
			case "":
				m.Rcode = dns.RcodeNameError
			case "nodata":
			default:
				for v := range strings.SplitSeq(fence, "|") {
					rr, err := dns.NewRR(fakeFence + " 0 IN " + v)
					if err != nil {
						t.Errorf("fence %q: %v", v, err)
						return
					}
					m.Answer = append(m.Answer, rr)
				}
			}
			f.nfence++
		}
		w.WriteMsg(m)
	})
}

// at is s[i], the last of s after its end, or def if s is empty.
func at[T any](s []T, i int, def T) T {
	switch {
	case len(s) == 0:
		return def
	case i < len(s):
		return s[i]
	}
	return s[len(s)-1]
}

// TestFenceMessages checks what RaiseFence and SwapFenced send, and what
// they make of the replies, against a fake server.
func TestFenceMessages(t *testing.T) {
	const (
		readFence = "QUERY _clooster.example.test. TXT"
		readWWW   = "QUERY www.example.test. A"
		// The fence does not exist (NXRRSET prerequisite, class NONE).
		raiseFromNone = "UPDATE example.test.\n" +
			"prereq: _clooster.example.test. 0 NONE TXT\n" +
			"update: _clooster.example.test. 0 CLASS255 TXT\n" +
			`update: _clooster.example.test. 0 IN TXT "term=5"`
		// The fence is exactly term=4 (value-dependent prerequisite).
		raiseFrom4 = "UPDATE example.test.\n" +
			`prereq: _clooster.example.test. 0 IN TXT "term=4"` + "\n" +
			"update: _clooster.example.test. 0 CLASS255 TXT\n" +
			`update: _clooster.example.test. 0 IN TXT "term=5"`
		swap5 = "UPDATE example.test.\n" +
			"prereq: www.example.test. 0 IN A 192.0.2.1\n" +
			`prereq: _clooster.example.test. 0 IN TXT "term=5"` + "\n" +
			"update: www.example.test. 0 CLASS255 A\n" +
			"update: www.example.test. 60 IN A 192.0.2.2"
	)
	raise := func(term uint64) func(context.Context, *rfc2136.Record) error {
		return func(ctx context.Context, r *rfc2136.Record) error { return r.RaiseFence(ctx, term) }
	}
	swap := func(term uint64) func(context.Context, *rfc2136.Record) error {
		return func(ctx context.Context, r *rfc2136.Record) error {
			return r.SwapFenced(ctx, term, "192.0.2.1", "192.0.2.2")
		}
	}
	for _, tc := range []struct {
		name     string
		fences   []string
		updates  []int
		call     func(context.Context, *rfc2136.Record) error
		requests []string
		is       error    // the error wraps it; nil for no error
		retry    bool     // the error wraps a *failover.RetryLater
		parts    []string // the error's text contains them
	}{{
		name:     "raise, no such name",
		fences:   []string{""},
		call:     raise(5),
		requests: []string{readFence, raiseFromNone},
	}, {
		name:     "raise, no TXT at the name",
		fences:   []string{"nodata"},
		call:     raise(5),
		requests: []string{readFence, raiseFromNone},
	}, {
		name:     "raise, lower term",
		fences:   []string{`TXT "term=4"`},
		call:     raise(5),
		requests: []string{readFence, raiseFrom4},
	}, {
		name:     "raise, same term",
		fences:   []string{`TXT "term=5"`},
		call:     raise(5),
		requests: []string{readFence},
	}, {
		name:     "raise, higher term",
		fences:   []string{`TXT "term=6"`},
		call:     raise(5),
		requests: []string{readFence},
		is:       failover.ErrConflict,
		parts:    []string{"read _clooster.example.test. TXT (zone example.test.)", "the fence holds term 6, above this leader's term 5: a later leader exists; nothing written"},
	}, {
		name:     "raise, prerequisite fails, then a higher term",
		fences:   []string{`TXT "term=4"`, `TXT "term=7"`},
		updates:  []int{dns.RcodeNXRrset},
		call:     raise(5),
		requests: []string{readFence, raiseFrom4, readFence},
		is:       failover.ErrConflict,
		parts:    []string{"the fence holds term 7, above this leader's term 5"},
	}, {
		name:     "raise, prerequisite fails, then a lower term",
		fences:   []string{"", `TXT "term=4"`},
		updates:  []int{dns.RcodeYXRrset, dns.RcodeSuccess},
		call:     raise(5),
		requests: []string{readFence, raiseFromNone, readFence, raiseFrom4},
	}, {
		name:     "raise, prerequisite fails, then the same term",
		fences:   []string{"", `TXT "term=5"`},
		updates:  []int{dns.RcodeYXRrset},
		call:     raise(5),
		requests: []string{readFence, raiseFromNone, readFence},
	}, {
		name:     "raise, prerequisite fails twice",
		fences:   []string{`TXT "term=4"`},
		updates:  []int{dns.RcodeNXRrset},
		call:     raise(5),
		requests: []string{readFence, raiseFrom4, readFence, raiseFrom4},
		is:       failover.ErrConflict,
		parts:    []string{"update _clooster.example.test. TXT", "NXRRSET: the fence changed between its read and the update, 2 times in a row: term 5 not written"},
	}, {
		name:     "raise, refused",
		fences:   []string{`TXT "term=4"`},
		updates:  []int{dns.RcodeRefused},
		call:     raise(5),
		requests: []string{readFence, raiseFrom4},
		is:       failover.ErrRefused,
		retry:    true,
		parts:    []string{`REFUSED: the key "clooster" may not update _clooster.example.test. TXT (check the server's update-policy`},
	}, {
		name:     "raise, term 0",
		call:     raise(0),
		requests: nil,
		parts:    []string{"term 0 is no leader's"},
	}, {
		name:     "swap",
		fences:   []string{`TXT "term=5"`},
		call:     swap(5),
		requests: []string{readWWW, swap5},
	}, {
		name:     "swap, the fence moved on",
		fences:   []string{`TXT "term=6"`},
		updates:  []int{dns.RcodeNXRrset},
		call:     swap(5),
		requests: []string{readWWW, swap5, readFence},
		is:       failover.ErrConflict,
		parts:    []string{"update www.example.test. A", "NXRRSET: the fence _clooster.example.test. holds term 6, not this leader's term 5: nothing written (a later leader exists)"},
	}, {
		name:     "swap, no fence",
		fences:   []string{""},
		updates:  []int{dns.RcodeNXRrset},
		call:     swap(5),
		requests: []string{readWWW, swap5, readFence},
		is:       failover.ErrConflict,
		parts:    []string{"holds no fence, not this leader's term 5: nothing written"},
	}, {
		name:     "swap, the record changed",
		fences:   []string{`TXT "term=5"`},
		updates:  []int{dns.RcodeNXRrset},
		call:     swap(5),
		requests: []string{readWWW, swap5, readFence},
		is:       failover.ErrConflict,
		parts:    []string{`NXRRSET: the RRset no longer holds "192.0.2.1": nothing written`},
	}, {
		name:     "swap, the fence is not one",
		fences:   []string{`TXT "hello"`},
		updates:  []int{dns.RcodeNXRrset},
		call:     swap(5),
		requests: []string{readWWW, swap5, readFence},
		is:       failover.ErrConflict,
		parts:    []string{"NXRRSET: the record or the fence changed: nothing written (reading the fence to tell which: ", `the fence holds "hello", not one TXT record "term=<n>"`},
	}, {
		name:     "swap, term 0",
		call:     swap(0),
		requests: nil,
		parts:    []string{"term 0 is no leader's"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := &fenceServer{fences: tc.fences, updates: tc.updates}
			r, err := rfc2136.New(fakeConfig(srv.serve(t)), "www", "A")
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(t.Context(), r)
			srv.mu.Lock()
			requests := srv.requests
			srv.mu.Unlock()
			if got, want := strings.Join(requests, "\n--\n"), strings.Join(tc.requests, "\n--\n"); got != want {
				t.Errorf("requests:\n%s\nwant:\n%s", got, want)
			}
			if tc.is == nil && tc.parts == nil {
				if err != nil {
					t.Fatalf("error = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, p := range tc.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not contain %q", err, p)
				}
			}
			for _, s := range []error{failover.ErrMissing, failover.ErrConflict, failover.ErrRefused} {
				if got, want := errors.Is(err, s), s == tc.is; got != want {
					t.Errorf("error %q: wraps %v = %v, want %v", err, s, got, want)
				}
			}
			var rl *failover.RetryLater
			if got := errors.As(err, &rl); got != tc.retry {
				t.Errorf("error %q: RetryLater = %v, want %v", err, got, tc.retry)
			}
		})
	}
}

// TestFenceNotOne: what is not a fence is an error that names the
// record and what it holds, asks an operator, and is never overwritten.
func TestFenceNotOne(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fence string
		value string // as the error quotes it
	}{
		{"text", `TXT "hello"`, `"hello"`},
		{"not a number", `TXT "term=five"`, `"term=five"`},
		{"negative", `TXT "term=-5"`, `"term=-5"`},
		{"leading zero", `TXT "term=05"`, `"term=05"`},
		{"empty term", `TXT "term="`, `"term="`},
		{"too large", `TXT "term=18446744073709551616"`, `"term=18446744073709551616"`},
		{"two strings", `TXT "term=5" "term=6"`, `"term=5" "term=6"`},
		{"two records", `TXT "term=3"|TXT "term=4"`, `"term=3", "term=4"`},
		{"upper case", `TXT "TERM=5"`, `"TERM=5"`},
		{"spaces", `TXT "term= 5"`, `"term= 5"`},
		{"long", `TXT "` + strings.Repeat("x", 200) + `"`, `"` + strings.Repeat("x", 119) + "..."},
		{"cname", "CNAME www.example.test.", "the fence's name holds a CNAME (www.example.test.)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := &fenceServer{fences: []string{tc.fence}}
			r, err := rfc2136.New(fakeConfig(srv.serve(t)), "www", "A")
			if err != nil {
				t.Fatal(err)
			}
			err = r.RaiseFence(t.Context(), 1)
			if err == nil {
				t.Fatal("no error")
			}
			for _, p := range []string{"read _clooster.example.test. TXT (zone example.test.)", tc.value, "nothing written"} {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not contain %q", err, p)
				}
			}
			if errors.Is(err, failover.ErrConflict) {
				t.Errorf("error %q wraps ErrConflict", err)
			}
			var rl *failover.RetryLater
			if !errors.As(err, &rl) {
				t.Errorf("error %q: not a RetryLater", err)
			}
			srv.mu.Lock()
			requests := srv.requests
			srv.mu.Unlock()
			if got, want := len(requests), 1; got != want {
				t.Errorf("%d requests, want %d (the read, no update):\n%s", got, want, strings.Join(requests, "\n"))
			}
		})
	}
}
