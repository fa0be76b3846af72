package quorum

import (
	"slices"
	"time"

	"github.com/hashicorp/raft"
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
	Quorum bool
	// Voters is how many voters Raft's latest configuration counts: a
	// quorum is a majority of them (Majority). 0 while Raft does not run
	// (before its start, a restart's wait, after its end): then its
	// configuration is not known, and Members are the file's.
	Voters int
	// Members are the members of the configuration file (Config.Members),
	// in its order, then those of Raft's configuration that it does not
	// list (Unlisted).
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
	// Voter: Raft's latest configuration counts it as a voter. A member
	// of the file that is not one was removed from the cluster (clooster
	// cluster remove, or recover on another member). Unknown, and false,
	// while Status.Voters is 0.
	Voter bool
	// Unlisted: a member of Raft's configuration that the file does not
	// list (added with clooster cluster add): its Name and Address are
	// Raft's; its Role ("") and Priority are unknown.
	Unlisted  bool
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

// Majority is how many voters make a quorum: a majority of Voters; 0
// while Voters is.
func (s Status) Majority() int {
	if s.Voters == 0 {
		return 0
	}
	return s.Voters/2 + 1
}

// Status returns a copy of the node's view; this member's own entry is
// as of now, and the membership is Raft's latest configuration.
func (n *Node) Status() Status {
	healthy, _ := n.cfg.Health.Healthy()
	now := n.cfg.Now()
	servers := n.servers()
	n.mu.Lock()
	s := n.st
	s.Members = slices.Clone(n.st.Members)
	s.Records = slices.Clone(n.rec)
	n.mu.Unlock()
	for i := range s.Members {
		if s.Members[i].Name == n.self.Name {
			s.Members[i].Reachable, s.Members[i].Healthy, s.Members[i].LastContact = true, healthy, now
		}
	}
	for _, srv := range servers {
		voter := srv.Suffrage == raft.Voter
		if voter {
			s.Voters++
		}
		i := slices.IndexFunc(s.Members, func(m MemberView) bool { return m.Name == string(srv.ID) })
		if i < 0 {
			s.Members = append(s.Members, MemberView{Member: Member{Name: string(srv.ID), Address: string(srv.Address)}, Unlisted: true})
			i = len(s.Members) - 1
		}
		s.Members[i].Voter = voter
	}
	return s
}

// Voters are the names of the voters in Raft's latest configuration: the
// membership the cluster agreed on, a change under way included. Nil
// while Raft does not run. A cheap read: Raft keeps the configuration in
// an atomic value.
func (n *Node) Voters() map[string]bool {
	servers := n.servers()
	if servers == nil {
		return nil
	}
	out := make(map[string]bool, len(servers))
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			out[string(s.ID)] = true
		}
	}
	return out
}

// servers are the servers of Raft's latest configuration; nil while Raft
// does not run.
func (n *Node) servers() []raft.Server {
	r := n.running()
	if r == nil {
		return nil
	}
	f := r.GetConfiguration()
	if f.Error() != nil || len(f.Configuration().Servers) == 0 {
		return nil
	}
	return f.Configuration().Servers
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
