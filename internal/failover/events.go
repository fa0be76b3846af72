package failover

import (
	"log/slog"
	"time"
)

// Keepalive flags: what a node says of itself in every keepalive. The wire
// format carries them as one byte (docs/PROTOCOL.md).
const (
	FlagHealthy  byte = 1 << 0 // the sender's own service passes its checks
	FlagHandover byte = 1 << 1 // the sender is stopping and asks the peer to take the record
	FlagActive   byte = 1 << 2 // the record points to the sender, as it last read or wrote it
	KnownFlags        = FlagHealthy | FlagHandover | FlagActive
)

// Event is something that happened to a node: its input. At is when, on the
// node's own clock; the machine reads no other clock.
type Event interface{ When() time.Time }

// Events.
type (
	// EvTick is a turn of the loop with nothing else to report.
	EvTick struct{ At time.Time }
	// EvLinkUp: a link to the peer is authenticated (it may replace one).
	EvLinkUp struct{ At time.Time }
	// EvHeard is a keepalive from the peer, with its flags.
	EvHeard struct {
		At    time.Time
		Flags byte
	}
	// EvInfo is the peer's own value, as it says after the handshake.
	EvInfo struct {
		At    time.Time
		Value string
	}
	// EvLinkDown: the link is gone.
	EvLinkDown struct {
		At     time.Time
		Reason string
		// PeerAlive: the peer closed the link itself because it heard
		// nothing from us (or could not parse us). It is alive; the
		// silence was ours or the network's.
		PeerAlive bool
	}
	// EvRead is the result of a plain read of the record: the start-up
	// lookup, or a drift check.
	EvRead struct {
		At     time.Time
		Record Record
		Drift  bool
	}
	// EvReadFailed is a plain read that failed; Attempt counts the
	// failures in a row of a read that retries.
	EvReadFailed struct {
		At      time.Time
		Err     string
		Attempt int
		Drift   bool
	}
	// EvAttempt is a failed attempt of job Job.
	EvAttempt struct {
		At  time.Time
		Job uint64
		Err string
	}
	// EvDone is the end of job Job: the record holds Content; Changed if
	// this job wrote it; Withheld if the job found that the peer had acted.
	EvDone struct {
		At       time.Time
		Job      uint64
		Content  string
		Changed  bool
		Withheld bool
	}
	// EvHealth is a change of this node's own service health: Healthy as
	// its monitor judges, Reason the last check's error ("" if it passed).
	EvHealth struct {
		At      time.Time
		Healthy bool
		Reason  string
	}
	// EvProbe is the result of a peer_check probe.
	EvProbe struct {
		At      time.Time
		Serving bool
		Detail  string
	}
	// EvStop asks the node to stop (SIGTERM).
	EvStop struct{ At time.Time }
)

func (e EvTick) When() time.Time       { return e.At }
func (e EvLinkUp) When() time.Time     { return e.At }
func (e EvHeard) When() time.Time      { return e.At }
func (e EvInfo) When() time.Time       { return e.At }
func (e EvLinkDown) When() time.Time   { return e.At }
func (e EvRead) When() time.Time       { return e.At }
func (e EvReadFailed) When() time.Time { return e.At }
func (e EvAttempt) When() time.Time    { return e.At }
func (e EvDone) When() time.Time       { return e.At }
func (e EvHealth) When() time.Time     { return e.At }
func (e EvProbe) When() time.Time      { return e.At }
func (e EvStop) When() time.Time       { return e.At }

// Action is what the machine asks the node to do: its output.
type Action interface{ isAction() }

// Actions.
type (
	// ActClose closes the current link.
	ActClose struct{ Reason string }
	// ActEnsure starts job Job: make the record hold Content (see Job).
	// Any job still running is cancelled first. With Base set, the job
	// writes only if the record holds Base, or neither Base nor Peer (the
	// write rule); Yield makes it pause and read again before taking a
	// record that points at neither node.
	ActEnsure struct {
		Job     uint64
		Purpose Purpose
		Content string
		Base    string
		Peer    string
		Yield   bool
		Since   time.Time // when the link was last known good (the base's time)
	}
	// ActCancel stops the running job.
	ActCancel struct{}
	// ActRead reads the record once; Retry: until it succeeds (the
	// start-up lookup); Drift: a drift check.
	ActRead struct{ Retry, Drift bool }
	// ActProbe probes the peer's service once (peer_check).
	ActProbe struct{}
	// ActNotify sends one alert.
	ActNotify struct{ Title, Body string }
	// ActHook runs the operator's hook for Event.
	ActHook struct{ Event, Content string }
	// ActExit ends the node's loop: the stop (and any handover) is complete.
	ActExit struct{}
	// ActLog writes one log line; Event is a stable name per transition.
	ActLog struct {
		Level slog.Level
		Event string
		Msg   string
		Attrs []any
	}
)

func (ActClose) isAction()  {}
func (ActEnsure) isAction() {}
func (ActCancel) isAction() {}
func (ActRead) isAction()   {}
func (ActProbe) isAction()  {}
func (ActNotify) isAction() {}
func (ActHook) isAction()   {}
func (ActExit) isAction()   {}
func (ActLog) isAction()    {}
