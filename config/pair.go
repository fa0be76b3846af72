package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/clooster/clooster/internal/agree"
)

// Settings is what c says about the pair, as the link compares it with
// the peer's: the names, the role, the timings, the single record ("" and
// no values with a records block, whose records are in the digests) and
// the records block's digests. The protocol version is not a file's to
// say: it is 0, unknown.
func (c *Config) Settings() agree.Settings {
	s := agree.Settings{
		Name:         c.ThisServer,
		Peer:         c.OtherServer,
		Role:         c.Role,
		Keepalive:    c.KeepaliveInterval.D(),
		PeerTimeout:  c.PeerTimeout.D(),
		RecordsKnown: true,
		// 0 (fail back at once) is not compared: the link cannot tell
		// it from a peer that does not say.
		FailbackDelay: c.FailbackDelay.D(),
	}
	if len(c.Records) == 0 {
		cf := c.Cloudflare
		s.Record = strings.TrimSpace(cf.Record + " " + cf.Type)
		s.Preferred = cf.PreferredValue
		s.ThisValue = c.ThisValue()
		s.OtherValue = cf.OtherValue
	}
	for _, d := range c.RecordDigests() {
		s.Records = append(s.Records, agree.Digest{Label: d.Label, Key: d.Key, Hash: d.Hash})
	}
	return s
}

// ComparePair lists every setting on which the two nodes' configurations
// a and b disagree: what the link compares (agree.Compare), then what only
// the two files show: the keys, where the client dials and what the
// server listens on, the client's pins against the server's certificate,
// the single record's zone, and dry_run. It reads the server's tls.cert
// and the client's tls.ca. No difference shows a key.
func ComparePair(a, b *Config) []agree.Difference {
	var out []agree.Difference
	if !sameKey(a.Key, b.Key) {
		// First: nothing else matters until the nodes can link.
		out = append(out, agree.Difference{Field: "key",
			What: "the keys differ: the nodes cannot prove themselves to each other, and never link; set the same key in both files"})
	}
	out = append(out, agree.Compare(a.Settings(), b.Settings())...)
	if a.Role != b.Role {
		out = append(out, link(a, b)...)
	}
	out = append(out, zones(a, b)...)
	out = append(out, dnsServers(a, b)...)
	if a.DryRun != b.DryRun {
		on := a.ThisServer
		if b.DryRun {
			on = b.ThisServer
		}
		out = append(out, agree.Difference{Field: "dry_run", A: strconv.FormatBool(a.DryRun), B: strconv.FormatBool(b.DryRun),
			What: fmt.Sprintf("only %s logs its record writes instead of making them: fine for a trial, not for a pair in service", on)})
	}
	return out
}

// Fatal reports whether a difference that ComparePair found keeps the pair
// from working as its files say: all but dry_run on one node only.
func Fatal(d agree.Difference) bool {
	return d.Field != "dry_run"
}

// sameKey compares two keys in constant time, their lengths included.
func sameKey(a, b string) bool {
	x, y := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

// link compares the client's side of the link with the server's: port,
// address, and the pins on the server's certificate. a and b have
// different roles.
func link(a, b *Config) []agree.Difference {
	srv, cli := a, b
	if a.Role == "client" {
		srv, cli = b, a
	}
	// ab orders a server's and a client's value as a and b.
	ab := func(server, client string) (string, string) {
		if srv == a {
			return server, client
		}
		return client, server
	}
	var out []agree.Difference
	add := func(field, server, client, what string) {
		x, y := ab(server, client)
		out = append(out, agree.Difference{Field: field, A: x, B: y, What: what})
	}
	if cli.Client == nil || srv.Server == nil {
		return nil // not loaded by Load
	}
	if sp, cp := srv.Server.Port, cli.Client.Port; sp != cp {
		add("client.port", strconv.Itoa(sp), strconv.Itoa(cp),
			fmt.Sprintf("the client %s dials port %d, the server %s listens on port %d", cli.ThisServer, cp, srv.ThisServer, sp))
	}
	host := cli.Client.Address
	if net.ParseIP(host) == nil && !sameName(host, srv.ThisServer) {
		add("client.address", srv.ThisServer, host,
			fmt.Sprintf("the client %s dials %s, but the server calls itself %s", cli.ThisServer, host, srv.ThisServer))
	}
	t := cli.TLS
	if t.Fingerprint == "" && t.CA == "" {
		return out
	}
	if srv.TLS.Cert == "" {
		what := "the server has no tls.cert: it makes a fresh certificate at every start, "
		if t.Fingerprint != "" {
			add("tls.fingerprint", "", t.Fingerprint, what+"which the client's pin can never match")
		}
		if t.CA != "" {
			add("tls.ca", "", t.CA, what+"which the client's CA has not signed")
		}
		return out
	}
	chain, err := readCerts(srv.TLS.Cert)
	if err != nil {
		add("tls.cert", srv.TLS.Cert, "", fmt.Sprintf("cannot read the server's certificate to check the client's pins on it: %v", err))
		return out
	}
	if t.Fingerprint != "" {
		sum := sha256.Sum256(chain[0].Raw)
		if got := hex.EncodeToString(sum[:]); got != t.Fingerprint {
			add("tls.fingerprint", got, t.Fingerprint,
				fmt.Sprintf("the client pins another certificate than the server's tls.cert %s", srv.TLS.Cert))
		}
	}
	if t.CA != "" {
		if err := verify(chain, t.CA, host); err != nil {
			add("tls.ca", srv.TLS.Cert, t.CA,
				fmt.Sprintf("the client's CA does not verify the server's certificate for %s: %v", host, err))
		}
	}
	return out
}

// zones compares the zones in which the providers look for the single
// record; a zone named on one side and a zone_id on the other cannot be
// judged without asking Cloudflare.
func zones(a, b *Config) []agree.Difference {
	if len(a.Records) > 0 || len(b.Records) > 0 {
		return nil // the record digests hold each record's zone
	}
	x, y := a.Cloudflare, b.Cloudflare
	var out []agree.Difference
	if x.Zone != "" && y.Zone != "" && !sameName(x.Zone, y.Zone) {
		out = append(out, agree.Difference{Field: "cloudflare.zone", A: x.Zone, B: y.Zone, Blocks: true,
			What: "the nodes look for the record in different zones"})
	}
	if x.ZoneID != "" && y.ZoneID != "" && x.ZoneID != y.ZoneID {
		out = append(out, agree.Difference{Field: "cloudflare.zone_id", A: x.ZoneID, B: y.ZoneID, Blocks: true,
			What: "the nodes look for the record in different zones"})
	}
	return out
}

// dnsServers compares the two rfc2136 blocks: both nodes must update the
// same primary with the same key, or one node's writes and reads are not
// the other's (the secrets are compared, never shown).
func dnsServers(a, b *Config) []agree.Difference {
	x, y := a.RFC2136, b.RFC2136
	if x == nil || y == nil {
		return nil // a record's provider differing shows in its digest
	}
	var out []agree.Difference
	diff := func(field, u, v, what string) {
		out = append(out, agree.Difference{Field: "rfc2136." + field, A: u, B: v, Blocks: true, What: what})
	}
	if !strings.EqualFold(x.Server, y.Server) {
		diff("server", x.Server, y.Server, "the nodes update different name servers: each reads what the other did not write")
	}
	if !sameName(x.Zone, y.Zone) {
		diff("zone", x.Zone, y.Zone, "the nodes update different zones")
	}
	if !sameName(x.TSIGName, y.TSIGName) || !strings.EqualFold(x.TSIGAlgorithm, y.TSIGAlgorithm) {
		diff("tsig_name", x.TSIGName+" ("+x.TSIGAlgorithm+")", y.TSIGName+" ("+y.TSIGAlgorithm+")",
			"the nodes sign with different keys: fine only if the server grants both the same records")
	}
	if sameName(x.TSIGName, y.TSIGName) && !sameKey(x.TSIGSecret, y.TSIGSecret) {
		diff("tsig_secret", "***", "***", "one key name with two secrets: the server knows one of them, and refuses the other node's updates")
	}
	return out
}

// sameName compares two DNS names, without regard to case or a final dot.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// readCerts reads the certificates of a PEM file, the leaf first.
func readCerts(name string) ([]*x509.Certificate, error) {
	data, _, err := readFile(name, maxFileSize)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in the file")
	}
	return out, nil
}

// verify checks chain (leaf first) as the client's TLS does: against the
// CA file's certificates, for host.
func verify(chain []*x509.Certificate, caFile, host string) error {
	pem, _, err := readFile(caFile, maxFileSize)
	if err != nil {
		return fmt.Errorf("read tls.ca: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return errors.New("no PEM certificate in tls.ca")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	return err
}
