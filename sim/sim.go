// Package sim is a deterministic simulator of a clooster pair. It runs the
// real decision code of two nodes (internal/failover: the state machine,
// the job procedure and the loop's glue, as the daemon drives them)
// against a simulated network, DNS API, processes, services and clock, all
// drawn from one seed, and checks the write rule's invariants
// (docs/WRITE-RULE.md) after every step. The same seed replays the same
// run, step for step.
//
// Concurrency: a run is one goroutine; runs share nothing and may run in
// parallel.
package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/clooster/clooster/internal/failover"
)

// Options change how a run is made.
type Options struct {
	// Trace keeps every line of the run's trace, not only the last ones.
	Trace bool
	// Tweak, if set, changes each node's machine configuration (the
	// planted-bug test turns guards off with it).
	Tweak func(*failover.Config)
	// Sets: the seed's schedule with a record set of two or three records
	// in place of the one record, and faults of single records.
	Sets bool
	// Swap: the seed's schedule against a provider that compares and
	// swaps (RFC 2136): every node write is conditional on its read.
	Swap bool
	// Agreed: the seed's schedule with both nodes' configurations
	// agreeing and no forged evidence, as seeds drew it before the pair
	// checked itself (the older regression seeds replay so).
	Agreed bool
	// NoRestarts: the seed's schedule without announced restarts
	// (SIGUSR2) and reloads (SIGHUP), as seeds drew it before either was
	// drawn (the older regression seeds replay so).
	NoRestarts bool
}

// Result is what a run found.
type Result struct {
	Seed     int64
	Scenario *Scenario
	Failures []string // broken invariants, empty if none
	Trace    string   // the last lines of the run (every line with Options.Trace)
	Steps    int
	Writes   int // node writes the API applied
	Calls    int // API calls
	Races    int // node writes that raced the peer's (both read before either wrote)
	// Conflicts: conditional writes (Scenario.Swap) that found the record
	// changed since their read, and wrote nothing.
	Conflicts int
	// Log is every write the API applied, outside edits included.
	Log []Write
	// Raised counts the problems the nodes raised (said), per kind.
	Raised map[string]int
	// Misjudged counts measurements of the DNS API's clock that were off
	// by more than their margin (slow answers).
	Misjudged int
	// PairWrites: under a handshake mismatch whose run kept the premises
	// of "a mismatch costs at most one write" to its end, the node writes
	// it counted (races aside), and LateStarts the process starts after
	// a node's write; -1 for any other run.
	PairWrites, LateStarts int
	// ForgedTakeovers counts the takeovers after a crash that kept the
	// liveness bound while the survivor was sent forged evidence.
	ForgedTakeovers int
	// Restarts: the BYE(restart)s heard; Back, those whose link came back
	// within the grace; RestartTakeovers, the liveness bounds of a restart
	// not back in time, judged and kept.
	Restarts, Back, RestartTakeovers int
	// Reloads counts the reloads (SIGHUP) applied.
	Reloads int
}

// Write is one write the API applied.
type Write struct {
	At      time.Duration // since the run began
	By      string        // "A", "B", or "outside"
	Content string
}

// OK reports whether no invariant broke.
func (r Result) OK() bool { return len(r.Failures) == 0 }

// Report is a failed run's report: the seed, the scenario, what broke and
// the trace leading to it.
func (r Result) Report() string {
	sets := ""
	if r.Scenario != nil && r.Scenario.Set > 1 {
		sets = " -sets"
	}
	if r.Scenario != nil && r.Scenario.Swap {
		sets += " -swap"
	}
	if r.Scenario != nil && r.Scenario.agreed {
		sets += " -agreed"
	}
	if r.Scenario != nil && r.Scenario.noRestarts {
		sets += " -norestarts"
	}
	return fmt.Sprintf("seed %d: %s\n%s\ntrace:\n%s\nreplay: go test ./sim -run TestSimulator -args -seed %d%s -trace",
		r.Seed, r.Failures[0], r.Scenario, r.Trace, r.Seed, sets)
}

// Run runs the schedule of seed.
func Run(seed int64, opt Options) Result {
	w := newWorld(seed, opt)
	return w.run(drawScenario(w, opt), opt)
}

// drawScenario is the scenario of w's seed under opt.
func drawScenario(w *World, opt Options) *Scenario {
	sc := newScenario(w)
	if opt.Sets {
		setScenario(w, sc)
	}
	if !opt.Agreed {
		mismatchScenario(w, sc)
	}
	if !opt.NoRestarts {
		restartScenario(w, sc)
		reloadScenario(w, sc)
	}
	sc.Swap, sc.agreed, sc.noRestarts = opt.Swap, opt.Agreed, opt.NoRestarts
	return sc
}

// RunScenario runs sc, written by hand, with seed for everything else.
func RunScenario(seed int64, sc *Scenario, opt Options) Result {
	return newWorld(seed, opt).run(sc, opt)
}

func newWorld(seed int64, opt Options) *World {
	return &World{
		seed:  seed,
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x636c6f6f73746572)),
		now:   epoch,
		trace: newTrace(150, opt.Trace),
	}
}

func (w *World) run(sc *Scenario, opt Options) Result {
	w.sc = sc
	w.net = &network{w: w}
	w.dns = &dnsAPI{w: w, exists: true, typ: sc.Type, content: sc.Preferred, modified: epoch.Add(sc.APISkew - time.Hour)}
	w.truth = newTruth(w)
	names := [2]string{"srv1.example.com", "srv2.example.com"}
	for i := range 2 {
		other := names[1-i]
		if sc.PeerKnown[i] {
			other = sc.Values[1-i]
		}
		server := i == 0
		switch sc.Mismatch {
		case MismatchServers:
			server = true
		case MismatchClients:
			server = false
		}
		cfg := &failover.Config{
			This: names[i], Other: names[1-i], Record: "www.example.com",
			ThisValue: sc.Values[i], OtherValue: other, OtherKnown: sc.PeerKnown[i], Preferred: sc.preferred(i),
			Server:      server,
			PeerTimeout: sc.peerTimeout(i), FailbackDelay: sc.FailbackDelay, Keepalive: sc.keepalive(i),
			PeerCheck: sc.PeerCheck[i], DriftInterval: sc.Drift, Handover: sc.Handover,
			RestartGrace: sc.RestartGrace,
		}
		if opt.Tweak != nil {
			opt.Tweak(cfg)
		}
		w.nodes[i] = &node{w: w, i: i, name: names[i], value: sc.Values[i], cfg: cfg, listens: server, machineUp: true, serviceUp: true}
	}
	for _, n := range w.nodes {
		n.settings = settingsOf(sc, n.cfg)
	}
	w.at(epoch, w.nodes[0].start)
	w.at(epoch.Add(sc.StartB), w.nodes[1].start)
	for _, f := range sc.Faults {
		w.inject(f)
	}
	w.at(epoch.Add(sc.Length), w.heal)
	end := epoch.Add(sc.Length + sc.Tail)
	if sc.CheckLiveEnd {
		w.at(end, w.finalCheck)
	}
	for w.q.Len() > 0 && len(w.failures) == 0 {
		it := popItem(&w.q)
		if it.at.After(end) {
			break
		}
		w.now = it.at
		it.fn()
		w.steps++
		w.truth.step()
	}
	res := Result{Seed: w.seed, Scenario: sc, Failures: w.failures, Trace: w.trace.String(), Steps: w.steps, Calls: w.dns.calls,
		Races: w.truth.races, Conflicts: w.dns.conflicts, Raised: w.truth.raised, Misjudged: w.truth.misjudged,
		PairWrites: -1, LateStarts: -1, ForgedTakeovers: w.truth.forgedTakeovers,
		Restarts: w.truth.holds, Back: w.truth.back, RestartTakeovers: w.truth.restartTakeovers, Reloads: w.truth.reloads}
	if sc.Mismatch.Handshake() && !w.truth.mmOff {
		res.PairWrites, res.LateStarts = w.truth.mmWrites, w.truth.lateStarts()
	}
	for _, wr := range w.dns.writes {
		by := "outside"
		if wr.by != outsider {
			res.Writes++
			by = nodeName(wr.by)
		}
		res.Log = append(res.Log, Write{At: wr.at.Sub(epoch), By: by, Content: wr.content})
	}
	return res
}

// heal ends every fault: the tail of the run, in which the pair must come
// back to its preferred state.
func (w *World) heal() {
	w.tail = true
	w.logf("TAIL: every fault healed")
	nw, d, t := w.net, w.dns, w.truth
	nw.cut = [2]int{}
	for len(nw.slow) > 0 {
		nw.endSlow()
	}
	nw.loss, nw.probeCut = nil, [2]int{}
	nw.heal(0)
	nw.heal(1)
	d.down, d.lost, d.throttle, d.slow, d.stale, d.refused = 0, 0, nil, nil, nil, nil
	if t.apiFaults > 0 {
		t.apiFaults, t.apiFaultEnd = 0, w.now
	}
	if !d.exists || d.typ != w.sc.Type {
		d.typ = w.sc.Type
		d.exists = false
		w.recreate(w.sc.Preferred)
	}
	w.serviceDown = [2]int{}
	for _, n := range w.nodes {
		if !n.machineUp {
			n.machineUp = true
		}
		n.serviceUp = true
		n.thaw()
		if n.proc == procOff {
			n.start()
		}
	}
}

// finalCheck: after the tail, the pair is linked and the record preferred.
func (w *World) finalCheck() {
	if !w.truth.linkGood() {
		w.fail("healed", "at the end of the tail the nodes are not linked")
		return
	}
	// An operator's edit during this link is left as it is (reported, or
	// corrected by a drift check if it points at neither node) until the
	// link breaks.
	t := w.truth
	if w.sc.Mismatch == MismatchPreferred {
		return // the nodes disagree on the preferred value: nobody fails back
	}
	if !t.recordIs(w.sc.Preferred) && !t.lastEdit.After(t.connSince) {
		w.fail("healed", "at the end of the tail the record holds %q, not the preferred %q", w.dns.content, w.sc.Preferred)
	}
}

func evStop(n *node) failover.Event { return failover.EvStop{At: n.clock()} }

func evReload(n *node, c failover.Config) failover.Event {
	return failover.EvReconfigure{At: n.clock(), Config: c}
}

func evRestart(n *node) failover.Event {
	return failover.EvStop{At: n.clock(), Restart: n.restarting}
}

// Fingerprint names a scenario's schedule in a few hex digits: a seed kept
// as a regression test records it, so that a change of the generator,
// which would make the seed replay another schedule, is noticed.
func (sc *Scenario) Fingerprint() string {
	h := sha256.Sum256([]byte(sc.String()))
	return hex.EncodeToString(h[:4])
}

// NewScenario is the scenario seed draws under opt.
func NewScenario(seed int64, opt Options) *Scenario {
	return drawScenario(newWorld(seed, opt), opt)
}
