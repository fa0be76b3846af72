// Package dnstest runs real authoritative DNS servers for tests: BIND 9
// (named) and Knot DNS (knotd), each on 127.0.0.1 and a free port, serving
// one zone from a temporary directory, taking dynamic updates signed with a
// generated TSIG key under an update policy that covers only the records
// the test names.
//
// The servers run in the foreground as child processes of the test, with
// no control channel and no system configuration; the test's cleanup
// stops them. Get and Set go through dig and nsupdate, independently of
// the code under test.
//
// If a server's binaries are missing, the test is skipped, unless the
// environment has CI=true: then it fails.
//
// Concurrency: a Server's methods may be called from one goroutine at a
// time (the test's).
package dnstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Zone is what a server serves, and what the key may change. (The
// outside writer of Set and Update has a key of its own that may change
// anything.)
type Zone struct {
	Name string // "example.test"
	// Records are zone-file lines, names relative to the zone: "www 300
	// IN A 192.0.2.1". The SOA, NS and the name server's A come first.
	Records []string
	// Grants are what the key may update; nothing else.
	Grants []Grant
	// KeyAlgorithm is the TSIG key's algorithm; default hmac-sha256.
	KeyAlgorithm string
}

// Grant lets the key update the RRsets of one name of the given types.
type Grant struct {
	Name  string // relative to the zone, or absolute with a final dot
	Types []string
}

// Example is example.test. with www A 192.0.2.1 (TTL 123), www AAAA
// 2001:db8::1, cname CNAME www, other A 192.0.2.9, and grants on www (A,
// AAAA), cname (CNAME), gone (A, which does not exist) and the quorum
// fence _clooster (TXT, which does not exist); not on other.
func Example() Zone {
	return Zone{
		Name: "example.test",
		Records: []string{
			"www 123 IN A 192.0.2.1",
			"www 300 IN AAAA 2001:db8::1",
			"cname 300 IN CNAME www",
			"other 300 IN A 192.0.2.9",
		},
		Grants: []Grant{
			{Name: "www", Types: []string{"A", "AAAA"}},
			{Name: "cname", Types: []string{"CNAME"}},
			{Name: "gone", Types: []string{"A"}},
			{Name: "_clooster", Types: []string{"TXT"}},
		},
	}
}

// Server is a running name server.
type Server struct {
	Addr      string // "127.0.0.1:port", for UDP and TCP
	Zone      string // fully qualified: "example.test."
	KeyName   string // the TSIG key's name, without final dot
	Secret    string // base64
	Algorithm string // "hmac-sha256"

	// The outside writer's key (Set, Update, Get), which may update
	// anything in the zone.
	adminName, adminSecret string

	t    testing.TB
	kind string // "bind" or "knot"
	dir  string
	argv []string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartBIND starts named serving z, and stops it when the test ends.
func StartBIND(t testing.TB, z Zone) *Server {
	t.Helper()
	named := need(t, "named")
	s := newServer(t, "bind", z)
	var grants strings.Builder
	for _, g := range z.Grants {
		fmt.Fprintf(&grants, "\t\tgrant %s name %s %s;\n", s.KeyName, s.fqdn(g.Name), strings.Join(g.Types, " "))
	}
	conf := fmt.Sprintf(`options {
	directory %[1]q;
	pid-file "named.pid";
	session-keyfile "session.key";
	managed-keys-directory %[1]q;
	bindkeys-file "bind.keys";
	geoip-directory none;
	listen-on port %[2]s { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	dnssec-validation no;
};
controls { };
key %[3]q { algorithm %[4]s; secret %[5]q; };
key %[8]q { algorithm hmac-sha256; secret %[9]q; };
zone %[6]q {
	type primary;
	file "zone.db";
	update-policy {
%[7]s		grant %[8]s zonesub ANY;
	};
};
`, s.dir, s.port(), s.KeyName, s.Algorithm, s.Secret, s.Zone, grants.String(), s.adminName, s.adminSecret)
	s.write("bind.keys", "")
	s.write("named.conf", conf)
	s.argv = []string{named, "-g", "-4", "-n", "1", "-c", filepath.Join(s.dir, "named.conf")}
	s.Start()
	return s
}

// Kind is a name server the tests can start.
type Kind struct {
	Name  string
	Start func(testing.TB, Zone) *Server
}

// Kinds are the name servers this package starts, for tests that run
// against each.
var Kinds = []Kind{{"bind", StartBIND}, {"knot", StartKnot}}

// StartKnot starts knotd serving z, and stops it when the test ends.
func StartKnot(t testing.TB, z Zone) *Server {
	t.Helper()
	knotd := need(t, "knotd")
	s := newServer(t, "knot", z)
	if err := os.Mkdir(filepath.Join(s.dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	var acls, ids strings.Builder
	for i, g := range z.Grants {
		id := fmt.Sprintf("update-%d", i)
		fmt.Fprintf(&acls, `  - id: %s
    key: %s
    action: update
    update-owner: name
    update-owner-match: equal
    update-owner-name: [%s]
    update-type: [%s]
`, id, s.KeyName, s.fqdn(g.Name), strings.Join(g.Types, ", "))
		if i > 0 {
			ids.WriteString(", ")
		}
		ids.WriteString(id)
	}
	conf := fmt.Sprintf(`server:
    rundir: %[1]q
    listen: 127.0.0.1@%[2]s
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: %[9]q
key:
  - id: %[3]s
    algorithm: %[4]s
    secret: %[5]s
  - id: %[10]s
    algorithm: hmac-sha256
    secret: %[11]s
acl:
%[6]s  - id: admin
    key: %[10]s
    action: update
zone:
  - domain: %[7]s
    storage: %[1]q
    file: zone.db
    acl: [%[8]s, admin]
    zonefile-sync: -1
    journal-content: all
`, s.dir, s.port(), s.KeyName, s.Algorithm, s.Secret, acls.String(), s.Zone, ids.String(), filepath.Join(s.dir, "db"), s.adminName, s.adminSecret)
	s.write("knot.conf", conf)
	s.argv = []string{knotd, "-c", filepath.Join(s.dir, "knot.conf")}
	s.Start()
	return s
}

// need is the path of a server's binary (dig and nsupdate are needed too);
// it skips the test if one is missing, or fails it under CI=true.
func need(t testing.TB, server string) string {
	t.Helper()
	var path string
	for _, name := range []string{server, "dig", "nsupdate"} {
		p, err := lookPath(name)
		if err != nil {
			msg := fmt.Sprintf("dnstest: %s not found (install bind9, bind9-dnsutils and knot)", name)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		if name == server {
			path = p
		}
	}
	return path
}

// lookPath finds name in PATH or, as daemons live there, in /usr/sbin.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// newServer makes the directory, the key and the zone file of a server.
func newServer(t testing.TB, kind string, z Zone) *Server {
	t.Helper()
	s := &Server{
		Addr:        net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))),
		Zone:        strings.TrimSuffix(strings.ToLower(z.Name), ".") + ".",
		KeyName:     "clooster-test",
		Secret:      newSecret(),
		Algorithm:   z.KeyAlgorithm,
		adminName:   "clooster-test-admin",
		adminSecret: newSecret(),
		t:           t,
		kind:        kind,
		dir:         t.TempDir(),
	}
	if s.Algorithm == "" {
		s.Algorithm = "hmac-sha256"
	}
	zone := fmt.Sprintf(`$ORIGIN %[1]s
$TTL 300
@ IN SOA ns.%[1]s hostmaster.%[1]s 1 3600 600 86400 60
@ IN NS ns.%[1]s
ns IN A 127.0.0.1
%[2]s
`, s.Zone, strings.Join(z.Records, "\n"))
	s.write("zone.db", zone)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(s.logFile()); err == nil {
				t.Logf("dnstest: %s log:\n%s", kind, b)
			}
		}
	})
	return s
}

// newSecret is a random TSIG secret, base64.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// freePort is a port free on 127.0.0.1 for both TCP and UDP, as far as
// can be told before the server binds it.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("dnstest: no free port")
	return 0
}

func (s *Server) write(name, content string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) port() string {
	_, port, _ := net.SplitHostPort(s.Addr)
	return port
}

func (s *Server) logFile() string { return filepath.Join(s.dir, "server.log") }

// fqdn is name, relative to the zone unless it ends with a dot, made
// absolute, in lower case.
func (s *Server) fqdn(name string) string {
	name = strings.ToLower(name)
	switch {
	case name == "@":
		return s.Zone
	case strings.HasSuffix(name, "."):
		return name
	}
	return name + "." + s.Zone
}

// Start starts the server (again, on the same port, with the zone as the
// updates left it) and waits until it answers for the zone.
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatalf("dnstest: %s already running", s.kind)
	}
	log, err := os.OpenFile(s.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("dnstest: start %s: %v", s.kind, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		cmd.Wait()
		close(done)
	}(s.done)

	deadline := time.Now().Add(15 * time.Second)
	pause := 5 * time.Millisecond
	for {
		select {
		case <-s.done:
			b, _ := os.ReadFile(s.logFile())
			s.cmd = nil
			s.t.Fatalf("dnstest: %s exited at start: %v\n%s", s.kind, cmd.ProcessState, b)
		default:
		}
		if out, err := s.dig(1, "+short", s.Zone, "SOA"); err == nil && strings.TrimSpace(out) != "" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("dnstest: %s not answering for %s at %s after 15s", s.kind, s.Zone, s.Addr)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10s) and waits for it
// to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// dig runs dig against the server over TCP, signed with the admin key,
// with a timeout of secs seconds.
func (s *Server) dig(secs int, args ...string) (string, error) {
	argv := append([]string{"@127.0.0.1", "-p", s.port(), "+tcp", "+norecurse",
		"+time=" + strconv.Itoa(secs), "+tries=1", "-y", "hmac-sha256:" + s.adminName + ":" + s.adminSecret}, args...)
	dig, err := lookPath("dig")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+5)*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, dig, argv...).Output()
	return string(out), err
}

// Get returns the contents of the RRset name typ (name relative to the
// zone unless it ends with a dot), sorted; names without their final dot.
// None if the RRset does not exist.
func (s *Server) Get(t testing.TB, name, typ string) []string {
	t.Helper()
	var out []string
	for _, rr := range s.query(t, name, typ) {
		out = append(out, rr.content)
	}
	slices.Sort(out)
	return out
}

// TTL returns the TTL of the RRset name typ; it fails the test if there is
// none.
func (s *Server) TTL(t testing.TB, name, typ string) uint32 {
	t.Helper()
	rrs := s.query(t, name, typ)
	if len(rrs) == 0 {
		t.Fatalf("dnstest: no %s %s", s.fqdn(name), typ)
	}
	return rrs[0].ttl
}

type answer struct {
	ttl     uint32
	content string
}

func (s *Server) query(t testing.TB, name, typ string) []answer {
	t.Helper()
	fqdn := s.fqdn(name)
	out, err := s.dig(2, "+noall", "+answer", "+comments", fqdn, typ)
	if err != nil {
		t.Fatalf("dnstest: dig %s %s: %v\n%s", fqdn, typ, err, out)
	}
	if !strings.Contains(out, "status: NOERROR") && !strings.Contains(out, "status: NXDOMAIN") {
		t.Fatalf("dnstest: dig %s %s:\n%s", fqdn, typ, out)
	}
	var rrs []answer
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 5 || strings.HasPrefix(f[0], ";") || !strings.EqualFold(f[0], fqdn) || !strings.EqualFold(f[3], typ) {
			continue
		}
		ttl, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			t.Fatalf("dnstest: dig %s %s: %q", fqdn, typ, line)
		}
		rrs = append(rrs, answer{uint32(ttl), strings.TrimSuffix(strings.Join(f[4:], " "), ".")})
	}
	return rrs
}

// Set replaces the RRset name typ with one record of content and TTL 300,
// as an outside writer would (nsupdate, with a key of its own that may
// update anything in the zone).
func (s *Server) Set(t testing.TB, name, typ, content string) {
	t.Helper()
	s.SetTTL(t, name, typ, 300, content)
}

// SetTTL is Set with a TTL.
func (s *Server) SetTTL(t testing.TB, name, typ string, ttl uint32, content string) {
	t.Helper()
	if typ == "CNAME" && !strings.HasSuffix(content, ".") {
		content = s.fqdn(content)
	}
	s.Update(t, "update delete "+s.fqdn(name)+" "+typ,
		fmt.Sprintf("update add %s %d %s %s", s.fqdn(name), ttl, typ, content))
}

// Delete deletes the RRset name typ, as Set writes.
func (s *Server) Delete(t testing.TB, name, typ string) {
	t.Helper()
	s.Update(t, "update delete "+s.fqdn(name)+" "+typ)
}

// Update sends one UPDATE of the zone, as Set does, made of
// nsupdate's lines ("prereq yxrrset www.example.test. A", "update add
// www.example.test. 300 A 192.0.2.1"; absolute names), and fails the test
// if it does not succeed.
func (s *Server) Update(t testing.TB, lines ...string) {
	t.Helper()
	nsupdate, err := lookPath("nsupdate")
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("server 127.0.0.1 %s\nzone %s\n%s\nsend\n", s.port(), s.Zone, strings.Join(lines, "\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nsupdate, "-v", "-t", "5", "-y", "hmac-sha256:"+s.adminName+":"+s.adminSecret)
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("dnstest: nsupdate: %v\n%s\n%s", err, script, out.String())
	}
}
