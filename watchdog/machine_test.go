package watchdog

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const sec = time.Second

func testMachine(owner bool) *machineConfig {
	c := &machineConfig{
		This: "srv2", Other: "srv1", Record: "www.example.com",
		ThisValue: "srv2", OtherValue: "srv1", Preferred: "srv1",
		PeerTimeout: 5 * sec, FailbackDelay: 30 * sec, Keepalive: sec,
	}
	if owner {
		c.This, c.Other, c.ThisValue, c.OtherValue = "srv1", "srv2", "srv1", "srv2"
		c.Server = true
	}
	return c
}

// run feeds events to a fresh state started at t0 and collects the
// interesting actions (logs left out), each as a short string.
func run(c *machineConfig, evs ...event) (state, []string) {
	s := newState(t0, c)
	var out []string
	for _, ev := range evs {
		var acts []action
		s, acts = next(c, s, ev)
		for _, a := range acts {
			switch a := a.(type) {
			case actEnsure:
				out = append(out, fmt.Sprintf("ensure#%d %s", a.job, a.content))
			case actCancel:
				out = append(out, "cancel")
			case actClose:
				out = append(out, "close: "+a.reason)
			case actNotify:
				out = append(out, "push: "+a.title+" | "+a.body)
			}
		}
	}
	return s, out
}

// ticks returns a tick every second from..to inclusive, as a running node
// would see at least.
func ticks(from, to time.Duration) []event {
	var evs []event
	for d := from; d <= to; d += sec {
		evs = append(evs, evTick{at(d)})
	}
	return evs
}

// hb is a keepalive from a healthy peer that does not hold the record.
func hb(d time.Duration) event { return evHeard{at: at(d), flags: flagHealthy} }

// beats returns a keepalive every second from..to inclusive: a live link.
func beats(from, to time.Duration) []event {
	var evs []event
	for d := from; d <= to; d += sec {
		evs = append(evs, hb(d))
	}
	return evs
}

func seq(parts ...[]event) []event {
	var all []event
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func one(evs ...event) []event { return evs }

func TestMachine(t *testing.T) {
	tests := []struct {
		name  string
		owner bool
		evs   []event
		want  []string
		peer  PeerState
	}{
		{
			name: "rule 1: linked at start, nothing happens",
			evs:  seq(one(evLinkUp{at(100 * time.Millisecond)}), beats(1*sec, 29*sec)),
			peer: PeerUp,
		},
		{
			name: "rule 1: no link within peer_timeout of start means the peer is down",
			evs:  ticks(1*sec, 5*sec),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 1: still starting just before peer_timeout",
			evs:  ticks(1*sec, 4*sec),
			peer: PeerConnecting,
		},
		{
			name: "rule 3: a closed link is a down peer at once",
			evs:  one(evLinkUp{at(sec)}, evTick{at(2 * sec)}, evLinkDown{at: at(2500 * time.Millisecond), reason: "connection lost: EOF"}),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: silence for peer_timeout closes the link and declares the peer down",
			evs:  seq(one(evLinkUp{at(sec)}, hb(2*sec)), ticks(3*sec, 7*sec)),
			want: []string{"close: ping timeout (nothing heard for 5s)", "ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: keepalives keep the link up",
			evs: seq(one(evLinkUp{at(sec)}), func() []event {
				var e []event
				for d := 2 * sec; d < 60*sec; d += sec {
					e = append(e, hb(d), evTick{at(d + 500*time.Millisecond)})
				}
				return e
			}()),
			peer: PeerUp,
		},
		{
			name: "rule 3: the survivor pushes the outcome of its takeover",
			evs: one(evLinkUp{at(sec)}, evLinkDown{at: at(2 * sec), reason: "connection lost: EOF"},
				evDone{at: at(2100 * time.Millisecond), job: 1, content: "srv2", changed: true}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF) | The address for 'www.example.com' has been changed to 'srv2'"},
			peer: PeerDown,
		},
		{
			name: "rule 3: nothing to change is still announced once",
			evs: one(evLinkUp{at(sec)}, evLinkDown{at: at(2 * sec), reason: "connection lost: EOF"},
				evDone{at: at(2100 * time.Millisecond), job: 1, content: "srv2"}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF) | No record change is necessary"},
			peer: PeerDown,
		},
		{
			name: "rule 3: the takeover stops when the peer is back",
			evs: one(evLinkUp{at(sec)}, evLinkDown{at: at(2 * sec), reason: "connection lost: EOF"},
				evAttempt{at: at(2100 * time.Millisecond), job: 1, err: "write record: 500"},
				evLinkUp{at(3 * sec)},
				evDone{at: at(3100 * time.Millisecond), job: 1, content: "srv2", changed: true}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF), but something went wrong while updating the record | Here's what went wrong: write record: 500. Retrying until 'www.example.com' points to 'srv2'.",
				"cancel"},
			peer: PeerUp,
		},
		{
			name: "rule 3: a frozen node gives the link peer_timeout to come back",
			evs: one(evLinkUp{at(sec)}, hb(2*sec),
				// Nothing for 20 s: this node was stopped. The peer closed
				// the link meanwhile.
				evLinkDown{at: at(22 * sec), reason: "connection lost: EOF"},
				evTick{at(23 * sec)}, evLinkUp{at(24 * sec)}, evTick{at(25 * sec)}),
			peer: PeerUp,
		},
		{
			name: "rule 3: after a freeze, a peer that does not come back is down",
			evs: seq(one(evLinkUp{at(sec)}, hb(2*sec),
				evLinkDown{at: at(22 * sec), reason: "connection lost: EOF"}), ticks(23*sec, 27*sec)),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: a peer that closes the link for our silence is alive: wait for the link",
			evs: one(evLinkUp{at(sec)}, hb(2*sec),
				evLinkDown{at: at(2500 * time.Millisecond), reason: "peer closed the link: ping timeout", peerAlive: true},
				evTick{at(3 * sec)}, evTick{at(4 * sec)}, evLinkUp{at(4500 * time.Millisecond)}, evTick{at(8 * sec)}),
			peer: PeerUp,
		},
		{
			name: "rule 3: a live peer that does not come back within peer_timeout is down",
			evs: seq(one(evLinkUp{at(sec)}, hb(2*sec),
				evLinkDown{at: at(2500 * time.Millisecond), reason: "peer closed the link: ping timeout", peerAlive: true}),
				ticks(3*sec, 7*sec), one(evTick{at(7500 * time.Millisecond)})),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: a freeze a keepalive short of peer_timeout already counts",
			evs: one(evLinkUp{at(sec)}, hb(2*sec),
				// 4.5 s without a turn: the peer, counting from our last
				// frame, may already have declared us down.
				evLinkDown{at: at(6500 * time.Millisecond), reason: "connection lost: EOF"},
				evTick{at(7 * sec)}, evLinkUp{at(8 * sec)}),
			peer: PeerUp,
		},
		{
			name: "rule 3: a link lost again during a down episode re-checks the record, quietly",
			evs: one(evLinkUp{at(sec)}, evLinkDown{at: at(2 * sec), reason: "connection lost: EOF"},
				evDone{at: at(2100 * time.Millisecond), job: 1, content: "srv2", changed: true},
				evTick{at(5 * sec)}, evTick{at(8 * sec)},
				evLinkUp{at(10 * sec)}, evLinkDown{at: at(11 * sec), reason: "connection lost: EOF"},
				evDone{at: at(11100 * time.Millisecond), job: 2, content: "srv2"}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF) | The address for 'www.example.com' has been changed to 'srv2'",
				"ensure#2 srv2"},
			peer: PeerDown,
		},
		{
			name:  "rule 4: the preferred node fails back after failback_delay of unbroken link",
			owner: true,
			evs:   seq(one(evLinkUp{at(sec)}), beats(2*sec, 30*sec), one(evTick{at(31 * sec)})),
			want:  []string{"ensure#1 srv1"},
			peer:  PeerUp,
		},
		{
			name:  "rule 4: not before failback_delay",
			owner: true,
			evs:   seq(one(evLinkUp{at(sec)}), beats(2*sec, 30*sec)),
			peer:  PeerUp,
		},
		{
			name:  "rule 4: a break restarts the failback clock",
			owner: true,
			evs: seq(one(evLinkUp{at(sec)}), beats(2*sec, 20*sec),
				one(evLinkDown{at: at(20500 * time.Millisecond), reason: "connection lost: EOF"}, evLinkUp{at(21 * sec)}),
				beats(22*sec, 50*sec)),
			want: []string{"ensure#1 srv1", "cancel"}, // the takeover check of the break, dropped when the link is back
			peer: PeerUp,
		},
		{
			name: "rule 4: the other node never writes while the link is up",
			evs:  seq(one(evLinkUp{at(sec)}), beats(2*sec, 120*sec)),
			peer: PeerUp,
		},
		{
			name:  "rule 5: failback after a down episode is announced once",
			owner: true,
			evs: seq(one(evLinkUp{at(sec)}, evLinkDown{at: at(2 * sec), reason: "connection lost: EOF"},
				evDone{at: at(2100 * time.Millisecond), job: 1, content: "srv1"}),
				ticks(3*sec, 9*sec), one(evLinkUp{at(10 * sec)}), beats(11*sec, 40*sec),
				one(evDone{at: at(40100 * time.Millisecond), job: 2, content: "srv1"})),
			want: []string{"ensure#1 srv1",
				"push: [srv1] Server 'srv2' is now down (connection lost: EOF) | No record change is necessary",
				"ensure#2 srv1",
				"push: [srv1] Server 'srv2' is now up | No record change is necessary"},
			peer: PeerUp,
		},
		{
			name:  "rule 5: a clean start that changes nothing pushes nothing",
			owner: true,
			evs: seq(one(evLinkUp{at(sec)}), beats(2*sec, 31*sec),
				one(evDone{at: at(31100 * time.Millisecond), job: 1, content: "srv1"})),
			want: []string{"ensure#1 srv1"},
			peer: PeerUp,
		},
		{
			name: "rule 5 and 6: one push for the first failure, one when the delayed update lands",
			evs: one(evLinkUp{at(sec)}, evLinkDown{at: at(2 * sec), reason: "connection lost: EOF"},
				evAttempt{at: at(2100 * time.Millisecond), job: 1, err: "429"},
				evAttempt{at: at(4 * sec), job: 1, err: "500"},
				evAttempt{at: at(8 * sec), job: 1, err: "500"},
				evDone{at: at(12 * sec), job: 1, content: "srv2", changed: true}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF), but something went wrong while updating the record | Here's what went wrong: 429. Retrying until 'www.example.com' points to 'srv2'.",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF): record update delayed | The address for 'www.example.com' has been changed to 'srv2' after 3 failed attempts over 10s (last error: 500)"},
			peer: PeerDown,
		},
		{
			name: "stale job results are ignored",
			evs: one(evLinkUp{at(sec)}, evLinkDown{at: at(2 * sec), reason: "connection lost: EOF"},
				evDone{at: at(2100 * time.Millisecond), job: 7, content: "srv2", changed: true}),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, got := run(testMachine(tt.owner), tt.evs...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions:\ngot  %q\nwant %q", got, tt.want)
			}
			if s.peerState() != tt.peer {
				t.Errorf("peer state: got %s, want %s", s.peerState(), tt.peer)
			}
		})
	}
}

func TestMachineDeadline(t *testing.T) {
	c := testMachine(true)
	s := newState(t0, c)
	if got, want := s.deadline(c), at(5*sec); !got.Equal(want) {
		t.Errorf("start: got %v, want %v", got, want)
	}
	s, _ = next(c, s, evLinkUp{at(sec)})
	if got, want := s.deadline(c), at(6*sec); !got.Equal(want) {
		t.Errorf("linked: got %v, want %v", got, want)
	}
	s, _ = next(c, s, hb(4*sec))
	if got, want := s.deadline(c), at(9*sec); !got.Equal(want) {
		t.Errorf("heard: got %v, want %v", got, want)
	}
}

func TestMachineLogsHaveEventNames(t *testing.T) {
	c := testMachine(false)
	s := newState(t0, c)
	var names []string
	for _, ev := range []event{evLinkUp{at(sec)}, evLinkDown{at: at(2 * sec), reason: "x"}, evTick{at(40 * sec)}} {
		var acts []action
		s, acts = next(c, s, ev)
		for _, a := range acts {
			if l, ok := a.(actLog); ok {
				names = append(names, l.event)
			}
		}
	}
	if got, want := strings.Join(names, ","), "link_up,link_down,peer_down,takeover_started,frozen"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDecide(t *testing.T) {
	takeover := actEnsure{content: "srv2", base: "srv1", peer: "srv1"}
	tests := []struct {
		name    string
		current string
		a       actEnsure
		want    verdict
	}{
		{"already ours", "srv2", takeover, verdictNothing},
		{"unchanged since the link was up: take it", "srv1", takeover, verdictWrite},
		{"the peer took it since: it is alive", "srv1", actEnsure{content: "srv2", base: "other", peer: "srv1"}, verdictWithhold},
		{"neither value, preferred node: take it", "elsewhere", takeover, verdictWrite},
		{"neither value, other node: let the preferred go first", "elsewhere", actEnsure{content: "srv2", base: "srv1", peer: "srv1", yield: true}, verdictYield},
		{"neither value since before the loss: a plain takeover", "elsewhere", actEnsure{content: "srv2", base: "elsewhere", peer: "srv1", yield: true}, verdictWrite},
		{"no base: unconditional", "srv1", actEnsure{content: "srv2", peer: "srv1"}, verdictWrite},
		{"the peer's value, edited before the link was lost: an outside edit, take it", "srv1",
			actEnsure{content: "srv2", base: "srv2", peer: "srv1", since: t0, modified: t0.Add(-time.Minute)}, verdictWrite},
		{"the peer's value, written after the link was last good: the peer is alive", "srv1",
			actEnsure{content: "srv2", base: "srv2", peer: "srv1", since: t0, modified: t0.Add(time.Second)}, verdictWithhold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.current, tt.a); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// flags of a peer keepalive.
func hbf(d time.Duration, flags byte) event { return evHeard{at: at(d), flags: flags} }

func TestMachineExtensions(t *testing.T) {
	owner := testMachine(true)
	other := testMachine(false)
	active1 := flagHealthy | flagActive
	withCheck := testMachine(false)
	withCheck.PeerCheck = true
	withDrift := testMachine(true)
	withDrift.DriftInterval = 10 * sec
	withHandover := testMachine(true)
	withHandover.Handover = true

	// linkedWithRecord: srv2's view, linked, the record on srv1 (the peer
	// says so in its keepalives).
	active := flagHealthy | flagActive
	tests := []struct {
		name string
		c    *machineConfig
		evs  []event
		want []string
	}{
		{
			name: "write rule: the takeover carries what the record held when the link was up",
			c:    other,
			evs:  one(evLinkUp{at(sec)}, hbf(2*sec, active), evLinkDown{at: at(3 * sec), reason: "EOF"}),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
		},
		{
			name: "health: the active peer unhealthy and this node healthy: take over at once, link up",
			c:    other,
			evs:  one(evLinkUp{at(sec)}, hbf(2*sec, active), hbf(3*sec, flagActive)),
			want: []string{"hook on_standby", "ensure#1 srv2"},
		},
		{
			name: "health: both unhealthy: no write, one alert",
			c:    other,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evHealth{at: at(2500 * time.Millisecond), reason: "503"},
				hbf(3*sec, flagActive), hbf(4*sec, flagActive), hbf(5*sec, flagActive)),
			want: []string{"hook on_standby", "push: [srv2] Both services unhealthy | Neither node passes its health check; 'www.example.com' stays on 'srv1'."},
		},
		{
			name: "health: the peer unhealthy while this node's last check failed: no move",
			c:    other,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evHealth{at: at(2500 * time.Millisecond), healthy: true, reason: "503"},
				hbf(3*sec, flagActive), hbf(4*sec, flagActive), evTick{at(4500 * time.Millisecond)}),
			want: []string{"hook on_standby"},
		},
		{
			name: "health: the peer unhealthy; this node's failed check passes again: move",
			c:    other,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evHealth{at: at(2500 * time.Millisecond), healthy: true, reason: "503"},
				hbf(3*sec, flagActive), hbf(4*sec, flagActive), evHealth{at: at(4500 * time.Millisecond), healthy: true}),
			want: []string{"hook on_standby", "ensure#1 srv2"},
		},
		{
			name: "health: both die; this node's monitor notices second: no write, one alert",
			c:    other,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evHealth{at: at(2500 * time.Millisecond), healthy: true, reason: "503"},
				hbf(3*sec, flagActive), evHealth{at: at(3500 * time.Millisecond), reason: "503"}, hbf(4*sec, flagActive)),
			want: []string{"hook on_standby", "push: [srv2] Both services unhealthy | Neither node passes its health check; 'www.example.com' stays on 'srv1'."},
		},
		{
			name: "health: an unhealthy survivor does not take the record",
			c:    other,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evHealth{at: at(2500 * time.Millisecond), reason: "503"},
				evLinkDown{at: at(3 * sec), reason: "EOF"}, evTick{at(4 * sec)}, evTick{at(5 * sec)}),
			want: []string{"hook on_standby", "hook on_peer_down", "push: [srv2] Server 'srv1' is now down (EOF), but this node is unhealthy | Not taking 'www.example.com': this node's service fails its health check (503)."},
		},
		{
			name: "health: an unhealthy survivor takes over once healthy again",
			c:    other,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evHealth{at: at(2500 * time.Millisecond), reason: "503"},
				evLinkDown{at: at(3 * sec), reason: "EOF"}, evHealth{at: at(4 * sec), healthy: true}),
			want: []string{"hook on_standby", "hook on_peer_down", "push: [srv2] Server 'srv1' is now down (EOF), but this node is unhealthy | Not taking 'www.example.com': this node's service fails its health check (503).",
				"ensure#1 srv2 base=srv1 yield"},
		},
		{
			name: "health: the owner fails back only after failback_delay of its own health",
			c:    owner,
			evs: seq(one(evLinkUp{at(sec)}, evHealth{at: at(2 * sec), reason: "503"}), beats(3*sec, 10*sec),
				one(evHealth{at: at(10500 * time.Millisecond), healthy: true}), beats(11*sec, 40*sec), one(hb(41*sec))),
			want: []string{"hook on_peer_up", "ensure#1 srv1"}, // at 41 s: 30 s after health came back, not 31 s after the link
		},
		{
			name: "guard: with peer_check, a serving peer is not taken over; one alert",
			c:    withCheck,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evLinkDown{at: at(3 * sec), reason: "EOF"},
				evProbe{at: at(3100 * time.Millisecond), serving: true, detail: "answers"},
				evTick{at(4200 * time.Millisecond)}, evProbe{at: at(4300 * time.Millisecond), serving: true, detail: "answers"}),
			want: []string{"hook on_standby", "hook on_peer_down", "probe",
				"push: [srv2] Link to 'srv1' down, peer still serving | Not taking 'www.example.com': the peer's service answers (answers). Probing it every 1s; this node takes over when it stops answering.",
				"probe"},
		},
		{
			name: "guard: with peer_check, a peer whose service fails is taken over",
			c:    withCheck,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evLinkDown{at: at(3 * sec), reason: "EOF"},
				evProbe{at: at(3100 * time.Millisecond), detail: "connect: connection refused"}),
			want: []string{"hook on_standby", "hook on_peer_down", "probe", "ensure#1 srv2 base=srv1 yield"},
		},
		{
			name: "guard: a takeover that finds the peer's fresh write withholds and alerts once",
			c:    other,
			evs: one(evLinkUp{at(sec)}, hbf(2*sec, active), evLinkDown{at: at(3 * sec), reason: "EOF"},
				evDone{at: at(3100 * time.Millisecond), job: 1, content: "srv1", withheld: true}),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield",
				"push: [srv2] Link to 'srv1' down, peer still serving | The peer took 'www.example.com' (now 'srv1') since the link was lost, so it is alive: not writing."},
		},
		{
			name: "handover: the active node asks, waits for the peer to hold the record, then exits",
			c:    withHandover,
			evs: one(evLinkUp{at(sec)}, evRead{at: at(sec), content: "srv1"}, hb(2*sec), evStop{at(3 * sec)},
				hb(3100*time.Millisecond), hbf(3200*time.Millisecond, active)),
			want: []string{"hook on_active", "exit", "hook on_standby"},
		},
		{
			name: "handover: gives up after 5 s",
			c:    withHandover,
			evs: seq(one(evLinkUp{at(sec)}, evRead{at: at(sec), content: "srv1"}, evStop{at(2 * sec)}), beats(2*sec, 6*sec),
				one(hb(7*sec))),
			want: []string{"hook on_active", "exit"},
		},
		{
			name: "handover: a standby node exits at once",
			c:    withHandover,
			evs:  one(evLinkUp{at(sec)}, evRead{at: at(sec), content: "srv2"}, evStop{at(2 * sec)}),
			want: []string{"hook on_standby", "exit"},
		},
		{
			name: "handover: the peer takes the record while linked",
			c:    other,
			evs:  one(evLinkUp{at(sec)}, hbf(2*sec, active|flagHandover)),
			want: []string{"ensure#1 srv2", "hook on_standby"},
		},
		{
			name: "drift: neither node's value is corrected",
			c:    withDrift,
			evs: seq(one(evLinkUp{at(sec)}, evRead{at: at(sec), content: "srv1"}), beats(2*sec, 31*sec),
				one(evDone{at: at(31100 * time.Millisecond), job: 1, content: "srv1"}), beats(32*sec, 40*sec),
				one(evRead{at: at(40100 * time.Millisecond), content: "10.0.0.9", drift: true})),
			want: []string{"hook on_active", "hook on_peer_up", "ensure#1 srv1", "read", "ensure#2 srv1", "hook on_standby"},
		},
		{
			name: "drift: the other node's value while linked is reported, not corrected",
			c:    withDrift,
			evs: seq(one(evLinkUp{at(sec)}, evRead{at: at(sec), content: "srv1"}), beats(2*sec, 31*sec),
				one(evDone{at: at(31100 * time.Millisecond), job: 1, content: "srv1"}), beats(32*sec, 40*sec),
				one(evRead{at: at(40100 * time.Millisecond), content: "srv2", drift: true})),
			want: []string{"hook on_active", "hook on_peer_up", "ensure#1 srv1", "read",
				"push: [srv1] Record edited outside | 'www.example.com' now points to 'srv2', one of the pair: leaving it.",
				"hook on_standby"},
		},
		{
			name: "flapping: the record, taken by the peer in this episode, is not taken back on the next cut",
			c:    owner,
			evs: seq(one(evLinkUp{at(sec)}, evRead{at: at(sec), content: "srv1"}, evLinkDown{at: at(2 * sec), reason: "EOF"},
				evDone{at: at(2100 * time.Millisecond), job: 1, content: "srv1"}, evLinkUp{at(2500 * time.Millisecond)},
				hbf(3*sec, active1), evLinkDown{at: at(3500 * time.Millisecond), reason: "EOF"}, evLinkUp{at(3600 * time.Millisecond)},
				hbf(4*sec, active1), evLinkDown{at: at(4500 * time.Millisecond), reason: "EOF"}),
				ticks(5*sec, 33*sec), one(evTick{at(34600 * time.Millisecond)})),
			want: []string{"hook on_active", "hook on_peer_down", "ensure#1 srv1 base=srv1",
				"push: [srv1] Server 'srv2' is now down (EOF) | No record change is necessary",
				"hook on_standby", "ensure#2 srv1 base=srv2"}, // only after failback_delay of continuous loss
		},
		{
			name: "hooks: peer down and up, active and standby",
			c:    other,
			evs: seq(one(evLinkUp{at(sec)}, evRead{at: at(sec), content: "srv1"}, evLinkDown{at: at(2 * sec), reason: "EOF"},
				evDone{at: at(2100 * time.Millisecond), job: 1, content: "srv2", changed: true}, evLinkUp{at(3 * sec)}),
				beats(4*sec, 33*sec), one(hbf(34*sec, active))),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield",
				"push: [srv2] Server 'srv1' is now down (EOF) | The address for 'www.example.com' has been changed to 'srv2'",
				"hook on_active", "hook on_peer_up", "hook on_standby"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := runAll(tt.c, tt.evs...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// runAll is run with every kind of action shown.
func runAll(c *machineConfig, evs ...event) (state, []string) {
	s := newState(t0, c)
	var out []string
	for _, ev := range evs {
		var acts []action
		s, acts = next(c, s, ev)
		for _, a := range acts {
			switch a := a.(type) {
			case actEnsure:
				e := fmt.Sprintf("ensure#%d %s", a.job, a.content)
				if a.base != "" {
					e += " base=" + a.base
				}
				if a.yield {
					e += " yield"
				}
				out = append(out, e)
			case actCancel:
				out = append(out, "cancel")
			case actClose:
				out = append(out, "close: "+a.reason)
			case actNotify:
				out = append(out, "push: "+a.title+" | "+a.body)
			case actHook:
				out = append(out, "hook "+a.event)
			case actRead:
				out = append(out, "read")
			case actProbe:
				out = append(out, "probe")
			case actExit:
				out = append(out, "exit")
			}
		}
	}
	return s, out
}
