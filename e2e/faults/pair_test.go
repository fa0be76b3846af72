//go:build faults && linux

package faults

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakepb"
	"github.com/clooster/clooster/internal/pairtest"
)

// The pair's names and the lab's ports.
const (
	srv1       = pairtest.Srv1 // node A: the server, and the preferred value
	srv2       = pairtest.Srv2 // node B: the client
	linkPort   = 4096
	statusPort = 9797
)

// short is a node name without the zone, for tables.
func short(name string) string { return strings.TrimSuffix(name, "."+pairtest.Zone) }

// pairOpts are the timing keys a pair's configuration sets; zero leaves the
// key out, so that the default applies.
type pairOpts struct {
	keepalive, peerTimeout, failback time.Duration
	// health gives each node a service (pair.svcA, pair.svcB) and a
	// health.url on it; peerCheck also a peer_check.url on the other's.
	health, peerCheck bool
	// set: the pair owns a record set (setRecords) in place of the one
	// record: the CNAME, and an A and an AAAA record of the zone's apex.
	set bool
}

// setRecord is one record of a set scenario: its id, and what A and B
// write.
type setRecord struct {
	id, name, typ, a, b string
}

// timing is what the nodes run with, defaults included.
type timing struct {
	keepalive, peerTimeout, failback time.Duration
	healthInterval                   time.Duration
	fall, rise                       int
}

// pair is one lab with its two nodes and its own fake APIs.
type pair struct {
	t    testing.TB
	lab  *lab
	cf   *fakecf.Server
	rid  string // the record's id
	pb   *fakepb.Server
	a, b *node
	tm   timing
	// The nodes' services, with opt.health: each node's health check
	// and the other's peer_check ask them.
	svcA, svcB *service
	secrets    []pairtest.Secret
	linked     time.Time // when both nodes first said the link was up
	set        []setRecord
}

// newPair builds a lab, serves the fakes on its root-side addresses, starts
// both nodes and waits until they are linked. Everything goes when t ends.
func newPair(t testing.TB, opt pairOpts) *pair {
	t.Helper()
	p := &pair{t: t, lab: newLab(t)}
	f := pairtest.NewFakes(t, p.lab.hostA, p.lab.hostB)
	p.cf, p.rid, p.pb = f.CF, f.RecordID, f.PB
	var records []any
	if opt.set {
		p.set = []setRecord{
			{p.cf.AddRecord(f.ZoneID, fakecf.Record{Name: pairtest.Zone, Type: "A", Content: "192.0.2.1"}), pairtest.Zone, "A", "192.0.2.1", "198.51.100.1"},
			{p.cf.AddRecord(f.ZoneID, fakecf.Record{Name: pairtest.Zone, Type: "AAAA", Content: "2001:db8::1"}), pairtest.Zone, "AAAA", "2001:db8::1", "2001:db8:1::1"},
			{p.rid, pairtest.Record, "CNAME", srv1, srv2},
		}
		for _, r := range p.set {
			records = append(records, map[string]any{"name": r.name, "type": r.typ, "values": map[string]any{srv1: r.a, srv2: r.b}})
		}
	}

	key := pairtest.NewKey()
	// Each node reaches the fakes through its own api0 address.
	spec := func(label, this, other, role, host, status string) pairtest.Node {
		return pairtest.Node{Label: label, This: this, Other: other, Role: role, Address: linkA, Port: linkPort,
			Key: key, Status: net.JoinHostPort(status, fmt.Sprint(statusPort)), Fakes: f,
			CloudflareURL: f.URL(host) + "/client/v4", PushbulletURL: f.URL(host) + "/v2",
			Timing:   pairtest.Timing{Keepalive: opt.keepalive, PeerTimeout: opt.peerTimeout, FailbackDelay: opt.failback},
			LogLevel: "info", LogFormat: "text", Records: records}
	}
	sa := spec("A", srv1, srv2, "server", p.lab.hostA, p.lab.apiA)
	sb := spec("B", srv2, srv1, "client", p.lab.hostB, p.lab.apiB)
	p.secrets = sa.Secrets()
	if opt.health || opt.peerCheck {
		p.svcA, p.svcB = &service{}, &service{}
		svcURLA := p.svcA.serve(t, p.lab.hostA, p.lab.hostB)
		svcURLB := p.svcB.serve(t, p.lab.hostA, p.lab.hostB)
		// Each node reaches both services through its own api0 address,
		// as it would reach them over the internet: A's health check and
		// B's peer_check ask the same service, A's.
		if opt.health {
			sa.Extra = append(sa.Extra, pairtest.Member{Key: "health", Val: map[string]any{"url": svcURLA[p.lab.hostA]}})
			sb.Extra = append(sb.Extra, pairtest.Member{Key: "health", Val: map[string]any{"url": svcURLB[p.lab.hostB]}})
		}
		if opt.peerCheck {
			sa.Extra = append(sa.Extra, pairtest.Member{Key: "peer_check", Val: map[string]any{"url": svcURLB[p.lab.hostA]}})
			sb.Extra = append(sb.Extra, pairtest.Member{Key: "peer_check", Val: map[string]any{"url": svcURLA[p.lab.hostB]}})
		}
	}
	p.a = &node{t: t, label: "A", name: srv1, ns: p.lab.nsA, spec: sa, config: sa.WriteConfig(t), log: &nodeLog{}}
	p.b = &node{t: t, label: "B", name: srv2, ns: p.lab.nsB, spec: sb, config: sb.WriteConfig(t), log: &nodeLog{}}

	// The timings the nodes run with, as the daemon's own loader reads them.
	cfg, err := config.Load(p.a.config, nil)
	if err != nil {
		t.Fatalf("configuration of A: %v", err)
	}
	p.tm = timing{cfg.KeepaliveInterval.D(), cfg.PeerTimeout.D(), cfg.FailbackDelay.D(),
		cfg.Health.Interval.D(), cfg.Health.Fall, cfg.Health.Rise}

	// The nodes' processes are killed first, by their own cleanups.
	t.Cleanup(func() {
		if t.Failed() || *flagLogs {
			p.dumpLogs()
		}
	})
	p.startBoth()
	at, ok := p.waitLinked(10 * time.Second)
	if !ok {
		t.Fatalf("the nodes did not link within 10 s of starting")
	}
	p.linked = at
	return p
}

// startBoth starts a new generation of both nodes at once.
func (p *pair) startBoth() {
	p.t.Helper()
	p.a.start()
	p.b.start()
}

// settle waits for the steady state: for a failback_delay of 10 s or less,
// until A has made its failback check (one read, failback_delay after the
// link came up), so that no scheduled API call falls into the scenario;
// otherwise 2 s. The start must have been quiet: no write, no push, both
// processes up.
func (p *pair) settle() {
	p.t.Helper()
	until := time.Now().Add(2 * time.Second)
	if p.tm.failback <= 10*time.Second {
		until = p.linked.Add(p.tm.failback + time.Second)
	}
	time.Sleep(time.Until(until))
	var bad []string
	if w := p.cf.Writes(); len(w) > 0 {
		bad = append(bad, fmt.Sprintf("%d record writes", len(w)))
	}
	if ps := p.pb.Pushes(); len(ps) > 0 {
		bad = append(bad, fmt.Sprintf("%d pushes (%s)", len(ps), ps[0].Title))
	}
	if c := p.content(); c != srv1 {
		bad = append(bad, "record "+c)
	}
	bad = append(bad, p.a.crashes(p.linked)...)
	bad = append(bad, p.b.crashes(p.linked)...)
	if !p.a.linked() || !p.b.linked() {
		bad = append(bad, "link not up")
	}
	if len(bad) > 0 {
		p.t.Fatalf("the start was not quiet: %s", strings.Join(bad, "; "))
	}
}

// content is the record's content; of a set, the node all its records
// point to, or "mixed" and their contents.
func (p *pair) content() string {
	if p.set == nil {
		return p.cf.Record(p.rid).Content
	}
	var contents []string
	onA, onB := true, true
	for _, r := range p.set {
		c := p.cf.Record(r.id).Content
		contents = append(contents, c)
		onA, onB = onA && c == r.a, onB && c == r.b
	}
	switch {
	case onA:
		return srv1
	case onB:
		return srv2
	}
	return "mixed " + strings.Join(contents, ", ")
}

// writeContents returns the contents of the successful writes, oldest
// first; of a set, its moves: the node each write points a record to, a
// run of writes to one node counted once.
func (p *pair) writeContents() []string {
	var out []string
	for _, w := range p.cf.Writes() {
		c := p.setNode(w)
		if p.set == nil || len(out) == 0 || out[len(out)-1] != c {
			out = append(out, c)
		}
	}
	return out
}

// setNode is the node a write points its record to; the content itself
// without a set.
func (p *pair) setNode(w fakecf.Write) string {
	for _, r := range p.set {
		switch {
		case w.RecordID != r.id:
		case w.Content == r.a:
			return srv1
		case w.Content == r.b:
			return srv2
		}
	}
	return w.Content
}

// setWrites reports, for a set, whether every record was written at
// most once per move.
func (p *pair) setWrites() error {
	if p.set == nil {
		return nil
	}
	moves := p.writeContents()
	if n, max := len(p.cf.Writes()), len(moves)*len(p.set); n > max {
		return fmt.Errorf("%d record writes in %d moves of %d records: some record written twice", n, len(moves), len(p.set))
	}
	return nil
}

// waitWrite waits up to limit for a write of content made at or after
// since, and returns when the API took it.
func (p *pair) waitWrite(content string, since time.Time, limit time.Duration) (at time.Time, ok bool) {
	ok = pairtest.Within(10*time.Millisecond, limit, func() bool {
		if p.set != nil {
			// A set: once every record points to that node, the last
			// write of the move.
			var last time.Time
			for _, w := range p.cf.Writes() {
				if p.setNode(w) == content && !w.At.Before(since) && w.At.After(last) {
					last = w.At
				}
			}
			at = last
			return !last.IsZero() && p.content() == content
		}
		for _, w := range p.cf.Writes() {
			if w.Content == content && !w.At.Before(since) {
				at = w.At
				return true
			}
		}
		return false
	})
	if !ok {
		return time.Time{}, false
	}
	return at, true
}

// waitPushes waits up to limit until n pushes have arrived, and returns
// when the n-th did.
func (p *pair) waitPushes(n int, limit time.Duration) (at time.Time, ok bool) {
	ok = pairtest.Within(10*time.Millisecond, limit, func() bool {
		ps := p.pb.Pushes()
		if len(ps) >= n {
			at = ps[n-1].At
		}
		return len(ps) >= n
	})
	return at, ok
}

// waitLinked waits up to limit until both nodes say the link is up.
func (p *pair) waitLinked(limit time.Duration) (time.Time, bool) {
	if !pairtest.Within(20*time.Millisecond, limit, func() bool { return p.a.linked() && p.b.linked() }) {
		return time.Time{}, false
	}
	return time.Now(), true
}

// quiet waits until no push has arrived for d (at most limit), so that the
// pushes can be counted.
func (p *pair) quiet(d, limit time.Duration) {
	deadline := time.Now().Add(limit)
	n, since := len(p.pb.Pushes()), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if m := len(p.pb.Pushes()); m != n {
			n, since = m, time.Now()
		} else if time.Since(since) >= d {
			return
		}
	}
}

// sender is the node a push came from: its title starts "[this_server]".
func sender(title string) string {
	if strings.HasPrefix(title, "[") {
		if i := strings.IndexByte(title, ']'); i > 0 {
			return title[1:i]
		}
	}
	return "?"
}

func (p *pair) dumpLogs() {
	var b strings.Builder
	fmt.Fprintf(&b, "record writes:\n")
	for _, w := range p.cf.Writes() {
		fmt.Fprintf(&b, "    %s %s\n", w.At.Format("15:04:05.000"), w.Content)
	}
	fmt.Fprintf(&b, "pushes:\n")
	for _, ps := range p.pb.Pushes() {
		fmt.Fprintf(&b, "    %s %s | %s\n", ps.At.Format("15:04:05.000"), ps.Title, ps.Body)
	}
	st := p.cf.Stats()
	fmt.Fprintf(&b, "fake Cloudflare: %d requests, %d reads, %d writes, failures %v, dropped %d\n",
		st.Requests, st.Reads, st.Writes, st.Failures, st.Dropped)
	fmt.Fprintf(&b, "node A (%s) log:\n", srv1)
	p.a.log.tail(&b, 80)
	fmt.Fprintf(&b, "node B (%s) log:\n", srv2)
	p.b.log.tail(&b, 80)
	p.t.Log(b.String())
}
