package failover

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/agree"
)

func problemEv(d time.Duration, kind, what string) Event {
	return EvProblem{At: at(d), Kind: kind, What: what, Hint: "fix it"}
}

// pushesOf counts the pushes of got whose title has s.
func pushesOf(got []string, s string) int {
	n := 0
	for _, g := range got {
		if strings.HasPrefix(g, "push mismatch: ") && strings.Contains(g, s) {
			n++
		}
	}
	return n
}

// A problem the handshake shows is said once however often it repeats,
// logged at ERROR with its kind as the event, shown in the view, and
// ended by an authenticated link; said again if it comes back after.
func TestProblemOncePerEpisode(t *testing.T) {
	c := testMachine(true)
	var evs []Event
	for d := 100 * ms; d < 20*sec; d += 300 * ms {
		evs = append(evs, problemEv(d, ProblemKey, "\"srv2\" answers, but its proof does not match"))
	}
	s, got := run(c, evs...)
	if n := pushesOf(got, "[srv1] 'srv2' answers, but our keys differ"); n != 1 {
		t.Errorf("%d pushes over 66 attempts, want 1:\n%q", n, got)
	}
	v := s.View(c)
	if len(v.Problems) != 1 || v.Problems[0].Kind != ProblemKey || !v.Problems[0].Since.Equal(at(100*ms)) || v.Problems[0].Hint != "fix it" {
		t.Errorf("view %+v", v.Problems)
	}
	if l := logs(c, evs[:3]...); !slicesContain(l, ProblemKey) {
		t.Errorf("logs %q lack %s", l, ProblemKey)
	}
	// A level ERROR line, with the peer and what was seen.
	for _, a := range actions(c, evs[0]) {
		if l, ok := a.(ActLog); ok && l.Event == ProblemKey && l.Level.String() != "ERROR" {
			t.Errorf("logged at %s", l.Level)
		}
	}
	// The link comes up: gone, and logged so; a new episode is said again.
	s2, got2 := run(c, append(append([]Event{}, evs[:2]...), up(sec), hb(1100*ms), down(2*sec), problemEv(3*sec, ProblemKey, "again"))...)
	if n := pushesOf(got2, "our keys differ"); n != 2 {
		t.Errorf("%d pushes, want 2 (one per episode):\n%q", n, got2)
	}
	if l := logs(c, evs[0], up(sec)); !slicesContain(l, LogProblemCleared) {
		t.Errorf("logs %q lack %s", l, LogProblemCleared)
	}
	if v := s2.View(c); len(v.Problems) != 1 || v.Problems[0].What != "again" {
		t.Errorf("view after the second episode %+v", v.Problems)
	}
}

// While the link is up, a handshake problem is stale (a stranger's
// connection, or one from before the link): not said. Unknown kinds are
// ignored; an empty text clears.
func TestProblemIgnoredWhileLinked(t *testing.T) {
	c := testMachine(true)
	s, got := run(c, up(100*ms), hb(200*ms), problemEv(300*ms, ProblemKey, "x"), problemEv(400*ms, "bogus", "x"))
	if len(s.View(c).Problems) != 0 || pushesOf(got, "") != 0 {
		t.Errorf("problems %+v, pushes %q", s.View(c).Problems, got)
	}
	s, _ = run(c, problemEv(100*ms, ProblemNoListener, "refused"), problemEv(200*ms, ProblemNoListener, ""))
	if len(s.View(c).Problems) != 0 {
		t.Errorf("not cleared: %+v", s.View(c).Problems)
	}
	// Several at once: the most serious first.
	s, _ = run(c, problemEv(100*ms, ProblemNoListener, "a"), problemEv(200*ms, ProblemRole, "b"), problemEv(300*ms, ProblemVersion, "c"))
	var kinds []string
	for _, p := range s.View(c).Problems {
		kinds = append(kinds, p.Kind)
	}
	if strings.Join(kinds, ",") != "role_mismatch,version_mismatch,peer_not_listening" {
		t.Errorf("order %q", kinds)
	}
}

// Differences in the peer's INFO: records and other settings are two
// problems; those that say where the records belong hold off failback;
// a link whose INFO agrees ends them. A link that flaps with the same
// difference is one episode, one push.
func TestProblemSettings(t *testing.T) {
	c := testMachine(true)
	timing := agree.Difference{Field: "keepalive_interval", A: "500ms", B: "2s", What: "apart"}
	pref := agree.Difference{Field: "cloudflare.preferred_value", A: "srv1", B: "srv2", What: "no failback", Blocks: true}
	info := func(d time.Duration, ds ...agree.Difference) Event {
		return EvInfo{At: at(d), Value: "srv2", Differences: ds}
	}
	s, got := run(c, seq(up(100*ms), info(110*ms, timing, pref), read(150*ms, "srv2"), active(sec), actives(2*sec, 40*sec))...)
	if pushesOf(got, "Settings differ") != 1 || slicesContain(got, "ensure#1 srv1@35s") {
		t.Errorf("pushes and writes:\n%q", got)
	}
	for _, g := range got {
		if strings.HasPrefix(g, "ensure") {
			t.Errorf("wrote while the preferred values differ: %q", g)
		}
	}
	v := s.View(c)
	if len(v.Problems) != 1 || v.Problems[0].Kind != ProblemSettings || !strings.Contains(v.Problems[0].What, "keepalive_interval") ||
		!strings.Contains(v.Problems[0].Hint, "no failback") || len(v.Mismatch) != 1 {
		t.Errorf("view %+v, mismatch %q", v.Problems, v.Mismatch)
	}
	// Timings only: failback goes ahead.
	s = NewState(t0, c)
	got = nil
	feedTimed(c, &s, &got, seq(up(100*ms), info(110*ms, timing), read(150*ms, "srv2"), active(sec), actives(2*sec, 40*sec))...)
	if !slicesContain(got, "ensure#1 srv1@30.1s") && !slicesContain(got, "ensure#1 srv1@31s") {
		t.Errorf("no failback over a timing difference:\n%q", got)
	}
	// The same difference over a flapping link: one push; an INFO that
	// agrees clears it.
	s, got = run(c, seq(up(100*ms), info(110*ms, timing), hb(sec), down(2*sec), up(3*sec), info(3010*ms, timing), hb(4*sec),
		down(5*sec), up(6*sec), info(6010*ms))...)
	if n := pushesOf(got, "Settings differ"); n != 1 || len(s.View(c).Problems) != 0 {
		t.Errorf("%d pushes, problems %+v; want 1 and none", n, s.View(c).Problems)
	}
}

// Clocks: a skew surely beyond a second is said (how far, which way);
// one within the margin of the round trip is not; it clears once surely
// within a second again, not on a reading that cannot say (no flapping at
// the edge).
func TestProblemClocks(t *testing.T) {
	c := testMachine(true)
	heard := func(d time.Duration, rtt, skew time.Duration) Event {
		return EvHeard{At: at(d), Sent: at(d - rtt), Flags: FlagHealthy, PeerClock: at(d - rtt/2 + skew)}
	}
	for _, tc := range []struct {
		name   string
		evs    []Event
		raised bool
	}{
		{"in step", []Event{heard(sec, 10*ms, 50*ms)}, false},
		{"ahead", []Event{heard(sec, 10*ms, 3*sec)}, true},
		{"behind", []Event{heard(sec, 10*ms, -1500*ms)}, true},
		{"within the round trip's margin", []Event{heard(sec, 800*ms, 1300*ms)}, false},
		{"not measured", []Event{EvHeard{At: at(sec), Flags: FlagHealthy, PeerClock: at(5 * sec)}}, false},
		{"back in step", []Event{heard(sec, 10*ms, 3*sec), heard(2*sec, 10*ms, 100*ms)}, false},
		{"surely within a second again", []Event{heard(sec, 10*ms, 3*sec), heard(2*sec, 10*ms, 980*ms)}, false},
		{"maybe beyond it: stays", []Event{heard(sec, 10*ms, 3*sec), heard(2*sec, 10*ms, 998*ms)}, true},
		{"at the edge, readings jitter: stays", []Event{heard(sec, 10*ms, 1030*ms), heard(2*sec, 40*ms, 1000*ms), heard(3*sec, 10*ms, 1030*ms)}, true},
		{"a coarse reading does not clear", []Event{heard(sec, 10*ms, 3*sec), heard(5*sec, 2*sec, 0)}, true},
		{"nor one exactly at the bound", []Event{heard(sec, 10*ms, 3*sec), heard(5*sec, 1800*ms, 100*ms)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, got := run(c, append([]Event{up(0)}, tc.evs...)...)
			raised := len(s.View(c).Problems) == 1 && s.View(c).Problems[0].Kind == ProblemClock
			if raised != tc.raised {
				t.Errorf("raised %v, want %v: %+v", raised, tc.raised, s.View(c).Problems)
			}
			if tc.raised && pushesOf(got, "clocks of 'srv1' and 'srv2' differ") != 1 {
				t.Errorf("pushes %q", got)
			}
		})
	}
	s, _ := run(c, up(0), heard(sec, 10*ms, -3*sec))
	if p := s.View(c).Problems; len(p) != 1 || !strings.Contains(p[0].What, "3s behind") {
		t.Errorf("what %+v", p)
	}
	if o := s.View(c).PeerClock; !o.Known || o.Est != -3*sec || o.Err != 5*ms {
		t.Errorf("offset %+v", o)
	}
	// The DNS API's clock, from a read's answer.
	apiRead := EvRead{At: at(sec), Asked: at(sec - 50*ms), Record: Record{Content: "srv1", APIClock: ClockOffset{Est: 12 * sec, Err: 600 * ms, Known: true}}}
	s, got := run(c, apiRead)
	if p := s.View(c).Problems; len(p) != 1 || p[0].Kind != ProblemAPIClock || !strings.Contains(p[0].What, "DNS API's clock is 12s ahead") {
		t.Errorf("api clock %+v", p)
	}
	if pushesOf(got, "DNS API's clock differs") != 1 {
		t.Errorf("pushes %q", got)
	}
}

// While a problem keeps the link from coming up, the peer's "down" names
// it: the peer may well be alive.
func TestProblemInDownReason(t *testing.T) {
	c := testMachine(false)
	s, _ := run(c, seq(problemEv(100*ms, ProblemKey, "x"), read(200*ms, "srv1"), ticks(sec, 8*sec))...)
	want := "[srv2] Server 'srv1' is now down (no link since start; 'srv1' answers, but our keys differ)"
	if s.job == nil || s.job.title != want {
		t.Errorf("the takeover's title %+v, want %q", s.job, want)
	}
	if r := s.View(c).Reason; r != "no link since start; 'srv1' answers, but our keys differ" {
		t.Errorf("view reason %q", r)
	}
}

// A Date header's whole second and the request's round trip bound the
// other clock's offset.
func TestDateOffset(t *testing.T) {
	asked := at(10 * sec)
	for _, tc := range []struct {
		name            string
		date            time.Time
		asked, received time.Time
		est, err        time.Duration
		beyond1s, known bool
	}{
		{"in step, fast", at(10 * sec), asked, asked.Add(20 * ms), 490 * ms, 510 * ms, false, true},
		{"2 s ahead", at(12 * sec), asked, asked.Add(20 * ms), 2490 * ms, 510 * ms, true, true},
		{"3 s behind, slow answer", at(7 * sec), asked, asked.Add(2 * sec), -3500 * ms, 1500 * ms, true, true},
		{"in step, very slow answer", at(11 * sec), asked, asked.Add(3 * sec), 0, 2000 * ms, false, true},
		{"no request time", at(12 * sec), time.Time{}, asked, 2500 * ms, 500 * ms, true, true},
		{"no Date", time.Time{}, asked, asked, 0, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DateOffset(tc.date, tc.asked, tc.received)
			if o.Known != tc.known || o.Est != tc.est || o.Err != tc.err || o.Beyond(time.Second) != tc.beyond1s {
				t.Errorf("%+v (beyond 1s %v), want est %v err %v known %v beyond %v", o, o.Beyond(time.Second), tc.est, tc.err, tc.known, tc.beyond1s)
			}
		})
	}
}

// What a problem's log line and push carry: the hint when there is one,
// nothing in its place when there is none; "surely beyond" is strict.
func TestProblemTexts(t *testing.T) {
	c := testMachine(true)
	said := func(ev EvProblem) (logged ActLog, pushed ActNotify) {
		for _, a := range actions(c, ev) {
			switch a := a.(type) {
			case ActLog:
				if a.Event == ev.Kind {
					logged = a
				}
			case ActNotify:
				pushed = a
			}
		}
		return logged, pushed
	}
	logged, pushed := said(problemEv(100*ms, ProblemKey, "seen").(EvProblem))
	if fmt.Sprint(logged.Attrs) != "[peer srv2 what seen hint fix it]" {
		t.Errorf("log attrs %v", logged.Attrs)
	}
	if !strings.HasPrefix(pushed.Body, "seen. Fix it. Until it is fixed") || pushed.Event != AlertMismatch {
		t.Errorf("push %+v", pushed)
	}
	logged, pushed = said(EvProblem{At: at(100 * ms), Kind: ProblemSettings, What: "timings"})
	if fmt.Sprint(logged.Attrs) != "[peer srv2 what timings]" || pushed.Body != "timings." {
		t.Errorf("without a hint: log attrs %v, push body %q", logged.Attrs, pushed.Body)
	}
	for _, tc := range []struct {
		o    ClockOffset
		want bool
	}{
		{ClockOffset{Est: 2 * sec, Err: sec, Known: true}, false}, // exactly at the bound: not surely beyond
		{ClockOffset{Est: 2*sec + 1, Err: sec, Known: true}, true},
		{ClockOffset{Est: -2*sec - 1, Err: sec, Known: true}, true},
		{ClockOffset{Est: 5 * sec}, false}, // unknown
	} {
		if got := tc.o.Beyond(sec); got != tc.want {
			t.Errorf("%+v.Beyond(1s) = %v, want %v", tc.o, got, tc.want)
		}
	}
}

// Names that do not match: the peer is not the node this file names, so
// the value it writes is not known. Its takeover (a value this node did
// not expect) is the peer's write, held, not a value of neither node to
// take back.
func TestProblemNameUnknownPeerValue(t *testing.T) {
	c := testMachine(true)
	evs := func(first ...Event) []Event {
		return seq(first, read(200*ms, "srv1"), ticks(sec, 8*sec), drift(9*sec, "srv3"), ticks(10*sec, 20*sec))
	}
	ensures := func(got []string) int {
		n := 0
		for _, g := range got {
			if strings.HasPrefix(g, "ensure") {
				n++
			}
		}
		return n
	}
	// The takeover's job at the loss finds this node's value and writes
	// nothing; after the peer's write, no job at all.
	_, got := run(c, evs(problemEv(100*ms, ProblemName, `the peer calls itself "srv3"`))...)
	if ensures(got) != 1 || !slicesContain(got, "push withheld: [srv1] Link to 'srv2' down, peer still serving | The peer took 'www.example.com' (now 'srv3') since the link was lost, so it is alive: not writing.") {
		t.Errorf("with the names mismatched: %q", got)
	}
	// An authenticated link restores the file's word, whichever name
	// problem it was.
	for _, kind := range []string{ProblemName, ProblemSameName} {
		s := state(c, problemEv(100*ms, kind, "x"), up(sec))
		if !s.peerKnown || s.peerValue != "srv2" {
			t.Errorf("%s, after a link: peer value %q known %v", kind, s.peerValue, s.peerKnown)
		}
	}
}
