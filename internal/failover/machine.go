package failover

import (
	"fmt"
	"log/slog"
	"time"
)

// Next applies one event and returns the new state and what to do. It is
// pure: it reads the event's time and nothing else of the world, so every
// rule is a table test and the simulator (package sim) can replay any
// schedule of events. docs/WRITE-RULE.md states the rule and its
// invariants; in short:
//
//   - While the link is up, only the failback owner writes, and only the
//     preferred value; the other node writes only when the owner says it
//     is unhealthy or hands the record over.
//   - After a link loss, the survivor writes its own value only if the
//     record still holds what it held when the link was last good. If it
//     has changed since to the peer's value, the peer acted during this
//     episode and is alive: the survivor withholds for the rest of the
//     episode, unless its peer_check finds the peer's service gone. A
//     record that points at neither node is taken by the preferred node at
//     once, and by the other only after a pause and a second read.
//   - No node writes its own value while its own service fails its checks.
func Next(c *Config, s State, ev Event) (State, []Action) {
	var acts []Action
	now := ev.When()
	if s.alerted == nil {
		s.alerted = map[string]bool{}
	}

	// Rule 3: if this node itself was frozen, silence is not the peer's
	// fault: give the link a full timeout to come back before acting. The
	// frames that waited meanwhile still count; the write rule's "last
	// known good" does not move (agreedAt).
	if gap := now.Sub(s.lastTurn); gap > c.freezeThreshold() {
		s.extendGrace(now.Add(c.PeerTimeout))
		s.lastHeard, s.frozeAt = now, now
		s.probe = probeNone // a verdict from before the freeze: probe again
		acts = append(acts, ActLog{slog.LevelWarn, LogFrozen, "this node was frozen; waiting before acting on the link",
			[]any{"gap", gap.Round(time.Millisecond), "grace", c.PeerTimeout}})
	}
	s.lastTurn = now

	switch ev := ev.(type) {
	case EvHeard:
		s.lastHeard = now
		acts = s.heard(c, ev, now, acts)
		acts = s.clock(c, ProblemClock, peerClock(ev), now, acts)
	case EvInfo:
		acts = s.info(c, ev, acts)
	case EvProblem:
		acts = s.problem(c, ev, acts)
	case EvLinkUp:
		acts = s.linkUp(c, now, acts)
	case EvLinkDown:
		if !s.link {
			break
		}
		acts = s.lost(c, ev.Reason, now, acts)
		if ev.PeerAlive {
			// The peer is alive and says it heard nothing from us: we were
			// frozen, or the network lost our frames. Give the link a full
			// timeout to come back before taking the silence for the
			// peer's failure.
			s.extendGrace(now.Add(c.PeerTimeout))
			acts = append(acts, ActLog{slog.LevelWarn, LogPeerAlive, "the peer closed the link alive; waiting for it to come back", []any{"grace", c.PeerTimeout}})
		}
		if ev.Restart > 0 {
			// The peer restarts (an upgrade, say) and said when it will be
			// back: its record stays with it until then, then the rule
			// goes on as for any lost peer.
			g := min(ev.Restart, MaxRestartGrace)
			s.restartBy, s.restartGrace = now.Add(g), g
			// The peer's writes were made on the link it has just closed
			// (a failback a moment ago, whose word has yet to reach this
			// node), and it writes nothing more until it is back: what the
			// record holds as it left is the base, read at once (before
			// its next process can have started), and this episode begins
			// now. A write of its next process, made before the link is
			// back, is a write of the episode.
			s.ep = episode{on: true, since: now, began: now, sawMissing: s.rec.missing, lookAt: now}
			clear(s.alerted) // a new episode's one-shot alerts
			if !s.rec.missing {
				s.rec = knowledge{at: now}
			}
			acts = append(acts, ActLog{slog.LevelInfo, LogPeerRestarting, "the peer is restarting; waiting for it to come back", []any{"peer", c.Other, "grace", g}})
		}
	case EvRead:
		acts = s.clock(c, ProblemAPIClock, ev.Record.APIClock, now, acts)
		acts = s.read(c, ev, acts)
	case EvSeen:
		acts = s.clock(c, ProblemAPIClock, ev.Record.APIClock, now, acts)
		if !s.staleRead(ev.Record.Content, ev.Asked) {
			acts, _ = s.learn(c, ev.Record, ev.Asked, acts)
		}
	case EvReadFailed:
		s.reading = false
		s.lookFailed = s.lookFailed || !s.looked
		if logAttempt(ev.Attempt) {
			acts = append(acts, ActLog{slog.LevelWarn, LogReadFailed, "cannot read the record", []any{"error", ev.Err, "attempt", ev.Attempt, "drift", ev.Drift}})
		}
	case EvWriting:
		s.writing, s.writingJob, s.writingAt, s.partly = ev.Content, ev.Job, ev.At, false
	case EvAttempt:
		acts = s.attempt(c, ev, acts)
	case EvConflict:
		if ev.Job == s.writingJob {
			s.writing = "" // it did not land (of a set, not all of it)
		}
		if !ev.At.Before(s.rec.at) {
			// Someone wrote since this node's read: what the record
			// holds is not known until read again (the job reads).
			s.rec = knowledge{at: ev.At}
		}
		acts = append(acts, ActLog{slog.LevelInfo, LogWriteConflict, "the record changed since it was read; nothing written, reading again",
			[]any{"read", ev.Judged, "error", ev.Err}})
	case EvDone:
		acts = s.done(c, ev, acts)
	case EvHealth:
		acts = s.health(ev, acts)
	case EvProbe:
		acts = s.probed(c, ev, acts)
	case EvStop:
		acts = s.stop(c, ev.Restart, now, acts)
	}

	if s.link && (!s.healthy || s.handover) {
		// The peer may move the record at this node's request, until its
		// job's last possible write has landed.
		s.sanctioned = now.Add(c.PeerTimeout + c.Keepalive + FreshRead + APITimeout)
	}

	// Rule 3: silence for peer_timeout is a lost link.
	if s.link && now.Sub(s.lastHeard) >= c.PeerTimeout {
		reason := fmt.Sprintf("ping timeout (nothing heard for %s)", now.Sub(s.lastHeard).Round(time.Millisecond))
		acts = append(acts, ActClose{reason})
		acts = s.lost(c, reason, now, acts)
	}

	if s.stopping {
		// Rule 7 with handover: leave once the peer holds the record, or
		// the link is gone, or the handover took too long. The peer's
		// word is not enough: a node says it holds the record as soon as
		// its write is under way, so a read made after the peer said so
		// must find the peer's value.
		claimed := s.claim == s.peerValue && !s.claimChanged.Before(s.stopAt)
		landed := claimed && s.rec.content == s.peerValue && !s.rec.at.Before(s.claimChanged)
		switch {
		case !s.link || landed || !now.Before(s.stopBy):
			acts = append(acts, ActExit{})
		case claimed && !s.reading && !now.Before(s.stopReadNext):
			s.reading, s.stopReadNext = true, now.Add(c.Keepalive)
			acts = append(acts, ActRead{Verify: true})
		}
		return s, s.hooks(c, acts)
	}

	acts = s.dropStaleJob(acts)
	acts = s.takeOver(c, now, acts)
	acts = s.watch(c, now, acts)
	acts = s.moveForHealth(c, now, acts)
	acts = s.declareUp(c, now, acts)
	acts = s.failBack(c, now, acts)
	acts = s.verify(c, now, acts)
	acts = s.scheduleReads(c, now, acts)
	return s, s.hooks(c, acts)
}

func (s *State) extendGrace(t time.Time) {
	if t.After(s.grace) {
		s.grace = t
	}
}

func (s *State) linkUp(c *Config, now time.Time, acts []Action) []Action {
	if s.link {
		acts = s.broken(c, now, acts)
		acts = append(acts, ActLog{slog.LevelInfo, LogLinkReplaced, "newer link replaced the current one", nil})
	} else {
		acts = append(acts, ActLog{slog.LevelInfo, LogLinkUp, "link to peer up", []any{"peer", c.Other}})
	}
	for _, p := range s.problems {
		if handshakeProblem(p.Kind) {
			acts = s.clear(c, p.Kind, acts) // an authenticated link: they agree on what the handshake checks
			if p.Kind == ProblemName || p.Kind == ProblemSameName {
				s.peerValue, s.peerKnown = c.OtherValue, c.OtherKnown // the file's word again, until the peer's INFO
			}
		}
	}
	s.link, s.everLinked, s.pendingDown = true, true, false
	s.linkSince, s.lastHeard = now, now
	s.restartBy = time.Time{}
	s.failbackDone, s.failbackHeld, s.failbackNext = false, false, time.Time{}
	s.claimSeen, s.claim, s.infoSeen, s.peerActed, s.mismatch = false, "", false, false, nil
	s.heardSent = time.Time{}
	s.verifiedClaim, s.verifiedRec = "-", "-" // nothing verified on this link
	s.lookGap = lookFirst                     // a new link: a decision waits on a missing record again
	s.peerStops, s.peerHealthy = false, true
	s.probe, s.probing, s.guard = probeNone, false, guardNone
	// A contest over the record (each node took it on evidence that the
	// other's service was gone) lasts until the link is back: the peer
	// is alive, and this node's write of the episode is known to it.
	s.ep.wrote, s.ep.contest = false, false
	// Whatever the running job was for, it was decided without the peer:
	// the rules decide again now (a write under way still lands, and is
	// learned).
	return s.cancelJob(acts, LogTakeoverAbandoned, "peer is back; update abandoned")
}

// dropStaleJob cancels the running job once what it was started for no
// longer holds: a health move once the peer is healthy again, a handover
// once the peer no longer hands the record over. A job that waits out an
// API outage must not write on a premise that is gone. (A change of the
// link cancels every job: linkUp, lost.)
func (s *State) dropStaleJob(acts []Action) []Action {
	if s.job == nil {
		return acts
	}
	switch s.job.purpose {
	case HealthMove:
		if s.peerHealthy {
			return s.cancelJob(acts, LogUpdateDropped, "the peer is healthy again; update dropped")
		}
	case Handover:
		if !s.peerStops {
			return s.cancelJob(acts, LogUpdateDropped, "the peer no longer hands the record over; update dropped")
		}
	case Takeover:
		if s.ep.evidence && s.probe == probeServing {
			return s.cancelJob(acts, LogUpdateDropped, "the peer's service answers again; update dropped")
		}
	}
	return acts
}

// cancelJob stops the running job, if any.
func (s *State) cancelJob(acts []Action, event, msg string) []Action {
	if s.job == nil {
		return acts
	}
	acts = append(acts, ActCancel{}, ActLog{slog.LevelInfo, event, msg,
		[]any{"purpose", s.job.purpose.String(), "attempts", s.job.failures}})
	if s.partly && s.writingJob == s.job.id {
		s.writing, s.partly = "", false // no write under way: the job stops at its wait
	}
	s.job = nil
	return acts
}

func (s *State) lost(c *Config, reason string, now time.Time, acts []Action) []Action {
	acts = s.broken(c, now, acts)
	s.link, s.reason, s.pendingDown, s.lostAt = false, reason, true, now
	s.peerStops, s.sanctioned = false, time.Time{}
	acts = append(acts, ActLog{slog.LevelWarn, LogLinkDown, "link to peer lost", []any{"peer", c.Other, "reason", reason}})
	// A failback, health move or handover was decided on the link.
	return s.cancelJob(acts, LogTakeoverAbandoned, "link lost; update abandoned")
}

// broken begins a down episode, or goes on with the one under way: the
// link broke (lost, or replaced by a newer one: the peer dropped the old
// one, so it lost this node for a moment, and may have acted).
func (s *State) broken(c *Config, now time.Time, acts []Action) []Action {
	// The peer's unasked takeover just before this loss (the peer lost
	// this node first: a one-way cut) counts as its write of the episode.
	acted := s.peerActed && now.Sub(s.peerActedAt) <= c.PeerTimeout+2*c.Keepalive
	if !s.ep.on {
		since := s.agreedAt
		if since.IsZero() {
			// Never known good on a link: only a write surely after the
			// loss is the peer's (less a peer_timeout: the peer may have
			// noticed the loss first).
			since = now.Add(-c.PeerTimeout)
		}
		s.ep = episode{on: true, since: since, first: s.rec.content, began: now, sawMissing: s.rec.missing}
		due := s.failbackFrom().Add(c.FailbackDelay)
		announced := s.claim != "" && s.claim == c.Preferred && !s.claimChanged.Before(due.Add(-c.Keepalive))
		// The link broke when the peer fell silent: its last frame here,
		// not this node's notice of the silence a peer_timeout later.
		broke := now
		if s.lastHeard.Before(broke) {
			broke = s.lastHeard
		}
		if !s.owner(c) && !due.After(now) && (announced || broke.Sub(due) <= 2*c.Keepalive) {
			// The peer's failback was due on the link that broke, and it
			// announced it, or the link broke before it could: it may land
			// in this episode.
			s.ep.failbackDue, s.ep.announced = due, announced
		}
	} else {
		// A link that came back briefly and broke again: the same
		// episode, known good since the agreement on it, if any.
		if s.agreedAt.After(s.ep.since) {
			s.ep.since = s.agreedAt
		}
	}
	if acted && !s.ep.failbackDue.IsZero() && s.rec.content == c.Preferred {
		// What looked like an unasked takeover is the preferred value,
		// and the owner's failback was due as the link broke: the owner
		// counts its failback_delay from its own end of the link, which
		// may have come up a one-way delay before this one, so its
		// failback may land before this node sees it due. This node
		// cannot tell the two (WRITE-RULE.md, limits): the failback.
		acted = false
	}
	if acted {
		acts = s.notePeerTook(c, "the peer took the record unasked just before the link broke", acts)
	}
	return acts
}

// info is the peer's value and settings, said after the handshake, and
// again on the link when either node is reloaded. The value holds until
// the next link's (the peer may have been reconfigured), unless this
// node's configuration names the peer's value: that wins.
func (s *State) info(c *Config, ev EvInfo, acts []Action) []Action {
	if s.infoSeen {
		// Again on this link: the peer was reloaded. Its settings are
		// compared anew; its value is taken once per link, so that a
		// peer cannot make this node flip its view of it.
		return s.differences(c, ev.Differences, ev.At, acts)
	}
	s.infoSeen = true
	// Settings that differ are said once per episode; those on where the
	// records belong (the sets, the preferred value) hold off failback
	// while they last: a failover still moves the set (a dead peer is a
	// dead peer).
	acts = s.differences(c, ev.Differences, ev.At, acts)
	if ev.Value == "" {
		return acts
	}
	if c.OtherKnown && ev.Value != s.peerValue {
		return append(acts, ActLog{slog.LevelWarn, LogPeerValue, "the peer writes a value other than the configured one; the configuration wins",
			[]any{"peer", c.Other, "configured", s.peerValue, "peer_says", ev.Value}})
	}
	s.peerValue, s.peerKnown = ev.Value, true
	return acts
}

// heard applies the flags of a keepalive.
func (s *State) heard(c *Config, ev EvHeard, now time.Time, acts []Action) []Action {
	flags := ev.Flags
	healthy := flags&FlagHealthy != 0
	if healthy != s.peerHealthy {
		s.peerHealthy = healthy
		ev, msg := LogPeerHealthUp, "peer reports its service healthy"
		if !healthy {
			ev, msg = LogPeerHealthDown, "peer reports its service unhealthy"
		} else {
			s.peerHealthySince = now
			s.failbackDone = false // failback waits failback_delay of the peer's health too
		}
		acts = append(acts, ActLog{slog.LevelWarn, ev, msg, []any{"peer", c.Other}})
	}
	claim := ""
	switch {
	case flags&FlagActive != 0 && flags&FlagPartial != 0:
		claim = partClaim
	case flags&FlagActive != 0:
		claim = s.peerValue
	case flags&FlagPreferred != 0:
		claim = s.thirdPreferred(c)
	}
	if !s.claimSeen {
		s.firstClaimAt = now
	}
	if !s.claimSeen || claim != s.claim {
		s.claimChanged = now
	}
	s.claim, s.claimSeen = claim, true
	if sent := ev.Sent; !sent.IsZero() {
		if sent.After(now) {
			sent = now
		}
		if sent.After(s.heardSent) {
			s.heardSent = sent
		}
	}
	if s.writing != "" && claim == "" && flags&FlagUnsure == 0 && s.claimOf(c, s.rec.content) != "" &&
		ev.Sent.After(s.writingAt) && ev.Sent.After(s.rec.at) && !now.Before(s.grace) {
		// The peer, sure of what the record holds, no longer holds it, as
		// this node last knew it to, and learned so after this node's
		// write began: the write has landed, though its answer has yet to
		// come (or never will). Known so as of the frame's sending, a
		// later read that shows the peer's value again shows its write.
		s.rec = knowledge{content: s.writing, at: ev.Sent}
	}
	if s.rec.content != "" && s.writing == "" && s.claimOf(c, s.rec.content) == s.claim && !ev.Sent.IsZero() && !now.Before(s.grace) {
		// The peer knew what this node knows when it sent this frame: a
		// write of the peer's before then would be known here. The frame
		// may have spent seconds on a slow link, so the agreement holds
		// as of the earliest it can have been sent, not of its arrival.
		// (Agreeing on knowing nothing is no agreement, and so is
		// agreeing while this node's own write is under way; frames read
		// during a freeze's grace may have waited in the socket all
		// along: they do not count.) A peer that claims nothing may know
		// nothing (its record missing, its process just started) or have
		// a write under way: then only this node's knowledge counts, as
		// of when it was current, while the peer says it is unsure, and
		// from a peer that does not say (an older version) until it has
		// said so for a peer_timeout on this link (a write of its own
		// would have shown in its word by then).
		at := ev.Sent
		if at.After(now) {
			at = now
		}
		if s.claim == "" && s.rec.at.Before(at) && (flags&FlagUnsure != 0 || now.Sub(later(s.linkSince, s.claimChanged)) < c.PeerTimeout) {
			at = s.rec.at
		}
		if at.After(s.agreedAt) {
			s.agreedAt = at
		}
	}
	if flags&FlagTook != 0 && flags&FlagActive != 0 && s.ep.on {
		// The peer's takeover of its episode wrote over this node's
		// value: a write of this node's in the episode landed, though it
		// may not know it (its answer lost, the record undated).
		acts = s.notePeerTook(c, "the peer says its takeover of this episode wrote over this node's value", acts)
	}
	stops := flags&FlagHandover != 0
	if stops && !s.peerStops {
		acts = append(acts, ActLog{slog.LevelInfo, LogPeerStopping, "peer is stopping and hands the record over", []any{"peer", c.Other}})
	}
	s.peerStops = stops
	return acts
}

// learn takes rec as what the record holds, as of at, unless this node
// knows something newer. It reports whether it took it. Within a down
// episode it also notes whether the peer wrote the record: then the peer
// was alive during the episode.
func (s *State) learn(c *Config, rec Record, at time.Time, acts []Action) ([]Action, bool) {
	now := s.lastTurn
	if at.Before(s.rec.at) {
		return acts, false
	}
	if s.rec.missing {
		acts = append(acts, ActLog{slog.LevelWarn, LogRecordBack, "the record exists again", []any{"content", rec.Content}})
	}
	before := s.rec.content
	onLink := s.madeOnLink(rec) // judged against what this node knew before
	s.rec = knowledge{content: rec.Content, at: at}
	if !s.ep.on {
		return acts, true
	}
	if s.link && now.Before(s.sanctioned) && (changedAfter(rec, s.linkSince) || rec.Modified.IsZero() && s.claimMoved()) {
		return acts, true // the peer moved the record on this link, at this node's request
	}
	if s.ep.first == "" {
		// Nothing was known when the episode began (a start without a
		// link, a record that was missing): the first thing learned is
		// its base, unless the peer has written since the episode began.
		s.ep.first = rec.Content
		// At start, only a write surely after the start is the peer's: a
		// record created just before both nodes start must not look like
		// the peer's takeover (the survivor would never take it).
		if s.peersValue(c, rec.Content) && (changedAfter(rec, s.ep.since) || s.ep.sawMissing && rec.Modified.IsZero()) {
			acts = s.notePeerTook(c, "the record, first known in this episode, holds the peer's value written since it began", acts)
		}
		return acts, true
	}
	// The peer's value, where the episode began with something else, or
	// where this node knew something else since (a move it asked for, an
	// edit), or after this node's own write of the episode: the peer
	// wrote it.
	changed := rec.Content != s.ep.first || before != "" && rec.Content != before
	base := before
	if base == "" {
		base = s.ep.first
	}
	touched := s.peerKnown && peerTouched(rec.Content, base, c.ThisValue, s.peerValue)
	if (s.peersValue(c, rec.Content) || touched) && (changed || s.ep.held) && !changedBefore(rec, s.ep.since) && !onLink &&
		!s.failbackLanding(c, rec, at) {
		acts = s.notePeerTook(c, "the record holds the peer's value, which it did not when this episode began", acts)
	}
	return acts, true
}

// notePeerTook records that the peer wrote the record during this down
// episode, so it was alive then: the flap hold keeps the record with it.
func (s *State) notePeerTook(c *Config, why string, acts []Action) []Action {
	if s.ep.peerTook {
		return acts
	}
	s.ep.peerTook = true
	return append(acts, ActLog{slog.LevelInfo, LogPeerTook, why, []any{"peer", c.Other, "content", s.rec.content}})
}

func (s *State) once(key string) bool {
	if s.alerted[key] {
		return false
	}
	s.alerted[key] = true
	return true
}

func (s *State) setGuard(why string, now time.Time) {
	if s.guard != why {
		s.guard, s.guardAt = why, now
	}
}

// hooks reports changes of where the record points, relative to this node.
func (s *State) hooks(c *Config, acts []Action) []Action {
	if s.rec.content == "" {
		return acts
	}
	active := s.rec.content == c.ThisValue
	if active == s.active && s.activeKnown {
		return acts
	}
	s.active, s.activeKnown = active, true
	if active {
		return append(acts, ActHook{Event: HookActive, Content: s.rec.content})
	}
	return append(acts, ActHook{Event: HookStandby, Content: s.rec.content})
}

// logAttempt thins repeated failure logs: the first three, then powers of two.
func logAttempt(n int) bool { return n <= 3 || n&(n-1) == 0 }

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
