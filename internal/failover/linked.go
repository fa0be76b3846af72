package failover

import (
	"fmt"
	"log/slog"
	"time"
)

// health applies a change of this node's own service health.
func (s *State) health(ev EvHealth, acts []Action) []Action {
	// A healthy node whose last check failed (fewer than fall failures
	// so far) does not take the record off an unhealthy peer: when both
	// services die at once, the one whose monitor notices second must not
	// move the record onto its own dead service.
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

// moveForHealth moves the record off an unhealthy or stopping peer while
// the link is up; both unhealthy: no write, one alert.
func (s *State) moveForHealth(c *Config, now time.Time, acts []Action) []Action {
	if !s.link || s.holder() != s.peerValue || s.job != nil && s.job.content == c.ThisValue {
		return acts
	}
	switch {
	case s.peerStops && s.healthy:
		title := fmt.Sprintf("[%s] Server '%s' is stopping: record handed over", c.This, c.Other)
		return s.start(c, Handover, c.ThisValue, true, title, now, acts)
	case !s.peerHealthy && s.healthy && !s.failing:
		// Announced only if it writes: a keepalive the peer sent before it
		// learned of this node's move can claim the record for a moment
		// more, and the check it causes finds the record right.
		title := fmt.Sprintf("[%s] Server '%s' reports its service unhealthy", c.This, c.Other)
		return s.start(c, HealthMove, c.ThisValue, false, title, now, acts)
	case !s.peerHealthy && !s.healthy && s.once(alertBothUnhealthy):
		return append(acts,
			ActLog{slog.LevelError, LogBothUnhealthy, "both services unhealthy; record left as it is", []any{"record", s.holder()}},
			alertBothDown(c, s.holder()))
	}
	return acts
}

// failBack is rule 4: after failback_delay of unbroken link (and of this
// node's health), the preferred node returns the record to its preferred
// value.
func (s *State) failBack(c *Config, now time.Time, acts []Action) []Action {
	if !s.link || s.failbackDone {
		return acts
	}
	if now.Sub(s.failbackFrom()) < c.FailbackDelay || !s.healthy {
		return acts
	}
	s.failbackDone = true
	if s.peer != declaredUp {
		wasDown := s.peer == declaredDown
		s.peer, s.peerSince = declaredUp, now
		acts = append(acts, ActLog{slog.LevelInfo, LogPeerUp, "peer is up", []any{"peer", c.Other, "linked_for", now.Sub(s.linkSince).Round(time.Millisecond)}},
			ActHook{Event: HookPeerUp, Content: s.holder()})
		s.alerted[alertWasDown] = wasDown
	}
	if !s.owner(c) || !s.peerHealthy && s.holder() == c.ThisValue {
		return acts
	}
	if s.job != nil && s.job.content == c.Preferred {
		return acts
	}
	title := fmt.Sprintf("[%s] Server '%s' is now up", c.This, c.Other)
	if !s.alerted[alertWasDown] && s.healthySince.After(s.linkSince) {
		// The record comes back after this node's service recovered.
		title = fmt.Sprintf("[%s] Service healthy again: record back to '%s'", c.This, c.Preferred)
	}
	return s.start(c, Failback, c.Preferred, s.alerted[alertWasDown], title, now, acts)
}

// stop begins rule 7: with handover_on_stop, a node the record points to
// first hands it to a linked, healthy peer.
func (s *State) stop(c *Config, now time.Time, acts []Action) []Action {
	s.stopping = true
	s.stopBy = now
	if c.Handover && s.link && s.peerHealthy && !s.peerStops && s.record == c.ThisValue {
		s.stopBy = now.Add(HandoverLimit)
		s.handover = true
		s.peerActive = false
		acts = append(acts, ActLog{slog.LevelInfo, LogHandoverStarted, "stopping: handing the record to the peer first", []any{"peer", c.Other}})
	}
	if s.job != nil {
		acts = append(acts, ActCancel{})
		s.job = nil
	}
	return acts
}
