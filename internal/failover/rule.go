package failover

import (
	"strings"
	"time"
)

// verdict is the write rule's answer for one read of the record.
type verdict int

// Verdicts.
const (
	verdictNothing  verdict = iota // the record already holds what we want
	verdictWrite                   // write it
	verdictWithhold                // the peer acted since the link was lost: leave it
	verdictYield                   // neither node's value: let the preferred node go first
)

// decide is the write rule for one read of the record, asked at asked:
// rec is what it holds now, a what the job wants and what it knows of the
// episode.
func decide(rec Record, asked time.Time, a ActEnsure) verdict {
	cur := rec.Content
	switch {
	case cur == a.Content:
		return verdictNothing
	case a.OnlyOverNeither && (cur == a.Own || a.peers(cur) || nodesParts(cur, a.Own, a.Peer)):
		// A correction meets a node's value: someone put it right.
		return verdictNothing
	case a.Evidence && a.Wrote && a.peers(cur):
		// The peer took it back after this node's write of this episode:
		// both see the other's service gone.
		return verdictWithhold
	case a.Conditional && a.Disable&DisableWithhold == 0 && a.peersOrTouched(cur) && a.peerWrote(rec, asked):
		return verdictWithhold
	case a.Yield && a.Disable&DisableTiePause == 0 && cur != a.Own && !a.peers(cur):
		return verdictYield
	}
	return verdictWrite
}

// mayLandYet reports whether rec, this node's own value as a takeover
// wants it, asked at asked, may yet be overwritten by the owner's failback
// decided on the link that broke: the read was asked before the failback's
// last moment to land (a write sent just before the owner crashed lands
// after a read asked just after).
func (a ActEnsure) mayLandYet(rec Record, asked time.Time) bool {
	return a.Purpose == Takeover && rec.Content == a.Own && a.AlsoBase != "" && a.AlsoBase != a.Own &&
		!asked.After(a.AlsoUntil)
}

// peersOrTouched reports whether content may be the peer's value, or a
// set of which a record holds the peer's value (the peer's move of the
// set, landed in part; whether the peer made it in this episode is
// peerWrote's to judge, by the base and the stamp).
func (a ActEnsure) peersOrTouched(content string) bool {
	return a.peers(content) || a.PeerKnown && partOf(content, a.Peer)
}

// partOf reports whether content, a set's, has a record that holds its
// value in peer, another content of the set.
func partOf(content, peer string) bool {
	if !strings.Contains(content, PartSep) {
		return false
	}
	c, p := strings.Split(content, PartSep), strings.Split(peer, PartSep)
	if len(c) != len(p) {
		return false
	}
	for i := range c {
		if c[i] == p[i] {
			return true
		}
	}
	return false
}

// peers reports whether content may be the peer's value.
func (a ActEnsure) peers(content string) bool {
	return mayBePeers(content, a.Own, a.Peer, a.PeerKnown)
}

// mayBePeers reports whether content may be the peer's value: it is, or
// the peer's value is not known and content is not this node's (the
// preferred value too: most likely the peer's).
func mayBePeers(content, own, peer string, known bool) bool {
	if content == "" || content == own {
		return false
	}
	return content == peer || !known
}

// failbackLanded reports whether rec, asked at asked, holds the owner's
// failback, decided on the link when it was due and landed since: dated
// within its window, or, undated, announced and read within it.
func (a ActEnsure) failbackLanded(rec Record, asked time.Time) bool {
	if rec.Content != a.AlsoBase || rec.Content == "" {
		return false
	}
	dated := !rec.Modified.IsZero() && !rec.Modified.Before(a.AlsoFrom.Add(-clockSkew)) && !rec.Modified.After(a.AlsoUntil.Add(clockSkew))
	undated := rec.Modified.IsZero() && a.AlsoAnnounced && !asked.After(a.AlsoUntil)
	return dated || undated
}

// peerWrote reports whether the peer's value in rec was written during
// this episode, so the peer was alive then: the record held something else
// when the link was last good (the base), or, with no base known, it
// changed since. A change from before the link was last good is an
// outside edit this node did not know of, not the peer's write.
func (a ActEnsure) peerWrote(rec Record, asked time.Time) bool {
	if changedBefore(rec, a.Since) || withinStamps(rec, a.LinkFrom, a.LinkUntil) || a.saidOnLink(rec) {
		// An edit from before the link was last good, or the peer's
		// write made while it was on the link: not a write of this
		// episode's.
		return false
	}
	if a.failbackLanded(rec, asked) {
		return false
	}
	if a.Base != "" && rec.Content != a.Base && strings.Contains(rec.Content, PartSep) && !a.peers(rec.Content) &&
		!peerTouched(rec.Content, a.Base, a.Own, a.Peer) {
		// A set that holds the peer's value in part, where no record
		// came to hold it since the base: an edit moved a record away
		// from it, the peer moved none.
		return false
	}
	// Surely changed since the link was last good: the peer wrote it,
	// even if it holds the base again (changed away and back), or none is
	// known. (A stamp within the clock margin of that moment cannot say.)
	// A record that holds the base, stamped before this node knew it to
	// hold it, has not changed since: the base as it was learned.
	changed := changedAfter(rec, later(a.Since, a.BaseAt))
	if a.Base != "" {
		return rec.Content != a.Base || changed
	}
	return changed
}

// saidOnLink reports whether rec holds what the peer's last keepalive on
// the last link said the record holds, and is stamped after the link's
// start (LinkStart) but not surely after that keepalive was sent
// (LinkUntil). A write in the last 2 s of the link is within the stamps'
// margin of its end, and the stamp alone cannot place it before the
// loss; the peer's word can: it said on the link that it held the
// record, so it wrote (or knew) that value while on the link, and a peer
// that already holds the record does not write it again once it has lost
// the link. Such a record is as the peer last left it, not the peer's
// write of the episode. On a link that ended the last episode (it held
// for failback_delay), LinkStart is its start: a write the peer said it
// made there was made, or landed, before the loss, and one under way as
// the peer joined belongs to the episode that link ended. On one that did
// not, it is LinkFrom, as for a stamp alone. Undated, or with no
// keepalive that said when it was sent, it cannot say.
func (a ActEnsure) saidOnLink(rec Record) bool {
	return a.LinkSaid != "" && rec.Content == a.LinkSaid &&
		changedAfter(rec, a.LinkStart) && !changedAfter(rec, a.LinkUntil)
}

// withinStamps reports whether rec, as read, last changed surely between
// from and until. Unknown bounds cannot say.
func withinStamps(rec Record, from, until time.Time) bool {
	return !from.IsZero() && changedAfter(rec, from) && changedBefore(rec, until)
}

// changedBefore reports whether rec, as read, last changed surely before
// t: an edit from before then, not a write since. An unknown t cannot say.
func changedBefore(rec Record, t time.Time) bool {
	return !t.IsZero() && !rec.Modified.IsZero() && rec.Modified.Before(t.Add(-clockSkew))
}

// changedAfter reports whether rec, as read, changed surely after t. An
// unknown t (zero: the link was never known good) cannot say.
func changedAfter(rec Record, t time.Time) bool {
	return !t.IsZero() && !rec.Modified.IsZero() && rec.Modified.After(t.Add(clockSkew))
}

// peerTouched reports whether cur, the content of a record set, has a
// record that the peer pointed at itself since base: one that holds the
// peer's value where base did not (the peer's move of the set, landed in
// part: the others may hold anything). Not for a single record, nor an
// unknown base.
func peerTouched(cur, base, own, peer string) bool {
	if base == "" || cur == base || !strings.Contains(cur, PartSep) {
		return false
	}
	c, b := strings.Split(cur, PartSep), strings.Split(base, PartSep)
	o, p := strings.Split(own, PartSep), strings.Split(peer, PartSep)
	if len(b) != len(c) || len(o) != len(c) || len(p) != len(c) {
		return false
	}
	for i := range c {
		if c[i] == p[i] && b[i] != p[i] {
			return true
		}
	}
	return false
}

// nodesParts reports whether cur, the content of a record set, holds in
// each record one node's value or the other's, both nodes' in all: a move
// of the set landed in part, which its writer finishes (not an edit to
// correct). Not for a single record.
func nodesParts(cur, own, peer string) bool {
	if !strings.Contains(cur, PartSep) {
		return false
	}
	c, o, p := strings.Split(cur, PartSep), strings.Split(own, PartSep), strings.Split(peer, PartSep)
	if len(o) != len(c) || len(p) != len(c) {
		return false
	}
	for i := range c {
		if c[i] != o[i] && c[i] != p[i] {
			return false
		}
	}
	return true
}
