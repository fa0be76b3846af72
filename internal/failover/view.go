package failover

import "time"

// View is what a node's state shows the outside: /status, metrics and the
// simulator's checkers read it, never the state itself.
type View struct {
	Started   time.Time
	Peer      PeerState
	PeerSince time.Time // since when Peer holds
	Reason    string    // why the link was last lost; "" while linked
	LastHeard time.Time
	Linked    bool
	// PeerHealthy is what the peer says of its service; meaningful while
	// linked.
	PeerHealthy bool
	PeerValue   string
	// Mismatch names the records whose configurations differ between the
	// two nodes, as the peer's INFO of this link said.
	Mismatch []string
	// Problems are what stands between the two nodes and a working
	// pair, most serious first (ProblemKinds).
	Problems []Problem
	// PeerClock and APIClock are the last measurements of the peer's
	// and the DNS API's clocks against this node's.
	PeerClock, APIClock ClockOffset

	Record   string    // the record's content as last known; "" unknown
	RecordAt time.Time // as of when
	Missing  bool      // the last read found no record
	Active   bool      // the record points to this node

	Healthy      bool
	HealthySince time.Time
	HealthReason string // why it is unhealthy
	LastCheck    string // the last check's error; "" if it passed

	Guard   string // why a takeover is withheld; "" if none
	GuardAt time.Time
	// EpisodeBegan is when the current down episode began (the link's
	// loss, or the start); zero when none is under way.
	EpisodeBegan time.Time
	PeerCheck    string // the last probe's verdict: "serving", "down" or ""

	Job *JobView // the record update in progress, if any

	Stopping bool
	// RestartBy: the peer said it is restarting; the record waits for it
	// until then. Zero when it did not, or once the link is back.
	RestartBy time.Time
}

// JobView is a record update in progress.
type JobView struct {
	ID       uint64
	Purpose  Purpose
	Want     string
	Since    time.Time
	Failures int
	LastErr  string
}

// View returns what s shows the outside.
func (s State) View(c *Config) View {
	v := View{
		Started:      s.started,
		Peer:         s.PeerState(),
		PeerSince:    s.peerSince,
		LastHeard:    s.lastHeard,
		Mismatch:     s.mismatch,
		Problems:     s.problems,
		PeerClock:    s.peerClock,
		APIClock:     s.apiClock,
		Linked:       s.link,
		PeerHealthy:  s.peerHealthy,
		PeerValue:    s.peerValue,
		Record:       s.rec.content,
		RecordAt:     s.rec.at,
		Missing:      s.rec.missing,
		Active:       s.rec.content != "" && s.rec.content == c.ThisValue,
		Healthy:      s.healthy,
		HealthySince: s.healthySince,
		LastCheck:    s.lastCheck,
		Guard:        s.guard,
		GuardAt:      s.guardAt,
		Stopping:     s.stopping,
	}
	if !s.healthy {
		v.HealthReason = s.healthReason
	}
	if s.ep.on {
		v.EpisodeBegan = s.ep.began
		if v.EpisodeBegan.IsZero() {
			v.EpisodeBegan = s.started
		}
	}
	if s.link {
		v.PeerSince = s.linkSince
	} else {
		v.Reason = s.downReason(c)
		v.RestartBy = s.restartBy
		if s.peer != declaredDown {
			v.PeerSince = s.started
			if s.everLinked {
				v.PeerSince = s.lostAt
			}
		}
	}
	switch s.probe {
	case probeServing:
		v.PeerCheck = "serving"
	case probeFailed:
		v.PeerCheck = "down"
	}
	if j := s.job; j != nil {
		v.Job = &JobView{ID: j.id, Purpose: j.purpose, Want: j.content, Since: j.since, Failures: j.failures, LastErr: j.lastErr}
	}
	return v
}
