package failover

// Verdict is the write rule's answer for one read of the record.
type Verdict int

// Verdicts.
const (
	VerdictNothing  Verdict = iota // the record already holds what we want
	VerdictWrite                   // write it
	VerdictWithhold                // the peer acted since the link was lost: leave it
	VerdictYield                   // neither node's value: let the preferred node go first
)

// decide is the write rule for one read of the record (see Next): rec is
// what the record holds, a what we want and what the record held when the
// link was last up.
func decide(rec Record, a ActEnsure) Verdict {
	switch {
	case rec.Content == a.Content:
		return VerdictNothing
	case a.Base != "" && rec.Content != a.Base && rec.Content == a.Peer && !editedBefore(rec, a):
		return VerdictWithhold
	case a.Yield && rec.Content != a.Peer && rec.Content != a.Base:
		return VerdictYield
	}
	return VerdictWrite
}

// editedBefore reports whether the record, as read, last changed before the
// link was last known good: then the peer's value in it is an outside edit
// this node did not know of, not the peer's write after the loss.
func editedBefore(rec Record, a ActEnsure) bool {
	return !rec.Modified.IsZero() && !a.Since.IsZero() && rec.Modified.Before(a.Since.Add(-clockSkew))
}
