package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A reload leaves the cluster block and state_dir waiting for a restart;
// a change of the members says that they change by a command.
func TestDiffCluster(t *testing.T) {
	type change struct {
		key, old, new string
		note          bool
	}
	for _, tc := range []struct {
		name  string
		pair  bool // the running configuration is base, a pair's
		after func(m map[string]any)
		want  []change
	}{
		{name: "unchanged", after: func(m map[string]any) {}},
		{name: "preset, listen, state_dir", after: func(m map[string]any) {
			set(m, "cluster.preset", "wan")
			set(m, "cluster.listen", "127.0.0.1:4200")
			m["state_dir"] = "/srv/clooster"
		}, want: []change{
			{"cluster.preset", `"lan"`, `"wan"`, false},
			{"cluster.listen", "", `"127.0.0.1:4200"`, false},
			{"state_dir", `"/var/lib/clooster"`, `"/srv/clooster"`, false},
		}},
		{name: "a member's address, priority, role", after: func(m map[string]any) {
			node(m, 1)["address"] = "192.0.2.22:4100"
			node(m, 1)["priority"] = 5
			node(m, 2)["role"] = "node"
			record(m, 0)["values"].(map[string]any)["w.example.com"] = "192.0.2.12"
		}, want: []change{
			{"cluster.nodes[b.example.com].address", `"192.0.2.2:4100"`, `"192.0.2.22:4100"`, true},
			{"cluster.nodes[b.example.com].priority", "1", "5", true},
			{"cluster.nodes[w.example.com].role", `"witness"`, `"node"`, true},
			{`records[www.example.com A].values["w.example.com"]`, "", `"192.0.2.12"`, false},
		}},
		{name: "a member added, one removed", after: func(m map[string]any) {
			node(m, 2)["name"] = "v.example.com"
			addNode(m, "c.example.com", "192.0.2.4:4100", "witness")
		}, want: []change{
			{"cluster.nodes[w.example.com]", `"192.0.2.3:4100, priority 2, witness"`, "", true},
			{"cluster.nodes[v.example.com]", "", `"192.0.2.3:4100, priority 2, witness"`, true},
			{"cluster.nodes[c.example.com]", "", `"192.0.2.4:4100, priority 3, witness"`, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := clusterBase()
			tc.after(b)
			running := mustLoad(t, writeConfig(t, clusterBase()), nil)
			next := mustLoad(t, writeConfig(t, b), nil)
			var got []change
			for _, c := range Diff(running, next) {
				got = append(got, change{c.Key, c.Old, c.New, c.Note == MembershipNote})
				if c.Live && !strings.HasPrefix(c.Key, "records[") {
					t.Errorf("%s: live, want it to wait for a restart", c)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}

	// From a pair to a cluster: the link's keys go, the cluster comes,
	// all of it at the next start.
	running := mustLoad(t, writeConfig(t, base()), nil)
	next := mustLoad(t, writeConfig(t, clusterBase()), nil)
	pending := Pending(Diff(running, next))
	for _, key := range []string{"other_server", "role", "server.port", "cluster.preset", "cluster.nodes[a.example.com]", "state_dir"} {
		if !slices.Contains(pending, key) {
			t.Errorf("pair to cluster: %s not pending in %q", key, pending)
		}
	}
	applied := Applied(running, next)
	if applied.ClusterMode() || applied.Role != "server" || applied.StateDirectory != "" {
		t.Errorf("Applied: got cluster %v, role %q, state_dir %q; want the running pair's", applied.ClusterMode(), applied.Role, applied.StateDirectory)
	}
}

func TestChangeStringNote(t *testing.T) {
	c := Change{Key: "cluster.nodes[c]", New: `"c:4100, priority 2, node"`, Note: MembershipNote}
	want := `cluster.nodes[c]: (none) -> "c:4100, priority 2, node" (waits for a restart; ` + MembershipNote + ")"
	if got := c.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
