package series_test

import (
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/clooster/clooster/internal/series"
)

func TestName(t *testing.T) {
	tests := []struct {
		name   string
		family string
		labels []string
		want   string
	}{
		{"no labels", "clooster_links_total", nil, `clooster_links_total`},
		{"one label", "clooster_events_total", []string{"event", "peer_down"}, `clooster_events_total{event="peer_down"}`},
		{"labels in their order", "clooster_notifications_total",
			[]string{"channel", "notify[0]", "service", "ntfy", "result", "sent"},
			`clooster_notifications_total{channel="notify[0]",service="ntfy",result="sent"}`},
		{"space kept", "clooster_record_active", []string{"record", "example.org AAAA"}, `clooster_record_active{record="example.org AAAA"}`},
		{"quote, backslash, line feed escaped", "x", []string{"v", "a\"b\\c\nd"}, `x{v="a\"b\\c\nd"}`},
		{"empty value", "x", []string{"v", ""}, `x{v=""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := series.Name(tt.family, tt.labels...)
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			// The library takes every name this package makes.
			if err := metrics.ValidateMetric(got); err != nil {
				t.Errorf("ValidateMetric(%s): %v", got, err)
			}
		})
	}
}
