package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/hooks"
	"github.com/clooster/clooster/internal/metricstest"
	"github.com/clooster/clooster/notify"
	"github.com/clooster/clooster/watchdog"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// The page the daemon's status listener serves, a node just made and the
// daemon's parts with fixed counts: it parses, and its families, types,
// labels and values are those of testdata/metrics.golden (clooster's; the
// process's and the Go runtime's vary and are not compared). The golden
// file is the list of the README's "Status and metrics" table.
func TestStatusPageGolden(t *testing.T) {
	stls, err := watchdog.ServerTLS("", "")
	if err != nil {
		t.Fatal(err)
	}
	node, err := watchdog.New(watchdog.Config{This: "a.example.com", Other: "b.example.com", Key: []byte("0123456789abcdef0123456789abcdef"),
		Role: "server", ServerTLS: stls, KeepaliveInterval: time.Second, PeerTimeout: 5 * time.Second,
		RecordName: "www.example.com", Preferred: "a.example.com", Store: nopStore{}})
	if err != nil {
		t.Fatal(err)
	}
	d := newDaemonMetrics(nil, nil, nil)
	d.apiStats = func() cfapi.Stats { return cfapi.Stats{RateLimited: 1, AuthErrors: 2, NetworkErrors: 7} }
	d.queueStats = func() []notify.ChannelStats {
		return []notify.ChannelStats{
			{Name: "pushbullet", Service: "pushbullet", Stats: notify.Stats{Sent: 3, Retries: 1}},
			{Name: "notify[0]", Service: "ntfy", Stats: notify.Stats{Queued: 2, Sent: 1, Failed: 1, Dropped: 4, Coalesced: 5, Retries: 6}},
		}
	}
	d.hookStats = func() hooks.Stats { return hooks.Stats{Runs: 10, Failures: 3, Timeouts: 1, Dropped: 2, Queued: 1} }
	d.reload = func() (bool, time.Time) { return false, time.Unix(1767225600, 0) }

	srv := httptest.NewServer(watchdog.StatusHandler(node, d.WritePrometheus))
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
	fams := metricstest.Parse(t, string(body))
	got := metricstest.Render(fams, func(name string) bool { return strings.HasPrefix(name, "clooster_") })
	metricstest.Golden(t, "testdata/metrics.golden", got, *update)
}

// Sources a daemon lacks leave their families out.
func TestDaemonMetricsWithoutParts(t *testing.T) {
	tests := []struct {
		name    string
		hub     bool
		hooks   map[string]string // nil: no runner
		want    []string
		wantNot []string
	}{
		{"no channel, no hooks", false, nil,
			[]string{`clooster_dns_api_failures_total{kind="network"} 0`},
			[]string{"clooster_notifications_total", "clooster_notification_retries_total", "clooster_notifications_queued", "clooster_hook_runs_total",
				"clooster_config_"}},
		{"channels", true, nil,
			[]string{`clooster_notifications_queued{channel="pushbullet",service="pushbullet"} 0`},
			[]string{"clooster_hook_runs_total"}},
		{"a runner without hooks", false, map[string]string{"on_active": ""},
			nil,
			[]string{"clooster_hook_runs_total"}},
		{"a runner with a hook", false, map[string]string{"on_active": "true"},
			[]string{`clooster_hook_runs_total{result="ok"} 0`},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hub *notify.Hub
			if tt.hub {
				hub = notify.NewHub([]notify.Channel{{Name: "pushbullet", Service: "pushbullet", Sender: nopSender{}}}, nil)
			}
			var runner *hooks.Runner
			if tt.hooks != nil {
				runner = &hooks.Runner{Commands: tt.hooks}
			}
			var b strings.Builder
			newDaemonMetrics(nil, hub, runner).WritePrometheus(&b)
			metricstest.Parse(t, b.String())
			for _, want := range tt.want {
				if !strings.Contains(b.String(), want+"\n") {
					t.Errorf("lacks %s:\n%s", want, b.String())
				}
			}
			for _, not := range tt.wantNot {
				if strings.Contains(b.String(), not) {
					t.Errorf("has %s:\n%s", not, b.String())
				}
			}
		})
	}
}

// nopStore is a record store the test never reaches.
type nopStore struct{}

func (nopStore) Read(context.Context) (failover.Record, error) { return failover.Record{}, nil }
func (nopStore) Write(context.Context, string) error           { return nil }

type nopSender struct{}

func (nopSender) Push(context.Context, string, string) error { return nil }
