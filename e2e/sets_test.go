package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
)

// TestRecordSetFailover: a pair owns an A and an AAAA record of one name
// and a CNAME of another, in a second zone. kill -9 of the active node
// moves all three, one write each; after a restart, all three come back.
// One record whose write is refused does not hold up the others.
func TestRecordSetFailover(t *testing.T) {
	e2eTest(t)
	p, contents := setPair(t)
	onSrv1 := []string{"192.0.2.1", "2001:db8::1", srv1}
	onSrv2 := []string{"192.0.2.2", "2001:db8::2", srv2}
	ids := p.setIDs

	a, b := p.start(t)
	st, err := b.getStatus()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Records) != 3 {
		t.Fatalf("/status records: %+v, want 3", st.Records)
	}

	killed := a.kill(t)
	waitFor(t, 5*time.Second, "every record repointed to srv2", func() bool { return slices.Equal(contents(), onSrv2) })
	var last time.Time
	for _, w := range p.f.cf.Writes() {
		last = w.At
	}
	t.Logf("kill -9 of srv1 → 3 records repointed to srv2, the last in %d ms", last.Sub(killed).Milliseconds())
	time.Sleep(500 * time.Millisecond) // room for a stray write
	if n := len(p.f.cf.Writes()); n != 3 {
		t.Errorf("%d writes, want one per record: %+v", n, p.f.cf.Writes())
	}
	// Two requests per zone: example.org's A and AAAA are listed at once
	// and written in one batch, example.com's CNAME read and written.
	var reqs []string
	for _, r := range p.f.cf.Requests() {
		if !r.At.Before(killed) {
			reqs = append(reqs, r.Method+" "+r.Path)
		}
	}
	if len(reqs) > 4 {
		t.Errorf("the failover made %d requests, want at most 2 per zone:\n%s", len(reqs), strings.Join(reqs, "\n"))
	}
	st, err = b.getStatus()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range st.Records {
		if r.PointsTo != srv2 || r.Content != onSrv2[i] || r.LastWrite.IsZero() {
			t.Errorf("/status records[%d] = %+v, want pointing to srv2", i, r)
		}
	}
	titles := strings.Join(p.f.pushTitles(), "\n")
	if !strings.Contains(titles, downTitle(srv2, srv1)) {
		t.Errorf("pushes: %q", titles)
	}

	// srv1 is back; the AAAA record's write is refused for a while: the
	// other two come back at once, the AAAA once it is accepted.
	p.f.cf.RefuseWrites(ids[1], true)
	a = startNode(t, p.srv1)
	waitFor(t, fastTiming.failbackDelay+10*time.Second, "A and CNAME back on srv1", func() bool {
		c := contents()
		return c[0] == onSrv1[0] && c[2] == onSrv1[2]
	})
	if c := contents(); c[1] != onSrv2[1] {
		t.Fatalf("the refused AAAA record changed: %q", c)
	}
	st, err = a.getStatus()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the refused write in /status", func() bool {
		st, err = a.getStatus()
		return err == nil && len(st.Records) == 3 && st.Records[1].WriteError != ""
	})
	p.f.cf.RefuseWrites(ids[1], false)
	waitFor(t, 15*time.Second, "AAAA back on srv1", func() bool { return slices.Equal(contents(), onSrv1) })
	_ = b
}

// setPair is a pair that owns an A and an AAAA record of example.org (in a
// second zone) and the CNAME www.example.com, with contents, the records'
// contents as the API holds them.
func setPair(t *testing.T) (*pair, func() []string) {
	t.Helper()
	p := newPair(t, fastTiming)
	zone := p.f.cf.AddZone("example.org")
	p.setIDs = []string{
		p.f.cf.AddRecord(zone, fakecf.Record{Name: "example.org", Type: "A", Content: "192.0.2.1"}),
		p.f.cf.AddRecord(zone, fakecf.Record{Name: "example.org", Type: "AAAA", Content: "2001:db8::1"}),
		p.f.recordID, // www.example.com CNAME srv1
	}
	records := func(aaaa2 string) []any {
		return []any{
			map[string]any{"name": "example.org", "type": "A", "zone": "example.org",
				"values": map[string]any{srv1: "192.0.2.1", srv2: "192.0.2.2"}},
			map[string]any{"name": "example.org", "type": "AAAA", "zone": "example.org",
				"values": map[string]any{srv1: "2001:db8::1", srv2: aaaa2}},
			map[string]any{"name": recordName, "type": "CNAME"},
		}
	}
	p.srv1.records, p.srv2.records = records("2001:db8::2"), records("2001:db8::2")
	p.setRecords = records
	return p, func() []string {
		var out []string
		for _, id := range p.setIDs {
			out = append(out, p.f.cf.Record(id).Content)
		}
		return out
	}
}

// TestRecordSetMismatch: the two files' records blocks differ in one
// record. Both nodes say so, in /status and in one push each; a failover
// still moves the set, a failback does not happen.
func TestRecordSetMismatch(t *testing.T) {
	e2eTest(t)
	p, contents := setPair(t)
	p.srv2.records = p.setRecords("2001:db8::99")
	a, b := p.start(t)
	for _, n := range []*proc{a, b} {
		waitFor(t, 5*time.Second, n.label+" reports the mismatch", func() bool {
			st, err := n.getStatus()
			return err == nil && len(st.RecordsMismatch) == 1 && st.RecordsMismatch[0] == "example.org AAAA: configured differently"
		})
	}
	waitFor(t, 5*time.Second, "a push from each node", func() bool { return p.f.pushesWith("Record sets differ") == 2 })

	a.kill(t)
	// The zones are written concurrently: wait for the last record, not
	// the first.
	onSrv2 := []string{"192.0.2.2", "2001:db8::99", srv2}
	waitFor(t, 5*time.Second, "the set repointed to srv2", func() bool { return slices.Equal(contents(), onSrv2) })
	a = startNode(t, p.srv1)
	waitLinked(t, 10*time.Second, a, b)
	time.Sleep(fastTiming.failbackDelay + 2*time.Second)
	if c := contents(); c[0] != "192.0.2.2" {
		t.Errorf("failed back while the sets differ: %q", c)
	}
	if n := p.f.pushesWith("Record sets differ"); n > 4 {
		t.Errorf("%d mismatch pushes, want one per node per link", n)
	}
}
