package failover

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A node that stops to restart tells its peer how long to wait for it; the
// peer holds the record for at most that long, then goes on as for any
// lost peer.
func TestMachineRestart(t *testing.T) {
	other, owner := testMachine(false), testMachine(true)
	handover := with(testMachine(true), func(c *Config) { c.Handover = true; c.RestartGrace = 20 * sec })
	restarting := func(d, grace time.Duration) Event {
		return EvLinkDown{At: at(d), Reason: "peer closed the link: restarting", Restart: grace}
	}
	check(t, []machineCase{
		{
			name: "the active node restarting hands nothing over and exits at once",
			c:    handover,
			evs:  seq(linked(handover, "srv1"), hb(2*sec), EvStop{At: at(3 * sec), Restart: true}),
			want: []string{"hook on_active", "exit"},
		},
		{
			name: "the peer holds the record for the grace it announced, and no longer",
			c:    other,
			evs:  seq(linked(other, "srv1"), restarting(2*sec, 20*sec), ticks(3*sec, 21*sec), tick(21900*ms), tick(22*sec)),
			// the record's base is what it holds as the peer left it: read anew
			want: []string{"hook on_standby", "look", "hook on_peer_down", "ensure#1 srv2 base= yield"},
			peer: PeerDown,
		},
		{
			// The look at the BYE finds the owner's failback, which this
			// node had not heard of: the base; after the grace it takes
			// the record from it.
			name: "the record read at the BYE is the base",
			c:    other,
			evs:  seq(linked(other, "srv2"), restarting(2*sec, 20*sec), read(2100*ms, "srv1"), ticks(3*sec, 21*sec), tick(22*sec)),
			want: []string{"hook on_active", "look", "hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
		},
		{
			// A write of the peer's next process, made before the link is
			// back, is a write of the episode: withheld.
			name: "the peer's next process took the record before the link was back",
			c:    other,
			evs: seq(linked(other, "srv2"), restarting(2*sec, 20*sec), read(2100*ms, "srv2"), ticks(3*sec, 10*sec),
				drift(10500*ms, "srv1"), ticks(11*sec, 21*sec), tick(22*sec)),
			want: []string{"hook on_active", "look",
				"push withheld: [srv2] Link to 'srv1' down, peer still serving | The peer took 'www.example.com' (now 'srv1') since the link was lost, so it is alive: not writing.",
				"hook on_standby", "hook on_peer_down"},
		},
		{
			name: "the peer back within its grace: nothing written, nothing said",
			c:    other,
			evs:  seq(linked(other, "srv1"), restarting(2*sec, 20*sec), ticks(3*sec, 8*sec), up(9*sec), hbf(9500*ms, FlagHealthy|FlagActive), actives(10*sec, 50*sec)),
			// one read settles what the record holds as the peer left it; the
			// episode ends as any does, after failback_delay on the link
			want: []string{"hook on_standby", "look", "hook on_peer_up"},
		},
		{
			name: "back within its grace, then lost: the grace is spent, a plain timeout",
			c:    other,
			evs: seq(linked(other, "srv1"), restarting(2*sec, 20*sec), ticks(3*sec, 8*sec), up(9*sec), hbf(9500*ms, FlagHealthy|FlagActive),
				down(10*sec), tick(11*sec)),
			want: []string{"hook on_standby", "look", "hook on_peer_down", "ensure#1 srv2 base= yield"},
		},
		{
			name: "a grace longer than the bound waits for the bound",
			c:    other,
			evs:  seq(linked(other, "srv1"), restarting(2*sec, time.Hour), ticks(3*sec, 2*sec+MaxRestartGrace-sec), tick(2*sec+MaxRestartGrace-ms), tick(2*sec+MaxRestartGrace)),
			want: []string{"hook on_standby", "look", "hook on_peer_down", "ensure#1 srv2 base= yield"},
		},
		{
			name: "a peer that did not hold the record restarts: after the grace, one read finds the record here",
			c:    owner,
			evs:  seq(linked(owner, "srv1"), restarting(2*sec, 20*sec), ticks(3*sec, 30*sec)),
			want: []string{"hook on_active", "look", "hook on_peer_down", "ensure#1 srv1 base="},
		},
	})
}

// The wake-up time waits for the grace; what the node says of the peer
// meanwhile, and after it.
func TestMachineRestartSaid(t *testing.T) {
	c := testMachine(false)
	s, _ := run(c, seq(linked(c, "srv1"), EvLinkDown{At: at(2 * sec), Reason: "peer closed the link: restarting", Restart: 20 * sec})...)
	if d := s.Deadline(c); !d.Equal(at(22 * sec)) {
		t.Errorf("wakes at %v, want 22s", d.Sub(t0))
	}
	v := s.View(c)
	if !v.RestartBy.Equal(at(22*sec)) || !strings.Contains(v.Reason, "peer closed the link: restarting, back within 20s") {
		t.Errorf("during the grace: restart by %v, reason %q", v.RestartBy.Sub(t0), v.Reason)
	}
	for _, ev := range ticks(3*sec, 21*sec) {
		s, _ = Next(c, s, ev)
	}
	s, _ = Next(c, s, tick(22*sec))
	if v := s.View(c); !strings.Contains(v.Reason, "restarting, and not back within the 20s it asked for") {
		t.Errorf("after the grace: reason %q", v.Reason)
	}
	if s.job == nil || !strings.Contains(s.job.title, "not back within the 20s") {
		t.Errorf("after the grace: the takeover's push is not titled with the broken promise: %+v", s.job)
	}
	names := logs(c, seq(linked(c, "srv1"), EvLinkDown{At: at(2 * sec), Reason: "x", Restart: 20 * sec})...)
	if !slices.Contains(names, LogPeerRestarting) {
		t.Errorf("logs %q: no %s", names, LogPeerRestarting)
	}
	h := with(testMachine(true), func(c *Config) { c.Handover = true; c.RestartGrace = 20 * sec })
	if names := logs(h, seq(linked(h, "srv1"), EvStop{At: at(3 * sec), Restart: true})...); !slices.Contains(names, LogRestarting) || slices.Contains(names, LogHandingOver) {
		t.Errorf("restarting node's logs %q: want %s, not %s", names, LogRestarting, LogHandingOver)
	}
	s, _ = run(c, seq(linked(c, "srv1"), EvLinkDown{At: at(2 * sec), Reason: "x", Restart: 20 * sec}, up(5*sec))...)
	if v := s.View(c); !v.RestartBy.IsZero() {
		t.Errorf("linked again: restart by %v, want none", v.RestartBy.Sub(t0))
	}
}

// What a restarting node says of its restart: the peer keeps the record
// on it, only waits for it, or, with no link, cannot be told.
func TestMachineRestartLog(t *testing.T) {
	c := with(testMachine(true), func(c *Config) { c.RestartGrace = 20 * sec })
	for _, tt := range []struct {
		name string
		evs  []Event
		want string
	}{
		{"active", seq(linked(c, "srv1"), EvStop{At: at(2 * sec), Restart: true}), "restarting: the peer keeps the record on this node meanwhile"},
		{"standby", seq(linked(c, "srv2"), EvStop{At: at(2 * sec), Restart: true}), "restarting: the peer is told to wait for this node"},
		{"no link", seq(read(150*ms, "srv1"), EvStop{At: at(2 * sec), Restart: true}), "restarting, with no link to tell the peer: it will treat this node as lost"},
	} {
		var got []string
		for _, a := range actions(c, tt.evs...) {
			if l, ok := a.(ActLog); ok && l.Event == LogRestarting {
				got = append(got, l.Msg)
			}
		}
		if !slices.Equal(got, []string{tt.want}) {
			t.Errorf("%s: said %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A peer's restart begins the episode at its BYE: the peer's last write,
// made on the link (a failback this node has yet to hear of), is as the
// peer left the record, not a write of the episode; what the record holds
// is read anew.
func TestMachineRestartBase(t *testing.T) {
	c := testMachine(false)
	s, _ := run(c, seq(linked(c, "srv2"), EvLinkDown{At: at(2 * sec), Reason: "x", Restart: 20 * sec})...)
	if !s.ep.on || !s.ep.since.Equal(at(2*sec)) || s.ep.first != "" || s.ep.peerTook {
		t.Errorf("episode %+v, want one begun at the BYE, its base unknown", s.ep)
	}
	if s.rec.content != "" || !s.rec.at.Equal(at(2*sec)) {
		t.Errorf("knows %q as of %v, want nothing, as of the BYE", s.rec.content, s.rec.at.Sub(t0))
	}
	// The record is missing: it stays so.
	s, _ = run(c, seq(linked(c, "srv2"), missing(1500*ms), EvLinkDown{At: at(2 * sec), Reason: "x", Restart: 20 * sec})...)
	if !s.rec.missing || !s.ep.sawMissing {
		t.Errorf("a missing record: knowledge %+v, episode saw it missing %v", s.rec, s.ep.sawMissing)
	}
}
