package watchdog

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/clooster/clooster/internal/failover"
)

// Metrics counts what the node does, for /metrics and /status. It is written
// by the node's goroutines and read by the status listener; all methods are
// safe for concurrent use.
type Metrics struct {
	mu             sync.Mutex
	linkUps        uint64
	nRejected      uint64
	rtt            time.Duration
	nHeard         uint64
	nPushes        uint64
	events         map[string]uint64
	lastTransition time.Time
	calls          map[apiKey]uint64
	latency        map[string]*histogram
}

type apiKey struct{ op, result string }

func newMetrics() *Metrics {
	return &Metrics{events: map[string]uint64{}, calls: map[apiKey]uint64{}, latency: map[string]*histogram{}}
}

func (m *Metrics) rejected(addr, reason string) {
	m.mu.Lock()
	m.nRejected++
	m.mu.Unlock()
}

func (m *Metrics) linked() {
	m.mu.Lock()
	m.linkUps++
	m.mu.Unlock()
}

func (m *Metrics) heard(rtt time.Duration) {
	m.mu.Lock()
	m.nHeard++
	if rtt > 0 {
		m.rtt = rtt
	}
	m.mu.Unlock()
}

func (m *Metrics) lastRTT() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rtt
}

func (m *Metrics) notified() {
	m.mu.Lock()
	m.nPushes++
	m.mu.Unlock()
}

func (m *Metrics) transition(event string, at time.Time) {
	m.mu.Lock()
	m.events[event]++
	switch event {
	case failover.LogLinkUp, failover.LogLinkDown, failover.LogPeerUp, failover.LogPeerDown, failover.LogRecordUpdated:
		m.lastTransition = at
	}
	m.mu.Unlock()
}

func (m *Metrics) api(op string, err error, d time.Duration) {
	result := "ok"
	switch {
	case errors.Is(err, failover.ErrConflict):
		result = "conflict" // a conditional write that lost: nothing wrong
	case err != nil:
		result = "error"
	}
	m.mu.Lock()
	m.calls[apiKey{op, result}]++
	h := m.latency[op]
	if h == nil {
		h = &histogram{bounds: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}
		h.counts = make([]uint64, len(h.bounds))
		m.latency[op] = h
	}
	h.observe(d.Seconds())
	m.mu.Unlock()
}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

func (h *histogram) observe(v float64) {
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
			break
		}
	}
	h.sum += v
	h.n++
}

// WritePrometheus writes the metrics in the Prometheus text format, with st
// for the gauges of the current state.
func (m *Metrics) WritePrometheus(w io.Writer, st Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	up := 0
	if st.Peer.State == PeerUp {
		up = 1
	}
	active := 0
	if st.Record.Content != "" && st.Record.Content == st.Record.ThisValue {
		active = 1
	}
	gauge(w, "clooster_link_up", "1 if the link to the peer is up.", float64(up))
	gauge(w, "clooster_active", "1 if the record points to this node.", float64(active))
	gauge(w, "clooster_healthy", "1 if this node's own service passes its health check (always 1 without one).", b2f(st.Health.Healthy))
	if st.Health.Checked {
		gauge(w, "clooster_health_last_check_passed", "1 if this node's last health check passed.", b2f(st.Health.LastCheck == "passed"))
	}
	if st.Peer.Healthy != nil {
		gauge(w, "clooster_peer_healthy", "1 if the peer says its service is healthy.", b2f(*st.Peer.Healthy))
	}
	gauge(w, "clooster_guard_withholding", "1 if the split-brain guard withholds a takeover.", b2f(st.Guard.Withholding))
	gauge(w, "clooster_keepalive_rtt_seconds", "Round-trip time measured by the last keepalive.", m.rtt.Seconds())
	counter(w, "clooster_links_total", "Authenticated links established.", m.linkUps)
	counter(w, "clooster_keepalives_received_total", "Keepalives received from the peer.", m.nHeard)
	counter(w, "clooster_handshakes_rejected_total", "Connections rejected before or during authentication.", m.nRejected)
	counter(w, "clooster_pushes_total", "Notifications handed to the notifier.", m.nPushes)
	counter(w, "clooster_failovers_total", "Times the peer was declared down.", m.events[failover.LogPeerDown])
	counter(w, "clooster_failbacks_total", "Times the peer was declared up after a stable link.", m.events[failover.LogPeerUp])
	counter(w, "clooster_guard_withholds_total", "Takeovers the split-brain guard withheld.", m.events[failover.LogGuardWithhold])
	counter(w, "clooster_handovers_total", "Handovers started on stop.", m.events[failover.LogHandingOver])
	if !m.lastTransition.IsZero() {
		gauge(w, "clooster_last_transition_timestamp_seconds", "Unix time of the last link or record transition.",
			float64(m.lastTransition.UnixNano())/1e9)
	}

	writeRecordMetrics(w, st)

	fmt.Fprintf(w, "# HELP clooster_events_total Transitions by stable event name.\n# TYPE clooster_events_total counter\n")
	for _, k := range sortedKeys(m.events) {
		fmt.Fprintf(w, "clooster_events_total{event=%q} %d\n", k, m.events[k])
	}
	fmt.Fprintf(w, "# HELP clooster_record_requests_total DNS API calls by operation and result.\n# TYPE clooster_record_requests_total counter\n")
	keys := make([]apiKey, 0, len(m.calls))
	for k := range m.calls {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].op+keys[i].result < keys[j].op+keys[j].result
	})
	for _, k := range keys {
		fmt.Fprintf(w, "clooster_record_requests_total{op=%q,result=%q} %d\n", k.op, k.result, m.calls[k])
	}
	fmt.Fprintf(w, "# HELP clooster_record_request_duration_seconds DNS API call latency.\n# TYPE clooster_record_request_duration_seconds histogram\n")
	for _, op := range sortedKeys(m.latency) {
		h := m.latency[op]
		var cum uint64
		for i, b := range h.bounds {
			cum += h.counts[i]
			fmt.Fprintf(w, "clooster_record_request_duration_seconds_bucket{op=%q,le=\"%g\"} %d\n", op, b, cum)
		}
		fmt.Fprintf(w, "clooster_record_request_duration_seconds_bucket{op=%q,le=\"+Inf\"} %d\n", op, h.n)
		fmt.Fprintf(w, "clooster_record_request_duration_seconds_sum{op=%q} %g\n", op, h.sum)
		fmt.Fprintf(w, "clooster_record_request_duration_seconds_count{op=%q} %d\n", op, h.n)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func gauge(w io.Writer, name, help string, v float64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
}

func counter(w io.Writer, name, help string, v uint64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeRecordMetrics writes the metrics of each record of the set,
// labelled with its name and type.
func writeRecordMetrics(w io.Writer, st Status) {
	label := func(r SetRecordStatus) string { return strings.TrimSpace(r.Name + " " + r.Type) }
	fmt.Fprintf(w, "# HELP clooster_record_active 1 if the record points to this node, by record.\n# TYPE clooster_record_active gauge\n")
	for _, r := range st.Records {
		fmt.Fprintf(w, "clooster_record_active{record=%q} %g\n", label(r), b2f(r.PointsTo == st.Node))
	}
	fmt.Fprintf(w, "# HELP clooster_record_preferred 1 if the record holds its preferred value, by record.\n# TYPE clooster_record_preferred gauge\n")
	for _, r := range st.Records {
		fmt.Fprintf(w, "clooster_record_preferred{record=%q} %g\n", label(r), b2f(r.Preferred))
	}
	fmt.Fprintf(w, "# HELP clooster_record_writes_total This node's writes of each record, by result.\n# TYPE clooster_record_writes_total counter\n")
	for _, r := range st.Records {
		fmt.Fprintf(w, "clooster_record_writes_total{record=%q,result=\"ok\"} %d\n", label(r), r.Writes)
		fmt.Fprintf(w, "clooster_record_writes_total{record=%q,result=\"failed\"} %d\n", label(r), r.WriteFailures)
	}
}
