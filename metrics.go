package main

import (
	"io"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/internal/hooks"
	"github.com/clooster/clooster/internal/series"
	"github.com/clooster/clooster/notify"
)

// daemonMetrics are the metrics of the parts the daemon builds around the
// node: the DNS API clients' failures by kind, each notification
// channel's queue and the hooks. Those parts count in their Stats; at each
// scrape, the series of a metrics.Set of the daemon's own are set from
// them and the set is written. A nil source is left out.
//
// WritePrometheus may be called from any goroutine; scrapes take their
// turn, so that a counter never steps back.
type daemonMetrics struct {
	apiStats   func() cfapi.Stats
	queueStats func() []notify.ChannelStats
	hookStats  func() hooks.Stats
	// reload is the last load of the configuration: whether it applied,
	// and when the last one that did was (the start, or a reload).
	reload func() (ok bool, at time.Time)
	// hooksOn reports whether a hook is configured; nil: as if one were.
	// Without one, the hooks' family is left out until a hook has run.
	hooksOn func() bool

	mu  sync.Mutex
	set *metrics.Set
}

// newDaemonMetrics reads the failures of the clients that clients lists
// (nil: none), the hub's channels if hub is not nil, and the runner's hooks
// if runner is not nil and has a hook or has run one.
func newDaemonMetrics(clients func() []*cfapi.Client, hub *notify.Hub, runner *hooks.Runner) *daemonMetrics {
	// # TYPE lines, as the node's metrics have them (a setting of the
	// whole process).
	metrics.ExposeMetadata(true)
	d := &daemonMetrics{set: metrics.NewSet(), apiStats: func() cfapi.Stats {
		var s cfapi.Stats
		if clients == nil {
			return s
		}
		for _, c := range clients() {
			x := c.Stats()
			s.RateLimited += x.RateLimited
			s.AuthErrors += x.AuthErrors
			s.ServerErrors += x.ServerErrors
			s.RequestErrors += x.RequestErrors
			s.NetworkErrors += x.NetworkErrors
		}
		return s
	}}
	if hub != nil {
		d.queueStats = hub.Stats
	}
	if runner != nil {
		d.hookStats = runner.Stats
		d.hooksOn = runner.Configured
	}
	return d
}

// WritePrometheus writes the metrics in the Prometheus text format.
func (d *daemonMetrics) WritePrometheus(w io.Writer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	counter := func(v uint64, family string, labels ...string) {
		d.set.GetOrCreateCounter(series.Name(family, labels...)).Set(v)
	}
	if d.apiStats != nil {
		s := d.apiStats()
		const f = "clooster_dns_api_failures_total"
		counter(s.RateLimited, f, "kind", "rate_limited")
		counter(s.AuthErrors, f, "kind", "auth")
		counter(s.ServerErrors, f, "kind", "server")
		counter(s.RequestErrors, f, "kind", "request")
		counter(s.NetworkErrors, f, "kind", "network")
	}
	if d.queueStats != nil {
		for _, c := range d.queueStats() {
			const f = "clooster_notifications_total"
			counter(c.Sent, f, "channel", c.Name, "service", c.Service, "result", "sent")
			counter(c.Failed, f, "channel", c.Name, "service", c.Service, "result", "failed")
			counter(c.Dropped, f, "channel", c.Name, "service", c.Service, "result", "dropped")
			counter(c.Coalesced, f, "channel", c.Name, "service", c.Service, "result", "coalesced")
			counter(c.Retries, "clooster_notification_retries_total", "channel", c.Name, "service", c.Service)
			d.set.GetOrCreateGauge(series.Name("clooster_notifications_queued", "channel", c.Name, "service", c.Service), nil).
				Set(float64(c.Queued))
		}
	}
	if s := d.hookStatsIf(); s != nil {
		const f = "clooster_hook_runs_total"
		counter(s.Runs-s.Failures, f, "result", "ok")
		counter(s.Failures-s.Timeouts, f, "result", "failed")
		counter(s.Timeouts, f, "result", "timeout")
		counter(s.Dropped, f, "result", "dropped")
	}
	if d.reload != nil {
		ok, at := d.reload()
		gauge := func(name string, v float64) { d.set.GetOrCreateGauge(name, nil).Set(v) }
		gauge("clooster_config_last_reload_successful", map[bool]float64{true: 1}[ok])
		gauge("clooster_config_last_reload_success_timestamp_seconds", float64(at.Unix()))
	}
	d.set.WritePrometheus(w)
}

// hookStatsIf is the hooks' counts, nil if they are left out.
func (d *daemonMetrics) hookStatsIf() *hooks.Stats {
	if d.hookStats == nil {
		return nil
	}
	s := d.hookStats()
	if d.hooksOn != nil && !d.hooksOn() && s == (hooks.Stats{}) {
		return nil
	}
	return &s
}
