package dnstest_test

import (
	"slices"
	"testing"

	"github.com/clooster/clooster/internal/dnstest"
)

func TestServers(t *testing.T) {
	for _, start := range []struct {
		name string
		fn   func(testing.TB, dnstest.Zone) *dnstest.Server
	}{{"bind", dnstest.StartBIND}, {"knot", dnstest.StartKnot}} {
		t.Run(start.name, func(t *testing.T) {
			t.Parallel()
			s := start.fn(t, dnstest.Example())
			if got, want := s.Get(t, "www", "A"), []string{"192.0.2.1"}; !slices.Equal(got, want) {
				t.Errorf("www A = %q, want %q", got, want)
			}
			if got, want := s.TTL(t, "www", "A"), uint32(123); got != want {
				t.Errorf("www A TTL = %d, want %d", got, want)
			}
			if got, want := s.Get(t, "cname.example.test.", "CNAME"), []string{"www.example.test"}; !slices.Equal(got, want) {
				t.Errorf("cname CNAME = %q, want %q", got, want)
			}
			s.Set(t, "www", "A", "192.0.2.7")
			s.Stop()
			s.Start()
			if got, want := s.Get(t, "www", "A"), []string{"192.0.2.7"}; !slices.Equal(got, want) {
				t.Errorf("after Set and a restart, www A = %q, want %q", got, want)
			}
			s.Delete(t, "www", "A")
			if got := s.Get(t, "www", "A"); len(got) != 0 {
				t.Errorf("after Delete, www A = %q, want none", got)
			}
			if got := s.Get(t, "nosuch", "A"); len(got) != 0 {
				t.Errorf("nosuch A = %q, want none", got)
			}
		})
	}
}
