package cfapi_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/watchdog"
)

var _ watchdog.RecordStore = (*cfapi.Client)(nil)

func TestStoreReadWriteCostsTwoRequests(t *testing.T) {
	f := fakecf.New()
	f.SetToken("tok")
	zone := f.AddZone("example.com")
	id := f.AddRecord(zone, fakecf.Record{Name: "www.example.com", Type: "CNAME", Content: "srv1.example.com", TTL: 120, Comment: "keep me"})
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := cfapi.New(cfapi.Config{BaseURL: srv.URL, Token: "tok", ZoneID: zone, Record: "www.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := c.Read(ctx)
	if err != nil || got != "srv1.example.com" {
		t.Fatalf("read: got %q, %v", got, err)
	}
	before := f.Stats().Requests
	if err := c.Write(ctx, "srv2.example.com"); err != nil {
		t.Fatal(err)
	}
	if n := f.Stats().Requests - before; n != 1 {
		t.Errorf("write after read: got %d requests, want 1", n)
	}
	r := f.Record(id)
	if r.Content != "srv2.example.com" || r.TTL != 120 || r.Comment != "keep me" {
		t.Errorf("record after write: %+v", r)
	}
}
