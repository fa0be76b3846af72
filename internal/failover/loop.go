package failover

import "time"

// Loop is one node's decision loop without its I/O: the machine's state,
// the health as last polled and the keepalive flags as last advertised.
// The daemon (watchdog.Node) and the simulator (package sim) drive it the
// same way: Apply each event, then Health with the monitor's current
// verdict, carry out the actions in order, and turn again by Wake at the
// latest. A Loop is used by one goroutine.
type Loop struct {
	C *Config
	S State

	flags   byte
	healthy bool
	reason  string // the last check's error
}

// NewLoop is a loop started at now.
func NewLoop(c *Config, now time.Time) *Loop {
	l := &Loop{C: c, S: NewState(now, c), healthy: true}
	l.flags = l.S.Flags(c)
	return l
}

// Apply applies ev. kick reports that the keepalive flags changed: the
// peer should learn of it at once. An EvReconfigure is Reconfigure's.
func (l *Loop) Apply(ev Event) (acts []Action, kick bool) {
	if r, ok := ev.(EvReconfigure); ok {
		acts, kick, _ = l.Reconfigure(r)
		return acts, kick
	}
	l.S, acts = Next(l.C, l.S, ev)
	f := l.S.Flags(l.C)
	kick = f != l.flags
	l.flags = f
	return acts, kick
}

// Health takes the health monitor's current verdict, polled after every
// turn: healthy, and the last check's error ("" if it passed). It applies
// an EvHealth only when something changed (the error's text too: /status
// shows the last one).
func (l *Loop) Health(at time.Time, healthy bool, reason string) (acts []Action, kick bool) {
	if healthy == l.healthy && reason == l.reason {
		return nil, false
	}
	l.healthy, l.reason = healthy, reason
	return l.Apply(EvHealth{At: at, Healthy: healthy, Reason: reason})
}

// Flags are the keepalive flags to send now.
func (l *Loop) Flags() byte { return l.flags }

// Wake is when the loop must turn next at the latest: the machine's next
// deadline, and at least every beat, so that a freeze of this node is
// noticed.
func (l *Loop) Wake() time.Time {
	beat := l.S.lastTurn.Add(l.C.Beat())
	if d := l.S.Deadline(l.C); !d.IsZero() && d.Before(beat) {
		return d
	}
	return beat
}

// MayWrite is State.MayWrite of the current state.
func (l *Loop) MayWrite(content string) bool { return l.S.MayWrite(l.C, content) }
