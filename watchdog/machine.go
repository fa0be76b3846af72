package watchdog

import (
	"fmt"
	"log/slog"
	"time"
)

// The state machine decides; the node loop carries out. next is pure: it
// reads the event's time and nothing else of the world, so every rule of
// SPEC.md's Behaviour section is a table test (machine_test.go).

// machineConfig is what the state machine knows of the configuration.
type machineConfig struct {
	This, Other   string
	Record        string // the record's name, for messages
	ThisValue     string // what this node writes when it takes over
	Preferred     string // what the record holds when both nodes are up
	FailbackOwner bool   // this node writes Preferred on failback
	PeerTimeout   time.Duration
	FailbackDelay time.Duration
	// Keepalive is the keepalive interval; the freeze threshold is one
	// keepalive less than PeerTimeout, since the peer counts its silence
	// from our last frame, sent up to one interval before a freeze.
	Keepalive time.Duration
}

// freezeThreshold is the gap between two turns of the loop beyond which this
// node counts as having been frozen. The loop turns at least every half
// keepalive interval, so the threshold is at least twice a normal gap.
func (c *machineConfig) freezeThreshold() time.Duration {
	return max(c.PeerTimeout-c.Keepalive, c.Keepalive)
}

// PeerState is the peer as this node sees it.
type PeerState string

const (
	PeerConnecting PeerState = "connecting" // starting, or the link is being re-established
	PeerUp         PeerState = "up"         // linked
	PeerDown       PeerState = "down"       // declared down, not linked
)

type declared int

const (
	declaredNone declared = iota // since start, nothing declared yet
	declaredUp
	declaredDown
)

type purpose int

const (
	takeover purpose = iota + 1
	failback
)

func (p purpose) String() string {
	if p == failback {
		return "failback"
	}
	return "takeover"
}

// job is a record update in flight: re-read, write if different, retry.
type job struct {
	id       uint64
	content  string
	purpose  purpose
	announce bool   // push the outcome even if nothing changed
	title    string // the push title for this transition
	failures int
	since    time.Time
	lastErr  string
}

type state struct {
	started  time.Time
	lastTurn time.Time

	link       bool
	everLinked bool
	linkSince  time.Time
	lastHeard  time.Time
	reason     string // why the link was last lost
	lostAt     time.Time

	peer        declared
	peerSince   time.Time
	pendingDown bool      // the link is lost and this node has not acted on it yet
	grace       time.Time // after a freeze of this node: no action before this

	failbackDone bool // for the current link

	job    *job
	jobSeq uint64

	record   string // the record's content as last read or written; "" unknown
	recordAt time.Time
}

func newState(now time.Time) state {
	return state{started: now, lastTurn: now, pendingDown: true, reason: "no link since start"}
}

// peerState is what /status shows.
func (s state) peerState() PeerState {
	switch {
	case s.link:
		return PeerUp
	case s.peer == declaredDown:
		return PeerDown
	}
	return PeerConnecting
}

// Events.
type (
	event interface{ when() time.Time }

	evTick     struct{ at time.Time }
	evLinkUp   struct{ at time.Time }
	evHeard    struct{ at time.Time }
	evLinkDown struct {
		at     time.Time
		reason string
		// peerAlive: the peer closed the link itself because it heard
		// nothing from us (or could not parse us). It is alive; the
		// silence was ours or the network's.
		peerAlive bool
	}
	// evRead is the result of a plain read of the record.
	evRead struct {
		at      time.Time
		content string
	}
	// evAttempt is a failed attempt of job.
	evAttempt struct {
		at  time.Time
		job uint64
		err string
	}
	// evDone is the end of job: the record holds content; changed if this
	// job wrote it.
	evDone struct {
		at      time.Time
		job     uint64
		content string
		changed bool
	}
)

func (e evTick) when() time.Time     { return e.at }
func (e evLinkUp) when() time.Time   { return e.at }
func (e evHeard) when() time.Time    { return e.at }
func (e evLinkDown) when() time.Time { return e.at }
func (e evRead) when() time.Time     { return e.at }
func (e evAttempt) when() time.Time  { return e.at }
func (e evDone) when() time.Time     { return e.at }

// Actions.
type (
	action interface{ isAction() }

	// actClose closes the current link.
	actClose struct{ reason string }
	// actEnsure starts job: any job still running is cancelled first.
	actEnsure struct {
		job     uint64
		content string
	}
	// actCancel stops the running job.
	actCancel struct{}
	// actNotify sends one push.
	actNotify struct{ title, body string }
	// actLog writes one log line; event is a stable name per transition.
	actLog struct {
		level slog.Level
		event string
		msg   string
		attrs []any
	}
)

func (actClose) isAction()  {}
func (actEnsure) isAction() {}
func (actCancel) isAction() {}
func (actNotify) isAction() {}
func (actLog) isAction()    {}

// next applies one event and returns the new state and what to do.
func next(c *machineConfig, s state, ev event) (state, []action) {
	var acts []action
	now := ev.when()

	// Rule 3: if this node itself was frozen, silence is not the peer's
	// fault: give the link a full timeout to come back before acting.
	if gap := now.Sub(s.lastTurn); gap > c.freezeThreshold() {
		s.grace = now.Add(c.PeerTimeout)
		s.lastHeard = now
		acts = append(acts, actLog{slog.LevelWarn, "frozen", "this node was frozen; waiting before acting on the link",
			[]any{"gap", gap.Round(time.Millisecond), "grace", c.PeerTimeout}})
	}
	s.lastTurn = now

	switch ev := ev.(type) {
	case evHeard:
		s.lastHeard = now
	case evLinkUp:
		if s.link {
			acts = append(acts, actLog{slog.LevelInfo, "link_replaced", "newer link replaced the current one", nil})
		} else {
			acts = append(acts, actLog{slog.LevelInfo, "link_up", "link to peer up", []any{"peer", c.Other}})
		}
		s.link, s.everLinked, s.pendingDown = true, true, false
		s.linkSince, s.lastHeard = now, now
		s.failbackDone = false
		if s.job != nil && s.job.purpose == takeover {
			acts = append(acts, actCancel{}, actLog{slog.LevelInfo, "takeover_abandoned", "peer is back; takeover abandoned",
				[]any{"attempts", s.job.failures}})
			s.job = nil
		}
	case evLinkDown:
		if !s.link {
			break
		}
		s.lost(ev.reason, now)
		acts = append(acts, actLog{slog.LevelWarn, "link_down", "link to peer lost", []any{"peer", c.Other, "reason", ev.reason}})
		if ev.peerAlive {
			// The peer is alive and says it heard nothing from us: we were
			// frozen, or the network lost our frames. Give the link a full
			// timeout to come back before taking the silence for the
			// peer's failure.
			if g := now.Add(c.PeerTimeout); g.After(s.grace) {
				s.grace = g
			}
			acts = append(acts, actLog{slog.LevelWarn, "peer_alive", "the peer closed the link alive; waiting for it to come back", []any{"grace", c.PeerTimeout}})
		}
	case evRead:
		s.record, s.recordAt = ev.content, now
	case evAttempt:
		acts = s.attempt(c, ev, acts)
	case evDone:
		acts = s.done(c, ev, acts)
	}

	// Rule 3: silence for peer_timeout is a lost link.
	if s.link && now.Sub(s.lastHeard) >= c.PeerTimeout {
		reason := fmt.Sprintf("ping timeout (nothing heard for %s)", now.Sub(s.lastHeard).Round(time.Millisecond))
		s.lost(reason, now)
		acts = append(acts, actClose{reason},
			actLog{slog.LevelWarn, "link_down", "link to peer lost", []any{"peer", c.Other, "reason", reason}})
	}

	// Rules 1 and 3: act on a lost link, unless frozen or still starting.
	if !s.link && s.pendingDown && !now.Before(s.grace) &&
		(s.everLinked || now.Sub(s.started) >= c.PeerTimeout) {
		s.pendingDown = false
		announce := s.peer != declaredDown
		if announce {
			s.peer, s.peerSince = declaredDown, now
			acts = append(acts, actLog{slog.LevelWarn, "peer_down", "peer is down", []any{"peer", c.Other, "reason", s.reason}})
		}
		title := fmt.Sprintf("[%s] Server '%s' is now down (%s)", c.This, c.Other, s.reason)
		acts = s.start(takeover, c.ThisValue, announce, title, now, acts)
	}

	// Rule 4: after failback_delay of unbroken link, the preferred node
	// returns the record to its preferred value.
	if s.link && !s.failbackDone && now.Sub(s.linkSince) >= c.FailbackDelay {
		s.failbackDone = true
		wasDown := s.peer == declaredDown
		s.peer, s.peerSince = declaredUp, now
		acts = append(acts, actLog{slog.LevelInfo, "peer_up", "peer is up", []any{"peer", c.Other, "linked_for", now.Sub(s.linkSince).Round(time.Millisecond)}})
		if c.FailbackOwner {
			title := fmt.Sprintf("[%s] Server '%s' is now up", c.This, c.Other)
			acts = s.start(failback, c.Preferred, wasDown, title, now, acts)
		}
	}
	return s, acts
}

func (s *state) lost(reason string, now time.Time) {
	s.link, s.reason, s.pendingDown, s.lostAt = false, reason, true, now
}

func (s *state) start(p purpose, content string, announce bool, title string, now time.Time, acts []action) []action {
	s.jobSeq++
	s.job = &job{id: s.jobSeq, content: content, purpose: p, announce: announce, title: title, since: now}
	return append(acts, actEnsure{job: s.jobSeq, content: content},
		actLog{slog.LevelInfo, p.String() + "_started", "checking the record", []any{"want", content}})
}

func (s *state) attempt(c *machineConfig, ev evAttempt, acts []action) []action {
	if s.job == nil || ev.job != s.job.id {
		return acts
	}
	j := s.job
	j.failures++
	j.lastErr = ev.err
	acts = append(acts, actLog{slog.LevelWarn, "record_update_failed", "record update failed; retrying",
		[]any{"want", j.content, "attempt", j.failures, "error", ev.err}})
	if j.failures == 1 {
		acts = append(acts, actNotify{
			title: j.title + ", but something went wrong while updating the record",
			body:  fmt.Sprintf("Here's what went wrong: %s. Retrying until '%s' points to '%s'.", ev.err, c.Record, j.content),
		})
	}
	return acts
}

func (s *state) done(c *machineConfig, ev evDone, acts []action) []action {
	if s.job == nil || ev.job != s.job.id {
		return acts
	}
	j := s.job
	s.job = nil
	s.record, s.recordAt = ev.content, ev.at
	if ev.changed {
		acts = append(acts, actLog{slog.LevelWarn, "record_updated", "record updated",
			[]any{"record", c.Record, "content", ev.content, "purpose", j.purpose.String(), "took", ev.at.Sub(j.since).Round(time.Millisecond)}})
	} else {
		acts = append(acts, actLog{slog.LevelInfo, "record_unchanged", "record already right",
			[]any{"record", c.Record, "content", ev.content}})
	}
	switch {
	case j.failures > 0:
		body := fmt.Sprintf("The address for '%s' has been changed to '%s' after %d failed attempts over %s (last error: %s)",
			c.Record, ev.content, j.failures, ev.at.Sub(j.since).Round(time.Second), j.lastErr)
		if !ev.changed {
			body = fmt.Sprintf("No record change was necessary in the end: '%s' points to '%s'", c.Record, ev.content)
		}
		acts = append(acts, actNotify{title: j.title + ": record update delayed", body: body})
	case ev.changed:
		acts = append(acts, actNotify{title: j.title,
			body: fmt.Sprintf("The address for '%s' has been changed to '%s'", c.Record, ev.content)})
	case j.announce:
		acts = append(acts, actNotify{title: j.title, body: "No record change is necessary"})
	}
	return acts
}

// deadline is when next must see a tick at the latest.
func (s state) deadline(c *machineConfig) time.Time {
	var d time.Time
	earliest := func(t time.Time) {
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	if s.link {
		earliest(s.lastHeard.Add(c.PeerTimeout))
		if !s.failbackDone {
			earliest(s.linkSince.Add(c.FailbackDelay))
		}
	} else if s.pendingDown {
		t := s.grace
		if !s.everLinked && s.started.Add(c.PeerTimeout).After(t) {
			t = s.started.Add(c.PeerTimeout)
		}
		earliest(t)
	}
	return d
}
