package cfapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/fakecf"
)

func newStore(t *testing.T, typ string) (*fakecf.Server, string, string, *cfapi.Client) {
	t.Helper()
	f := fakecf.New()
	f.SetToken("tok")
	zone := f.AddZone("example.com")
	id := f.AddRecord(zone, fakecf.Record{Name: "www.example.com", Type: "CNAME", Content: "srv1.example.com", TTL: 120, Comment: "keep me"})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := cfapi.New(cfapi.Config{BaseURL: srv.URL, Token: "tok", ZoneID: zone, Record: "www.example.com", Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return f, zone, id, c
}

func TestStoreReadWriteCostsTwoRequests(t *testing.T) {
	f, _, id, c := newStore(t, "")
	ctx := context.Background()
	got, err := c.Read(ctx)
	if err != nil || got.Content != "srv1.example.com" {
		t.Fatalf("read: got %+v, %v", got, err)
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

// The API's clock may be off by seconds; Modified comes back on ours, to
// within the Date header's one second.
func TestStoreModifiedIsOnOurClock(t *testing.T) {
	for _, skew := range []time.Duration{-10 * time.Second, 0, 10 * time.Second} {
		t.Run(skew.String(), func(t *testing.T) {
			f, _, id, c := newStore(t, "")
			f.SetClockSkew(skew)
			f.SetContent(id, "srv2.example.com") // stamped now, on the API's clock
			wrote := time.Now()
			got, err := c.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if d := got.Modified.Sub(wrote); d < -200*time.Millisecond || d > 1200*time.Millisecond {
				t.Errorf("Modified %s after the write, want within [-0.2s, 1.2s]", d)
			}
			// The API's clock, as the answer's Date shows it: within
			// the measurement's margin of the skew.
			if o := got.APIClock; !o.Known || o.Est-o.Err > skew || o.Est+o.Err < skew {
				t.Errorf("APIClock %+v, want %s within its margin", o, skew)
			}
			if beyond := got.APIClock.Beyond(time.Second); beyond != (skew != 0) {
				t.Errorf("APIClock %+v beyond 1s: %v, want %v", got.APIClock, beyond, skew != 0)
			}
		})
	}
}

func TestStoreMissingRecord(t *testing.T) {
	f, zone, id, c := newStore(t, "")
	ctx := context.Background()
	if _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	f.DeleteRecord(id)
	_, err := c.Read(ctx)
	if !errors.Is(err, failover.ErrMissing) || !errors.Is(err, cfapi.ErrNotFound) {
		t.Fatalf("read of a deleted record: %v, want ErrMissing", err)
	}
	if err := c.Write(ctx, "srv2.example.com"); !errors.Is(err, failover.ErrMissing) {
		t.Errorf("write of a deleted record: %v, want ErrMissing", err)
	}
	// Created again under a new id: found again.
	f.AddRecord(zone, fakecf.Record{Name: "www.example.com", Type: "CNAME", Content: "srv2.example.com", TTL: 120})
	if got, err := c.Read(ctx); err != nil || got.Content != "srv2.example.com" {
		t.Errorf("read of the re-created record: %+v, %v", got, err)
	}
}

// Without a configured type, the record is the one of the type first
// found: a record whose type changes is missing, not a new target.
func TestStoreTypeChangeIsMissing(t *testing.T) {
	f, zone, id, c := newStore(t, "")
	ctx := context.Background()
	if _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	f.DeleteRecord(id)
	f.AddRecord(zone, fakecf.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 120})
	_, err := c.Read(ctx)
	if !errors.Is(err, failover.ErrMissing) {
		t.Fatalf("read after a type change: %v, want ErrMissing", err)
	}
	if want := "its type changed from CNAME to A"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestStoreRetryAfter(t *testing.T) {
	f, _, _, c := newStore(t, "")
	f.RateLimitNext(1, 7*time.Second)
	_, err := c.Read(context.Background())
	var r *failover.RetryLater
	if !errors.As(err, &r) || r.After != 7*time.Second {
		t.Fatalf("429: got %v, want a RetryLater of 7s", err)
	}
	var e *cfapi.Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests {
		t.Errorf("the API's error is not kept: %v", err)
	}
}
