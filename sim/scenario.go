package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

// Scenario is one run's configuration of the pair and its schedule of
// faults, drawn from the seed (newScenario) or written by hand (tests).
type Scenario struct {
	// The record: CNAME (each node writes its own name) or A (each node an
	// address, this_value on each).
	Type   string
	Values [2]string
	// PeerKnown: node i's configuration names the peer's value (true for
	// CNAME, whose default is right; for A records, the original format
	// has no key for it, so an old configuration does not know it).
	PeerKnown [2]bool
	Preferred string
	// Set is the number of records the pair owns (0 or 1: one record).
	// A set's values are its records' contents joined as recordset
	// joins them; each node knows both nodes' values (a records block).
	Set int

	Keepalive, PeerTimeout, FailbackDelay, Drift time.Duration
	Health                                       [2]*HealthCheck // nil: none
	PeerCheck                                    [2]bool
	ProbeTimeout                                 time.Duration
	Handover                                     bool

	// The outside.
	APISkew      time.Duration    // the API's clock, ahead of true time
	NodeSkew     [2]time.Duration // each node's clock, ahead of true time
	NoModified   bool             // the provider gives no change stamps
	NetDelay     time.Duration    // one-way delay on the link
	NetJitter    time.Duration
	APILatency   time.Duration // one-way, to the DNS API
	StartB       time.Duration // B starts this long after A
	Faults       []Fault
	Length       time.Duration // the faults happen within this; then a quiet tail
	Tail         time.Duration
	CheckLiveEnd bool // at the end of the tail, the pair must be linked and the record preferred
	// Swap: the provider compares and swaps (RFC 2136 prerequisites):
	// every node write is conditional on what its job read.
	Swap bool

	// Mismatch: how the two nodes' configurations disagree ("" if they
	// agree). A handshake mismatch lasts the whole run, tail included.
	Mismatch Mismatch
	// NodeKeepalive, NodePeerTimeout: with a timings mismatch, each
	// node's own keepalive_interval and peer_timeout; Keepalive and
	// PeerTimeout are then the longer of the two, for the checkers'
	// bounds. Zero: Keepalive and PeerTimeout.
	NodeKeepalive, NodePeerTimeout [2]time.Duration
	// NodePreferred: with a preferred mismatch, each node's
	// preferred_value; "": Preferred.
	NodePreferred [2]string

	// RestartGrace is both nodes' restart_grace: a FaultRestart announces
	// it. Zero: none drawn (a restart is then a stop).
	RestartGrace time.Duration

	agreed     bool // drawn with Options.Agreed, for a failure's replay
	noRestarts bool // drawn with Options.NoRestarts
}

// Mismatch names a disagreement between the two nodes' configurations.
type Mismatch string

// Mismatches. The first six keep the link from coming up (a handshake
// mismatch): the handshake refuses it, or nobody dials, or nobody
// listens; the last two let it come up, and the peer's INFO shows them.
const (
	MismatchKey       Mismatch = "keys"         // the keys differ: the server refuses the client's proof
	MismatchName      Mismatch = "names"        // other_server is not the peer's this_server
	MismatchSameName  Mismatch = "same-name"    // both nodes have one name
	MismatchVersion   Mismatch = "version"      // the nodes speak different link protocol versions
	MismatchServers   Mismatch = "both-servers" // both listen, nobody dials
	MismatchClients   Mismatch = "both-clients" // both dial, nobody listens
	MismatchTimings   Mismatch = "timings"      // keepalive_interval and peer_timeout far apart
	MismatchPreferred Mismatch = "preferred"    // each node's preferred_value is its own value
)

// Mismatches lists them, in the order the profile reports them.
var Mismatches = []Mismatch{MismatchKey, MismatchName, MismatchSameName, MismatchVersion, MismatchServers, MismatchClients,
	MismatchTimings, MismatchPreferred}

// Problem is the problem kind (failover.Problem*) each node must report
// of m.
func (m Mismatch) Problem() string {
	switch m {
	case MismatchKey:
		return failover.ProblemKey
	case MismatchName:
		return failover.ProblemName
	case MismatchSameName:
		return failover.ProblemSameName
	case MismatchVersion:
		return failover.ProblemVersion
	case MismatchServers:
		return failover.ProblemRole
	case MismatchClients:
		return failover.ProblemNoListener
	case MismatchTimings, MismatchPreferred:
		return failover.ProblemSettings
	}
	return ""
}

// Handshake reports whether m keeps the link from ever coming up.
func (m Mismatch) Handshake() bool {
	switch m {
	case MismatchKey, MismatchName, MismatchSameName, MismatchVersion, MismatchServers, MismatchClients:
		return true
	}
	return false
}

// refused reports whether the server refuses every handshake of the
// client under m: the problem kind, "" if it does not.
func (m Mismatch) refused() string {
	switch m {
	case MismatchKey, MismatchName, MismatchSameName, MismatchVersion:
		return m.Problem()
	}
	return ""
}

// oneOwner reports whether the nodes' configurations agree on who is
// preferred and on how long each waits for the other: a tie is then the
// preferred node's to win. Both servers both think they own a preferred
// value of neither node, both clients neither; each node prefers its own
// value under a preferred mismatch; and with timings far apart, the tie
// pause of one need not cover the other's notice of the loss.
func (sc *Scenario) oneOwner() bool {
	switch sc.Mismatch {
	case MismatchServers, MismatchClients, MismatchPreferred, MismatchTimings, MismatchName, MismatchSameName:
		// (With names that do not match, neither knows the value the
		// other writes: it yields no tie.)
		return false
	}
	return true
}

// flaps reports whether the nodes' timings make the link flap: the
// server's peer_timeout is under two of the client's keepalive intervals
// (agree's "one lost keepalive is a failover"; under one, every interval
// is). The link then breaks again and again, and each break costs the
// survivor a read.
func (sc *Scenario) flaps() bool {
	return sc.Mismatch == MismatchTimings && sc.peerTimeout(0) < 2*sc.keepalive(1)
}

// keepalive and peerTimeout are node i's own timings.
func (sc *Scenario) keepalive(i int) time.Duration {
	if sc.NodeKeepalive[i] > 0 {
		return sc.NodeKeepalive[i]
	}
	return sc.Keepalive
}

func (sc *Scenario) peerTimeout(i int) time.Duration {
	if sc.NodePeerTimeout[i] > 0 {
		return sc.NodePeerTimeout[i]
	}
	return sc.PeerTimeout
}

// preferred is node i's preferred_value.
func (sc *Scenario) preferred(i int) string {
	if sc.NodePreferred[i] != "" {
		return sc.NodePreferred[i]
	}
	return sc.Preferred
}

// HealthCheck is a node's health.* settings.
type HealthCheck struct {
	Interval   time.Duration
	Fall, Rise int
}

// FaultKind names what a fault does.
type FaultKind string

// Faults.
const (
	FaultCut        FaultKind = "cut"         // the link, both ways, for For
	FaultCutOneWay  FaultKind = "cut-one-way" // Node's frames to the peer are dropped, for For
	FaultLoss       FaultKind = "loss"        // packet loss P both ways, for For
	FaultSlowNet    FaultKind = "slow-net"    // extra one-way delay up to Extra, for For
	FaultReset      FaultKind = "reset"       // every connection of the link reset at once
	FaultFlap       FaultKind = "flap"        // cut and healed every Period or so, for For
	FaultCrash      FaultKind = "crash"       // kill -9 of Node's clooster; restarted after For (0: at the tail)
	FaultPowerOff   FaultKind = "power-off"   // Node's machine, service and all; back after For
	FaultFreeze     FaultKind = "freeze"      // SIGSTOP of Node for For, then SIGCONT
	FaultStop       FaultKind = "stop"        // SIGTERM of Node; restarted after For (0: at the tail)
	FaultRestart    FaultKind = "restart"     // SIGUSR2 of Node: a restart announced with RestartGrace; started again after For (0: at the tail)
	FaultReload     FaultKind = "reload"      // SIGHUP of Node: its configuration reloaded with Change
	FaultService    FaultKind = "service"     // Node's own service down for For
	FaultServFlap   FaultKind = "service-flap"
	FaultProbePath  FaultKind = "probe-path"  // Node cannot reach the peer's service (peer_check), for For
	FaultAPIDown    FaultKind = "api-down"    // 5xx for For
	FaultAPI429     FaultKind = "api-429"     // 429 with Retry-After Extra, for For
	FaultAPISlow    FaultKind = "api-slow"    // answers after up to Extra (timeouts past 10 s), for For
	FaultAPILost    FaultKind = "api-lost"    // writes apply but their answers are lost, for For
	FaultAPIStale   FaultKind = "api-stale"   // reads show the content before the last write for up to Extra, for For
	FaultEditThird  FaultKind = "edit-third"  // an operator points the record elsewhere
	FaultEditNode   FaultKind = "edit-node"   // an operator points the record at Node
	FaultDelete     FaultKind = "delete"      // the record is deleted; re-created after For (0: at the tail) with Value
	FaultTypeChange FaultKind = "type-change" // the record's type is changed; changed back after For
	FaultEditOne    FaultKind = "edit-one"    // a set: an operator points record Record elsewhere
	FaultRefuseOne  FaultKind = "refuse-one"  // a set: the API refuses writes of record Record for For
	// FaultForged: an attacker on the path sends Node reports of a
	// refused handshake (failover.EvProblem) every Period or so, for For:
	// they come before any authentication, so anyone can fake them.
	FaultForged FaultKind = "forged"
)

// Fault is one timed fault.
type Fault struct {
	At     time.Duration
	Kind   FaultKind
	Node   int
	For    time.Duration
	P      float64
	Extra  time.Duration
	Period time.Duration
	Record int // of a set
	// Change is what a FaultReload changes: "same" (nothing: a reload
	// for another key), "failback" (failback_delay to Extra, no longer
	// than the scenario's), "drift" (drift_check_interval to Extra, no
	// longer), "handover" (handover_on_stop turned over).
	Change string
}

func (f Fault) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %s", f.Kind, f.At.Round(time.Millisecond))
	switch f.Kind {
	case FaultCutOneWay, FaultCrash, FaultPowerOff, FaultFreeze, FaultStop, FaultRestart, FaultReload, FaultService, FaultServFlap, FaultProbePath, FaultEditNode, FaultForged:
		fmt.Fprintf(&b, " node %s", nodeName(f.Node))
	}
	if f.Change != "" {
		fmt.Fprintf(&b, " change %s", f.Change)
	}
	if f.For > 0 {
		fmt.Fprintf(&b, " for %s", f.For.Round(time.Millisecond))
	}
	if f.P > 0 {
		fmt.Fprintf(&b, " p=%.2f", f.P)
	}
	if f.Extra > 0 {
		fmt.Fprintf(&b, " extra=%s", f.Extra.Round(time.Millisecond))
	}
	if f.Kind == FaultForged {
		fmt.Fprintf(&b, " every %s", f.Period.Round(time.Millisecond))
	}
	if f.Kind == FaultEditOne || f.Kind == FaultRefuseOne {
		fmt.Fprintf(&b, " record %d", f.Record)
	}
	return b.String()
}

func nodeName(i int) string { return string(rune('A' + i)) }

// newScenario draws a configuration and a schedule from w's source.
func newScenario(w *World) *Scenario {
	sc := &Scenario{Type: "CNAME", Values: [2]string{"srv1.example.com", "srv2.example.com"}, PeerKnown: [2]bool{true, true}}
	if w.chance(0.4) {
		sc.Type = "A"
		sc.Values = [2]string{"192.0.2.1", "192.0.2.2"}
		// An original configuration does not know the peer's address.
		sc.PeerKnown = [2]bool{w.chance(0.7), w.chance(0.7)}
	}
	switch r := w.rng.Float64(); {
	case r < 0.75:
		sc.Preferred = sc.Values[0]
	case r < 0.9:
		sc.Preferred = sc.Values[1]
	default:
		sc.Preferred = "lb.example.com" // neither: the server fails back to a third value
		if sc.Type == "A" {
			sc.Preferred = "192.0.2.100"
		}
	}
	sc.Keepalive = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}[w.rng.IntN(3)]
	sc.PeerTimeout = sc.Keepalive * time.Duration(3+w.rng.IntN(4))
	if sc.Keepalive == 500*time.Millisecond && w.chance(0.5) {
		sc.PeerTimeout = 2500 * time.Millisecond // the defaults
	}
	sc.FailbackDelay = []time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second}[w.rng.IntN(3)]
	sc.Drift = []time.Duration{0, 20 * time.Second, time.Minute, 5 * time.Minute}[w.rng.IntN(4)]
	for i := range 2 {
		if w.chance(0.5) {
			sc.Health[i] = &HealthCheck{Interval: []time.Duration{time.Second, 2 * time.Second}[w.rng.IntN(2)], Fall: 1 + w.rng.IntN(3), Rise: 1 + w.rng.IntN(3)}
		}
		sc.PeerCheck[i] = w.chance(0.35)
		sc.NodeSkew[i] = w.uniform(-2*time.Second, 2*time.Second)
	}
	sc.ProbeTimeout = 2 * time.Second
	sc.Handover = w.chance(0.8)
	sc.APISkew = w.uniform(-10*time.Second, 10*time.Second)
	sc.NoModified = w.chance(0.2)
	sc.NetDelay = w.uniform(100*time.Microsecond, 30*time.Millisecond)
	sc.NetJitter = w.uniform(0, sc.NetDelay)
	sc.APILatency = w.uniform(5*time.Millisecond, 80*time.Millisecond)
	if w.chance(0.3) {
		sc.StartB = w.uniform(0, 3*sc.PeerTimeout)
	}
	sc.Length = w.uniform(time.Minute, 4*time.Minute)
	sc.Tail = 2*sc.FailbackDelay + 30*time.Second + sc.Drift
	sc.CheckLiveEnd = true

	n := 1 + w.rng.IntN(6)
	for range n {
		sc.Faults = append(sc.Faults, randomFault(w, sc))
	}
	return sc
}

// setScenario makes sc a schedule of a record set of two or three records,
// with faults of single records too. It draws from a source of its own, so
// that a seed draws the same schedule of one record, set or not.
func setScenario(w *World, sc *Scenario) {
	x := rand.New(rand.NewPCG(uint64(w.seed), 0x7265636f72647365))
	sc.Set = 2 + x.IntN(2)
	sc.Values = [2]string{setValue(sc.Values[0], sc.Set), setValue(sc.Values[1], sc.Set)}
	sc.Preferred = setValue(sc.Preferred, sc.Set)
	sc.PeerKnown = [2]bool{true, true}
	for range 1 + x.IntN(3) {
		f := Fault{At: time.Duration(3e9 + x.Int64N(int64(sc.Length-3*time.Second))), Kind: FaultEditOne, Record: x.IntN(sc.Set)}
		if x.Float64() < 0.6 {
			f.Kind = FaultRefuseOne
			f.For = time.Duration(x.Int64N(int64(sc.PeerTimeout + sc.FailbackDelay + 40*time.Second)))
		}
		sc.Faults = append(sc.Faults, f)
	}
}

// setValue is the content of a set of n records whose first holds v: the
// others hold v with the record's index (opaque to the rule, as contents
// are).
func setValue(v string, n int) string {
	parts := []string{v}
	for i := 1; i < n; i++ {
		parts = append(parts, fmt.Sprintf("%s~%d", v, i))
	}
	return recordset.Join(parts)
}

// mismatchScenario makes one schedule in eight one of a mismatch between
// the two nodes' configurations, and one in eight one with forged
// reports of a refused handshake (half of them while the other node
// dies). It draws from a source of its own, so that a seed's schedule is
// otherwise the one it was before mismatches were drawn.
func mismatchScenario(w *World, sc *Scenario) {
	x := rand.New(rand.NewPCG(uint64(w.seed), 0x6d69736d61746368))
	uniform := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(x.Int64N(int64(hi-lo)+1))
	}
	if x.IntN(8) == 0 {
		sc.Mismatch = Mismatches[x.IntN(len(Mismatches))]
		switch m := sc.Mismatch; {
		case m == MismatchTimings:
			// Node B's timings, more than agree.FarApart times A's
			// either way; the checkers' bounds take the longer ones.
			var far []time.Duration
			for _, k := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second} {
				if k > 2*sc.Keepalive || sc.Keepalive > 2*k {
					far = append(far, k)
				}
			}
			kb := far[x.IntN(len(far))]
			sc.NodeKeepalive = [2]time.Duration{sc.Keepalive, kb}
			sc.NodePeerTimeout = [2]time.Duration{sc.PeerTimeout, kb * time.Duration(3+x.IntN(4))}
			sc.Keepalive, sc.PeerTimeout = max(sc.NodeKeepalive[0], kb), max(sc.NodePeerTimeout[0], sc.NodePeerTimeout[1])
			sc.CheckLiveEnd = !sc.flaps()
		case m == MismatchPreferred:
			sc.Preferred = sc.Values[0]
			sc.NodePreferred = sc.Values
		case m.Handshake():
			// The link never comes up: a long run, in which each node
			// treats the other as down all along.
			sc.Length = max(sc.Length, 10*time.Minute)
			sc.CheckLiveEnd = false
		}
	}
	if x.IntN(8) == 0 {
		f := Fault{At: uniform(3*time.Second, sc.Length), Kind: FaultForged, Node: x.IntN(2),
			For: uniform(sc.PeerTimeout, sc.FailbackDelay+40*time.Second), Period: uniform(100*time.Millisecond, 2*time.Second)}
		sc.Faults = append(sc.Faults, f)
		if x.IntN(2) == 0 {
			// The peer dies while the evidence comes: it may not hold
			// off the takeover.
			death := Fault{At: uniform(f.At, min(f.At+f.For/2, sc.Length)), Kind: FaultCrash, Node: 1 - f.Node, For: uniform(sc.PeerTimeout, sc.FailbackDelay+40*time.Second)}
			if x.IntN(2) == 0 {
				death.Kind = FaultPowerOff
			}
			sc.Faults = append(sc.Faults, death)
		}
	}
}

// reloadScenario makes one schedule in four one with reloads (SIGHUP) of
// either node at random moments, one to four of them: the same
// configuration again (a change of another key: a channel, a hook), a
// shorter failback_delay or drift_check_interval, handover_on_stop turned
// over. (No longer timings: the checkers' bounds are the scenario's.) It
// draws from a source of its own, so that a seed's schedule is otherwise
// the one it was before reloads were drawn.
func reloadScenario(w *World, sc *Scenario) {
	x := rand.New(rand.NewPCG(uint64(w.seed), 0x72656c6f6164))
	if x.IntN(4) != 0 {
		return
	}
	uniform := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(x.Int64N(int64(hi-lo)+1)) }
	for range 1 + x.IntN(4) {
		f := Fault{At: uniform(time.Second, sc.Length), Kind: FaultReload, Node: x.IntN(2)}
		switch x.IntN(4) {
		case 0:
			f.Change = "same"
		case 1:
			f.Change, f.Extra = "failback", uniform(sc.FailbackDelay/2, sc.FailbackDelay)
		case 2:
			f.Change = "drift"
			if sc.Drift > 0 {
				f.Extra = uniform(sc.Drift/2, sc.Drift)
			}
		default:
			f.Change = "handover"
		}
		sc.Faults = append(sc.Faults, f)
	}
}

// restartScenario makes one schedule in five one with an announced
// restart (SIGUSR2) of a node: back well within restart_grace most of the
// time, late, or only at the tail; one in ten of them with no grace (a
// restart is then a stop). It draws from a source of its own, so that a
// seed's schedule is otherwise the one it was before restarts were drawn.
func restartScenario(w *World, sc *Scenario) {
	x := rand.New(rand.NewPCG(uint64(w.seed), 0x72657374617274))
	if x.IntN(5) != 0 {
		return
	}
	uniform := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(x.Int64N(int64(hi-lo)+1)) }
	sc.RestartGrace = uniform(5*time.Second, 45*time.Second)
	if x.IntN(10) == 0 {
		sc.RestartGrace = 0
	}
	f := Fault{At: uniform(3*time.Second, sc.Length), Kind: FaultRestart, Node: x.IntN(2)}
	switch p := x.IntN(20); {
	case p < 14:
		f.For = uniform(300*time.Millisecond, sc.RestartGrace*4/5+300*time.Millisecond) // back in time
	case p < 17:
		f.For = sc.RestartGrace + uniform(time.Second, 20*time.Second) // late
	}
	sc.Faults = append(sc.Faults, f)
}

func randomFault(w *World, sc *Scenario) Fault {
	f := Fault{At: w.uniform(3*time.Second, sc.Length), Node: w.rng.IntN(2)}
	short := func() time.Duration { return w.uniform(100*time.Millisecond, 2*sc.PeerTimeout) }
	long := func() time.Duration { return w.uniform(sc.PeerTimeout, sc.FailbackDelay+40*time.Second) }
	anyDur := func() time.Duration {
		if w.chance(0.5) {
			return short()
		}
		return long()
	}
	kinds := []FaultKind{
		FaultCut, FaultCut, FaultCutOneWay, FaultLoss, FaultSlowNet, FaultReset, FaultFlap,
		FaultCrash, FaultCrash, FaultPowerOff, FaultFreeze, FaultFreeze, FaultStop,
		FaultService, FaultServFlap, FaultProbePath,
		FaultAPIDown, FaultAPI429, FaultAPISlow, FaultAPILost, FaultAPIStale,
		FaultEditThird, FaultEditNode, FaultDelete, FaultTypeChange,
	}
	f.Kind = kinds[w.rng.IntN(len(kinds))]
	switch f.Kind {
	case FaultCut, FaultCutOneWay, FaultProbePath, FaultAPIDown, FaultAPILost, FaultService:
		f.For = anyDur()
	case FaultLoss:
		f.For = long()
		f.P = []float64{0.05, 0.1, 0.2, 0.3}[w.rng.IntN(4)]
	case FaultSlowNet:
		f.For = long()
		f.Extra = w.uniform(50*time.Millisecond, sc.PeerTimeout)
	case FaultFlap:
		f.For = long()
		f.Period = w.uniform(200*time.Millisecond, 3*sc.PeerTimeout)
	case FaultCrash, FaultStop, FaultPowerOff:
		f.For = long()
		if w.chance(0.2) {
			f.For = 0 // back only at the tail
		}
	case FaultFreeze:
		f.For = anyDur()
	case FaultServFlap:
		f.For = long()
		f.Period = w.uniform(500*time.Millisecond, 6*time.Second)
	case FaultAPI429:
		f.For = anyDur()
		f.Extra = w.uniform(time.Second, 10*time.Second)
	case FaultAPISlow:
		f.For = long()
		f.Extra = w.uniform(time.Second, 15*time.Second)
	case FaultAPIStale:
		// The rule assumes reads lag writes by less than StaleReads.
		f.For = long()
		f.Extra = w.uniform(100*time.Millisecond, failover.StaleReads-time.Millisecond)
	case FaultDelete, FaultTypeChange:
		f.For = long()
	}
	return f
}

// String is the scenario in a few lines, for a failure's report.
func (sc *Scenario) String() string {
	var b strings.Builder
	if sc.Set > 1 {
		fmt.Fprintf(&b, "a set of %d records: ", sc.Set)
	}
	fmt.Fprintf(&b, "record %s, values A=%s B=%s, preferred %s, peer's value known A=%v B=%v\n",
		sc.Type, sc.Values[0], sc.Values[1], sc.Preferred, sc.PeerKnown[0], sc.PeerKnown[1])
	fmt.Fprintf(&b, "keepalive %s, peer_timeout %s, failback_delay %s, drift %s, handover %v, peer_check A=%v B=%v\n",
		sc.Keepalive, sc.PeerTimeout, sc.FailbackDelay, sc.Drift, sc.Handover, sc.PeerCheck[0], sc.PeerCheck[1])
	for i, h := range sc.Health {
		if h != nil {
			fmt.Fprintf(&b, "health %s: every %s, fall %d, rise %d\n", nodeName(i), h.Interval, h.Fall, h.Rise)
		}
	}
	fmt.Fprintf(&b, "API skew %s, stamps %v, latency %s; node skew A=%s B=%s; link delay %s±%s; B starts at %s\n",
		sc.APISkew.Round(time.Millisecond), !sc.NoModified, sc.APILatency.Round(time.Millisecond),
		sc.NodeSkew[0].Round(time.Millisecond), sc.NodeSkew[1].Round(time.Millisecond),
		sc.NetDelay.Round(time.Microsecond), sc.NetJitter.Round(time.Microsecond), sc.StartB.Round(time.Millisecond))
	if sc.Swap {
		b.WriteString("provider compares and swaps\n")
	}
	if sc.RestartGrace > 0 {
		fmt.Fprintf(&b, "restart_grace %s\n", sc.RestartGrace.Round(time.Millisecond))
	}
	switch sc.Mismatch {
	case "":
	case MismatchTimings:
		fmt.Fprintf(&b, "mismatch %s: keepalive A=%s B=%s, peer_timeout A=%s B=%s\n", sc.Mismatch,
			sc.keepalive(0), sc.keepalive(1), sc.peerTimeout(0), sc.peerTimeout(1))
	case MismatchPreferred:
		fmt.Fprintf(&b, "mismatch %s: preferred A=%s B=%s\n", sc.Mismatch, sc.preferred(0), sc.preferred(1))
	default:
		fmt.Fprintf(&b, "mismatch %s\n", sc.Mismatch)
	}
	for _, f := range sc.Faults {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	return b.String()
}

// split reports whether content, a set's, holds one node's value or the
// other's in each record, both nodes' in all: a move landed in part.
func (sc *Scenario) split(content string) bool {
	if sc.Set <= 1 {
		return false
	}
	c, a, b := strings.Split(content, recordset.Sep), strings.Split(sc.Values[0], recordset.Sep), strings.Split(sc.Values[1], recordset.Sep)
	if len(c) != len(a) || len(c) != len(b) || content == sc.Values[0] || content == sc.Values[1] {
		return false
	}
	for i := range c {
		if c[i] != a[i] && c[i] != b[i] {
			return false
		}
	}
	return true
}

// tiePause is the rule's pause of the node that is not preferred.
func (sc *Scenario) tiePause() time.Duration {
	c := failover.Config{PeerTimeout: sc.PeerTimeout, Keepalive: sc.Keepalive}
	return c.TiePause()
}
