package config

import (
	"slices"
	"strings"
	"testing"
)

func TestCompareCluster(t *testing.T) {
	// b's own file: the same cluster, this_server b.
	bFile := func(m map[string]any) { m["this_server"] = "b.example.com" }
	tests := []struct {
		name  string
		a, b  func(m map[string]any) // changes to a's file and to b's (after bFile)
		pairB bool                   // b is a pair's file
		want  []string
		minor int // of want, not fatal
	}{
		{name: "agree", b: bFile},
		{name: "agree with the witness", b: func(m map[string]any) {
			m["this_server"] = "w.example.com"
			delete(m, "records")
			delete(m, "cloudflare")
		}},
		{name: "the same member", b: func(m map[string]any) {}, want: []string{
			`this_server: "a.example.com" vs "a.example.com": both files are the same member's: each member's file names itself`}},
		{name: "keys", b: func(m map[string]any) { bFile(m); m["key"] = otherKey }, want: []string{
			"key: the keys differ: the members cannot prove themselves to each other; set the same key in every file"}},
		{name: "preset", b: func(m map[string]any) { bFile(m); set(m, "cluster.preset", "wan") }, want: []string{
			`cluster.preset: "lan" (a.example.com) vs "wan" (b.example.com): the members would time their elections differently`}},
		{name: "members listed in another order", b: func(m map[string]any) {
			bFile(m)
			cl := m["cluster"].(map[string]any)
			nodes := cl["nodes"].([]any)
			cl["nodes"] = []any{nodes[1], nodes[0], nodes[2]}
		}, want: []string{
			`cluster.nodes[a.example.com].priority: "0" (a.example.com) vs "1" (b.example.com): the members would order the nodes for leadership differently`,
			`cluster.nodes[b.example.com].priority: "1" (a.example.com) vs "0" (b.example.com): the members would order the nodes for leadership differently`,
			// b.example.com is the preferred node by default now.
			`records[www.example.com A]: the files hold different versions of the record (zone, provider, values or preferred node)`}},
		{name: "address and role", b: func(m map[string]any) {
			bFile(m)
			node(m, 1)["address"] = "192.0.2.22:4100"
			node(m, 2)["role"] = "node"
			record(m, 0)["values"].(map[string]any)["w.example.com"] = "192.0.2.12"
		}, want: []string{
			`cluster.nodes[b.example.com].address: "192.0.2.2:4100" (a.example.com) vs "192.0.2.22:4100" (b.example.com): the members would dial this one at different addresses`,
			`cluster.nodes[w.example.com].role: "witness" (a.example.com) vs "node" (b.example.com): the members disagree on whether this one may write`,
			`records[www.example.com A]: the files hold different versions of the record (zone, provider, values or preferred node)`}},
		{name: "a member on one side", b: func(m map[string]any) { bFile(m); addNode(m, "v.example.com", "192.0.2.5:4100", "witness") }, want: []string{
			`cluster.nodes[v.example.com]: (none) (a.example.com) vs "192.0.2.5:4100, priority 3, witness" (b.example.com): a member only one file lists: the members would count the quorum differently`}},
		{name: "a record on one side", b: func(m map[string]any) {
			bFile(m)
			m["records"] = append(m["records"].([]any), map[string]any{"name": "cdn.example.com", "type": "CNAME"})
		}, want: []string{
			`records[cdn.example.com CNAME]: (none) (a.example.com) vs "a.example.com a.example.com, b.example.com b.example.com" (b.example.com): a record only one file holds: only some members would move it`}},
		{name: "a pair's file", pairB: true, want: []string{
			`cluster: "cluster" (a.example.com) vs "pair" (a.example.com): one file is a cluster member's, the other a pair's: give both the same cluster block`}},
		{name: "dry_run, not fatal", b: func(m map[string]any) { bFile(m); m["dry_run"] = true }, minor: 1, want: []string{
			`dry_run: "false" vs "true": only b.example.com logs its record writes instead of making them: fine for a trial, not for a cluster in service`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			am, bm := clusterBase(), clusterBase()
			if tt.pairB {
				bm = base()
			}
			if tt.a != nil {
				tt.a(am)
			}
			if tt.b != nil {
				tt.b(bm)
			}
			a := mustLoad(t, writeConfig(t, am), nil)
			b := mustLoad(t, writeConfig(t, bm), nil)
			var got []string
			fatals := 0
			for _, d := range CompareCluster(a, b) {
				got = append(got, d.String())
				if Fatal(d) {
					fatals++
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
			if want := len(tt.want) - tt.minor; fatals != want {
				t.Errorf("got %d fatal differences, want %d", fatals, want)
			}
			for _, line := range got {
				if strings.Contains(line, testKey) || strings.Contains(line, otherKey) {
					t.Errorf("%q shows a key", line)
				}
			}
		})
	}
}
