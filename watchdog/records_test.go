package watchdog

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/agree"
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

// INFO frames: the value, the settings and a records block's digests,
// as fields the decoder reads back; unknown fields are skipped.
func TestInfoFrame(t *testing.T) {
	for _, i := range []info{
		{Value: "srv1.example.com"},
		{Records: []recordDigest{{1, 2}, {3, 4}}},
		{Value: "192.0.2.1", Records: []recordDigest{{5, 6}}},
		{Value: "192.0.2.1", Keepalive: 500 * time.Millisecond, PeerTimeout: 2500 * time.Millisecond, FailbackDelay: 30 * time.Second, Record: "www.example.com A",
			Preferred: "192.0.2.1", OtherValue: "192.0.2.2", Version: "1.2.3"},
	} {
		_, p, err := decodeFrame(i.encode())
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeInfo(p)
		if err != nil || !reflect.DeepEqual(got, i) {
			t.Errorf("%+v: decoded %+v, %v", i, got, err)
		}
	}
	for _, bad := range [][]byte{
		{}, {0}, {5, 'a'}, // nothing said; a value longer than the frame
		{0, 1, 0},                               // a field cut short
		{0, 1, 0, 7, 1, 2, 3, 4, 5, 6, 7},       // digests of 7 bytes
		{0, 2, 0, 4, 0, 0, 0, 1},                // a duration of 4 bytes
		{0, 3, 0, 8, 0x80, 0, 0, 0, 0, 0, 0, 0}, // a negative duration
	} {
		if _, err := decodeInfo(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
	// A field of a later version is skipped.
	if got, err := decodeInfo([]byte{1, 'a', 99, 0, 2, 'x', 'y', 7, 0, 1, 'v'}); err != nil || got.Value != "a" || got.Version != "v" {
		t.Errorf("unknown field: %+v, %v", got, err)
	}
	// A value too long for its field is left out; the rest still goes.
	long := info{Value: strings.Repeat("x", 300), Records: []recordDigest{{1, 2}}}
	if _, p, _ := decodeFrame(long.encode()); p == nil {
		t.Fatal("no frame")
	} else if got, err := decodeInfo(p); err != nil || got.Value != "" || len(got.Records) != 1 {
		t.Errorf("a long value: %+v, %v", got, err)
	}
	// The largest set, with every text field at its longest, fits a frame.
	full := info{Value: strings.Repeat("v", 255), Record: strings.Repeat("r", 255), Preferred: strings.Repeat("p", 255),
		OtherValue: strings.Repeat("o", 255), Version: "1.0", Keepalive: time.Second, PeerTimeout: 2 * time.Second,
		Records: make([]recordDigest, maxInfoRecords)}
	if b := full.encode(); len(b) > maxFrameSize {
		t.Errorf("INFO of %d bytes, more than a frame's %d", len(b), maxFrameSize)
	}
}

// The peer's INFO and this node's file, compared: a records block that
// differs, timings far apart, another preferred value.
func TestInfoCompared(t *testing.T) {
	n := &Node{cfg: Config{KeepaliveInterval: 500 * time.Millisecond, PeerTimeout: 2500 * time.Millisecond, ThisValue: "srv1",
		Settings: agree.Settings{Name: "srv1", Peer: "srv2", Role: "server", Record: "www.example.com CNAME", Preferred: "srv1"}}}
	own := n.ownInfo()
	if own.Keepalive != 500*time.Millisecond || own.Record != "www.example.com CNAME" || own.Preferred != "srv1" || own.Value != "srv1" {
		t.Errorf("own INFO %+v", own)
	}
	peer := info{Value: "srv2", Keepalive: 2 * time.Second, PeerTimeout: 2500 * time.Millisecond, Record: "www.example.com", Preferred: "srv2"}
	var fields []string
	for _, d := range agree.Compare(n.ownSettings(), peerSettings("srv2", peer)) {
		fields = append(fields, d.Field)
	}
	want := "keepalive_interval,peer_timeout/keepalive_interval,cloudflare.preferred_value"
	if strings.Join(fields, ",") != want {
		t.Errorf("differences %q, want %s", fields, want)
	}
	// A peer that agrees.
	same := info{Value: "srv2", Keepalive: 500 * time.Millisecond, PeerTimeout: 2500 * time.Millisecond, Record: "www.example.com CNAME", Preferred: "srv1"}
	if ds := agree.Compare(n.ownSettings(), peerSettings("srv2", same)); len(ds) != 0 {
		t.Errorf("differences %v, want none", ds)
	}
	// Records: the set differs by one record.
	n.cfg.Settings = agree.Settings{Records: []agree.Digest{{Label: "example.org A", Key: 1, Hash: 10}, {Label: "example.org AAAA", Key: 2, Hash: 20}}, RecordsKnown: true}
	n.cfg.Records = []SetRecord{{Name: "example.org", Type: "A"}, {Name: "example.org", Type: "AAAA"}}
	if i := n.ownInfo(); i.Value != "" || len(i.Records) != 2 {
		t.Errorf("a set's INFO %+v", i)
	}
	ds := agree.Compare(n.ownSettings(), peerSettings("srv2", info{Records: []recordDigest{{1, 10}, {2, 21}}, Keepalive: 500 * time.Millisecond}))
	if len(ds) != 1 || ds[0].Field != "records[example.org AAAA]" || !ds[0].Blocks {
		t.Errorf("set differences %v", ds)
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
