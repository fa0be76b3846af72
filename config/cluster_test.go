package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clooster/clooster/quorum"
)

// clusterBase is a valid configuration of a.example.com, a node of a
// cluster of two nodes and a witness, with one A record.
func clusterBase() map[string]any {
	return map[string]any{
		"this_server": "a.example.com",
		"key":         testKey,
		"cluster": map[string]any{"nodes": []any{
			map[string]any{"name": "a.example.com", "address": "192.0.2.1:4100"},
			map[string]any{"name": "b.example.com", "address": "192.0.2.2:4100"},
			map[string]any{"name": "w.example.com", "address": "192.0.2.3:4100", "role": "witness"},
		}},
		"cloudflare": map[string]any{"token": testToken, "zone": "example.com"},
		"records": []any{map[string]any{"name": "www.example.com", "type": "A",
			"values": map[string]any{"a.example.com": "192.0.2.10", "b.example.com": "192.0.2.11"}}},
	}
}

// node is member i of m's cluster block.
func node(m map[string]any, i int) map[string]any {
	return m["cluster"].(map[string]any)["nodes"].([]any)[i].(map[string]any)
}

// record is record i of m's records block.
func record(m map[string]any, i int) map[string]any {
	return m["records"].([]any)[i].(map[string]any)
}

// addNode adds a member to m's cluster block.
func addNode(m map[string]any, name, addr, role string) {
	cl := m["cluster"].(map[string]any)
	n := map[string]any{"name": name, "address": addr}
	if role != "" {
		n["role"] = role
	}
	cl["nodes"] = append(cl["nodes"].([]any), n)
}

// witnessFile is the witness's own file: no provider, no records.
func witnessFile() map[string]any {
	m := clusterBase()
	m["this_server"] = "w.example.com"
	delete(m, "cloudflare")
	delete(m, "records")
	return m
}

// Each case breaks one rule of quorum mode and names the one problem
// expected, which names the key and shows the bad value.
func TestClusterValidation(t *testing.T) {
	const pairKey = "a pair's key: with a cluster block, cluster.nodes lists every member and their addresses; a file is one mode or the other"
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"two members", func(m map[string]any) {
			cl := m["cluster"].(map[string]any)
			cl["nodes"] = cl["nodes"].([]any)[:2]
		}, "cluster.nodes: want at least 3 members, this one included: fewer cannot outvote one that is cut off (got 2 members)"},
		{"no nodes", func(m map[string]any) { m["cluster"] = map[string]any{"preset": "lan"} },
			"cluster.nodes: want at least 3 members, this one included: fewer cannot outvote one that is cut off (got 0 members)"},
		{"name required", func(m map[string]any) { node(m, 2)["name"] = "" }, "cluster.nodes[2].name: required"},
		{"name unique", func(m map[string]any) { node(m, 2)["name"] = "A.example.com" },
			`cluster.nodes[2].name: the same name as cluster.nodes[0] (got "A.example.com")`},
		{"the operator's name", func(m map[string]any) { node(m, 2)["name"] = "clooster-operator" },
			`cluster.nodes[2].name: that name is an operator's command's (clooster cluster), not a member's (got "clooster-operator")`},
		{"name with a space", func(m map[string]any) { node(m, 2)["name"] = "w example" },
			`cluster.nodes[2].name: want printable ASCII without spaces (a host name is best) (got "w example")`},
		{"name not ASCII", func(m map[string]any) { node(m, 2)["name"] = "wïtness" },
			`cluster.nodes[2].name: want printable ASCII without spaces (a host name is best) (got "wïtness")`},
		{"name too long", func(m map[string]any) { node(m, 2)["name"] = strings.Repeat("w", 254) },
			`cluster.nodes[2].name: at most 253 bytes (got "` + strings.Repeat("w", 80) + `...")`},
		{"address required", func(m map[string]any) { delete(node(m, 1), "address") },
			"cluster.nodes[1].address: required: host:port, where the other members reach this one"},
		{"address without a port", func(m map[string]any) { node(m, 1)["address"] = "192.0.2.2" },
			`cluster.nodes[1].address: want host:port (got "192.0.2.2")`},
		{"address without a host", func(m map[string]any) { node(m, 1)["address"] = ":4100" },
			`cluster.nodes[1].address: want host:port (got ":4100")`},
		{"address port 0", func(m map[string]any) { node(m, 1)["address"] = "192.0.2.2:0" },
			`cluster.nodes[1].address: want a port from 1 to 65535 (got "192.0.2.2:0")`},
		{"address port too high", func(m map[string]any) { node(m, 1)["address"] = "b.example.com:65536" },
			`cluster.nodes[1].address: want a port from 1 to 65535 (got "b.example.com:65536")`},
		{"address unique", func(m map[string]any) { node(m, 2)["address"] = "192.0.2.1:4100" },
			`cluster.nodes[2].address: the same address as cluster.nodes[0] (got "192.0.2.1:4100")`},
		{"role", func(m map[string]any) { node(m, 2)["role"] = "voter" }, `cluster.nodes[2].role: must be node or witness (got "voter")`},
		{"one node", func(m map[string]any) {
			node(m, 1)["role"] = "witness"
			m["records"] = []any{map[string]any{"name": "www.example.com", "type": "CNAME"}}
		}, "cluster.nodes: want at least 2 members of role node: the others only vote (got 1 node)"},
		{"priorities tie", func(m map[string]any) { node(m, 1)["priority"] = 0 },
			"cluster.nodes[1].priority: the same as cluster.nodes[0]'s (a.example.com): each node needs its own place in the order (got 0)"},
		{"an explicit priority ties with a default one", func(m map[string]any) { node(m, 0)["priority"] = "1" },
			"cluster.nodes[1].priority: the same as cluster.nodes[0]'s (a.example.com): each node needs its own place in the order (got 1)"},
		{"priority not a number", func(m map[string]any) { node(m, 0)["priority"] = "first" },
			`cluster.nodes[0].priority: want a number (got "first")`},
		{"this_server no member", func(m map[string]any) { m["this_server"] = "c.example.com" },
			`this_server: must be one of cluster.nodes[].name: this member's own entry (got "c.example.com")`},
		{"preset", func(m map[string]any) { set(m, "cluster.preset", "moon") }, `cluster.preset: must be lan or wan (got "moon")`},
		{"listen without a port", func(m map[string]any) { set(m, "cluster.listen", "0.0.0.0") },
			`cluster.listen: want host:port, or :port for all interfaces (got "0.0.0.0")`},
		{"listen port 0", func(m map[string]any) { set(m, "cluster.listen", ":0") },
			`cluster.listen: want a port from 1 to 65535 (got ":0")`},
		{"state_dir empty", func(m map[string]any) { m["state_dir"] = "" }, `state_dir: want a directory (default /var/lib/clooster) (got "")`},
		{"unknown member key", func(m map[string]any) { node(m, 0)["weight"] = 1 }, "cluster.nodes[0].weight: unknown key"},

		{"other_server", func(m map[string]any) { m["other_server"] = "b.example.com" }, `other_server: ` + pairKey + ` (got "b.example.com")`},
		{"role of a pair", func(m map[string]any) { m["role"] = "server" },
			`role: a pair's key: with a cluster block, a member's role is its cluster.nodes[].role; a file is one mode or the other (got "server")`},
		{"server block", func(m map[string]any) { set(m, "server.port", 4096) }, "server: " + pairKey},
		{"client block", func(m map[string]any) { set(m, "client.address", "b.example.com") }, "client: " + pairKey},
		{"cloudflare.this_value", func(m map[string]any) { set(m, "cloudflare.this_value", "192.0.2.10") },
			`cloudflare.this_value: a pair's key: with a cluster block, list each node's value in records[].values (got "192.0.2.10")`},
		{"cloudflare.other_value", func(m map[string]any) { set(m, "cloudflare.other_value", "192.0.2.11") },
			`cloudflare.other_value: a pair's key: with a cluster block, list each node's value in records[].values (got "192.0.2.11")`},

		{"values name a witness", func(m map[string]any) { record(m, 0)["values"].(map[string]any)["w.example.com"] = "192.0.2.12" },
			`records[0].values: names a witness: a witness never writes the record (got "w.example.com")`},
		{"values name no member", func(m map[string]any) { record(m, 0)["values"].(map[string]any)["c.example.com"] = "192.0.2.12" },
			`records[0].values: names no member (cluster.nodes of role node: "a.example.com", "b.example.com") (got "c.example.com")`},
		{"values miss a node", func(m map[string]any) {
			addNode(m, "c.example.com", "192.0.2.4:4100", "")
		}, `records[0].values: want the content "c.example.com" writes (a key "c.example.com")`},
		{"values repeat", func(m map[string]any) {
			addNode(m, "c.example.com", "192.0.2.4:4100", "")
			record(m, 0)["values"].(map[string]any)["c.example.com"] = "192.0.2.10"
		}, `records[0].values: "a.example.com" and "c.example.com" write the same content: nothing would move between them (got "192.0.2.10")`},
		{"preferred a witness", func(m map[string]any) { record(m, 0)["preferred"] = "w.example.com" },
			`records[0].preferred: must be a member of role node (cluster.nodes of role node: "a.example.com", "b.example.com") (got "w.example.com")`},

		{"single record, type A", func(m map[string]any) {
			delete(m, "records")
			set(m, "cloudflare.record", "www.example.com")
			set(m, "cloudflare.type", "A")
			set(m, "cloudflare.preferred_value", "a.example.com")
		}, `cloudflare.type: must be CNAME with a cluster block: each node writes its own name; list A and AAAA records in records[], with each node's value (got "A")`},
		{"single record, preferred a witness", func(m map[string]any) {
			delete(m, "records")
			set(m, "cloudflare.record", "www.example.com")
			set(m, "cloudflare.preferred_value", "w.example.com")
		}, `cloudflare.preferred_value: must be the name of a member of role node (a.example.com, b.example.com) (got "w.example.com")`},
		{"single record, no preferred", func(m map[string]any) {
			delete(m, "records")
			set(m, "cloudflare.record", "www.example.com")
		}, "cloudflare.preferred_value: required"},
		{"no record", func(m map[string]any) { delete(m, "records") },
			"records: required: the records the nodes move, with each node's value (or cloudflare.record, a CNAME to the name of the node that leads)"},
		{"single record, no name", func(m map[string]any) {
			delete(m, "records")
			set(m, "cloudflare.preferred_value", "a.example.com")
		}, "cloudflare.record: required"},
		{"a node's provider", func(m map[string]any) { set(m, "cloudflare.token", del) }, "cloudflare.token: required (or cloudflare.key and cloudflare.mail)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := clusterBase()
			tt.change(m)
			_, err := Load(writeConfig(t, m), nil)
			var got []string
			for _, p := range problems(t, err) {
				got = append(got, p.String())
			}
			if want := []string{tt.want}; !reflect.DeepEqual(got, want) {
				t.Errorf("got %q\nwant %q", got, want)
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}

func TestClusterDefaults(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "clooster.json", mustMarshal(t, clusterBase()))
	c := mustLoad(t, path, nil)
	want := []quorum.Member{
		{Name: "a.example.com", Address: "192.0.2.1:4100", Priority: 0, Role: quorum.RoleNode},
		{Name: "b.example.com", Address: "192.0.2.2:4100", Priority: 1, Role: quorum.RoleNode},
		{Name: "w.example.com", Address: "192.0.2.3:4100", Priority: 2, Role: quorum.RoleWitness},
	}
	if got := c.Members(); !reflect.DeepEqual(got, want) {
		t.Errorf("Members: got %+v, want %+v", got, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ClusterMode", c.ClusterMode(), true},
		{"Self", c.Self(), want[0]},
		{"Witness", c.Witness(), false},
		{"StateDir", c.StateDir(), DefaultStateDir},
		{"state_dir", c.StateDirectory, DefaultStateDir},
		{"ClusterListen", c.ClusterListen(), ":4100"},
		{"preset", c.Cluster.Preset, PresetLAN},
		{"role", c.Role, ""},
		{"other_server", c.OtherServer, ""},
		{"server block", c.Server == nil && c.Client == nil, true},
		{"this_value", c.Cloudflare.ThisValue, ""},
		{"preferred", c.Records[0].Preferred, "a.example.com"},
		{"preferred value", c.Records[0].PreferredValue, "192.0.2.10"},
		{"warnings", len(c.Warnings), 0},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}

	// Given: priorities (b first), upper-case words, a relative
	// state_dir, a listen address, a CNAME without values.
	m := clusterBase()
	node(m, 0)["priority"] = 20
	node(m, 1)["priority"] = "10"
	node(m, 1)["role"] = " NODE "
	node(m, 2)["role"] = "Witness"
	set(m, "cluster.preset", "WAN")
	set(m, "cluster.listen", "[::1]:5000")
	m["state_dir"] = "state"
	m["records"] = append(m["records"].([]any), map[string]any{"name": "cdn.example.com", "type": "CNAME"})
	c = mustLoad(t, writeFile(t, dir, "given.json", mustMarshal(t, m)), nil)
	checks = []struct {
		name      string
		got, want any
	}{
		{"priorities", []int{c.Members()[0].Priority, c.Members()[1].Priority, c.Members()[2].Priority}, []int{20, 10, 2}},
		{"roles", []quorum.Role{c.Members()[1].Role, c.Members()[2].Role}, []quorum.Role{quorum.RoleNode, quorum.RoleWitness}},
		{"preset", c.Cluster.Preset, PresetWAN},
		{"ClusterListen", c.ClusterListen(), "[::1]:5000"},
		{"StateDir", c.StateDir(), filepath.Join(dir, "state")},
		{"preferred: the first node", c.Records[0].Preferred, "b.example.com"},
		{"a CNAME's values: the nodes' names", c.Records[1].Values, map[string]string{"a.example.com": "a.example.com", "b.example.com": "b.example.com"}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

// The cloudflare block's single record, in cluster mode: a CNAME to the
// name of each node.
func TestClusterSingleRecord(t *testing.T) {
	m := clusterBase()
	delete(m, "records")
	set(m, "cloudflare.record", "www.example.com")
	set(m, "cloudflare.preferred_value", "b.example.com")
	c := mustLoad(t, writeConfig(t, m), nil)
	got := c.RecordSet()
	want := []Record{{Name: "www.example.com", Zone: "example.com", Provider: ProviderCloudflare,
		Values:    map[string]string{"a.example.com": "a.example.com", "b.example.com": "b.example.com"},
		Preferred: "b.example.com", PreferredValue: "b.example.com", OtherKnown: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestZeroConfigCluster(t *testing.T) {
	var c Config
	if c.ClusterMode() || c.Members() != nil || c.Self() != (quorum.Member{}) || c.Witness() || c.ClusterListen() != "" {
		t.Errorf("pair mode: got mode %v, members %v, self %+v, witness %v, listen %q",
			c.ClusterMode(), c.Members(), c.Self(), c.Witness(), c.ClusterListen())
	}
	if got, want := c.StateDir(), DefaultStateDir; got != want {
		t.Errorf("StateDir: got %q, want %q", got, want)
	}
}

func TestClusterEnv(t *testing.T) {
	path := writeConfig(t, clusterBase())
	tests := []struct {
		name    string
		env     []string
		dir     string // StateDir
		preset  string
		listen  string
		problem string
	}{
		{"none", nil, DefaultStateDir, "lan", ":4100", ""},
		{"state_dir", []string{"CLOOSTER_STATE_DIR=/srv/clooster"}, "/srv/clooster", "lan", ":4100", ""},
		{"state_dir empty counts as unset", []string{"CLOOSTER_STATE_DIR="}, DefaultStateDir, "lan", ":4100", ""},
		{"preset and listen", []string{"CLOOSTER_CLUSTER_PRESET=wan", "CLOOSTER_CLUSTER_LISTEN=127.0.0.1:4200"}, DefaultStateDir, "wan", "127.0.0.1:4200", ""},
		{"bad preset", []string{"CLOOSTER_CLUSTER_PRESET=far"}, "", "", "", `CLOOSTER_CLUSTER_PRESET: must be lan or wan (got "far")`},
		{"a pair's variable", []string{"CLOOSTER_OTHER_SERVER=b.example.com"}, "", "", "",
			`CLOOSTER_OTHER_SERVER: a pair's key: with a cluster block, cluster.nodes lists every member and their addresses; a file is one mode or the other (got "b.example.com")`},
		{"a pair's block from a variable", []string{"CLOOSTER_SERVER_PORT=4096"}, "", "", "",
			"CLOOSTER_SERVER_PORT: a pair's key: with a cluster block, cluster.nodes lists every member and their addresses; a file is one mode or the other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(path, tt.env)
			if tt.problem != "" {
				ps := problems(t, err)
				if len(ps) != 1 || ps[0].String() != tt.problem {
					t.Errorf("got %q, want %q", ps, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.StateDir() != tt.dir || c.Cluster.Preset != tt.preset || c.ClusterListen() != tt.listen {
				t.Errorf("got state_dir %q, preset %q, listen %q; want %q, %q, %q",
					c.StateDir(), c.Cluster.Preset, c.ClusterListen(), tt.dir, tt.preset, tt.listen)
			}
		})
	}

	// A cluster variable does not make a pair a cluster.
	_, err := Load(writeConfig(t, base()), []string{"CLOOSTER_CLUSTER_PRESET=wan"})
	if ps := problems(t, err); len(ps) != 1 || ps[0].String() != "CLOOSTER_CLUSTER_PRESET: only with a cluster block in the file, which lists the members" {
		t.Errorf("a pair with CLOOSTER_CLUSTER_PRESET: got %q", ps)
	}

	// In pair mode the variable is taken, and unused; only the file's
	// state_dir is worth a warning (an image may set the variable for
	// every mode).
	c := mustLoad(t, writeConfig(t, base()), []string{"CLOOSTER_STATE_DIR=/srv/clooster"})
	if c.ClusterMode() || c.StateDir() != "/srv/clooster" || len(c.Warnings) != 0 {
		t.Errorf("pair mode: got cluster %v, state_dir %q, warnings %q", c.ClusterMode(), c.StateDir(), c.Warnings)
	}
	m := base()
	m["state_dir"] = "/srv/clooster"
	c = mustLoad(t, writeConfig(t, m), nil)
	if !hasWarning(c, "state_dir: not used without a cluster block") {
		t.Errorf("pair mode with state_dir: got warnings %q", c.Warnings)
	}
}

func TestWitnessFile(t *testing.T) {
	t.Run("minimal", func(t *testing.T) {
		m := witnessFile()
		m["state_dir"] = "/var/lib/clooster-witness"
		m["notify"] = []any{"ntfy://ntfy.example.com/alerts"}
		m["log"] = map[string]any{"level": "debug"}
		set(m, "status.address", "127.0.0.1:9798")
		c := mustLoad(t, writeConfig(t, m), nil)
		if !c.Witness() || c.Self().Name != "w.example.com" || c.StateDir() != "/var/lib/clooster-witness" || len(c.Warnings) != 0 {
			t.Errorf("got witness %v, self %+v, state_dir %q, warnings %q", c.Witness(), c.Self(), c.StateDir(), c.Warnings)
		}
	})

	// What a node's file has, copied into a witness's: accepted, ignored,
	// said; even records that name the witness.
	m := witnessFile()
	set(m, "cloudflare.token", testToken)
	set(m, "cloudflare.record", "www.example.com")
	set(m, "rfc2136.server", "127.0.0.1")
	m["records"] = []any{map[string]any{"name": "www.example.com", "type": "A",
		"values": map[string]any{"w.example.com": "not an address"}}}
	set(m, "health.url", "http://127.0.0.1:8080/")
	set(m, "health.timeout", "1h")
	c := mustLoad(t, writeConfig(t, m), nil)
	for _, w := range []string{
		"cloudflare: ignored: a witness never writes DNS",
		"rfc2136: ignored: a witness never writes DNS",
		"records: ignored: a witness never writes DNS",
		"health: ignored: a witness serves no website",
	} {
		if !slices.Contains(c.Warnings, w) {
			t.Errorf("got warnings %q, want %q", c.Warnings, w)
		}
	}
	// Still the one mode or the other.
	m = witnessFile()
	m["other_server"] = "a.example.com"
	if _, err := Load(writeConfig(t, m), nil); err == nil || !strings.HasPrefix(err.Error(), `other_server: a pair's key`) {
		t.Errorf("a witness with other_server: got %v", err)
	}
}

// The names of the pair's two nodes and the cluster's members are what the
// link's hello carries.
func TestPairNames(t *testing.T) {
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"this_server", func(m map[string]any) { m["this_server"] = "a example" },
			`this_server: want printable ASCII without spaces (a host name is best) (got "a example")`},
		{"other_server", func(m map[string]any) { m["other_server"] = "b\texample" },
			`other_server: want printable ASCII without spaces (a host name is best) (got "b\texample")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.change(m)
			_, err := Load(writeConfig(t, m), nil)
			var got []string
			for _, p := range problems(t, err) {
				got = append(got, p.String())
			}
			if !slices.Contains(got, tt.want) {
				t.Errorf("got %q, want %q among them", got, tt.want)
			}
		})
	}
}

func TestRedactedCluster(t *testing.T) {
	c := mustLoad(t, writeConfig(t, clusterBase()), nil)
	r := c.Redacted()
	r.Cluster.Nodes[0].Name = "changed"
	r.Cluster.Preset = "changed"
	if c.Cluster.Nodes[0].Name != "a.example.com" || c.Cluster.Preset != PresetLAN {
		t.Errorf("Redacted shares the cluster block: %+v", c.Cluster)
	}
}
