//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
)

// clusterFailback is failback_delay in the cluster tests: short, so that a
// restarted first node gets the record back within the test.
const clusterFailback = 3 * time.Second

// qmember is one member of a test cluster: its file (written once, kept
// for a restart, with its state_dir) and its running process.
type qmember struct {
	name, role string
	path       string // its configuration file
	addr       string // its status listener, host:port
	proc       *pairtest.Proc
}

// qcluster is a cluster on loopback with stand-ins of its own: the
// record, a CNAME, holds no member's name at the start.
type qcluster struct {
	f       *pairtest.Fakes
	members []*qmember
	secrets []pairtest.Secret
}

// newCluster writes the files of members named by roles ("node" or
// "witness"), in priority order: n1 first.
func newCluster(t testing.TB, roles ...string) *qcluster {
	t.Helper()
	f := pairtest.NewFakes(t)
	f.CF.SetContent(f.RecordID, "old.example.com")
	key := pairtest.NewSecret("key-")
	c := &qcluster{f: f, secrets: []pairtest.Secret{{Name: "key", Value: key}, {Name: "cloudflare.token", Value: f.CFToken}, {Name: "pushbullet.key", Value: f.PBKey}}}
	var nodes []any
	for i, role := range roles {
		name := fmt.Sprintf("n%d.example.com", i+1)
		if role == "witness" {
			name = "w.example.com"
		}
		m := &qmember{name: name, role: role, addr: pairtest.Loopback(pairtest.FreePort(t))}
		nodes = append(nodes, map[string]any{"name": name, "address": pairtest.Loopback(pairtest.FreePort(t)), "priority": i + 1, "role": role})
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		dir := t.TempDir()
		o := pairtest.Obj{
			{Key: "this_server", Val: m.name},
			{Key: "key", Val: key},
			{Key: "cluster", Val: pairtest.Obj{{Key: "nodes", Val: nodes}}},
			{Key: "state_dir", Val: filepath.Join(dir, "state")},
			{Key: "failback_delay", Val: clusterFailback.String()},
			{Key: "status", Val: pairtest.Obj{{Key: "address", Val: m.addr}}},
		}
		if m.role == "node" {
			o = append(o, pairtest.Member{Key: "cloudflare", Val: pairtest.Obj{
				{Key: "token", Val: f.CFToken}, {Key: "zone", Val: pairtest.Zone}, {Key: "record", Val: pairtest.Record},
				{Key: "preferred_value", Val: c.members[0].name}, {Key: "api_url", Val: f.CloudflareURL()},
			}})
		}
		o = append(o, pairtest.Member{Key: "pushbullet", Val: pairtest.Obj{{Key: "key", Val: f.PBKey}, {Key: "api_url", Val: f.PushbulletURL()}}},
			pairtest.Member{Key: "log", Val: pairtest.Obj{{Key: "level", Val: "debug"}}})
		m.path = filepath.Join(dir, "clooster.json")
		writeFile(t, m.path, pairtest.RelaxedJSON("clooster: "+m.name+", a member of a test cluster", o))
	}
	return c
}

// start starts member i from its file (its state_dir as it was left).
func (c *qcluster) start(t testing.TB, i int) {
	t.Helper()
	m := c.members[i]
	m.proc = bin.Start(t, pairtest.Cmd{Label: m.name, Args: []string{m.path}, Status: m.addr, Secrets: c.secrets})
}

// qstatus is what the cluster tests read of GET /status.
type qstatus struct {
	Mode, Node, State, Leader string
	Term                      uint64
	Quorum                    bool
	Counters                  struct{ Writes uint64 }
}

func (m *qmember) status() (qstatus, error) {
	var st qstatus
	body, err := m.proc.Get("/status")
	if err == nil {
		err = json.Unmarshal([]byte(body), &st)
	}
	return st, err
}

// leader is the one member that runs and says it leads with a quorum, and
// that every other running member follows; -1 if there is none, or not
// only one.
func (c *qcluster) leader() int {
	lead := -1
	for i, m := range c.members {
		if m.proc == nil || m.proc.Exited() {
			continue
		}
		st, err := m.status()
		if err != nil {
			return -1
		}
		if st.State == "Leader" && st.Quorum {
			if lead >= 0 {
				return -1
			}
			lead = i
		}
	}
	if lead < 0 {
		return -1
	}
	for _, m := range c.members {
		if m.proc == nil || m.proc.Exited() {
			continue
		}
		if st, _ := m.status(); st.Leader != c.members[lead].name {
			return -1
		}
	}
	return lead
}

// settled: member i leads, every running member knows it, and the record
// holds its name.
func (c *qcluster) settled(i int) bool {
	return c.f.Content() == c.members[i].name && c.leader() == i
}

func (c *qcluster) writes() []string { return c.f.WriteContents() }

// TestClusterOfThreeNodes: three nodes elect n1 and it moves the record;
// its kill -9 moves the record to n2 once; n1 restarted gets it back
// after failback_delay, once; a SIGTERM of the leader hands it to n2 once.
func TestClusterOfThreeNodes(t *testing.T) {
	e2eTest(t)
	c := newCluster(t, "node", "node", "node")
	for i := range c.members {
		c.start(t, i)
	}
	took := pairtest.WaitEvery(t, 100*time.Millisecond, 90*time.Second, "n1 leads with the record", func() bool { return c.settled(0) })
	t.Logf("3 nodes: n1 leads with the record %s after the start; writes %q", took.Round(time.Millisecond), c.writes())
	checkStartWrites(t, "start", c.writes(), c.members[0].name)

	// kill -9 of the leader: n2 takes the record, once.
	before := len(c.writes())
	killed := c.members[0].proc.Kill(t)
	pairtest.WaitEvery(t, 100*time.Millisecond, 60*time.Second, "n2 leads with the record after n1's kill", func() bool { return c.settled(1) })
	moved := lastWriteAt(c).Sub(killed)
	t.Logf("3 nodes: kill -9 of the leader n1: the record written to n2 %s after the kill; writes %q", moved.Round(time.Millisecond), c.writes()[before:])
	// Whichever of n2 and n3 times out first is elected; n3 hands
	// leadership to n2 before it writes anything.
	if got := c.writes()[before:]; !slices.Equal(got, []string{c.members[1].name}) {
		t.Errorf("writes after n1's kill: got %q, want one, to n2", got)
	}

	// n1 back: after failback_delay, the record returns to it, once.
	before = len(c.writes())
	restarted := time.Now()
	c.start(t, 0)
	pairtest.WaitEvery(t, 20*time.Millisecond, 90*time.Second, "the record back on n1 after its restart", func() bool { return c.f.Content() == c.members[0].name })
	back := lastWriteAt(c).Sub(restarted)
	pairtest.WaitEvery(t, 100*time.Millisecond, 30*time.Second, "n1 leads again", func() bool { return c.settled(0) })
	t.Logf("3 nodes: n1 restarted: the record back on n1 %s after the restart (failback_delay %s)", back.Round(time.Millisecond), clusterFailback)
	if back < clusterFailback {
		t.Errorf("failback %s after the restart: want at least failback_delay, %s", back, clusterFailback)
	}
	if got := c.writes()[before:]; !slices.Equal(got, []string{c.members[0].name}) {
		t.Errorf("writes after n1's restart: got %q, want one, to n1", got)
	}

	// SIGTERM of the leader: it hands leadership to n2, which moves the
	// record, once.
	before = len(c.writes())
	stopped := c.members[0].proc.Signal(t, syscall.SIGTERM)
	if took, code, ok := c.members[0].proc.WaitExit(10*time.Second, stopped); !ok || code != 0 {
		t.Errorf("n1 after SIGTERM: exited %v after %s with status %d, want 0 within 10 s", ok, took, code)
	}
	pairtest.WaitEvery(t, 20*time.Millisecond, 30*time.Second, "the record on n2 after n1's stop", func() bool { return c.f.Content() == c.members[1].name })
	t.Logf("3 nodes: SIGTERM of the leader n1: the record written to n2 %s after the signal", lastWriteAt(c).Sub(stopped).Round(time.Millisecond))
	pairtest.WaitEvery(t, 100*time.Millisecond, 30*time.Second, "n2 leads", func() bool { return c.settled(1) })
	if got := c.writes()[before:]; !slices.Equal(got, []string{c.members[1].name}) {
		t.Errorf("writes after n1's stop: got %q, want one, to n2", got)
	}
	// What an operator sees of n2, the leader: clooster status, the
	// metrics.
	out, errOut, code := bin.RunCLI(t, t.TempDir(), nil, "status", "-addr", c.members[1].addr)
	if code != 0 || !strings.Contains(out, "cluster  leader n2.example.com (this member)") || !strings.Contains(out, "www.example.com") {
		t.Errorf("clooster status of n2: exit %d, output:\n%s%s\nwant the cluster view with n2 leading", code, out, errOut)
	}
	if v, err := c.members[1].proc.Metric("clooster_cluster_leader"); err != nil || v != 1 {
		t.Errorf("n2's clooster_cluster_leader: got %v, %v, want 1", v, err)
	}
	if c.f.PushesWith("moved here") == 0 {
		t.Errorf("pushes: got %q, want one saying a record moved here", c.f.PushTitles())
	}
}

// TestClusterOfTwoNodesAndAWitness: n1 leads and moves the record; its
// kill -9 moves it to n2 once; the witness never writes, and never leads
// with the record.
func TestClusterOfTwoNodesAndAWitness(t *testing.T) {
	e2eTest(t)
	c := newCluster(t, "node", "node", "witness")
	for i := range c.members {
		c.start(t, i)
	}
	took := pairtest.WaitEvery(t, 100*time.Millisecond, 90*time.Second, "n1 leads with the record", func() bool { return c.settled(0) })
	t.Logf("2 nodes and a witness: n1 leads with the record %s after the start; writes %q", took.Round(time.Millisecond), c.writes())
	checkStartWrites(t, "start", c.writes(), c.members[0].name)

	before := len(c.writes())
	killed := c.members[0].proc.Kill(t)
	pairtest.WaitEvery(t, 20*time.Millisecond, 90*time.Second, "the record on n2 after n1's kill", func() bool { return c.f.Content() == c.members[1].name })
	moved := lastWriteAt(c).Sub(killed)
	pairtest.WaitEvery(t, 100*time.Millisecond, 60*time.Second, "n2 leads", func() bool { return c.settled(1) })
	t.Logf("2 nodes and a witness: kill -9 of the leader n1: the record written to n2 %s after the kill", moved.Round(time.Millisecond))
	if got := c.writes()[before:]; !slices.Equal(got, []string{c.members[1].name}) {
		t.Errorf("writes after n1's kill: got %q, want one, to n2", got)
	}
	w, err := c.members[2].status()
	if err != nil {
		t.Fatalf("the witness's status: %v", err)
	}
	if w.Counters.Writes != 0 || slices.Contains(c.writes(), c.members[2].name) {
		t.Errorf("the witness: got %d writes (record writes %q), want none", w.Counters.Writes, c.writes())
	}
}

// checkStartWrites: the writes at the start end with want, and are at most two
// (another node elected first writes, then hands leadership to want).
func checkStartWrites(t *testing.T, when string, got []string, want string) {
	t.Helper()
	if len(got) == 0 || len(got) > 2 || got[len(got)-1] != want {
		t.Errorf("writes at the %s: got %q, want one or two, the last to %s", when, got, want)
	}
}

// lastWriteAt is when the stand-in took the last write.
func lastWriteAt(c *qcluster) time.Time {
	w := c.f.CF.Writes()
	if len(w) == 0 {
		return time.Time{}
	}
	return w[len(w)-1].At
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
