package watchdog

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

type hookEnv map[string]string

func (h *hookEnv) Fire(_ string, env map[string]string) { *h = env }

func setNode() *Node {
	return &Node{log: slog.New(slog.DiscardHandler), cfg: Config{
		This: "srv1", Other: "srv2", RecordName: "example.org A, example.org AAAA, www.example.com CNAME",
		Records: []SetRecord{
			{Name: "example.org", Type: "A", ThisValue: "192.0.2.1", OtherValue: "192.0.2.2", Preferred: "192.0.2.1"},
			{Name: "example.org", Type: "AAAA", ThisValue: "2001:db8::1", OtherValue: "2001:db8::2", Preferred: "2001:db8::1"},
			{Name: "www.example.com", Type: "CNAME", ThisValue: "srv1", OtherValue: "srv2", Preferred: "srv1"},
		},
	}}
}

// Hooks of a set: the single-record variables are of the first record,
// CLOOSTER_RECORDS is the set, a line per record.
func TestHookEnvOfASet(t *testing.T) {
	n := setNode()
	var env hookEnv
	n.cfg.Hooks = &env
	n.fire(failover.ActHook{Event: "on_active", Content: recordset.Join([]string{"192.0.2.1", "2001:db8::1", "srv1"})})
	want := map[string]string{
		"CLOOSTER_RECORD":  "example.org",
		"CLOOSTER_CONTENT": "192.0.2.1",
		"CLOOSTER_RECORDS": "example.org A 192.0.2.1\nexample.org AAAA 2001:db8::1\nwww.example.com CNAME srv1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

// /status has a line per record: where it points, and its last write.
func TestStatusRecordsOfASet(t *testing.T) {
	n := setNode()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n.cfg.RecordStates = func() []recordset.State {
		return []recordset.State{
			{Content: "192.0.2.2", ReadAt: at, WroteAt: at},
			{Content: "2001:db8::1", ReadAt: at, WriteErr: "400: invalid"},
			{Missing: true, ReadAt: at},
		}
	}
	got := n.recordsStatus(failover.View{Record: "ignored, the store knows better"})
	if len(got) != 3 {
		t.Fatalf("got %d records", len(got))
	}
	if r := got[0]; r.PointsTo != "srv2" || r.Preferred || !r.LastWrite.Equal(at) || r.Type != "A" {
		t.Errorf("A: %+v", r)
	}
	if r := got[1]; r.PointsTo != "srv1" || !r.Preferred || r.WriteError != "400: invalid" {
		t.Errorf("AAAA: %+v", r)
	}
	if r := got[2]; !r.Missing || r.PointsTo != "" || r.Content != "" {
		t.Errorf("CNAME: %+v", r)
	}
	// A single record, without a store's knowledge: the machine's view.
	one := &Node{cfg: Config{This: "srv1", Other: "srv2", RecordName: "www.example.com", ThisValue: "srv1", OtherValue: "srv2", Preferred: "srv1"}}
	if r := one.recordsStatus(failover.View{Record: "srv2"}); len(r) != 1 || r[0].PointsTo != "srv2" || r[0].Name != "www.example.com" {
		t.Errorf("one record: %+v", r)
	}
}

// INFO frames: the original's value only, and a records block's digests.
func TestInfoFrame(t *testing.T) {
	for _, i := range []info{
		{Value: "srv1.example.com"},
		{Records: []recordDigest{{1, 2}, {3, 4}}},
		{Value: "192.0.2.1", Records: []recordDigest{{5, 6}}},
	} {
		_, p, err := decodeFrame(i.encode())
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeInfo(p)
		if err != nil || got.Value != i.Value || len(got.Records) != len(i.Records) {
			t.Errorf("%+v: decoded %+v, %v", i, got, err)
		}
	}
	for _, bad := range [][]byte{{}, {0}, {5, 'a'}, {0, 1, 1, 2}, {1, 'a', 2, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := decodeInfo(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
	// A set too long for the value field still links: the value is left out.
	long := info{Value: strings.Repeat("x", 300), Records: []recordDigest{{1, 2}}}
	if _, p, _ := decodeFrame(long.encode()); p == nil {
		t.Fatal("no frame")
	} else if got, err := decodeInfo(p); err != nil || got.Value != "" {
		t.Errorf("a long value: %+v, %v", got, err)
	}
}

func TestSetMismatch(t *testing.T) {
	own := []RecordDigest{{"example.org A", 1, 10}, {"example.org AAAA", 2, 20}, {"www CNAME", 3, 30}}
	tests := []struct {
		peer []recordDigest
		want []string
	}{
		{[]recordDigest{{3, 30}, {1, 10}, {2, 20}}, nil},
		{[]recordDigest{{1, 10}, {2, 21}, {4, 40}}, []string{"example.org AAAA: configured differently", "www CNAME: not in the peer's set",
			"1 record(s) of the peer's set not in this node's"}},
		{nil, []string{"the peer's file has no records block"}},
	}
	for _, tt := range tests {
		if got := setMismatch(own, tt.peer); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("peer %v: got %q, want %q", tt.peer, got, tt.want)
		}
	}
	if got := setMismatch(nil, nil); got != nil {
		t.Errorf("neither has a block: %q", got)
	}
	if got := setMismatch(nil, []recordDigest{{1, 1}}); len(got) != 1 {
		t.Errorf("only the peer has a block: %q", got)
	}
}

// The metrics of a set carry a record label.
func TestRecordMetrics(t *testing.T) {
	st := Status{Node: "srv1", Records: []SetRecordStatus{
		{Name: "example.org", Type: "A", PointsTo: "srv1", Preferred: true, Writes: 2},
		{Name: "example.org", Type: "AAAA", PointsTo: "srv2", Writes: 1, WriteFailures: 3},
	}}
	var b strings.Builder
	newMetrics().WritePrometheus(&b, func() Status { return st })
	for _, want := range []string{
		`clooster_record_active{record="example.org A"} 1`,
		`clooster_record_active{record="example.org AAAA"} 0`,
		`clooster_record_preferred{record="example.org A"} 1`,
		`clooster_record_writes_total{record="example.org AAAA",result="failed"} 3`,
		`clooster_record_writes_total{record="example.org A",result="ok"} 2`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("lacks %s:\n%s", want, b.String())
		}
	}
}
