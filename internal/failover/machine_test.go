package failover

import (
	"fmt"
	"reflect"
	"strings"

	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const (
	sec = time.Second
	ms  = time.Millisecond
)

// testMachine is srv2's configuration (the client, not preferred), or with
// owner srv1's (the server, preferred). CNAME values: each node's name.
func testMachine(owner bool) *Config {
	c := &Config{
		This: "srv2", Other: "srv1", Record: "www.example.com",
		ThisValue: "srv2", OtherValue: "srv1", OtherKnown: true, Preferred: "srv1",
		PeerTimeout: 5 * sec, FailbackDelay: 30 * sec, Keepalive: sec,
	}
	if owner {
		c.This, c.Other, c.ThisValue, c.OtherValue = "srv1", "srv2", "srv1", "srv2"
		c.Server = true
	}
	return c
}

func with(c *Config, f func(*Config)) *Config { f(c); return c }

// run feeds events to a fresh state started at t0 and collects every
// action but logs (and the start-up lookup), each as a short string.
func run(c *Config, evs ...Event) (State, []string) {
	s := NewState(t0, c)
	var out []string
	for _, ev := range evs {
		var acts []Action
		s, acts = Next(c, s, ev)
		for _, a := range acts {
			if str := show(a); str != "" {
				out = append(out, str)
			}
		}
	}
	return s, out
}

func show(a Action) string {
	switch a := a.(type) {
	case ActEnsure:
		e := fmt.Sprintf("ensure#%d %s", a.Job, a.Content)
		switch {
		case a.Evidence:
			e += " evidence"
		case a.Conditional:
			e += " base=" + a.Base
		}
		if a.Yield {
			e += " yield"
		}
		return e
	case ActCancel:
		return "cancel"
	case ActClose:
		return "close: " + a.Reason
	case ActNotify:
		ev := a.Event
		if a.Also != "" {
			ev += "+" + a.Also
		}
		return "push " + ev + ": " + a.Title + " | " + a.Body
	case ActHook:
		return "hook " + a.Event
	case ActRead:
		switch {
		case a.Retry:
			return "" // the lookup, asked by every start
		case a.Verify:
			return "verify"
		case a.Drift:
			return "drift"
		}
		return "look"
	case ActProbe:
		return "probe"
	case ActExit:
		return "exit"
	}
	return ""
}

// logs is run for the stable event names of the log lines.
func logs(c *Config, evs ...Event) []string {
	var names []string
	for _, a := range actions(c, evs...) {
		if l, ok := a.(ActLog); ok {
			names = append(names, l.Event)
		}
	}
	return names
}

// actions runs evs from start and returns every action of the machine.
func actions(c *Config, evs ...Event) []Action {
	s := NewState(t0, c)
	var out []Action
	for _, ev := range evs {
		var acts []Action
		s, acts = Next(c, s, ev)
		out = append(out, acts...)
	}
	return out
}

// Events, briefly.
func tick(d time.Duration) Event { return EvTick{at(d)} }
func up(d time.Duration) Event   { return EvLinkUp{at(d)} }
func down(d time.Duration) Event { return EvLinkDown{At: at(d), Reason: "EOF"} }
func read(d time.Duration, content string) Event {
	return EvRead{At: at(d), Asked: at(d - 50*ms), Record: Record{Content: content}}
}
func verified(d time.Duration, content string) Event {
	return EvRead{At: at(d), Asked: at(d - 50*ms), Record: Record{Content: content}, Verify: true}
}
func done(d time.Duration, job uint64, content string, changed bool) Event {
	return EvDone{At: at(d), Asked: at(d - 50*ms), Job: job, Content: content, Changed: changed, Purpose: Takeover}
}

// hb is a keepalive from a healthy peer that does not hold the record; hbf
// one with the given flags.
func hb(d time.Duration) Event               { return hbf(d, FlagHealthy) }
func hbf(d time.Duration, flags byte) Event  { return EvHeard{At: at(d), Sent: at(d), Flags: flags} }
func active(d time.Duration) Event           { return hbf(d, FlagHealthy|FlagActive) }
func ticks(from, to time.Duration) []Event   { return every(from, to, tick) }
func beats(from, to time.Duration) []Event   { return every(from, to, hb) }
func actives(from, to time.Duration) []Event { return every(from, to, active) }

func every(from, to time.Duration, f func(time.Duration) Event) []Event {
	var evs []Event
	for d := from; d <= to; d += sec {
		evs = append(evs, f(d))
	}
	return evs
}

func seq(parts ...any) []Event {
	var all []Event
	for _, p := range parts {
		switch p := p.(type) {
		case Event:
			all = append(all, p)
		case []Event:
			all = append(all, p...)
		}
	}
	return all
}

// linked is the start of a pair that links at once and agrees the record
// holds content: the lookup's answer, then a keepalive saying so.
func linked(c *Config, content string) []Event {
	flags := FlagHealthy
	if content == c.OtherValue {
		flags |= FlagActive
	}
	return seq(up(100*ms), read(150*ms, content), hbf(sec, flags))
}

type machineCase struct {
	name string
	c    *Config
	evs  []Event
	want []string
	peer PeerState
}

func check(t *testing.T, tests []machineCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, got := run(tt.c, tt.evs...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions:\ngot  %q\nwant %q", got, tt.want)
			}
			if tt.peer != "" && s.PeerState() != tt.peer {
				t.Errorf("peer state: got %s, want %s", s.PeerState(), tt.peer)
			}
		})
	}
}

const takenOver = "push down: [srv2] Server 'srv1' is now down (EOF) | The address for 'www.example.com' has been changed to 'srv2'"

// The rules of SPEC.md's Behaviour section, each in its simplest case.
func TestMachineRules(t *testing.T) {
	other, owner := testMachine(false), testMachine(true)
	check(t, []machineCase{
		{
			name: "rule 1: linked at start, the record on the peer: nothing happens",
			c:    other,
			evs:  seq(linked(other, "srv1"), actives(2*sec, 29*sec)),
			want: []string{"hook on_standby"},
			peer: PeerUp,
		},
		{
			name: "rule 1: no link within peer_timeout of start: the peer is down; the takeover judges against what start found",
			c:    other,
			evs:  seq(read(100*ms, "srv1"), ticks(sec, 5*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
			peer: PeerDown,
		},
		{
			name: "rule 1: still starting just before peer_timeout",
			c:    other,
			evs:  seq(read(100*ms, "srv1"), ticks(sec, 4*sec)),
			want: []string{"hook on_standby"},
			peer: PeerConnecting,
		},
		{
			name: "rule 3: a closed link is a down peer at once",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(2500*ms)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
			peer: PeerDown,
		},
		{
			name: "rule 3: silence for peer_timeout closes the link and declares the peer down",
			c:    other,
			evs:  seq(linked(other, "srv1"), ticks(2*sec, 6*sec)),
			want: []string{"hook on_standby", "close: ping timeout (nothing heard for 5s)", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
			peer: PeerDown,
		},
		{
			name: "rule 3: the survivor pushes the outcome of its takeover",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(2*sec), done(2100*ms, 1, "srv2", true)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield", takenOver, "hook on_active"},
			peer: PeerDown,
		},
		{
			name: "rule 3: the takeover stops when the peer is back",
			c:    other,
			evs: seq(linked(other, "srv1"), down(2*sec),
				EvAttempt{At: at(2100 * ms), Job: 1, Err: "write record: 500"}, up(3*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield",
				"push failed+down: [srv2] Server 'srv1' is now down (EOF), but something went wrong while updating the record | Here's what went wrong: write record: 500. Retrying until 'www.example.com' points to 'srv2'.",
				"cancel"},
			peer: PeerUp,
		},
		{
			name: "rule 3: a frozen node gives the link peer_timeout to come back",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(22*sec), tick(23*sec), up(24*sec), tick(25*sec)),
			want: []string{"hook on_standby"},
			peer: PeerUp,
		},
		{
			name: "rule 3: after a freeze, a peer that does not come back is down",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(22*sec), ticks(23*sec, 27*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
			peer: PeerDown,
		},
		{
			name: "rule 3: a peer that closes the link for our silence is alive: wait for the link",
			c:    other,
			evs: seq(linked(other, "srv1"), EvLinkDown{At: at(2500 * ms), Reason: "peer closed the link", PeerAlive: true},
				tick(3*sec), tick(4*sec), up(4500*ms), tick(8*sec)),
			want: []string{"hook on_standby"},
			peer: PeerUp,
		},
		{
			name: "rule 4: the preferred node fails back after failback_delay of unbroken link",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 31*sec)),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1"},
			peer: PeerUp,
		},
		{
			name: "rule 4: not before failback_delay",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 29*sec)),
			want: []string{"hook on_standby"},
		},
		{
			name: "rule 4: a break restarts the failback clock, and the change of link cancels the takeover",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 20*sec), down(20500*ms), up(21*sec), actives(22*sec, 52*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv1 base=srv2", "cancel", "hook on_peer_up", "ensure#2 srv1"},
		},
		{
			name: "rule 4: the other node never writes while the link is up",
			c:    other,
			evs:  seq(linked(other, "srv1"), actives(2*sec, 120*sec)),
			want: []string{"hook on_standby", "hook on_peer_up"},
			peer: PeerUp,
		},
		{
			name: "rule 4: no failback, and no end of the episode, on a link that falls silent (the peer may be taking over)",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 28*sec), tick(30500*ms), tick(31500*ms)),
			want: []string{"hook on_standby"},
		},
		{
			name: "rule 5: a clean start that changes nothing pushes nothing",
			c:    owner,
			evs:  seq(linked(owner, "srv1"), beats(2*sec, 31*sec), done(31100*ms, 1, "srv1", false)),
			want: []string{"hook on_active", "hook on_peer_up", "ensure#1 srv1 base="},
		},
		{
			name: "rule 5 and 6: one push for the first failure, one when the delayed update lands",
			c:    other,
			evs: seq(linked(other, "srv1"), down(2*sec),
				EvAttempt{At: at(2100 * ms), Job: 1, Err: "429"}, EvAttempt{At: at(4 * sec), Job: 1, Err: "500"},
				EvAttempt{At: at(8 * sec), Job: 1, Err: "500"}, done(12*sec, 1, "srv2", true)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield",
				"push failed+down: [srv2] Server 'srv1' is now down (EOF), but something went wrong while updating the record | Here's what went wrong: 429. Retrying until 'www.example.com' points to 'srv2'.",
				"push failed+down: [srv2] Server 'srv1' is now down (EOF): record update delayed | The address for 'www.example.com' has been changed to 'srv2' after 3 failed attempts over 10s (last error: 500)",
				"hook on_active"},
		},
		{
			name: "stale job results are ignored",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(2*sec), EvDone{At: at(2100 * ms), Job: 7, Content: "srv1"}),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
		},
	})
}

// The peer's keepalives say where it believes the record points. Its word
// carries no age, so it never overrides what a node knows: a disagreement
// is settled by a read.
func TestMachineClaims(t *testing.T) {
	other, owner := testMachine(false), testMachine(true)
	check(t, []machineCase{
		{
			name: "a claim that disagrees is verified by a read, whose answer is learned",
			c:    other,
			evs:  seq(up(100*ms), read(150*ms, "srv2"), active(sec), verified(1200*ms, "srv1")),
			want: []string{"hook on_active", "verify", "hook on_standby"},
		},
		{
			name: "a read that confirms this node's knowledge leaves the peer's stale word to the peer",
			c:    other,
			evs:  seq(up(100*ms), read(150*ms, "srv2"), active(sec), verified(1200*ms, "srv2"), actives(2*sec, 5*sec)),
			want: []string{"hook on_active", "verify"},
		},
		{
			name: "the same disagreement is read again, with backoff",
			c:    other,
			evs: seq(up(100*ms), read(150*ms, "srv2"), active(sec), verified(1200*ms, "srv2"), actives(2*sec, 6*sec),
				verified(6200*ms, "srv2"), actives(7*sec, 22*sec), verified(16200*ms, "srv2"), actives(23*sec, 30*sec)),
			want: []string{"hook on_active", "verify", "verify", "verify"}, // at 1 s, 6 s, 16 s; the next at 36 s
		},
		{
			// Hole: a keepalive the peer sent before it learned of this
			// node's failback made the failback owner believe the peer
			// held the record (on_standby on the active node).
			name: "a stale keepalive after a failback does not change the writer's belief",
			c:    owner,
			evs: seq(linked(owner, "srv2"), actives(2*sec, 31*sec),
				EvDone{At: at(31100 * ms), Asked: at(31050 * ms), Job: 1, Content: "srv1", Changed: true, Replaced: "srv2"},
				active(31200*ms), verified(31400*ms, "srv1"), active(31500*ms), hb(32*sec)),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1",
				"push up: [srv1] Server 'srv2' is now up | The address for 'www.example.com' has been changed to 'srv1'",
				"verify", "hook on_active"},
		},
		{
			name: "a read answered late does not override a newer write",
			c:    owner,
			evs: seq(linked(owner, "srv2"), actives(2*sec, 31*sec),
				EvDone{At: at(31100 * ms), Asked: at(31050 * ms), Job: 1, Content: "srv1", Changed: true, Replaced: "srv2"},
				EvRead{At: at(36 * sec), Asked: at(30 * sec), Record: Record{Content: "srv2"}, Drift: true}),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1",
				"push up: [srv1] Server 'srv2' is now up | The address for 'www.example.com' has been changed to 'srv1'",
				"verify", "hook on_active"},
		},
		{
			name: "a read right after this node's write that shows what it replaced is a stale answer",
			c:    owner,
			evs: seq(linked(owner, "srv2"), actives(2*sec, 31*sec),
				EvDone{At: at(31100 * ms), Asked: at(31050 * ms), Job: 1, Content: "srv1", Changed: true, Replaced: "srv2"},
				EvRead{At: at(31400 * ms), Asked: at(31300 * ms), Record: Record{Content: "srv2"}, Verify: true}),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1",
				"push up: [srv1] Server 'srv2' is now up | The address for 'www.example.com' has been changed to 'srv1'",
				"verify", "hook on_active"},
		},
		{
			// Hole: an authenticated peer could send INFO many times to
			// change this node's idea of its value.
			name: "the peer's value is taken from its first INFO of a link only, and never over the configuration",
			c:    with(testMachine(false), func(c *Config) { c.OtherKnown = false; c.OtherValue = "srv1" }),
			evs: seq(up(100*ms), EvInfo{At: at(200 * ms), Value: "192.0.2.1"}, EvInfo{At: at(300 * ms), Value: "192.0.2.9"},
				read(400*ms, "192.0.2.1"), hbf(sec, FlagHealthy|FlagActive)),
			want: []string{"hook on_standby"},
		},
	})
	s, _ := run(with(testMachine(false), func(c *Config) { c.OtherKnown = false }),
		up(100*ms), EvInfo{At: at(200 * ms), Value: "192.0.2.1"}, EvInfo{At: at(300 * ms), Value: "192.0.2.9"})
	if s.peerValue != "192.0.2.1" || !s.peerKnown {
		t.Errorf("peer value after two INFOs: %q (known %v), want the first", s.peerValue, s.peerKnown)
	}
	s, _ = run(testMachine(false), up(100*ms), EvInfo{At: at(200 * ms), Value: "elsewhere"})
	if s.peerValue != "srv1" {
		t.Errorf("peer value: %q, want the configured srv1 over INFO", s.peerValue)
	}
}

func unhealthy(d time.Duration, why string) Event { return EvHealth{At: at(d), Reason: why} }
func failing(d time.Duration, why string) Event {
	return EvHealth{At: at(d), Healthy: true, Reason: why}
}
func healthy(d time.Duration) Event { return EvHealth{At: at(d), Healthy: true} }

const bothUnhealthy = "push health: [srv2] Both services unhealthy | Neither node passes its health check; 'www.example.com' stays on 'srv1'."

func TestMachineHealth(t *testing.T) {
	other, owner := testMachine(false), testMachine(true)
	handover := with(testMachine(true), func(c *Config) { c.Handover = true })
	sick := FlagActive // the peer holds the record and is unhealthy
	check(t, []machineCase{
		{
			name: "the active peer unhealthy and this node healthy: take over at once, link up",
			c:    other,
			evs:  seq(linked(other, "srv1"), hbf(3*sec, sick)),
			want: []string{"hook on_standby", "ensure#1 srv2"},
		},
		{
			name: "both unhealthy: no write, one alert",
			c:    other,
			evs:  seq(linked(other, "srv1"), unhealthy(2500*ms, "503"), hbf(3*sec, sick), hbf(4*sec, sick), hbf(5*sec, sick)),
			want: []string{"hook on_standby", bothUnhealthy},
		},
		{
			name: "the peer unhealthy while this node's last check failed: no move",
			c:    other,
			evs:  seq(linked(other, "srv1"), failing(2500*ms, "503"), hbf(3*sec, sick), hbf(4*sec, sick)),
			want: []string{"hook on_standby"},
		},
		{
			name: "the peer unhealthy; this node's failed check passes again: move",
			c:    other,
			evs:  seq(linked(other, "srv1"), failing(2500*ms, "503"), hbf(3*sec, sick), healthy(4500*ms)),
			want: []string{"hook on_standby", "ensure#1 srv2"},
		},
		{
			name: "a health move is dropped once the peer is healthy again",
			c:    other,
			evs:  seq(linked(other, "srv1"), hbf(3*sec, sick), active(4*sec)),
			want: []string{"hook on_standby", "ensure#1 srv2", "cancel"},
		},
		{
			name: "moves started by the peer's flags are paced: a flapping peer cannot make this node hammer the API",
			c:    other,
			evs: seq(linked(other, "srv1"), hbf(3*sec, sick), active(3200*ms), hbf(3400*ms, sick), active(3600*ms),
				hbf(3800*ms, sick), hbf(8100*ms, sick)),
			want: []string{"hook on_standby", "ensure#1 srv2", "cancel", "ensure#2 srv2"}, // the second 5 s after the first
		},
		{
			name: "an unhealthy survivor does not take the record",
			c:    other,
			evs:  seq(linked(other, "srv1"), unhealthy(2500*ms, "503"), down(3*sec), tick(4*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "push withheld: [srv2] Server 'srv1' is now down (EOF), but this node is unhealthy | Not taking 'www.example.com': this node's service fails its health check (503)."},
		},
		{
			name: "an unhealthy survivor takes over once healthy again",
			c:    other,
			evs:  seq(linked(other, "srv1"), unhealthy(2500*ms, "503"), down(3*sec), healthy(4*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "push withheld: [srv2] Server 'srv1' is now down (EOF), but this node is unhealthy | Not taking 'www.example.com': this node's service fails its health check (503).",
				"ensure#1 srv2 base=srv1 yield"},
		},
		{
			name: "a survivor whose last check failed waits for the next one",
			c:    other,
			evs:  seq(linked(other, "srv1"), failing(2500*ms, "503"), down(3*sec), tick(4*sec), healthy(5*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
		},
		{
			name: "the owner fails back only after failback_delay of its own health",
			c:    owner,
			evs: seq(linked(owner, "srv2"), unhealthy(2*sec, "503"), actives(3*sec, 10*sec), healthy(10500*ms),
				actives(11*sec, 40*sec), active(41*sec)),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1"}, // at 41 s: 30 s after health came back
		},
		{
			name: "the owner moves the record off its unhealthy peer; its failback waits for failback_delay of the peer's health",
			c:    owner,
			evs: seq(linked(owner, "srv2"), hbf(2*sec, FlagActive), every(3*sec, 32*sec, func(d time.Duration) Event { return hbf(d, FlagActive) }),
				actives(33*sec, 62*sec), active(63*sec)),
			// the health move; the peer up; the move dropped once the peer is
			// healthy (it never answered here); the failback 30 s later
			want: []string{"hook on_standby", "ensure#1 srv1", "hook on_peer_up", "cancel", "ensure#2 srv1"},
		},
		{
			name: "handover: the active node asks, waits for the peer to hold the record, then exits",
			c:    handover,
			evs:  seq(linked(handover, "srv1"), hb(2*sec), EvStop{At: at(3 * sec)}, hb(3100*ms), hbf(3200*ms, FlagHealthy|FlagActive), verified(3250*ms, "srv2")),
			want: []string{"hook on_active", "verify", "exit", "hook on_standby"},
		},
		{
			// The peer says it holds the record as soon as its write is
			// under way: a read that still finds this node's value
			// (the write has yet to land) keeps it here, and it reads
			// again a keepalive later.
			name: "handover: the peer's word alone is not the record moved",
			c:    handover,
			evs: seq(linked(handover, "srv1"), hb(2*sec), EvStop{At: at(3 * sec)}, hbf(3200*ms, FlagHealthy|FlagActive),
				verified(3250*ms, "srv1"), hbf(3700*ms, FlagHealthy|FlagActive), hbf(4200*ms, FlagHealthy|FlagActive), verified(4250*ms, "srv2")),
			want: []string{"hook on_active", "verify", "verify", "exit", "hook on_standby"},
		},
		{
			name: "handover: gives up after 5 s",
			c:    handover,
			evs:  seq(linked(handover, "srv1"), EvStop{At: at(2 * sec)}, beats(3*sec, 7*sec)),
			want: []string{"hook on_active", "exit"},
		},
		{
			name: "handover: a standby node exits at once",
			c:    handover,
			evs:  seq(linked(handover, "srv2"), EvStop{At: at(2 * sec)}),
			want: []string{"hook on_standby", "exit"},
		},
		{
			name: "handover: the peer takes the record while linked",
			c:    other,
			evs:  seq(linked(other, "srv1"), hbf(2*sec, FlagHealthy|FlagActive|FlagHandover)),
			want: []string{"hook on_standby", "ensure#1 srv2"},
		},
		{
			// Found by the simulator: the peer's failback landed just after
			// this node's verification read was served; the peer's word
			// that it held the record waited for the next paced read, 5 s
			// on, and the handover for it: the stopping peer left first.
			name: "handover: the peer says it holds the record against a read that raced its write: handed over at once",
			c:    other,
			evs:  seq(linked(other, "srv2"), active(2*sec), verified(2100*ms, "srv2"), hbf(3*sec, FlagHealthy|FlagActive|FlagHandover)),
			want: []string{"hook on_active", "verify", "ensure#1 srv2"},
		},
		{
			// The handover's write answered after the stopping peer had
			// gone: the takeover that follows finds the record right, by
			// this node's own write, and says the record moved.
			name: "handover: its answer slower than the peer's exit: the takeover finds it right and says it moved",
			c:    other,
			evs: seq(linked(other, "srv1"), hbf(2*sec, FlagHealthy|FlagActive|FlagHandover),
				EvWriting{At: at(2100 * ms), Job: 1, Content: "srv2"},
				EvLinkDown{At: at(2120 * ms), Reason: "peer closed the link: bye 1 shutdown"},
				EvDone{At: at(2140 * ms), Asked: at(2000 * ms), Job: 1, Content: "srv2", Replaced: "srv1", Changed: true, Purpose: Handover},
				ticks(3*sec, 9*sec),
				EvDone{At: at(9500 * ms), Asked: at(9400 * ms), Job: 2, Content: "srv2", Purpose: Takeover}),
			want: []string{"hook on_standby", "ensure#1 srv2", "cancel", "hook on_peer_down", "ensure#2 srv2 base=srv1 yield", "hook on_active",
				"push down: [srv2] Server 'srv1' is now down (peer closed the link: bye 1 shutdown) | The address for 'www.example.com' has been changed to 'srv2'"},
		},
		{
			// Hole: the handover path ignored a failed last health check.
			name: "handover: not onto this node's service while its last check failed",
			c:    other,
			evs:  seq(linked(other, "srv1"), failing(1500*ms, "503"), hbf(2*sec, FlagHealthy|FlagActive|FlagHandover)),
			want: []string{"hook on_standby"},
		},
	})
}

func TestMayWrite(t *testing.T) {
	c := testMachine(false)
	s := NewState(t0, c)
	if !s.MayWrite(c, "srv2") || !s.MayWrite(c, "srv1") {
		t.Fatal("a healthy node may write")
	}
	s, _ = Next(c, s, failing(sec, "503"))
	if s.MayWrite(c, "srv2") || !s.MayWrite(c, "srv1") {
		t.Error("a node whose last check failed may write the preferred value, not its own")
	}
	s, _ = Next(c, s, healthy(2*sec))
	s, _ = Next(c, s, EvStop{At: at(3 * sec)})
	if s.MayWrite(c, "srv2") || s.MayWrite(c, "srv1") {
		t.Error("a stopping node writes nothing")
	}
}

const peerServing = "push withheld: [srv2] Link to 'srv1' down, peer still serving | Not taking 'www.example.com': the peer's service answers (answers). Probing it every 1s; this node takes over when it stops answering."
const peerTook = "push withheld: [srv2] Link to 'srv1' down, peer still serving | The peer took 'www.example.com' (now 'srv1') since the link was lost, so it is alive: not writing."

func probe(d time.Duration, serving bool) Event {
	detail := "answers"
	if !serving {
		detail = "connect: connection refused"
	}
	return EvProbe{At: at(d), Serving: serving, Detail: detail}
}

func withheld(d time.Duration, job uint64, content string) Event {
	return EvDone{At: at(d), Asked: at(d - 50*ms), Job: job, Content: content, Withheld: true, Purpose: Takeover}
}

// The split-brain guard, and every hole of the rule found since: each
// case names the hole it closes.
func TestMachineGuard(t *testing.T) {
	other, owner := testMachine(false), testMachine(true)
	checked := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	check(t, []machineCase{
		{
			name: "with peer_check, a serving peer is not taken over; one alert, and the probing goes on",
			c:    checked,
			evs:  seq(linked(checked, "srv1"), down(3*sec), probe(3100*ms, true), tick(4200*ms), probe(4300*ms, true)),
			want: []string{"hook on_standby", "hook on_peer_down", "probe", peerServing, "probe"},
		},
		{
			name: "with peer_check, a peer whose service fails is taken over on that evidence",
			c:    checked,
			evs:  seq(linked(checked, "srv1"), down(3*sec), probe(3100*ms, false)),
			want: []string{"hook on_standby", "hook on_peer_down", "probe", "ensure#1 srv2 evidence yield"},
		},
		{
			name: "a takeover that finds the peer's fresh write withholds and alerts once",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(3*sec), withheld(3100*ms, 1, "srv1")),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield", peerTook},
		},
		{
			// Hole: a withheld takeover was never re-armed: the node
			// with peer_check kept withholding after the peer's service
			// died.
			name: "re-armed: a withheld survivor with peer_check takes over once the peer's service stops answering",
			c:    checked,
			evs: seq(linked(checked, "srv1"), down(3*sec), probe(3100*ms, true), tick(4200*ms), probe(4300*ms, true),
				tick(5400*ms), probe(5500*ms, false)),
			want: []string{"hook on_standby", "hook on_peer_down", "probe", peerServing, "probe", "probe", "ensure#1 srv2 evidence yield"},
		},
		{
			// Hole: the flap hold did not check that the peer took the
			// record during this episode, so a crash just after a brief
			// return of the link waited failback_delay.
			name: "flap hold only when the peer took the record in this episode: a crash after a brief relink is taken over at once",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(3*sec), up(3500*ms), active(4*sec), down(5*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield", "cancel", "ensure#2 srv2 base=srv1 yield"},
		},
		{
			name: "flap hold: the peer took the record in this episode: not taken back on the next cut, not even after failback_delay",
			c:    owner,
			evs: seq(linked(owner, "srv1"), down(2*sec), EvDone{At: at(2100 * ms), Asked: at(2050 * ms), Job: 1, Content: "srv1", Purpose: Takeover},
				up(2500*ms), active(3*sec), verified(3100*ms, "srv2"), down(4*sec), ticks(5*sec, 60*sec)),
			want: []string{"hook on_active", "hook on_peer_down", "ensure#1 srv1 base=srv1",
				"push down: [srv1] Server 'srv2' is now down (EOF) | No record change is necessary",
				"verify", "hook on_standby",
				"push withheld: [srv1] Link to 'srv2' down, peer still serving | The peer took 'www.example.com' (now 'srv2') since the link was lost, so it is alive: not writing."},
		},
		{
			// Hole: an empty base at start never withheld: two nodes
			// started apart, without a link, both wrote.
			name: "at start without a link, the peer's write after this node started is its write: withhold",
			c:    other,
			evs: seq(EvRead{At: at(100 * ms), Asked: at(50 * ms), Record: Record{Content: "srv1", Modified: t0.Add(-time.Hour)}},
				ticks(sec, 5*sec), withheld(5200*ms, 1, "srv1")),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield", peerTook},
		},
		{
			// Hole: a takeover started before the lookup was answered
			// carried no base; its read, undated, of the peer's value
			// written since this node started looked like the record as
			// found, and it wrote over a live peer.
			name: "at start without a link, the takeover waits for the lookup: its answer is the base",
			c:    other,
			evs: seq(ticks(sec, 7*sec), EvRead{At: at(7500 * ms), Asked: at(50 * ms), Record: Record{Content: "srv1"}},
				tick(8*sec)),
			want: []string{"hook on_peer_down", "ensure#1 srv2 base=srv1 yield", "hook on_standby"},
		},
		{
			// A lookup that failed (a wrong key, an API down) would keep
			// the takeover waiting in silence: its own job reads, retries
			// and says that the update fails.
			name: "at start without a link, a lookup that failed does not hold the takeover back",
			c:    other,
			evs: seq(EvReadFailed{At: at(200 * ms), Err: "read record: BADSIG", Attempt: 1},
				ticks(sec, 6*sec)),
			want: []string{"hook on_peer_down", "ensure#1 srv2 base= yield"},
		},
		{
			name: "at start, a lookup that already shows the peer's write, surely after this node started, withholds without a job",
			c:    other,
			evs:  seq(tick(sec), tick(2*sec), EvRead{At: at(3 * sec), Asked: at(2900 * ms), Record: Record{Content: "srv1", Modified: t0.Add(2500 * ms)}}, ticks(4*sec, 5*sec)),
			want: []string{peerTook, "hook on_standby", "hook on_peer_down"},
		},
		{
			// Hole: a freeze shifted the "since" of the outside-edit
			// test, so the peer's takeover during the freeze looked like
			// an edit from before the loss.
			name: "a freeze does not move the time the link was last known good",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(22*sec), ticks(23*sec, 27*sec)),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
		},
		{
			// Hole: link-up cancelled takeover jobs only; a correction,
			// a health move or a handover decided on the old state went on.
			name: "any change of the link cancels the running job",
			c:    other,
			evs:  seq(linked(other, "srv1"), hbf(3*sec, FlagActive), down(3500*ms)),
			want: []string{"hook on_standby", "ensure#1 srv2", "cancel", "hook on_peer_down", "ensure#2 srv2 base=srv1 yield"},
		},
	})

	// The freeze case above: the job carries the time of the last
	// agreement, from before the freeze.
	c := testMachine(false)
	s := NewState(t0, c)
	var acts []Action
	for _, ev := range seq(linked(c, "srv1"), down(22*sec), ticks(23*sec, 27*sec)) {
		var a []Action
		s, a = Next(c, s, ev)
		acts = append(acts, a...)
	}
	for _, a := range acts {
		if e, ok := a.(ActEnsure); ok && !e.Since.Equal(at(sec)) {
			t.Errorf("takeover after a freeze: since %v, want the last agreement at 1s", e.Since.Sub(t0))
		}
	}
}

// The node without peer_check took the
// record during a partition; the node with it found the peer's service
// serving and withheld. Then the peer died with its service: the survivor
// never took the record back. Now its probing goes on, and a failed probe
// re-arms it.
func TestMachineRearmedAfterThePeerTookTheRecord(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	s := NewState(t0, c)
	var got []string
	feed := func(evs ...Event) {
		for _, ev := range evs {
			var acts []Action
			s, acts = Next(c, s, ev)
			for _, a := range acts {
				if str := show(a); str != "" {
					got = append(got, fmt.Sprintf("%s@%s", str, ev.When().Sub(t0)))
				}
			}
		}
	}
	feed(linked(c, "srv2")...)
	feed(down(3*sec), probe(3100*ms, true)) // the peer's service answers: withhold
	serving := true
	for d := 4 * sec; d <= 40*sec; d += sec {
		if d == 10*sec {
			// The peer took the record (this node learns it at a drift
			// check), and at 20 s its service dies.
			feed(EvRead{At: at(d), Asked: at(d - 50*ms), Record: Record{Content: "srv1"}, Drift: true})
		}
		if d == 20*sec {
			serving = false
		}
		feed(tick(d), probe(d+100*ms, serving))
	}
	joined := strings.Join(got, " ")
	if !strings.Contains(joined, "ensure#1 srv2 evidence yield@20.1s") && !strings.Contains(joined, "ensure#1 srv2 evidence yield@21.1s") {
		t.Errorf("no takeover on the evidence within a probe period of the service's death at 20s:\n%s", joined)
	}
	if strings.Count(joined, "ensure#") != 1 {
		t.Errorf("want exactly one takeover:\n%s", joined)
	}
}

func drift(d time.Duration, content string) Event {
	return EvRead{At: at(d), Asked: at(d - 50*ms), Record: Record{Content: content}, Drift: true}
}

func missing(d time.Duration) Event {
	return EvRead{At: at(d), Asked: at(d - 50*ms), Missing: true}
}

const recordMissing = "push failed: [srv1] Record 'www.example.com' not found | 'www.example.com' does not exist, or no longer has its configured type: clooster does not create it. It looks for it every 1m0s and goes on once it is back."

func TestMachineDrift(t *testing.T) {
	owner := with(testMachine(true), func(c *Config) { c.DriftInterval = 10 * sec })
	other := with(testMachine(false), func(c *Config) { c.DriftInterval = 10 * sec })
	check(t, []machineCase{
		{
			name: "while linked, the owner corrects a value that points at neither node",
			c:    owner,
			evs:  seq(linked(owner, "srv1"), beats(2*sec, 31*sec), done(31100*ms, 1, "srv1", false), beats(32*sec, 40*sec), drift(40100*ms, "10.0.0.9")),
			want: []string{"hook on_active", "hook on_peer_up", "ensure#1 srv1 base=", "drift", "ensure#2 srv1", "hook on_standby"},
		},
		{
			name: "while linked, the other node's value is reported, not corrected",
			c:    owner,
			evs:  seq(linked(owner, "srv1"), beats(2*sec, 31*sec), done(31100*ms, 1, "srv1", false), beats(32*sec, 40*sec), drift(40100*ms, "srv2")),
			want: []string{"hook on_active", "hook on_peer_up", "ensure#1 srv1 base=", "drift",
				"push drift: [srv1] Record edited outside | 'www.example.com' now points to 'srv2', one of the pair: leaving it.",
				"verify", "hook on_standby"}, // the peer's word (not active) disagrees now: read to settle
		},
		{
			name: "while linked, only the failback owner checks",
			c:    other,
			evs:  seq(linked(other, "srv1"), actives(2*sec, 60*sec)),
			want: []string{"hook on_standby", "hook on_peer_up"},
		},
		{
			name: "a drift check during a loss that finds the peer's fresh write withholds",
			c:    other,
			evs: seq(linked(other, "srv2"), down(3*sec), done(3100*ms, 1, "srv2", false), ticks(4*sec, 13*sec),
				drift(13100*ms, "srv1"), ticks(14*sec, 30*sec)),
			want: []string{"hook on_active", "hook on_peer_down", "ensure#1 srv2 base=srv2 yield",
				"push down: [srv2] Server 'srv1' is now down (EOF) | No record change is necessary", "drift", peerTook, "hook on_standby", "drift"},
		},
	})
}

// Hole: with A records, a node that does not know its peer's address took
// it for "neither node's value" and corrected it, at every drift check,
// for ever (13 writes in 20 s at a 2 s drift interval).
func TestMachineUnknownPeerValueIsNeverCorrected(t *testing.T) {
	c := with(testMachine(false), func(c *Config) {
		c.DriftInterval = 2 * sec
		c.ThisValue, c.OtherValue, c.OtherKnown, c.Preferred = "192.0.2.2", "srv1", false, "192.0.2.1"
	})
	s := NewState(t0, c)
	for _, ev := range seq(read(100*ms, "192.0.2.9"), ticks(sec, 5*sec)) {
		s, _ = Next(c, s, ev)
	}
	// The link never comes up; each drift check finds the peer's address.
	for d := 6 * sec; d <= 60*sec; d += sec {
		var acts []Action
		s, acts = Next(c, s, drift(d, "192.0.2.1"))
		for _, a := range acts {
			if e, ok := a.(ActEnsure); ok && e.Purpose == Correction {
				t.Fatalf("at %s: a correction of %q, a value that may be the peer's", d, "192.0.2.1")
			}
		}
	}
}

func TestMachineMissingRecord(t *testing.T) {
	owner := testMachine(true)
	// Hole: a deleted record (or one whose type changed) was retried for
	// ever, with one push. Now: one alert, no retries, looks with backoff
	// while a decision waits on it, and on as soon as it is back.
	c := owner
	s := NewState(t0, c)
	var got []string
	var looks []time.Duration
	feed := func(evs ...Event) {
		for _, ev := range evs {
			var acts []Action
			s, acts = Next(c, s, ev)
			for _, a := range acts {
				str := show(a)
				if str == "look" {
					looks = append(looks, ev.When().Sub(t0))
				}
				if str != "" && str != "look" {
					got = append(got, str)
				}
			}
		}
	}
	feed(linked(c, "srv1")...)
	feed(down(2*sec), EvDone{At: at(2100 * ms), Asked: at(2050 * ms), Job: 1, Purpose: Takeover, Missing: true})
	for d := 3 * sec; d <= 100*sec; d += sec {
		ev := tick(d)
		if len(looks) > 0 && looks[len(looks)-1] == d-sec {
			ev = missing(d) // the answer to the look of a second ago
		}
		feed(ev)
	}
	// Looks on the turn they are due, each 5 s after the last answer, then
	// twice as long each time.
	if want := []time.Duration{8 * sec, 19 * sec, 40 * sec, 81 * sec}; !reflect.DeepEqual(looks, want) {
		t.Errorf("looks at %v, want %v", looks, want)
	}
	// An operator creates it again, pointing elsewhere: the takeover goes on.
	feed(read(101*sec, "parked.example.net"), tick(102*sec))
	want := []string{"hook on_active", "hook on_peer_down", "ensure#1 srv1 base=srv1", recordMissing, "ensure#2 srv1 base=parked.example.net", "hook on_standby"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions:\ngot  %q\nwant %q", got, want)
	}
}

// Deadline never lies in the past of the last turn, whatever waits: a
// loop that wakes at once again and again burns a core.
func TestMachineDeadlineNeverBusy(t *testing.T) {
	c := with(testMachine(true), func(c *Config) { c.DriftInterval = 10 * sec; c.PeerCheck = true })
	evs := seq(linked(c, "srv2"), unhealthy(2*sec, "503"), actives(3*sec, 80*sec), healthy(81*sec), down(82*sec),
		EvDone{At: at(82100 * ms), Job: 1, Purpose: Takeover, Missing: true}, ticks(83*sec, 200*sec))
	s := NewState(t0, c)
	for _, ev := range evs {
		s, _ = Next(c, s, ev)
		if d := s.Deadline(c); !d.IsZero() && d.Before(ev.When()) {
			t.Fatalf("after %T at %s: deadline %s is in the past", ev, ev.When().Sub(t0), d.Sub(t0))
		}
	}
}

func TestMachineLogsHaveEventNames(t *testing.T) {
	c := testMachine(false)
	got := strings.Join(logs(c, read(500*ms, "srv1"), up(sec), down(2*sec), tick(40*sec)), ",")
	if want := "record_found,link_up,link_down,peer_down,takeover_started,frozen"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDecide(t *testing.T) {
	cond := ActEnsure{Content: "srv2", Own: "srv2", Peer: "srv1", PeerKnown: true, Conditional: true, Base: "srv1", Since: t0}
	mod := func(a ActEnsure, f func(*ActEnsure)) ActEnsure { f(&a); return a }
	tests := []struct {
		name    string
		current string
		stamp   time.Time
		a       ActEnsure
		want    verdict
	}{
		{"already ours", "srv2", time.Time{}, cond, verdictNothing},
		{"unchanged since the link was last good: take it", "srv1", time.Time{}, cond, verdictWrite},
		{"the peer took it since: it is alive", "srv1", time.Time{}, mod(cond, func(a *ActEnsure) { a.Base = "other" }), verdictWithhold},
		{"the peer's value stamped since the link was last good, base and all: changed away and back", "srv1", t0.Add(5 * sec), cond, verdictWithhold},
		{"the peer's value, edited before the link was last good: an outside edit, take it", "srv1", t0.Add(-time.Minute),
			mod(cond, func(a *ActEnsure) { a.Base = "srv2" }), verdictWrite},
		{"within the clock margin: the careful side, the peer's write", "srv1", t0.Add(-sec),
			mod(cond, func(a *ActEnsure) { a.Base = "srv2" }), verdictWithhold},
		{"no base known, an undated peer's value: take it (a lone start)", "srv1", time.Time{}, mod(cond, func(a *ActEnsure) { a.Base = "" }), verdictWrite},
		{"no base known, the peer's value stamped since: withhold", "srv1", t0.Add(5 * sec), mod(cond, func(a *ActEnsure) { a.Base = "" }), verdictWithhold},
		{"the owner's failback, due on the link and stamped since: unchanged", "srv1", t0.Add(30 * sec),
			mod(cond, func(a *ActEnsure) {
				a.Base, a.AlsoBase, a.AlsoFrom, a.AlsoUntil = "srv2", "srv1", t0.Add(29*sec), t0.Add(40*sec)
			}), verdictWrite},
		{"the owner's value stamped after its failback's window: its write", "srv1", t0.Add(50 * sec),
			mod(cond, func(a *ActEnsure) {
				a.Base, a.AlsoBase, a.AlsoFrom, a.AlsoUntil = "srv2", "srv1", t0.Add(29*sec), t0.Add(40*sec)
			}), verdictWithhold},
		{"neither value, preferred node: take it", "elsewhere", time.Time{}, cond, verdictWrite},
		{"neither value, the other node: let the preferred go first", "elsewhere", time.Time{}, mod(cond, func(a *ActEnsure) { a.Yield = true }), verdictYield},
		{"an unknown peer value: anything not ours may be the peer's, never a tie", "192.0.2.9", time.Time{},
			mod(cond, func(a *ActEnsure) { a.Base, a.PeerKnown, a.Yield = "", false, true }), verdictWrite},
		{"an unknown peer value changed since the base: the peer's write", "192.0.2.9", time.Time{},
			mod(cond, func(a *ActEnsure) { a.Base, a.PeerKnown = "192.0.2.2", false }), verdictWithhold},
		{"evidence: take it whatever it holds", "srv1", t0.Add(5 * sec), ActEnsure{Content: "srv2", Own: "srv2", Peer: "srv1", PeerKnown: true, Evidence: true}, verdictWrite},
		{"evidence, but the peer took it back after this node's write: contested", "srv1", time.Time{},
			ActEnsure{Content: "srv2", Own: "srv2", Peer: "srv1", PeerKnown: true, Evidence: true, Wrote: true}, verdictWithhold},
		{"a correction meets a node's value: someone put it right", "srv1", time.Time{},
			ActEnsure{Content: "srv2", Own: "srv2", Peer: "srv1", PeerKnown: true, OnlyOverNeither: true}, verdictNothing},
		{"a correction of a value that points at neither node", "elsewhere", time.Time{},
			ActEnsure{Content: "srv2", Own: "srv2", Peer: "srv1", PeerKnown: true, OnlyOverNeither: true}, verdictWrite},
		{"planted bug: without the withhold guard", "srv1", time.Time{}, mod(cond, func(a *ActEnsure) { a.Base, a.Disable = "other", DisableWithhold }), verdictWrite},
		{"planted bug: without the tie pause", "elsewhere", time.Time{}, mod(cond, func(a *ActEnsure) { a.Yield, a.Disable = true, DisableTiePause }), verdictWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(Record{Content: tt.current, Modified: tt.stamp}, t0.Add(10*sec), tt.a); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// feedTimed feeds evs to s and collects every action but logs, each as a
// short string with the time of the event that caused it.
func feedTimed(c *Config, s *State, got *[]string, evs ...Event) {
	for _, ev := range evs {
		var acts []Action
		*s, acts = Next(c, *s, ev)
		for _, a := range acts {
			if str := show(a); str != "" {
				*got = append(*got, fmt.Sprintf("%s@%s", str, ev.When().Sub(t0)))
			}
		}
	}
}

// Hole: the one-shot alerts were sent once per process: after the first
// down episode, a second loss withheld without a word.
func TestMachineAlertsOncePerEpisode(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	s := NewState(t0, c)
	var got []string
	feedTimed(c, &s, &got, linked(c, "srv1")...)
	// Withheld, the link back for failback_delay, then a second loss:
	// withheld again, and said again. Within one episode (a brief
	// return of the link), once.
	feedTimed(c, &s, &got, seq(down(3*sec), probe(3100*ms, true), up(4*sec), actives(5*sec, 6*sec), down(7*sec), probe(7100*ms, true))...)
	feedTimed(c, &s, &got, seq(up(8*sec), actives(9*sec, 40*sec), down(41*sec), probe(41100*ms, true))...)
	want := []string{"hook on_standby@150ms", "hook on_peer_down@3s", "probe@3s", peerServing + "@3.1s", "probe@7s",
		"hook on_peer_up@38s", "hook on_peer_down@41s", "probe@41s", peerServing + "@41.1s"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions:\ngot  %q\nwant %q", got, want)
	}

	// Both unhealthy: one alert, and one more once both fail again after
	// either recovered.
	s = NewState(t0, c)
	got = nil
	feedTimed(c, &s, &got, linked(c, "srv1")...)
	feedTimed(c, &s, &got, seq(EvHealth{At: at(2 * sec), Healthy: false, Reason: "dead"}, hbf(2100*ms, FlagActive), hbf(3*sec, FlagActive),
		active(4*sec), hbf(5*sec, FlagActive), hbf(6*sec, FlagActive))...)
	if n := strings.Count(strings.Join(got, " "), "Both services unhealthy"); n != 2 {
		t.Errorf("both unhealthy twice, with a recovery between: %d alerts, want 2:\n%q", n, got)
	}
}

// Hole: a freeze cleared the probe's verdict, and a node that had taken
// the record on evidence never probed again: no watch for the rest of the
// loss.
func TestMachineProbingGoesOnAfterAFreeze(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	s := NewState(t0, c)
	var got []string
	feedTimed(c, &s, &got, linked(c, "srv1")...)
	feedTimed(c, &s, &got, down(3*sec), probe(3100*ms, false), done(3200*ms, 1, "srv2", true))
	feedTimed(c, &s, &got, tick(20*sec)) // frozen from 3.2 s to 20 s
	for d := 20 * sec; d <= 40*sec; d += sec {
		feedTimed(c, &s, &got, probe(d+100*ms, false), tick(d+sec))
	}
	joined := strings.Join(got, " ")
	if !strings.Contains(joined, "probe@20s") {
		t.Errorf("no probe after the freeze:\n%s", joined)
	}
	if !strings.Contains(joined, "ensure#2 srv2 evidence") {
		t.Errorf("no watch read of the record after the freeze:\n%s", joined)
	}
}

// Hole: the peer's value learned from a link's INFO was kept for good, so
// a peer reconfigured with another address had its new value corrected
// as "neither node's". Only a value this node's configuration names wins.
func TestMachinePeerValueFromEachLink(t *testing.T) {
	unknown := with(testMachine(false), func(c *Config) { c.OtherValue, c.OtherKnown = "", false })
	known := testMachine(false)
	for _, tc := range []struct {
		c    *Config
		want string
	}{{unknown, "srv3"}, {known, "srv1"}} {
		s, _ := run(tc.c, up(100*ms), EvInfo{At: at(200 * ms), Value: "srv1"}, down(sec),
			up(2*sec), EvInfo{At: at(2100 * ms), Value: "srv3"}, EvInfo{At: at(2200 * ms), Value: "srv4"})
		if got := s.View(tc.c).PeerValue; got != tc.want {
			t.Errorf("configured %v: the peer's value is %q, want %q", tc.c.OtherKnown, got, tc.want)
		}
	}
	if names := logs(known, up(100*ms), EvInfo{At: at(200 * ms), Value: "srv3"}); !slicesContain(names, LogPeerValue) {
		t.Errorf("a configured value that the peer contradicts is not logged: %q", names)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Hole: when the record was never known while linked (the API unreachable
// for the whole link), the episode's "last known good" was zero, and any
// dated record, even one edited an hour before, counted as the peer's
// write of the episode: the flap hold then left the record on a dead peer.
func TestMachineNoLastGoodLinkDatesNothing(t *testing.T) {
	c := testMachine(false)
	_, got := run(c, seq(up(100*ms), actives(sec, 2*sec),
		EvHealth{At: at(2500 * ms), Healthy: false, Reason: "down"}, down(3*sec),
		EvRead{At: at(4 * sec), Asked: at(3900 * ms), Record: Record{Content: "srv1", Modified: t0.Add(-time.Hour)}, Drift: true},
		EvHealth{At: at(5 * sec), Healthy: true}, tick(5100*ms))...)
	if !slicesContain(got, "ensure#1 srv2 base=srv1 yield") {
		t.Errorf("the survivor, healthy again, does not take the record of a dead peer:\n%q", got)
	}
}

// The health monitor's latest error reaches /status even when the node's
// verdict does not change.
func TestLoopHealthKeepsTheLastError(t *testing.T) {
	c := testMachine(false)
	l := NewLoop(c, t0)
	l.Health(at(sec), true, "timeout")
	l.Health(at(2*sec), true, "connection refused")
	if got := l.S.View(c).LastCheck; got != "connection refused" {
		t.Errorf("last check %q, want the latest error", got)
	}
	if acts, _ := l.Health(at(3*sec), true, "connection refused"); acts != nil {
		t.Errorf("an unchanged verdict applied an event: %v", acts)
	}
}

// failbackAgainAt62s runs the owner to its second failback, at 62 s: the
// first, at 31 s, finds the record right; then this node's health flaps.
func failbackAgainAt62s() (*Config, State, []string) {
	c := testMachine(true)
	s := NewState(t0, c)
	var got []string
	feedTimed(c, &s, &got, linked(c, "srv1")...)
	feedTimed(c, &s, &got, beats(2*sec, 31*sec)...)
	feedTimed(c, &s, &got, EvDone{At: at(31200 * ms), Asked: at(31150 * ms), Job: 1, Content: "srv1", Purpose: Failback})
	feedTimed(c, &s, &got, EvHealth{At: at(31500 * ms), Healthy: false, Reason: "x"}, hb(31600*ms), healthy(32*sec))
	feedTimed(c, &s, &got, beats(33*sec, 62*sec)...)
	return c, s, got
}

// Found by the simulator: a failback decided on a link that the peer had
// already lost (a slow network) wrote over the peer's takeover. The
// failback now holds over the peer's value written on this link while the
// peer says it does not hold the record, and writes on the next attempt.
func TestMachineFailbackHoldsOverAnUnannouncedWrite(t *testing.T) {
	c, s, got := failbackAgainAt62s()
	var job uint64
	for _, g := range got {
		if strings.HasPrefix(g, "ensure#2 srv1 base=@") {
			job = 2
		}
	}
	if job == 0 {
		t.Fatalf("no conditional failback:\n%q", got)
	}
	// Its read finds the peer's value, stamped on this link: held.
	feedTimed(c, &s, &got, EvDone{At: at(62100 * ms), Asked: at(62050 * ms), Job: 2, Content: "srv2", Purpose: Failback, Withheld: true})
	// The link holds (the verification reads find the peer's value):
	// after the pause the failback writes, unconditionally, even though
	// the peer still does not say it holds the record (an operator's
	// edit, say).
	answered := 0
	for d := 62 * sec; d <= 90*sec; d += sec {
		if asked := strings.Count(strings.Join(got, " "), "verify@"); asked > answered {
			answered = asked
			feedTimed(c, &s, &got, verified(d+300*ms, "srv2"))
		}
		feedTimed(c, &s, &got, hb(d+500*ms))
		if d < 67*sec && strings.Contains(strings.Join(got, " "), "ensure#3") {
			t.Fatalf("failback again before the pause:\n%q", got)
		}
	}
	joined := strings.Join(got, " ")
	if !strings.Contains(joined, "ensure#3 srv1@") {
		t.Errorf("no unconditional failback after the hold:\n%s", joined)
	}
}

// Found by the simulator: during a partition in which both nodes withheld
// (each found the other's service serving), an outside edit to a value of
// neither node was never corrected: the drift check left it to the
// takeover, which the guard held.
func TestMachineDriftCorrectedWhileWithheld(t *testing.T) {
	owner := with(testMachine(true), func(c *Config) { c.PeerCheck, c.DriftInterval = true, 20*sec })
	other := with(testMachine(false), func(c *Config) { c.PeerCheck, c.DriftInterval = true, 20*sec })
	peerServingOwner := "push withheld: [srv1] Link to 'srv2' down, peer still serving | Not taking 'www.example.com': the peer's service answers (answers). Probing it every 1s; this node takes over when it stops answering."
	check(t, []machineCase{
		{
			name: "the preferred node corrects it at once",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), down(3*sec), probe(3100*ms, true), drift(4*sec, "parked")),
			want: []string{"hook on_standby", "hook on_peer_down", "probe", peerServingOwner, "ensure#1 srv1"},
		},
		{
			name: "the other corrects it after the tie pause",
			c:    other,
			evs:  seq(linked(other, "srv1"), down(3*sec), probe(3100*ms, true), drift(4*sec, "parked")),
			want: []string{"hook on_standby", "hook on_peer_down", "probe", peerServing, "ensure#1 srv2 yield"},
		},
	})
}

// Found by the simulator: a disagreement with the peer's word that came
// back after the two had agreed waited the backoff of the last one (up to
// two minutes), so a node kept believing it held a record the peer had
// taken back, and withheld when that peer crashed.
func TestMachineVerifyAfterAgreementIsPrompt(t *testing.T) {
	c := testMachine(false)
	s := NewState(t0, c)
	var got []string
	feedTimed(c, &s, &got, linked(c, "srv1")...)
	feedTimed(c, &s, &got, hb(2*sec), verified(2100*ms, "srv1"))
	for d := 3 * sec; d <= 8*sec; d += sec {
		feedTimed(c, &s, &got, hb(d))
	}
	feedTimed(c, &s, &got, verified(8100*ms, "srv1")) // the same disagreement: next in 10 s
	feedTimed(c, &s, &got, active(9*sec), active(10*sec), active(13*sec), hb(14*sec), hb(15*sec))
	verifies := []string{}
	for _, g := range got {
		if strings.HasPrefix(g, "verify@") {
			verifies = append(verifies, g)
		}
	}
	want := []string{"verify@2s", "verify@7s", "verify@14s"}
	if !reflect.DeepEqual(verifies, want) {
		t.Errorf("verification reads %q, want %q (all: %q)", verifies, want, got)
	}
}

// Found by the simulator: a read during an episode that showed the
// peer's value, where this node had known another value since the
// episode began, did not count as the peer's write because the episode
// had begun with that same value.
func TestMachinePeerWriteAgainstWhatWasKnownSince(t *testing.T) {
	c := testMachine(false)
	_, got := run(c, seq(linked(c, "srv1"), EvHealth{At: at(2 * sec), Healthy: false, Reason: "down"}, down(3*sec),
		// Unhealthy, this node learns of a third value, and then of the
		// peer's value again: the peer changed it back.
		drift(4*sec, "parked"), drift(5*sec, "srv1"), healthy(6*sec), ticks(7*sec, 9*sec))...)
	for _, g := range got {
		if strings.HasPrefix(g, "ensure#") {
			t.Errorf("a takeover over the peer's write of this episode: %q", got)
		}
	}
	if names := logs(c, seq(linked(c, "srv1"), EvHealth{At: at(2 * sec), Healthy: false, Reason: "down"}, down(3*sec),
		drift(4*sec, "parked"), drift(5*sec, "srv1"))...); !slicesContain(names, LogPeerTook) {
		t.Errorf("the peer's write is not noted: %q", names)
	}
}

// Found by the simulator: a verification read that showed the peer's
// value made the owner fail back over it, although the peer no longer
// claimed it (it had lost the link and taken the record).
func TestMachineLateLandingNeedsThePeersWord(t *testing.T) {
	c := testMachine(true)
	base := seq(linked(c, "srv1"), beats(2*sec, 31*sec),
		EvDone{At: at(31200 * ms), Asked: at(31150 * ms), Job: 1, Content: "srv1", Purpose: Failback},
		hbf(32*sec, FlagHealthy|FlagActive)) // the peer claims it: verify
	for _, tc := range []struct {
		name    string
		claim   byte
		refails bool
	}{
		{"the peer says it holds it: its write landed late, fail back again", FlagHealthy | FlagActive, true},
		{"the peer no longer says so: leave it", FlagHealthy, false},
	} {
		s := NewState(t0, c)
		var got []string
		feedTimed(c, &s, &got, seq(base, hbf(32050*ms, tc.claim), verified(32100*ms, "srv2"))...)
		answered := 1
		for d := 33 * sec; d <= 50*sec; d += sec {
			if asked := strings.Count(strings.Join(got, " "), "verify@"); asked > answered {
				answered = asked
				feedTimed(c, &s, &got, verified(d, "srv2"))
			}
			feedTimed(c, &s, &got, hbf(d+500*ms, tc.claim))
		}
		refailed := false
		for _, g := range got {
			refailed = refailed || strings.HasPrefix(g, "ensure#2 srv1")
		}
		if refailed != tc.refails {
			t.Errorf("%s: failback again %v, want %v: %q", tc.name, refailed, tc.refails, got)
		}
	}
}

// Found by the simulator: a peer that claims nothing (its record missing,
// say) "agreed" with this node's old knowledge, which moved the time the
// link was last known good past the peer's takeover: the next takeover
// took the record back from a live peer. Such an agreement counts only as
// of when this node's knowledge was current.
func TestMachineAgreementOnNothingDatesFromTheKnowledge(t *testing.T) {
	c := testMachine(true)
	s := NewState(t0, c)
	var ensures []ActEnsure
	for _, ev := range seq(linked(c, "srv1"), down(3*sec),
		EvDone{At: at(3100 * ms), Asked: at(3050 * ms), Job: 1, Content: "srv1", Purpose: Takeover},
		ticks(4*sec, 19*sec), up(20*sec), hb(20100*ms), down(21*sec), tick(22*sec)) {
		var acts []Action
		s, acts = Next(c, s, ev)
		for _, a := range acts {
			if e, ok := a.(ActEnsure); ok {
				ensures = append(ensures, e)
			}
		}
	}
	if len(ensures) != 2 {
		t.Fatalf("want two takeovers, got %d", len(ensures))
	}
	if since := ensures[1].Since; !since.Equal(at(3050 * ms)) {
		t.Errorf("the second takeover judges against %v, want the knowledge of 3.05s", since.Sub(t0))
	}
}

// Found by the simulator: the owner's takeover, cancelled by the link's
// return while its write was under way, landed after the owner's failback
// (over the preferred value of a load balancer) and left the record on
// the owner for the rest of the link: nothing else puts a node's value
// right while the link holds. The failback is due again once the owner
// learns its own write landed, or may have.
func TestMachineOwnStrayWriteFailsBackAgain(t *testing.T) {
	lb := func(c *Config) { c.Preferred = "lb" }
	pref := func(d time.Duration) Event { return hbf(d, FlagHealthy|FlagPreferred) }
	// Linked on "lb", the link breaks, the takeover writes, and the
	// link comes back before its answer: the failback finds "lb".
	base := func() []Event {
		return seq(up(100*ms), read(150*ms, "lb"), every(sec, 2*sec, pref), down(3*sec), ticks(4*sec, 8*sec),
			EvWriting{At: at(8100 * ms), Job: 1, Content: "srv1"}, up(9*sec), every(9500*ms, 39500*ms, pref),
			EvDone{At: at(39600 * ms), Asked: at(39550 * ms), Job: 2, Content: "lb", Purpose: Failback})
	}
	for _, tc := range []struct {
		name    string
		c       *Config
		stray   []Event
		refails bool
	}{
		{"its answer lost", with(testMachine(true), lb),
			seq(EvAttempt{At: at(40 * sec), Job: 1, Err: "timeout", Uncertain: true}, verified(40500*ms, "srv1")), true},
		{"its answer late", with(testMachine(true), lb),
			seq(EvDone{At: at(40 * sec), Asked: at(8 * sec), Job: 1, Content: "srv1", Replaced: "lb", Changed: true, Purpose: Takeover}), true},
		{"nothing stray", with(testMachine(true), lb), nil, false},
	} {
		s := NewState(t0, tc.c)
		var got []string
		// The peer reads it too, and no longer claims the preferred value.
		feedTimed(tc.c, &s, &got, seq(base(), tc.stray, beats(41*sec, 50*sec))...)
		refailed := false
		for _, g := range got {
			refailed = refailed || strings.HasPrefix(g, "ensure#3 ")
		}
		if refailed != tc.refails {
			t.Errorf("%s: failback again %v, want %v: %q", tc.name, refailed, tc.refails, got)
		}
	}
}
