package failover

import (
	"log/slog"
	"time"

	"github.com/clooster/clooster/internal/agree"
)

// Keepalive flags: what a node says of itself in every keepalive. The wire
// format carries them as one byte (docs/PROTOCOL.md).
const (
	FlagHealthy  byte = 1 << 0 // the sender's own service passes its checks
	FlagHandover byte = 1 << 1 // the sender is stopping and asks the peer to take the record
	FlagActive   byte = 1 << 2 // the record points to the sender, as it last read or wrote it
	// FlagPreferred: the record holds the preferred value, which is
	// neither node's (a load balancer, say), as the sender last read or
	// wrote it. Older peers ignore it, as they ignore every unknown flag.
	FlagPreferred byte = 1 << 3
	// FlagPartial, with FlagActive: the sender holds a record set in
	// part (its move landed in some records only), as it last read or
	// wrote it. The peer then learns of the move's completion by the
	// flag's change.
	FlagPartial byte = 1 << 4
	// FlagUnsure: the sender does not know what the record holds (it
	// found no record, or has not read it since it changed): its "not
	// mine" vouches for nothing. Older peers do not send it; their "not
	// mine" vouches once said for a peer_timeout.
	FlagUnsure byte = 1 << 5
	// FlagTook, with FlagActive: the sender's takeover of its current
	// down episode wrote over the receiver's value, which it had read.
	// The receiver, whose own write of that value may have landed unknown
	// to it (its answer lost), learns that the two nodes' writes
	// alternated in the episode: the flap hold keeps the record with the
	// sender until the episode ends.
	FlagTook   byte = 1 << 6
	KnownFlags      = FlagHealthy | FlagHandover | FlagActive | FlagPreferred | FlagPartial | FlagUnsure | FlagTook
)

// partClaim is the claim of a peer that holds a set in part: no content.
const partClaim = "\x00part"

// Event is something that happened to a node: its input. At is when, on the
// node's own clock; the machine reads no other clock.
type Event interface{ When() time.Time }

// Events.
type (
	// EvTick is a turn of the loop with nothing else to report.
	EvTick struct{ At time.Time }
	// EvLinkUp: a link to the peer is authenticated (it may replace one).
	EvLinkUp struct{ At time.Time }
	// EvHeard is a keepalive from the peer, with its flags. Sent is the
	// earliest it can have been sent, on this node's clock: when this
	// node sent the keepalive it echoes, plus how long the peer held that
	// one before answering (so At less one round trip). Zero when it
	// echoes none: what it says then vouches for no moment.
	// PeerClock is the peer's wall clock when it sent the frame; zero
	// if it does not say.
	EvHeard struct {
		At        time.Time
		Sent      time.Time
		Flags     byte
		PeerClock time.Time
	}
	// EvInfo is the peer's own value, as it says after the handshake,
	// and the settings on which its configuration and this node's
	// differ (records compared by digest); nil when they agree.
	EvInfo struct {
		At          time.Time
		Value       string
		Differences []agree.Difference
	}
	// EvLinkDown: the link is gone.
	EvLinkDown struct {
		At     time.Time
		Reason string
		// PeerAlive: the peer closed the link itself because it heard
		// nothing from us (or could not parse us). It is alive; the
		// silence was ours or the network's.
		PeerAlive bool
		// Restart: the peer said it is restarting and will be back
		// within this grace (0: it did not). Its record stays where it
		// is for as long, at most MaxRestartGrace.
		Restart time.Duration
	}
	// EvRead is the result of a plain read of the record, asked at
	// Asked: the start-up lookup, a drift check, a look for a missing
	// record, or a verification. Missing: there is no such record.
	EvRead struct {
		At, Asked time.Time
		Record    Record
		Drift     bool
		Verify    bool
		Missing   bool
	}
	// EvSeen is what a job's read found, when the job pauses before it
	// acts on it (a tie): the node learns it now, even if the job is
	// cancelled before it is done.
	EvSeen struct {
		At, Asked time.Time
		Record    Record
	}
	// EvReadFailed is a plain read that failed; Attempt counts the
	// failures in a row of a read that retries.
	EvReadFailed struct {
		At      time.Time
		Err     string
		Attempt int
		Drift   bool
	}
	// EvWriting: job Job is about to write Content. Until its outcome is
	// known, the node counts on it (its keepalives say so).
	EvWriting struct {
		At      time.Time
		Job     uint64
		Content string
	}
	// EvAttempt is a failed attempt of job Job. Uncertain: a write that
	// failed without a definite answer (a timeout, a broken connection):
	// it may have landed.
	EvAttempt struct {
		At        time.Time
		Job       uint64
		Err       string
		Uncertain bool
		// Landed: the write landed in part, and the record holds this
		// (a set some of whose records refused it).
		Landed string
	}
	// EvConflict: job Job's conditional write found that the record no
	// longer held Judged, what its read had shown: someone else wrote
	// first, and nothing was written. The job reads again.
	EvConflict struct {
		At     time.Time
		Job    uint64
		Judged string
		Err    string
	}
	// EvDone is the end of job Job: the record holds Content, as of Asked
	// (the read it judged) or At if Changed (this job wrote it). Withheld:
	// the job found that the peer had acted. Missing: there is no record
	// to write. Refused: the node may not write now (MayWrite).
	EvDone struct {
		At, Asked time.Time
		Job       uint64
		Purpose   Purpose
		Content   string
		Replaced  string // Changed: what the write replaced
		Changed   bool
		Withheld  bool
		Missing   bool
		Refused   bool
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
	// EvStop asks the node to stop: for good (SIGTERM: with
	// handover_on_stop, it hands the record over first), or, Restart, to
	// be back within Config.RestartGrace (the peer holds the record for
	// it that long: no handover).
	EvStop struct {
		At      time.Time
		Restart bool
	}
)

func (e EvTick) When() time.Time       { return e.At }
func (e EvLinkUp) When() time.Time     { return e.At }
func (e EvHeard) When() time.Time      { return e.At }
func (e EvInfo) When() time.Time       { return e.At }
func (e EvLinkDown) When() time.Time   { return e.At }
func (e EvRead) When() time.Time       { return e.At }
func (e EvReadFailed) When() time.Time { return e.At }
func (e EvSeen) When() time.Time       { return e.At }
func (e EvAttempt) When() time.Time    { return e.At }
func (e EvConflict) When() time.Time   { return e.At }
func (e EvWriting) When() time.Time    { return e.At }
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
	// ActEnsure starts job Job: make the record hold Content (see Job and
	// decide). Any job still running is cancelled first.
	ActEnsure struct {
		Job     uint64
		Purpose Purpose
		Content string

		// What the write rule needs to judge a read.
		Own, Peer string
		PeerKnown bool
		// Conditional: a takeover after a link loss, which withholds if
		// the peer wrote the record since Since (when the link was last
		// known good) over Base (what it held then; "" unknown).
		Conditional bool
		Base        string
		Since       time.Time
		// BaseAt: as of when this node knew the record to hold Base (zero
		// if Base is only what the episode began with).
		BaseAt time.Time
		// AlsoBase: a second value that counts as unchanged if it is
		// stamped between AlsoFrom and AlsoUntil: the owner's failback,
		// due on the link at AlsoFrom, landing just after it broke.
		AlsoBase            string
		AlsoFrom, AlsoUntil time.Time
		// AlsoAnnounced: the peer announced that failback; an undated read
		// within the window counts too.
		AlsoAnnounced bool
		// LinkFrom, LinkUntil: a write of the peer's stamped between
		// them was made while the peer was on the last link, not during
		// the loss (State.onLink).
		LinkFrom, LinkUntil time.Time
		// LinkSaid: what the peer's last keepalive on that link said the
		// record holds (its claim; "" for none): a record that holds it,
		// stamped after LinkStart (the link's first keepalive) and not
		// surely after LinkUntil, was written on the link too
		// (ActEnsure.saidOnLink).
		LinkSaid  string
		LinkStart time.Time
		// Evidence: a takeover because peer_check finds the peer's
		// service gone; Wrote: this node already wrote its value in this
		// episode.
		Evidence, Wrote bool
		// Yield: this node is not preferred, and pauses for Pause before
		// taking a record that points at neither node.
		Yield bool
		Pause time.Duration
		// OnlyOverNeither: a correction, which replaces a value that
		// points at neither node and nothing else.
		OnlyOverNeither bool
		Disable         Disable
	}
	// ActCancel stops the running job.
	ActCancel struct{}
	// ActRead reads the record once; Retry: until it succeeds (the
	// start-up lookup); Drift: a drift check (else the read only learns);
	// Verify: to settle a disagreement with the peer's word.
	ActRead struct{ Retry, Drift, Verify bool }
	// ActProbe probes the peer's service once (peer_check).
	ActProbe struct{}
	// ActNotify sends one alert; Event (one of the Alert* words) is what
	// it is about, and Also, if set, another: a failing takeover is about
	// the failure and the peer's loss.
	ActNotify struct{ Event, Also, Title, Body string }
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
