package quorum

import (
	"slices"
	"time"
)

// Status is a node's view of the cluster, for the status page and
// /status.
type Status struct {
	Self   string
	State  string // Raft's: Follower, Candidate, Leader, Shutdown
	Leader string // "" if none is known
	Term   uint64
	// Quorum: as a leader, Raft has heard from a majority within its
	// leader lease; as a follower, a leader is known and was heard from
	// within the lease.
	Quorum  bool
	Members []MemberView
	Records []RecordStatus
	// Counters since the node was made.
	LeaderChanges uint64 // leaders learned of, none included
	Writes        uint64 // writes sent to a store
	FencedWrites  uint64 // writes the store refused: the fence or the compare-and-swap
	AbortedWrites uint64 // writes not sent: the lease left was shorter than the API timeout
}

// MemberView is what this node knows of a member: only a leader asks the
// others, so a follower knows the members' configuration and nothing
// else of them.
type MemberView struct {
	Member
	Reachable bool // it answered the leader's last round
	Healthy   bool // as it said in its last answer
	// LastContact is when it last answered (zero if never).
	LastContact time.Time
}

// RecordStatus is a record's content as this node last read or wrote it.
type RecordStatus struct {
	Name    string
	Content string
	Holder  string    // the node member whose value it is; "" if none's
	At      time.Time // of the read or write; zero if never
	Written bool      // the content is this node's write, not a read
}

// Status returns a copy of the node's view; this member's own entry is
// as of now.
func (n *Node) Status() Status {
	healthy, _ := n.cfg.Health.Healthy()
	now := n.cfg.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.st
	s.Members = slices.Clone(n.st.Members)
	s.Records = slices.Clone(n.rec)
	for i := range s.Members {
		if s.Members[i].Name == n.self.Name {
			s.Members[i].Reachable, s.Members[i].Healthy, s.Members[i].LastContact = true, healthy, now
		}
	}
	return s
}

// noteRecord records what the record i was seen or made to hold.
func (n *Node) noteRecord(i int, content string, written bool) {
	holder := ""
	for name, v := range n.cfg.Records[i].Values {
		if v == content && (holder == "" || name < holder) {
			holder = name
		}
	}
	n.mu.Lock()
	n.rec[i] = RecordStatus{Name: n.cfg.Records[i].Name, Content: content, Holder: holder, At: n.cfg.Now(), Written: written}
	n.mu.Unlock()
}

// holdsAll reports whether every record, as this node last knew it,
// holds this node's value.
func (n *Node) holdsAll() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, r := range n.rec {
		if r.Holder != n.self.Name {
			return false
		}
	}
	return len(n.rec) > 0
}

func (n *Node) count(f func(s *Status)) {
	n.mu.Lock()
	f(&n.st)
	n.mu.Unlock()
}
