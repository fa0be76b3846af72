package sim

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/agree"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

// What the link finds of the two nodes' configurations, as watchdog's
// listener, dialer and look for a second server report it.

// noListenerAfter is how long, at least, the peer's port must refuse
// connections, with no link since start, before a client says that
// nothing listens there (watchdog/client.go).
const noListenerAfter = 30 * time.Second

// lookForServerEvery is how often a server with no link since start looks
// for a second server, after its first look a peer_timeout after its
// start (watchdog/node.go).
const lookForServerEvery = time.Minute

// linkPort is the address the nodes' reports name.
func linkPort(i int) string { return fmt.Sprintf("192.0.2.%d:7400", i+1) }

// settingsOf is what node configuration c says of the pair, as its INFO
// gives it: names and roles are the handshake's to check.
func settingsOf(sc *Scenario, c *failover.Config) agree.Settings {
	st := agree.Settings{Keepalive: c.Keepalive, PeerTimeout: c.PeerTimeout, FailbackDelay: c.FailbackDelay, RecordsKnown: true}
	if sc.Set > 1 {
		st.Records = digests(sc, c)
		return st
	}
	st.Record = c.Record + " " + sc.Type
	st.Preferred, st.ThisValue = c.Preferred, c.ThisValue
	if c.OtherKnown {
		st.OtherValue = c.OtherValue
	}
	return st
}

// digests are a set's records as a records block's digests: each
// record's name and type, and its whole configuration (both nodes'
// values and the preferred one).
func digests(sc *Scenario, c *failover.Config) []agree.Digest {
	a, b := strings.Split(sc.Values[0], recordset.Sep), strings.Split(sc.Values[1], recordset.Sep)
	p := strings.Split(c.Preferred, recordset.Sep)
	out := make([]agree.Digest, sc.Set)
	for k := range out {
		label := fmt.Sprintf("www%d.example.com %s", k, sc.Type)
		out[k] = agree.Digest{Label: label, Key: hash32(label), Hash: hash32(label, a[k], b[k], p[k])}
	}
	return out
}

func hash32(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

// refusalText is what a refused handshake of kind says (on the server's
// side, or the client's, told by the server's BYE).
func refusalText(kind string, server bool) string {
	switch {
	case kind == failover.ProblemKey && server:
		return `"srv2.example.com" answers the handshake, but its proof does not match this node's key`
	case kind == failover.ProblemKey:
		return "the server refused the handshake: our keys differ"
	case kind == failover.ProblemName:
		return `the peer calls itself "srv3.example.com", but other_server here is another name`
	case kind == failover.ProblemSameName:
		return "the peer calls itself by this node's own name"
	case kind == failover.ProblemVersion:
		return "the peer speaks another link protocol version"
	case kind == failover.ProblemRole:
		return "the peer says hello as a server: both nodes are servers"
	}
	return "the peer refused the handshake"
}

// hint is a report's hint for kind.
func hint(kind string) string {
	switch kind {
	case failover.ProblemKey:
		return "set the same key in both files"
	case failover.ProblemName, failover.ProblemSameName:
		return "this_server and other_server must be swapped between the two files"
	case failover.ProblemRole, failover.ProblemNoListener:
		return "one node must be the server, the other the client"
	case failover.ProblemVersion:
		return "run the same clooster version on both nodes"
	}
	return ""
}

// refusal is the listener's report of a handshake it refused, or that
// refused its look for a second server.
func (n *node) refusal(kind, what string) {
	n.inputFrom("listener", n.inc, func() {
		n.turn(failover.EvProblem{At: n.clock(), Kind: kind, What: what + " (from " + linkPort(1-n.i) + ")", Hint: hint(kind)})
	})
}

// judge is the dialer's judgment of an attempt (watchdog's dialer.judge):
// f nil is a link. A refused handshake is reported at every attempt;
// a port that refuses connections, with no link since start, once it has
// for max(peer_timeout, 30 s); that report is taken back by an attempt
// that meets anything else.
func (n *node) judge(f *dialFailure) {
	w := n.w
	var ev *failover.EvProblem
	switch {
	case f == nil:
		n.everLinked = true
	case f.refused:
		if n.refusedSince.IsZero() {
			n.refusedSince = w.now
		}
		if !n.everLinked && w.now.Sub(n.refusedSince) >= max(n.cfg.PeerTimeout, noListenerAfter) {
			ev = &failover.EvProblem{Kind: failover.ProblemNoListener, What: linkPort(1-n.i) + " refuses connections: nothing listens there",
				Hint: hint(failover.ProblemNoListener)}
		}
	case f.kind != "":
		ev = &failover.EvProblem{Kind: f.kind, What: f.what, Hint: hint(f.kind)}
	}
	if f == nil || !f.refused {
		n.refusedSince = time.Time{}
	}
	switch {
	case ev != nil:
		n.reported = ev.Kind
		ev.At = n.clock()
		n.turn(*ev)
	case f != nil && n.reported == failover.ProblemNoListener && !f.refused:
		// Something else answers now: what it says is reported for itself.
		n.reported = ""
		n.turn(failover.EvProblem{At: n.clock(), Kind: failover.ProblemNoListener})
	}
}

// lookAfter schedules the server's next look for a second server.
func (n *node) lookAfter(inc int, d time.Duration) {
	n.w.after(d, func() {
		n.inputFrom("looker", inc, func() {
			if n.everLinked {
				return
			}
			n.w.net.lookForServer(n, func(answered bool) {
				n.inputFrom("looker", inc, func() {
					if answered {
						n.turn(failover.EvProblem{At: n.clock(), Kind: failover.ProblemRole,
							What: "the server at " + linkPort(1-n.i) + " answers as a server too", Hint: hint(failover.ProblemRole)})
					}
					if n.proc == procRunning {
						n.lookAfter(inc, lookForServerEvery)
					}
				})
			})
		})
	})
}

// forgedKinds are the reports an attacker on the path can fake: those of
// a handshake, which come before any authentication.
var forgedKinds = []string{failover.ProblemKey, failover.ProblemName, failover.ProblemSameName, failover.ProblemRole,
	failover.ProblemVersion, failover.ProblemNoListener}

// forge is fault f: a forged report to node n every Period or so until
// end.
func (w *World) forge(f Fault, n *node, end time.Time) {
	if w.tail || !w.now.Before(end) {
		return
	}
	kind := forgedKinds[w.rng.IntN(len(forgedKinds))]
	n.inputFrom("forger", n.inc, func() {
		n.turn(failover.EvProblem{At: n.clock(), Kind: kind, What: refusalText(kind, true) + " (from 203.0.113.9:7400)", Hint: hint(kind)})
	})
	w.after(w.uniform(f.Period/2, f.Period*3/2), func() { w.forge(f, n, end) })
}
