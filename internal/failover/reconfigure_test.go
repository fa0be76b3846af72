package failover

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/agree"
)

// loopRun feeds events to a loop started at t0, reconfigurations
// included, and collects its actions as run does; the loop is returned
// for what it shows.
func loopRun(c *Config, evs ...Event) (*Loop, []string) {
	l := NewLoop(c, t0)
	var out []string
	for _, ev := range evs {
		acts, _ := l.Apply(ev)
		for _, a := range acts {
			if str := show(a); str != "" {
				out = append(out, str)
			}
		}
	}
	return l, out
}

// loopLogs are the events of the log lines of a loopRun.
func loopLogs(c *Config, evs ...Event) []string {
	l := NewLoop(c, t0)
	var out []string
	for _, ev := range evs {
		acts, _ := l.Apply(ev)
		for _, a := range acts {
			if lg, ok := a.(ActLog); ok {
				out = append(out, lg.Event)
			}
		}
	}
	return out
}

// reconf is a reload at d to c's configuration changed by f.
func reconf(d time.Duration, c *Config, f func(*Config)) Event {
	n := *c
	f(&n)
	return EvReconfigure{At: at(d), Config: n}
}

func TestReconfigureTimings(t *testing.T) {
	other, owner := testMachine(false), testMachine(true)
	delay := func(d time.Duration) func(*Config) { return func(c *Config) { c.FailbackDelay = d } }
	timeout := func(d time.Duration) func(*Config) { return func(c *Config) { c.PeerTimeout = d } }
	ping := func(silence string) string { return "close: ping timeout (nothing heard for " + silence + ")" }
	takeover := []string{"hook on_peer_down", "ensure#1 srv2 base=srv1 yield"}
	for _, tc := range []struct {
		name string
		c    *Config
		evs  []Event
		want []string
	}{
		{
			name: "a shorter failback_delay shortens the failback under way",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 9*sec), reconf(10*sec, owner, delay(15*sec)), actives(11*sec, 16*sec)),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1"},
		},
		{
			name: "not before the new delay",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 9*sec), reconf(10*sec, owner, delay(15*sec)), actives(11*sec, 15*sec)),
			want: []string{"hook on_standby"},
		},
		{
			name: "a failback_delay shorter than the link has held fails back at once",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 19*sec), reconf(20*sec, owner, delay(5*sec))),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1"},
		},
		{
			name: "a longer failback_delay puts the failback off",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 9*sec), reconf(10*sec, owner, delay(45*sec)), actives(11*sec, 45*sec)),
			want: []string{"hook on_standby"},
		},
		{
			name: "a longer failback_delay, when it has passed",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 9*sec), reconf(10*sec, owner, delay(45*sec)), actives(11*sec, 46*sec)),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1"},
		},
		{
			name: "a shorter peer_timeout ends a silence already longer than it",
			c:    other,
			evs:  seq(linked(other, "srv1"), actives(2*sec, 5*sec), tick(6*sec), reconf(6500*ms, other, timeout(1500*ms))),
			want: append([]string{"hook on_standby", ping("1.5s")}, takeover...),
		},
		{
			name: "a shorter peer_timeout, the silence not yet as long",
			c:    other,
			evs:  seq(linked(other, "srv1"), actives(2*sec, 5*sec), reconf(5500*ms, other, timeout(2*sec)), tick(6*sec), tick(7*sec)),
			want: append([]string{"hook on_standby", ping("2s")}, takeover...),
		},
		{
			name: "a longer peer_timeout waits longer for the silence",
			c:    other,
			evs:  seq(linked(other, "srv1"), actives(2*sec, 5*sec), reconf(6*sec, other, timeout(8*sec)), ticks(7*sec, 12*sec)),
			want: []string{"hook on_standby"},
		},
		{
			name: "a longer peer_timeout, past",
			c:    other,
			evs:  seq(linked(other, "srv1"), actives(2*sec, 5*sec), reconf(6*sec, other, timeout(8*sec)), ticks(7*sec, 13*sec)),
			want: append([]string{"hook on_standby", ping("8s")}, takeover...),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := loopRun(tc.c, tc.evs...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("actions:\ngot  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// A peer_check taken out while its probe holds off a takeover: the
// takeover goes on, awaiting no answer.
func TestReconfigurePeerCheckOff(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	_, got := loopRun(c, seq(linked(c, "srv1"), actives(2*sec, 5*sec), ticks(6*sec, 11*sec),
		reconf(12*sec, c, func(c *Config) { c.PeerCheck = false }), EvProbe{At: at(12500 * ms), Serving: true, Detail: "late"})...)
	want := []string{"hook on_standby", "close: ping timeout (nothing heard for 5s)", "hook on_peer_down", "probe", "ensure#1 srv2 base=srv1 yield"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions:\ngot  %q\nwant %q", got, want)
	}
}

// A reload to shorter timings is no freeze: the gap since the last turn
// is judged by the timings it passed under.
func TestReconfigureIsNoFreeze(t *testing.T) {
	c := testMachine(false)
	logs := loopLogs(c, seq(linked(c, "srv1"), actives(2*sec, 5*sec),
		reconf(7*sec, c, func(c *Config) { c.Keepalive, c.PeerTimeout = 250*ms, 2500*ms }), active(7100*ms))...)
	if slices.Contains(logs, LogFrozen) {
		t.Errorf("got logs %q, want no %s", logs, LogFrozen)
	}
}

func TestReconfigureDrift(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to time.Duration // drift_check_interval
		at       time.Duration // of the reload
		want     time.Duration // the next check; 0 none
	}{
		{"shorter: from the last check", 5 * time.Minute, 2 * time.Minute, time.Minute, 2 * time.Minute},
		{"shorter than the time since: at once, the next an interval later", 5 * time.Minute, 30 * sec, time.Minute, time.Minute + 30*sec},
		{"longer", 5 * time.Minute, 10 * time.Minute, time.Minute, 10 * time.Minute},
		{"turned on", 0, time.Minute, time.Minute, 2 * time.Minute},
		{"turned off", 5 * time.Minute, 0, time.Minute, 0},
		{"unchanged", 5 * time.Minute, 5 * time.Minute, time.Minute, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := with(testMachine(false), func(c *Config) { c.DriftInterval = tc.from })
			l, _ := loopRun(c, tick(50*ms), read(100*ms, "srv1"), reconf(tc.at, c, func(c *Config) { c.DriftInterval = tc.to }))
			var got time.Duration
			if l.C.DriftInterval > 0 {
				got = l.S.driftNext.Sub(t0)
			}
			if got != tc.want {
				t.Errorf("next drift check at %v, want %v", got, tc.want)
			}
		})
	}
}

// setMachine is the single record of testMachine, to become a set of two:
// www.example.com kept, an A record added.
func setMachine(owner bool) (running, next *Config, from []int) {
	running = testMachine(owner)
	n := *running
	this, peer := "192.0.2.2", "192.0.2.1"
	if owner {
		this, peer = peer, this
	}
	n.ThisValue += PartSep + this
	n.OtherValue += PartSep + peer
	n.Preferred += PartSep + "192.0.2.1"
	n.Record += ", www.example.com A"
	return running, &n, []int{0, -1}
}

func TestPlanSet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		owner     bool
		evs       []Event
		unknown   bool // the peer's value in the new file is not known
		want      []string
		wantLeave string
	}{
		{name: "the set points here: this node's value", owner: true, evs: linked(testMachine(true), "srv1"), want: []string{"", "192.0.2.1"}},
		{name: "the set points at the peer: its value", owner: true, evs: linked(testMachine(true), "srv2"), want: []string{"", "192.0.2.2"}},
		{name: "the peer's value not known: left", owner: true, evs: linked(testMachine(true), "srv2"), unknown: true,
			want: []string{"", ""}, wantLeave: "whose value of the records added is not known"},
		{name: "neither node's: left", evs: seq(linked(testMachine(false), "srv1"), verified(2*sec, "elsewhere.example.net")),
			want: []string{"", ""}, wantLeave: "neither node"},
		{name: "not known yet: left", evs: []Event{tick(100 * ms)}, want: []string{"", ""}, wantLeave: "not known"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			running, next, from := setMachine(tc.owner)
			if tc.unknown {
				next.OtherKnown = false
			}
			l, _ := loopRun(running, tc.evs...)
			p := l.PlanSet(next, from)
			if !slices.Equal(p.Want, tc.want) {
				t.Errorf("want %q, expected %q", p.Want, tc.want)
			}
			if tc.wantLeave == "" && p.Leave != "" || !strings.Contains(p.Leave, tc.wantLeave) {
				t.Errorf("leave %q, want %q", p.Leave, tc.wantLeave)
			}
			if p.Base != l.S.rec.content || !p.BaseAt.Equal(l.S.rec.at) {
				t.Errorf("base %q at %v, want what the loop knows", p.Base, p.BaseAt)
			}
		})
	}
}

func TestReconfigureSet(t *testing.T) {
	type want struct {
		applied   bool
		record    string // what the loop knows the set holds
		thisValue string
		active    bool
		acts      []string
	}
	for _, tc := range []struct {
		name  string
		owner bool
		evs   []Event // before the reload at 10 s
		// change changes the plan's SetChange before it is applied.
		change func(ch *SetChange)
		want   want
	}{
		{name: "the set points here: the added record with it", owner: true, evs: seq(linked(testMachine(true), "srv1"), beats(2*sec, 9*sec)),
			want: want{applied: true, record: "srv1, 192.0.2.1", thisValue: "srv1, 192.0.2.1", active: true}},
		{name: "the set points at the peer", owner: true, evs: seq(linked(testMachine(true), "srv2"), actives(2*sec, 9*sec)),
			want: want{applied: true, record: "srv2, 192.0.2.2", thisValue: "srv1, 192.0.2.1"}},
		{name: "the record kept no longer holds what the loop knew: the loop reads", owner: true,
			evs:    seq(linked(testMachine(true), "srv1"), beats(2*sec, 9*sec)),
			change: func(ch *SetChange) { ch.Content = "" },
			want:   want{applied: true, record: "", thisValue: "srv1, 192.0.2.1", acts: []string{"look"}}},
		{name: "the loop learned something since the plan: not applied", owner: true,
			evs:    seq(linked(testMachine(true), "srv1"), beats(2*sec, 9*sec)),
			change: func(ch *SetChange) { ch.BaseAt = ch.BaseAt.Add(-time.Second) },
			want:   want{record: "srv1", thisValue: "srv1", active: true}},
		{name: "a job under way: not applied", owner: false,
			evs:  seq(linked(testMachine(false), "srv1"), actives(2*sec, 5*sec), ticks(6*sec, 9*sec)),
			want: want{record: "srv1", thisValue: "srv2", acts: []string{"close: ping timeout (nothing heard for 5s)", "ensure#1 srv2 base=srv1 yield"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			running, next, from := setMachine(tc.owner)
			l, _ := loopRun(running, tc.evs...)
			p := l.PlanSet(next, from)
			content := ""
			if parts := parts(p.Base, 1); parts != nil {
				content = p.Base + PartSep + p.Want[1]
			}
			ch := SetChange{From: from, Base: p.Base, BaseAt: p.BaseAt, Content: content, Asked: at(9500 * ms)}
			if tc.change != nil {
				tc.change(&ch)
			}
			acts, _, applied := l.Reconfigure(EvReconfigure{At: at(10 * sec), Config: *next, Set: &ch})
			var got []string
			for _, a := range acts {
				if s := show(a); s != "" && !strings.HasPrefix(s, "hook") {
					got = append(got, s)
				}
			}
			v := l.S.View(l.C)
			if applied != tc.want.applied {
				t.Errorf("applied %v, want %v", applied, tc.want.applied)
			}
			if v.Record != tc.want.record || l.C.ThisValue != tc.want.thisValue || v.Active != tc.want.active {
				t.Errorf("got record %q, this value %q, active %v; want %q, %q, %v",
					v.Record, l.C.ThisValue, v.Active, tc.want.record, tc.want.thisValue, tc.want.active)
			}
			if !slices.Equal(got, tc.want.acts) {
				t.Errorf("actions %q, want %q", got, tc.want.acts)
			}
			if applied && l.S.peerValue != next.OtherValue {
				t.Errorf("peer value %q, want the new set's %q", l.S.peerValue, next.OtherValue)
			}
		})
	}
}

// What a node remembers of the running set is said in the new set's terms.
func TestReconfigureSetMovesMemory(t *testing.T) {
	running, next, from := setMachine(false)
	// srv2 took the set during a loss: the episode began with srv1's
	// value, its write replaced it.
	l, _ := loopRun(running, seq(tick(50*ms), read(100*ms, "srv1"), ticks(sec, 5*sec),
		EvWriting{At: at(5100 * ms), Job: 1, Content: "srv2"},
		EvDone{At: at(5200 * ms), Asked: at(5000 * ms), Job: 1, Content: "srv2", Replaced: "srv1", Changed: true, Purpose: Takeover})...)
	if !l.Idle() {
		t.Fatalf("the loop is not idle: job %v", l.S.job)
	}
	p := l.PlanSet(next, from)
	if !slices.Equal(p.Want, []string{"", "192.0.2.2"}) {
		t.Fatalf("plan %q", p.Want)
	}
	_, _, applied := l.Reconfigure(EvReconfigure{At: at(6 * sec), Config: *next,
		Set: &SetChange{From: from, Base: p.Base, BaseAt: p.BaseAt, Content: "srv2, 192.0.2.2", Asked: at(5900 * ms)}})
	if !applied {
		t.Fatal("not applied")
	}
	for _, tc := range []struct{ name, got, want string }{
		{"the episode's first", l.S.ep.first, "srv1, 192.0.2.1"},
		{"this node's write", l.S.wrote, "srv2, 192.0.2.2"},
		{"what it replaced", l.S.replaced, "srv1, 192.0.2.1"},
		{"what it knows", l.S.rec.content, "srv2, 192.0.2.2"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// A peer reloaded sends its INFO again on the link: its settings are
// compared anew, raised and cleared; its value is not taken again.
func TestInfoAgain(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.OtherKnown = false })
	differ := []agree.Difference{{Field: "peer_timeout", A: "5s", B: "12s", What: "more than 2 times apart"}}
	logs := loopLogs(c, seq(up(100*ms), EvInfo{At: at(200 * ms), Value: "srv1"}, read(300*ms, "srv1"), actives(sec, 3*sec),
		EvInfo{At: at(4 * sec), Value: "srv1-renamed", Differences: differ}, active(5*sec),
		EvInfo{At: at(6 * sec), Value: "srv1"})...)
	var problems []string
	for _, e := range logs {
		if e == ProblemSettings || e == LogProblemCleared {
			problems = append(problems, e)
		}
	}
	if want := []string{ProblemSettings, LogProblemCleared}; !slices.Equal(problems, want) {
		t.Errorf("got %q, want %q", problems, want)
	}
	l, _ := loopRun(c, seq(up(100*ms), EvInfo{At: at(200 * ms), Value: "srv1"}, EvInfo{At: at(4 * sec), Value: "srv1-renamed"})...)
	if l.S.peerValue != "srv1" {
		t.Errorf("peer value %q, want the link's first word, srv1", l.S.peerValue)
	}
}

// peer_check taken out clears the guard it set, and no other.
func TestReconfigurePeerCheckOffGuard(t *testing.T) {
	old := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	c := testMachine(false)
	for _, tt := range []struct{ guard, want string }{
		{GuardPeerServing, guardNone},
		{GuardUnhealthy, GuardUnhealthy},
		{GuardPeerTookIt, GuardPeerTookIt},
	} {
		s := NewState(t0, old)
		s.guard = tt.guard
		s.rearm(old, c, at(sec))
		if s.guard != tt.want {
			t.Errorf("guard %q, peer_check taken out: got %q, want %q", tt.guard, s.guard, tt.want)
		}
	}
}
