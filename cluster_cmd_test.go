package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/clooster/clooster/quorum"
	"github.com/clooster/clooster/watchdog"
)

const clusterKey = "cluster-key-0123456789abcdef0123"

// memberFile writes the file of member self of members, a witness or a
// node, with its state under dir; a node's file has one record on a
// provider nothing can reach.
func memberFile(t *testing.T, self string, members []quorum.Member, dir string) string {
	t.Helper()
	var nodes []map[string]any
	values := map[string]string{}
	for i, m := range members {
		nodes = append(nodes, map[string]any{"name": m.Name, "address": m.Address, "priority": m.Priority, "role": string(m.Role)})
		if m.Role == quorum.RoleNode {
			values[m.Name] = fmt.Sprintf("192.0.2.%d", i+1)
		}
	}
	cfg := map[string]any{"this_server": self, "key": clusterKey, "cluster": map[string]any{"nodes": nodes}, "state_dir": dir}
	if i := slices.IndexFunc(members, func(m quorum.Member) bool { return m.Name == self }); members[i].Role == quorum.RoleNode {
		cfg["cloudflare"] = map[string]any{"token": "cf-token-for-tests", "zone": "example.com", "api_url": "http://127.0.0.1:1/client/v4"}
		cfg["records"] = []any{map[string]any{"name": "www.example.com", "type": "A", "values": values}}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), self+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// listen returns members a and b (nodes) and w (a witness) on loopback
// ports, and their listeners.
func listen(t *testing.T) ([]quorum.Member, map[string]net.Listener) {
	t.Helper()
	lns := map[string]net.Listener{}
	var members []quorum.Member
	for i, n := range []string{"a", "b", "w"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		role := quorum.RoleNode
		if n == "w" {
			role = quorum.RoleWitness
		}
		lns[n] = ln
		members = append(members, quorum.Member{Name: n, Address: ln.Addr().String(), Priority: i, Role: role})
	}
	return members, lns
}

// serveMember serves member self's transport on ln until the test ends,
// with add and remove as its answers to a membership change.
func serveMember(t *testing.T, self string, members []quorum.Member, ln net.Listener,
	add func(ctx context.Context, name, address string) error, remove func(ctx context.Context, name string) error) *quorum.Transport {
	t.Helper()
	st, err := watchdog.ServerTLS("", "")
	if err != nil {
		t.Fatal(err)
	}
	ct, err := watchdog.ClientTLS("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := quorum.NewTransport(quorum.TransportConfig{
		Self: self, Members: members, Key: []byte(clusterKey), ServerTLS: st, ClientTLS: ct, Listener: ln,
		Status:   func() quorum.MemberStatus { return quorum.MemberStatus{Name: self} },
		AddVoter: add, RemoveServer: remove, RaftLog: hclog.NewNullLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Serve(context.Background()) }()
	t.Cleanup(func() {
		tr.Close()
		<-done
	})
	return tr
}

func TestClusterUsage(t *testing.T) {
	members, _ := listen(t)
	witness := memberFile(t, "w", members, t.TempDir())
	pair := writeConfig(t, nil)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no subcommand", []string{"cluster"}, 2, "cluster needs add, remove or recover"},
		{"unknown subcommand", []string{"cluster", "join"}, 2, "cluster join: unknown (want add, remove or recover)"},
		{"add without an address", []string{"cluster", "add", "d", "-config", witness}, 2, "cluster add takes NAME HOST:PORT (got 1 arguments)"},
		{"add with a bad address", []string{"cluster", "add", "d", "d.example.com", "-config", witness}, 2, `HOST:PORT: want a host and a port from 1 to 65535 (got "d.example.com")`},
		{"add with port 0", []string{"cluster", "add", "d", "d.example.com:0", "-config", witness}, 2, "HOST:PORT: want a host and a port"},
		{"add with a space in the name", []string{"cluster", "add", "d d", "127.0.0.1:4096", "-config", witness}, 2, `NAME: want 1 to 253 bytes of printable ASCII without spaces (got "d d")`},
		{"remove without a name", []string{"cluster", "remove", "-config", witness}, 2, "cluster remove takes NAME (got 0 arguments)"},
		{"remove with two names", []string{"cluster", "remove", "a", "b", "-config", witness}, 2, "cluster remove takes NAME (got 2 arguments)"},
		{"an unknown flag", []string{"cluster", "remove", "a", "-bogus"}, 2, "-bogus"},
		{"recover without -force", []string{"cluster", "recover", "-config", witness}, 2, "cluster recover: refused without -force"},
		{"recover with an argument", []string{"cluster", "recover", "-force", "extra"}, 2, `cluster recover takes no arguments (got "extra")`},
		{"a pair's file", []string{"cluster", "remove", "a", "-config", pair}, 2, "this configuration has no cluster block"},
		{"a file that does not exist", []string{"cluster", "remove", "a", "-config", filepath.Join(t.TempDir(), "none.json")}, 2, "no such file"},
		{"the witness recovers", []string{"cluster", "recover", "-force", "-config", witness}, 2, "w is a witness, which never writes DNS: recover a node instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, context.Background(), nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("got exit %d, stderr %q; want exit %d with %q", code, stderr, tt.code, tt.stderr)
			}
			if stdout != "" {
				t.Errorf("got stdout %q, want none", stdout)
			}
		})
	}

	// The refusal says the risk, whole.
	_, _, stderr := runCLI(t, context.Background(), nil, "cluster", "recover")
	for _, want := range []string{"Every other member must then stay", "two leaders", "empty every", "Run it again with -force"} {
		if !strings.Contains(strings.Join(strings.Fields(stderr), " "), want) {
			t.Errorf("the refusal lacks %q", want)
		}
	}
	// Help is no error.
	if code, stdout, _ := runCLI(t, context.Background(), nil, "cluster", "add", "-h"); code != 0 || !strings.Contains(stdout, "clooster cluster add NAME HOST:PORT") {
		t.Errorf("cluster add -h: exit %d, %q", code, stdout)
	}
}

// raftMember is a member of a test cluster: its Raft over its transport.
type raftMember struct {
	name string
	r    atomic.Pointer[raft.Raft]
}

func (m *raftMember) add(_ context.Context, name, address string) error {
	r := m.r.Load()
	if r == nil || r.State() != raft.Leader {
		return fmt.Errorf("%w: %s does not lead", quorum.ErrNotLeader, m.name)
	}
	return r.AddVoter(raft.ServerID(name), raft.ServerAddress(address), 0, 5*time.Second).Error()
}

func (m *raftMember) remove(_ context.Context, name string) error {
	r := m.r.Load()
	if r == nil || r.State() != raft.Leader {
		return fmt.Errorf("%w: %s does not lead", quorum.ErrNotLeader, m.name)
	}
	return r.RemoveServer(raft.ServerID(name), 0, 5*time.Second).Error()
}

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnap{}, nil }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnap struct{}

func (nopSnap) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnap) Release()                          {}

// startCluster runs a, b and w under Raft, with in-memory stores, until
// the test ends, and returns them once one leads.
func startCluster(t *testing.T, members []quorum.Member, lns map[string]net.Listener) []*raftMember {
	t.Helper()
	var servers []raft.Server
	for _, m := range members {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Address)})
	}
	var out []*raftMember
	for _, m := range members {
		rm := &raftMember{name: m.Name}
		tr := serveMember(t, m.Name, members, lns[m.Name], rm.add, rm.remove)
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(m.Name)
		// Long enough that a loaded machine, under -race, keeps its leader.
		conf.HeartbeatTimeout, conf.ElectionTimeout = 2*time.Second, 2*time.Second
		conf.LeaderLeaseTimeout, conf.CommitTimeout = time.Second, 5*time.Millisecond
		conf.Logger = hclog.NewNullLogger()
		store := raft.NewInmemStore()
		r, err := raft.NewRaft(conf, nopFSM{}, store, store, raft.NewInmemSnapshotStore(), tr.Raft())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			t.Fatal(err)
		}
		rm.r.Store(r)
		t.Cleanup(func() { r.Shutdown().Error() })
		out = append(out, rm)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 1500 {
		for _, rm := range out {
			if rm.r.Load().State() == raft.Leader {
				return out
			}
		}
		<-tick.C
	}
	t.Fatal("no leader within 30 s")
	return nil
}

// voters is the configuration the leader of ms holds.
func voters(t *testing.T, ms []*raftMember) []string {
	t.Helper()
	for _, rm := range ms {
		r := rm.r.Load()
		if r.State() != raft.Leader {
			continue
		}
		f := r.GetConfiguration()
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range f.Configuration().Servers {
			out = append(out, string(s.ID))
		}
		slices.Sort(out)
		return out
	}
	t.Fatal("no leader")
	return nil
}

// The command finds the leader, whichever member it is, and the change is
// made; asked from the witness's host, its own member included.
func TestClusterAddRemove(t *testing.T) {
	members, lns := listen(t)
	ms := startCluster(t, members, lns)
	witness := memberFile(t, "w", members, t.TempDir())
	ctx := context.Background()

	code, stdout, stderr := runCLI(t, ctx, nil, "cluster", "add", "d", "127.0.0.1:1", "-config", witness)
	if code != 0 || stderr != "" {
		t.Fatalf("cluster add: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, ", the leader, added d at 127.0.0.1:1 as a voter") || !strings.Contains(stdout, "hint: d is not in this file's cluster.nodes") {
		t.Errorf("cluster add said %q", stdout)
	}
	if got, want := voters(t, ms), []string{"a", "b", "d", "w"}; !slices.Equal(got, want) {
		t.Errorf("voters after add: got %v, want %v", got, want)
	}

	code, stdout, stderr = runCLI(t, ctx, nil, "cluster", "remove", "-config", witness, "d")
	if code != 0 || stderr != "" {
		t.Fatalf("cluster remove: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, ", the leader, removed d\n") || strings.Contains(stdout, "hint") {
		t.Errorf("cluster remove said %q", stdout)
	}
	if got, want := voters(t, ms), []string{"a", "b", "w"}; !slices.Equal(got, want) {
		t.Errorf("voters after remove: got %v, want %v", got, want)
	}
}

// When no member makes the change, the error names every member and why.
func TestClusterNoLeader(t *testing.T) {
	tests := []struct {
		name  string
		serve bool // the members answer, none leads; else nothing listens
		want  []string
	}{
		{"none leads", true, []string{
			"cluster: no member would add d at 127.0.0.1:1:",
			"  a (127.0.0.1:", "): ask a: not the leader: ", "a does not lead\n",
			"  w (127.0.0.1:", "): ask w: not the leader: ", "w does not lead\n",
			"hint: no member leads now",
		}},
		{"none answers", false, []string{
			"cluster: no member would add d at 127.0.0.1:1:", "): dial a: ", "): dial b: ", "): dial w: ",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			members, lns := listen(t)
			for _, m := range members {
				if tt.serve {
					rm := &raftMember{name: m.Name}
					serveMember(t, m.Name, members, lns[m.Name], rm.add, rm.remove)
				} else {
					lns[m.Name].Close()
				}
			}
			witness := memberFile(t, "w", members, t.TempDir())
			code, _, stderr := runCLI(t, context.Background(), nil, "cluster", "add", "d", "127.0.0.1:1", "-config", witness)
			if code != 1 {
				t.Errorf("got exit %d, want 1", code)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			}
		})
	}
}

// recover makes node a the only voter of its stopped state_dir; it
// refuses a state_dir in use, with -force or without, or one without
// state. It says only its own sentences: none of Raft's log lines.
func TestClusterRecover(t *testing.T) {
	members, _ := listen(t)
	dir := t.TempDir()
	file := memberFile(t, "a", members, dir)
	// Where a Raft logger made without an output writes.
	var raw bytes.Buffer
	was := hclog.DefaultOutput
	hclog.DefaultOutput = &raw
	t.Cleanup(func() { hclog.DefaultOutput = was })

	// No state yet.
	code, _, stderr := runCLI(t, context.Background(), nil, "cluster", "recover", "-force", "-config", file)
	if code != 1 || !strings.Contains(stderr, "no raft state in "+dir+": nothing to recover") {
		t.Errorf("no state: exit %d, %q", code, stderr)
	}

	// a's state: the three members, bootstrapped, then a stopped.
	st, err := quorum.OpenStores(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var servers []raft.Server
	for _, m := range members {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Address)})
	}
	conf := raft.DefaultConfig()
	conf.LocalID, conf.Logger = "a", hclog.NewNullLogger()
	_, trans := raft.NewInmemTransport(raft.ServerAddress(members[0].Address))
	if err := raft.BootstrapCluster(conf, st.Log, st.Stable, st.Snapshots, trans, raft.Configuration{Servers: servers}); err != nil {
		t.Fatal(err)
	}

	// While the member runs (its state_dir locked, its stores open),
	// recover refuses, and says so before the risk when not forced.
	release, err := lockStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	running := "cluster recover: a is running: a clooster holds its state_dir " + dir + " ("
	for _, args := range [][]string{{"-force"}, {}} {
		args = append([]string{"cluster", "recover", "-config", file}, args...)
		code, stdout, stderr := runCLI(t, context.Background(), nil, args...)
		if code != 1 || !strings.HasPrefix(stderr, "clooster: "+running) || !strings.Contains(stderr, "Stop it first") ||
			!strings.Contains(stderr, "nothing was changed") || strings.Contains(stderr, "refused without -force") || stdout != "" {
			t.Errorf("%v while a runs: exit %d, stdout %q, stderr %q; want exit 1, %q", args, code, stdout, stderr, running)
		}
	}
	release()
	// Only the stores held: the same.
	code, _, stderr = runCLI(t, context.Background(), nil, "cluster", "recover", "-force", "-config", file)
	if code != 1 || !strings.Contains(stderr, running+filepath.Join(dir, "raft.db")+" is locked)") {
		t.Errorf("raft.db in use: exit %d, %q", code, stderr)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	stored := func() []raft.Server {
		st, err := quorum.OpenStores(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		got, err := raft.GetConfiguration(conf, nopFSM{}, st.Log, st.Stable, st.Snapshots, trans)
		if err != nil {
			t.Fatal(err)
		}
		return got.Servers
	}
	if got := stored(); len(got) != 3 {
		t.Errorf("configuration after the refusals: got %+v, want the three members", got)
	}

	code, stdout, stderr := runCLI(t, context.Background(), nil, "cluster", "recover", "-force", "-config", file)
	if code != 0 || stderr != "" || stdout != "clooster: a is now the only voter in "+dir+"; start it, and keep every other member stopped until the cluster is rebuilt\n" {
		t.Fatalf("recover: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if raw.Len() > 0 {
		t.Errorf("recover let Raft write on standard error: %q", raw.String())
	}
	if got := stored(); len(got) != 1 || got[0].ID != "a" || got[0].Suffrage != raft.Voter {
		t.Errorf("configuration after recover: got %+v, want a alone, a voter", got)
	}
}
