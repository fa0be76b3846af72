package watchdog

import (
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/series"
)

// latencyBuckets are the upper bounds, in seconds, of the DNS API latency
// histogram: from 5 ms (a name server next door) to 30 s, past the 10 s an
// API call may take (failover.APITimeout), which only a write carried
// through a cancellation can exceed.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Metrics counts what the node does, for /metrics and /status, in a
// metrics.Set of its own, so that several nodes can run in one process.
// Counters and the latency histogram count as things happen; the gauges
// of the node's state and the per-record write counters are set from one
// Status at each scrape, so that none is stale and all agree.
//
// It is written by the node's goroutines and read by the status listener;
// all methods are safe for concurrent use.
type Metrics struct {
	set *metrics.Set

	linkUps, keepalives, rejections, pushes    *metrics.Counter
	failovers, failbacks, withholds, handovers *metrics.Counter

	rtt atomic.Int64 // the last keepalive's round trip, in nanoseconds

	// scrape is held while a scrape reads the Status, sets the state's
	// gauges from it and writes the set.
	scrape sync.Mutex
}

func newMetrics() *Metrics {
	// The library writes # TYPE lines (and # HELP, without text) only
	// when asked to, for the whole process: clooster's metrics have
	// always carried their types.
	metrics.ExposeMetadata(true)
	s := metrics.NewSet()
	m := &Metrics{
		set:        s,
		linkUps:    s.NewCounter("clooster_links_total"),
		keepalives: s.NewCounter("clooster_keepalives_received_total"),
		rejections: s.NewCounter("clooster_handshakes_rejected_total"),
		pushes:     s.NewCounter("clooster_pushes_total"),
		failovers:  s.NewCounter("clooster_failovers_total"),
		failbacks:  s.NewCounter("clooster_failbacks_total"),
		withholds:  s.NewCounter("clooster_guard_withholds_total"),
		handovers:  s.NewCounter("clooster_handovers_total"),
	}
	s.NewGauge("clooster_keepalive_rtt_seconds", func() float64 { return m.lastRTT().Seconds() })
	return m
}

func (m *Metrics) rejected(addr, reason string) { m.rejections.Inc() }

func (m *Metrics) linked() { m.linkUps.Inc() }

func (m *Metrics) heard(rtt time.Duration) {
	m.keepalives.Inc()
	if rtt > 0 {
		m.rtt.Store(int64(rtt))
	}
}

func (m *Metrics) lastRTT() time.Duration { return time.Duration(m.rtt.Load()) }

func (m *Metrics) notified() { m.pushes.Inc() }

func (m *Metrics) transition(event string, at time.Time) {
	m.set.GetOrCreateCounter(series.Name("clooster_events_total", "event", event)).Inc()
	switch event {
	case failover.LogPeerDown:
		m.failovers.Inc()
	case failover.LogPeerUp:
		m.failbacks.Inc()
	case failover.LogGuardWithhold:
		m.withholds.Inc()
	case failover.LogHandingOver:
		m.handovers.Inc()
	}
	switch event {
	case failover.LogLinkUp, failover.LogLinkDown, failover.LogPeerUp, failover.LogPeerDown, failover.LogRecordUpdated:
		// Absent until the first transition, as a time of none would be
		// 1970.
		m.set.GetOrCreateGauge("clooster_last_transition_timestamp_seconds", nil).Set(float64(at.UnixNano()) / 1e9)
	}
}

func (m *Metrics) api(op string, err error, d time.Duration) {
	result := "ok"
	switch {
	case errors.Is(err, failover.ErrConflict):
		result = "conflict" // a conditional write that lost: nothing wrong
	case err != nil:
		result = "error"
	}
	m.set.GetOrCreateCounter(series.Name("clooster_record_requests_total", "op", op, "result", result)).Inc()
	m.set.GetOrCreatePrometheusHistogramExt(series.Name("clooster_record_request_duration_seconds", "op", op),
		latencyBuckets).Update(d.Seconds())
}

// WritePrometheus writes the metrics in the Prometheus text format, the
// gauges of the state from status, called once. Scrapes take their turn,
// so that a counter set from the state never steps back.
func (m *Metrics) WritePrometheus(w io.Writer, status func() Status) {
	m.scrape.Lock()
	defer m.scrape.Unlock()
	st := status()
	active := st.Record.Content != "" && st.Record.Content == st.Record.ThisValue
	m.gauge("clooster_link_up", st.Peer.State == PeerUp)
	m.gauge("clooster_active", active)
	m.gauge("clooster_healthy", st.Health.Healthy)
	m.gauge("clooster_guard_withholding", st.Guard.Withholding)
	m.gaugeIf(st.Health.Checked, "clooster_health_last_check_passed", st.Health.LastCheck == "passed")
	m.gaugeIf(st.Peer.Healthy != nil, "clooster_peer_healthy", st.Peer.Healthy != nil && *st.Peer.Healthy)
	for _, kind := range failover.ProblemKinds {
		on := slices.ContainsFunc(st.Link.Problems, func(p failover.Problem) bool { return p.Kind == kind })
		m.gauge(series.Name("clooster_link_problem", "problem", kind), on)
	}
	m.offset(series.Name("clooster_clock_offset_seconds", "clock", "peer"), st.Link.ClockOffsetMillis)
	m.offset(series.Name("clooster_clock_offset_seconds", "clock", "dns_api"), st.Link.APIClockOffsetMillis)
	for _, r := range st.Records {
		label := strings.TrimSpace(r.Name + " " + r.Type)
		m.gauge(series.Name("clooster_record_active", "record", label), r.PointsTo == st.Node)
		m.gauge(series.Name("clooster_record_preferred", "record", label), r.Preferred)
		// The store counts the writes; the counters show its counts.
		m.set.GetOrCreateCounter(series.Name("clooster_record_writes_total", "record", label, "result", "ok")).Set(r.Writes)
		m.set.GetOrCreateCounter(series.Name("clooster_record_writes_total", "record", label, "result", "failed")).Set(r.WriteFailures)
	}
	m.set.WritePrometheus(w)
}

// gauge sets the gauge name to 1 if v, else 0.
func (m *Metrics) gauge(name string, v bool) {
	m.set.GetOrCreateGauge(name, nil).Set(b2f(v))
}

// gaugeIf sets the gauge name as gauge does if present, and removes it if
// not: it is shown only while it means something.
func (m *Metrics) gaugeIf(present bool, name string, v bool) {
	if !present {
		m.set.UnregisterMetric(name)
		return
	}
	m.gauge(name, v)
}

// offset sets the gauge name to ms in seconds, or removes it while ms is
// not known.
func (m *Metrics) offset(name string, ms *float64) {
	if ms == nil {
		m.set.UnregisterMetric(name)
		return
	}
	m.set.GetOrCreateGauge(name, nil).Set(*ms / 1000)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
