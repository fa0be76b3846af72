// Package rfc2136 reads and repoints one DNS record on an authoritative
// server that takes dynamic updates (RFC 2136) signed with TSIG (RFC 8945):
// BIND, Knot, PowerDNS and the like.
//
// A Record is one RRset (A, AAAA or CNAME) of one zone. Read sends a plain
// signed query to the server (no zone transfer); Write sends one signed
// UPDATE whose prerequisite is that the RRset exists, which deletes it and
// adds one record with the TTL the last Read found, so that a record an
// operator deleted is never re-created; Swap sends the same UPDATE with the
// value-dependent prerequisite (the RRset holds exactly what was read), so
// that two writers never overwrite each other. Every reply must carry a
// valid TSIG of the configured key, or it is not believed.
//
// In quorum mode the Record is a quorum.Fencer: each zone holds a fence, a
// TXT record at _clooster.<zone> holding "term=<n>" (TTL 0), the Raft term
// of the last leader that raised it. RaiseFence raises it with a
// prerequisite on what it read, never lowering it; SwapFenced is Swap with
// a second prerequisite in the same UPDATE, that the fence holds exactly
// the writer's term, so that the server itself refuses a deposed leader's
// write. The key must be allowed to update the fence's TXT RRset.
//
// Each call sends one message (a Write or Swap that needs the TTL reads
// first; RaiseFence and SwapFenced read the fence, and RaiseFence decides
// once more on a failed prerequisite, as they say), with no other retry:
// the caller owns the retry policy. Failures are *Error values in
// the terms of failover.RecordStore: a record that does not exist wraps
// failover.ErrMissing, a failed Swap prerequisite (or a fence that holds
// another term) failover.ErrConflict, and what only an operator can fix
// (a key the server refuses, a clock too far off, an update policy that
// does not cover the record or the fence, a fence that is not one) a
// *failover.RetryLater of 30 seconds.
//
// Concurrency: a Record is safe for concurrent use. It owns no goroutine
// and needs no closing; each call opens its own connection and stops when
// its context is done or Config.Timeout has passed.
package rfc2136

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/clooster/clooster/internal/failover"
)

var _ failover.Swapper = (*Record)(nil)

// Defaults of Config.
const (
	DefaultAlgorithm = "hmac-sha256"
	DefaultTransport = "tcp"
	DefaultTimeout   = 5 * time.Second
)

// keyWait is how long a caller should wait after an error that only an
// operator can fix: a refused key, a clock off, an update policy.
const keyWait = 30 * time.Second

// fudge is the TSIG time window we sign with, in seconds (RFC 8945's
// recommended 300).
const fudge = 300

// Config says which server to send to and how to sign.
type Config struct {
	Server        string        // host:port; port 53 if absent
	Zone          string        // the zone the record is in, as the server serves it
	TSIGName      string        // key name, as the server knows it
	TSIGSecret    string        // the key's secret, base64
	TSIGAlgorithm string        // default hmac-sha256; or hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5
	Transport     string        // "tcp" (default) or "udp"
	Timeout       time.Duration // for one exchange, connecting included; default 5s

	// Dial opens the connection to Server; default a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// algorithms maps the names Config accepts to the TSIG algorithm names.
var algorithms = map[string]string{
	"hmac-md5":    "hmac-md5.sig-alg.reg.int.",
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// algorithmName is alg as Config accepts it: lower case, no trailing dot,
// hmac-md5's long name shortened.
func algorithmName(alg string) string {
	alg = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(alg)), ".")
	if alg == "" {
		return DefaultAlgorithm
	}
	return strings.TrimSuffix(alg, ".sig-alg.reg.int")
}

// Validate reports every problem of c, each naming its key
// ("rfc2136.tsig_secret: not base64 (got 11 characters)"), joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("rfc2136.%s: %s", key, fmt.Sprintf(msg, args...)))
	}
	if strings.TrimSpace(c.Server) == "" {
		bad("server", "required (host:port)")
	} else if _, err := serverAddr(c.Server); err != nil {
		bad("server", "%v (got %q)", err, c.Server)
	}
	if z := strings.TrimSpace(c.Zone); z == "" {
		bad("zone", "required")
	} else if _, ok := dns.IsDomainName(z); !ok || z == "." {
		bad("zone", "not a domain name (got %q)", c.Zone)
	}
	if n := strings.TrimSpace(c.TSIGName); n == "" {
		bad("tsig_name", "required: updates are signed with a TSIG key")
	} else if _, ok := dns.IsDomainName(n); !ok || n == "." {
		bad("tsig_name", "not a key name (got %q)", c.TSIGName)
	}
	if c.TSIGSecret == "" {
		bad("tsig_secret", "required (base64, as in the server's key statement)")
	} else if b, err := base64.StdEncoding.DecodeString(c.TSIGSecret); err != nil {
		bad("tsig_secret", "not base64 (got %d characters)", len(c.TSIGSecret))
	} else if len(b) == 0 {
		bad("tsig_secret", "empty")
	}
	if _, ok := algorithms[algorithmName(c.TSIGAlgorithm)]; !ok {
		bad("tsig_algorithm", "must be one of hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5 (got %q)", c.TSIGAlgorithm)
	}
	switch c.Transport {
	case "", "tcp", "udp":
	default:
		bad("transport", `must be "tcp" or "udp" (got %q)`, c.Transport)
	}
	if c.Timeout < 0 {
		bad("timeout", "must be > 0 (got %s)", c.Timeout)
	}
	return errors.Join(errs...)
}

// serverAddr is s as host:port, port 53 if absent.
func serverAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" || port == "" {
			return "", errors.New("want host:port")
		}
		return net.JoinHostPort(host, port), nil
	}
	host := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if _, err := netip.ParseAddr(host); err != nil && strings.ContainsAny(host, ":[]/ ") {
		return "", errors.New("want host:port")
	}
	return net.JoinHostPort(host, "53"), nil
}

// Record is one RRset of a zone, read and written over RFC 2136. Create it
// with New.
type Record struct {
	server    string // host:port
	network   string // "tcp" or "udp"
	zone      string // fully qualified, lower case
	name      string // fully qualified, lower case
	qtype     uint16
	typ       string // "A", "AAAA" or "CNAME"
	keyName   string // fully qualified, lower case
	algorithm string // as Config names it: "hmac-sha256"
	key       *tsigKey
	timeout   time.Duration
	dial      func(ctx context.Context, network, address string) (net.Conn, error)

	// fence is the zone's fence as a Record of its own (TXT at
	// _clooster.<zone>), for its exchanges and errors; nil in the fence.
	fence *Record

	mu       sync.Mutex
	ttl      uint32 // of the RRset at the last Read
	ttlKnown bool
}

// New returns the record name of type typ (A, AAAA or CNAME) in cfg.Zone.
// A name with a trailing dot is absolute; one without is too if it ends
// with the zone's name, else it is relative to the zone ("www", or "@" for
// the apex). It must be inside the zone.
func New(cfg Config, name, typ string) (*Record, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Record{
		network:   cfg.Transport,
		zone:      dns.CanonicalName(strings.TrimSpace(cfg.Zone)),
		keyName:   dns.CanonicalName(strings.TrimSpace(cfg.TSIGName)),
		algorithm: algorithmName(cfg.TSIGAlgorithm),
		timeout:   cfg.Timeout,
		dial:      cfg.Dial,
	}
	r.server, _ = serverAddr(cfg.Server)
	if r.network == "" {
		r.network = DefaultTransport
	}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.dial == nil {
		r.dial = (&net.Dialer{}).DialContext
	}
	secret, _ := base64.StdEncoding.DecodeString(cfg.TSIGSecret)
	r.key = &tsigKey{name: r.keyName, algorithm: algorithms[r.algorithm], secret: secret}

	r.typ = strings.ToUpper(strings.TrimSpace(typ))
	switch r.typ {
	case "A":
		r.qtype = dns.TypeA
	case "AAAA":
		r.qtype = dns.TypeAAAA
	case "CNAME":
		r.qtype = dns.TypeCNAME
	default:
		return nil, fmt.Errorf("rfc2136: record type must be A, AAAA or CNAME (got %q)", typ)
	}

	name = strings.TrimSpace(name)
	bare := strings.TrimSuffix(strings.ToLower(name), ".")
	zone := strings.TrimSuffix(r.zone, ".")
	switch {
	case name == "":
		return nil, errors.New("rfc2136: record name required")
	case name == "@":
		r.name = r.zone
	case strings.HasSuffix(name, "."), bare == zone, strings.HasSuffix(bare, "."+zone):
		r.name = dns.CanonicalName(name)
	default:
		r.name = dns.CanonicalName(name + "." + r.zone)
	}
	if _, ok := dns.IsDomainName(r.name); !ok {
		return nil, fmt.Errorf("rfc2136: record name %q is not a domain name", name)
	}
	if !dns.IsSubDomain(r.zone, r.name) {
		return nil, fmt.Errorf("rfc2136: record %s is not in zone %s", r.name, r.zone)
	}
	r.fence = &Record{
		server: r.server, network: r.network, zone: r.zone,
		name: fenceLabel + "." + r.zone, qtype: dns.TypeTXT, typ: "TXT",
		keyName: r.keyName, algorithm: r.algorithm, key: r.key,
		timeout: r.timeout, dial: r.dial,
	}
	return r, nil
}

// Name is the record's fully qualified name, lower case, with the final dot.
func (r *Record) Name() string { return r.name }

// Read returns the record's content: for A and AAAA the address, for CNAME
// the target without the final dot, in lower case. An RRset of several
// records reads as their contents sorted and joined by " ". Modified is
// zero: DNS does not say when a record changed. The RRset's TTL is kept
// for the next writes.
func (r *Record) Read(ctx context.Context) (failover.Record, error) {
	m := new(dns.Msg)
	m.SetQuestion(r.name, r.qtype)
	m.RecursionDesired = false
	m.SetEdns0(dns.DefaultMsgSize, false)
	reply, err := r.exchange(ctx, opRead, m)
	if err != nil {
		return failover.Record{}, err
	}
	switch reply.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return failover.Record{}, r.fail(opRead, reply, failover.ErrMissing, "NXDOMAIN: no such name (record missing)")
	default:
		return failover.Record{}, r.rcodeError(opRead, reply)
	}
	if !reply.Authoritative {
		return failover.Record{}, r.fail(opRead, reply, nil,
			fmt.Sprintf("the answer is not authoritative: the server does not serve zone %s (check the server and the zone)", r.zone))
	}
	var contents []string
	ttl := uint32(0)
	first := true
	cname := false
	for _, rr := range reply.Answer {
		h := rr.Header()
		if !strings.EqualFold(h.Name, r.name) {
			continue
		}
		if h.Rrtype == dns.TypeCNAME && r.qtype != dns.TypeCNAME {
			cname = true
		}
		if h.Rrtype != r.qtype {
			continue
		}
		c, ok := content(rr)
		if !ok {
			continue
		}
		contents = append(contents, c)
		if first || h.Ttl < ttl {
			ttl, first = h.Ttl, false
		}
	}
	if len(contents) == 0 {
		msg := fmt.Sprintf("no %s RRset at this name (record missing)", r.typ)
		if cname {
			msg = fmt.Sprintf("the name holds a CNAME, not %s (record missing)", r.typ)
		}
		return failover.Record{}, r.fail(opRead, reply, failover.ErrMissing, msg)
	}
	slices.Sort(contents)
	contents = slices.Compact(contents)
	r.mu.Lock()
	r.ttl, r.ttlKnown = ttl, true
	r.mu.Unlock()
	return failover.Record{Content: strings.Join(contents, " ")}, nil
}

// content is rr's content as Read returns it.
func content(rr dns.RR) (string, bool) {
	switch rr := rr.(type) {
	case *dns.A:
		a, ok := netip.AddrFromSlice(rr.A)
		return a.Unmap().String(), ok && a.Unmap().Is4()
	case *dns.AAAA:
		a, ok := netip.AddrFromSlice(rr.AAAA)
		return a.String(), ok && len(rr.AAAA) == net.IPv6len
	case *dns.CNAME:
		return strings.TrimSuffix(strings.ToLower(rr.Target), "."), rr.Target != ""
	}
	return "", false
}

// Write replaces the RRset with one record of content, with the TTL the
// last Read found (it reads first if none has). The update's prerequisite
// is that the RRset exists: a record deleted meanwhile is not re-created,
// and the error wraps failover.ErrMissing. A content that is not one
// address of the type (or, for CNAME, one domain name) wraps
// failover.ErrRefused.
func (r *Record) Write(ctx context.Context, content string) error {
	rr, err := r.rr(content)
	if err != nil {
		return fmt.Errorf("%w (%w)", err, failover.ErrRefused)
	}
	ttl, err := r.knownTTL(ctx)
	if err != nil {
		return err
	}
	m := r.update(rr, ttl)
	m.Answer = []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: r.name, Rrtype: r.qtype, Class: dns.ClassANY}}}
	reply, err := r.exchange(ctx, opUpdate, m)
	if err != nil {
		return err
	}
	switch reply.Rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeNXRrset, dns.RcodeNameError:
		return r.fail(opUpdate, reply, failover.ErrMissing,
			fmt.Sprintf("%s: no %s RRset at this name: not re-created (record missing)", dns.RcodeToString[reply.Rcode], r.typ))
	}
	return r.rcodeError(opUpdate, reply)
}

// Swap replaces the RRset with one record of content if it holds exactly
// the records of old (contents split on " "), in one UPDATE with the
// value-dependent prerequisite. If it holds anything else, or no longer
// exists, nothing is written and the error wraps failover.ErrConflict.
func (r *Record) Swap(ctx context.Context, old, content string) error {
	m, err := r.swapUpdate(ctx, old, content)
	if err != nil {
		return err
	}
	reply, err := r.exchange(ctx, opUpdate, m)
	if err != nil {
		return err
	}
	switch reply.Rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeNameError:
		return r.fail(opUpdate, reply, failover.ErrConflict, r.changedMsg(reply, old))
	}
	return r.rcodeError(opUpdate, reply)
}

// changedMsg says that the RRset no longer holds old, as the failed
// prerequisite of reply showed.
func (r *Record) changedMsg(reply *dns.Msg, old string) string {
	return fmt.Sprintf("%s: the RRset no longer holds %q: nothing written (%v)", dns.RcodeToString[reply.Rcode], old, failover.ErrConflict)
}

// swapUpdate is Swap's UPDATE: the RRset replaced with one record of
// content, if it holds exactly the records of old.
func (r *Record) swapUpdate(ctx context.Context, old, content string) (*dns.Msg, error) {
	rr, err := r.rr(content)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", err, failover.ErrRefused)
	}
	var olds []dns.RR
	for _, c := range strings.Fields(old) {
		o, err := r.rr(c)
		if err != nil {
			// The record cannot hold what is not of its type.
			return nil, fmt.Errorf("%w (%w)", err, failover.ErrConflict)
		}
		olds = append(olds, o)
	}
	if len(olds) == 0 {
		return nil, fmt.Errorf("rfc2136: swap %s %s: empty old content (%w)", r.name, r.typ, failover.ErrConflict)
	}
	ttl, err := r.knownTTL(ctx)
	if err != nil {
		if errors.Is(err, failover.ErrMissing) {
			return nil, fmt.Errorf("%w (%w)", err, failover.ErrConflict)
		}
		return nil, err
	}
	m := r.update(rr, ttl)
	m.Used(olds)
	return m, nil
}

// update is an UPDATE of the zone that deletes the RRset and adds rr with
// ttl; the caller adds the prerequisite.
func (r *Record) update(rr dns.RR, ttl uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(r.zone)
	rr.Header().Ttl = ttl
	m.Ns = []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: r.name, Rrtype: r.qtype, Class: dns.ClassANY}}}
	m.Insert([]dns.RR{rr})
	return m
}

// knownTTL is the TTL found by the last Read; it reads if none has.
func (r *Record) knownTTL(ctx context.Context) (uint32, error) {
	r.mu.Lock()
	ttl, ok := r.ttl, r.ttlKnown
	r.mu.Unlock()
	if ok {
		return ttl, nil
	}
	if _, err := r.Read(ctx); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ttl, nil
}

// rr is one record of the RRset with content c (TTL unset).
func (r *Record) rr(c string) (dns.RR, error) {
	h := dns.RR_Header{Name: r.name, Rrtype: r.qtype, Class: dns.ClassINET}
	bad := func(want string) error {
		return fmt.Errorf("rfc2136: %s %s: content %q is not %s", r.name, r.typ, c, want)
	}
	switch r.qtype {
	case dns.TypeA:
		a, err := netip.ParseAddr(c)
		if err != nil || !a.Is4() {
			return nil, bad("an IPv4 address")
		}
		return &dns.A{Hdr: h, A: a.AsSlice()}, nil
	case dns.TypeAAAA:
		a, err := netip.ParseAddr(c)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return nil, bad("an IPv6 address")
		}
		return &dns.AAAA{Hdr: h, AAAA: a.AsSlice()}, nil
	default:
		t := dns.CanonicalName(c)
		if _, ok := dns.IsDomainName(t); !ok || c == "" || t == "." || strings.ContainsAny(c, " \t") {
			return nil, bad("a domain name")
		}
		return &dns.CNAME{Hdr: h, Target: t}, nil
	}
}
