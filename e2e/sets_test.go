package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/pairtest"
)

// TestRecordSetFailover: a pair owns an A and an AAAA record of one name
// and a CNAME of another, in a second zone. kill -9 of the active node
// moves all three, one write each; after a restart, all three come back.
// One record whose write is refused does not hold up the others.
func TestRecordSetFailover(t *testing.T) {
	e2eTest(t)
	p, set, contents := setPair(t)
	onSrv1 := []string{"192.0.2.1", "2001:db8::1", srv1}
	onSrv2 := []string{"192.0.2.2", "2001:db8::2", srv2}
	ids := set.ids

	a, b := bin.StartPair(t, p)
	st, err := b.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Records) != 3 {
		t.Fatalf("/status records: %+v, want 3", st.Records)
	}

	killed := a.Kill(t)
	pairtest.WaitFor(t, 5*time.Second, "every record repointed to srv2", func() bool { return slices.Equal(contents(), onSrv2) })
	var last time.Time
	for _, w := range p.F.CF.Writes() {
		last = w.At
	}
	t.Logf("kill -9 of srv1 → 3 records repointed to srv2, the last in %d ms", last.Sub(killed).Milliseconds())
	time.Sleep(500 * time.Millisecond) // room for a stray write
	if n := len(p.F.CF.Writes()); n != 3 {
		t.Errorf("%d writes, want one per record: %+v", n, p.F.CF.Writes())
	}
	// Two requests per zone: example.org's A and AAAA are listed at once
	// and written in one batch, example.com's CNAME read and written.
	var reqs []string
	for _, r := range p.F.CF.Requests() {
		if !r.At.Before(killed) {
			reqs = append(reqs, r.Method+" "+r.Path)
		}
	}
	if len(reqs) > 4 {
		t.Errorf("the failover made %d requests, want at most 2 per zone:\n%s", len(reqs), strings.Join(reqs, "\n"))
	}
	st, err = b.Status()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range st.Records {
		if r.PointsTo != srv2 || r.Content != onSrv2[i] || r.LastWrite.IsZero() {
			t.Errorf("/status records[%d] = %+v, want pointing to srv2", i, r)
		}
	}
	titles := strings.Join(p.F.PushTitles(), "\n")
	if !strings.Contains(titles, downTitle(srv2, srv1)) {
		t.Errorf("pushes: %q", titles)
	}

	// srv1 is back; the AAAA record's write is refused for a while: the
	// other two come back at once, the AAAA once it is accepted.
	p.F.CF.RefuseWrites(ids[1], true)
	a = bin.StartNode(t, p.Srv1)
	pairtest.WaitFor(t, fastTiming.FailbackDelay+10*time.Second, "A and CNAME back on srv1", func() bool {
		c := contents()
		return c[0] == onSrv1[0] && c[2] == onSrv1[2]
	})
	if c := contents(); c[1] != onSrv2[1] {
		t.Fatalf("the refused AAAA record changed: %q", c)
	}
	st, err = a.Status()
	if err != nil {
		t.Fatal(err)
	}
	pairtest.WaitFor(t, 5*time.Second, "the refused write in /status", func() bool {
		st, err = a.Status()
		return err == nil && len(st.Records) == 3 && st.Records[1].WriteError != ""
	})
	p.F.CF.RefuseWrites(ids[1], false)
	pairtest.WaitFor(t, 15*time.Second, "AAAA back on srv1", func() bool { return slices.Equal(contents(), onSrv1) })
	_ = b
}

// recordSet is the set of a setPair: the records' ids, and the records
// block with srv2's AAAA value as given.
type recordSet struct {
	ids     []string
	records func(aaaa2 string) []any
}

// setPair is a pair that owns an A and an AAAA record of example.org (in a
// second zone) and the CNAME www.example.com, with its set and contents,
// the records' contents as the API holds them.
func setPair(t *testing.T) (*pairtest.Pair, recordSet, func() []string) {
	t.Helper()
	p := pairtest.NewPair(t, fastTiming)
	zone := p.F.CF.AddZone("example.org")
	var set recordSet
	set.ids = []string{
		p.F.CF.AddRecord(zone, fakecf.Record{Name: "example.org", Type: "A", Content: "192.0.2.1"}),
		p.F.CF.AddRecord(zone, fakecf.Record{Name: "example.org", Type: "AAAA", Content: "2001:db8::1"}),
		p.F.RecordID, // www.example.com CNAME srv1
	}
	records := func(aaaa2 string) []any {
		return []any{
			map[string]any{"name": "example.org", "type": "A", "zone": "example.org",
				"values": map[string]any{srv1: "192.0.2.1", srv2: "192.0.2.2"}},
			map[string]any{"name": "example.org", "type": "AAAA", "zone": "example.org",
				"values": map[string]any{srv1: "2001:db8::1", srv2: aaaa2}},
			map[string]any{"name": pairtest.Record, "type": "CNAME"},
		}
	}
	p.Srv1.Records, p.Srv2.Records = records("2001:db8::2"), records("2001:db8::2")
	set.records = records
	return p, set, func() []string {
		var out []string
		for _, id := range set.ids {
			out = append(out, p.F.CF.Record(id).Content)
		}
		return out
	}
}

// TestRecordSetMismatch: the two files' records blocks differ in one
// record. Both nodes say so, in /status and in one push each; a failover
// still moves the set, a failback does not happen.
func TestRecordSetMismatch(t *testing.T) {
	e2eTest(t)
	p, set, contents := setPair(t)
	p.Srv2.Records = set.records("2001:db8::99")
	a, b := bin.StartPair(t, p)
	for _, n := range []*pairtest.Proc{a, b} {
		pairtest.WaitFor(t, 5*time.Second, n.Label+" reports the mismatch", func() bool {
			st, err := n.Status()
			return err == nil && st.Link.Problem != nil && st.Link.Problem.Kind == "records_mismatch" &&
				strings.HasPrefix(st.Link.Problem.What, "records[example.org AAAA]: configured differently") &&
				len(st.Link.NoFailback) == 1
		})
		if v, err := n.Metric(`clooster_link_problem{problem="records_mismatch"}`); err != nil || v != 1 {
			t.Errorf("%s: clooster_link_problem{problem=\"records_mismatch\"} = %v, %v; want 1", n.Label, v, err)
		}
		if !strings.Contains(n.Log(), "event=records_mismatch") {
			t.Errorf("%s logs no records_mismatch event", n.Label)
		}
	}
	pairtest.WaitFor(t, 5*time.Second, "a push from each node", func() bool { return p.F.PushesWith("Record sets differ") == 2 })

	a.Kill(t)
	// The zones are written concurrently: wait for the last record, not
	// the first.
	onSrv2 := []string{"192.0.2.2", "2001:db8::99", srv2}
	pairtest.WaitFor(t, 5*time.Second, "the set repointed to srv2", func() bool { return slices.Equal(contents(), onSrv2) })
	a = bin.StartNode(t, p.Srv1)
	pairtest.WaitLinked(t, 10*time.Second, a, b)
	time.Sleep(fastTiming.FailbackDelay + 2*time.Second)
	if c := contents(); c[0] != "192.0.2.2" {
		t.Errorf("failed back while the sets differ: %q", c)
	}
	// One push per node per episode: srv2's goes on while srv1 is
	// away; the restarted srv1 starts one of its own.
	if n := p.F.PushesWith("Record sets differ"); n != 3 {
		t.Errorf("%d mismatch pushes, want 3: one from each node, one from srv1 restarted", n)
	}
}
