package config

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/clooster/clooster/quorum"
)

// Providers: where a record is kept.
const (
	ProviderCloudflare = "cloudflare"
	ProviderRFC2136    = "rfc2136"
)

// RecordSet is the set of records the pair or the cluster owns: records,
// or the one-record set of the original format made from the cloudflare
// block (in cluster mode, a CNAME to the name of each node).
func (c *Config) RecordSet() []Record {
	switch {
	case len(c.Records) > 0:
		return c.Records
	case c.Cluster != nil:
		return []Record{c.clusterRecord()}
	}
	return c.recordsFromCloudflare()
}

// recordsFromCloudflare is the one-record set of the original format: the
// cloudflare block's record, this node's value, the peer's (other_value,
// or its name when both nodes write their names, or a guess), and the
// preferred value, which may be neither node's.
func (c *Config) recordsFromCloudflare() []Record {
	cf := c.Cloudflare
	other, known := c.OtherValue()
	r := Record{
		Name: cf.Record, Type: cf.Type, Zone: cf.Zone, ZoneID: cf.ZoneID, Provider: ProviderCloudflare,
		Values:         map[string]string{c.ThisServer: c.ThisValue(), c.OtherServer: other},
		PreferredValue: cf.PreferredValue, OtherKnown: known,
	}
	switch cf.PreferredValue {
	case c.ThisValue():
		r.Preferred = c.ThisServer
	case other:
		r.Preferred = c.OtherServer
	}
	return []Record{r}
}

// serverName is the name of the node with the server role; in cluster
// mode, of the node of the highest priority.
func (c *Config) serverName() string {
	if c.Cluster != nil {
		return c.firstNode()
	}
	if c.Role == "client" {
		return c.OtherServer
	}
	return c.ThisServer
}

// defaultRecords fills in each record's defaults, or makes the one-record
// set of the original format.
func (l *loader) defaultRecords() {
	c := l.cfg
	provider := l.defaultProvider()
	for i := range c.Records {
		r := &c.Records[i]
		r.Name = strings.TrimSpace(r.Name)
		r.Type = strings.ToUpper(strings.TrimSpace(r.Type))
		r.Zone = strings.TrimSpace(r.Zone)
		r.OtherKnown = true
		r.Provider = strings.ToLower(strings.TrimSpace(r.Provider))
		if r.Provider == "" {
			r.Provider = provider
		}
		switch {
		case r.Provider == ProviderRFC2136:
			if r.Zone == "" && r.ZoneID == "" && c.RFC2136 != nil {
				r.Zone = c.RFC2136.Zone
			}
		case r.Zone == "" && r.ZoneID == "":
			r.Zone, r.ZoneID = c.Cloudflare.Zone, c.Cloudflare.ZoneID
		}
		if r.Values == nil && (r.Type == "CNAME" || r.Type == "") {
			r.Values = map[string]string{}
			for _, node := range c.recordNodes() {
				r.Values[node] = node
			}
		}
		preferred := c.Cloudflare.PreferredValue
		if r.Provider == ProviderRFC2136 {
			for node, v := range r.Values {
				r.Values[node] = canonValue(r.Type, v)
			}
			preferred = canonValue(r.Type, preferred)
		}
		if r.Preferred == "" {
			r.Preferred = c.serverName()
			for node, v := range r.Values {
				if v != "" && v == preferred {
					r.Preferred = node
				}
			}
		}
		r.PreferredValue = r.Values[r.Preferred]
	}
}

// defaultProvider is the provider of a record that names none: the only
// provider block set, Cloudflare if none is; "" when both are.
func (l *loader) defaultProvider() string {
	cf, rfc := l.cloudflareSet(), l.cfg.RFC2136 != nil
	switch {
	case cf && rfc:
		return ""
	case rfc:
		return ProviderRFC2136
	}
	return ProviderCloudflare
}

// cloudflareSet reports whether the file has a cloudflare block, or the
// environment sets one of its keys.
func (l *loader) cloudflareSet() bool {
	if l.fileSet["cloudflare"] {
		return true
	}
	for p := range l.envSet {
		if strings.HasPrefix(p, "cloudflare.") {
			return true
		}
	}
	return false
}

// uses reports whether a record of the records block is kept by provider.
func (c *Config) uses(provider string) bool {
	for _, r := range c.Records {
		if r.Provider == provider {
			return true
		}
	}
	return false
}

// canonValue is content v of a record of type typ in the form an RFC 2136
// server reports it (and the rfc2136 package reads it): an address as
// net/netip prints it (IPv4 unmapped for A), a CNAME target in lower case
// without the final dot. A value that is not of the type stays as it is,
// for validation to name.
func canonValue(typ, v string) string {
	switch typ {
	case "A", "AAAA":
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil || a.Zone() != "" {
			return v
		}
		if typ == "A" {
			a = a.Unmap()
		}
		return a.String()
	case "CNAME":
		return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(v), "."))
	}
	return v
}

// checkRecords validates the record set, each problem named by its path
// (records[1].values: ...).
func (l *loader) checkRecords() {
	c := l.cfg
	if !l.isSet("records") {
		return
	}
	if c.Cloudflare.Record != "" {
		l.bad("cloudflare.record", quote(c.Cloudflare.Record), "set either records or cloudflare.record, not both")
	}
	if len(c.Records) == 0 {
		l.bad("records", "[]", "want at least one record")
		return
	}
	if len(c.Records) > MaxRecords {
		l.bad("records", fmt.Sprintf("%d records", len(c.Records)), fmt.Sprintf("at most %d", MaxRecords))
	}
	seen := map[string]int{}
	for i, r := range c.Records {
		p := fmt.Sprintf("records[%d]", i)
		if r.Name == "" {
			l.bad(p+".name", "", "required")
		}
		switch r.Type {
		case "", "A", "AAAA", "CNAME":
		default:
			l.bad(p+".type", quote(r.Type), "must be A, AAAA or CNAME")
		}
		key := strings.ToLower(strings.TrimSuffix(r.Name, ".")) + " " + r.Type
		if j, ok := seen[key]; ok && r.Name != "" {
			l.bad(p, quote(r.Label()), fmt.Sprintf("the same record as records[%d]", j))
		}
		seen[key] = i
		switch r.Provider {
		case ProviderCloudflare:
			if r.Zone == "" && r.ZoneID == "" {
				l.bad(p+".zone", "", "required unless records[].zone_id or cloudflare.zone or cloudflare.zone_id is set")
			}
		case ProviderRFC2136:
			l.checkRFC2136Record(p, r)
		case "":
			l.bad(p+".provider", "", "required when both a cloudflare and an rfc2136 block are set: cloudflare or rfc2136")
		default:
			l.bad(p+".provider", quote(r.Provider), "must be cloudflare or rfc2136")
		}
		l.checkValues(p, r)
	}
	first := c.Records[0].Preferred
	for i, r := range c.Records[1:] {
		if r.Preferred != first {
			l.bad(fmt.Sprintf("records[%d].preferred", i+1), quote(r.Preferred),
				fmt.Sprintf("must be the node of records[0].preferred, %s: the set fails over and back as one", quote(first)))
		}
	}
}

// checkRFC2136Record checks what an rfc2136 record needs beyond any
// record: a type, and a zone that holds its name.
func (l *loader) checkRFC2136Record(p string, r Record) {
	if r.Type == "" {
		l.bad(p+".type", "", "required for an rfc2136 record: A, AAAA or CNAME")
	}
	if r.Name != "" && !isDomainName(r.Name) {
		l.bad(p+".name", quote(r.Name), "not a domain name")
		return
	}
	if r.ZoneID != "" {
		l.bad(p+".zone_id", quote(r.ZoneID), "only for cloudflare records; an rfc2136 record names its zone in "+p+".zone")
		return
	}
	switch {
	case r.Zone == "":
		l.bad(p+".zone", "", "required unless rfc2136.zone is set")
	case !isDomainName(r.Zone) && l.cfg.RFC2136 != nil && r.Zone == l.cfg.RFC2136.Zone:
		// rfc2136.zone's own problem
	case !isDomainName(r.Zone):
		l.bad(p+".zone", quote(r.Zone), "not a domain name")
	case r.Name != "" && !inZone(r.Name, r.Zone):
		from := p + ".zone"
		if l.cfg.RFC2136 != nil && r.Zone == l.cfg.RFC2136.Zone && !l.isSet(p+".zone") {
			from = "rfc2136.zone"
		}
		l.bad(p+".name", quote(r.Name), fmt.Sprintf("not inside %s %s", from, quote(r.Zone)))
	}
}

// inZone reports whether name is zone or a name below it.
func inZone(name, zone string) bool {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	z := strings.ToLower(strings.TrimSuffix(zone, "."))
	return n == z || strings.HasSuffix(n, "."+z)
}

// isDomainName reports whether s is a domain name as DNS carries it: no
// white space, labels of 1 to 63 bytes, at most 253 bytes without the
// final dot, which is optional; not the root.
func isDomainName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
	}
	return true
}

// recordNodes are the names a record's values name: the pair's two
// nodes, or the cluster's members of role node.
func (c *Config) recordNodes() []string {
	if c.Cluster != nil {
		return c.nodeNames()
	}
	return []string{c.ThisServer, c.OtherServer}
}

// nodesSaid is how a problem names the nodes a record's values name.
func (c *Config) nodesSaid() string {
	if c.Cluster != nil {
		var q []string
		for _, n := range c.nodeNames() {
			q = append(q, quote(n))
		}
		return "cluster.nodes of role node: " + strings.Join(q, ", ")
	}
	return fmt.Sprintf("this_server %s, other_server %s", quote(c.ThisServer), quote(c.OtherServer))
}

// checkValues checks that a record's values name every node, and no
// other, with contents that fit its type and differ.
func (l *loader) checkValues(p string, r Record) {
	c := l.cfg
	nodes := c.recordNodes()
	if len(nodes) == 0 {
		return // cluster.nodes lists no node: its own problem
	}
	for _, node := range sortedKeys(r.Values) {
		switch {
		case slices.Contains(nodes, node):
		case c.Cluster != nil && c.isMember(node):
			l.bad(p+".values", quote(node), "names a witness: a witness never writes the record")
		case c.Cluster != nil:
			l.bad(p+".values", quote(node), fmt.Sprintf("names no member (%s)", c.nodesSaid()))
		default:
			l.bad(p+".values", quote(node), fmt.Sprintf("names no node of the pair (%s)", c.nodesSaid()))
		}
	}
	seen := map[string]string{}
	for _, node := range nodes {
		v, ok := r.Values[node]
		switch {
		case !ok || v == "":
			l.bad(p+".values", "", fmt.Sprintf("want the content %s writes (a key %s)", quote(node), quote(node)))
		case r.Type == "A" || r.Type == "AAAA":
			l.checkIP(fmt.Sprintf("%s.values[%s]", p, quote(node)), v, r.Type, "")
		case r.Type == "CNAME" && r.Provider == ProviderRFC2136 && !isDomainName(v):
			l.bad(fmt.Sprintf("%s.values[%s]", p, quote(node)), quote(v), "want a host name for type CNAME")
		}
		if v == "" {
			continue
		}
		switch other, dup := seen[v]; {
		case dup && c.Cluster == nil:
			l.bad(p+".values", quote(v), "both nodes write the same content: nothing would move")
		case dup:
			l.bad(p+".values", quote(v), fmt.Sprintf("%s and %s write the same content: nothing would move between them", quote(other), quote(node)))
		default:
			seen[v] = node
		}
	}
	if !slices.Contains(nodes, r.Preferred) {
		if c.Cluster != nil {
			l.bad(p+".preferred", quote(r.Preferred), fmt.Sprintf("must be a member of role node (%s)", c.nodesSaid()))
		} else {
			l.bad(p+".preferred", quote(r.Preferred), fmt.Sprintf("must be this_server %s or other_server %s",
				quote(c.ThisServer), quote(c.OtherServer)))
		}
	}
}

// isMember reports whether name is a member of the cluster.
func (c *Config) isMember(name string) bool {
	return slices.ContainsFunc(c.Members(), func(m quorum.Member) bool { return m.Name == name })
}

// sortedKeys are the keys of m, sorted: problems in a stable order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MaxRecords is the most records a set may hold: the link compares the
// two nodes' sets record by record in one frame.
const MaxRecords = 60

// RecordDigest is one record of a set as the link compares it: Key names
// the record (its name and type), Hash its whole configuration.
type RecordDigest struct {
	Label     string
	Key, Hash uint32
}

// RecordDigests are the digests of the records block, in order; nil for
// the original format's one record, which has no block to compare. Both
// nodes' files give the same digests for the same block.
func (c *Config) RecordDigests() []RecordDigest {
	var out []RecordDigest
	for _, r := range c.Records {
		name := strings.ToLower(strings.TrimSuffix(r.Name, "."))
		out = append(out, RecordDigest{Label: r.Label(), Key: sum32(name + " " + r.Type), Hash: sum32(string(canonRecord(r)))})
	}
	return out
}

// canonRecord is r as both nodes' files write it: names in lower case,
// each node's value named by node, in the nodes' order.
func canonRecord(r Record) []byte {
	x := struct {
		Name, Type, Zone, ZoneID, Provider, Preferred, PreferredValue string
		Values                                                        [][2]string
	}{Name: strings.ToLower(strings.TrimSuffix(r.Name, ".")), Type: r.Type, Zone: strings.ToLower(strings.TrimSuffix(r.Zone, ".")),
		ZoneID: r.ZoneID, Provider: r.Provider, Preferred: r.Preferred, PreferredValue: r.PreferredValue}
	for node, v := range r.Values {
		x.Values = append(x.Values, [2]string{node, v})
	}
	slices.SortFunc(x.Values, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	b, _ := json.Marshal(x) // plain strings: cannot fail
	return b
}

func sum32(s string) uint32 {
	sum := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint32(sum[:4])
}
