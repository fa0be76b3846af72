package failover

import (
	"slices"
	"testing"
	"time"
)

// Each job's alerts say what they are about: its announcement, its first
// failure and its late success.
func TestJobAlertEvents(t *testing.T) {
	tests := []struct {
		purpose Purpose
		want    string
	}{
		{Takeover, AlertDown},
		{Handover, AlertDown},
		{Failback, AlertUp},
		{HealthMove, AlertHealth},
		{Correction, AlertDrift},
	}
	for _, tt := range tests {
		t.Run(tt.purpose.String(), func(t *testing.T) {
			c := testMachine(false)
			var s State
			s.start(c, tt.purpose, c.ThisValue, true, "[srv2] title", at(0), nil)
			id := s.job.id
			if got := s.job.event; got != tt.want {
				t.Errorf("job event = %q, want %q", got, tt.want)
			}
			acts := s.done(c, EvDone{At: at(time.Second), Job: id, Purpose: tt.purpose, Content: c.ThisValue, Changed: true}, nil)
			if got := notifyEvents(acts); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("announcement events = %q, want [%q]", got, tt.want)
			}

			s = State{}
			s.start(c, tt.purpose, c.ThisValue, false, "[srv2] title", at(0), nil)
			id = s.job.id
			acts = s.attempt(c, EvAttempt{At: at(time.Second), Job: id, Err: "500"}, nil)
			acts = s.done(c, EvDone{At: at(2 * time.Second), Job: id, Purpose: tt.purpose, Content: c.ThisValue, Changed: true}, acts)
			want := []string{AlertFailed + "+" + tt.want, AlertFailed + "+" + tt.want}
			if got := notifyEvents(acts); !slices.Equal(got, want) {
				t.Errorf("failure and late success events = %q, want %q: failed, and what the job was for", got, want)
			}
		})
	}
}

// A failback after this node's own service recovered is about health; one
// after the peer came back, about the peer.
func TestFailbackEvents(t *testing.T) {
	owner := testMachine(true)
	evs := seq(linked(owner, "srv1"), unhealthy(2*sec, "503"), actives(3*sec, 3*sec), verified(3500*ms, "srv2"), actives(4*sec, 5*sec), healthy(5500*ms), actives(6*sec, 40*sec))
	s, got := run(owner, evs...)
	if s.job == nil || s.job.purpose != Failback {
		t.Fatalf("no failback after the service's recovery: %q", got)
	}
	if s.job.event != AlertHealth {
		t.Errorf("failback event = %q, want %q (title %q)", s.job.event, AlertHealth, s.job.title)
	}
	if alertEvent(Failback) != AlertUp {
		t.Errorf("alertEvent(Failback) = %q, want %q", alertEvent(Failback), AlertUp)
	}
}

func notifyEvents(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if n, ok := a.(ActNotify); ok {
			if n.Also != "" {
				n.Event += "+" + n.Also
			}
			out = append(out, n.Event)
		}
	}
	return out
}
