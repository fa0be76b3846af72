package failover

import "time"

// Verdict is the write rule's answer for one read of the record.
type Verdict int

// Verdicts.
const (
	VerdictNothing  Verdict = iota // the record already holds what we want
	VerdictWrite                   // write it
	VerdictWithhold                // the peer acted since the link was lost: leave it
	VerdictYield                   // neither node's value: let the preferred node go first
)

// decide is the write rule for one read of the record, asked at asked:
// rec is what it holds now, a what the job wants and what it knows of the
// episode.
func decide(rec Record, asked time.Time, a ActEnsure) Verdict {
	cur := rec.Content
	switch {
	case cur == a.Content:
		return VerdictNothing
	case a.OnlyOverNeither && (cur == a.Own || a.peers(cur)):
		// A correction meets a node's value: someone put it right.
		return VerdictNothing
	case a.Evidence && a.Wrote && a.peers(cur):
		// The peer took it back after this node's write of this episode:
		// both see the other's service gone.
		return VerdictWithhold
	case a.Conditional && a.Disable&DisableWithhold == 0 && a.peers(cur) && a.peerWrote(rec, asked):
		return VerdictWithhold
	case a.Yield && a.Disable&DisableTiePause == 0 && cur != a.Own && !a.peers(cur):
		return VerdictYield
	}
	return VerdictWrite
}

// peers reports whether content may be the peer's value: it is, or the
// peer's value is not known and content is not this node's.
func (a ActEnsure) peers(content string) bool {
	if content == "" || content == a.Own {
		return false
	}
	return content == a.Peer || !a.PeerKnown
}

// peerWrote reports whether the peer's value in rec was written during
// this episode, so the peer was alive then: the record held something else
// when the link was last good (the base), or, with no base known, it
// changed since. A change from before the link was last good is an
// outside edit this node did not know of, not the peer's write.
func (a ActEnsure) peerWrote(rec Record, asked time.Time) bool {
	if !rec.Modified.IsZero() && !a.Since.IsZero() && rec.Modified.Before(a.Since.Add(-clockSkew)) {
		return false
	}
	if rec.Content == a.AlsoBase && rec.Content != "" {
		// The owner's failback, decided on the link when it was due and
		// landed since: dated within its window, or, undated, announced
		// and read within it.
		dated := !rec.Modified.IsZero() && !rec.Modified.Before(a.AlsoFrom.Add(-clockSkew)) && !rec.Modified.After(a.AlsoUntil.Add(clockSkew))
		undated := rec.Modified.IsZero() && a.AlsoAnnounced && !asked.After(a.AlsoUntil)
		if dated || undated {
			return false
		}
	}
	// Surely changed since the link was last good: the peer wrote it,
	// even if it holds the base again (changed away and back), or none is
	// known. (A stamp within the clock margin of that moment cannot say.)
	changed := !a.Since.IsZero() && changedAfter(rec, a.Since)
	if a.Base != "" {
		return rec.Content != a.Base || changed
	}
	return changed
}

// changedAfter reports whether rec, as read, changed surely after t.
func changedAfter(rec Record, t time.Time) bool {
	return !rec.Modified.IsZero() && rec.Modified.After(t.Add(clockSkew))
}
