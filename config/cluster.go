package config

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clooster/clooster/internal/logtext"
	"github.com/clooster/clooster/quorum"
)

// Quorum mode's defaults.
const (
	DefaultStateDir = "/var/lib/clooster"
	// DefaultPreset is the Raft timings of members on one network.
	DefaultPreset = PresetLAN
)

// Presets: the Raft timings cluster.preset names; the engine has the
// figures.
const (
	PresetLAN = "lan"
	PresetWAN = "wan"
)

// Member counts of a cluster.
const (
	// MinMembers: fewer cannot outvote one member cut off from the rest.
	MinMembers = 3
	// MinNodes: a cluster of one node has nowhere to fail over.
	MinNodes = 2
)

// maxNameLen is the longest member name the link's hello carries.
const maxNameLen = 253

// Cluster is the cluster block: quorum mode, in place of the pair's
// server and client blocks. After Load, every node has its role and
// priority, and Preset is set, in lower case.
type Cluster struct {
	Nodes []ClusterNode `json:"nodes"`
	// Preset names the Raft timings: PresetLAN or PresetWAN.
	Preset string `json:"preset"`
	// Listen is where this member listens, host:port; "": all
	// interfaces, on the port of its own address in Nodes.
	Listen string `json:"listen,omitempty"`
}

// ClusterNode is one member as cluster.nodes lists it. Role is
// quorum.RoleNode or quorum.RoleWitness; Priority orders the nodes for
// leadership, lower first, by default the member's position in the list.
type ClusterNode struct {
	Name     string `json:"name"`
	Address  string `json:"address"`
	Priority int    `json:"priority"`
	Role     string `json:"role"`
}

// ClusterMode reports whether c is a member of a cluster (a cluster block)
// rather than half of a pair.
func (c *Config) ClusterMode() bool { return c.Cluster != nil }

// Members are the cluster's members in the order of cluster.nodes; nil in
// pair mode.
func (c *Config) Members() []quorum.Member {
	if c.Cluster == nil {
		return nil
	}
	out := make([]quorum.Member, 0, len(c.Cluster.Nodes))
	for _, n := range c.Cluster.Nodes {
		out = append(out, quorum.Member{Name: n.Name, Address: n.Address, Priority: n.Priority, Role: quorum.Role(n.Role)})
	}
	return out
}

// Self is this member (the one named this_server); the zero Member in
// pair mode.
func (c *Config) Self() quorum.Member {
	for _, m := range c.Members() {
		if m.Name == c.ThisServer {
			return m
		}
	}
	return quorum.Member{}
}

// Witness reports whether this member is a witness: it votes, never
// leads for long, and never writes DNS.
func (c *Config) Witness() bool {
	return c.ClusterMode() && c.Self().Role == quorum.RoleWitness
}

// StateDir is where this member keeps its Raft term, vote and membership.
func (c *Config) StateDir() string {
	if c.StateDirectory == "" {
		return DefaultStateDir
	}
	return c.StateDirectory
}

// ClusterListen is the host:port this member listens on for Raft and the
// control protocol: cluster.listen, else all interfaces on its own
// address's port; "" in pair mode.
func (c *Config) ClusterListen() string {
	if c.Cluster == nil {
		return ""
	}
	if c.Cluster.Listen != "" {
		return c.Cluster.Listen
	}
	_, port, err := net.SplitHostPort(c.Self().Address)
	if err != nil {
		return ""
	}
	return net.JoinHostPort("", port)
}

// nodeNames are the names of the members that serve the website (role
// node), in the order of cluster.nodes.
func (c *Config) nodeNames() []string {
	var out []string
	for _, m := range c.Members() {
		if m.Role == quorum.RoleNode {
			out = append(out, m.Name)
		}
	}
	return out
}

// firstNode is the node member of the highest priority (the lowest
// number), the first listed of equals; "" if there is none.
func (c *Config) firstNode() string {
	best, name := 0, ""
	for _, m := range c.Members() {
		if m.Role == quorum.RoleNode && (name == "" || m.Priority < best) {
			best, name = m.Priority, m.Name
		}
	}
	return name
}

// defaultCluster fills in the cluster block's defaults and state_dir's.
func (l *loader) defaultCluster() {
	c := l.cfg
	if l.fileSet["state_dir"] && c.StateDirectory != "" && !filepath.IsAbs(c.StateDirectory) {
		c.StateDirectory = filepath.Join(l.dir, c.StateDirectory)
	}
	cl := c.Cluster
	if cl == nil {
		return
	}
	if !l.fileSet["cluster"] {
		// A variable made the block: the members are the file's alone.
		for _, p := range []string{"cluster.preset", "cluster.listen"} {
			if v := l.envSet[p]; v != "" {
				l.addProblem(Problem{Key: v, Msg: "only with a cluster block in the file, which lists the members"})
			}
		}
		c.Cluster = nil
		return
	}
	setDefault(l, "state_dir", &c.StateDirectory, DefaultStateDir)
	cl.Preset = strings.ToLower(strings.TrimSpace(cl.Preset))
	if cl.Preset == "" {
		cl.Preset = DefaultPreset
	}
	cl.Listen = strings.TrimSpace(cl.Listen)
	for i := range cl.Nodes {
		n := &cl.Nodes[i]
		n.Address = strings.TrimSpace(n.Address)
		n.Role = strings.ToLower(strings.TrimSpace(n.Role))
		if n.Role == "" {
			n.Role = string(quorum.RoleNode)
		}
		setDefault(l, fmt.Sprintf("cluster.nodes[%d].priority", i), &n.Priority, i)
	}
}

// checkMode checks that the file is of one mode: in cluster mode, none of
// the pair's keys; in pair mode, state_dir only with a warning.
func (l *loader) checkMode() {
	c := l.cfg
	if c.Cluster == nil {
		if l.fileSet["state_dir"] {
			l.warn("state_dir", "not used without a cluster block")
		}
		return
	}
	const hint = "a pair's key: with a cluster block, cluster.nodes lists every member and their addresses; a file is one mode or the other"
	if c.OtherServer != "" {
		l.bad("other_server", quote(c.OtherServer), hint)
	}
	if c.Role != "" {
		l.bad("role", quote(c.Role), "a pair's key: with a cluster block, a member's role is its cluster.nodes[].role; a file is one mode or the other")
	}
	if c.Server != nil {
		l.bad(l.blockName("server"), "", hint)
	}
	if c.Client != nil {
		l.bad(l.blockName("client"), "", hint)
	}
	for _, k := range pairKeys {
		if l.isSet(k.path) {
			l.warn(l.name(k.path), "ignored in quorum mode: "+k.why)
		}
	}
	if c.Witness() {
		return // the cloudflare keys below are ignored
	}
	for _, k := range []struct{ path, v string }{
		{"cloudflare.this_value", c.Cloudflare.ThisValue},
		{"cloudflare.other_value", c.Cloudflare.OtherValue},
	} {
		if k.v != "" {
			l.bad(k.path, quote(k.v), "a pair's key: with a cluster block, list each node's value in records[].values")
		}
	}
}

// pairKeys are the pair's keys that a cluster member does not read, and
// why: a file with a cluster block may hold them (a pair's file turned
// into a member's), and is told they are ignored.
var pairKeys = []struct{ path, why string }{
	{"keepalive_interval", "the pair's link timing; cluster.preset sets the cluster's"},
	{"peer_timeout", "the pair's link timing; cluster.preset sets the cluster's"},
	{"restart_grace", "a pair's peer keeps the record while it restarts; a member restarted by SIGUSR2 stops as on SIGTERM"},
	{"peer_check.url", "a pair's survivor probes its peer; the cluster's leader asks each member itself"},
	{"peer_check.tcp", "a pair's survivor probes its peer; the cluster's leader asks each member itself"},
	{"peer_check.timeout", "a pair's survivor probes its peer; the cluster's leader asks each member itself"},
	{"hooks.on_peer_down", "a pair's hook; a member runs on_active and on_standby"},
	{"hooks.on_peer_up", "a pair's hook; a member runs on_active and on_standby"},
}

// Ignored are the keys that c's mode does not read, as key paths (a
// block's stands for all its keys): in a cluster member's, the pair's
// (pairKeys, and cloudflare.this_value and .other_value, which it
// refuses); in a witness's, also the DNS provider, the records and the
// health check. None in a pair's.
func (c *Config) Ignored() []string {
	if c.Cluster == nil {
		return nil
	}
	out := []string{"keepalive_interval", "peer_timeout", "restart_grace", "peer_check", "hooks.on_peer_down", "hooks.on_peer_up",
		"cloudflare.this_value", "cloudflare.other_value"}
	if c.Witness() {
		out = append(out, "cloudflare", "rfc2136", "records", "health")
	}
	return out
}

// blockName is how a problem names a block: the block, or the variable
// that made it.
func (l *loader) blockName(block string) string {
	if l.fileSet[block] {
		return block
	}
	for p, v := range l.envSet {
		if strings.HasPrefix(p, block+".") {
			return v
		}
	}
	return block
}

// checkCluster validates the cluster block and state_dir.
func (l *loader) checkCluster() {
	c := l.cfg
	cl := c.Cluster
	if cl == nil {
		return
	}
	if c.StateDirectory == "" {
		l.bad("state_dir", `""`, "want a directory (default "+DefaultStateDir+")")
	}
	if cl.Preset != PresetLAN && cl.Preset != PresetWAN {
		l.bad("cluster.preset", quote(cl.Preset), "must be lan or wan")
	}
	if cl.Listen != "" {
		l.checkListen("cluster.listen", cl.Listen)
	}
	if len(cl.Nodes) < MinMembers {
		l.bad("cluster.nodes", logtext.Count(len(cl.Nodes), "member"),
			fmt.Sprintf("want at least %d members, this one included: fewer cannot outvote one that is cut off", MinMembers))
	}
	names := map[string]int{}
	addrs := map[string]int{}
	prios := map[int]int{}
	nodes := 0
	for i, n := range cl.Nodes {
		p := fmt.Sprintf("cluster.nodes[%d]", i)
		if l.checkName(p+".name", n.Name) {
			if strings.EqualFold(n.Name, quorum.OperatorName) {
				l.bad(p+".name", quote(n.Name), "that name is an operator's command's (clooster cluster), not a member's")
			} else if j, ok := names[strings.ToLower(n.Name)]; ok {
				l.bad(p+".name", quote(n.Name), fmt.Sprintf("the same name as cluster.nodes[%d]", j))
			} else {
				names[strings.ToLower(n.Name)] = i
			}
		}
		if n.Address == "" {
			l.bad(p+".address", "", "required: host:port, where the other members reach this one")
		} else if l.checkMemberAddress(p+".address", n.Address) {
			key := strings.ToLower(n.Address)
			if j, ok := addrs[key]; ok {
				l.bad(p+".address", quote(n.Address), fmt.Sprintf("the same address as cluster.nodes[%d]", j))
			} else {
				addrs[key] = i
			}
		}
		switch quorum.Role(n.Role) {
		case quorum.RoleNode:
			nodes++
			if j, ok := prios[n.Priority]; ok {
				l.bad(p+".priority", strconv.Itoa(n.Priority), fmt.Sprintf("the same as cluster.nodes[%d]'s (%s): each node needs its own place in the order",
					j, cl.Nodes[j].Name))
			} else {
				prios[n.Priority] = i
			}
		case quorum.RoleWitness:
		default:
			l.bad(p+".role", quote(n.Role), "must be node or witness")
		}
	}
	if len(cl.Nodes) >= MinMembers && nodes < MinNodes {
		l.bad("cluster.nodes", logtext.Count(nodes, "node"), fmt.Sprintf("want at least %d members of role node: the others only vote", MinNodes))
	}
	if c.ThisServer != "" && len(cl.Nodes) > 0 && !slices.ContainsFunc(cl.Nodes, func(n ClusterNode) bool { return n.Name == c.ThisServer }) {
		l.bad("this_server", quote(c.ThisServer), "must be one of cluster.nodes[].name: this member's own entry")
	}
}

// checkName checks a member's name as the link's hello carries it: 1 to
// 253 bytes of printable ASCII, no space. It reports whether it is good.
func (l *loader) checkName(path, name string) bool {
	switch {
	case name == "":
		l.bad(path, "", "required")
	case len(name) > maxNameLen:
		l.bad(path, quote(name), fmt.Sprintf("at most %d bytes", maxNameLen))
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		l.bad(path, quote(name), "want printable ASCII without spaces (a host name is best)")
	default:
		return true
	}
	return false
}

// checkMemberAddress checks a host:port that the other members dial, and
// reports whether it is good.
func (l *loader) checkMemberAddress(path, s string) bool {
	n := len(l.problems)
	l.checkHostPort(path, s, false)
	if len(l.problems) > n {
		return false
	}
	host, _, _ := net.SplitHostPort(s)
	if strings.ContainsAny(host, " \t\r\n/[]") {
		l.bad(path, quote(s), "want host:port")
		return false
	}
	return true
}

// checkListen checks a listen address: host:port, the host empty for all
// interfaces, the port fixed (the other members dial it).
func (l *loader) checkListen(path, s string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || strings.ContainsAny(host, " \t\r\n/[]") {
		l.bad(path, quote(s), "want host:port, or :port for all interfaces")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		l.bad(path, quote(s), "want a port from 1 to 65535")
	}
}

// warnWitness warns about what a witness's file holds and the witness does
// not use: it never writes DNS and serves no website.
func (l *loader) warnWitness() {
	c := l.cfg
	cf := c.Cloudflare
	if cf.Token != "" || cf.Key != "" || cf.Mail != "" || cf.Zone != "" || cf.ZoneID != "" || cf.Record != "" ||
		cf.PreferredValue != "" || cf.ThisValue != "" || cf.OtherValue != "" {
		l.warn("cloudflare", "ignored: a witness never writes DNS")
	}
	if c.RFC2136 != nil {
		l.warn("rfc2136", "ignored: a witness never writes DNS")
	}
	if len(c.Records) > 0 {
		l.warn("records", "ignored: a witness never writes DNS")
	}
	if h := c.Health; h.URL != "" || h.TCP != "" || h.Command != "" {
		l.warn("health", "ignored: a witness serves no website")
	}
}

// checkClusterRecord checks the cloudflare block's single record in
// cluster mode: every node writes its own name, so it is a CNAME.
func (l *loader) checkClusterRecord() {
	c := l.cfg
	cf := c.Cloudflare
	if cf.Record == "" && cf.PreferredValue == "" {
		l.bad("records", "", "required: the records the nodes move, with each node's value"+
			" (or cloudflare.record, a CNAME to the name of the node that leads)")
		return
	}
	l.checkCloudflareCredentials()
	l.checkURL("cloudflare.api_url", cf.APIURL)
	if cf.Zone == "" && cf.ZoneID == "" {
		l.bad("cloudflare.zone", "", "required unless cloudflare.zone_id is set")
	}
	l.required("cloudflare.record", cf.Record)
	switch cf.Type {
	case "", "CNAME":
	default:
		l.bad("cloudflare.type", quote(cf.Type), "must be CNAME with a cluster block: each node writes its own name;"+
			" list A and AAAA records in records[], with each node's value")
	}
	switch nodes := c.nodeNames(); {
	case cf.PreferredValue == "":
		l.bad("cloudflare.preferred_value", "", "required")
	case !slices.Contains(nodes, cf.PreferredValue):
		l.bad("cloudflare.preferred_value", quote(cf.PreferredValue), "must be the name of a member of role node ("+strings.Join(nodes, ", ")+")")
	}
}

// clusterRecord is the one record of the cloudflare block in cluster
// mode: each node's value is its name.
func (c *Config) clusterRecord() Record {
	cf := c.Cloudflare
	r := Record{
		Name: cf.Record, Type: cf.Type, Zone: cf.Zone, ZoneID: cf.ZoneID, Provider: ProviderCloudflare,
		Values: map[string]string{}, OtherKnown: true,
	}
	for _, n := range c.nodeNames() {
		r.Values[n] = n
		if n == cf.PreferredValue {
			r.Preferred, r.PreferredValue = n, n
		}
	}
	return r
}
