package config

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Providers.
const (
	ProviderCloudflare = "cloudflare"
)

// RecordSet is the set of records the pair owns: records, or the
// one-record set of the original format made from the cloudflare block.
func (c *Config) RecordSet() []Record {
	if len(c.Records) > 0 {
		return c.Records
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

// serverName is the name of the node with the server role.
func (c *Config) serverName() string {
	if c.Role == "client" {
		return c.OtherServer
	}
	return c.ThisServer
}

// defaultRecords fills in each record's defaults, or makes the one-record
// set of the original format.
func (l *loader) defaultRecords() {
	c := l.cfg
	for i := range c.Records {
		r := &c.Records[i]
		r.Name = strings.TrimSpace(r.Name)
		r.Type = strings.ToUpper(strings.TrimSpace(r.Type))
		r.OtherKnown = true
		if r.Provider == "" {
			r.Provider = ProviderCloudflare
		}
		if r.Zone == "" && r.ZoneID == "" {
			r.Zone, r.ZoneID = c.Cloudflare.Zone, c.Cloudflare.ZoneID
		}
		if r.Values == nil && (r.Type == "CNAME" || r.Type == "") {
			r.Values = map[string]string{c.ThisServer: c.ThisServer, c.OtherServer: c.OtherServer}
		}
		if r.Preferred == "" {
			r.Preferred = c.serverName()
			for node, v := range r.Values {
				if v != "" && v == c.Cloudflare.PreferredValue {
					r.Preferred = node
				}
			}
		}
		r.PreferredValue = r.Values[r.Preferred]
	}
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
		if r.Provider != ProviderCloudflare {
			l.bad(p+".provider", quote(r.Provider), "must be cloudflare")
		}
		if r.Zone == "" && r.ZoneID == "" {
			l.bad(p+".zone", "", "required unless records[].zone_id or cloudflare.zone or cloudflare.zone_id is set")
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

// checkValues checks that a record's values name both nodes, and no other,
// with contents that fit its type and differ.
func (l *loader) checkValues(p string, r Record) {
	c := l.cfg
	for node := range r.Values {
		if node != c.ThisServer && node != c.OtherServer {
			l.bad(p+".values", quote(node), fmt.Sprintf("names no node of the pair (this_server %s, other_server %s)",
				quote(c.ThisServer), quote(c.OtherServer)))
		}
	}
	for _, node := range []string{c.ThisServer, c.OtherServer} {
		v, ok := r.Values[node]
		switch {
		case !ok || v == "":
			l.bad(p+".values", "", fmt.Sprintf("want the content %s writes (a key %s)", quote(node), quote(node)))
		case r.Type == "A" || r.Type == "AAAA":
			l.checkIP(fmt.Sprintf("%s.values[%s]", p, quote(node)), v, r.Type, "")
		}
	}
	if a, b := r.Values[c.ThisServer], r.Values[c.OtherServer]; a != "" && a == b {
		l.bad(p+".values", quote(a), "both nodes write the same content: nothing would move")
	}
	if r.Preferred != c.ThisServer && r.Preferred != c.OtherServer {
		l.bad(p+".preferred", quote(r.Preferred), fmt.Sprintf("must be this_server %s or other_server %s",
			quote(c.ThisServer), quote(c.OtherServer)))
	}
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
	}{Name: strings.ToLower(strings.TrimSuffix(r.Name, ".")), Type: r.Type, Zone: strings.ToLower(r.Zone),
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
