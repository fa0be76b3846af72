package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/dnstest"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/rfc2136"
)

// A mixed set: two Cloudflare records of one zone, in one batch, and an
// RFC 2136 record on a real BIND, written with a compare-and-swap that
// never overwrites a lost race.
func TestRecordStoresMixed(t *testing.T) {
	ns := dnstest.StartBIND(t, dnstest.Example())
	f := fakecf.New()
	f.SetToken("cf-token-for-tests")
	zone := f.AddZone("example.com")
	f.AddRecord(zone, fakecf.Record{Name: "example.com", Type: "A", Content: "192.0.2.1"})
	f.AddRecord(zone, fakecf.Record{Name: "www.example.com", Type: "CNAME", Content: "a.example.com"})
	api := httptest.NewServer(f)
	defer api.Close()

	values := func(a, b string) map[string]any { return map[string]any{"a.example.com": a, "b.example.com": b} }
	path := writeConfig(t, map[string]any{
		"cloudflare": map[string]any{"token": "cf-token-for-tests", "zone": "example.com", "api_url": api.URL},
		"rfc2136": map[string]any{"server": ns.Addr, "zone": ns.Zone, "tsig_name": ns.KeyName,
			"tsig_secret": ns.Secret, "tsig_algorithm": ns.Algorithm},
		"records": []any{
			map[string]any{"name": "example.com", "type": "A", "provider": "cloudflare", "values": values("192.0.2.1", "192.0.2.2")},
			map[string]any{"name": "WWW.example.test.", "type": "A", "provider": "rfc2136", "values": values("192.0.2.1", "192.0.2.2")},
			map[string]any{"name": "www.example.com", "type": "CNAME", "provider": "cloudflare"},
		},
	})
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, clients, err := recordStores(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 2 {
		t.Errorf("got %d Cloudflare clients, want 2", len(clients))
	}
	ctx := context.Background()
	a := setValues(cfg).this
	b := setValues(cfg).other
	got, err := set.Read(ctx)
	if err != nil || got.Content != a {
		t.Fatalf("read: got %+v, %v; want %q", got, err, a)
	}
	if err := set.Swap(ctx, a, b); err != nil {
		t.Fatalf("swap to b: %v", err)
	}
	if got := ns.Get(t, "www", "A"); !slices.Equal(got, []string{"192.0.2.2"}) {
		t.Errorf("after the swap, BIND has %q", got)
	}
	if n := f.Stats().Batches; n != 1 {
		t.Errorf("the Cloudflare zone's records: %d batches, want 1", n)
	}

	// Someone else wrote meanwhile: the swap from what was read is refused
	// and the other write stays.
	ns.Set(t, "www", "A", "192.0.2.9")
	err = set.Swap(ctx, b, a)
	if !errors.Is(err, failover.ErrConflict) {
		t.Errorf("a lost race: got %v, want a conflict", err)
	}
	if got := ns.Get(t, "www", "A"); !slices.Equal(got, []string{"192.0.2.9"}) {
		t.Errorf("after the lost race, BIND has %q, want the other write", got)
	}
}

// Every TSIG algorithm config accepts, the rfc2136 package accepts.
func TestTSIGAlgorithmsAgree(t *testing.T) {
	for _, alg := range config.TSIGAlgorithms {
		c := rfc2136.Config{Server: "127.0.0.1", Zone: "example.com", TSIGName: "k", TSIGSecret: "c2VjcmV0", TSIGAlgorithm: alg}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}
