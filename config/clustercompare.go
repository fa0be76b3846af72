package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/clooster/clooster/internal/agree"
)

// CompareCluster lists every setting on which two members' configurations
// a and b disagree where they must agree: the key, the members (names,
// addresses, priorities, roles), the preset and, between two nodes, the
// record set; and this_server, which must differ. dry_run on one member
// only is listed too (Fatal tells it apart). A file in pair mode against
// one in cluster mode is one difference, "cluster". No difference shows a
// key.
func CompareCluster(a, b *Config) []agree.Difference {
	var out []agree.Difference
	if !sameKey(a.Key, b.Key) {
		out = append(out, agree.Difference{Field: "key",
			What: "the keys differ: the members cannot prove themselves to each other; set the same key in every file"})
	}
	if a.ClusterMode() != b.ClusterMode() {
		mode := func(c *Config) string {
			if c.ClusterMode() {
				return "cluster"
			}
			return "pair"
		}
		return append(out, agree.Difference{Field: "cluster", A: mode(a), B: mode(b), NameA: a.ThisServer, NameB: b.ThisServer,
			What: "one file is a cluster member's, the other a pair's: give both the same cluster block"})
	}
	diff := func(field, x, y, what string) {
		out = append(out, agree.Difference{Field: field, A: x, B: y, NameA: a.ThisServer, NameB: b.ThisServer, What: what})
	}
	if a.ThisServer == b.ThisServer {
		out = append(out, agree.Difference{Field: "this_server", A: a.ThisServer, B: b.ThisServer,
			What: "both files are the same member's: each member's file names itself"})
	}
	if x, y := a.Cluster.Preset, b.Cluster.Preset; x != y {
		diff("cluster.preset", x, y, "the members would time their elections differently")
	}
	theirs := map[string]ClusterNode{}
	for _, m := range b.Cluster.Nodes {
		theirs[m.Name] = m
	}
	mine := map[string]bool{}
	for _, m := range a.Cluster.Nodes {
		mine[m.Name] = true
		p := "cluster.nodes[" + m.Name + "]"
		o, ok := theirs[m.Name]
		if !ok {
			diff(p, memberText(m), "", "a member only one file lists: the members would count the quorum differently")
			continue
		}
		if m.Address != o.Address {
			diff(p+".address", m.Address, o.Address, "the members would dial this one at different addresses")
		}
		if m.Priority != o.Priority {
			diff(p+".priority", strconv.Itoa(m.Priority), strconv.Itoa(o.Priority), "the members would order the nodes for leadership differently")
		}
		if m.Role != o.Role {
			diff(p+".role", m.Role, o.Role, "the members disagree on whether this one may write")
		}
	}
	for _, m := range b.Cluster.Nodes {
		if !mine[m.Name] {
			diff("cluster.nodes["+m.Name+"]", "", memberText(m), "a member only one file lists: the members would count the quorum differently")
		}
	}
	if !a.Witness() && !b.Witness() {
		out = append(out, compareRecords(a, b)...)
	}
	if a.DryRun != b.DryRun {
		on := a.ThisServer
		if b.DryRun {
			on = b.ThisServer
		}
		out = append(out, agree.Difference{Field: "dry_run", A: strconv.FormatBool(a.DryRun), B: strconv.FormatBool(b.DryRun),
			What: fmt.Sprintf("only %s logs its record writes instead of making them: fine for a trial, not for a cluster in service", on)})
	}
	return out
}

// memberText is a member as a difference shows it.
func memberText(m ClusterNode) string {
	return fmt.Sprintf("%s, priority %d, %s", m.Address, m.Priority, m.Role)
}

// compareRecords compares two nodes' record sets, a record known by its
// name and type.
func compareRecords(a, b *Config) []agree.Difference {
	var out []agree.Difference
	theirs := map[string]Record{}
	for _, r := range b.RecordSet() {
		theirs[recordKey(r)] = r
	}
	mine := map[string]bool{}
	for _, r := range a.RecordSet() {
		mine[recordKey(r)] = true
		o, ok := theirs[recordKey(r)]
		switch {
		case !ok:
			out = append(out, agree.Difference{Field: "records[" + r.Label() + "]", A: valuesText(r), NameA: a.ThisServer, NameB: b.ThisServer, Blocks: true,
				What: "a record only one file holds: only some members would move it"})
		case sum32(string(canonRecord(r))) != sum32(string(canonRecord(o))):
			out = append(out, agree.Difference{Field: "records[" + r.Label() + "]", Blocks: true,
				What: "the files hold different versions of the record (zone, provider, values or preferred node)"})
		}
	}
	for _, r := range b.RecordSet() {
		if !mine[recordKey(r)] {
			out = append(out, agree.Difference{Field: "records[" + r.Label() + "]", B: valuesText(r), NameA: a.ThisServer, NameB: b.ThisServer, Blocks: true,
				What: "a record only one file holds: only some members would move it"})
		}
	}
	return out
}

// valuesText is a record's values as a difference shows them:
// "srv1 192.0.2.1, srv2 192.0.2.2".
func valuesText(r Record) string {
	var parts []string
	for _, node := range sortedKeys(r.Values) {
		parts = append(parts, node+" "+r.Values[node])
	}
	return strings.Join(parts, ", ")
}
