package failover

import (
	"log/slog"
	"time"
)

// scheduleReads asks for the plain reads: the lookup at start, a drift
// check every drift interval (while linked only the failback owner's, once
// it has failed back: one node's reads are enough), and a look for a
// missing record every missingEvery.
func (s *State) scheduleReads(c *Config, now time.Time, acts []Action) []Action {
	if !s.lookupAsked {
		s.lookupAsked, s.reading = true, true
		return append(acts, ActRead{Retry: true})
	}
	if s.rec.missing && !s.reading && s.job == nil && !now.Before(s.nextLook(c)) {
		s.lastLook, s.reading = now, true
		return append(acts, ActRead{})
	}
	if !s.ep.lookAt.IsZero() && !s.link && !s.reading && s.job == nil && !now.Before(s.ep.lookAt) {
		s.ep.lookAt, s.reading = time.Time{}, true
		return append(acts, ActRead{})
	}
	if c.DriftInterval <= 0 || now.Before(s.driftNext) {
		return acts
	}
	s.driftNext = now.Add(c.DriftInterval)
	if s.job != nil || s.reading || s.rec.missing || s.link && (!s.owner(c) || !s.failbackDone) {
		return acts // this one is skipped
	}
	s.reading = true
	return append(acts, ActRead{Drift: true})
}

// read takes the answer of a plain read.
func (s *State) read(c *Config, ev EvRead, acts []Action) []Action {
	s.reading = false
	first := !s.looked
	s.looked = true
	if ev.Missing {
		return s.recordMissing(c, ev.At, acts)
	}
	if s.staleRead(ev.Record.Content, ev.Asked) {
		// It shows what this node's own write replaced a moment ago: an
		// answer from before the write.
		return acts
	}
	wasMissing, before := s.rec.missing, s.rec.content
	// Judged against what this node knew before this read.
	peerWrote := !s.link && s.ep.on && (s.peersValue(c, ev.Record.Content) || s.touched(c, ev.Record.Content)) && s.peerWroteRec(c, ev.Record)
	acts, took := s.learn(c, ev.Record, ev.Asked, acts)
	if first {
		acts = append(acts, ActLog{slog.LevelInfo, LogRecordFound, "record found", []any{"content", ev.Record.Content}})
	}
	if !took {
		return acts // an answer older than what this node knows
	}
	if peerWrote {
		// Read during the loss: the peer wrote the record in this
		// episode, so it is alive.
		return s.withhold(c, ev.Record.Content, ev.At, acts)
	}
	if !s.link && ev.Record.Content != c.ThisValue && !s.pendingDown && s.job == nil && s.failbackLanding(c, ev.Record, ev.Asked) {
		// The owner's failback, decided on the link, landed after this
		// node's takeover found the record its own (a write sent just
		// before the owner died, slow to land): the takeover decides
		// again, and counts it unchanged.
		s.pendingDown = true
		acts = append(acts, ActLog{slog.LevelWarn, LogFailbackLanded, "the peer's failback, due as the link broke, landed since this node took the record; taking it again",
			[]any{"peer", c.Other, "content", ev.Record.Content}})
	}
	wrote := before != "" && before != ev.Record.Content || changedAfter(ev.Record, s.linkSince)
	unasked := s.link && wrote && s.peersValue(c, ev.Record.Content) && !s.lastTurn.Before(s.sanctioned) &&
		!(s.peer == declaredUp && !s.owner(c) && ev.Record.Content == c.Preferred)
	switch {
	case unasked && ev.Verify && s.claimMoved():
		// Linked, the peer has taken the record unasked (not a failback
		// of its own, not at this node's request): it has lost this node.
		s.peerActed, s.peerActedAt = true, s.claimChanged
	case unasked && before != ev.Record.Content && s.claim != ev.Record.Content:
		// The same, seen now, written after the peer's last keepalive
		// that came here: the peer's keepalives no longer arrive. (An
		// operator's edit to the peer's value looks the same: it counts
		// only if the link breaks within moments of it.)
		s.peerActed, s.peerActedAt = true, s.lastTurn
	}
	if ev.Verify && s.link && s.peer == declaredUp && s.owner(c) && s.peersValue(c, ev.Record.Content) && s.claim == ev.Record.Content &&
		!s.lastTurn.Before(s.sanctioned) && s.failbackDone {
		// The peer says it holds the record, on a settled link, and this
		// node learns it from the peer, not from its own drift check (an
		// operator's edit it would have seen first): the peer's own
		// write, landed late (a takeover cancelled when the link came
		// back). The failback is due again.
		s.failbackDone = false
	}
	if ev.Drift || wasMissing {
		// A record back from missing may hold anything: judge it as a
		// drift check would.
		return s.drift(c, ev.Record.Content, ev.At, acts)
	}
	return acts
}

// staleRead reports whether a read asked at asked that shows content may
// be an answer from before this node's own last write: it shows something
// else, and was asked within StaleReads of it. (What the write replaced is
// what such an answer most often shows; but the read that write was
// decided on may itself have lagged, so that what it replaced is not
// known for sure.) A later read settles it.
func (s State) staleRead(content string, asked time.Time) bool {
	return s.wrote != "" && s.rec.content == s.wrote && content != s.wrote &&
		asked.Sub(s.wroteAt) < StaleReads
}

// peerWroteRec is the write rule's judgment of rec against this episode.
// touched reports whether content, a set's, has records the peer pointed
// at itself since what this node knew (peerTouched).
func (s State) touched(c *Config, content string) bool {
	return s.peerKnown && peerTouched(content, s.base(), c.ThisValue, s.peerValue)
}

func (s State) peerWroteRec(c *Config, rec Record) bool {
	a := ActEnsure{Own: c.ThisValue, Peer: s.peerValue, PeerKnown: s.peerKnown,
		Base: s.base(), Since: s.ep.since}
	a.BaseAt = s.baseAt()
	s.lastLink(&a)
	s.also(c, &a)
	return a.peerWrote(rec, s.lastTurn)
}

// drift judges what a drift check read: a value that points at neither
// node is corrected; a node's value is left (while linked, reported once).
func (s *State) drift(c *Config, content string, now time.Time, acts []Action) []Action {
	want := c.ThisValue
	if s.link {
		want = c.Preferred
	}
	switch {
	case content == want:
		s.driftReported = ""
		return acts
	case s.link && !s.owner(c):
		return acts // while linked, the failback owner's checks are enough
	case !s.link && s.pendingDown && (s.probe != probeServing || content == c.Preferred):
		// The takeover decides; withheld because the peer serves, it
		// leaves an edit to a value of neither node (but the preferred
		// one: a load balancer serves both) to this check.
		return acts
	case s.job != nil:
		// A job started while this read was out (a takeover) reads the
		// record itself and judges it: one job at a time.
		return acts
	case s.peerKnown && nodesParts(content, c.ThisValue, s.peerValue), s.touched(c, content),
		s.ep.on && s.ep.peerTook && partOf(content, s.peerValue):
		// A move of the set landed in part (the peer's since this node
		// last knew it, or in this down episode, or between the nodes'
		// values): its writer finishes it, and, linked, the failback
		// puts the set right.
		return acts
	case content != c.ThisValue && !s.peersValue(c, content) && (s.link || s.sound()):
		// Pointing at neither node (while linked, not at the preferred
		// value either): correct it.
		acts = append(acts, ActLog{slog.LevelWarn, LogDriftCorrected, "record points at neither node; correcting", []any{"content", content, "want", want}})
		s.driftReported = content
		return s.start(c, Correction, want, true, titleCorrected(c), now, acts)
	case !s.link:
		return acts // a node's value during a loss: the takeover rules have decided
	}
	if s.driftReported != content {
		s.driftReported = content
		msg := "record changed outside to a valid value; leaving it"
		if !s.peerKnown && content != c.ThisValue && content != s.peerValue {
			msg = "record holds a value that may be the peer's; leaving it (set the peer's value in the configuration)"
		}
		acts = append(acts,
			ActLog{slog.LevelWarn, LogDriftValid, msg, []any{"content", content}},
			alertEditedValid(c, content))
	}
	return acts
}

// recordMissing: the record does not exist (deleted, or its type changed).
// clooster does not create it: an operator removed it, and only an
// operator knows what it should be. It alerts once and looks for it every
// missingEvery; once it is back, the rules go on.
func (s *State) recordMissing(c *Config, now time.Time, acts []Action) []Action {
	s.reading = false
	if s.ep.on {
		s.ep.sawMissing = true
	}
	if !s.rec.missing {
		acts = append(acts, ActLog{slog.LevelError, LogRecordMissing, "the record does not exist (deleted, or its type changed); not creating it",
			[]any{"record", c.Record, "every", missingEvery}}, alertMissing(c))
		s.lookGap = lookFirst
	} else {
		s.lookGap = min(2*s.lookGap, missingEvery)
	}
	s.rec = knowledge{missing: true, at: now}
	s.lastLook = now
	return acts
}
