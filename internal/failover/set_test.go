package failover

import (
	"strings"
	"testing"

	"github.com/clooster/clooster/internal/agree"
)

// The peer's INFO says the two record sets differ: one alert naming the
// records, no failback on that link; a failover still moves the set, and a
// new link that agrees fails back.
func TestRecordsMismatch(t *testing.T) {
	c := testMachine(true)
	differ := EvInfo{At: at(110 * ms), Value: "srv2", Differences: []agree.Difference{{Field: "records[example.org AAAA]", What: "configured differently", Blocks: true}}}
	_, got := run(c, seq(up(100*ms), differ, read(150*ms, "srv2"), active(sec), actives(2*sec, 40*sec))...)
	var pushes, ensures int
	for _, g := range got {
		if strings.HasPrefix(g, "push mismatch: [srv1] Record sets differ") && strings.Contains(g, "records[example.org AAAA]: configured differently") {
			pushes++
		}
		if strings.HasPrefix(g, "ensure") {
			ensures++
		}
	}
	if pushes != 1 || ensures != 0 {
		t.Errorf("a mismatch: %d alerts, %d writes, want 1 and none:\n%q", pushes, ensures, got)
	}
	// The link is lost: the takeover is not held up.
	_, got = run(c, seq(up(100*ms), differ, read(150*ms, "srv2"), active(sec), actives(2*sec, 40*sec), down(41*sec), ticks(42*sec, 47*sec))...)
	if !slicesContain(got, "ensure#1 srv1 base=srv2") {
		t.Errorf("no takeover after a mismatch:\n%q", got)
	}
	// A new link that agrees: the failback goes ahead.
	s := NewState(t0, c)
	got = nil
	feedTimed(c, &s, &got, seq(up(100*ms), differ, read(150*ms, "srv2"), active(sec), actives(2*sec, 4*sec), down(4500*ms),
		up(4600*ms), EvInfo{At: at(4610 * ms), Value: "srv2"}, active(5*sec), verified(5100*ms, "srv2"), actives(6*sec, 40*sec))...)
	if !slicesContain(got, "ensure#2 srv1@35s") {
		t.Errorf("no failback once the sets agree:\n%q", got)
	}
	if v := state(c, up(100*ms), differ).View(c); len(v.Mismatch) != 1 {
		t.Errorf("View.Mismatch %q", v.Mismatch)
	}
}

// The parts of a set, as the rule reads them.
func TestSetParts(t *testing.T) {
	own, peer := "a1, a2, a3", "b1, b2, b3"
	for _, tt := range []struct {
		cur, base                  string
		touched, partOfPeer, nodes bool
	}{
		{"b1, a2, a3", own, true, true, true},           // the peer moved one record
		{"b1, x2, a3", own, true, true, false},          // and an edit elsewhere
		{"a1, a2, b3", "a1, a2, b3", false, true, true}, // as known: no change
		{"x1, a2, a3", own, false, false, false},        // an edit
		{"b1, b2, b3", "", false, true, true},           // no base: cannot say
		{"b1", "a1", false, false, false},               // a single record
	} {
		if got := peerTouched(tt.cur, tt.base, own, peer); got != tt.touched {
			t.Errorf("peerTouched(%q, %q) = %v", tt.cur, tt.base, got)
		}
		if got := partOf(tt.cur, peer); got != tt.partOfPeer {
			t.Errorf("partOf(%q) = %v", tt.cur, got)
		}
		if got := nodesParts(tt.cur, own, peer); got != tt.nodes {
			t.Errorf("nodesParts(%q) = %v", tt.cur, got)
		}
	}
}

// A set's write that landed in part: the node knows what it holds (its
// own doing), says it holds the set, and the job's retry finishes it.
func TestPartialWrite(t *testing.T) {
	c := with(testMachine(false), func(c *Config) {
		c.ThisValue, c.OtherValue, c.Preferred = "b1, b2", "a1, a2", "a1, a2"
	})
	s := state(c, seq(read(150*ms, "a1, a2"), ticks(sec, 5*sec))...)
	s, _ = Next(c, s, EvWriting{At: at(5100 * ms), Job: 1, Content: "b1, b2"})
	s, _ = Next(c, s, EvAttempt{At: at(5200 * ms), Job: 1, Err: "write record: 1 of 2 refused", Landed: "b1, a2"})
	if s.rec.content != "b1, a2" || s.wrote != "b1, a2" {
		t.Errorf("knowledge %q, wrote %q", s.rec.content, s.wrote)
	}
	if s.Flags(c)&FlagActive == 0 {
		t.Error("a node holding the set in part does not say so")
	}
	j := NewEnsure(ActEnsure{Job: 1, Purpose: Takeover, Content: "b1, b2", Own: "b1, b2", Peer: "a1, a2", PeerKnown: true,
		Conditional: true, Base: "a1, a2"}, func(int64) int64 { return 0 })
	j.Start()
	j.Read(at(0), at(ms), Record{Content: "a1, a2"}, nil)
	j.Go(at(2*ms), true)
	j.Wrote(at(3*ms), &PartialWrite{Landed: "b1, a2", Err: ErrRefused})
	j.Waited()
	if st := j.Read(at(sec), at(sec+ms), Record{Content: "b1, a2"}, nil); st.Op != OpWrite {
		t.Errorf("the retry over its own partial write: %+v, want a write", st)
	}
	// The peer's partial move seen by a conditional takeover: withheld.
	if st := NewEnsure(ActEnsure{Job: 2, Purpose: Takeover, Content: "b1, b2", Own: "b1, b2", Peer: "a1, a2", PeerKnown: true,
		Conditional: true, Base: "b1, b2"}, nil); st != nil {
		st.Start()
		if r := st.Read(at(0), at(ms), Record{Content: "a1, b2"}, nil); r.Op != OpDone || !r.Report.(EvDone).Withheld {
			t.Errorf("over the peer's partial move: %+v", r)
		}
	}
}

// The bookkeeping of a partial move: a takeover's counts as this node's
// write of the episode, a failback's does not; a job cancelled after its
// partial move no longer says it is writing.
func TestPartialMoveBookkeeping(t *testing.T) {
	c := with(testMachine(false), func(c *Config) {
		c.ThisValue, c.OtherValue, c.Preferred = "b1, b2", "a1, a2", "a1, a2"
	})
	s := state(c, seq(read(150*ms, "a1, a2"), ticks(sec, 5*sec))...) // the takeover, job 1, at 5 s
	s, _ = Next(c, s, EvWriting{At: at(5100 * ms), Job: 1, Content: "b1, b2"})
	other, _ := Next(c, s, EvAttempt{At: at(5200 * ms), Job: 2, Err: "refused", Landed: "b1, a2"})
	s, _ = Next(c, s, EvAttempt{At: at(5200 * ms), Job: 1, Err: "refused", Landed: "b1, a2"})
	if !s.ep.wrote || other.ep.wrote {
		t.Errorf("this node's write of the episode: %v for its takeover, %v for another job", s.ep.wrote, other.ep.wrote)
	}
	if s.writing != "b1, b2" {
		t.Errorf("writing %q during the partial move", s.writing)
	}
	s, _ = Next(c, s, up(6*sec)) // the link: the takeover is cancelled
	if s.writing != "" {
		t.Errorf("writing %q after the job was cancelled", s.writing)
	}
}

// A set whose record is unknown (missing) is compared with what the
// episode first knew: the peer's move since then is the peer's.
func TestTouchedSinceTheEpisodeBegan(t *testing.T) {
	c := with(testMachine(false), func(c *Config) {
		c.ThisValue, c.OtherValue, c.Preferred = "b1, b2", "a1, a2", "a1, a2"
	})
	var took bool
	for _, name := range logs(c, read(150*ms, "b1, b2"), missing(sec), read(2*sec, "a1, b2")) {
		took = took || name == LogPeerTook
	}
	if !took {
		t.Error("the peer's move of one record, read after the set was missing, not taken for the peer's")
	}
}
