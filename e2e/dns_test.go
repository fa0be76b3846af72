//go:build unix

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/clooster/clooster/internal/dnstest"
	"github.com/clooster/clooster/internal/pairtest"
)

// The rfc2136 records' zone and name, and each node's values of the A and
// the AAAA record.
const (
	dnsZone = "example.test"
	dnsName = "www.example.test"
)

var dnsValues = map[string]map[string]string{
	"A":    {srv1: "192.0.2.1", srv2: "192.0.2.2"},
	"AAAA": {srv1: "2001:db8::1", srv2: "2001:db8::2"},
}

// dnsTestZone is example.test with www A and AAAA on srv1's values, TTL
// 60, and the pair's key allowed to update those two RRsets only.
func dnsTestZone() dnstest.Zone {
	return dnstest.Zone{
		Name: dnsZone,
		Records: []string{
			"www 60 IN A " + dnsValues["A"][srv1],
			"www 60 IN AAAA " + dnsValues["AAAA"][srv1],
		},
		Grants: []dnstest.Grant{{Name: "www", Types: []string{"A", "AAAA"}}},
	}
}

// dnsRecords is a records block of www.example.test's RRsets of types,
// kept by rfc2136.
func dnsRecords(types ...string) []any {
	var out []any
	for _, typ := range types {
		out = append(out, map[string]any{"name": dnsName, "type": typ, "zone": dnsZone, "provider": "rfc2136",
			"values": map[string]any{srv1: dnsValues[typ][srv1], srv2: dnsValues[typ][srv2]}})
	}
	return out
}

// dnsPair is a pair whose records are kept on a real name server. Each
// node reaches the server through a dnsProxy of its own, which keeps the
// node's updates: every write is known, and whose it was.
type dnsPair struct {
	*pairtest.Pair
	dns      *dnstest.Server
	types    []string  // of the rfc2136 records, in the records block's order
	px1, px2 *dnsProxy // srv1's and srv2's way to the server
	serial0  uint32    // the zone's SOA serial before the nodes started
}

// newDNSPair makes a pair with timing tm that keeps www.example.test's
// RRsets of types on s; the nodes are not started.
func newDNSPair(t testing.TB, s *dnstest.Server, tm pairtest.Timing, types ...string) *dnsPair {
	t.Helper()
	p := &dnsPair{Pair: pairtest.NewPair(t, tm), dns: s, types: types,
		px1: newDNSProxy(t, s.Addr), px2: newDNSProxy(t, s.Addr)}
	for _, n := range []*pairtest.Node{&p.Srv1, &p.Srv2} {
		px := p.px1
		if n == &p.Srv2 {
			px = p.px2
		}
		n.DNS = &pairtest.DNSBlock{Server: px.addr(), Zone: dnsZone, KeyName: s.KeyName, Secret: s.Secret}
		n.Records = dnsRecords(types...)
	}
	p.serial0 = p.serial(t)
	return p
}

// on is node's values of the records, in p.types' order.
func (p *dnsPair) on(node string) []string {
	var out []string
	for _, typ := range p.types {
		out = append(out, dnsValues[typ][node])
	}
	return out
}

// holds reports whether the server answers want, in p.types' order, for
// the records (each RRset one record).
func (p *dnsPair) holds(want []string) bool {
	for i, typ := range p.types {
		got, err := lookup(p.dns.Addr, dnsName, typ)
		if err != nil || len(got) != 1 || got[0] != want[i] {
			return false
		}
	}
	return true
}

// wantGet checks with dnstest's Get (dig, signed) that the server holds
// want, in p.types' order.
func (p *dnsPair) wantGet(t testing.TB, want []string) {
	t.Helper()
	for i, typ := range p.types {
		if got := p.dns.Get(t, dnsName+".", typ); !slices.Equal(got, want[i:i+1]) {
			t.Errorf("the server has %s %s %q, want %q", dnsName, typ, got, want[i])
		}
	}
}

// serial is the zone's SOA serial.
func (p *dnsPair) serial(t testing.TB) uint32 {
	t.Helper()
	got, err := lookup(p.dns.Addr, dnsZone, "SOA")
	if err != nil || len(got) != 1 {
		t.Fatalf("SOA of %s: %q (%v)", dnsZone, got, err)
	}
	f := strings.Fields(got[0])
	if len(f) < 3 {
		t.Fatalf("SOA of %s: %q", dnsZone, got[0])
	}
	n, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		t.Fatalf("SOA of %s: %q", dnsZone, got[0])
	}
	return uint32(n)
}

// checkSerial checks that the zone changed as often as n accepted
// updates change it since the nodes started, each moving the SOA serial
// on by one: this counts the writes the proxies may not see (the test's
// own, or a node's that talks to the server directly) and any they
// missed. Knot applies the updates that queue up together in one
// transaction, with one new serial: the updates of a set's records, sent
// at once, count for at least one (moves is how many sets were written).
func (p *dnsPair) checkSerial(t testing.TB, n, moves int) {
	t.Helper()
	if got := int(p.serial(t) - p.serial0); got < moves || got > n {
		want := fmt.Sprint(n)
		if moves < n {
			want = fmt.Sprintf("%d to %d", moves, n)
		}
		t.Errorf("the zone's SOA serial went from %d up by %d, want %s: that many accepted updates", p.serial0, got, want)
	}
}

// lookup asks the server at addr for the RRset name typ over UDP,
// unsigned, as any resolver would, and returns its records' contents
// (SOA: the whole record), sorted; none if the RRset does not exist.
func lookup(addr, name, typ string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.StringToType[typ])
	m.RecursionDesired = false
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%s %s: %s", name, typ, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == m.Question[0].Qtype {
			out = append(out, rrContent(rr))
		}
	}
	slices.Sort(out)
	return out, nil
}

// rrContent is rr's content as clooster reads it: an address, or the rest
// of the record after its type.
func rrContent(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.A:
		a, _ := netip.AddrFromSlice(rr.A)
		return a.Unmap().String()
	case *dns.AAAA:
		a, _ := netip.AddrFromSlice(rr.AAAA)
		return a.String()
	}
	h := rr.Header().String()
	return strings.TrimSpace(strings.TrimPrefix(rr.String(), h))
}

// dnsProxy forwards one node's DNS messages over TCP to the name server,
// one exchange at a time, and keeps every UPDATE it forwarded with the
// server's answer. If hold is set, it is called with each UPDATE before
// the update is forwarded, and the update waits for it to return.
type dnsProxy struct {
	*tcpServer
	target string

	mu      sync.Mutex
	updates []dnsUpdate
	hold    func(dnsUpdate)
}

// dnsUpdate is one UPDATE of one RRset as the proxy saw it.
type dnsUpdate struct {
	at     time.Time // when the server answered
	typ    string
	prereq []string // the contents the RRset must hold (compare and swap); none for a plain write
	to     []string // what it replaces them with
	rcode  int      // the server's answer: 0 NOERROR, 8 NXRRSET, ...
}

func (u dnsUpdate) String() string {
	s := fmt.Sprintf("%s %s → %s", u.typ, strings.Join(u.prereq, ","), strings.Join(u.to, ","))
	if u.rcode >= 0 {
		s += ": " + dns.RcodeToString[u.rcode]
	}
	return s
}

func newDNSProxy(t testing.TB, target string) *dnsProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dnsProxy{tcpServer: newTCPServer(ln), target: target}
	p.tcpServer.serve(t, p.forward)
	return p
}

func (p *dnsProxy) addr() string { return p.ln.Addr().String() }

// forward forwards c's messages, each to the server and its answer back.
func (p *dnsProxy) forward(c net.Conn) {
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.track(s)
	defer p.untrack(s)
	for {
		req, err := readFrame(c)
		if err != nil {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(req); err != nil {
			return
		}
		var u *dnsUpdate
		if m.Opcode == dns.OpcodeUpdate {
			u = parseUpdate(m)
			p.mu.Lock()
			hold := p.hold
			p.mu.Unlock()
			if hold != nil {
				hold(*u)
			}
		}
		if err := writeFrame(s, req); err != nil {
			return
		}
		reply, err := readFrame(s)
		if err != nil {
			return
		}
		if u != nil {
			u.at = time.Now()
			r := new(dns.Msg)
			if r.Unpack(reply) == nil {
				u.rcode = r.Rcode
			}
			p.mu.Lock()
			p.updates = append(p.updates, *u)
			p.mu.Unlock()
		}
		if err := writeFrame(c, reply); err != nil {
			return
		}
	}
}

// parseUpdate is m's update of one RRset: the prerequisite's contents and
// the records it adds (rcode -1: not answered yet).
func parseUpdate(m *dns.Msg) *dnsUpdate {
	u := &dnsUpdate{rcode: -1}
	for _, rr := range m.Answer { // the prerequisites
		if rr.Header().Class == dns.ClassINET {
			u.prereq = append(u.prereq, rrContent(rr))
		}
	}
	for _, rr := range m.Ns { // the update: delete the RRset, add
		u.typ = dns.TypeToString[rr.Header().Rrtype]
		if rr.Header().Class == dns.ClassINET {
			u.to = append(u.to, rrContent(rr))
		}
	}
	slices.Sort(u.prereq)
	slices.Sort(u.to)
	return u
}

// readFrame reads one DNS message of a TCP stream.
func readFrame(r io.Reader) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, int(n[0])<<8|int(n[1]))
	_, err := io.ReadFull(r, b)
	return b, err
}

// writeFrame writes b as one DNS message of a TCP stream.
func writeFrame(w io.Writer, b []byte) error {
	_, err := w.Write(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...))
	return err
}

// setHold sets the proxy's hold function; nil forwards at once.
func (p *dnsProxy) setHold(f func(dnsUpdate)) {
	p.mu.Lock()
	p.hold = f
	p.mu.Unlock()
}

// allUpdates are the UPDATEs answered so far, oldest first.
func (p *dnsProxy) allUpdates() []dnsUpdate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.updates)
}

// writes are the UPDATEs the server accepted, oldest first.
func (p *dnsProxy) writes() []dnsUpdate {
	var out []dnsUpdate
	for _, u := range p.allUpdates() {
		if u.rcode == dns.RcodeSuccess {
			out = append(out, u)
		}
	}
	return out
}

// firstWrite is the first update the server accepted from the node. The
// record may show the update a moment before the proxy has kept its
// answer: it waits for it a little.
func (p *dnsProxy) firstWrite(t testing.TB) dnsUpdate {
	t.Helper()
	pairtest.WaitFor(t, time.Second, "the proxy's record of an accepted update", func() bool { return len(p.writes()) > 0 })
	return p.writes()[0]
}

// summary lists updates as "A 192.0.2.1 → 192.0.2.2: NOERROR", in order.
func summary(updates []dnsUpdate) []string {
	var out []string
	for _, u := range updates {
		out = append(out, u.String())
	}
	return out
}

// wantWrites checks that the node behind px made exactly one accepted
// update per record, each to its value: the contents of want in p.types'
// order. The records of a set are written concurrently, in any order.
func (p *dnsPair) wantWrites(t testing.TB, who string, px *dnsProxy, want []string) {
	t.Helper()
	// The record may show an update a moment before the proxy has kept
	// its answer.
	for deadline := time.Now().Add(time.Second); len(px.writes()) < len(want) && time.Now().Before(deadline); {
		time.Sleep(pairtest.Poll)
	}
	var got, exp []string
	for _, u := range px.writes() {
		got = append(got, u.typ+" "+strings.Join(u.to, ","))
	}
	for i, typ := range p.types {
		exp = append(exp, typ+" "+want[i])
	}
	slices.Sort(got)
	slices.Sort(exp)
	if !slices.Equal(got, exp) {
		t.Errorf("%s's accepted updates: got %q, want %q (all its updates: %q)", who, got, exp, summary(px.allUpdates()))
	}
}

// tcpServer accepts connections on ln and hands each to a goroutine of
// its own, until the test ends: then it closes ln and the connections it
// tracks, and waits for those goroutines.
type tcpServer struct {
	ln net.Listener
	wg sync.WaitGroup

	connsMu sync.Mutex
	conns   map[net.Conn]bool // nil once closed
}

func newTCPServer(ln net.Listener) *tcpServer {
	return &tcpServer{ln: ln, conns: map[net.Conn]bool{}}
}

// serve serves the listener with handle, which is given each connection
// tracked and has it closed when it returns.
func (s *tcpServer) serve(t testing.TB, handle func(net.Conn)) {
	ln := s.ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.track(c)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.untrack(c)
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.connsMu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.conns = nil
		s.connsMu.Unlock()
		s.wg.Wait()
	})
}

// track keeps c, to be closed when the test ends; if it has, it closes c
// at once.
func (s *tcpServer) track(c net.Conn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.conns == nil {
		c.Close()
		return
	}
	s.conns[c] = true
}

// untrack closes c and forgets it.
func (s *tcpServer) untrack(c net.Conn) {
	c.Close()
	s.connsMu.Lock()
	delete(s.conns, c)
	s.connsMu.Unlock()
}

// closeConns closes every connection tracked.
func (s *tcpServer) closeConns() {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// linkProxy stands between the client and the server's link port. cut
// closes every connection through it and turns new ones away at once, as
// a partition that resets connections would, both nodes alive; heal lets
// them through again.
type linkProxy struct {
	*tcpServer
	port   int
	target string
	cut    atomic.Bool
}

func newLinkProxy(t testing.TB, target string) *linkProxy {
	t.Helper()
	port := pairtest.FreePort(t)
	ln, err := net.Listen("tcp", pairtest.Loopback(port))
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{tcpServer: newTCPServer(ln), port: port, target: target}
	p.tcpServer.serve(t, p.forward)
	return p
}

// forward copies between c and a connection to the target, both ways,
// until either side closes or the link is cut.
func (p *linkProxy) forward(c net.Conn) {
	if p.cut.Load() {
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.track(s)
	defer p.untrack(s)
	if p.cut.Load() { // cut while dialling: cutLink may have missed s
		return
	}
	done := make(chan struct{})
	go func() {
		io.Copy(s, c)
		s.Close()
		c.Close()
		close(done)
	}()
	io.Copy(c, s)
	c.Close()
	s.Close()
	<-done
}

// cutLink closes the link and turns new connections away, and returns
// when it did.
func (p *linkProxy) cutLink() time.Time {
	p.cut.Store(true)
	p.closeConns()
	return time.Now()
}

// heal lets connections through again.
func (p *linkProxy) heal() time.Time {
	p.cut.Store(false)
	return time.Now()
}
