package watchdog

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/metricstest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// A node's /metrics, as the status listener serves it, with a fixed state:
// it parses; clooster's families, their types, labels and values are those
// of testdata/metrics.golden; the process's and the Go runtime's follow,
// typed, their values not looked at (they differ from run to run, and
// which there are from one machine to another).
func TestMetricsGolden(t *testing.T) {
	n := newTestNode(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := n.met
	m.linked()
	m.linked()
	m.heard(0) // a keepalive that echoes none of ours: no round trip
	m.heard(12 * time.Millisecond)
	m.heard(0)
	m.rejected("192.0.2.7:5000", "bad key")
	m.notified()
	m.notified()
	for i, e := range []string{failover.LogLinkUp, failover.LogLinkDown, failover.LogPeerDown, failover.LogRecordUpdated,
		failover.LogLinkUp, failover.LogGuardWithhold, failover.LogPeerUp, failover.LogRecordUnchanged, failover.LogHandingOver} {
		m.transition(e, at.Add(time.Duration(i)*time.Second)) // the last link or record transition: peer_up, at +6 s
	}
	m.api("read", nil, 80*time.Millisecond)
	m.api("read", nil, 4*time.Millisecond)
	m.api("read", errAPI, 12*time.Second)
	m.api("write", nil, 250*time.Millisecond)
	m.api("write", failover.ErrConflict, 30*time.Millisecond)
	healthy := true
	n.snap = Status{
		Node:   "srv1",
		Peer:   PeerStatus{Name: "srv2", State: PeerUp, Healthy: &healthy},
		Record: RecordStatus{Name: "example.org A", Content: "192.0.2.1", ThisValue: "192.0.2.1"},
		Records: []SetRecordStatus{
			{Name: "example.org", Type: "A", Content: "192.0.2.1", PointsTo: "srv1", Preferred: true, Writes: 2},
			{Name: "example.org", Type: "AAAA", Content: "2001:db8::1", PointsTo: "srv1", Writes: 1, WriteFailures: 3},
		},
		Health: HealthStatus{Checked: true, Healthy: true, LastCheck: "passed"},
	}

	srv := httptest.NewServer(StatusHandler(n, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Header.Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
		t.Errorf("Content-Type: got %q, want %q", got, want)
	}
	fams := metricstest.Parse(t, string(body))
	got := metricstest.Render(fams, func(name string) bool { return strings.HasPrefix(name, "clooster_") })
	metricstest.Golden(t, "testdata/metrics.golden", got, *update)

	for name, f := range fams {
		if f.GetType() == dto.MetricType_UNTYPED {
			t.Errorf("%s has no type", name)
		}
	}
	for _, tt := range []struct {
		name string
		typ  dto.MetricType
	}{
		{"process_cpu_seconds_total", dto.MetricType_COUNTER},
		{"process_resident_memory_bytes", dto.MetricType_GAUGE},
		{"process_start_time_seconds", dto.MetricType_GAUGE},
		{"go_goroutines", dto.MetricType_GAUGE},
		{"go_memstats_heap_inuse_bytes", dto.MetricType_GAUGE},
		{"go_gc_duration_seconds", dto.MetricType_SUMMARY},
	} {
		f, ok := fams[tt.name]
		switch {
		case !ok:
			t.Errorf("no %s", tt.name)
		case f.GetType() != tt.typ:
			t.Errorf("%s: got type %s, want %s", tt.name, f.GetType(), tt.typ)
		}
	}
}

// The state's gauges are the state at each scrape: none outlives what it
// shows, and one that means nothing in a state is left out.
func TestMetricsFollowState(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name    string
		st      Status
		want    []string // lines the page has
		wantNot []string // prefixes of lines it must not have
	}{
		{
			name: "linked and active",
			st: Status{Node: "srv1", Peer: PeerStatus{State: PeerUp, Healthy: &yes},
				Record: RecordStatus{Content: "srv1", ThisValue: "srv1"}, Health: HealthStatus{Healthy: true}},
			want:    []string{"clooster_link_up 1", "clooster_active 1", "clooster_peer_healthy 1", "clooster_healthy 1"},
			wantNot: []string{"clooster_health_last_check_passed"},
		},
		{
			name: "peer unhealthy",
			st: Status{Node: "srv1", Peer: PeerStatus{State: PeerUp, Healthy: &no},
				Record: RecordStatus{Content: "srv1", ThisValue: "srv1"}, Health: HealthStatus{Healthy: true}},
			want: []string{"clooster_link_up 1", "clooster_peer_healthy 0"},
		},
		{
			name: "peer down, record taken, guard withholding",
			st: Status{Node: "srv1", Peer: PeerStatus{State: PeerDown},
				Record: RecordStatus{Content: "srv2", ThisValue: "srv1"},
				Guard:  GuardStatus{Withholding: true}},
			want:    []string{"clooster_link_up 0", "clooster_active 0", "clooster_healthy 0", "clooster_guard_withholding 1"},
			wantNot: []string{"clooster_peer_healthy"},
		},
		{
			name: "health checked and failing",
			st: Status{Node: "srv1", Peer: PeerStatus{State: PeerConnecting},
				Health: HealthStatus{Checked: true, Healthy: true, LastCheck: "failed: connection refused"}},
			want:    []string{"clooster_health_last_check_passed 0", "clooster_healthy 1", "clooster_active 0"},
			wantNot: []string{"clooster_peer_healthy"},
		},
	}
	// One Metrics through every state, in turn, as scrapes of one node see
	// its state change.
	m := newMetrics()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			m.WritePrometheus(&b, func() Status { return tt.st })
			metricstest.Parse(t, b.String())
			lines := strings.Split(b.String(), "\n")
			for _, want := range tt.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return l == want }) {
					t.Errorf("lacks %q:\n%s", want, b.String())
				}
			}
			for _, not := range tt.wantNot {
				if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, not) }) {
					t.Errorf("has %s:\n%s", not, b.String())
				}
			}
		})
	}
}

// A running node's page follows the link: up while linked, down at the
// first scrape after the peer is gone, with the link counted once.
func TestMetricsOfRunningNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		h := StatusHandler(s2.node, nil)
		scrape := func() string {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			metricstest.Parse(t, rec.Body.String())
			return rec.Body.String()
		}
		for _, want := range []string{"clooster_link_up 1\n", "clooster_links_total 1\n", "clooster_peer_healthy 1\n"} {
			if page := scrape(); !strings.Contains(page, want) {
				t.Errorf("linked: lacks %q", want)
			}
		}
		p.crash(s1)
		waitFor(t, 10*time.Second, func() bool { return s2.node.Status().Peer.State != PeerUp })
		page := scrape()
		for _, want := range []string{"clooster_link_up 0\n", "clooster_links_total 1\n"} {
			if !strings.Contains(page, want) {
				t.Errorf("after the crash: lacks %q", want)
			}
		}
		if strings.Contains(page, "clooster_peer_healthy") {
			t.Error("after the crash: still shows clooster_peer_healthy")
		}
	})
}

// newTestNode is a server node that is never run: for its status page.
func newTestNode(t *testing.T) *Node {
	t.Helper()
	stls, err := ServerTLS("", "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Config{This: "srv1", Other: "srv2", Key: []byte(testKey), Role: "server", ServerTLS: stls,
		KeepaliveInterval: time.Second, PeerTimeout: 5 * time.Second, FailbackDelay: 30 * time.Second,
		RecordName: "example.org", Store: &memStore{content: "srv1"}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
