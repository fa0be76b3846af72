//go:build faults && linux

package faults

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakepb"
	"github.com/clooster/clooster/internal/pairtest"
)

// The cluster's names, ports and timings.
const (
	srv3        = "srv3.example.com"
	witnessName = "witness.example.com"
	clusterPort = 4096
	// lanHeartbeat is the lan preset's heartbeat timeout, the preset every
	// cluster of the suite runs (cluster.preset is left out).
	lanHeartbeat = time.Second
)

// qlimit is the longest a silent leader may take to be replaced, record
// written: a follower stands after one to two heartbeat timeouts, a node
// that is not the best hands over once (about one more election), and the
// write; plus slack for a busy machine.
const qlimit = 2*lanHeartbeat + lanHeartbeat + slack

// shape is a cluster's membership: the roles of its three members in
// priority order (1, 2, 3).
type shape string

const (
	threeNodes  shape = "3 nodes"
	twoAndWitns shape = "2 nodes + witness"
)

func (s shape) roles() [qmembers]string {
	if s == twoAndWitns {
		return [qmembers]string{"node", "node", "witness"}
	}
	return [qmembers]string{"node", "node", "node"}
}

// qnode is one member: a node of the pair suite's kind (its generations,
// its log) with its role.
type qnode struct {
	*node
	idx  int
	role string
}

// cluster is one cluster lab with its three members and its own fakes.
type cluster struct {
	t       testing.TB
	lab     *clab
	shape   shape
	cf      *fakecf.Server
	rid     string
	pb      *fakepb.Server
	m       [qmembers]*qnode
	secrets []pairtest.Secret
	fb      time.Duration // failback_delay
	// The counts of writes and pushes once the start was over: a
	// scenario's figures are what comes after.
	baseWrites, basePushes int
}

// newCluster builds a lab, serves the fakes on its three root-side
// addresses, writes the members' files and starts them. failback 0 leaves
// failback_delay at its default.
func newCluster(t testing.TB, sh shape, failback time.Duration) *cluster {
	t.Helper()
	c := &cluster{t: t, lab: newClusterLab(t), shape: sh}
	f := pairtest.NewFakes(t, c.lab.host[:]...) // the record, a CNAME, holds srv1
	c.cf, c.rid, c.pb = f.CF, f.RecordID, f.PB
	key := pairtest.NewKey()
	c.secrets = []pairtest.Secret{{Name: "key", Value: key}, {Name: "cloudflare.token", Value: f.CFToken}, {Name: "pushbullet.key", Value: f.PBKey}}

	roles := sh.roles()
	names := [qmembers]string{srv1, srv2, srv3}
	if roles[2] == "witness" {
		names[2] = witnessName
	}
	var nodes []any
	for i := range qmembers {
		nodes = append(nodes, map[string]any{"name": names[i], "address": net.JoinHostPort(clusterAddr(i), fmt.Sprint(clusterPort)),
			"priority": i + 1, "role": roles[i]})
	}
	for i := range qmembers {
		status := net.JoinHostPort(c.lab.api[i], fmt.Sprint(statusPort))
		o := pairtest.Obj{
			{Key: "this_server", Val: names[i]},
			{Key: "key", Val: key},
			{Key: "cluster", Val: pairtest.Obj{{Key: "nodes", Val: nodes}}},
			// Kept across the member's restarts, as on a host.
			{Key: "state_dir", Val: filepath.Join(t.TempDir(), "state")},
		}
		if failback > 0 {
			o = append(o, pairtest.Member{Key: "failback_delay", Val: failback.String()})
		}
		o = append(o, pairtest.Member{Key: "status", Val: pairtest.Obj{{Key: "address", Val: status}}})
		if roles[i] == "node" {
			o = append(o, pairtest.Member{Key: "cloudflare", Val: pairtest.Obj{
				{Key: "token", Val: f.CFToken}, {Key: "zone", Val: pairtest.Zone}, {Key: "record", Val: pairtest.Record},
				{Key: "preferred_value", Val: srv1}, {Key: "api_url", Val: f.URL(c.lab.host[i]) + "/client/v4"},
			}})
		}
		o = append(o,
			pairtest.Member{Key: "pushbullet", Val: pairtest.Obj{{Key: "key", Val: f.PBKey}, {Key: "api_url", Val: f.URL(c.lab.host[i]) + "/v2"}}},
			pairtest.Member{Key: "log", Val: pairtest.Obj{{Key: "level", Val: "info"}, {Key: "format", Val: "text"}}})
		path := filepath.Join(t.TempDir(), "clooster.json")
		writeText(t, path, pairtest.RelaxedJSON(fmt.Sprintf("clooster: %s, %s %d of a fault-suite cluster", names[i], roles[i], i+1), o))
		c.m[i] = &qnode{idx: i, role: roles[i], node: &node{t: t, label: short(names[i]), name: names[i], ns: c.lab.ns[i],
			spec: pairtest.Node{Status: status}, config: path, log: &nodeLog{}}}
	}
	c.fb = failback
	if c.fb == 0 {
		c.fb = 30 * time.Second // config's default
	}
	t.Cleanup(func() {
		if t.Failed() || *flagLogs {
			c.dumpLogs()
		}
	})
	for _, m := range c.m {
		m.start()
	}
	return c
}

// settle waits until srv1 leads with its quorum, every member follows it
// and the record holds srv1, then until no push has come for 2 s; the
// writes and pushes so far are the start's, not the scenario's.
func (c *cluster) settle() {
	c.t.Helper()
	if !pairtest.Within(100*time.Millisecond, 60*time.Second, func() bool { return c.leader() == 0 && c.content() == srv1 }) {
		c.t.Fatalf("srv1 did not lead with the record within 60 s of the start; leader %q", c.leaderName())
	}
	quietPushes(c.pb, 2*time.Second, 15*time.Second)
	c.baseWrites, c.basePushes = len(c.cf.Writes()), len(c.pb.Pushes())
	for _, m := range c.m {
		for _, s := range m.crashes(time.Time{}) {
			c.t.Fatalf("the start: %s", s)
		}
	}
}

// qstatus is what the suite reads of a member's GET /status.
type qstatus struct {
	State, Leader string
	Term          uint64
	Quorum        bool
	Counters      struct {
		Writes        uint64
		LeaderChanges uint64 `json:"leader_changes"`
	}
}

func (m *qnode) status() (qstatus, error) {
	var st qstatus
	body, err := m.cur().Get("/status")
	if err == nil {
		err = json.Unmarshal([]byte(body), &st)
	}
	return st, err
}

func (m *qnode) running() bool { return !m.cur().Exited() }

// leader is the index of the one running member that leads with its
// quorum and that every running, reachable member names as leader; -1 if
// there is none, or not only one. A member stopped (SIGSTOP) does not
// answer and is left out.
func (c *cluster) leader() int {
	lead := -1
	var sts []qstatus
	for i, m := range c.m {
		if !m.running() {
			continue
		}
		st, err := m.status()
		if err != nil {
			continue
		}
		sts = append(sts, st)
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
	for _, st := range sts {
		if st.Leader != c.m[lead].name {
			return -1
		}
	}
	return lead
}

func (c *cluster) leaderName() string {
	if i := c.leader(); i >= 0 {
		return short(c.m[i].name)
	}
	return "none"
}

func (c *cluster) content() string { return c.cf.Record(c.rid).Content }

// writes are the writes since the start was over.
func (c *cluster) writes() []fakecf.Write { return c.cf.Writes()[c.baseWrites:] }

func (c *cluster) writeContents() []string {
	var out []string
	for _, w := range c.writes() {
		out = append(out, w.Content)
	}
	return out
}

// pushes are the pushes since the start was over.
func (c *cluster) pushes() []fakepb.Push { return c.pb.Pushes()[c.basePushes:] }

// pushesFrom counts the pushes since the start from member m (its
// this_server opens the title) whose title contains s.
func (c *cluster) pushesFrom(m *qnode, s string) int {
	n := 0
	for _, p := range c.pushes() {
		if sender(p.Title) == m.name && strings.Contains(p.Title, s) {
			n++
		}
	}
	return n
}

// waitWrite waits up to limit for a write of content at or after since.
func (c *cluster) waitWrite(content string, since time.Time, limit time.Duration) (at time.Time, ok bool) {
	ok = pairtest.Within(10*time.Millisecond, limit, func() bool {
		for _, w := range c.cf.Writes() {
			if w.Content == content && !w.At.Before(since) {
				at = w.At
				return true
			}
		}
		return false
	})
	return at, ok
}

// waitLeader waits up to limit until member i leads and every running
// member follows it.
func (c *cluster) waitLeader(i int, limit time.Duration) (time.Time, bool) {
	if !pairtest.Within(50*time.Millisecond, limit, func() bool { return c.leader() == i }) {
		return time.Time{}, false
	}
	return time.Now(), true
}

// moved lists when member m logged "record moved" at or after since: the
// writes it made, told apart from the others' by its own log, since the
// fake's writes carry no writer.
func (m *qnode) moved(since time.Time) []time.Time { return m.logged("record moved", since) }

// logged lists when member m logged the message msg at or after since.
func (m *qnode) logged(msg string, since time.Time) []time.Time {
	var out []time.Time
	for _, ln := range m.log.snapshot() {
		if !strings.Contains(ln.text, "msg=\""+msg+"\"") {
			continue
		}
		if at, ok := logTime(ln.text); ok && !at.Before(since) {
			out = append(out, at)
		}
	}
	return out
}

// loggedCount counts member m's log lines at or after since that contain
// s anywhere.
func (m *qnode) loggedCount(s string, since time.Time) int {
	n := 0
	for _, ln := range m.log.snapshot() {
		if at, ok := logTime(ln.text); ok && !at.Before(since) && strings.Contains(ln.text, s) {
			n++
		}
	}
	return n
}

// quietPushes waits until no push has arrived for d, at most limit.
func quietPushes(pb *fakepb.Server, d, limit time.Duration) {
	deadline := time.Now().Add(limit)
	n, since := len(pb.Pushes()), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if k := len(pb.Pushes()); k != n {
			n, since = k, time.Now()
		} else if time.Since(since) >= d {
			return
		}
	}
}

func (c *cluster) dumpLogs() {
	var b strings.Builder
	fmt.Fprintf(&b, "record writes (%d at the start):\n", c.baseWrites)
	for _, w := range c.cf.Writes() {
		fmt.Fprintf(&b, "    %s %s\n", w.At.Format("15:04:05.000"), w.Content)
	}
	fmt.Fprintf(&b, "pushes (%d at the start):\n", c.basePushes)
	for _, p := range c.pb.Pushes() {
		fmt.Fprintf(&b, "    %s %s\n", p.At.Format("15:04:05.000"), p.Title)
	}
	for _, m := range c.m {
		fmt.Fprintf(&b, "%s (%s) log:\n", m.label, m.role)
		m.log.tail(&b, 60)
	}
	c.t.Log(b.String())
}

func writeText(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
