package failover

import (
	"slices"
	"strings"
	"time"
)

// EvReconfigure is a reload of this node's configuration: Config takes the
// place of the loop's. The Loop applies it (Apply, Reconfigure); Next
// alone takes it for a tick.
//
// The timings and flags apply at once, and so do the deadlines armed
// with them: the machine reckons each deadline from the configuration at
// every turn, from the moment it counts from. A shorter failback_delay
// shortens a failback under way (a longer one puts it off), a shorter
// peer_timeout ends at once a silence already longer than it, a new
// keepalive_interval moves the beat and the freeze threshold. The drift
// check is re-armed from the last one: the next comes the new interval
// after it, at once if that is past. The turn up to At is taken with the
// old configuration, so that a shorter freeze threshold does not read the
// gap since the last turn as a freeze.
//
// Set, if not nil, changes the record set, and Config's record fields
// (Record, ThisValue, OtherValue, OtherKnown, Preferred) are the new
// set's; if nil, they must be the running ones. A set changes only at a
// moment the loop is Idle and still knows of the record what it knew when
// the change was planned (PlanSet); otherwise the rest applies, the
// record fields stay as they were, and Reconfigure reports the set not
// applied: the caller plans it again at the next idle moment.
type EvReconfigure struct {
	At     time.Time
	Config Config
	Set    *SetChange
}

func (e EvReconfigure) When() time.Time { return e.At }

// SetChange is a change of the record set, as a node carries it out: it
// plans it (PlanSet), reads the new set, writes its added records if the
// plan says so, and hands the outcome to the loop.
type SetChange struct {
	// From maps each record of the new set to its index in the running
	// set; -1 for a record added (a record whose configuration changed
	// counts as removed and added).
	From []int
	// Base and BaseAt are the plan's: what the loop knew the running set
	// to hold, and as of when.
	Base   string
	BaseAt time.Time
	// Content is what the new set holds, as read for the change (and
	// written, if the plan wrote its added records), as of Asked, when
	// that read was asked; "" if it is not known (a record was missing,
	// or the records kept did not hold what the loop knew): the loop
	// reads it.
	Content string
	Asked   time.Time
}

// SetPlan is how a change of the record set brings the records it adds
// to the state the rest of the set is in.
type SetPlan struct {
	// Base and BaseAt are what the loop knows the running set to hold
	// ("" unknown), and as of when: the change applies only if the loop
	// still knows that.
	Base   string
	BaseAt time.Time
	// Want is, for each record of the new set, what it must hold: an
	// added record the value of the node the set points at; "" for a
	// record kept, and for an added one left as it is.
	Want []string
	// Leave says why the added records are left as they are; "" if
	// they are not.
	Leave string
}

// Idle reports whether no record update is under way: no job, no write
// whose outcome is unknown, no plain read, no stop. A change of the
// record set waits for such a moment.
func (l *Loop) Idle() bool {
	s := &l.S
	return s.job == nil && s.writing == "" && s.rec.maybe == "" && !s.reading && !s.stopping
}

// PlanSet plans the change of the record set to c's, whose records come
// from the running set's as from says (SetChange.From): an added record
// takes the value of the node the set points at, this node's, or the
// peer's if its value is known, or the preferred value that is neither
// node's; with the set split between the nodes, pointing at neither, or
// unknown, the added records are left as they are.
func (l *Loop) PlanSet(c *Config, from []int) SetPlan {
	s, old := &l.S, l.C
	p := SetPlan{Base: s.rec.content, BaseAt: s.rec.at, Want: make([]string, len(from))}
	peer, known := s.peerAfter(old, c)
	var want []string
	switch base := s.rec.content; {
	case base == "" || s.rec.missing:
		p.Leave = "what the record set holds is not known"
	case base == old.ThisValue:
		want = parts(c.ThisValue, len(from))
	case base == s.peerValue && known:
		want = parts(peer, len(from))
	case base == s.peerValue:
		p.Leave = "the set points at the peer, whose value of the records added is not known"
	case base != "" && base == s.thirdPreferred(old):
		want = parts(c.Preferred, len(from))
	default:
		p.Leave = "the set points at neither node, or is split between them"
	}
	if want == nil && p.Leave == "" {
		p.Leave = "the new set's values do not match its records" // not reached: Config is the node's
	}
	for i, j := range from {
		if j < 0 && want != nil {
			p.Want[i] = want[i]
		}
	}
	return p
}

// Reconfigure applies ev (see EvReconfigure) and reports, for a change
// of the record set, whether it applied.
func (l *Loop) Reconfigure(ev EvReconfigure) (acts []Action, kick, applied bool) {
	acts, kick = l.Apply(EvTick{At: ev.At})
	old := l.C
	c := ev.Config
	applied = ev.Set == nil
	read := false
	if ch := ev.Set; ch != nil {
		if l.Idle() && l.S.rec.content == ch.Base && l.S.rec.at.Equal(ch.BaseAt) {
			l.S.changeSet(old, &c, *ch)
			applied, read = true, ch.Content == ""
		} else {
			c.Record, c.ThisValue, c.OtherValue, c.OtherKnown, c.Preferred = old.Record, old.ThisValue, old.OtherValue, old.OtherKnown, old.Preferred
		}
	}
	l.S.rearm(old, &c, ev.At)
	l.C = &c
	if read {
		l.S.reading = true
		acts = append(acts, ActRead{})
	}
	more, k := l.Apply(EvTick{At: ev.At})
	return append(acts, more...), kick || k, applied
}

// rearm moves the next drift check to the new interval after the last
// one (at once if that is past), or to an interval from now for a check
// newly turned on; without a peer_check, no probe is awaited, and none
// holds off a takeover.
func (s *State) rearm(old, c *Config, now time.Time) {
	if !c.PeerCheck {
		s.probe, s.probing = probeNone, false
		if s.guard == GuardPeerServing {
			s.guard = guardNone
		}
	}
	switch {
	case c.DriftInterval == old.DriftInterval || c.DriftInterval <= 0:
	case old.DriftInterval <= 0:
		s.driftNext = now.Add(c.DriftInterval)
	default:
		s.driftNext = later(now, s.driftNext.Add(c.DriftInterval-old.DriftInterval))
	}
}

// peerAfter is the peer's value, and whether it is known, under c: c's,
// unless neither file names it and the peer said it over the link, for a
// single record in both (its value does not depend on the record's
// name). A peer whose name does not match writes a value not known.
func (s State) peerAfter(old, c *Config) (string, bool) {
	peer, known := c.OtherValue, c.OtherKnown
	single := !strings.Contains(old.ThisValue, PartSep) && !strings.Contains(c.ThisValue, PartSep)
	if !c.OtherKnown && !old.OtherKnown && s.peerKnown && single {
		peer, known = s.peerValue, true
	}
	if slices.ContainsFunc(s.problems, func(p Problem) bool { return p.Kind == ProblemName || p.Kind == ProblemSameName }) {
		known = false
	}
	return peer, known
}

// changeSet takes the new set of c, which replaces old's: what this node
// knows of the record, and the contents it remembers (the episode's
// first, its last write, the peer's claim), in terms of the new set. A
// content that is one node's value (or the preferred one) becomes that
// node's value of the new set; any other keeps its parts of the records
// kept, and takes for an added record what the change found it to hold.
func (s *State) changeSet(old, c *Config, ch SetChange) {
	peer, known := s.peerAfter(old, c)
	oldN := len(strings.Split(old.ThisValue, PartSep))
	current := parts(ch.Content, len(ch.From))
	third := s.thirdPreferred(old)
	move := func(x string) string {
		switch {
		case x == "" || x == partClaim || x == "-":
			return x
		case x == old.ThisValue:
			return c.ThisValue
		case x == s.peerValue:
			return peer
		case third != "" && x == third:
			return c.Preferred
		}
		xs := parts(x, oldN)
		if xs == nil || current == nil {
			return ""
		}
		out := make([]string, len(ch.From))
		for i, j := range ch.From {
			if j >= 0 && j < len(xs) {
				out[i] = xs[j]
			} else {
				out[i] = current[i]
			}
		}
		return strings.Join(out, PartSep)
	}
	s.ep.first = move(s.ep.first)
	s.wrote, s.replaced = move(s.wrote), move(s.replaced)
	s.claim = move(s.claim)
	s.verifiedClaim, s.verifiedRec = move(s.verifiedClaim), move(s.verifiedRec)
	s.driftReported = move(s.driftReported)
	s.peerValue, s.peerKnown = peer, known
	s.rec = knowledge{content: ch.Content, at: ch.Asked}
}

// parts are the n records' contents of a set's content; nil if it has not
// n parts. A set of one record is its content.
func parts(content string, n int) []string {
	if content == "" {
		return nil
	}
	if n == 1 {
		return []string{content}
	}
	ps := strings.Split(content, PartSep)
	if len(ps) != n {
		return nil
	}
	return ps
}
