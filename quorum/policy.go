package quorum

import "time"

// maxLogLag is how many entries behind the leader's log a member may be
// and still be handed leadership: the log holds only Raft's own entries,
// so a member that answers at all is rarely more than a few behind.
const maxLogLag = 32

// view is what the leader knows of another member at one policy round.
type view struct {
	Member   Member
	Answered bool
	Status   MemberStatus
	// SeenHealthy is how long the leader has found it healthy on every
	// poll it answered, with no silence of a heartbeat timeout (0 if not
	// healthy at the last).
	SeenHealthy time.Duration
}

// verdict is the policy's answer: keep leading, or hand leadership to To.
type verdict struct {
	Transfer bool
	To       Member
	// NoEligible: this leader should not lead (a witness, or unhealthy)
	// and no member can take over.
	NoEligible bool
}

// decide is the leadership policy, run by the leader at each round from
// what the members said: a witness, or an unhealthy node, hands
// leadership at once to the best eligible node (healthy, answering, log
// within maxLogLag); a healthy node hands it only to a node of better
// priority that has been healthy for failbackDelay by its own account
// and by every poll of this leader's over that time. At the first round
// of a term (fresh), before this leader has written anything and while the
// records do not hold its values, a better node that is healthy now is
// enough: a leader elected by chance over it (the old leader gone) hands
// over before it moves a record, so that a failover is one write, not two.
func decide(self Member, selfHealthy bool, lastIndex uint64, others []view, failbackDelay time.Duration, fresh bool) verdict {
	var best *view
	for i := range others {
		v := &others[i]
		if !eligible(v, lastIndex) || v.Member.Name == self.Name {
			continue
		}
		if self.Role == RoleNode && selfHealthy {
			if !before(v.Member, self) || !fresh && (v.Status.HealthyFor < failbackDelay || v.SeenHealthy < failbackDelay) {
				continue
			}
		}
		if best == nil || before(v.Member, best.Member) {
			best = v
		}
	}
	switch {
	case best != nil:
		return verdict{Transfer: true, To: best.Member}
	case self.Role == RoleWitness || !selfHealthy:
		return verdict{NoEligible: true}
	}
	return verdict{}
}

func eligible(v *view, lastIndex uint64) bool {
	return v.Member.Role == RoleNode && v.Answered && v.Status.Healthy &&
		v.Status.LastIndex+maxLogLag >= lastIndex
}

// before: a is of better priority than b (lower), ties to the name.
func before(a, b Member) bool {
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	return a.Name < b.Name
}
