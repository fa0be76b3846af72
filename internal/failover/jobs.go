package failover

import (
	"fmt"
	"log/slog"
	"time"
)

// start begins a job of purpose p: make the record hold content.
func (s *State) start(c *Config, p Purpose, content string, announce bool, title string, now time.Time, acts []Action) []Action {
	s.jobSeq++
	s.job = &job{id: s.jobSeq, content: content, purpose: p, announce: announce, title: title, event: alertEvent(p), since: now}
	a := ActEnsure{Job: s.jobSeq, Purpose: p, Content: content,
		Own: c.ThisValue, Peer: s.peerValue, PeerKnown: s.peerKnown, Disable: c.Disable,
		Pause: c.TiePause()}
	switch p {
	case Takeover:
		s.ep.took = true
		a.Yield = !s.owner(c)
		if s.ep.evidence {
			a.Evidence, a.Wrote = true, s.ep.wrote
		} else {
			a.Conditional, a.Base, a.Since = true, s.base(), s.ep.since
			a.BaseAt = s.baseAt()
			s.lastLink(&a)
			s.also(c, &a)
		}
	case Failback:
		if !s.failbackHeld && s.claim != s.peerValue {
			// Not over the peer's value written on this link while the
			// peer says it does not hold the record: it wrote after its
			// last keepalive here, so it has lost this node (a one-way
			// loss this node has yet to notice). Once held, the next
			// attempt writes.
			a.Conditional, a.Since = true, s.linkSince
		}
	case Correction:
		a.OnlyOverNeither = true
		a.Yield = !s.link && !s.owner(c)
		if a.Yield {
			// During a loss the preferred node's drift check may come up
			// to a drift interval later than this node's.
			a.Pause += c.DriftInterval
		}
	}
	return append(acts, a,
		ActLog{slog.LevelInfo, p.String() + logStartedSuffix, "checking the record", []any{"want", content}})
}

// also sets a's window of the owner's failback that was due as the link
// broke, if one was: it may land in this episode and counts as unchanged.
func (s State) also(c *Config, a *ActEnsure) {
	if !s.ep.failbackDue.IsZero() {
		a.AlsoBase, a.AlsoFrom, a.AlsoUntil = c.Preferred, s.ep.failbackDue, s.ep.failbackDue.Add(FreshRead+APITimeout)
		a.AlsoAnnounced = s.ep.announced
	}
}

// failbackLanding reports whether rec, asked at asked during this
// episode, holds the owner's failback that was due as the link broke,
// landed since (ActEnsure.failbackLanded): not the peer's takeover.
func (s State) failbackLanding(c *Config, rec Record, asked time.Time) bool {
	var a ActEnsure
	s.also(c, &a)
	return s.ep.on && a.failbackLanded(rec, asked)
}

func (s *State) attempt(c *Config, ev EvAttempt, acts []Action) []Action {
	var sent string // the content of the write this attempt made, if any
	if ev.Job == s.writingJob {
		sent = s.writing
	}
	switch {
	case ev.Job == s.writingJob && ev.Landed != "":
		// Landed in part: this node holds the set in part, and says so
		// until its job ends.
		s.partly = true
	case ev.Job == s.writingJob:
		s.writing = ""
	}
	if ev.Uncertain && !ev.At.Before(s.rec.at) {
		// The write may have landed: what the record holds is not known
		// until read again (the job's retry reads; else verify does).
		s.rec = knowledge{at: ev.At, maybe: sent}
	}
	if ev.Landed != "" && !ev.At.Before(s.rec.at) && ev.Landed != s.rec.content {
		// It landed in part: this node's own write, known.
		s.wrote, s.replaced, s.wroteAt = ev.Landed, s.rec.content, ev.At
		s.rec = knowledge{content: ev.Landed, at: ev.At}
		if s.job != nil && ev.Job == s.job.id && s.job.purpose == Takeover {
			s.ep.wrote = true
		}
	}
	if s.job == nil || ev.Job != s.job.id {
		if ev.Uncertain {
			s.strayWrite(c, "") // a write of a job no longer under way may have landed
		}
		return acts
	}
	j := s.job
	j.failures++
	j.lastErr = ev.Err
	if logAttempt(j.failures) {
		acts = append(acts, ActLog{slog.LevelWarn, LogUpdateFailed, "record update failed; retrying",
			[]any{"want", j.content, "attempt", j.failures, "error", ev.Err}})
	}
	if j.failures == 1 {
		acts = append(acts, alertUpdateFailing(c, j.title, j.event, ev.Err, j.content))
	}
	return acts
}

func (s *State) done(c *Config, ev EvDone, acts []Action) []Action {
	if ev.Job == s.writingJob {
		s.writing = ""
	}
	if ev.Changed {
		// A write that landed is known, whichever job made it: one
		// cancelled while its write was under way too.
		acts, _ = s.learn(c, Record{Content: ev.Content}, ev.At, acts)
		s.wrote, s.replaced, s.wroteAt = ev.Content, ev.Replaced, ev.At
		if s.ep.on && !s.link && ev.Content == c.ThisValue && ev.Purpose == Takeover {
			s.ep.wrote = true // a takeover of this episode (a handover that landed after the link broke is not)
			s.ep.tookFrom = s.ep.tookFrom || s.peersValue(c, ev.Replaced)
		}
	}
	if ev.Purpose == Takeover && ev.Content == c.ThisValue && s.ep.on && !s.link {
		s.ep.held = true // the peer's value seen after this is the peer's write
	}
	if s.job == nil || ev.Job != s.job.id {
		if ev.Changed {
			s.strayWrite(c, ev.Content)
			if s.link && (ev.Purpose == Takeover || ev.Purpose == Correction) {
				// Abandoned when the link came back, its write landed all
				// the same: the record moved, and nothing else says so.
				acts = append(acts, alertLandedLate(c, ev.Purpose, ev.Content))
			}
		}
		return acts
	}
	j := s.job
	s.job = nil
	switch {
	case ev.Missing:
		s.reopen(j.purpose)
		return s.recordMissing(c, ev.At, acts)
	case ev.Refused:
		// This node's service failed a check while the job was under
		// way: the rules decide again when it passes.
		s.reopen(j.purpose)
		return acts
	}
	if !ev.Changed {
		acts, _ = s.learn(c, Record{Content: ev.Content}, ev.Asked, acts)
		if j.purpose == Takeover && ev.Content == c.ThisValue && !s.link && !s.ep.failbackDue.IsZero() {
			// The owner's failback may land until its window ends (a
			// slow API): a look then, whose answer read() judges.
			if until := s.ep.failbackDue.Add(FreshRead + APITimeout); ev.Asked.Before(until) {
				s.ep.lookAt = until.Add(StaleReads)
			}
		}
	}
	if ev.Withheld {
		if j.purpose == Failback {
			// Either this node notices the loss of the link meanwhile, or
			// the peer's word catches up with its write.
			s.failbackHeld, s.failbackDone = true, false
			s.failbackNext = ev.At.Add(max(PeerJobGap, c.PeerTimeout+c.Keepalive))
			return append(acts, ActLog{slog.LevelWarn, LogFailbackHeld, "the peer wrote the record on this link without saying so; failback held",
				[]any{"peer", c.Other, "content", ev.Content, "retry_in", s.failbackNext.Sub(ev.At)}})
		}
		if j.purpose == Takeover && s.ep.evidence {
			s.ep.contest = true
			return append(acts, ActLog{slog.LevelWarn, LogContested, "the peer took the record back although its service does not answer from here; not writing again",
				[]any{"peer", c.Other, "content", ev.Content}}, alertContested(c, ev.Content))
		}
		return s.withhold(c, ev.Content, ev.At, acts)
	}
	if ev.Changed {
		acts = append(acts, ActLog{slog.LevelWarn, LogRecordUpdated, "record updated",
			[]any{"record", c.Record, "content", ev.Content, "purpose", j.purpose.String(), "took", ev.At.Sub(j.since).Round(time.Millisecond)}})
	} else {
		acts = append(acts, ActLog{slog.LevelInfo, LogRecordUnchanged, "record already right",
			[]any{"record", c.Record, "content", ev.Content}})
	}
	switch {
	case j.failures > 0:
		acts = append(acts, alertDelayed(c, j.title, j.event, ev, j.failures, ev.At.Sub(j.since), j.lastErr))
	case ev.Changed, j.announce && s.wrote == ev.Content && !s.wroteAt.Before(j.since.Add(-APITimeout)):
		// Changed by this job, or found right because this node's own
		// write of a job the link's loss cancelled (a handover whose
		// answer was slow) landed just before: either way, moved.
		acts = append(acts, ActNotify{Event: j.event, Title: j.title,
			Body: fmt.Sprintf("The address for '%s' has been changed to '%s'", c.Record, ev.Content)})
	case j.announce:
		acts = append(acts, ActNotify{Event: j.event, Title: j.title, Body: "No record change is necessary"})
	}
	return acts
}

// strayWrite is a write of this node's whose job is no longer under way
// (cancelled when the link came back, say), which landed with content, or
// may have ("": its answer was lost). On a link whose failback is done,
// it may have landed after the failback, over the preferred value, and
// nothing else puts the record right while the link holds: the peer's
// word agrees with what this node learns, and a drift check leaves a
// node's value. The failback is due again; its job reads first and writes
// only if the record does not hold the preferred value. (The peer's own
// write landing so is learned from its word: read.)
func (s *State) strayWrite(c *Config, content string) {
	if !s.link || !s.owner(c) || content == c.Preferred {
		return
	}
	if content == "" && c.ThisValue == c.Preferred {
		return // whatever it wrote, it was the preferred value
	}
	s.failbackDone = false
}

// reopen puts back the decision a job of purpose p was for, so that the
// rules make it again.
func (s *State) reopen(p Purpose) {
	switch p {
	case Takeover:
		if !s.link {
			s.pendingDown = true
		}
	case Failback:
		s.failbackDone = false
	}
}
