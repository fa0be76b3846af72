package cfapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/fakecf"
)

// batchOf is an A, an AAAA and a CNAME record of one zone (looked up by
// name), a fourth that does not exist, and their batch.
func batchOf(t *testing.T) (*fakecf.Server, []string, cfapi.BatchStore) {
	t.Helper()
	f := fakecf.New()
	f.SetToken("tok")
	zone := f.AddZone("example.org")
	for i := range 30 { // other records of the zone, listed too
		f.AddRecord(zone, fakecf.Record{Name: "host" + string(rune('a'+i)), Type: "A", Content: "198.51.100.1"})
	}
	ids := []string{
		f.AddRecord(zone, fakecf.Record{Name: "example.org", Type: "A", Content: "192.0.2.1"}),
		f.AddRecord(zone, fakecf.Record{Name: "example.org", Type: "AAAA", Content: "2001:db8::1"}),
		f.AddRecord(zone, fakecf.Record{Name: "www.example.org", Type: "CNAME", Content: "srv1.example.com"}),
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var members []*cfapi.Client
	for _, r := range []struct{ name, typ string }{{"example.org", "A"}, {"example.org", "AAAA"}, {"www.example.org", "CNAME"}, {"gone.example.org", "A"}} {
		c, err := cfapi.New(cfapi.Config{BaseURL: srv.URL, Token: "tok", Zone: "example.org", Record: r.name, Type: r.typ})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, c)
	}
	return f, ids, cfapi.BatchStore{B: cfapi.NewBatch(members)}
}

// A zone's records are read with one listing and written with one batch.
func TestBatchTwoRequests(t *testing.T) {
	f, ids, b := batchOf(t)
	ctx := context.Background()
	recs, errs := b.ReadAll(ctx)
	for i, want := range []string{"192.0.2.1", "2001:db8::1", "srv1.example.com"} {
		if errs[i] != nil || recs[i].Content != want || recs[i].Modified.IsZero() {
			t.Errorf("record %d: %+v, %v", i, recs[i], errs[i])
		}
	}
	if !errors.Is(errs[3], failover.ErrMissing) {
		t.Errorf("the missing record: %v", errs[3])
	}
	if n := f.Stats().Requests; n != 2 { // the zone's lookup, and the listing
		t.Errorf("the first read made %d requests, want 2", n)
	}
	before := f.Stats().Requests
	if _, errs := b.ReadAll(ctx); errs[0] != nil {
		t.Fatal(errs[0])
	}
	errs2 := b.WriteAll(ctx, map[int]string{0: "192.0.2.2", 1: "2001:db8::2", 2: "srv2.example.com"})
	for i, err := range errs2 {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if n := f.Stats().Requests - before; n != 2 {
		t.Errorf("a read and a write of three records made %d requests, want 2", n)
	}
	if f.Record(ids[1]).Content != "2001:db8::2" || f.Stats().Batches != 1 {
		t.Errorf("after the batch: %+v, %+v", f.Record(ids[1]), f.Stats())
	}
}

// One record the API refuses fails the batch's transaction: each record
// is then written on its own, and only the refused one fails.
func TestBatchRefusedRecord(t *testing.T) {
	f, ids, b := batchOf(t)
	ctx := context.Background()
	b.ReadAll(ctx)
	f.RefuseWrites(ids[1], true)
	errs := b.WriteAll(ctx, map[int]string{0: "192.0.2.2", 1: "2001:db8::2", 2: "srv2.example.com"})
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], failover.ErrRefused) || !strings.Contains(errs[1].Error(), "400") {
		t.Errorf("errors %v", errs)
	}
	if f.Record(ids[0]).Content != "192.0.2.2" || f.Record(ids[2]).Content != "srv2.example.com" || f.Record(ids[1]).Content != "2001:db8::1" {
		t.Errorf("contents %q %q %q", f.Record(ids[0]).Content, f.Record(ids[1]).Content, f.Record(ids[2]).Content)
	}
	// A 429 is not the records' fault: every member waits.
	f.RefuseWrites(ids[1], false)
	f.RateLimitNext(1, 2*time.Second)
	errs = b.WriteAll(ctx, map[int]string{0: "192.0.2.3", 1: "2001:db8::3"})
	var r *failover.RetryLater
	if !errors.As(errs[0], &r) || !errors.As(errs[1], &r) {
		t.Errorf("a 429: %v", errs)
	}
	if f.Record(ids[0]).Content != "192.0.2.2" {
		t.Error("written despite the 429")
	}
}
