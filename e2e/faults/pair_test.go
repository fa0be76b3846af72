//go:build faults && linux

package faults

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakepb"
)

// The pair's names and record, as in the original example configuration.
const (
	srv1       = "srv1.example.com" // node A: the server, and the preferred value
	srv2       = "srv2.example.com" // node B: the client
	zoneName   = "example.com"
	recordName = "www.example.com"
	linkPort   = 4096
	statusPort = 9797
)

// short is a node name without the zone, for tables.
func short(name string) string { return strings.TrimSuffix(name, "."+zoneName) }

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
	secrets    []string
	linked     time.Time // when both nodes first said the link was up
	set        []setRecord
}

func newSecret(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newPair builds a lab, serves the fakes on its root-side addresses, starts
// both nodes and waits until they are linked. Everything goes when t ends.
func newPair(t testing.TB, opt pairOpts) *pair {
	t.Helper()
	p := &pair{t: t, lab: newLab(t)}

	token, pbKey := newSecret("cf-token-"), newSecret("o.pb-")
	kb := make([]byte, 32)
	rand.Read(kb)
	key := base64.StdEncoding.EncodeToString(kb)
	p.secrets = []string{token, pbKey, key}

	p.cf = fakecf.New()
	p.cf.SetToken(token)
	zone := p.cf.AddZone(zoneName)
	p.rid = p.cf.AddRecord(zone, fakecf.Record{Name: recordName, Type: "CNAME", Content: srv1, TTL: 60, Comment: "kept by clooster"})
	var records []any
	if opt.set {
		p.set = []setRecord{
			{p.cf.AddRecord(zone, fakecf.Record{Name: zoneName, Type: "A", Content: "192.0.2.1"}), zoneName, "A", "192.0.2.1", "198.51.100.1"},
			{p.cf.AddRecord(zone, fakecf.Record{Name: zoneName, Type: "AAAA", Content: "2001:db8::1"}), zoneName, "AAAA", "2001:db8::1", "2001:db8:1::1"},
			{p.rid, recordName, "CNAME", srv1, srv2},
		}
		for _, r := range p.set {
			records = append(records, map[string]any{"name": r.name, "type": r.typ, "values": map[string]any{srv1: r.a, srv2: r.b}})
		}
	}
	p.pb = fakepb.New(pbKey)
	mux := http.NewServeMux()
	mux.Handle("/client/v4/", p.cf)
	mux.Handle("/v2/", p.pb)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	urls := make(map[string]string)
	for _, host := range []string{p.lab.hostA, p.lab.hostB} {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatalf("listen on %s: %v", host, err)
		}
		urls[host] = "http://" + ln.Addr().String()
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	write := func(file string, cfg map[string]any) string {
		for k, v := range map[string]time.Duration{"keepalive_interval": opt.keepalive, "peer_timeout": opt.peerTimeout, "failback_delay": opt.failback} {
			if v > 0 {
				cfg[k] = v.String()
			}
		}
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	common := func(this, other, apiURL string) map[string]any {
		c := map[string]any{
			"this_server":  this,
			"other_server": other,
			"key":          key,
			"cloudflare": map[string]any{
				"token": token, "zone": zoneName, "record": recordName,
				"preferred_value": srv1, "api_url": apiURL + "/client/v4",
			},
			"pushbullet": map[string]any{"key": pbKey, "api_url": apiURL + "/v2"},
			"log":        map[string]any{"level": "info", "format": "text"},
		}
		if records != nil {
			c["cloudflare"] = map[string]any{"token": token, "zone": zoneName, "api_url": apiURL + "/client/v4"}
			c["records"] = records
		}
		return c
	}
	var svcURLA, svcURLB map[string]string
	if opt.health || opt.peerCheck {
		p.svcA, p.svcB = &service{}, &service{}
		svcURLA = p.svcA.serve(t, p.lab.hostA, p.lab.hostB)
		svcURLB = p.svcB.serve(t, p.lab.hostA, p.lab.hostB)
	}
	ca := common(srv1, srv2, urls[p.lab.hostA])
	ca["role"] = "server"
	ca["server"] = map[string]any{"address": linkA, "port": linkPort}
	ca["status"] = map[string]any{"address": net.JoinHostPort(p.lab.apiA, fmt.Sprint(statusPort))}
	cb := common(srv2, srv1, urls[p.lab.hostB])
	cb["role"] = "client"
	cb["client"] = map[string]any{"address": linkA, "port": linkPort}
	cb["status"] = map[string]any{"address": net.JoinHostPort(p.lab.apiB, fmt.Sprint(statusPort))}
	// Each node reaches both services through its own api0 address, as it
	// would reach them over the internet: A's health check and B's
	// peer_check ask the same service, A's.
	if opt.health {
		ca["health"] = map[string]any{"url": svcURLA[p.lab.hostA]}
		cb["health"] = map[string]any{"url": svcURLB[p.lab.hostB]}
	}
	if opt.peerCheck {
		ca["peer_check"] = map[string]any{"url": svcURLB[p.lab.hostA]}
		cb["peer_check"] = map[string]any{"url": svcURLA[p.lab.hostB]}
	}

	p.a = &node{label: "A", name: srv1, ns: p.lab.nsA, config: write("a.json", ca), log: &nodeLog{},
		status: "http://" + net.JoinHostPort(p.lab.apiA, fmt.Sprint(statusPort))}
	p.b = &node{label: "B", name: srv2, ns: p.lab.nsB, config: write("b.json", cb), log: &nodeLog{},
		status: "http://" + net.JoinHostPort(p.lab.apiB, fmt.Sprint(statusPort))}

	// The timings the nodes run with, as the daemon's own loader reads them.
	cfg, err := config.Load(p.a.config, nil)
	if err != nil {
		t.Fatalf("configuration of A: %v", err)
	}
	p.tm = timing{cfg.KeepaliveInterval.D(), cfg.PeerTimeout.D(), cfg.FailbackDelay.D(),
		cfg.Health.Interval.D(), cfg.Health.Fall, cfg.Health.Rise}

	t.Cleanup(func() {
		p.a.killAll()
		p.b.killAll()
		if t.Failed() || *flagLogs {
			p.dumpLogs()
		}
	})
	if err := p.startBoth(); err != nil {
		t.Fatal(err)
	}
	at, ok := p.waitLinked(10 * time.Second)
	if !ok {
		t.Fatalf("the nodes did not link within 10 s of starting")
	}
	p.linked = at
	return p
}

// startBoth starts a new generation of both nodes at once.
func (p *pair) startBoth() error {
	return errors.Join(p.a.start(), p.b.start())
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
func (p *pair) waitWrite(content string, since time.Time, limit time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for {
		if p.set != nil {
			// A set: once every record points to that node, the last
			// write of the move.
			var last time.Time
			for _, w := range p.cf.Writes() {
				if p.setNode(w) == content && !w.At.Before(since) && w.At.After(last) {
					last = w.At
				}
			}
			if !last.IsZero() && p.content() == content {
				return last, true
			}
		}
		for _, w := range p.cf.Writes() {
			if p.set == nil && w.Content == content && !w.At.Before(since) {
				return w.At, true
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPushes waits up to limit until n pushes have arrived, and returns
// when the n-th did.
func (p *pair) waitPushes(n int, limit time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for {
		if ps := p.pb.Pushes(); len(ps) >= n {
			return ps[n-1].At, true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLinked waits up to limit until both nodes say the link is up.
func (p *pair) waitLinked(limit time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for {
		if p.a.linked() && p.b.linked() {
			return time.Now(), true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
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
