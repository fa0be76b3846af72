package failover

import (
	"fmt"
	"log/slog"
	"time"
)

// Next applies one event and returns the new state and what to do. It is
// pure: it reads the event's time and nothing else of the world, so every
// rule is a table test and the simulator (package sim) can replay any
// schedule of events.
//
// Who may write the record (docs/WRITE-RULE.md has the reasoning):
//
//   - While the link is up, only the failback owner writes, and only the
//     preferred value (rule 4); the other node writes only when the owner
//     says it is unhealthy or hands the record over.
//   - After a link loss, the survivor writes its own value only if the
//     record still holds what it held when the link was last up. If it has
//     changed since to the peer's value, the peer acted during this episode
//     and is alive: the survivor withholds and alerts once. A record that
//     points at neither node is taken by the preferred node at once, and by
//     the other only after a short pause and a second read, so the
//     preferred node wins a tie.
func Next(c *Config, s State, ev Event) (State, []Action) {
	var acts []Action
	now := ev.When()
	if s.alerted == nil {
		s.alerted = map[string]bool{}
	}

	// Rule 3: if this node itself was frozen, silence is not the peer's
	// fault: give the link a full timeout to come back before acting.
	if gap := now.Sub(s.lastTurn); gap > c.FreezeThreshold() {
		s.extendGrace(now.Add(c.PeerTimeout))
		s.lastHeard = now
		acts = append(acts, ActLog{slog.LevelWarn, LogFrozen, "this node was frozen; waiting before acting on the link",
			[]any{"gap", gap.Round(time.Millisecond), "grace", c.PeerTimeout}})
	}
	s.lastTurn = now

	switch ev := ev.(type) {
	case EvHeard:
		s.lastHeard = now
		acts = s.heard(c, ev.Flags, now, acts)
	case EvInfo:
		if ev.Value != "" && ev.Value != s.peerValue {
			s.peerValue = ev.Value
		}
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
	case EvRead:
		s.record, s.recordAt = ev.Record.Content, now
		if ev.Drift {
			acts = s.drift(c, ev.Record.Content, now, acts)
		} else {
			acts = append(acts, ActLog{slog.LevelInfo, LogRecordFound, "record found", []any{"content", ev.Record.Content}})
		}
	case EvReadFailed:
		if logAttempt(ev.Attempt) {
			acts = append(acts, ActLog{slog.LevelWarn, LogReadFailed, "cannot read the record", []any{"error", ev.Err, "attempt", ev.Attempt, "drift", ev.Drift}})
		}
	case EvAttempt:
		acts = s.attempt(c, ev, acts)
	case EvDone:
		acts = s.done(c, ev, acts)
	case EvHealth:
		acts = s.health(ev, acts)
	case EvProbe:
		acts = s.probed(c, ev, acts)
	case EvStop:
		acts = s.stop(c, now, acts)
	}

	// Rule 3: silence for peer_timeout is a lost link.
	if s.link && now.Sub(s.lastHeard) >= c.PeerTimeout {
		reason := fmt.Sprintf("ping timeout (nothing heard for %s)", now.Sub(s.lastHeard).Round(time.Millisecond))
		acts = append(acts, ActClose{reason})
		acts = s.lost(c, reason, now, acts)
	}

	if s.stopping {
		// Rule 7 with handover: leave once the peer holds the record, or
		// the link is gone, or the handover took too long.
		if !s.link || s.peerActive || !now.Before(s.stopBy) {
			acts = append(acts, ActExit{})
		}
		return s, s.hooks(c, acts)
	}

	acts = s.takeOver(c, now, acts)
	acts = s.moveForHealth(c, now, acts)
	acts = s.failBack(c, now, acts)
	acts = s.scheduleDrift(c, now, acts)
	return s, s.hooks(c, acts)
}

func (s *State) extendGrace(t time.Time) {
	if t.After(s.grace) {
		s.grace = t
	}
}

func (s *State) linkUp(c *Config, now time.Time, acts []Action) []Action {
	if s.link {
		acts = append(acts, ActLog{slog.LevelInfo, LogLinkReplaced, "newer link replaced the current one", nil})
	} else {
		acts = append(acts, ActLog{slog.LevelInfo, LogLinkUp, "link to peer up", []any{"peer", c.Other}})
	}
	s.link, s.everLinked, s.pendingDown = true, true, false
	s.linkSince, s.lastHeard = now, now
	s.failbackDone = false
	s.peerActive, s.peerStops, s.peerHealthy = false, false, true
	s.probe, s.guard = probeNone, guardNone
	clear(s.alerted)
	if s.job != nil && s.job.purpose == Takeover {
		acts = append(acts, ActCancel{}, ActLog{slog.LevelInfo, LogTakeoverAbandoned, "peer is back; takeover abandoned",
			[]any{"attempts", s.job.failures}})
		s.job = nil
	}
	return acts
}

func (s *State) lost(c *Config, reason string, now time.Time, acts []Action) []Action {
	s.base = s.holder()
	s.link, s.reason, s.pendingDown, s.lostAt = false, reason, true, now
	s.peerActive, s.peerStops = false, false
	return append(acts, ActLog{slog.LevelWarn, LogLinkDown, "link to peer lost", []any{"peer", c.Other, "reason", reason}})
}

// heard applies the flags of a keepalive.
func (s *State) heard(c *Config, flags byte, now time.Time, acts []Action) []Action {
	healthy := flags&FlagHealthy != 0
	if healthy != s.peerHealthy {
		s.peerHealthy = healthy
		ev, msg := LogPeerHealthUp, "peer reports its service healthy"
		if !healthy {
			ev, msg = LogPeerHealthDown, "peer reports its service unhealthy"
		}
		acts = append(acts, ActLog{slog.LevelWarn, ev, msg, []any{"peer", c.Other}})
	}
	s.peerActive = flags&FlagActive != 0
	if s.peerActive && s.record != s.peerValue && (s.job == nil || s.job.purpose == Failback) {
		s.record, s.recordAt = s.peerValue, now // the peer's word is the newest
	}
	stops := flags&FlagHandover != 0
	if stops && !s.peerStops {
		acts = append(acts, ActLog{slog.LevelInfo, LogPeerStopping, "peer is stopping and hands the record over", []any{"peer", c.Other}})
	}
	s.peerStops = stops
	return acts
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
	if s.record == "" {
		return acts
	}
	active := s.record == c.ThisValue
	if active == s.active && s.activeKnown {
		return acts
	}
	s.active, s.activeKnown = active, true
	if active {
		return append(acts, ActHook{Event: HookActive, Content: s.record})
	}
	return append(acts, ActHook{Event: HookStandby, Content: s.record})
}

// logAttempt thins repeated failure logs: the first three, then powers of two.
func logAttempt(n int) bool { return n <= 3 || n&(n-1) == 0 }
