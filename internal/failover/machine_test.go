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

const sec = time.Second

func testMachine(owner bool) *Config {
	c := &Config{
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
func run(c *Config, evs ...Event) (State, []string) {
	s := NewState(t0, c)
	var out []string
	for _, ev := range evs {
		var acts []Action
		s, acts = Next(c, s, ev)
		for _, a := range acts {
			switch a := a.(type) {
			case ActEnsure:
				out = append(out, fmt.Sprintf("ensure#%d %s", a.Job, a.Content))
			case ActCancel:
				out = append(out, "cancel")
			case ActClose:
				out = append(out, "close: "+a.Reason)
			case ActNotify:
				out = append(out, "push: "+a.Title+" | "+a.Body)
			}
		}
	}
	return s, out
}

// ticks returns a tick every second from..to inclusive, as a running node
// would see at least.
func ticks(from, to time.Duration) []Event {
	var evs []Event
	for d := from; d <= to; d += sec {
		evs = append(evs, EvTick{at(d)})
	}
	return evs
}

// hb is a keepalive from a healthy peer that does not hold the record.
func hb(d time.Duration) Event { return EvHeard{At: at(d), Flags: FlagHealthy} }

// beats returns a keepalive every second from..to inclusive: a live link.
func beats(from, to time.Duration) []Event {
	var evs []Event
	for d := from; d <= to; d += sec {
		evs = append(evs, hb(d))
	}
	return evs
}

func seq(parts ...[]Event) []Event {
	var all []Event
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func one(evs ...Event) []Event { return evs }

func TestMachine(t *testing.T) {
	tests := []struct {
		name  string
		owner bool
		evs   []Event
		want  []string
		peer  PeerState
	}{
		{
			name: "rule 1: linked at start, nothing happens",
			evs:  seq(one(EvLinkUp{at(100 * time.Millisecond)}), beats(1*sec, 29*sec)),
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
			evs:  one(EvLinkUp{at(sec)}, EvTick{at(2 * sec)}, EvLinkDown{At: at(2500 * time.Millisecond), Reason: "connection lost: EOF"}),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: silence for peer_timeout closes the link and declares the peer down",
			evs:  seq(one(EvLinkUp{at(sec)}, hb(2*sec)), ticks(3*sec, 7*sec)),
			want: []string{"close: ping timeout (nothing heard for 5s)", "ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: keepalives keep the link up",
			evs: seq(one(EvLinkUp{at(sec)}), func() []Event {
				var e []Event
				for d := 2 * sec; d < 60*sec; d += sec {
					e = append(e, hb(d), EvTick{at(d + 500*time.Millisecond)})
				}
				return e
			}()),
			peer: PeerUp,
		},
		{
			name: "rule 3: the survivor pushes the outcome of its takeover",
			evs: one(EvLinkUp{at(sec)}, EvLinkDown{At: at(2 * sec), Reason: "connection lost: EOF"},
				EvDone{At: at(2100 * time.Millisecond), Job: 1, Content: "srv2", Changed: true}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF) | The address for 'www.example.com' has been changed to 'srv2'"},
			peer: PeerDown,
		},
		{
			name: "rule 3: nothing to change is still announced once",
			evs: one(EvLinkUp{at(sec)}, EvLinkDown{At: at(2 * sec), Reason: "connection lost: EOF"},
				EvDone{At: at(2100 * time.Millisecond), Job: 1, Content: "srv2"}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF) | No record change is necessary"},
			peer: PeerDown,
		},
		{
			name: "rule 3: the takeover stops when the peer is back",
			evs: one(EvLinkUp{at(sec)}, EvLinkDown{At: at(2 * sec), Reason: "connection lost: EOF"},
				EvAttempt{At: at(2100 * time.Millisecond), Job: 1, Err: "write record: 500"},
				EvLinkUp{at(3 * sec)},
				EvDone{At: at(3100 * time.Millisecond), Job: 1, Content: "srv2", Changed: true}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF), but something went wrong while updating the record | Here's what went wrong: write record: 500. Retrying until 'www.example.com' points to 'srv2'.",
				"cancel"},
			peer: PeerUp,
		},
		{
			name: "rule 3: a frozen node gives the link peer_timeout to come back",
			evs: one(EvLinkUp{at(sec)}, hb(2*sec),
				// Nothing for 20 s: this node was stopped. The peer closed
				// the link meanwhile.
				EvLinkDown{At: at(22 * sec), Reason: "connection lost: EOF"},
				EvTick{at(23 * sec)}, EvLinkUp{at(24 * sec)}, EvTick{at(25 * sec)}),
			peer: PeerUp,
		},
		{
			name: "rule 3: after a freeze, a peer that does not come back is down",
			evs: seq(one(EvLinkUp{at(sec)}, hb(2*sec),
				EvLinkDown{At: at(22 * sec), Reason: "connection lost: EOF"}), ticks(23*sec, 27*sec)),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: a peer that closes the link for our silence is alive: wait for the link",
			evs: one(EvLinkUp{at(sec)}, hb(2*sec),
				EvLinkDown{At: at(2500 * time.Millisecond), Reason: "peer closed the link: ping timeout", PeerAlive: true},
				EvTick{at(3 * sec)}, EvTick{at(4 * sec)}, EvLinkUp{at(4500 * time.Millisecond)}, EvTick{at(8 * sec)}),
			peer: PeerUp,
		},
		{
			name: "rule 3: a live peer that does not come back within peer_timeout is down",
			evs: seq(one(EvLinkUp{at(sec)}, hb(2*sec),
				EvLinkDown{At: at(2500 * time.Millisecond), Reason: "peer closed the link: ping timeout", PeerAlive: true}),
				ticks(3*sec, 7*sec), one(EvTick{at(7500 * time.Millisecond)})),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: a freeze a keepalive short of peer_timeout already counts",
			evs: one(EvLinkUp{at(sec)}, hb(2*sec),
				// 4.5 s without a turn: the peer, counting from our last
				// frame, may already have declared us down.
				EvLinkDown{At: at(6500 * time.Millisecond), Reason: "connection lost: EOF"},
				EvTick{at(7 * sec)}, EvLinkUp{at(8 * sec)}),
			peer: PeerUp,
		},
		{
			name: "rule 3: a link lost again during a down episode re-checks the record, quietly",
			evs: one(EvLinkUp{at(sec)}, EvLinkDown{At: at(2 * sec), Reason: "connection lost: EOF"},
				EvDone{At: at(2100 * time.Millisecond), Job: 1, Content: "srv2", Changed: true},
				EvTick{at(5 * sec)}, EvTick{at(8 * sec)},
				EvLinkUp{at(10 * sec)}, EvLinkDown{At: at(11 * sec), Reason: "connection lost: EOF"},
				EvDone{At: at(11100 * time.Millisecond), Job: 2, Content: "srv2"}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF) | The address for 'www.example.com' has been changed to 'srv2'",
				"ensure#2 srv2"},
			peer: PeerDown,
		},
		{
			name:  "rule 4: the preferred node fails back after failback_delay of unbroken link",
			owner: true,
			evs:   seq(one(EvLinkUp{at(sec)}), beats(2*sec, 30*sec), one(EvTick{at(31 * sec)})),
			want:  []string{"ensure#1 srv1"},
			peer:  PeerUp,
		},
		{
			name:  "rule 4: not before failback_delay",
			owner: true,
			evs:   seq(one(EvLinkUp{at(sec)}), beats(2*sec, 30*sec)),
			peer:  PeerUp,
		},
		{
			name:  "rule 4: a break restarts the failback clock",
			owner: true,
			evs: seq(one(EvLinkUp{at(sec)}), beats(2*sec, 20*sec),
				one(EvLinkDown{At: at(20500 * time.Millisecond), Reason: "connection lost: EOF"}, EvLinkUp{at(21 * sec)}),
				beats(22*sec, 50*sec)),
			want: []string{"ensure#1 srv1", "cancel"}, // the takeover check of the break, dropped when the link is back
			peer: PeerUp,
		},
		{
			name: "rule 4: the other node never writes while the link is up",
			evs:  seq(one(EvLinkUp{at(sec)}), beats(2*sec, 120*sec)),
			peer: PeerUp,
		},
		{
			name:  "rule 5: failback after a down episode is announced once",
			owner: true,
			evs: seq(one(EvLinkUp{at(sec)}, EvLinkDown{At: at(2 * sec), Reason: "connection lost: EOF"},
				EvDone{At: at(2100 * time.Millisecond), Job: 1, Content: "srv1"}),
				ticks(3*sec, 9*sec), one(EvLinkUp{at(10 * sec)}), beats(11*sec, 40*sec),
				one(EvDone{At: at(40100 * time.Millisecond), Job: 2, Content: "srv1"})),
			want: []string{"ensure#1 srv1",
				"push: [srv1] Server 'srv2' is now down (connection lost: EOF) | No record change is necessary",
				"ensure#2 srv1",
				"push: [srv1] Server 'srv2' is now up | No record change is necessary"},
			peer: PeerUp,
		},
		{
			name:  "rule 5: a clean start that changes nothing pushes nothing",
			owner: true,
			evs: seq(one(EvLinkUp{at(sec)}), beats(2*sec, 31*sec),
				one(EvDone{At: at(31100 * time.Millisecond), Job: 1, Content: "srv1"})),
			want: []string{"ensure#1 srv1"},
			peer: PeerUp,
		},
		{
			name: "rule 5 and 6: one push for the first failure, one when the delayed update lands",
			evs: one(EvLinkUp{at(sec)}, EvLinkDown{At: at(2 * sec), Reason: "connection lost: EOF"},
				EvAttempt{At: at(2100 * time.Millisecond), Job: 1, Err: "429"},
				EvAttempt{At: at(4 * sec), Job: 1, Err: "500"},
				EvAttempt{At: at(8 * sec), Job: 1, Err: "500"},
				EvDone{At: at(12 * sec), Job: 1, Content: "srv2", Changed: true}),
			want: []string{"ensure#1 srv2",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF), but something went wrong while updating the record | Here's what went wrong: 429. Retrying until 'www.example.com' points to 'srv2'.",
				"push: [srv2] Server 'srv1' is now down (connection lost: EOF): record update delayed | The address for 'www.example.com' has been changed to 'srv2' after 3 failed attempts over 10s (last error: 500)"},
			peer: PeerDown,
		},
		{
			name: "stale job results are ignored",
			evs: one(EvLinkUp{at(sec)}, EvLinkDown{At: at(2 * sec), Reason: "connection lost: EOF"},
				EvDone{At: at(2100 * time.Millisecond), Job: 7, Content: "srv2", Changed: true}),
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
			if s.PeerState() != tt.peer {
				t.Errorf("peer state: got %s, want %s", s.PeerState(), tt.peer)
			}
		})
	}
}

func TestMachineDeadline(t *testing.T) {
	c := testMachine(true)
	s := NewState(t0, c)
	if got, want := s.Deadline(c), at(5*sec); !got.Equal(want) {
		t.Errorf("start: got %v, want %v", got, want)
	}
	s, _ = Next(c, s, EvLinkUp{at(sec)})
	if got, want := s.Deadline(c), at(6*sec); !got.Equal(want) {
		t.Errorf("linked: got %v, want %v", got, want)
	}
	s, _ = Next(c, s, hb(4*sec))
	if got, want := s.Deadline(c), at(9*sec); !got.Equal(want) {
		t.Errorf("heard: got %v, want %v", got, want)
	}
}

func TestMachineLogsHaveEventNames(t *testing.T) {
	c := testMachine(false)
	s := NewState(t0, c)
	var names []string
	for _, ev := range []Event{EvLinkUp{at(sec)}, EvLinkDown{At: at(2 * sec), Reason: "x"}, EvTick{at(40 * sec)}} {
		var acts []Action
		s, acts = Next(c, s, ev)
		for _, a := range acts {
			if l, ok := a.(ActLog); ok {
				names = append(names, l.Event)
			}
		}
	}
	if got, want := strings.Join(names, ","), "link_up,link_down,peer_down,takeover_started,frozen"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDecide(t *testing.T) {
	takeover := ActEnsure{Content: "srv2", Base: "srv1", Peer: "srv1"}
	sinceT0 := func(a ActEnsure) ActEnsure { a.Since = t0; return a }
	tests := []struct {
		name    string
		current string
		mod     time.Time
		a       ActEnsure
		want    Verdict
	}{
		{"already ours", "srv2", time.Time{}, takeover, VerdictNothing},
		{"unchanged since the link was up: take it", "srv1", time.Time{}, takeover, VerdictWrite},
		{"the peer took it since: it is alive", "srv1", time.Time{}, ActEnsure{Content: "srv2", Base: "other", Peer: "srv1"}, VerdictWithhold},
		{"neither value, preferred node: take it", "elsewhere", time.Time{}, takeover, VerdictWrite},
		{"neither value, other node: let the preferred go first", "elsewhere", time.Time{}, ActEnsure{Content: "srv2", Base: "srv1", Peer: "srv1", Yield: true}, VerdictYield},
		{"neither value since before the loss: a plain takeover", "elsewhere", time.Time{}, ActEnsure{Content: "srv2", Base: "elsewhere", Peer: "srv1", Yield: true}, VerdictWrite},
		{"no base: unconditional", "srv1", time.Time{}, ActEnsure{Content: "srv2", Peer: "srv1"}, VerdictWrite},
		{"the peer's value, edited before the link was lost: an outside edit, take it", "srv1", t0.Add(-time.Minute),
			sinceT0(ActEnsure{Content: "srv2", Base: "srv2", Peer: "srv1"}), VerdictWrite},
		{"the peer's value, written after the link was last good: the peer is alive", "srv1", t0.Add(time.Second),
			sinceT0(ActEnsure{Content: "srv2", Base: "srv2", Peer: "srv1"}), VerdictWithhold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(Record{Content: tt.current, Modified: tt.mod}, tt.a); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// flags of a peer keepalive.
func hbf(d time.Duration, flags byte) Event { return EvHeard{At: at(d), Flags: flags} }

func TestMachineExtensions(t *testing.T) {
	owner := testMachine(true)
	other := testMachine(false)
	active1 := FlagHealthy | FlagActive
	withCheck := testMachine(false)
	withCheck.PeerCheck = true
	withDrift := testMachine(true)
	withDrift.DriftInterval = 10 * sec
	withHandover := testMachine(true)
	withHandover.Handover = true

	// linkedWithRecord: srv2's view, linked, the record on srv1 (the peer
	// says so in its keepalives).
	active := FlagHealthy | FlagActive
	tests := []struct {
		name string
		c    *Config
		evs  []Event
		want []string
	}{
		{
			name: "write rule: the takeover carries what the record held when the link was up",
			c:    other,
			evs:  one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvLinkDown{At: at(3 * sec), Reason: "EOF"}),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield"},
		},
		{
			name: "health: the active peer unhealthy and this node healthy: take over at once, link up",
			c:    other,
			evs:  one(EvLinkUp{at(sec)}, hbf(2*sec, active), hbf(3*sec, FlagActive)),
			want: []string{"hook on_standby", "ensure#1 srv2"},
		},
		{
			name: "health: both unhealthy: no write, one alert",
			c:    other,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvHealth{At: at(2500 * time.Millisecond), Reason: "503"},
				hbf(3*sec, FlagActive), hbf(4*sec, FlagActive), hbf(5*sec, FlagActive)),
			want: []string{"hook on_standby", "push: [srv2] Both services unhealthy | Neither node passes its health check; 'www.example.com' stays on 'srv1'."},
		},
		{
			name: "health: the peer unhealthy while this node's last check failed: no move",
			c:    other,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvHealth{At: at(2500 * time.Millisecond), Healthy: true, Reason: "503"},
				hbf(3*sec, FlagActive), hbf(4*sec, FlagActive), EvTick{at(4500 * time.Millisecond)}),
			want: []string{"hook on_standby"},
		},
		{
			name: "health: the peer unhealthy; this node's failed check passes again: move",
			c:    other,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvHealth{At: at(2500 * time.Millisecond), Healthy: true, Reason: "503"},
				hbf(3*sec, FlagActive), hbf(4*sec, FlagActive), EvHealth{At: at(4500 * time.Millisecond), Healthy: true}),
			want: []string{"hook on_standby", "ensure#1 srv2"},
		},
		{
			name: "health: both die; this node's monitor notices second: no write, one alert",
			c:    other,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvHealth{At: at(2500 * time.Millisecond), Healthy: true, Reason: "503"},
				hbf(3*sec, FlagActive), EvHealth{At: at(3500 * time.Millisecond), Reason: "503"}, hbf(4*sec, FlagActive)),
			want: []string{"hook on_standby", "push: [srv2] Both services unhealthy | Neither node passes its health check; 'www.example.com' stays on 'srv1'."},
		},
		{
			name: "health: an unhealthy survivor does not take the record",
			c:    other,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvHealth{At: at(2500 * time.Millisecond), Reason: "503"},
				EvLinkDown{At: at(3 * sec), Reason: "EOF"}, EvTick{at(4 * sec)}, EvTick{at(5 * sec)}),
			want: []string{"hook on_standby", "hook on_peer_down", "push: [srv2] Server 'srv1' is now down (EOF), but this node is unhealthy | Not taking 'www.example.com': this node's service fails its health check (503)."},
		},
		{
			name: "health: an unhealthy survivor takes over once healthy again",
			c:    other,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvHealth{At: at(2500 * time.Millisecond), Reason: "503"},
				EvLinkDown{At: at(3 * sec), Reason: "EOF"}, EvHealth{At: at(4 * sec), Healthy: true}),
			want: []string{"hook on_standby", "hook on_peer_down", "push: [srv2] Server 'srv1' is now down (EOF), but this node is unhealthy | Not taking 'www.example.com': this node's service fails its health check (503).",
				"ensure#1 srv2 base=srv1 yield"},
		},
		{
			name: "health: the owner fails back only after failback_delay of its own health",
			c:    owner,
			evs: seq(one(EvLinkUp{at(sec)}, EvHealth{At: at(2 * sec), Reason: "503"}), beats(3*sec, 10*sec),
				one(EvHealth{At: at(10500 * time.Millisecond), Healthy: true}), beats(11*sec, 40*sec), one(hb(41*sec))),
			want: []string{"hook on_peer_up", "ensure#1 srv1"}, // at 41 s: 30 s after health came back, not 31 s after the link
		},
		{
			name: "guard: with peer_check, a serving peer is not taken over; one alert",
			c:    withCheck,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvLinkDown{At: at(3 * sec), Reason: "EOF"},
				EvProbe{At: at(3100 * time.Millisecond), Serving: true, Detail: "answers"},
				EvTick{at(4200 * time.Millisecond)}, EvProbe{At: at(4300 * time.Millisecond), Serving: true, Detail: "answers"}),
			want: []string{"hook on_standby", "hook on_peer_down", "probe",
				"push: [srv2] Link to 'srv1' down, peer still serving | Not taking 'www.example.com': the peer's service answers (answers). Probing it every 1s; this node takes over when it stops answering.",
				"probe"},
		},
		{
			name: "guard: with peer_check, a peer whose service fails is taken over",
			c:    withCheck,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvLinkDown{At: at(3 * sec), Reason: "EOF"},
				EvProbe{At: at(3100 * time.Millisecond), Detail: "connect: connection refused"}),
			want: []string{"hook on_standby", "hook on_peer_down", "probe", "ensure#1 srv2 base=srv1 yield"},
		},
		{
			name: "guard: a takeover that finds the peer's fresh write withholds and alerts once",
			c:    other,
			evs: one(EvLinkUp{at(sec)}, hbf(2*sec, active), EvLinkDown{At: at(3 * sec), Reason: "EOF"},
				EvDone{At: at(3100 * time.Millisecond), Job: 1, Content: "srv1", Withheld: true}),
			want: []string{"hook on_standby", "hook on_peer_down", "ensure#1 srv2 base=srv1 yield",
				"push: [srv2] Link to 'srv1' down, peer still serving | The peer took 'www.example.com' (now 'srv1') since the link was lost, so it is alive: not writing."},
		},
		{
			name: "handover: the active node asks, waits for the peer to hold the record, then exits",
			c:    withHandover,
			evs: one(EvLinkUp{at(sec)}, EvRead{At: at(sec), Record: Record{Content: "srv1"}}, hb(2*sec), EvStop{at(3 * sec)},
				hb(3100*time.Millisecond), hbf(3200*time.Millisecond, active)),
			want: []string{"hook on_active", "exit", "hook on_standby"},
		},
		{
			name: "handover: gives up after 5 s",
			c:    withHandover,
			evs: seq(one(EvLinkUp{at(sec)}, EvRead{At: at(sec), Record: Record{Content: "srv1"}}, EvStop{at(2 * sec)}), beats(2*sec, 6*sec),
				one(hb(7*sec))),
			want: []string{"hook on_active", "exit"},
		},
		{
			name: "handover: a standby node exits at once",
			c:    withHandover,
			evs:  one(EvLinkUp{at(sec)}, EvRead{At: at(sec), Record: Record{Content: "srv2"}}, EvStop{at(2 * sec)}),
			want: []string{"hook on_standby", "exit"},
		},
		{
			name: "handover: the peer takes the record while linked",
			c:    other,
			evs:  one(EvLinkUp{at(sec)}, hbf(2*sec, active|FlagHandover)),
			want: []string{"ensure#1 srv2", "hook on_standby"},
		},
		{
			name: "drift: neither node's value is corrected",
			c:    withDrift,
			evs: seq(one(EvLinkUp{at(sec)}, EvRead{At: at(sec), Record: Record{Content: "srv1"}}), beats(2*sec, 31*sec),
				one(EvDone{At: at(31100 * time.Millisecond), Job: 1, Content: "srv1"}), beats(32*sec, 40*sec),
				one(EvRead{At: at(40100 * time.Millisecond), Record: Record{Content: "10.0.0.9"}, Drift: true})),
			want: []string{"hook on_active", "hook on_peer_up", "ensure#1 srv1", "read", "ensure#2 srv1", "hook on_standby"},
		},
		{
			name: "drift: the other node's value while linked is reported, not corrected",
			c:    withDrift,
			evs: seq(one(EvLinkUp{at(sec)}, EvRead{At: at(sec), Record: Record{Content: "srv1"}}), beats(2*sec, 31*sec),
				one(EvDone{At: at(31100 * time.Millisecond), Job: 1, Content: "srv1"}), beats(32*sec, 40*sec),
				one(EvRead{At: at(40100 * time.Millisecond), Record: Record{Content: "srv2"}, Drift: true})),
			want: []string{"hook on_active", "hook on_peer_up", "ensure#1 srv1", "read",
				"push: [srv1] Record edited outside | 'www.example.com' now points to 'srv2', one of the pair: leaving it.",
				"hook on_standby"},
		},
		{
			name: "flapping: the record, taken by the peer in this episode, is not taken back on the next cut",
			c:    owner,
			evs: seq(one(EvLinkUp{at(sec)}, EvRead{At: at(sec), Record: Record{Content: "srv1"}}, EvLinkDown{At: at(2 * sec), Reason: "EOF"},
				EvDone{At: at(2100 * time.Millisecond), Job: 1, Content: "srv1"}, EvLinkUp{at(2500 * time.Millisecond)},
				hbf(3*sec, active1), EvLinkDown{At: at(3500 * time.Millisecond), Reason: "EOF"}, EvLinkUp{at(3600 * time.Millisecond)},
				hbf(4*sec, active1), EvLinkDown{At: at(4500 * time.Millisecond), Reason: "EOF"}),
				ticks(5*sec, 33*sec), one(EvTick{at(34600 * time.Millisecond)})),
			want: []string{"hook on_active", "hook on_peer_down", "ensure#1 srv1 base=srv1",
				"push: [srv1] Server 'srv2' is now down (EOF) | No record change is necessary",
				"hook on_standby", "ensure#2 srv1 base=srv2"}, // only after failback_delay of continuous loss
		},
		{
			name: "hooks: peer down and up, active and standby",
			c:    other,
			evs: seq(one(EvLinkUp{at(sec)}, EvRead{At: at(sec), Record: Record{Content: "srv1"}}, EvLinkDown{At: at(2 * sec), Reason: "EOF"},
				EvDone{At: at(2100 * time.Millisecond), Job: 1, Content: "srv2", Changed: true}, EvLinkUp{at(3 * sec)}),
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
func runAll(c *Config, evs ...Event) (State, []string) {
	s := NewState(t0, c)
	var out []string
	for _, ev := range evs {
		var acts []Action
		s, acts = Next(c, s, ev)
		for _, a := range acts {
			switch a := a.(type) {
			case ActEnsure:
				e := fmt.Sprintf("ensure#%d %s", a.Job, a.Content)
				if a.Base != "" {
					e += " base=" + a.Base
				}
				if a.Yield {
					e += " yield"
				}
				out = append(out, e)
			case ActCancel:
				out = append(out, "cancel")
			case ActClose:
				out = append(out, "close: "+a.Reason)
			case ActNotify:
				out = append(out, "push: "+a.Title+" | "+a.Body)
			case ActHook:
				out = append(out, "hook "+a.Event)
			case ActRead:
				out = append(out, "read")
			case ActProbe:
				out = append(out, "probe")
			case ActExit:
				out = append(out, "exit")
			}
		}
	}
	return s, out
}
