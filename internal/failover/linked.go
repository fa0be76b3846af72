package failover

import (
	"fmt"
	"log/slog"
	"time"
)

// health applies a change of this node's own service health.
func (s *State) health(ev EvHealth, acts []Action) []Action {
	// A healthy node whose last check failed (fewer than fall failures
	// so far) writes nothing of its own: when both services die at once,
	// the one whose monitor notices second must not move the record onto
	// its own dead service.
	s.failing = ev.Healthy && ev.Reason != ""
	s.lastCheck = ev.Reason
	if ev.Healthy == s.healthy {
		return acts
	}
	s.healthy, s.healthySince, s.healthReason = ev.Healthy, ev.At, ev.Reason
	if ev.Healthy {
		s.failbackDone = false // failback waits failback_delay of health too
		if s.guard == GuardUnhealthy {
			s.guard = guardNone
		}
		return append(acts, ActLog{slog.LevelInfo, LogHealthUp, "this node's service is healthy again", nil})
	}
	return append(acts, ActLog{slog.LevelWarn, LogHealthDown, "this node's service is unhealthy", []any{"reason", ev.Reason}})
}

// sound reports whether this node may take the record onto itself: its
// service is healthy and its last check passed.
func (s State) sound() bool { return s.healthy && !s.failing }

// peerJobDue reports whether the peer's keepalives ask this node to move
// the record (the peer is unhealthy or stopping, and holds it).
func (s State) peerJobDue() bool {
	return s.link && s.peerHolds() && s.job == nil && (s.peerStops || !s.peerHealthy) && s.sound()
}

// peerHolds reports whether the peer holds the record, as a move at its
// request sees it: as this node knows it, or, when the peer stops and
// hands the record over, as the peer says. A handover cannot wait for the
// paced read that settles a disagreement (a peer's write that raced this
// node's last read is found only PeerJobGap later): the stopping peer
// waits HandoverLimit at most, then leaves with the record on it. The job
// reads first, so a word that is stale costs a read, never a write.
func (s State) peerHolds() bool {
	return s.rec.content == s.peerValue || s.peerStops && s.claim != "" && s.claim == s.peerValue
}

// moveForHealth moves the record off an unhealthy or stopping peer while
// the link is up; both unhealthy: no write, one alert.
func (s *State) moveForHealth(c *Config, now time.Time, acts []Action) []Action {
	if s.healthy || s.peerHealthy {
		delete(s.alerted, alertBothUnhealthy) // alerted again if both fail again
	}
	if !s.link || !s.peerHolds() || s.job != nil {
		return acts
	}
	if !s.peerHealthy && !s.healthy && s.once(alertBothUnhealthy) {
		return append(acts,
			ActLog{slog.LevelError, LogBothUnhealthy, "both services unhealthy; record left as it is", []any{"record", s.rec.content}},
			alertBothDown(c, s.rec.content))
	}
	if !s.peerJobDue() || now.Before(s.peerJobNext) {
		return acts
	}
	s.peerJobNext = now.Add(PeerJobGap)
	if s.peerStops {
		title := fmt.Sprintf("[%s] Server '%s' is stopping: record handed over", c.This, c.Other)
		return s.start(c, Handover, c.ThisValue, true, title, now, acts)
	}
	// Announced only if it writes: a keepalive the peer sent before it
	// learned of this node's move can claim the record for a moment
	// more, and the check it causes finds the record right.
	title := fmt.Sprintf("[%s] Server '%s' reports its service unhealthy", c.This, c.Other)
	return s.start(c, HealthMove, c.ThisValue, false, title, now, acts)
}

// declareUp ends a down episode: once the link has held for
// failback_delay, the peer is up, whatever either node's health; not on a
// link that falls silent (the peer may have lost it already, and its
// episode goes on): the next keepalive ends it.
func (s *State) declareUp(c *Config, now time.Time, acts []Action) []Action {
	if !s.link || !s.ep.on && s.peer == declaredUp || now.Sub(s.upFrom()) < c.FailbackDelay || now.Sub(s.lastHeard) > 2*c.Keepalive {
		return acts
	}
	s.ep, s.upOn = episode{}, s.linkSince
	clear(s.alerted) // the episode's one-shot alerts may go out again in the next
	if s.peer == declaredUp {
		return acts
	}
	s.wasDown = s.peer == declaredDown
	s.peer, s.peerSince = declaredUp, now
	return append(acts, ActLog{slog.LevelInfo, LogPeerUp, "peer is up", []any{"peer", c.Other, "linked_for", now.Sub(s.linkSince).Round(time.Millisecond)}},
		ActHook{Event: HookPeerUp, Content: s.rec.content})
}

// failBack is rule 4: after failback_delay of unbroken link and of both
// nodes' health, the preferred node returns the record to its preferred
// value.
func (s *State) failBack(c *Config, now time.Time, acts []Action) []Action {
	if !s.link || s.failbackDone || now.Sub(s.failbackFrom()) < c.FailbackDelay || !s.sound() || s.rec.missing ||
		!s.owner(c) || !s.peerHealthy || now.Before(s.failbackNext) || len(s.mismatch) > 0 {
		// Not ours to write; or not yet; or a missing record (once a
		// look finds it back); or the peer is unhealthy (its return to
		// health starts the clock again); or the two nodes' record sets
		// differ (a new link tells again).
		return acts
	}
	if now.Sub(s.lastHeard) > 2*c.Keepalive || s.disputed(c) {
		// Not on a link that falls silent (the peer may be taking over),
		// nor while a disagreement with the peer's word waits for its
		// verification read.
		return acts
	}
	s.failbackDone = true
	if s.job != nil && s.job.content == c.Preferred {
		return acts
	}
	title, event := fmt.Sprintf("[%s] Server '%s' is now up", c.This, c.Other), AlertUp
	if !s.wasDown && s.healthySince.After(s.linkSince) {
		// The record comes back after this node's service recovered.
		title = fmt.Sprintf("[%s] Service healthy again: record back to '%s'", c.This, c.Preferred)
		event = AlertHealth
	}
	acts = s.start(c, Failback, c.Preferred, s.wasDown, title, now, acts)
	s.job.event = event
	return acts
}

// disputed reports whether the peer's word disagrees with this node's
// knowledge and it is time to read. (The peer's word carries no age: it
// may rest on a read older than what this node knows. A read settles it;
// if the same disagreement stays, it is read again after 5 s, then twice
// as long each time, up to verifyMax: a peer whose belief is stale costs
// few reads, and a write that raced the first read is still found.)
func (s State) disputed(c *Config) bool {
	return s.conflict(c) && (s.claim != s.verifiedClaim || s.rec.content != s.verifiedRec || !s.lastTurn.Before(s.verifyAgain))
}

// conflict reports whether the peer's word disagrees with this node's
// knowledge.
func (s State) conflict(c *Config) bool {
	if !s.claimSeen {
		return false
	}
	if s.rec.missing {
		return s.claim != "" // the peer says it holds a record this node last found missing
	}
	return s.claimOf(c, s.rec.content) != s.claim
}

// verify reads the record when the peer's word and this node's knowledge
// disagree, or when the record is unknown. At most one such read per
// PeerJobGap.
func (s *State) verify(c *Config, now time.Time, acts []Action) []Action {
	if s.link && s.claimSeen && !s.conflict(c) {
		// Agreed: a disagreement that comes back later is a new one
		// (the record moved again), read again after PeerJobGap, not
		// after the backoff of the last one.
		s.verifiedClaim, s.verifiedRec = "-", "-"
	}
	if !s.link || s.reading || s.job != nil || now.Before(s.verifyNext) || !s.looked {
		return acts
	}
	if !s.disputed(c) && (s.rec.content != "" || s.rec.missing) {
		return acts
	}
	if s.claim == s.verifiedClaim && s.rec.content == s.verifiedRec {
		s.verifyGap = min(2*s.verifyGap, verifyMax) // the same disagreement again
	} else {
		s.verifyGap = PeerJobGap
	}
	s.verifiedClaim, s.verifiedRec, s.verifyAgain = s.claim, s.rec.content, now.Add(s.verifyGap)
	s.verifyNext = now.Add(PeerJobGap)
	s.reading = true
	return append(acts, ActRead{Verify: true})
}

// stop begins rule 7: with handover_on_stop, a node the record points to
// first hands it to a linked, healthy peer; one that restarts does not (its
// peer holds the record for it).
func (s *State) stop(c *Config, restart bool, now time.Time, acts []Action) []Action {
	s.stopping = true
	s.stopAt, s.stopBy = now, now
	if restart {
		msg := "restarting: the peer is told to wait for this node"
		switch {
		case !s.link:
			msg = "restarting, with no link to tell the peer: it will treat this node as lost"
		case s.rec.content == c.ThisValue:
			msg = "restarting: the peer keeps the record on this node meanwhile"
		}
		acts = append(acts, ActLog{slog.LevelInfo, LogRestarting, msg, []any{"peer", c.Other, "grace", c.RestartGrace}})
	} else if c.Handover && s.link && s.peerHealthy && !s.peerStops && s.rec.content == c.ThisValue {
		s.stopBy = now.Add(HandoverLimit)
		s.handover = true
		acts = append(acts, ActLog{slog.LevelInfo, LogHandingOver, "stopping: handing the record to the peer first", []any{"peer", c.Other}})
	}
	if s.job != nil {
		acts = append(acts, ActCancel{})
		s.job = nil
	}
	return acts
}
