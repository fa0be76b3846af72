package failover

import (
	"strings"
	"testing"
	"time"
)

// The bounds of the rule's windows, each on both sides of its edge.

// state runs evs from start and returns the state they leave.
func state(c *Config, evs ...Event) State {
	s := NewState(t0, c)
	for _, ev := range evs {
		s, _ = Next(c, s, ev)
	}
	return s
}

func TestLogAttemptThins(t *testing.T) {
	for n := 1; n <= 17; n++ {
		want := n <= 4 || n == 8 || n == 16
		if got := logAttempt(n); got != want {
			t.Errorf("logAttempt(%d) = %v, want %v", n, got, want)
		}
	}
}

// A turn later than peer_timeout - keepalive_interval after the last one
// is a freeze of this node; one exactly that late is not. (testMachine:
// 5 s - 1 s.)
func TestFreezeThreshold(t *testing.T) {
	c := testMachine(false)
	for _, tt := range []struct {
		gap    time.Duration
		frozen bool
	}{{4 * sec, false}, {4*sec + ms, true}} {
		s := state(c, seq(linked(c, "srv1"), hb(sec+tt.gap))...)
		if frozen := !s.frozeAt.IsZero(); frozen != tt.frozen {
			t.Errorf("a gap of %v: frozen %v, want %v", tt.gap, frozen, tt.frozen)
		}
	}
}

// While this node is unhealthy on the link, the peer may move the record
// at its request until the peer's job's last write can have landed:
// peer_timeout + keepalive_interval + a fresh read + the API timeout.
func TestSanctionedWindow(t *testing.T) {
	c := testMachine(true)
	s := state(c, seq(linked(c, "srv1"), unhealthy(2*sec, "down"))...)
	if want := at(2*sec + c.PeerTimeout + c.Keepalive + FreshRead + APITimeout); !s.sanctioned.Equal(want) {
		t.Errorf("sanctioned until %v, want %v", s.sanctioned.Sub(t0), want.Sub(t0))
	}
}

// The peer's unasked takeover seen on the link counts as its write of the
// episode if the link breaks within peer_timeout + 2 keepalives of it.
func TestPeerActedWindow(t *testing.T) {
	c := testMachine(true) // the peer is up at 31 s; the read at 32.5 s; the window is 7 s
	for _, tt := range []struct {
		loss time.Duration
		took bool
	}{{39500 * ms, true}, {39500*ms + ms, false}} {
		evs := seq(linked(c, "srv1"), beats(2*sec, 32*sec), read(32500*ms, "srv2"))
		for d := 33 * sec; d < tt.loss; d += 500 * ms {
			evs = append(evs, hb(d))
		}
		evs = append(evs, down(tt.loss))
		took := false
		for _, name := range logs(c, evs...) {
			took = took || name == LogPeerTook
		}
		if took != tt.took {
			t.Errorf("link lost %v after the read: the peer's write counts %v, want %v", tt.loss-32500*ms, took, tt.took)
		}
	}
}

// A link never known good: only a write within peer_timeout of the loss,
// or after it, is the peer's.
func TestNeverKnownGoodSince(t *testing.T) {
	c := testMachine(false)
	// The peer is up at 31 s; nothing was ever read, so nothing agreed.
	s := state(c, seq(up(100*ms), beats(sec, 32*sec), down(32500*ms))...)
	if want := at(32500*ms - c.PeerTimeout); !s.ep.since.Equal(want) {
		t.Errorf("episode since %v, want %v", s.ep.since.Sub(t0), want.Sub(t0))
	}
}

// The owner's failback, due on a link that broke within 2 keepalives of
// it, may land in the episode that follows.
func TestFailbackDueWindow(t *testing.T) {
	c := testMachine(false) // the failback is due 30 s after the link came up at 100 ms
	// The link breaks when the peer falls silent (its last keepalive
	// here), whether this node notices at once (a closed connection) or
	// a peer_timeout later (a machine that lost its power).
	for _, tt := range []struct {
		last    time.Duration
		silence bool
		due     bool
	}{{32100 * ms, false, true}, {32100*ms + ms, false, false}, {32100 * ms, true, true}, {32100*ms + ms, true, false}} {
		evs := seq(linked(c, "srv2"))
		for d := 2 * sec; d < tt.last; d += 500 * ms {
			evs = append(evs, hb(d))
		}
		evs = append(evs, hb(tt.last))
		if tt.silence {
			for d := tt.last + 500*ms; d <= tt.last+c.PeerTimeout; d += 500 * ms {
				evs = append(evs, tick(d)) // the ping timeout at the last
			}
		} else {
			evs = append(evs, down(tt.last))
		}
		s := state(c, evs...)
		if s.link {
			t.Fatalf("last heard at %v: still linked", tt.last)
		}
		if due := !s.ep.failbackDue.IsZero(); due != tt.due {
			t.Errorf("last heard at %v, silence %v: failback due %v, want %v", tt.last, tt.silence, due, tt.due)
		}
	}
}

// The peer's "not mine" vouches for the record as of its keepalive once
// it has said so for peer_timeout on the link; before, as of this node's
// read.
func TestClaimNoneVouchesAfterPeerTimeout(t *testing.T) {
	c := testMachine(true) // the first keepalive at 1 s
	for _, tt := range []struct {
		last time.Duration
		want time.Time
	}{{6 * sec, at(6 * sec)}, {6*sec - ms, at(100 * ms)}} {
		s := state(c, seq(linked(c, "srv1"), beats(2*sec, 5*sec), hb(tt.last))...)
		if !s.agreedAt.Equal(tt.want) {
			t.Errorf("keepalive at %v: agreed as of %v, want %v", tt.last, s.agreedAt.Sub(t0), tt.want.Sub(t0))
		}
	}
}

// The loop never asks to turn in the past: what was due and still waits,
// waits on an event. Without a drift check, no drift deadline.
func TestDeadlineNotPast(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	// Started without a link: the takeover is due at peer_timeout and
	// waits on the probe's answer.
	s := state(c, seq(read(150*ms, "srv1"), ticks(sec, 5*sec))...)
	if !s.probing {
		t.Fatal("no probe at peer_timeout")
	}
	s, _ = Next(c, s, tick(5*sec+ms))
	if d := s.Deadline(c); !d.IsZero() && d.Before(at(5*sec+ms)) {
		t.Errorf("waiting on the probe, deadline %v, before the last turn", d.Sub(t0))
	}
	steady := state(c, seq(linked(c, "srv1"), beats(2*sec, 40*sec))...)
	if d := steady.Deadline(c); !d.After(at(40 * sec)) {
		t.Errorf("steady, no drift check: deadline %v, want after the last turn", d.Sub(t0))
	}
}

// A node that took the record on evidence ignores the peer's service
// answering again; the first failed probe is logged, the next ones are
// not.
func TestProbeVerdicts(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	// The peer is up at 31 s; the link is lost at 34 s, and the probe
	// sent then finds the peer's service gone, twice.
	lost := seq(linked(c, "srv1"), beats(2*sec, 33*sec), down(34*sec), probe(34100*ms, false),
		done(34200*ms, 1, "srv2", true), tick(35*sec), probe(35100*ms, false))
	var released int
	for _, name := range logs(c, lost...) {
		if name == LogGuardRelease {
			released++
		}
	}
	if released != 1 {
		t.Errorf("guard released %d times, want once", released)
	}
	_, got := run(c, append(lost, tick(36*sec), probe(36100*ms, true), tick(37*sec), probe(37100*ms, true))...)
	for _, g := range got {
		if strings.HasPrefix(g, "push withheld: [srv2] Link to 'srv1' down, peer still serving") {
			t.Errorf("the record is here, the peer serves again: %q", got)
		}
	}
}

// A preferred value that is neither node's is claimed only when the peer's
// value is known: else it may be the peer's.
func TestThirdPreferredClaim(t *testing.T) {
	for _, known := range []bool{true, false} {
		c := with(testMachine(false), func(c *Config) { c.Preferred, c.OtherKnown = "lb", known })
		s := state(c, read(150*ms, "lb"))
		if got := s.Flags(c)&FlagPreferred != 0; got != known {
			t.Errorf("peer's value known %v: claims the preferred value %v", known, got)
		}
	}
}

// What this node did not know before is not a change: neither the first
// read on a link, nor the peer's value back after the record went missing.
func TestUnknownBeforeIsNoChange(t *testing.T) {
	owner := testMachine(true)
	other := testMachine(false)
	for _, tt := range []struct {
		name string
		c    *Config
		evs  []Event
	}{
		{"first read on the link", owner, seq(up(100*ms), beats(sec, 32*sec), read(32500*ms, "srv2"), hb(33*sec), down(33500*ms))},
		{"back after missing", other, seq(read(150*ms, "srv1"), missing(sec), read(2*sec, "srv1"), ticks(3*sec, 6*sec))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range logs(tt.c, tt.evs...) {
				if name == LogPeerTook {
					t.Errorf("taken for the peer's write: %q", logs(tt.c, tt.evs...))
				}
			}
		})
	}
}
