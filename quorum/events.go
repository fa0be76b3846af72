package quorum

import "time"

// EventKind names what an Event reports.
type EventKind string

// The events a node raises, each once per occurrence (a write that keeps
// failing is raised at its first failure, and again only after a success).
const (
	// EventLeaderChanged: this member learned of a new leader, or of none.
	EventLeaderChanged EventKind = "leader_changed"
	// EventQuorumLost: this member no longer leads a majority nor hears
	// from a leader within the lease; it does not write.
	EventQuorumLost EventKind = "quorum_lost"
	// EventQuorumRegained: it does again.
	EventQuorumRegained EventKind = "quorum_regained"
	// EventRecordMoved: this leader's write landed: a read after it shows
	// the record holding this node's value.
	EventRecordMoved EventKind = "record_moved"
	// EventWriteFailed: this leader could not bring a record to its value
	// (the API failed, the lease was too short, the record is missing,
	// the fence or a conditional write refused it).
	EventWriteFailed EventKind = "write_failed"
	// EventNoEligibleNode: this leader should hand leadership away (it is
	// a witness, or unhealthy) and no node member is healthy, reachable
	// and up to date: it keeps leading and does not write. Raised once
	// per such episode.
	EventNoEligibleNode EventKind = "no_eligible_node"
	// EventHandedOver: this leader, a node whose health check fails,
	// handed leadership to Member, a healthy node, which moves the
	// records. (A witness's handover, a failback to a better node and a
	// new leader's handover to a better one before any write are routine,
	// and raise nothing.)
	EventHandedOver EventKind = "handed_over"
	// EventMemberLost: this leader has had no answer from a member of
	// the cluster's configuration for memberLostAfter heartbeat timeouts
	// (Member); Answering and Voters say how many of the voters answer,
	// this leader included. Raised once per leadership and member, until
	// EventMemberBack.
	EventMemberLost EventKind = "member_lost"
	// EventMemberBack: a member this leader said lost answers again.
	EventMemberBack EventKind = "member_back"
)

// Event is what a node reports to its EventSink.
type Event struct {
	Kind EventKind
	At   time.Time
	Term uint64
	// Leader is the leader's name (EventLeaderChanged; "" for none).
	Leader string
	// Record and Content: EventRecordMoved and EventWriteFailed.
	Record  string
	Content string
	Err     error
	// Member: EventHandedOver, EventMemberLost and EventMemberBack;
	// Answering: the last two; Voters: those and the quorum's events (the
	// voters of Raft's configuration).
	Member    Member
	Answering int
	Voters    int
}

// EventSink receives a node's events. Event is called from the node's
// goroutines, one at a time; it must not block for long (queue and send
// elsewhere).
type EventSink interface {
	Event(Event)
}
