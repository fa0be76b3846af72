package recordset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/failover"
)

// store is one record in memory, with the errors its next calls return.
type store struct {
	mu       sync.Mutex
	content  string
	modified time.Time
	readErr  error
	writeErr error
	writes   []string
	clock    failover.ClockOffset // the provider's, as its answers show it
}

func (s *store) Read(context.Context) (failover.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return failover.Record{}, s.readErr
	}
	return failover.Record{Content: s.content, Modified: s.modified, APIClock: s.clock}, nil
}

func (s *store) Write(_ context.Context, content string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil {
		return s.writeErr
	}
	s.content = content
	s.writes = append(s.writes, content)
	return nil
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func threeRecords() (*Set, []*store) {
	a := &store{content: "192.0.2.1", modified: t0}
	aaaa := &store{content: "2001:db8::1", modified: t0.Add(time.Minute)}
	cname := &store{content: "srv1.example.com", modified: t0.Add(2 * time.Minute)}
	return New([]Member{{"example.com A", a}, {"example.com AAAA", aaaa}, {"www.example.com CNAME", cname}}),
		[]*store{a, aaaa, cname}
}

func TestSetMovesTogether(t *testing.T) {
	ctx := context.Background()
	set, stores := threeRecords()
	rec, err := set.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "192.0.2.1, 2001:db8::1, srv1.example.com"; rec.Content != want || !rec.Modified.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("read %+v, want %q, modified at the latest change", rec, want)
	}
	// The CNAME already holds its part: two writes, not three.
	if err := set.Write(ctx, "192.0.2.2, 2001:db8::2, srv1.example.com"); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"192.0.2.2"}, {"2001:db8::2"}, nil} {
		if got := stores[i].writes; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("record %d writes %q, want %q", i, got, want)
		}
	}
	if err := set.Write(ctx, "192.0.2.2, 2001:db8::2"); err == nil {
		t.Error("a content of two parts for three records was written")
	}
}

// One record's write fails: the others are written, the error names it,
// and the retry writes only it.
// The set's read carries the API's clock offset of its records' answers,
// the most precise one: the node checks the API's clock from it.
func TestSetReadCarriesAPIClock(t *testing.T) {
	coarse := failover.ClockOffset{Est: 5 * time.Second, Err: 750 * time.Millisecond, Known: true}
	fine := failover.ClockOffset{Est: 4 * time.Second, Err: 100 * time.Millisecond, Known: true}
	cases := []struct {
		name   string
		clocks []failover.ClockOffset
		want   failover.ClockOffset
	}{
		{"none says", []failover.ClockOffset{{}, {}}, failover.ClockOffset{}},
		{"one of one", []failover.ClockOffset{coarse}, coarse},
		{"one of two", []failover.ClockOffset{{}, coarse}, coarse},
		{"the most precise", []failover.ClockOffset{coarse, fine}, fine},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var members []Member
			for i, clock := range c.clocks {
				members = append(members, Member{fmt.Sprintf("r%d A", i), &store{content: "192.0.2.1", clock: clock}})
			}
			rec, err := New(members).Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.APIClock; got != c.want {
				t.Errorf("APIClock: got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestSetWriteFailureHoldsUpNothing(t *testing.T) {
	ctx := context.Background()
	set, stores := threeRecords()
	if _, err := set.Read(ctx); err != nil {
		t.Fatal(err)
	}
	stores[1].writeErr = &failover.RetryLater{After: 5 * time.Second, Err: errors.New("429 Too Many Requests")}
	err := set.Write(ctx, "192.0.2.2, 2001:db8::2, srv2.example.com")
	var r *failover.RetryLater
	if !errors.As(err, &r) || r.After != 5*time.Second || !strings.Contains(err.Error(), "write 1 of 3 records failed: example.com AAAA: 429") {
		t.Fatalf("got %v, want a RetryLater of 5s naming the AAAA record", err)
	}
	if stores[0].content != "192.0.2.2" || stores[2].content != "srv2.example.com" {
		t.Errorf("the others were not written: %q %q", stores[0].content, stores[2].content)
	}
	st := set.States()
	if st[1].WriteErr == "" || st[0].WriteErr != "" || st[0].WroteAt.IsZero() {
		t.Errorf("states %+v", st)
	}
	stores[1].writeErr = nil
	if err := set.Write(ctx, "192.0.2.2, 2001:db8::2, srv2.example.com"); err != nil {
		t.Fatal(err)
	}
	if len(stores[0].writes) != 1 || len(stores[1].writes) != 1 || len(stores[2].writes) != 1 {
		t.Errorf("writes %q %q %q, want one each", stores[0].writes, stores[1].writes, stores[2].writes)
	}
	if st := set.States(); st[1].WriteErr != "" || st[1].Content != "2001:db8::2" {
		t.Errorf("after the retry: %+v", st[1])
	}
}

func TestSetReadErrors(t *testing.T) {
	ctx := context.Background()
	set, stores := threeRecords()
	stores[2].readErr = failover.ErrMissing
	_, err := set.Read(ctx)
	if !errors.Is(err, failover.ErrMissing) || !strings.Contains(err.Error(), "www.example.com CNAME") {
		t.Errorf("one missing: %v", err)
	}
	if st := set.States(); !st[2].Missing || st[0].Content != "192.0.2.1" {
		t.Errorf("states %+v", st)
	}
	stores[0].readErr = errors.New("connection refused")
	if _, err := set.Read(ctx); errors.Is(err, failover.ErrMissing) {
		t.Errorf("one missing and one failing is not missing: %v", err)
	}
	if st := set.States(); st[0].ReadErr != "connection refused" || st[0].Content != "192.0.2.1" || st[2].ReadErr != "" {
		t.Errorf("a failed read: states %+v, want its error, the content as last known", st)
	}
	stores[0].readErr = nil
	set.Read(ctx)
	if st := set.States(); st[0].ReadErr != "" {
		t.Errorf("read again: error %q, want none", st[0].ReadErr)
	}
	stores[0].readErr = errors.New("connection refused")
	// Without a stamp on one record, the set's is unknown.
	stores[0].readErr, stores[2].readErr, stores[1].modified = nil, nil, time.Time{}
	if rec, err := set.Read(ctx); err != nil || !rec.Modified.IsZero() {
		t.Errorf("got %+v, %v, want an unknown stamp", rec, err)
	}
}

// A set of one is its record: its content, and its errors as they are.
func TestSetOfOne(t *testing.T) {
	ctx := context.Background()
	s := &store{content: "a, b"} // even with the separator in it
	set := New([]Member{{"www.example.com", s}})
	if rec, _ := set.Read(ctx); rec.Content != "a, b" {
		t.Errorf("read %q", rec.Content)
	}
	s.writeErr = failover.ErrMissing
	if err := set.Write(ctx, "c, d"); err != failover.ErrMissing {
		t.Errorf("got %v, want the record's own error", err)
	}
}

// batch is a Batcher over stores, counting its calls.
type batch struct {
	stores        []*store
	reads, writes int
}

func (b *batch) ReadAll(ctx context.Context) ([]failover.Record, []error) {
	b.reads++
	recs, errs := make([]failover.Record, len(b.stores)), make([]error, len(b.stores))
	for i, s := range b.stores {
		recs[i], errs[i] = s.Read(ctx)
	}
	return recs, errs
}

func (b *batch) WriteAll(ctx context.Context, contents map[int]string) map[int]error {
	b.writes++
	errs := map[int]error{}
	for i, c := range contents {
		errs[i] = b.stores[i].Write(ctx, c)
	}
	return errs
}

// The members of a group are read and written by its batcher, one call
// each way, with only the records that differ.
func TestSetGroup(t *testing.T) {
	ctx := context.Background()
	a := &store{content: "192.0.2.1"}
	aaaa := &store{content: "2001:db8::1"}
	cname := &store{content: "srv1.example.com"}
	b := &batch{stores: []*store{a, aaaa}}
	set := New([]Member{{"example.org A", a}, {"www CNAME", cname}, {"example.org AAAA", aaaa}},
		Group{Batcher: b, Members: []int{0, 2}})
	rec, err := set.Read(ctx)
	if err != nil || rec.Content != "192.0.2.1, srv1.example.com, 2001:db8::1" || b.reads != 1 {
		t.Fatalf("read %q, %v, %d batch reads", rec.Content, err, b.reads)
	}
	if err := set.Write(ctx, "192.0.2.2, srv2.example.com, 2001:db8::1"); err != nil {
		t.Fatal(err)
	}
	if b.writes != 1 || len(a.writes) != 1 || len(aaaa.writes) != 0 || len(cname.writes) != 1 {
		t.Errorf("batch writes %d; writes %q %q %q", b.writes, a.writes, aaaa.writes, cname.writes)
	}
	// Nothing of the group differs: no batch call.
	if err := set.Write(ctx, "192.0.2.2, srv1.example.com, 2001:db8::1"); err != nil || b.writes != 1 {
		t.Errorf("%v, %d batch writes", err, b.writes)
	}
}

// A record that refuses the write: the set says what it holds now, as a
// failover.PartialWrite, so that the node knows its own partial move.
func TestSetPartialWrite(t *testing.T) {
	ctx := context.Background()
	set, stores := threeRecords()
	if _, err := set.Read(ctx); err != nil {
		t.Fatal(err)
	}
	stores[1].writeErr = fmt.Errorf("400 Bad Request (%w)", failover.ErrRefused)
	err := set.Write(ctx, "192.0.2.2, 2001:db8::2, srv2.example.com")
	var pw *failover.PartialWrite
	if !errors.As(err, &pw) || pw.Landed != "192.0.2.2, 2001:db8::1, srv2.example.com" || !errors.Is(err, failover.ErrRefused) {
		t.Errorf("got %v (%T), want a partial write", err, err)
	}
	// A failure that may have landed is no partial write that is known.
	stores[1].writeErr = errors.New("connection reset")
	if err := set.Write(ctx, "192.0.2.2, 2001:db8::2, srv2.example.com"); errors.As(err, &pw) {
		t.Errorf("an uncertain failure: %v", err)
	}
}

// swapStore is a store whose provider compares and swaps.
type swapStore struct{ store }

func (s *swapStore) Swap(_ context.Context, old, content string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.content != old {
		return fmt.Errorf("update: NXRRSET (%w)", failover.ErrConflict)
	}
	s.content = content
	s.writes = append(s.writes, content)
	return nil
}

// A set's swap: each record that can compare and swap is written only if
// it still holds its part of what was read; the others as Write does.
func TestSetSwap(t *testing.T) {
	ctx := context.Background()
	fresh := func() (*Set, *swapStore, *swapStore, *store) {
		a := &swapStore{store{content: "192.0.2.1"}}
		aaaa := &swapStore{store{content: "2001:db8::1"}}
		plain := &store{content: "srv1.example.com"}
		return New([]Member{{"A", a}, {"AAAA", aaaa}, {"CNAME", plain}}), a, aaaa, plain
	}
	read := "192.0.2.1, 2001:db8::1, srv1.example.com"
	want := "192.0.2.2, 2001:db8::2, srv2.example.com"

	set, a, aaaa, plain := fresh()
	if err := set.Swap(ctx, read, want); err != nil {
		t.Fatalf("a swap over what it read: %v", err)
	}
	if a.content != "192.0.2.2" || aaaa.content != "2001:db8::2" || plain.content != "srv2.example.com" {
		t.Errorf("after the swap: %q %q %q", a.content, aaaa.content, plain.content)
	}

	// Someone else moved the A record since the read: it is left as that
	// writer left it, the others take theirs, and the error is a
	// conflict that names it (the set is read again).
	set, a, aaaa, plain = fresh()
	a.content = "192.0.2.9"
	err := set.Swap(ctx, read, want)
	var pw *failover.PartialWrite
	if !errors.Is(err, failover.ErrConflict) || errors.As(err, &pw) || !strings.Contains(err.Error(), "A: update: NXRRSET") {
		t.Errorf("one record changed under the swap: %v, want a conflict naming it", err)
	}
	if a.content != "192.0.2.9" || len(a.writes) != 0 || aaaa.content != "2001:db8::2" || plain.content != "srv2.example.com" {
		t.Errorf("after a swap lost by one record: %q (writes %q) %q %q", a.content, a.writes, aaaa.content, plain.content)
	}

	// Only the records that change are swapped; when every one of them
	// lost, nothing was written.
	set, a, aaaa, plain = fresh()
	a.content = "192.0.2.9"
	err = set.Swap(ctx, read, "192.0.2.2, 2001:db8::1, srv1.example.com")
	if !errors.Is(err, failover.ErrConflict) || errors.As(err, &pw) {
		t.Errorf("every swap lost: %v, want a conflict and no partial write", err)
	}
	if len(a.writes)+len(aaaa.writes)+len(plain.writes) != 0 {
		t.Errorf("writes where nothing should be written: %q %q %q", a.writes, aaaa.writes, plain.writes)
	}

	if err := set.Swap(ctx, "192.0.2.1", want); err == nil {
		t.Error("a read of one part for three records was taken")
	}
}
