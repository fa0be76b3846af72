package failover

import (
	"fmt"
	"log/slog"
	"time"
)

// takeOver acts on a lost link (rules 1 and 3, and the split-brain guard),
// unless this node was frozen, is still starting, or is unhealthy.
func (s *State) takeOver(c *Config, now time.Time, acts []Action) []Action {
	if s.link || !s.pendingDown || now.Before(s.grace) || s.restartHeld(c, now) || !s.everLinked && now.Sub(s.started) < c.PeerTimeout {
		return acts
	}
	if s.peer != declaredDown {
		s.peer, s.peerSince = declaredDown, now
		acts = append(acts, ActLog{slog.LevelWarn, LogPeerDown, "peer is down", []any{"peer", c.Other, "reason", s.linkReason(c)}},
			ActHook{Event: HookPeerDown, Content: s.rec.content})
	}
	if s.job != nil && s.job.purpose == Takeover {
		return acts // under way
	}
	if s.rec.missing {
		return acts // nothing to take until a look finds it back
	}
	if !s.healthy || s.failing {
		// Never onto a dead service; a check that failed once waits for
		// the next one.
		if !s.healthy {
			s.setGuard(GuardUnhealthy, now)
			// Once a probe has found the peer serving in this episode, the
			// peer is not "down": that alert stands.
			if !s.alerted[alertStillServing] && s.once(alertUnhealthySurvivor) {
				acts = append(acts, alertUnhealthyTakeover(c, s.downReason(c), s.healthReason))
			}
		}
		return acts
	}
	if s.ep.peerTook && c.Disable&DisableFlapHold == 0 {
		// The peer took the record during this episode, so it was alive a
		// moment ago: the record stays with it for the rest of the
		// episode, unless peer_check finds its service gone.
		s.setGuard(GuardPeerTookIt, now)
		if s.once(alertFlapping) {
			acts = append(acts, ActLog{slog.LevelWarn, LogFlapHold, "the peer took the record during this down episode: leaving it there",
				[]any{"peer", c.Other, "content", s.rec.content}})
		}
		if s.once(alertPeerTook) {
			acts = append(acts, alertPeerTookIt(c, s.rec.content))
		}
		if !c.PeerCheck {
			s.pendingDown = false
			return acts
		}
	}
	if c.PeerCheck {
		switch {
		case s.probe == probeNone && !s.probing:
			s.probing = true
			return append(acts, ActProbe{})
		case s.probe == probeFailed:
			return s.takeOnEvidence(c, now, acts)
		}
		return acts // a probe under way, or the peer serves: withhold
	}
	if !s.looked && !s.lookFailed {
		// The lookup at start is still out: its answer is the base. A
		// takeover judged without one would take a write of the peer's
		// made since this node started (it reads the peer's value,
		// undated) for the record as it found it, and write over a live
		// peer. (Once a read has failed, the provider is in trouble:
		// the takeover's own job reads, retries, and says that its
		// update fails, which a lookup that waits would not.)
		return acts
	}
	s.pendingDown = false
	return s.start(c, Takeover, c.ThisValue, !s.ep.took, s.titleDown(c), now, acts)
}

// restartHeld reports whether a peer that said it restarts still has the
// record kept for it.
func (s State) restartHeld(c *Config, now time.Time) bool {
	return now.Before(s.restartBy) && c.Disable&DisableRestartHold == 0
}

func (s *State) titleDown(c *Config) string {
	return fmt.Sprintf("[%s] Server '%s' is now down (%s)", c.This, c.Other, s.downReason(c))
}

// downReason is why the peer is down: the link's loss, what keeps the link
// from coming up, and what the last failed probe found.
func (s State) downReason(c *Config) string {
	if s.probe != probeFailed {
		return s.linkReason(c)
	}
	return fmt.Sprintf("%s; its service does not answer: %s", s.linkReason(c), s.probeDetail)
}

// linkReason is why there is no link: its loss, and the problem that keeps
// it from coming up, if one does (the peer may well be alive: the
// problem's push says so).
func (s State) linkReason(c *Config) string {
	for _, p := range s.problems {
		if handshakeProblem(p.Kind) {
			return s.reason + "; " + problemTitle(c, p.Kind)
		}
	}
	switch {
	case s.restartBy.IsZero():
	case s.lastTurn.Before(s.restartBy):
		return fmt.Sprintf("%s, back within %s", s.reason, s.restartGrace)
	default:
		return fmt.Sprintf("%s, and not back within the %s it asked for", s.reason, s.restartGrace)
	}
	return s.reason
}

// takeOnEvidence takes the record because peer_check finds the peer's
// service gone: whatever the record holds, unless the peer took it back
// after this node's own write of this episode (then both nodes see the
// other's service gone, and writing again would bounce the record).
func (s *State) takeOnEvidence(c *Config, now time.Time, acts []Action) []Action {
	if s.ep.contest || s.job != nil && s.job.purpose == Takeover {
		return acts
	}
	s.pendingDown = false
	s.ep.evidence = true
	s.watchNext = now.Add(WatchEvery)
	s.guard = guardNone
	return s.start(c, Takeover, c.ThisValue, !s.ep.took, s.titleDown(c), now, acts)
}

// watch keeps an eye on the record while the link is down and the peer's
// service does not answer: a peer whose own service died can still take
// the record (it cannot know its service is dead without a health check).
func (s *State) watch(c *Config, now time.Time, acts []Action) []Action {
	if s.link || !c.PeerCheck || !s.ep.on {
		return acts
	}
	if s.probeDue() && !now.Before(s.probeNext) {
		// Probing goes on for as long as the link is down.
		s.probing = true
		acts = append(acts, ActProbe{})
	}
	// A correction under way (paused for the preferred node's drift check)
	// gives way: the record is to come here anyway.
	busy := s.job != nil && s.job.purpose != Correction
	if s.pendingDown || !s.ep.evidence || s.ep.contest || s.probe != probeFailed || now.Before(s.watchNext) || busy ||
		!s.healthy || s.failing || s.rec.missing || now.Before(s.grace) || s.restartHeld(c, now) {
		return acts
	}
	s.watchNext = now.Add(WatchEvery)
	return s.start(c, Takeover, c.ThisValue, false, s.titleDown(c), now, acts)
}

// probeDue reports whether the next probe is watch's to send: once a
// takeover has a verdict, or after a freeze cleared the verdict of a node
// that no longer waits to take over (takeOver probes for one that does).
func (s State) probeDue() bool {
	return !s.link && s.ep.on && !s.probing && (s.probe != probeNone || !s.pendingDown)
}

func (s *State) probed(c *Config, ev EvProbe, acts []Action) []Action {
	if !s.probing || s.link {
		return acts
	}
	s.probing = false
	s.probeNext = ev.At.Add(c.Keepalive)
	if ev.Serving {
		s.probe = probeServing
		// The peer's service answers: the evidence this node wrote on is
		// gone, and a write of the peer's from now on is a live peer's,
		// not its reply to this node's write. A failure after this is new
		// evidence, worth one write again.
		s.ep.wrote, s.ep.contest = false, false
		if s.rec.content == c.ThisValue && !s.pendingDown {
			return acts // the record is here; the peer's service answers too
		}
		s.setGuard(GuardPeerServing, ev.At)
		if s.once(alertStillServing) {
			acts = append(acts,
				ActLog{slog.LevelWarn, LogGuardWithhold, "link down, peer still serving: not taking over", []any{"peer", c.Other, "check", ev.Detail}},
				alertPeerServing(c, ev.Detail))
		}
		return acts
	}
	if s.probe != probeFailed {
		s.probeDetail = ev.Detail
		acts = append(acts, ActLog{slog.LevelWarn, LogGuardRelease, "peer's service does not answer: taking over", []any{"peer", c.Other, "check", ev.Detail}})
	}
	s.probe = probeFailed
	s.guard = guardNone
	if !s.pendingDown && !s.ep.evidence && s.rec.content != c.ThisValue {
		// A withheld survivor, re-armed by the evidence.
		s.pendingDown = true
	}
	return acts
}

// withhold is the guard's decision when the peer took the record during
// this episode: it is alive, so this node leaves the record; one alert.
func (s *State) withhold(c *Config, content string, now time.Time, acts []Action) []Action {
	s.ep.peerTook = true
	s.setGuard(GuardPeerTookIt, now)
	if c.PeerCheck && !s.ep.evidence {
		s.pendingDown = true // keep probing: re-armed if the peer's service goes
	}
	if !s.once(alertPeerTook) {
		return acts
	}
	return append(acts,
		ActLog{slog.LevelWarn, LogGuardWithhold, "the peer took the record during this episode: it is alive; not writing",
			[]any{"peer", c.Other, "content", content}},
		alertPeerTookIt(c, content))
}
