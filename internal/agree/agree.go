// Package agree compares what two nodes' configurations say about the
// pair: the settings that must agree for the pair to work. The link
// compares the peer's settings, as its INFO frame gives them, with this
// node's; `clooster check a.json b.json` compares two files before they are
// deployed. Both say the same words, because both call Compare.
//
// Everything here is a pure function of its arguments, safe for concurrent
// use.
package agree

import (
	"fmt"
	"strings"
	"time"
)

// Settings is what one node's configuration says about the pair. A zero
// field is unknown (a peer of an older version does not send it) and is
// not compared.
type Settings struct {
	Name, Peer  string // this_server and other_server
	Role        string // "server" or "client"
	Keepalive   time.Duration
	PeerTimeout time.Duration
	// FailbackDelay is how long the owner waits on a good link before it
	// takes the record back; the other node expects that failback after
	// its own.
	FailbackDelay time.Duration
	// Record is the single record of the original format, as "name type"
	// ("www.example.com CNAME", the type "" when the file leaves it to
	// the lookup); "" with a records block.
	Record string
	// Preferred is the single record's preferred_value; "" with a records
	// block (each record's preferred node is in its digest).
	Preferred string
	// ThisValue is what the node writes when it takes over the single
	// record; OtherValue what it expects the peer to write, "" when its
	// file does not say (it learns it from the peer).
	ThisValue, OtherValue string
	// Records are the digests of the records block, in order; nil
	// without one. RecordsKnown says whether Records is known at all.
	Records      []Digest
	RecordsKnown bool
	Protocol     int // the link protocol's version
}

// Digest is one record of a records block: Label names it for people
// ("www.example.com A"), Key identifies it (its name and type), Hash its
// whole configuration.
type Digest struct {
	Label     string
	Key, Hash uint32
}

// Difference is one setting on which two nodes disagree.
type Difference struct {
	// Field is the configuration key, as a file writes it:
	// "keepalive_interval", "records[www.example.com A]".
	Field string
	// A and B are the two nodes' values as an operator reads them; ""
	// where a side has none.
	A, B string
	// What says why it matters, in one sentence.
	What string
	// Blocks: while it lasts, the nodes disagree on where the records
	// belong when both are up, so neither may fail back.
	Blocks bool
	// NameA and NameB name the nodes whose values A and B are, where the
	// values are not names themselves; "" leaves them out.
	NameA, NameB string
}

// String is the difference as a log line or a check report says it.
func (d Difference) String() string {
	if d.A == "" && d.B == "" {
		return fmt.Sprintf("%s: %s", d.Field, d.What)
	}
	return fmt.Sprintf("%s: %s vs %s: %s", d.Field, show(d.A)+of(d.NameA), show(d.B)+of(d.NameB), d.What)
}

func of(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

func show(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

// FarApart is how many times longer one node's keepalive_interval or
// peer_timeout may be than the other's before they are reported.
const FarApart = 2

// Compare lists every setting on which a and b disagree, in a fixed order:
// names and roles, protocol, timings, values, records. It is symmetric up
// to the order of A and B; an unknown setting on either side is skipped.
func Compare(a, b Settings) []Difference {
	var out []Difference
	add := func(d Difference) { out = append(out, d) }
	an, bn := side(a, "the first node"), side(b, "the second node")

	// Names.
	switch {
	case a.Name != "" && a.Name == b.Name:
		add(Difference{Field: "this_server", A: a.Name, B: b.Name, What: "both nodes have the same name: one file was copied without swapping this_server and other_server"})
	default:
		if a.Peer != "" && b.Name != "" && a.Peer != b.Name {
			add(Difference{Field: "other_server", A: a.Peer, B: b.Name, What: fmt.Sprintf("%s expects its peer to be %q, but the peer calls itself %q", an, a.Peer, b.Name)})
		}
		if b.Peer != "" && a.Name != "" && b.Peer != a.Name {
			add(Difference{Field: "other_server", A: a.Name, B: b.Peer, What: fmt.Sprintf("%s expects its peer to be %q, but the peer calls itself %q", bn, b.Peer, a.Name)})
		}
	}

	// Roles.
	if a.Role != "" && a.Role == b.Role {
		what := "both nodes listen and wait for the other: one must be the client (a client block with the server's address)"
		if a.Role == "client" {
			what = "both nodes dial and nobody listens: one must be the server (no client block, or role server)"
		}
		add(Difference{Field: "role", A: a.Role, B: b.Role, What: what})
	}

	if a.Protocol != 0 && b.Protocol != 0 && a.Protocol != b.Protocol {
		add(Difference{Field: "protocol", A: fmt.Sprint(a.Protocol), B: fmt.Sprint(b.Protocol), What: "the nodes speak different link protocol versions: run the same clooster version on both"})
	}

	n := len(out)
	out = append(out, timings(a, b, an, bn)...)

	// Which record, and where it belongs while both are up.
	if a.Record != "" && b.Record != "" && !sameRecord(a.Record, b.Record) {
		add(Difference{Field: "cloudflare.record", A: a.Record, B: b.Record, Blocks: true,
			What: "the nodes look after different records"})
	}
	if a.Preferred != "" && b.Preferred != "" && a.Preferred != b.Preferred {
		add(Difference{Field: "cloudflare.preferred_value", A: a.Preferred, B: b.Preferred, Blocks: true,
			What: "the nodes disagree on the record's content while both are up: neither fails back until they agree"})
	}
	if a.OtherValue != "" && b.ThisValue != "" && a.OtherValue != b.ThisValue {
		add(Difference{Field: "cloudflare.other_value", A: a.OtherValue, B: b.ThisValue, Blocks: true,
			What: fmt.Sprintf("%s expects %s to write another value than its this_value", an, bn)})
	}
	if b.OtherValue != "" && a.ThisValue != "" && b.OtherValue != a.ThisValue {
		add(Difference{Field: "cloudflare.other_value", A: a.ThisValue, B: b.OtherValue, Blocks: true,
			What: fmt.Sprintf("%s expects %s to write another value than its this_value", bn, an)})
	}
	if a.RecordsKnown && b.RecordsKnown {
		out = append(out, records(a.Records, b.Records, an, bn)...)
	}
	for i := n; i < len(out); i++ {
		if out[i].A != "" || out[i].B != "" {
			out[i].NameA, out[i].NameB = a.Name, b.Name
		}
	}
	return out
}

// timings reports keepalive_interval and peer_timeout far apart, and a
// peer_timeout that one node's keepalives cannot keep: a single lost
// keepalive would be a failover.
func timings(a, b Settings, an, bn string) []Difference {
	var out []Difference
	far := func(field string, x, y time.Duration) {
		if x > 0 && y > 0 && (x > FarApart*y || y > FarApart*x) {
			out = append(out, Difference{Field: field, A: x.String(), B: y.String(),
				What: fmt.Sprintf("more than %d times apart: the nodes judge the link on different timings", FarApart)})
		}
	}
	far("keepalive_interval", a.Keepalive, b.Keepalive)
	far("peer_timeout", a.PeerTimeout, b.PeerTimeout)
	short := func(field string, keepalive, timeout time.Duration, sender, judge string) {
		if keepalive > 0 && timeout > 0 && timeout < 2*keepalive {
			out = append(out, Difference{Field: field, A: keepalive.String(), B: timeout.String(),
				What: fmt.Sprintf("%s's peer_timeout is shorter than two of %s's keepalive intervals: one lost keepalive is a failover", judge, sender)})
		}
	}
	if a.FailbackDelay > 0 && b.FailbackDelay > 0 && a.FailbackDelay != b.FailbackDelay {
		out = append(out, Difference{Field: "failback_delay", A: a.FailbackDelay.String(), B: b.FailbackDelay.String(),
			What: "the owner fails back after its own failback_delay, the other node expects it after its own: a failback it does not expect looks like an unasked move (a false flap-hold alert), one it expects sooner holds a write off"})
	}
	short("keepalive_interval/peer_timeout", a.Keepalive, b.PeerTimeout, an, bn)
	short("peer_timeout/keepalive_interval", b.Keepalive, a.PeerTimeout, bn, an)
	return out
}

// records compares two records blocks digest by digest: nil means no
// block.
func records(a, b []Digest, an, bn string) []Difference {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		return []Difference{{Field: "records", B: fmt.Sprintf("%d records", len(b)), Blocks: true,
			What: "only " + bn + "'s file has a records block"}}
	case b == nil:
		return []Difference{{Field: "records", A: fmt.Sprintf("%d records", len(a)), Blocks: true,
			What: "only " + an + "'s file has a records block"}}
	}
	theirs := make(map[uint32]uint32, len(b))
	for _, d := range b {
		theirs[d.Key] = d.Hash
	}
	mine := make(map[uint32]bool, len(a))
	var out []Difference
	for _, d := range a {
		mine[d.Key] = true
		field := "records[" + d.Label + "]"
		switch h, ok := theirs[d.Key]; {
		case !ok:
			out = append(out, Difference{Field: field, Blocks: true, What: "in " + an + "'s set only"})
		case h != d.Hash:
			out = append(out, Difference{Field: field, Blocks: true, What: "configured differently (zone, provider, values or preferred node)"})
		}
	}
	for _, d := range b {
		if mine[d.Key] {
			continue
		}
		field := "records[" + d.Label + "]"
		if d.Label == "" {
			field = fmt.Sprintf("records[%08x]", d.Key) // the peer's INFO names no labels
		}
		out = append(out, Difference{Field: field, Blocks: true, What: "in " + bn + "'s set only"})
	}
	return out
}

// side names a node for messages: its name, else what.
func side(s Settings, what string) string {
	if s.Name != "" {
		return s.Name
	}
	return what
}

// sameRecord compares two "name type" records; a missing type matches any
// (the lookup picks the only record of the name).
func sameRecord(a, b string) bool {
	an, at, _ := strings.Cut(strings.ToLower(a), " ")
	bn, bt, _ := strings.Cut(strings.ToLower(b), " ")
	return strings.TrimSuffix(an, ".") == strings.TrimSuffix(bn, ".") && (at == "" || bt == "" || at == bt)
}
