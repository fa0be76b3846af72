package watchdog

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/failover"
)

func TestEventLog(t *testing.T) {
	var l eventLog
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.add(t0, failover.ActLog{Level: slog.LevelDebug, Event: "noise", Msg: "not a transition"})
	if got := l.list(); len(got) != 0 {
		t.Fatalf("a debug line kept: %+v", got)
	}
	for i := range EventsKept + 5 {
		l.add(t0.Add(time.Duration(i)*time.Second), failover.ActLog{Level: slog.LevelWarn, Event: fmt.Sprintf("e%d", i),
			Msg: "m", Attrs: []any{"peer", "srv1", "took", time.Second}})
	}
	got := l.list()
	if len(got) != EventsKept {
		t.Fatalf("%d events kept, want %d", len(got), EventsKept)
	}
	newest, oldest := got[0], got[len(got)-1]
	if newest.Name != fmt.Sprintf("e%d", EventsKept+4) || oldest.Name != "e5" {
		t.Errorf("newest %q, oldest %q: want e%d and e5 (newest first)", newest.Name, oldest.Name, EventsKept+4)
	}
	if newest.Level != "WARN" || newest.Attrs["peer"] != "srv1" || newest.Attrs["took"] != "1s" || !newest.At.Equal(t0.Add(time.Duration(EventsKept+4)*time.Second)) {
		t.Errorf("newest = %+v", newest)
	}
}
