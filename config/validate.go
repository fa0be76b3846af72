package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/notify"
)

// Key lengths, in bytes.
const (
	MinKeyLen  = 16
	GoodKeyLen = 32
)

// validate checks the whole configuration, recording every problem.
func (l *loader) validate() {
	c := l.cfg
	if c.ThisServer != "" && c.Cluster == nil {
		l.checkName("this_server", c.ThisServer) // a member's is its cluster.nodes entry's
	}
	l.required("this_server", c.ThisServer)
	if c.Cluster == nil {
		if c.OtherServer != "" {
			l.checkName("other_server", c.OtherServer)
		}
		l.required("other_server", c.OtherServer)
		if c.ThisServer != "" && strings.EqualFold(c.ThisServer, c.OtherServer) {
			l.bad("other_server", quote(c.OtherServer), "must differ from this_server")
		}
	}
	l.checkKey()
	l.checkMode()
	l.checkCluster()

	if c.Cluster == nil && l.isSet("role") && c.Role != "server" && c.Role != "client" {
		l.bad("role", quote(c.Role), "must be server or client")
	}
	if c.Cluster == nil && c.Role == "server" {
		l.checkHost("server.address", c.Server.Address)
		l.checkPort("server.port", c.Server.Port)
		if a := c.Server.PeerAddress; a != "" && l.isSet("server.peer_address") {
			if h, p, err := net.SplitHostPort(a); err != nil || h == "" || p == "0" {
				l.bad("server.peer_address", quote(a), "must be host:port, or empty to turn the look for a second server off")
			}
		}
	}
	if c.Cluster == nil && c.Role == "client" {
		if c.Client.Address == "" {
			l.bad("client.address", "", "required for a client")
		} else {
			l.checkHost("client.address", c.Client.Address)
		}
		l.checkPort("client.port", c.Client.Port)
	}
	l.checkTLS()

	// A cluster member ignores the pair's keys (checkMode says so).
	switch {
	case c.Cluster != nil:
	case c.KeepaliveInterval <= 0:
		l.bad("keepalive_interval", c.KeepaliveInterval.String(), "must be > 0")
	case c.PeerTimeout <= c.KeepaliveInterval:
		l.bad("peer_timeout", c.PeerTimeout.String(), "must be > keepalive_interval")
	case c.PeerTimeout < 2*c.KeepaliveInterval:
		l.warn(l.name("peer_timeout"), fmt.Sprintf("%v is less than two keepalive intervals: one late keepalive marks the peer down", c.PeerTimeout))
	}
	if c.FailbackDelay < 0 {
		l.bad("failback_delay", c.FailbackDelay.String(), "must be >= 0")
	}
	if a := *c.Status.Address; a != "" {
		l.checkHostPort("status.address", a, true)
		l.checkStatusToken(a)
	}

	if c.Witness() {
		l.warnWitness()
	} else {
		l.checkCloudflare()
		l.checkRFC2136()
	}
	l.checkPushbullet()
	l.checkNotify()

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		l.bad("log.level", quote(c.Log.Level), "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		l.bad("log.format", quote(c.Log.Format), "must be text or json")
	}

	if !c.Witness() {
		l.checkHealth()
	}

	if c.Cluster == nil {
		pc := c.PeerCheck
		l.atMostOne("peer_check", "url", pc.URL, "tcp", pc.TCP)
		if pc.URL != "" {
			l.checkURL("peer_check.url", pc.URL)
		}
		if pc.TCP != "" {
			l.checkHostPort("peer_check.tcp", pc.TCP, false)
		}
		if pc.Timeout <= 0 {
			l.bad("peer_check.timeout", pc.Timeout.String(), "must be > 0")
		}
		if c.RestartGrace < 0 || c.RestartGrace.D() > failover.MaxRestartGrace {
			l.bad("restart_grace", c.RestartGrace.String(), fmt.Sprintf("must be between 0 (a restart is a stop) and %s", failover.MaxRestartGrace))
		}
	}
	if c.Hooks.Timeout <= 0 {
		l.bad("hooks.timeout", c.Hooks.Timeout.String(), "must be > 0")
	}
	if c.DriftCheckInterval < 0 {
		l.bad("drift_check_interval", c.DriftCheckInterval.String(), "must be >= 0 (0 disables)")
	}
}

// bad records a problem with the value at path.
func (l *loader) bad(path, value, msg string) {
	l.addProblem(Problem{Key: l.name(path), Value: value, Msg: msg})
}

func (l *loader) required(path, v string) {
	if v == "" {
		l.bad(path, "", "required")
	}
}

// checkKey enforces the key length; see Load for the original-format rule.
func (l *loader) checkKey() {
	n := len(l.cfg.Key)
	switch {
	case n == 0:
		l.bad("key", "", "required")
	case n < MinKeyLen && l.originalFormat():
		l.warn("key", fmt.Sprintf("WARNING: only %d bytes, far too short: whoever guesses it can take the record over; "+
			"accepted only because the file is in the original format; use %d random bytes (clooster secret prints a key)", n, GoodKeyLen))
	case n < MinKeyLen:
		l.bad("key", fmt.Sprintf("%d bytes", n), fmt.Sprintf("must be at least %d bytes", MinKeyLen))
	case n < GoodKeyLen:
		l.warn(l.name("key"), fmt.Sprintf("only %d bytes; use at least %d (clooster secret prints a key)", n, GoodKeyLen))
	}
}

// checkHost accepts a host name or an IP address, without a port.
func (l *loader) checkHost(path, host string) {
	if host == "" || strings.ContainsAny(host, " \t\r\n/[]") || strings.Contains(host, ":") && net.ParseIP(host) == nil {
		l.bad(path, quote(host), "want a host name or IP address, without a port")
	}
}

func (l *loader) checkPort(path string, port int) {
	if port < 1 || port > 65535 {
		l.bad(path, strconv.Itoa(port), "must be from 1 to 65535")
	}
}

// checkHostPort accepts host:port; a listen address may leave the host
// empty (all interfaces) and use port 0 (any free port).
func (l *loader) checkHostPort(path, s string, listen bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" && !listen {
		l.bad(path, quote(s), "want host:port")
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || n == 0 && !listen {
		l.bad(path, quote(s), "want a port from 1 to 65535")
	}
}

// checkURL accepts an absolute http or https URL.
func (l *loader) checkURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil {
		l.bad(path, quote(s), "want an absolute http or https URL")
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		l.bad(path, quote(u.Redacted()), "want an absolute http or https URL")
	}
}

// atMostOne checks that at most one of the named values (name, value,
// name, value...) of block is set.
func (l *loader) atMostOne(block string, namesValues ...string) {
	var set []string
	for i := 0; i+1 < len(namesValues); i += 2 {
		if namesValues[i+1] != "" {
			set = append(set, namesValues[i])
		}
	}
	if len(set) > 1 {
		var all []string
		for i := 0; i < len(namesValues); i += 2 {
			all = append(all, namesValues[i])
		}
		l.bad(block, strings.Join(set, " and "), "set at most one of "+strings.Join(all, ", "))
	}
}

func (l *loader) checkCloudflare() {
	c := l.cfg
	cf := c.Cloudflare
	switch {
	case l.isSet("records"):
		if c.uses(ProviderCloudflare) {
			l.checkCloudflareCredentials()
		} else if cf.Token != "" || cf.Key != "" {
			l.warn("cloudflare", "no record of records[] has provider cloudflare: the block is not used")
		}
		l.checkURL("cloudflare.api_url", cf.APIURL)
		l.checkRecords()
		return
	case c.RFC2136 != nil && cf.Record == "":
		l.bad("records", "", "required with an rfc2136 block: list its records there (cloudflare.record is always a Cloudflare record)")
		return
	case c.Cluster != nil:
		l.checkClusterRecord()
		return
	}
	l.checkCloudflareCredentials()
	l.checkURL("cloudflare.api_url", cf.APIURL)
	if cf.Zone == "" && cf.ZoneID == "" {
		l.bad("cloudflare.zone", "", "required unless cloudflare.zone_id is set")
	}
	l.required("cloudflare.record", cf.Record)
	switch cf.Type {
	case "", "A", "AAAA", "CNAME":
	default:
		l.bad("cloudflare.type", quote(cf.Type), "must be A, AAAA or CNAME")
	}
	l.required("cloudflare.preferred_value", cf.PreferredValue)

	if cf.Type == "A" || cf.Type == "AAAA" {
		thisHint := ""
		if !l.isSet("cloudflare.this_value") {
			thisHint = "; it defaults to this_server"
		}
		l.checkIP("cloudflare.preferred_value", cf.PreferredValue, cf.Type, "")
		l.checkIP("cloudflare.this_value", c.ThisValue(), cf.Type, thisHint)
		l.checkIP("cloudflare.other_value", cf.OtherValue, cf.Type, "")
		if cf.OtherValue == "" {
			l.warn(l.name("cloudflare.other_value"), "not set: this node does not know the address the peer writes until the link is up,"+
				" and leaves any address but its own alone; set it to the peer's this_value")
		}
	}
	if cf.OtherValue != "" && cf.OtherValue == c.ThisValue() {
		l.bad("cloudflare.other_value", quote(cf.OtherValue), "must differ from this node's value (cloudflare.this_value)")
	}
	if cf.Zone != "" && cf.Record != "" {
		r := strings.ToLower(strings.TrimSuffix(cf.Record, "."))
		z := strings.ToLower(strings.TrimSuffix(cf.Zone, "."))
		if r != z && !strings.HasSuffix(r, "."+z) {
			l.warn(l.name("cloudflare.record"), fmt.Sprintf("%s is not inside cloudflare.zone %s", quote(cf.Record), quote(cf.Zone)))
		}
	}
}

// checkCloudflareCredentials checks that the block has a token, or a key
// and a mail, not both.
func (l *loader) checkCloudflareCredentials() {
	cf := l.cfg.Cloudflare
	switch {
	case cf.Token != "" && cf.Key != "":
		l.bad("cloudflare.token", "", "set either cloudflare.token or cloudflare.key and cloudflare.mail, not both")
	case cf.Token != "":
		if cf.Mail != "" {
			l.warn(l.name("cloudflare.mail"), "ignored with cloudflare.token")
		}
	case cf.Key != "":
		if cf.Mail == "" {
			l.bad("cloudflare.mail", "", "required with cloudflare.key")
		}
	case cf.Mail != "":
		l.bad("cloudflare.key", "", "required with cloudflare.mail (or use cloudflare.token)")
	default:
		l.bad("cloudflare.token", "", "required (or cloudflare.key and cloudflare.mail)")
	}
}

// TSIGAlgorithms are the TSIG algorithms rfc2136.tsig_algorithm may name,
// the default first.
var TSIGAlgorithms = []string{"hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5"}

// checkRFC2136 checks the rfc2136 block: what is set always, what is
// required only when a record uses the block.
func (l *loader) checkRFC2136() {
	c := l.cfg
	x := c.RFC2136
	used := c.uses(ProviderRFC2136)
	if x == nil {
		if used {
			l.bad("rfc2136", "", "required: a record has provider rfc2136 (set rfc2136.server, tsig_name and tsig_secret)")
		}
		return
	}
	if l.isSet("records") && !used && len(c.Records) > 0 {
		l.warn("rfc2136", "no record of records[] has provider rfc2136: the block is not used")
	}
	if c.Cloudflare.Record != "" && !l.isSet("records") {
		l.warn("rfc2136", "not used: cloudflare.record is always a Cloudflare record; list rfc2136 records in records[]")
	}
	switch {
	case x.Server == "":
		if used {
			l.bad("rfc2136.server", "", "required: the primary's host:port")
		}
	default:
		host, _, err := net.SplitHostPort(x.Server)
		if err != nil || strings.ContainsAny(host, " \t\r\n/[]") {
			l.bad("rfc2136.server", quote(x.Server), "want host:port (port 53 if absent)")
		} else {
			l.checkHostPort("rfc2136.server", x.Server, false)
		}
	}
	if x.Zone != "" && !isDomainName(x.Zone) {
		l.bad("rfc2136.zone", quote(x.Zone), "not a domain name")
	}
	switch {
	case x.TSIGName == "":
		if used {
			l.bad("rfc2136.tsig_name", "", "required: updates are signed with a TSIG key of this name")
		}
	case !isDomainName(x.TSIGName):
		l.bad("rfc2136.tsig_name", quote(x.TSIGName), "not a key name")
	}
	switch {
	case x.TSIGSecret == "":
		if used {
			l.bad("rfc2136.tsig_secret", "", "required: the key's secret, base64, as in the server's key statement")
		}
	default:
		if _, err := base64.StdEncoding.DecodeString(x.TSIGSecret); err != nil {
			l.bad("rfc2136.tsig_secret", fmt.Sprintf("%d characters", len(x.TSIGSecret)), "not base64")
		}
	}
	if !slices.Contains(TSIGAlgorithms, x.TSIGAlgorithm) {
		l.bad("rfc2136.tsig_algorithm", quote(x.TSIGAlgorithm), "must be "+strings.Join(TSIGAlgorithms[:len(TSIGAlgorithms)-1], ", ")+
			" or "+TSIGAlgorithms[len(TSIGAlgorithms)-1])
	}
	if x.Transport != "tcp" && x.Transport != "udp" {
		l.bad("rfc2136.transport", quote(x.Transport), "must be tcp or udp")
	}
}

// checkIP checks that a record content fits record type A or AAAA.
func (l *loader) checkIP(path, value, typ, hint string) {
	if value == "" {
		return
	}
	ip := net.ParseIP(value)
	switch {
	case typ == "A" && (ip == nil || ip.To4() == nil):
		l.bad(path, quote(value), "want an IPv4 address for type A"+hint)
	case typ == "AAAA" && (ip == nil || ip.To4() != nil):
		l.bad(path, quote(value), "want an IPv6 address for type AAAA"+hint)
	}
}

func (l *loader) checkPushbullet() {
	p := l.cfg.Pushbullet
	if p == nil {
		return
	}
	l.required("pushbullet.key", p.Key)
	t := p.Target
	l.atMostOne("pushbullet.target", "device_iden", t.DeviceIden, "email", t.Email, "channel_tag", t.ChannelTag, "client_iden", t.ClientIden)
	l.checkURL("pushbullet.api_url", p.APIURL)
}

// minStatusToken is the shortest status.token accepted.
const minStatusToken = 16

// checkStatusToken checks status.token, and warns when the status listener
// at addr is open beyond loopback without one.
func (l *loader) checkStatusToken(addr string) {
	t := l.cfg.Status.Token
	switch {
	case t != "" && len(t) < minStatusToken:
		l.bad("status.token", strconv.Itoa(len(t))+" bytes", fmt.Sprintf("want at least %d bytes (clooster secret makes one)", minStatusToken))
	case t != "" && strings.ContainsAny(t, " \t\r\n"):
		l.bad("status.token", strconv.Itoa(len(t))+" bytes", "white space in the token")
	case t == "" && !loopbackAddr(addr):
		l.warn(l.name("status.address"), fmt.Sprintf("%s is reachable beyond this host and status.token is not set: anyone who reaches it sees the pair's state", addr))
	}
}

// loopbackAddr reports whether host:port listens on loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkNotify checks each channel's URL as its service parses it (nothing
// is sent) and its events. A problem shows the URL redacted.
func (l *loader) checkNotify() {
	for i := range l.cfg.Notify {
		n := &l.cfg.Notify[i]
		path := fmt.Sprintf("notify[%d]", i)
		key := path
		if v := l.envSet["notify"]; v != "" {
			key = path + " (" + v + ")"
		}
		if strings.TrimSpace(n.URL) == "" {
			l.addProblem(Problem{Key: key, Msg: "the URL is empty"})
		} else if _, err := notify.ParseURL(n.URL); err != nil {
			l.addProblem(Problem{Key: key, Value: quote(notify.Redact(n.URL)), Msg: err.Error()})
		}
		if n.Events == nil {
			continue
		}
		if len(n.Events) == 0 {
			l.addProblem(Problem{Key: key + ".events", Value: "[]", Msg: "no event: leave events out for every event"})
		}
		for j, e := range n.Events {
			e = strings.ToLower(strings.TrimSpace(e))
			if !slices.Contains(failover.AlertEvents, e) {
				l.addProblem(Problem{Key: fmt.Sprintf("%s.events[%d]", key, j), Value: quote(n.Events[j]),
					Msg: "unknown event (want " + strings.Join(failover.AlertEvents, ", ") + ")"})
			}
			n.Events[j] = e
		}
	}
}

func (l *loader) checkHealth() {
	h := l.cfg.Health
	l.atMostOne("health", "url", h.URL, "tcp", h.TCP, "command", h.Command)
	if h.URL != "" {
		l.checkURL("health.url", h.URL)
	}
	if h.TCP != "" {
		l.checkHostPort("health.tcp", h.TCP, false)
	}
	if h.Interval <= 0 {
		l.bad("health.interval", h.Interval.String(), "must be > 0")
	}
	switch {
	case h.Timeout <= 0:
		l.bad("health.timeout", h.Timeout.String(), "must be > 0")
	case h.Interval > 0 && h.Timeout > h.Interval:
		l.bad("health.timeout", h.Timeout.String(), "must be <= health.interval")
	}
	if h.Fall < 1 {
		l.bad("health.fall", strconv.Itoa(h.Fall), "must be >= 1")
	}
	if h.Rise < 1 {
		l.bad("health.rise", strconv.Itoa(h.Rise), "must be >= 1")
	}
}

// checkTLS checks that the files can be read and parsed, and normalises
// the fingerprint.
func (l *loader) checkTLS() {
	c := l.cfg
	t := &c.TLS
	switch {
	case t.Cert != "" && t.Key == "":
		l.bad("tls.key", "", "required with tls.cert")
	case t.Key != "" && t.Cert == "":
		l.bad("tls.cert", "", "required with tls.key")
	case t.Cert != "":
		cert, ok1 := l.readTLSFile("tls.cert", t.Cert)
		key, ok2 := l.readTLSFile("tls.key", t.Key)
		if ok1 && ok2 {
			if _, err := tls.X509KeyPair(cert, key); err != nil {
				l.bad("tls.cert", quote(t.Cert), "not a usable certificate and key pair: "+err.Error())
			}
		}
		if c.Role == "client" {
			l.warn("tls.cert", "ignored by a client")
		}
	}
	if t.CA != "" {
		if pem, ok := l.readTLSFile("tls.ca", t.CA); ok && !x509.NewCertPool().AppendCertsFromPEM(pem) {
			l.bad("tls.ca", quote(t.CA), "no PEM certificate in the file")
		}
	}
	if t.Fingerprint != "" {
		fp := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(t.Fingerprint), ":", ""))
		if _, err := hex.DecodeString(fp); err != nil || len(fp) != 64 {
			l.bad("tls.fingerprint", quote(t.Fingerprint), "want a SHA-256 as 64 hex digits (colons allowed)")
		} else {
			t.Fingerprint = fp
		}
	}
	if c.Role == "server" && (t.CA != "" || t.Fingerprint != "") {
		l.warn("tls", "ca and fingerprint are ignored by a server")
	}
}

// readTLSFile reads a regular file of at most maxFileSize bytes.
func (l *loader) readTLSFile(path, name string) ([]byte, bool) {
	fi, err := os.Stat(name)
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	var data []byte
	if err == nil {
		data, _, err = readFile(name, maxFileSize)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		l.bad(path, quote(name), "cannot read: "+err.Error())
		return nil, false
	}
	return data, true
}
