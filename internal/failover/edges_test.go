package failover

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// ensures runs evs from start and returns every job the machine starts.
func ensures(c *Config, evs ...Event) []ActEnsure {
	var out []ActEnsure
	for _, a := range actions(c, evs...) {
		if e, ok := a.(ActEnsure); ok {
			out = append(out, e)
		}
	}
	return out
}

// logMsgs runs evs from start and returns the messages of the log lines
// with the given event name.
func logMsgs(c *Config, event string, evs ...Event) []string {
	var msgs []string
	for _, a := range actions(c, evs...) {
		if l, ok := a.(ActLog); ok && l.Event == event {
			msgs = append(msgs, l.Msg)
		}
	}
	return msgs
}

// The node that is not preferred pauses peer_timeout + keepalive_interval
// + 1 s before it takes a record that points at neither node (a correction
// during a loss: a drift interval more).
func TestTiePauseLength(t *testing.T) {
	other := testMachine(false)
	drifting := with(testMachine(false), func(c *Config) { c.DriftInterval = 10 * sec })
	tests := []struct {
		name string
		c    *Config
		evs  []Event
		want string
	}{
		{"takeover", other, seq(linked(other, "srv1"), down(3*sec)), "WAIT 7s"},
		{"correction during a loss", drifting, seq(linked(drifting, "srv2"), down(3*sec), done(3100*ms, 1, "srv2", false),
			drift(4*sec, "elsewhere")), "WAIT 17s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs := ensures(tt.c, tt.evs...)
			if len(jobs) == 0 {
				t.Fatal("no job")
			}
			got := script{reads: []Record{{Content: "elsewhere"}, {Content: "elsewhere"}}}.run(NewEnsure(jobs[len(jobs)-1], lowest))
			if len(got) < 2 || got[1] != tt.want {
				t.Errorf("steps %q, want a pause %q after the first read", got, tt.want)
			}
		})
	}
}

// Linked, a read that shows the peer's value where this node knew its own,
// while the peer does not say it holds the record, is the peer's unasked
// takeover: the loss that follows keeps the record with the peer.
func TestUnaskedTakeoverSeenOnTheLink(t *testing.T) {
	c := testMachine(false)
	check(t, []machineCase{
		{
			name: "the peer's value read on the link, unannounced: the loss withholds",
			c:    c,
			evs:  seq(linked(c, "srv2"), hb(2*sec), read(2500*ms, "srv1"), down(3*sec)),
			want: []string{"hook on_active", "verify", "hook on_standby", "hook on_peer_down", peerTook},
		},
		{
			name: "the same value read again: nothing moved, the loss takes over",
			c:    c,
			evs:  seq(linked(c, "srv2"), hb(2*sec), read(2500*ms, "srv2"), down(3*sec)),
			want: []string{"hook on_active", "hook on_peer_down", "ensure#1 srv2 base=srv2 yield"},
		},
	})
}

// A read asked a second or more after this node's own write is a real
// answer, even if it shows what the write replaced; sooner, it is stale.
func TestStaleReadWindow(t *testing.T) {
	c := testMachine(true)
	start := seq(linked(c, "srv2"), actives(2*sec, 31*sec),
		EvDone{At: at(31100 * ms), Asked: at(31050 * ms), Job: 1, Content: "srv1", Changed: true, Replaced: "srv2"})
	for _, tt := range []struct {
		asked time.Duration
		want  string
	}{
		{32099 * ms, "srv1"}, // within StaleReads of the write: ignored
		{32100 * ms, "srv2"}, // StaleReads after it: learned
	} {
		s, _ := run(c, seq(start, EvRead{At: at(32200 * ms), Asked: at(tt.asked), Record: Record{Content: "srv2"}, Verify: true})...)
		if got := s.View(c).Record; got != tt.want {
			t.Errorf("read asked %s after the write: /status shows %q, want %q", at(tt.asked).Sub(at(31100*ms)), got, tt.want)
		}
	}
}

// While linked, the owner's drift check that finds a value it cannot place
// (the peer's value not configured) says how to fix the configuration; a
// node's known value gets the plain message.
func TestDriftValidMessage(t *testing.T) {
	unknown := with(testMachine(true), func(c *Config) {
		c.ThisValue, c.Preferred, c.OtherValue, c.OtherKnown = "192.0.2.1", "192.0.2.1", "srv2", false
	})
	known := testMachine(true)
	const mayBe = "record holds a value that may be the peer's; leaving it (set the peer's value in the configuration)"
	const plain = "record changed outside to a valid value; leaving it"
	for _, tt := range []struct {
		name    string
		c       *Config
		start   string
		content string
		want    string
	}{
		{"an unknown peer: a value not this node's may be the peer's", unknown, "192.0.2.1", "192.0.2.9", mayBe},
		{"a configured peer: its value", known, "srv1", "srv2", plain},
	} {
		got := logMsgs(tt.c, LogDriftValid, seq(up(100*ms), read(150*ms, tt.start), hb(sec), drift(2*sec, tt.content))...)
		if !reflect.DeepEqual(got, []string{tt.want}) {
			t.Errorf("%s: logged %q, want %q", tt.name, got, tt.want)
		}
	}
}

// A node's keepalives say it holds the record while its own write is under
// way, until that write's outcome is known; an outcome of another job does
// not end it.
func TestActiveFlagWhileWriting(t *testing.T) {
	c := testMachine(false)
	sick := FlagActive
	// A health move, dropped, then another (job 2) that starts its write.
	start := seq(linked(c, "srv1"), hbf(3*sec, sick), active(3200*ms), hbf(8100*ms, sick),
		EvWriting{At: at(8200 * ms), Job: 2, Content: "srv2"})
	for _, tt := range []struct {
		name   string
		ev     Event
		active bool
	}{
		{"the write fails", EvAttempt{At: at(8300 * ms), Job: 2, Err: "503"}, false},
		{"the conditional write loses", EvConflict{At: at(8300 * ms), Job: 2, Judged: "srv1", Err: "NXRRSET"}, false},
		{"the dropped job's conditional write loses", EvConflict{At: at(8300 * ms), Job: 1, Judged: "srv1", Err: "NXRRSET"}, true},
		{"the dropped job's attempt fails", EvAttempt{At: at(8300 * ms), Job: 1, Err: "503"}, true},
		{"the dropped job ends", EvDone{At: at(8300 * ms), Asked: at(8250 * ms), Job: 1, Purpose: HealthMove, Content: "srv1"}, true},
	} {
		s, got := run(c, seq(start, tt.ev)...)
		if !slicesContain(got, "ensure#2 srv2") {
			t.Fatalf("%s: no second move: %q", tt.name, got)
		}
		if active := s.Flags(c)&FlagActive != 0; active != tt.active {
			t.Errorf("%s: keepalive says active %v, want %v", tt.name, active, tt.active)
		}
	}
}

// Having taken the record on evidence, a node whose next check finds the
// peer's value back does not write again (both see the other's service
// gone): it alerts that the record is contested.
func TestEvidenceTakeoverContested(t *testing.T) {
	c := with(testMachine(false), func(c *Config) { c.PeerCheck = true })
	s := NewState(t0, c)
	var got []string
	feedTimed(c, &s, &got, linked(c, "srv1")...)
	feedTimed(c, &s, &got, down(3*sec), probe(3100*ms, false), done(3200*ms, 1, "srv2", true))
	var watch *ActEnsure
	for d := 4 * sec; d <= 14*sec && watch == nil; d += sec {
		var acts []Action
		s, acts = Next(c, s, tick(d))
		for _, a := range acts {
			if e, ok := a.(ActEnsure); ok {
				watch = &e
			}
		}
	}
	if watch == nil {
		t.Fatal("no watch of the record after the evidence takeover")
	}
	steps := script{reads: []Record{{Content: "srv1"}}}.run(NewEnsure(*watch, lowest))
	if want := `done "srv1" changed=false withheld=true missing=false refused=false`; steps[len(steps)-1] != want {
		t.Fatalf("the watch's check over the peer's value: %q, want it withheld", steps)
	}
	got = nil
	feedTimed(c, &s, &got, withheld(14100*ms, watch.Job, "srv1"))
	want := []string{"push withheld: [srv2] Link to 'srv1' down; the peer keeps taking the record | 'www.example.com' points to 'srv1' again although the peer's service does not answer from here, so the peer's clooster runs and sees this node's service gone too: not writing again until the link is back. Check the network between the two nodes.@14.1s",
		"hook on_standby@14.1s"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("actions:\ngot  %q\nwant %q", got, want)
	}
}

// After this node's own takeover held the record, the peer's value seen
// again (here when the record comes back after a deletion) is the peer's
// write: a brief relink and loss leave the record with it.
func TestPeerValueAfterOwnTakeoverIsThePeers(t *testing.T) {
	c := testMachine(false)
	_, got := run(c, seq(linked(c, "srv1"), down(3*sec), done(3100*ms, 1, "srv2", true),
		missing(4*sec), read(5*sec, "srv1"), up(6*sec), down(7*sec))...)
	for _, g := range got {
		if strings.HasPrefix(g, "ensure#2") {
			t.Errorf("took the record back from a peer that wrote it in this episode: %q", got)
		}
	}
	if !slicesContain(got, peerTook) {
		t.Errorf("no alert that the peer took the record: %q", got)
	}
}

// A failback held over the peer's unannounced write is tried again
// peer_timeout + keepalive_interval later (here 6 s, more than the 5 s
// pacing), not sooner.
func TestFailbackHeldRetryDelay(t *testing.T) {
	c, s, got := failbackAgainAt62s()
	if !slicesContain(got, "ensure#2 srv1 base=@1m2s") {
		t.Fatalf("no conditional failback at 62s:\n%q", got)
	}
	retry := logDuration(c, &s, LogFailbackHeld, "retry_in",
		EvDone{At: at(62100 * ms), Asked: at(62050 * ms), Job: 2, Content: "srv2", Purpose: Failback, Withheld: true})
	if retry != 6*sec {
		t.Errorf("failback held: retry_in %v, want 6s", retry)
	}
	feedTimed(c, &s, &got, verified(62200*ms, "srv2")) // the read the held failback asked
	answered := strings.Count(strings.Join(got, " "), "verify@")
	for d := 63 * sec; d <= 70*sec; d += 500 * ms {
		if asked := strings.Count(strings.Join(got, " "), "verify@"); asked > answered {
			answered = asked
			feedTimed(c, &s, &got, verified(d+100*ms, "srv2"))
		}
		feedTimed(c, &s, &got, hb(d+200*ms))
	}
	var third string
	for _, g := range got {
		if strings.HasPrefix(g, "ensure#3 ") {
			third = g
			break
		}
	}
	if third != "ensure#3 srv1@1m8.2s" {
		t.Errorf("failback after the hold: %q, want at 68.2s (the first keepalive 6 s after 62.1s):\n%q", third, got)
	}
}

// logDuration feeds ev to s and returns the attribute key of the first log
// line named event, as a duration.
func logDuration(c *Config, s *State, event, key string, ev Event) time.Duration {
	var acts []Action
	*s, acts = Next(c, *s, ev)
	for _, a := range acts {
		if l, ok := a.(ActLog); ok && l.Event == event {
			for i := 0; i+1 < len(l.Attrs); i += 2 {
				if l.Attrs[i] == key {
					d, _ := l.Attrs[i+1].(time.Duration)
					return d
				}
			}
		}
	}
	return -1
}

// /status stops showing "unhealthy" as the reason for withholding once the
// survivor is healthy again and takes over.
func TestGuardClearedWhenHealthyAgain(t *testing.T) {
	c := testMachine(false)
	s, got := run(c, seq(linked(c, "srv1"), unhealthy(2500*ms, "503"), down(3*sec), tick(4*sec))...)
	if g := s.View(c).Guard; g != GuardUnhealthy {
		t.Fatalf("unhealthy survivor: guard %q, want %q (%q)", g, GuardUnhealthy, got)
	}
	s, _ = Next(c, s, healthy(5*sec))
	if v := s.View(c); v.Guard != "" || v.Job == nil || v.Job.Purpose != Takeover {
		t.Errorf("healthy again: guard %q, job %+v; want no guard and the takeover", v.Guard, v.Job)
	}
}

// Once the peer is up, both services unhealthy alert once, not at every
// keepalive.
func TestBothUnhealthyOnceWhenSettled(t *testing.T) {
	c := testMachine(false)
	sick := func(d time.Duration) Event { return hbf(d, FlagActive) }
	_, got := run(c, seq(linked(c, "srv1"), actives(2*sec, 31*sec), unhealthy(31500*ms, "503"), every(32*sec, 36*sec, sick))...)
	if !slicesContain(got, "hook on_peer_up") {
		t.Fatalf("the peer never came up: %q", got)
	}
	if n := strings.Count(strings.Join(got, "\n"), bothUnhealthy); n != 1 {
		t.Errorf("both unhealthy: %d alerts, want 1:\n%q", n, got)
	}
}

// The peer is declared up, and the owner fails back, on a turn of the loop
// up to two keepalive intervals after the last frame; later, the link is
// falling silent and neither happens.
func TestUpAndFailbackOnAQuietTurn(t *testing.T) {
	other, owner := testMachine(false), testMachine(true)
	check(t, []machineCase{
		{
			name: "two intervals after the last keepalive: the peer is up",
			c:    other,
			evs:  seq(linked(other, "srv1"), actives(2*sec, 29*sec), tick(31*sec)),
			want: []string{"hook on_standby", "hook on_peer_up"},
		},
		{
			name: "two intervals after the last keepalive: the owner fails back",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 29*sec), tick(31*sec)),
			want: []string{"hook on_standby", "hook on_peer_up", "ensure#1 srv1"},
		},
		{
			name: "a half second more: neither",
			c:    owner,
			evs:  seq(linked(owner, "srv2"), actives(2*sec, 29*sec), tick(31500*ms)),
			want: []string{"hook on_standby"},
		},
	})
}

// A handover that already moves the record to the preferred value is the
// failback: no second job.
func TestFailbackJoinsARunningHandover(t *testing.T) {
	c := testMachine(true)
	stopping := func(d time.Duration) Event { return hbf(d, FlagHealthy|FlagActive|FlagHandover) }
	check(t, []machineCase{{
		name: "the peer hands over as the failback falls due",
		c:    c,
		evs:  seq(linked(c, "srv2"), actives(2*sec, 29*sec), stopping(30*sec), stopping(31*sec)),
		want: []string{"hook on_standby", "ensure#1 srv1", "hook on_peer_up"},
	}})
}

// With the record missing, a peer that says it holds the record is checked
// by a read.
func TestVerifyWhileMissing(t *testing.T) {
	c := testMachine(false)
	check(t, []machineCase{
		{
			name: "the peer claims it",
			c:    c,
			evs:  seq(linked(c, "srv1"), missing(2*sec), active(3*sec), active(4*sec)),
			want: []string{"hook on_standby", strings.Replace(recordMissing, "[srv1]", "[srv2]", 1), "verify"},
		},
	})
}

// Hole: a peer that said for seconds on end that it does not hold the
// record was taken at its word only as of this node's last read. An
// operator's edit to the peer's value in a steady pair (no read of this
// node's since) then looked like the peer's takeover once the peer died:
// the survivor withheld, and the record stayed on the dead node.
func TestEditBeforeLossIsNotThePeers(t *testing.T) {
	c := testMachine(true) // PeerTimeout 5 s
	edit := Record{Content: "srv2", Modified: at(12 * sec)}
	for _, tt := range []struct {
		name      string
		quiet     time.Duration // the last keepalive before the loss
		wantTaken bool
	}{
		// The peer said "not mine" from 1 s to 20 s: a peer_timeout and
		// more after the link came up, so as of 20 s.
		{"said for long enough", 20 * sec, true},
		// From 1 s to 4 s only: as of this node's read at 150 ms, before
		// the edit, which may then be the peer's write.
		{"said too briefly", 4 * sec, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState(t0, c)
			var acts []Action
			for _, ev := range seq(linked(c, "srv1"), beats(2*sec, tt.quiet), down(tt.quiet+sec)) {
				s, acts = Next(c, s, ev)
			}
			var job ActEnsure
			for _, a := range acts {
				if e, ok := a.(ActEnsure); ok {
					job = e
				}
			}
			if job.Job == 0 {
				t.Fatalf("no takeover job at the loss: %v", acts)
			}
			if taken := !job.peerWrote(edit, at(tt.quiet+sec)); taken != tt.wantTaken {
				t.Errorf("edit at 12s, since %v: taken %v, want %v", job.Since.Sub(t0), taken, tt.wantTaken)
			}
			_, acts = Next(c, s, EvSeen{At: at(tt.quiet + sec + 50*ms), Asked: at(tt.quiet + sec), Record: edit})
			var withheld bool
			for _, a := range acts {
				if l, ok := a.(ActLog); ok && l.Event == LogPeerTook {
					withheld = true
				}
			}
			if withheld == tt.wantTaken {
				t.Errorf("the read of the edit: peer_took_record %v, want %v", withheld, !tt.wantTaken)
			}
		})
	}
}
