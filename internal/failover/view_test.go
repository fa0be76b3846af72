package failover

import (
	"testing"
)

func TestView(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	view := func(evs ...Event) View {
		s, _ := run(c, evs...)
		return s.View(c)
	}

	v := view(tick(sec))
	if v.Peer != PeerConnecting || !v.PeerSince.Equal(t0) || v.Reason != "no link since start" || v.Record != "" || v.Active || !v.Healthy {
		t.Errorf("at start: %+v", v)
	}
	v = view(linked(c, "srv2")...)
	if v.Peer != PeerUp || !v.Linked || !v.PeerSince.Equal(at(100*ms)) || v.Reason != "" || v.Record != "srv2" || !v.Active || !v.PeerHealthy {
		t.Errorf("linked, the record here: %+v", v)
	}
	v = view(seq(linked(c, "srv1"), unhealthy(1500*ms, "503"))...)
	if v.Healthy || v.HealthReason != "503" || v.LastCheck != "503" || v.Active || !v.HealthySince.Equal(at(1500*ms)) {
		t.Errorf("unhealthy: %+v", v)
	}
	v = view(seq(linked(c, "srv1"), down(2*sec), probe(2100*ms, true))...)
	if v.Peer != PeerDown || !v.PeerSince.Equal(at(2*sec)) || v.Reason != "EOF" || v.Guard != GuardPeerServing || v.PeerCheck != "serving" {
		t.Errorf("down, the peer's service serving: %+v", v)
	}
	v = view(seq(linked(c, "srv1"), down(2*sec), probe(2100*ms, false))...)
	if v.PeerCheck != "down" || v.Guard != "" || v.Job == nil || v.Job.Purpose != Takeover || v.Job.Want != "srv2" || !v.Job.Since.Equal(at(2100*ms)) {
		t.Errorf("down, taking over on the evidence: %+v (job %+v)", v, v.Job)
	}
	v = view(seq(linked(c, "srv1"), down(2*sec), probe(2100*ms, false), EvAttempt{At: at(2200 * ms), Job: 1, Err: "503"})...)
	if v.Job == nil || v.Job.Failures != 1 || v.Job.LastErr != "503" || v.Job.ID != 1 {
		t.Errorf("a failed attempt: %+v", v.Job)
	}
	v = view(seq(linked(c, "srv1"), down(2*sec), up(2500*ms))...)
	if v.Peer != PeerUp || !v.PeerSince.Equal(at(2500*ms)) {
		t.Errorf("back: %+v", v)
	}
	s, _ := run(c, tick(sec), down(2*sec))
	if got := s.View(c); !got.PeerSince.Equal(t0) {
		t.Errorf("a loss of no link keeps the start: %+v", got)
	}
	v = view(seq(linked(c, "srv1"), missing(2*sec))...)
	if !v.Missing || v.Record != "" {
		t.Errorf("missing: %+v", v)
	}
	v = view(EvStop{At: at(sec)})
	if !v.Stopping {
		t.Errorf("stopping: %+v", v)
	}
}

func TestPurposeNames(t *testing.T) {
	for p, want := range map[Purpose]string{Takeover: "takeover", Failback: "failback", HealthMove: "health", Handover: "handover", Correction: "correction"} {
		if got := p.String(); got != want {
			t.Errorf("%d: got %q, want %q", p, got, want)
		}
	}
}
