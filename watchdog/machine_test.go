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
		ThisValue: "srv2", Preferred: "srv1",
		PeerTimeout: 5 * sec, FailbackDelay: 30 * sec, Keepalive: sec,
	}
	if owner {
		c.This, c.Other, c.ThisValue = "srv1", "srv2", "srv1"
		c.FailbackOwner = true
	}
	return c
}

// run feeds events to a fresh state started at t0 and collects the
// interesting actions (logs left out), each as a short string.
func run(c *machineConfig, evs ...event) (state, []string) {
	s := newState(t0)
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

// beats returns a keepalive every second from..to inclusive: a live link.
func beats(from, to time.Duration) []event {
	var evs []event
	for d := from; d <= to; d += sec {
		evs = append(evs, evHeard{at(d)})
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
			evs:  seq(one(evLinkUp{at(sec)}, evHeard{at(2 * sec)}), ticks(3*sec, 7*sec)),
			want: []string{"close: ping timeout (nothing heard for 5s)", "ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: keepalives keep the link up",
			evs: seq(one(evLinkUp{at(sec)}), func() []event {
				var e []event
				for d := 2 * sec; d < 60*sec; d += sec {
					e = append(e, evHeard{at(d)}, evTick{at(d + 500*time.Millisecond)})
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
			evs: one(evLinkUp{at(sec)}, evHeard{at(2 * sec)},
				// Nothing for 20 s: this node was stopped. The peer closed
				// the link meanwhile.
				evLinkDown{at: at(22 * sec), reason: "connection lost: EOF"},
				evTick{at(23 * sec)}, evLinkUp{at(24 * sec)}, evTick{at(25 * sec)}),
			peer: PeerUp,
		},
		{
			name: "rule 3: after a freeze, a peer that does not come back is down",
			evs: seq(one(evLinkUp{at(sec)}, evHeard{at(2 * sec)},
				evLinkDown{at: at(22 * sec), reason: "connection lost: EOF"}), ticks(23*sec, 27*sec)),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: a peer that closes the link for our silence is alive: wait for the link",
			evs: one(evLinkUp{at(sec)}, evHeard{at(2 * sec)},
				evLinkDown{at: at(2500 * time.Millisecond), reason: "peer closed the link: ping timeout", peerAlive: true},
				evTick{at(3 * sec)}, evTick{at(4 * sec)}, evLinkUp{at(4500 * time.Millisecond)}, evTick{at(8 * sec)}),
			peer: PeerUp,
		},
		{
			name: "rule 3: a live peer that does not come back within peer_timeout is down",
			evs: seq(one(evLinkUp{at(sec)}, evHeard{at(2 * sec)},
				evLinkDown{at: at(2500 * time.Millisecond), reason: "peer closed the link: ping timeout", peerAlive: true}),
				ticks(3*sec, 7*sec), one(evTick{at(7500 * time.Millisecond)})),
			want: []string{"ensure#1 srv2"},
			peer: PeerDown,
		},
		{
			name: "rule 3: a freeze a keepalive short of peer_timeout already counts",
			evs: one(evLinkUp{at(sec)}, evHeard{at(2 * sec)},
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
	s := newState(t0)
	if got, want := s.deadline(c), at(5*sec); !got.Equal(want) {
		t.Errorf("start: got %v, want %v", got, want)
	}
	s, _ = next(c, s, evLinkUp{at(sec)})
	if got, want := s.deadline(c), at(6*sec); !got.Equal(want) {
		t.Errorf("linked: got %v, want %v", got, want)
	}
	s, _ = next(c, s, evHeard{at(4 * sec)})
	if got, want := s.deadline(c), at(9*sec); !got.Equal(want) {
		t.Errorf("heard: got %v, want %v", got, want)
	}
}

func TestMachineLogsHaveEventNames(t *testing.T) {
	c := testMachine(false)
	s := newState(t0)
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
