package failover

import (
	"fmt"
	"log/slog"
	"time"
)

// takeOver acts on a lost link (rules 1 and 3, and the split-brain guard),
// unless this node was frozen, is still starting, or is unhealthy.
func (s *State) takeOver(c *Config, now time.Time, acts []Action) []Action {
	if s.link || !s.pendingDown || now.Before(s.grace) || !s.everLinked && now.Sub(s.started) < c.PeerTimeout {
		return acts
	}
	if s.peer != declaredDown {
		s.peer, s.peerSince = declaredDown, now
		acts = append(acts, ActLog{slog.LevelWarn, LogPeerDown, "peer is down", []any{"peer", c.Other, "reason", s.reason}},
			ActHook{Event: HookPeerDown, Content: s.record})
		s.announced = false
	}
	if !s.healthy {
		s.setGuard(GuardUnhealthy, now)
		// Once a probe has found the peer serving in this episode, the
		// peer is not "down": that alert stands.
		if !s.alerted[alertStillServing] && s.once(alertUnhealthySurvivor) {
			acts = append(acts, alertUnhealthyTakeover(c, s.reason, s.healthReason))
		}
		return acts
	}
	if s.peer == declaredDown && s.announced && s.base != "" && s.base == s.peerValue &&
		now.Sub(s.lostAt) < c.FailbackDelay {
		// A link that came back and was lost again within one down
		// episode, with the record on the peer: the peer took it during
		// this episode, so it was alive a moment ago. Taking the record
		// back on every cut of a flapping link would bounce it between
		// two live nodes; it moves again only after failback_delay of
		// continuous loss.
		if s.once(alertFlapping) {
			acts = append(acts, ActLog{slog.LevelWarn, LogFlapHold, "link flapping: leaving the record on the peer unless the link stays down",
				[]any{"peer", c.Other, "for", c.FailbackDelay}})
		}
		return acts
	}
	if c.PeerCheck {
		switch s.probe {
		case probeNone:
			s.probe = probeRunning
			return append(acts, ActProbe{})
		case probeRunning:
			return acts
		case probeServing:
			if now.Before(s.probeNext) {
				return acts
			}
			s.probe = probeRunning
			return append(acts, ActProbe{})
		}
	}
	s.pendingDown = false
	title := fmt.Sprintf("[%s] Server '%s' is now down (%s)", c.This, c.Other, s.reason)
	// The first takeover of a down episode is announced whatever it finds.
	announce := !s.announced
	s.announced = true
	return s.start(c, Takeover, c.ThisValue, announce, title, now, acts)
}

func (s *State) probed(c *Config, ev EvProbe, acts []Action) []Action {
	if s.probe != probeRunning || s.link {
		return acts
	}
	if ev.Serving {
		s.probe, s.probeNext = probeServing, ev.At.Add(c.Keepalive)
		s.setGuard(GuardPeerServing, ev.At)
		if s.once(alertStillServing) {
			acts = append(acts,
				ActLog{slog.LevelWarn, LogGuardWithhold, "link down, peer still serving: not taking over", []any{"peer", c.Other, "check", ev.Detail}},
				alertPeerServing(c, ev.Detail))
		}
		return acts
	}
	s.probe = probeFailed
	s.guard = guardNone
	s.reason = fmt.Sprintf("%s; its service does not answer: %s", s.reason, ev.Detail)
	return append(acts, ActLog{slog.LevelWarn, LogGuardRelease, "peer's service does not answer: taking over", []any{"peer", c.Other, "check", ev.Detail}})
}

// withhold is the guard's decision when the peer took the record during
// this episode: it is alive, so this node leaves the record; one alert.
func (s *State) withhold(c *Config, content string, now time.Time, acts []Action) []Action {
	s.setGuard(GuardPeerTookIt, now)
	if !s.once(alertPeerTook) {
		return acts
	}
	return append(acts,
		ActLog{slog.LevelWarn, LogGuardWithhold, "the peer took the record during this episode: it is alive; not writing",
			[]any{"peer", c.Other, "content", content}},
		alertPeerTookIt(c, content))
}
