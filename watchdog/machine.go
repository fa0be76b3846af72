package watchdog

import (
	"fmt"
	"log/slog"
	"time"
)

// The state machine decides; the node loop carries out. next is pure: it
// reads the event's time and nothing else of the world, so every rule of
// SPEC.md's Behaviour section is a table test (machine_test.go).
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
//
// Every write is preceded by a read, so in no partition, symmetric or
// one-way, do the two nodes write the record alternately.

// machineConfig is what the state machine knows of the configuration.
type machineConfig struct {
	This, Other   string
	Record        string // the record's name, for messages
	ThisValue     string // what this node writes when it takes over
	OtherValue    string // the peer's value until the peer says otherwise
	Preferred     string // what the record holds when both nodes are up
	Server        bool   // this node has the server role
	PeerTimeout   time.Duration
	FailbackDelay time.Duration
	// Keepalive is the keepalive interval; the freeze threshold is one
	// keepalive less than PeerTimeout, since the peer counts its silence
	// from our last frame, sent up to one interval before a freeze.
	Keepalive     time.Duration
	PeerCheck     bool          // a peer_check is configured
	DriftInterval time.Duration // 0: no drift checks
	Handover      bool          // handover_on_stop
}

// owner reports whether this node writes the preferred value on failback:
// the node whose value is the preferred one; if neither is, the server.
func (s state) owner(c *machineConfig) bool {
	return c.ThisValue == c.Preferred || c.Server && s.peerValue != c.Preferred
}

// handoverLimit bounds how long a stopping node waits for its peer to take
// the record.
const handoverLimit = 5 * time.Second

// freezeThreshold is the gap between two turns of the loop beyond which this
// node counts as having been frozen. The loop turns at least every beat, so
// the threshold is three normal gaps.
func (c *machineConfig) freezeThreshold() time.Duration {
	return max(c.PeerTimeout-c.Keepalive, c.Keepalive)
}

// beat is the longest the loop sleeps: a third of the freeze threshold
// (583 ms at the defaults). While linked, the peer's keepalives turn it
// more often, so the beat only fires on a silent link.
func (c *machineConfig) beat() time.Duration { return c.freezeThreshold() / 3 }

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
	healthMove // the active peer is unhealthy
	handover   // the active peer is stopping
	correction // an outside edit pointed the record at neither node
)

func (p purpose) String() string {
	switch p {
	case failback:
		return "failback"
	case healthMove:
		return "health"
	case handover:
		return "handover"
	case correction:
		return "correction"
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

	failbackDone bool // for the current link and health

	// What is known of the record and of the peer.
	record      string // the record's content as last read or written; "" unknown
	recordAt    time.Time
	base        string // the record's content when the link was last up
	peerValue   string
	peerActive  bool // the peer says the record points to it
	peerHealthy bool
	peerStops   bool // the peer is handing the record over

	healthy      bool
	healthySince time.Time
	healthReason string
	failing      bool   // healthy, but this node's last check failed
	lastCheck    string // the last check's error; "" if it passed

	// The split-brain guard.
	guard     string // why this node withholds; "" if it does not
	guardAt   time.Time
	probe     probeState
	probeNext time.Time
	alerted   map[string]bool // one-shot alerts of the current link episode
	announced bool            // the current down episode's takeover was announced

	driftNext     time.Time
	driftReported string

	stopping bool
	handover bool // stopping, and asking the peer to take the record
	stopBy   time.Time

	active      bool // as last announced to hooks: the record points here
	activeKnown bool // a hook has announced it at all

	job    *job
	jobSeq uint64
}

type probeState int

const (
	probeNone    probeState = iota
	probeRunning            // a peer_check probe is under way
	probeServing            // the last probe passed: the peer still serves
	probeFailed             // the last probe failed: the peer is down
)

func newState(now time.Time, c *machineConfig) state {
	return state{started: now, lastTurn: now, pendingDown: true, reason: "no link since start",
		healthy: true, healthySince: now, peerHealthy: true, peerValue: c.OtherValue,
		driftNext: now.Add(c.DriftInterval), alerted: map[string]bool{}}
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

// holder is the record's content as this node best knows it.
func (s state) holder() string {
	if s.peerActive && s.link {
		return s.peerValue
	}
	return s.record
}

// Events.
type (
	event interface{ when() time.Time }

	evTick   struct{ at time.Time }
	evLinkUp struct{ at time.Time }
	// evHeard is a keepalive from the peer, with its flags.
	evHeard struct {
		at    time.Time
		flags byte
	}
	// evInfo is the peer's own value, as it says after the handshake.
	evInfo struct {
		at    time.Time
		value string
	}
	evLinkDown struct {
		at     time.Time
		reason string
		// peerAlive: the peer closed the link itself because it heard
		// nothing from us (or could not parse us). It is alive; the
		// silence was ours or the network's.
		peerAlive bool
	}
	// evRead is the result of a plain read of the record: the start-up
	// lookup, or a drift check.
	evRead struct {
		at      time.Time
		content string
		drift   bool
	}
	// evAttempt is a failed attempt of job.
	evAttempt struct {
		at  time.Time
		job uint64
		err string
	}
	// evDone is the end of job: the record holds content; changed if this
	// job wrote it; withheld if the job found that the peer had acted.
	evDone struct {
		at       time.Time
		job      uint64
		content  string
		changed  bool
		withheld bool
	}
	// evHealth is a change of this node's own service health.
	evHealth struct {
		at      time.Time
		healthy bool
		reason  string // the last check's error; "" if it passed
	}
	// evProbe is the result of a peer_check probe.
	evProbe struct {
		at      time.Time
		serving bool
		detail  string
	}
	// evStop asks the node to stop (SIGTERM).
	evStop struct{ at time.Time }
)

func (e evTick) when() time.Time     { return e.at }
func (e evLinkUp) when() time.Time   { return e.at }
func (e evHeard) when() time.Time    { return e.at }
func (e evInfo) when() time.Time     { return e.at }
func (e evLinkDown) when() time.Time { return e.at }
func (e evRead) when() time.Time     { return e.at }
func (e evAttempt) when() time.Time  { return e.at }
func (e evDone) when() time.Time     { return e.at }
func (e evHealth) when() time.Time   { return e.at }
func (e evProbe) when() time.Time    { return e.at }
func (e evStop) when() time.Time     { return e.at }

// Actions.
type (
	action interface{ isAction() }

	// actClose closes the current link.
	actClose struct{ reason string }
	// actEnsure starts job: make the record hold content. Any job still
	// running is cancelled first. With base set, the job writes only if
	// the record holds base, or neither base nor peer (see the write rule);
	// yield makes it pause and read again before taking a record that
	// points at neither node.
	actEnsure struct {
		job     uint64
		content string
		base    string
		peer    string
		yield   bool
		since   time.Time // when the link was last known good (the base's time)

		modified time.Time // set by the worker: when the record last changed
	}
	// actCancel stops the running job.
	actCancel struct{}
	// actRead reads the record once (a drift check).
	actRead struct{}
	// actProbe probes the peer's service once (peer_check).
	actProbe struct{}
	// actNotify sends one push.
	actNotify struct{ title, body string }
	// actHook runs the operator's hook for event.
	actHook struct{ event, content string }
	// actExit ends Run: the stop (and any handover) is complete.
	actExit struct{}
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
func (actRead) isAction()   {}
func (actProbe) isAction()  {}
func (actNotify) isAction() {}
func (actHook) isAction()   {}
func (actExit) isAction()   {}
func (actLog) isAction()    {}

// next applies one event and returns the new state and what to do.
func next(c *machineConfig, s state, ev event) (state, []action) {
	var acts []action
	now := ev.when()
	if s.alerted == nil {
		s.alerted = map[string]bool{}
	}

	// Rule 3: if this node itself was frozen, silence is not the peer's
	// fault: give the link a full timeout to come back before acting.
	if gap := now.Sub(s.lastTurn); gap > c.freezeThreshold() {
		s.extendGrace(now.Add(c.PeerTimeout))
		s.lastHeard = now
		acts = append(acts, actLog{slog.LevelWarn, "frozen", "this node was frozen; waiting before acting on the link",
			[]any{"gap", gap.Round(time.Millisecond), "grace", c.PeerTimeout}})
	}
	s.lastTurn = now

	switch ev := ev.(type) {
	case evHeard:
		s.lastHeard = now
		acts = s.heard(c, ev.flags, now, acts)
	case evInfo:
		if ev.value != "" && ev.value != s.peerValue {
			s.peerValue = ev.value
		}
	case evLinkUp:
		if s.link {
			acts = append(acts, actLog{slog.LevelInfo, "link_replaced", "newer link replaced the current one", nil})
		} else {
			acts = append(acts, actLog{slog.LevelInfo, "link_up", "link to peer up", []any{"peer", c.Other}})
		}
		s.link, s.everLinked, s.pendingDown = true, true, false
		s.linkSince, s.lastHeard = now, now
		s.failbackDone = false
		s.peerActive, s.peerStops, s.peerHealthy = false, false, true
		s.probe, s.guard = probeNone, ""
		clear(s.alerted)
		if s.job != nil && s.job.purpose == takeover {
			acts = append(acts, actCancel{}, actLog{slog.LevelInfo, "takeover_abandoned", "peer is back; takeover abandoned",
				[]any{"attempts", s.job.failures}})
			s.job = nil
		}
	case evLinkDown:
		if !s.link {
			break
		}
		acts = s.lost(c, ev.reason, now, acts)
		if ev.peerAlive {
			// The peer is alive and says it heard nothing from us: we were
			// frozen, or the network lost our frames. Give the link a full
			// timeout to come back before taking the silence for the
			// peer's failure.
			s.extendGrace(now.Add(c.PeerTimeout))
			acts = append(acts, actLog{slog.LevelWarn, "peer_alive", "the peer closed the link alive; waiting for it to come back", []any{"grace", c.PeerTimeout}})
		}
	case evRead:
		s.record, s.recordAt = ev.content, now
		if ev.drift {
			acts = s.drift(c, ev.content, now, acts)
		}
	case evAttempt:
		acts = s.attempt(c, ev, acts)
	case evDone:
		acts = s.done(c, ev, acts)
	case evHealth:
		acts = s.health(c, ev, acts)
	case evProbe:
		acts = s.probed(c, ev, acts)
	case evStop:
		acts = s.stop(c, now, acts)
	}

	// Rule 3: silence for peer_timeout is a lost link.
	if s.link && now.Sub(s.lastHeard) >= c.PeerTimeout {
		reason := fmt.Sprintf("ping timeout (nothing heard for %s)", now.Sub(s.lastHeard).Round(time.Millisecond))
		acts = append(acts, actClose{reason})
		acts = s.lost(c, reason, now, acts)
	}

	if s.stopping {
		// Rule 7 with handover: leave once the peer holds the record, or
		// the link is gone, or the handover took too long.
		if !s.link || s.peerActive || !now.Before(s.stopBy) {
			acts = append(acts, actExit{})
		}
		return s, s.hooks(c, acts)
	}

	acts = s.takeOver(c, now, acts)
	acts = s.moveForHealth(c, now, acts)
	acts = s.failBack(c, now, acts)
	acts = s.scheduleDrift(c, now, acts)
	return s, s.hooks(c, acts)
}

func (s *state) extendGrace(t time.Time) {
	if t.After(s.grace) {
		s.grace = t
	}
}

func (s *state) lost(c *machineConfig, reason string, now time.Time, acts []action) []action {
	s.base = s.holder()
	s.link, s.reason, s.pendingDown, s.lostAt = false, reason, true, now
	s.peerActive, s.peerStops = false, false
	return append(acts, actLog{slog.LevelWarn, "link_down", "link to peer lost", []any{"peer", c.Other, "reason", reason}})
}

// heard applies the flags of a keepalive.
func (s *state) heard(c *machineConfig, flags byte, now time.Time, acts []action) []action {
	healthy := flags&flagHealthy != 0
	if healthy != s.peerHealthy {
		s.peerHealthy = healthy
		ev, msg := "peer_health_up", "peer reports its service healthy"
		if !healthy {
			ev, msg = "peer_health_down", "peer reports its service unhealthy"
		}
		acts = append(acts, actLog{slog.LevelWarn, ev, msg, []any{"peer", c.Other}})
	}
	s.peerActive = flags&flagActive != 0
	if s.peerActive && s.record != s.peerValue && (s.job == nil || s.job.purpose == failback) {
		s.record, s.recordAt = s.peerValue, now // the peer's word is the newest
	}
	stops := flags&flagHandover != 0
	if stops && !s.peerStops {
		acts = append(acts, actLog{slog.LevelInfo, "peer_stopping", "peer is stopping and hands the record over", []any{"peer", c.Other}})
	}
	s.peerStops = stops
	return acts
}

// takeOver acts on a lost link (rules 1 and 3, and the split-brain guard),
// unless this node was frozen, is still starting, or is unhealthy.
func (s *state) takeOver(c *machineConfig, now time.Time, acts []action) []action {
	if s.link || !s.pendingDown || now.Before(s.grace) || !s.everLinked && now.Sub(s.started) < c.PeerTimeout {
		return acts
	}
	if s.peer != declaredDown {
		s.peer, s.peerSince = declaredDown, now
		acts = append(acts, actLog{slog.LevelWarn, "peer_down", "peer is down", []any{"peer", c.Other, "reason", s.reason}},
			actHook{event: "on_peer_down", content: s.record})
		s.announced = false
	}
	if !s.healthy {
		s.setGuard("this node's service is unhealthy", now)
		// Once a probe has found the peer serving in this episode, the
		// peer is not "down": that alert stands.
		if !s.alerted["still_serving"] && s.once("unhealthy_survivor") {
			acts = append(acts, actNotify{
				title: fmt.Sprintf("[%s] Server '%s' is now down (%s), but this node is unhealthy", c.This, c.Other, s.reason),
				body:  fmt.Sprintf("Not taking '%s': this node's service fails its health check (%s).", c.Record, s.healthReason),
			})
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
		if s.once("flapping") {
			acts = append(acts, actLog{slog.LevelWarn, "flap_hold", "link flapping: leaving the record on the peer unless the link stays down",
				[]any{"peer", c.Other, "for", c.FailbackDelay}})
		}
		return acts
	}
	if c.PeerCheck {
		switch s.probe {
		case probeNone:
			s.probe = probeRunning
			return append(acts, actProbe{})
		case probeRunning:
			return acts
		case probeServing:
			if now.Before(s.probeNext) {
				return acts
			}
			s.probe = probeRunning
			return append(acts, actProbe{})
		}
	}
	s.pendingDown = false
	title := fmt.Sprintf("[%s] Server '%s' is now down (%s)", c.This, c.Other, s.reason)
	// The first takeover of a down episode is announced whatever it finds.
	announce := !s.announced
	s.announced = true
	return s.start(c, takeover, c.ThisValue, announce, title, now, acts)
}

func (s *state) once(key string) bool {
	if s.alerted[key] {
		return false
	}
	s.alerted[key] = true
	return true
}

func (s *state) setGuard(why string, now time.Time) {
	if s.guard != why {
		s.guard, s.guardAt = why, now
	}
}

func (s *state) probed(c *machineConfig, ev evProbe, acts []action) []action {
	if s.probe != probeRunning || s.link {
		return acts
	}
	if ev.serving {
		s.probe, s.probeNext = probeServing, ev.at.Add(c.Keepalive)
		s.setGuard("link down, peer still serving", ev.at)
		if s.once("still_serving") {
			acts = append(acts,
				actLog{slog.LevelWarn, "guard_withhold", "link down, peer still serving: not taking over", []any{"peer", c.Other, "check", ev.detail}},
				actNotify{
					title: fmt.Sprintf("[%s] Link to '%s' down, peer still serving", c.This, c.Other),
					body:  fmt.Sprintf("Not taking '%s': the peer's service answers (%s). Probing it every %s; this node takes over when it stops answering.", c.Record, ev.detail, c.Keepalive),
				})
		}
		return acts
	}
	s.probe = probeFailed
	s.guard = ""
	s.reason = fmt.Sprintf("%s; its service does not answer: %s", s.reason, ev.detail)
	return append(acts, actLog{slog.LevelWarn, "guard_release", "peer's service does not answer: taking over", []any{"peer", c.Other, "check", ev.detail}})
}

// health applies a change of this node's own service health.
func (s *state) health(c *machineConfig, ev evHealth, acts []action) []action {
	// A healthy node whose last check failed (fewer than fall failures
	// so far) does not take the record off an unhealthy peer: when both
	// services die at once, the one whose monitor notices second must not
	// move the record onto its own dead service.
	s.failing = ev.healthy && ev.reason != ""
	s.lastCheck = ev.reason
	if ev.healthy == s.healthy {
		return acts
	}
	s.healthy, s.healthySince, s.healthReason = ev.healthy, ev.at, ev.reason
	if ev.healthy {
		s.failbackDone = false // failback waits failback_delay of health too
		if s.guard == "this node's service is unhealthy" {
			s.guard = ""
		}
		return append(acts, actLog{slog.LevelInfo, "health_up", "this node's service is healthy again", nil})
	}
	return append(acts, actLog{slog.LevelWarn, "health_down", "this node's service is unhealthy", []any{"reason", ev.reason}})
}

// moveForHealth moves the record off an unhealthy or stopping peer while
// the link is up; both unhealthy: no write, one alert.
func (s *state) moveForHealth(c *machineConfig, now time.Time, acts []action) []action {
	if !s.link || s.holder() != s.peerValue || s.job != nil && s.job.content == c.ThisValue {
		return acts
	}
	switch {
	case s.peerStops && s.healthy:
		title := fmt.Sprintf("[%s] Server '%s' is stopping: record handed over", c.This, c.Other)
		return s.start(c, handover, c.ThisValue, true, title, now, acts)
	case !s.peerHealthy && s.healthy && !s.failing:
		// Announced only if it writes: a keepalive the peer sent before it
		// learned of this node's move can claim the record for a moment
		// more, and the check it causes finds the record right.
		title := fmt.Sprintf("[%s] Server '%s' reports its service unhealthy", c.This, c.Other)
		return s.start(c, healthMove, c.ThisValue, false, title, now, acts)
	case !s.peerHealthy && !s.healthy && s.once("both_unhealthy"):
		return append(acts,
			actLog{slog.LevelError, "both_unhealthy", "both services unhealthy; record left as it is", []any{"record", s.holder()}},
			actNotify{
				title: fmt.Sprintf("[%s] Both services unhealthy", c.This),
				body:  fmt.Sprintf("Neither node passes its health check; '%s' stays on '%s'.", c.Record, s.holder()),
			})
	}
	return acts
}

// failBack is rule 4: after failback_delay of unbroken link (and of this
// node's health), the preferred node returns the record to its preferred
// value.
func (s *state) failBack(c *machineConfig, now time.Time, acts []action) []action {
	if !s.link || s.failbackDone {
		return acts
	}
	since := s.linkSince
	if s.healthySince.After(since) {
		since = s.healthySince
	}
	if now.Sub(since) < c.FailbackDelay || !s.healthy {
		return acts
	}
	s.failbackDone = true
	if s.peer != declaredUp {
		wasDown := s.peer == declaredDown
		s.peer, s.peerSince = declaredUp, now
		acts = append(acts, actLog{slog.LevelInfo, "peer_up", "peer is up", []any{"peer", c.Other, "linked_for", now.Sub(s.linkSince).Round(time.Millisecond)}},
			actHook{event: "on_peer_up", content: s.holder()})
		s.alerted["was_down"] = wasDown
	}
	if !s.owner(c) || !s.peerHealthy && s.holder() == c.ThisValue {
		return acts
	}
	if s.job != nil && s.job.content == c.Preferred {
		return acts
	}
	title := fmt.Sprintf("[%s] Server '%s' is now up", c.This, c.Other)
	if !s.alerted["was_down"] && s.healthySince.After(s.linkSince) {
		// The record comes back after this node's service recovered.
		title = fmt.Sprintf("[%s] Service healthy again: record back to '%s'", c.This, c.Preferred)
	}
	return s.start(c, failback, c.Preferred, s.alerted["was_down"], title, now, acts)
}

// scheduleDrift reads the record every drift interval: while linked only
// the failback owner does (one node's reads are enough), otherwise each.
func (s *state) scheduleDrift(c *machineConfig, now time.Time, acts []action) []action {
	if c.DriftInterval <= 0 || now.Before(s.driftNext) || s.job != nil {
		return acts
	}
	s.driftNext = now.Add(c.DriftInterval)
	if s.link && (!s.owner(c) || !s.failbackDone) {
		return acts
	}
	return append(acts, actRead{})
}

// drift judges what a drift check read.
func (s *state) drift(c *machineConfig, content string, now time.Time, acts []action) []action {
	valid := content == c.ThisValue || content == s.peerValue
	want := c.ThisValue
	if s.link {
		want = c.Preferred
	}
	switch {
	case content == want:
		s.driftReported = ""
		return acts
	case !valid:
		// Pointing at neither node: correct it.
		title := fmt.Sprintf("[%s] Record edited outside: corrected", c.This)
		acts = append(acts, actLog{slog.LevelWarn, "drift_corrected", "record points at neither node; correcting", []any{"content", content, "want", want}})
		s.driftReported = content
		return s.start(c, correction, want, true, title, now, acts)
	case content == s.peerValue && !s.link:
		// The peer holds it although the link is down: the peer (or an
		// operator) acted during this episode, so the peer is alive.
		s.driftReported = content
		return s.withhold(c, content, now, acts)
	}
	if s.driftReported != content {
		s.driftReported = content
		acts = append(acts,
			actLog{slog.LevelWarn, "drift_valid", "record changed outside to a valid value; leaving it", []any{"content", content}},
			actNotify{
				title: fmt.Sprintf("[%s] Record edited outside", c.This),
				body:  fmt.Sprintf("'%s' now points to '%s', one of the pair: leaving it.", c.Record, content),
			})
	}
	return acts
}

// stop begins rule 7: with handover_on_stop, a node the record points to
// first hands it to a linked, healthy peer.
func (s *state) stop(c *machineConfig, now time.Time, acts []action) []action {
	s.stopping = true
	s.stopBy = now
	if c.Handover && s.link && s.peerHealthy && !s.peerStops && s.record == c.ThisValue {
		s.stopBy = now.Add(handoverLimit)
		s.handover = true
		s.peerActive = false
		acts = append(acts, actLog{slog.LevelInfo, "handover_started", "stopping: handing the record to the peer first", []any{"peer", c.Other}})
	}
	if s.job != nil {
		acts = append(acts, actCancel{})
		s.job = nil
	}
	return acts
}

// hooks reports changes of where the record points, relative to this node.
func (s *state) hooks(c *machineConfig, acts []action) []action {
	if s.record == "" {
		return acts
	}
	active := s.record == c.ThisValue
	if active == s.active && s.activeKnown {
		return acts
	}
	s.active, s.activeKnown = active, true
	if active {
		return append(acts, actHook{event: "on_active", content: s.record})
	}
	return append(acts, actHook{event: "on_standby", content: s.record})
}

func (s *state) start(c *machineConfig, p purpose, content string, announce bool, title string, now time.Time, acts []action) []action {
	s.jobSeq++
	s.job = &job{id: s.jobSeq, content: content, purpose: p, announce: announce, title: title, since: now}
	a := actEnsure{job: s.jobSeq, content: content}
	if p == takeover || p == correction && !s.link {
		// The write rule: only over what the record held when the link
		// was last up; the preferred node wins ties.
		a.base, a.peer, a.yield, a.since = s.base, s.peerValue, !s.owner(c), s.lastHeard
	}
	return append(acts, a,
		actLog{slog.LevelInfo, p.String() + "_started", "checking the record", []any{"want", content}})
}

// withhold is the guard's decision when the peer took the record during
// this episode: it is alive, so this node leaves the record; one alert.
func (s *state) withhold(c *machineConfig, content string, now time.Time, acts []action) []action {
	s.setGuard("link down, but the peer took the record: it is alive", now)
	if !s.once("peer_took") {
		return acts
	}
	return append(acts,
		actLog{slog.LevelWarn, "guard_withhold", "the peer took the record during this episode: it is alive; not writing",
			[]any{"peer", c.Other, "content", content}},
		actNotify{
			title: fmt.Sprintf("[%s] Link to '%s' down, peer still serving", c.This, c.Other),
			body:  fmt.Sprintf("The peer took '%s' (now '%s') since the link was lost, so it is alive: not writing.", c.Record, content),
		})
}

func (s *state) attempt(c *machineConfig, ev evAttempt, acts []action) []action {
	if s.job == nil || ev.job != s.job.id {
		return acts
	}
	j := s.job
	j.failures++
	j.lastErr = ev.err
	if logAttempt(j.failures) {
		acts = append(acts, actLog{slog.LevelWarn, "record_update_failed", "record update failed; retrying",
			[]any{"want", j.content, "attempt", j.failures, "error", ev.err}})
	}
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
	if ev.withheld {
		return s.withhold(c, ev.content, ev.at, acts)
	}
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
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if s.stopping {
		earliest(s.stopBy)
	}
	if s.link {
		earliest(s.lastHeard.Add(c.PeerTimeout))
		if !s.failbackDone {
			since := s.linkSince
			if s.healthySince.After(since) {
				since = s.healthySince
			}
			earliest(since.Add(c.FailbackDelay))
		}
	} else if s.pendingDown {
		t := s.grace
		if !s.everLinked && s.started.Add(c.PeerTimeout).After(t) {
			t = s.started.Add(c.PeerTimeout)
		}
		if s.probe == probeServing && s.probeNext.After(t) {
			t = s.probeNext
		}
		if s.peer == declaredDown && s.announced && s.base != "" && s.base == s.peerValue {
			if h := s.lostAt.Add(c.FailbackDelay); h.After(t) {
				t = h
			}
		}
		earliest(t)
	}
	if c.DriftInterval > 0 {
		earliest(s.driftNext)
	}
	return d
}
