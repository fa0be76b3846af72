package failover

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/agree"
)

// Problem kinds: what stands between the two nodes and a working pair. Each
// is the event of its log line, the label of clooster_link_problem and the
// kind of /status's link.problem. They are stable.
const (
	ProblemKey        = "key_mismatch"       // the peer answers, but our keys differ
	ProblemName       = "name_mismatch"      // the peer's name is not other_server, or it expects another
	ProblemSameName   = "same_name"          // the peer has this node's name
	ProblemRole       = "role_mismatch"      // both servers (or both clients)
	ProblemNoListener = "peer_not_listening" // nothing listens on the peer's link port
	ProblemVersion    = "version_mismatch"   // another link protocol version
	ProblemSettings   = "settings_mismatch"  // timings, values or the preferred value differ
	ProblemRecords    = "records_mismatch"   // the record sets differ
	ProblemClock      = "clock_skew"         // the two nodes' clocks differ by more than MaxSkew
	ProblemAPIClock   = "api_clock_skew"     // the DNS API's clock and this node's do
)

// ProblemKinds lists the problem kinds, most serious first.
var ProblemKinds = []string{ProblemKey, ProblemName, ProblemSameName, ProblemRole, ProblemVersion, ProblemNoListener,
	ProblemRecords, ProblemSettings, ProblemClock, ProblemAPIClock}

// LogProblemCleared is the event of the line that says a problem is gone.
const LogProblemCleared = "link_problem_cleared"

// MaxSkew is how far apart two clocks may be before it is a problem: parts
// of the write rule compare the DNS API's stamps with a node's clock.
const MaxSkew = time.Second

// handshakeProblem reports whether a problem of kind keeps the link from
// coming up: an authenticated link proves it gone.
func handshakeProblem(kind string) bool {
	switch kind {
	case ProblemKey, ProblemName, ProblemSameName, ProblemRole, ProblemNoListener, ProblemVersion:
		return true
	}
	return false
}

// Problem is one thing the two nodes disagree on, as /status shows it.
type Problem struct {
	Kind  string    `json:"kind"`
	What  string    `json:"what"`
	Hint  string    `json:"hint,omitempty"`
	Since time.Time `json:"since"`
}

// EvProblem is a problem found outside the machine, by the link: the
// handshake's failures, the probe of the peer's link port. What "" clears
// it. It is evidence the machine reports and never acts on: it comes
// before any authentication, so anyone on the path can fake it
// (docs/SECURITY.md).
type EvProblem struct {
	At               time.Time
	Kind, What, Hint string
}

func (e EvProblem) When() time.Time { return e.At }

// ClockOffset is another clock minus this node's, as one exchange measured
// it: Est, give or take Err. The zero value is no measurement.
type ClockOffset struct {
	Est, Err time.Duration
	Known    bool
}

// DateOffset is another clock less this node's, from an answer's Date
// header (whole seconds: the other clock, truncated, when it answered) and
// this node's clock when it sent the request and when the answer came: the
// answer was made in between, so the offset was then between Date -
// received and Date + 1 s - asked. Unknown without a Date.
func DateOffset(date, asked, received time.Time) ClockOffset {
	if date.IsZero() || received.IsZero() {
		return ClockOffset{}
	}
	if asked.IsZero() || asked.After(received) {
		asked = received
	}
	lo, hi := date.Sub(received), date.Add(time.Second).Sub(asked)
	return ClockOffset{Est: (lo + hi) / 2, Err: (hi - lo) / 2, Known: true}
}

// Within reports whether the offset is surely less than d either way.
func (o ClockOffset) Within(d time.Duration) bool {
	return o.Known && abs(o.Est)+o.Err < d
}

// Beyond reports whether the offset is surely beyond d either way.
func (o ClockOffset) Beyond(d time.Duration) bool {
	return o.Known && abs(o.Est)-o.Err > d
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// raise records problem p, found at now: a new one is logged and alerted
// once; one already known only has its text brought up to date (an episode
// is one alert, however many attempts show it).
func (s *State) raise(c *Config, p Problem, now time.Time, acts []Action) []Action {
	i := slices.IndexFunc(s.problems, func(q Problem) bool { return q.Kind == p.Kind })
	ps := slices.Clone(s.problems)
	if i >= 0 {
		p.Since = ps[i].Since
		ps[i] = p
		s.problems = ps
		return acts
	}
	p.Since = now
	s.problems = append(ps, p)
	if p.Kind == ProblemName || p.Kind == ProblemSameName {
		// The peer is not the node this file names: the value it writes
		// is not known (its this_server, or its file's value for it),
		// so any value but this node's may be its write, and is not one
		// to correct or take as a value of neither node. This holds off
		// a second write only, never a takeover from this node's base.
		s.peerKnown = false
	}
	slices.SortFunc(s.problems, func(a, b Problem) int {
		return slices.Index(ProblemKinds, a.Kind) - slices.Index(ProblemKinds, b.Kind)
	})
	level := slog.LevelError
	if p.Kind == ProblemClock || p.Kind == ProblemAPIClock || p.Kind == ProblemNoListener {
		level = slog.LevelWarn
	}
	attrs := []any{"peer", c.Other, "what", p.What}
	if p.Hint != "" {
		attrs = append(attrs, "hint", p.Hint)
	}
	acts = append(acts, ActLog{level, p.Kind, problemTitle(c, p.Kind), attrs})
	return append(acts, alertProblem(c, p))
}

// clear ends the problem of kind, if there is one.
func (s *State) clear(c *Config, kind string, acts []Action) []Action {
	i := slices.IndexFunc(s.problems, func(q Problem) bool { return q.Kind == kind })
	if i < 0 {
		return acts
	}
	p := s.problems[i]
	s.problems = slices.Delete(slices.Clone(s.problems), i, i+1)
	return append(acts, ActLog{slog.LevelInfo, LogProblemCleared, "problem gone: " + problemTitle(c, kind),
		[]any{"problem", kind, "since", p.Since}})
}

// problem applies a problem the link found.
func (s *State) problem(c *Config, ev EvProblem, acts []Action) []Action {
	if slices.Index(ProblemKinds, ev.Kind) < 0 {
		return acts
	}
	if ev.What == "" {
		return s.clear(c, ev.Kind, acts)
	}
	if handshakeProblem(ev.Kind) && s.link {
		return acts // a stale report: the link is up and authenticated
	}
	return s.raise(c, Problem{Kind: ev.Kind, What: ev.What, Hint: ev.Hint}, ev.At, acts)
}

// differences applies the settings the peer's INFO showed to differ from
// this node's: records and the rest, each raised or cleared; those that
// say where the records belong block failback until they agree.
func (s *State) differences(c *Config, ds []agree.Difference, now time.Time, acts []Action) []Action {
	var recs, other []string
	otherBlocks := false
	s.mismatch = nil
	for _, d := range ds {
		if strings.HasPrefix(d.Field, "records") {
			recs = append(recs, d.String())
		} else {
			other = append(other, d.String())
			otherBlocks = otherBlocks || d.Blocks
		}
		if d.Blocks {
			s.mismatch = append(s.mismatch, d.String())
		}
	}
	for _, k := range []struct {
		kind, hint string
		what       []string
	}{
		{ProblemRecords, "both nodes' files must hold the same records block; a failover still moves the set, a failback waits until they agree", recs},
		{ProblemSettings, "set them alike in both files (clooster check a.json b.json compares two files)", other},
	} {
		if len(k.what) == 0 {
			acts = s.clear(c, k.kind, acts)
			continue
		}
		hint := k.hint
		if k.kind == ProblemSettings && otherBlocks {
			hint += "; no failback until they agree"
		}
		acts = s.raise(c, Problem{Kind: k.kind, What: strings.Join(k.what, "; "), Hint: hint}, now, acts)
	}
	return acts
}

// clock judges a measurement of another clock's offset from this node's:
// raised when it is surely more than MaxSkew off, cleared when surely less.
// Each reading bounds the true offset, and clocks drift slowly: a problem
// comes and goes only as the true offset crosses MaxSkew, whatever the
// readings' jitter, and a coarse reading (a keepalive that spent seconds on
// the way, an answer's whole-second Date) says nothing either way. The
// text is the one of the reading that raised it: /status shows the last
// reading.
func (s *State) clock(c *Config, kind string, off ClockOffset, now time.Time, acts []Action) []Action {
	if !off.Known {
		return acts
	}
	if kind == ProblemClock {
		s.peerClock = off
	} else {
		s.apiClock = off
	}
	raised := slices.ContainsFunc(s.problems, func(p Problem) bool { return p.Kind == kind })
	switch {
	case !raised && off.Beyond(MaxSkew):
		whose := "the peer's clock"
		hint := "run NTP (chrony, systemd-timesyncd) on both nodes"
		if kind == ProblemAPIClock {
			whose = "the DNS API's clock"
			hint = "run NTP on this node; the write rule converts the API's stamps with the offset measured at each answer"
		}
		way := "ahead of"
		if off.Est < 0 {
			way = "behind"
		}
		what := fmt.Sprintf("%s is %s %s this node's (±%s)", whose, abs(off.Est).Round(time.Millisecond), way, off.Err.Round(time.Millisecond))
		return s.raise(c, Problem{Kind: kind, What: what, Hint: hint}, now, acts)
	case raised && off.Within(MaxSkew):
		return s.clear(c, kind, acts)
	}
	return acts
}

// peerClock is the offset of the peer's clock, from a keepalive that
// carries it: the peer sent the frame between ev.Sent and ev.At on this
// node's clock.
func peerClock(ev EvHeard) ClockOffset {
	if ev.PeerClock.IsZero() || ev.Sent.IsZero() {
		return ClockOffset{}
	}
	half := ev.At.Sub(ev.Sent) / 2
	return ClockOffset{Est: ev.PeerClock.Sub(ev.Sent.Add(half)), Err: half, Known: true}
}

func problemTitle(c *Config, kind string) string {
	switch kind {
	case ProblemKey:
		return fmt.Sprintf("'%s' answers, but our keys differ", c.Other)
	case ProblemName:
		return fmt.Sprintf("'%s' answers, but our names do not match", c.Other)
	case ProblemSameName:
		return fmt.Sprintf("both nodes are named '%s'", c.This)
	case ProblemRole:
		return "both nodes have the same role"
	case ProblemNoListener:
		return fmt.Sprintf("nothing listens on the link port of '%s'", c.Other)
	case ProblemVersion:
		return fmt.Sprintf("'%s' speaks another link protocol version", c.Other)
	case ProblemSettings:
		return fmt.Sprintf("settings differ between '%s' and '%s'", c.This, c.Other)
	case ProblemRecords:
		return fmt.Sprintf("record sets differ between '%s' and '%s'", c.This, c.Other)
	case ProblemClock:
		return fmt.Sprintf("the clocks of '%s' and '%s' differ", c.This, c.Other)
	case ProblemAPIClock:
		return "the DNS API's clock differs from this node's"
	}
	return kind
}
