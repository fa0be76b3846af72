package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/quorum"
)

// clusterFile is a valid member's file: a, b nodes and w a witness, one A
// record; extra's keys are added to (or replace) the base's.
func clusterFile(t *testing.T, self string, extra map[string]any) *config.Config {
	t.Helper()
	m := map[string]any{
		"this_server": self,
		"key":         "0123456789abcdef0123456789abcdef",
		"cluster": map[string]any{"nodes": []any{
			map[string]any{"name": "a.example.com", "address": "127.0.0.1:4101"},
			map[string]any{"name": "b.example.com", "address": "127.0.0.1:4102"},
			map[string]any{"name": "w.example.com", "address": "127.0.0.1:4103", "role": "witness"},
		}},
		"state_dir":      "state",
		"failback_delay": "7s",
	}
	if self != "w.example.com" {
		m["cloudflare"] = map[string]any{"token": "cf-token-for-tests", "zone": "example.com", "api_url": "http://127.0.0.1:1/client/v4"}
		m["records"] = []any{map[string]any{"name": "www.example.com", "type": "A",
			"values": map[string]any{"a.example.com": "192.0.2.1", "b.example.com": "192.0.2.2"}}}
	}
	maps.Copy(m, extra)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "clooster.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// storesOf are stand-in stores for every record of cfg, by recordKey.
func storesOf(cfg *config.Config) map[string]failover.RecordStore {
	out := map[string]failover.RecordStore{}
	for _, r := range cfg.RecordSet() {
		out[recordKey(r)] = nopStore{}
	}
	return out
}

func TestNodeConfig(t *testing.T) {
	healthy := quorum.HealthFunc(func() (bool, time.Time) { return true, time.Time{} })
	tests := []struct {
		name        string
		cfg         func(t *testing.T) *config.Config
		stores      func(cfg *config.Config) map[string]failover.RecordStore
		wantRecords []quorum.Record // Store left out
		wantHB      time.Duration
		wantErr     string
	}{
		{name: "a node: its record, a value per node", cfg: func(t *testing.T) *config.Config { return clusterFile(t, "a.example.com", nil) },
			stores: storesOf, wantHB: time.Second,
			wantRecords: []quorum.Record{{Name: "www.example.com A", Values: map[string]string{"a.example.com": "192.0.2.1", "b.example.com": "192.0.2.2"}}}},
		{name: "the wan preset", cfg: func(t *testing.T) *config.Config {
			return clusterFile(t, "b.example.com", map[string]any{"cluster": map[string]any{"preset": "wan", "nodes": []any{
				map[string]any{"name": "a.example.com", "address": "127.0.0.1:4101"},
				map[string]any{"name": "b.example.com", "address": "127.0.0.1:4102"},
				map[string]any{"name": "w.example.com", "address": "127.0.0.1:4103", "role": "witness"},
			}}})
		}, stores: storesOf, wantHB: 3 * time.Second,
			wantRecords: []quorum.Record{{Name: "www.example.com A", Values: map[string]string{"a.example.com": "192.0.2.1", "b.example.com": "192.0.2.2"}}}},
		{name: "a witness: no records", cfg: func(t *testing.T) *config.Config { return clusterFile(t, "w.example.com", nil) },
			stores: func(*config.Config) map[string]failover.RecordStore { return nil }, wantHB: time.Second},
		{name: "a record without its store", cfg: func(t *testing.T) *config.Config { return clusterFile(t, "a.example.com", nil) },
			stores:  func(*config.Config) map[string]failover.RecordStore { return nil },
			wantErr: "records[0]: www.example.com A: no store for the record"},
		{name: "an unknown preset", cfg: func(t *testing.T) *config.Config {
			cfg := clusterFile(t, "a.example.com", nil)
			cfg.Cluster.Preset = "fast"
			return cfg
		}, stores: storesOf, wantErr: `cluster.preset: unknown "fast"`},
		{name: "pair mode", cfg: func(t *testing.T) *config.Config {
			cfg := clusterFile(t, "a.example.com", nil)
			cfg.Cluster = nil
			return cfg
		}, stores: storesOf, wantErr: "cluster: no cluster block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(t)
			got, err := nodeConfig(cfg, tt.stores(cfg), healthy)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Self != cfg.ThisServer || len(got.Members) != 3 || got.Members[2].Role != quorum.RoleWitness {
				t.Errorf("members: got self %q, %+v", got.Self, got.Members)
			}
			if got.Timings.HeartbeatTimeout != tt.wantHB || got.FailbackDelay != 7*time.Second || got.APITimeout != got.Timings.API {
				t.Errorf("timings: got heartbeat %s, failback %s, api timeout %s; want %s, 7s, %s",
					got.Timings.HeartbeatTimeout, got.FailbackDelay, got.APITimeout, tt.wantHB, got.Timings.API)
			}
			if got.Health == nil {
				t.Error("no health")
			}
			if len(got.Records) != len(tt.wantRecords) {
				t.Fatalf("records: got %d, want %d", len(got.Records), len(tt.wantRecords))
			}
			for i, r := range got.Records {
				w := tt.wantRecords[i]
				if r.Name != w.Name || !maps.Equal(r.Values, w.Values) || r.Store == nil {
					t.Errorf("record %d: got %s %v (store %v), want %s %v", i, r.Name, r.Values, r.Store, w.Name, w.Values)
				}
			}
		})
	}
}

func TestMemberHealth(t *testing.T) {
	if ok, _ := memberHealth(nil).Healthy(); ok {
		t.Error("a witness: got healthy, want never")
	}
}

func TestLockStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	release, err := lockStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockStateDir(dir)
	if err == nil || !strings.Contains(err.Error(), "state_dir "+dir) || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second lock: got %v, want an error naming state_dir and the lock", err)
	}
	release()
	again, err := lockStateDir(dir)
	if err != nil {
		t.Errorf("lock after release: %v", err)
	} else {
		again()
	}

	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o600)
	if _, err := lockStateDir(filepath.Join(file, "state")); err == nil || !strings.Contains(err.Error(), "state_dir "+file) {
		t.Errorf("state_dir under a file: got %v, want an error naming state_dir", err)
	}
}

// TestRunClusterStateDirTaken: a second daemon on a member's state_dir
// stops at once, saying which.
func TestRunClusterStateDirTaken(t *testing.T) {
	cfg := clusterFile(t, "a.example.com", map[string]any{"status": map[string]any{"address": ""}})
	release, err := lockStateDir(cfg.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	err = runCluster(t.Context(), cfg, &bytes.Buffer{}, source{})
	if err == nil || !strings.Contains(err.Error(), "state_dir "+cfg.StateDir()) {
		t.Errorf("got %v, want an error naming state_dir", err)
	}
}

type notice struct{ event, title, body string }

type hubRec struct {
	mu  sync.Mutex
	got []notice
}

func (h *hubRec) Notify(events []string, title, body string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, notice{strings.Join(events, ","), title, body})
}

func (h *hubRec) notices() []notice {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

type hookRec struct{ got []map[string]string }

func (h *hookRec) Fire(event string, env map[string]string) { h.got = append(h.got, env) }

func TestClusterAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := clusterFile(t, "a.example.com", map[string]any{"records": []any{
			map[string]any{"name": "www.example.com", "type": "A", "values": map[string]any{"a.example.com": "192.0.2.1", "b.example.com": "192.0.2.2"}},
			map[string]any{"name": "www.example.com", "type": "AAAA", "values": map[string]any{"a.example.com": "2001:db8::1", "b.example.com": "2001:db8::2"}},
		}})
		hub, hk := &hubRec{}, &hookRec{}
		a := newClusterAlerts(cfg, hub, hk, func(s string) string { return strings.ReplaceAll(s, "sekrit", "[redacted]") })

		a.Event(quorum.Event{Kind: quorum.EventLeaderChanged, Leader: "b.example.com", Term: 2})
		a.Event(quorum.Event{Kind: quorum.EventLeaderChanged, Leader: "", Term: 3})
		a.Event(quorum.Event{Kind: quorum.EventLeaderChanged, Leader: "a.example.com", Term: 3})
		a.Event(quorum.Event{Kind: quorum.EventRecordMoved, Record: "www.example.com A", Content: "192.0.2.1", Term: 3})
		a.Event(quorum.Event{Kind: quorum.EventRecordMoved, Record: "www.example.com AAAA", Content: "2001:db8::1", Term: 3})
		if got := hub.notices(); len(got) != 0 {
			t.Fatalf("alerts before the records moved are gathered: got %+v, want none yet", got)
		}
		time.Sleep(movedWait)
		synctest.Wait()
		a.Event(quorum.Event{Kind: quorum.EventWriteFailed, Record: "www.example.com A", Content: "192.0.2.1", Term: 3, Err: errors.New("token sekrit refused")})
		a.Event(quorum.Event{Kind: quorum.EventNoEligibleNode, Term: 3})
		a.Event(quorum.Event{Kind: quorum.EventQuorumLost, Term: 3, Voters: 2})
		a.Event(quorum.Event{Kind: quorum.EventLeaderChanged, Leader: "", Term: 3})
		a.Event(quorum.Event{Kind: quorum.EventQuorumRegained, Term: 4})
		wit := quorum.Member{Name: "w.example.com", Address: "127.0.0.1:4103", Priority: 2, Role: quorum.RoleWitness}
		b := quorum.Member{Name: "b.example.com", Address: "127.0.0.1:4102", Priority: 1, Role: quorum.RoleNode}
		a.Event(quorum.Event{Kind: quorum.EventMemberLost, Term: 4, Member: wit, Answering: 2, Voters: 3})
		a.Event(quorum.Event{Kind: quorum.EventMemberBack, Term: 4, Member: wit, Answering: 3, Voters: 3})
		a.Event(quorum.Event{Kind: quorum.EventHandedOver, Term: 4, Member: b})

		want := []struct{ event, title, inBody string }{
			{"down", "[a.example.com] 2 records moved here", "Before, b.example.com led."},
			{"failed", "[a.example.com] www.example.com A not moved", "token [redacted] refused"},
			{"withheld", "[a.example.com] No node can take over", "What to do"},
			{"quorum", "[a.example.com] Quorum lost", "no longer hears from a majority of the cluster's 2 voters (term 3): it writes no DNS"},
			{"quorum", "[a.example.com] Quorum regained", "no leader yet"},
			{"quorum", "[a.example.com] witness w.example.com not answering", "2 of the 3 voters answer. One more member lost and no member can lead"},
			{"quorum", "[a.example.com] witness w.example.com answers again", "The cluster can lose 1 member more"},
			{"health", "[a.example.com] Service unhealthy: leadership handed to b.example.com", "Leadership comes back to a.example.com once"},
		}
		got := hub.notices()
		if len(got) != len(want) {
			t.Fatalf("alerts: got %d %+v, want %d", len(got), got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.event != w.event || g.title != w.title || !strings.Contains(g.body, w.inBody) {
				t.Errorf("alert %d: got %s %q %q, want %s %q with %q", i, g.event, g.title, g.body, w.event, w.title, w.inBody)
			}
		}
		if !strings.Contains(got[0].body, "www.example.com AAAA → 2001:db8::1") {
			t.Errorf("moved alert: got %q, want both records", got[0].body)
		}

		if len(hk.got) != 2 {
			t.Fatalf("hooks: got %d %v, want on_active then on_standby", len(hk.got), hk.got)
		}
		on, off := hk.got[0], hk.got[1]
		if on["CLOOSTER_EVENT"] != "on_active" || on["CLOOSTER_PEER"] != "b.example.com" || on["CLOOSTER_TERM"] != "3" ||
			on["CLOOSTER_CONTENT"] != "192.0.2.1" || on["CLOOSTER_RECORDS"] != "www.example.com A 192.0.2.1\nwww.example.com AAAA 2001:db8::1" {
			t.Errorf("on_active: got %v", on)
		}
		if off["CLOOSTER_EVENT"] != "on_standby" || off["CLOOSTER_NODE"] != "a.example.com" {
			t.Errorf("on_standby: got %v", off)
		}
	})
}

// A witness never runs on_active: it never writes.
func TestClusterAlertsWitnessRunsNoHook(t *testing.T) {
	cfg := clusterFile(t, "w.example.com", nil)
	hub, hk := &hubRec{}, &hookRec{}
	a := newClusterAlerts(cfg, hub, hk, nil)
	a.Event(quorum.Event{Kind: quorum.EventLeaderChanged, Leader: "w.example.com", Term: 2})
	a.Event(quorum.Event{Kind: quorum.EventNoEligibleNode, Term: 2})
	if len(hk.got) != 0 {
		t.Errorf("hooks: got %v, want none", hk.got)
	}
	if len(hub.got) != 1 || !strings.Contains(hub.got[0].body, "it is the witness") {
		t.Errorf("alerts: got %+v, want one saying the witness leads", hub.got)
	}
}

func testStatus() quorum.Status {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return quorum.Status{
		Self: "a.example.com", State: "Leader", Leader: "a.example.com", Term: 7, Quorum: true, Voters: 3,
		Members: []quorum.MemberView{
			{Member: quorum.Member{Name: "a.example.com", Address: "127.0.0.1:4101", Priority: 0, Role: quorum.RoleNode}, Voter: true, Reachable: true, Healthy: true, LastContact: at},
			{Member: quorum.Member{Name: "b.example.com", Address: "127.0.0.1:4102", Priority: 1, Role: quorum.RoleNode}, Voter: true, Reachable: true, Healthy: false, LastContact: at},
			{Member: quorum.Member{Name: "w.example.com", Address: "127.0.0.1:4103", Priority: 2, Role: quorum.RoleWitness}, Voter: true},
		},
		Records:       []quorum.RecordStatus{{Name: "www.example.com A", Content: "192.0.2.1", Holder: "a.example.com", At: at, Written: true}},
		LeaderChanges: 3, Writes: 2, FencedWrites: 1,
	}
}

func TestClusterStatusJSONAndPrint(t *testing.T) {
	self := quorum.Member{Name: "a.example.com", Role: quorum.RoleNode}
	yes := true
	st := makeClusterStatus(testStatus(), self, clusterHealth{Healthy: &yes, Reason: "no health check configured: always healthy"})
	st.Version, st.Started = "v1.2.3", time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mode":"cluster"`, `"node":"a.example.com"`, `"role":"node"`, `"leader":"a.example.com"`, `"term":7`,
		`"quorum":true`, `"voters":3`, `"majority":2`, `"last_contact":null`, `"holder":"a.example.com"`, `"fenced_writes":1`, `"version":"v1.2.3"`,
		`"name":"b.example.com","role":"node","priority":1,"address":"127.0.0.1:4102","voter":true,"reachable":true,"healthy":false,`,
		// A witness has no health and no priority that matters.
		`"name":"w.example.com","role":"witness","priority":null,"address":"127.0.0.1:4103","voter":true,"reachable":false,"healthy":null,`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/status: got %s, want %s in it", b, want)
		}
	}
	var back clusterStatus
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printClusterStatus(&out, back, time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC))
	for _, want := range []string{
		"node     a.example.com (node, priority 0), clooster v1.2.3, up 1h0m5s",
		"cluster  leader a.example.com (this member), term 7, quorum yes (a majority: 2 of 3 voters), leader",
		"b.example.com    node     1         127.0.0.1:4102  yes    yes        NO       5s ago",
		"w.example.com    witness  -         127.0.0.1:4103  yes    NO         n/a      never",
		"records  www.example.com A -> 192.0.2.1 (a.example.com), written 5s ago",
		"counters 3 leader changes, 2 writes (1 fenced, 0 aborted)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("clooster status: got\n%s\nwant a line with %q", out.String(), want)
		}
	}
	for _, not := range []string{"last read or wrote them", "removed from the cluster", "not in this file"} {
		if strings.Contains(out.String(), not) {
			t.Errorf("clooster status: got\n%s\nwant no %q", out.String(), not)
		}
	}
	// A follower's records are what it knew when it led.
	back.Leader = "b.example.com"
	out.Reset()
	printClusterStatus(&out, back, time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC))
	if !strings.Contains(out.String(), "(as this member last read or wrote them, when it led: the leader's status has them now)") {
		t.Errorf("a follower's records: got\n%s\nwant them marked as of when it led", out.String())
	}
	if got, want := clusterStatusLine(testStatus()), "leader a.example.com, term 7, quorum yes"; got != want {
		t.Errorf("systemd status: got %q, want %q", got, want)
	}
	if got, want := clusterStatusLine(quorum.Status{Term: 2}), "leader none, term 2, quorum no"; got != want {
		t.Errorf("systemd status: got %q, want %q", got, want)
	}
}

// The members as Raft's configuration has them: b, still in the file,
// was removed; d, added by the command, is not in the file. The quorum's
// figures are the configuration's. Its witness shows no health.
func TestClusterStatusMembership(t *testing.T) {
	st := testStatus()
	st.Members[1].Voter = false
	st.Members = append(st.Members, quorum.MemberView{Member: quorum.Member{Name: "d.example.com", Address: "127.0.0.1:4104"}, Voter: true, Unlisted: true})
	st.Voters = 3 // a, w, d
	self := quorum.Member{Name: "a.example.com", Role: quorum.RoleNode}
	yes := true
	cs := makeClusterStatus(st, self, clusterHealth{Healthy: &yes, Reason: "passing"})
	b, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"voters":3,"majority":2,`,
		`"name":"b.example.com","role":"node","priority":1,"address":"127.0.0.1:4102","voter":false,"reachable":true,`,
		`"name":"d.example.com","role":"","priority":null,"address":"127.0.0.1:4104","voter":true,"unlisted":true,"reachable":false,"healthy":null,`,
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/status: got %s, want %s in it", b, want)
		}
	}
	var back clusterStatus
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)
	back.Started = now
	var out bytes.Buffer
	printClusterStatus(&out, back, now)
	for _, want := range []string{
		"quorum yes (a majority: 2 of 3 voters), leader",
		"b.example.com    node     1         127.0.0.1:4102  NO     yes        NO       5s ago",
		"d.example.com    ?        ?         127.0.0.1:4104  yes    ?          ?        (not in this file: not asked)",
		"\n         b.example.com: removed from the cluster (still in this file: take it out of cluster.nodes)\n",
		"\n         d.example.com: in the cluster, not in this file (added with clooster cluster add)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("clooster status: got\n%s\nwant %q", out.String(), want)
		}
	}

	// Before Raft runs, nothing is known of the configuration.
	st.Voters = 0
	b, _ = json.Marshal(makeClusterStatus(st, self, clusterHealth{Healthy: &yes}))
	if !bytes.Contains(b, []byte(`"voters":0,"majority":0,`)) || !bytes.Contains(b, []byte(`"address":"127.0.0.1:4102","voter":null,`)) {
		t.Errorf("/status before Raft runs: got %s, want 0 voters, voter null", b)
	}

	// The witness's own status: no health, no priority.
	st = testStatus()
	st.Self, st.Leader, st.State, st.Members[2].Reachable = "w.example.com", "a.example.com", "Follower", true
	m := &member{self: quorum.Member{Name: "w.example.com", Role: quorum.RoleWitness}}
	cs = makeClusterStatus(st, m.self, m.health())
	cs.Started = now
	b, _ = json.Marshal(cs)
	if !bytes.Contains(b, []byte(`"health":{"healthy":null,"reason":"n/a: a witness serves no website`)) {
		t.Errorf("a witness's /status: got %s, want its health null", b)
	}
	out.Reset()
	printClusterStatus(&out, cs, now)
	for _, want := range []string{
		"node     w.example.com (witness), clooster",
		"w.example.com    witness  -         127.0.0.1:4103  yes    yes        n/a      (this member)",
		"\nhealth   n/a: a witness serves no website and runs no health check",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("a witness's clooster status: got\n%s\nwant %q", out.String(), want)
		}
	}
	if strings.Contains(out.String(), "NOT HEALTHY") {
		t.Errorf("a witness's clooster status: got\n%s\nwant no NOT HEALTHY", out.String())
	}
}

func TestClusterMetrics(t *testing.T) {
	st := testStatus()
	var out bytes.Buffer
	cm := &clusterMetrics{status: func() quorum.Status { return st }, set: metrics.NewSet()}
	cm.WritePrometheus(&out)
	for _, want := range []string{
		"clooster_cluster_term 7", "clooster_cluster_leader 1", "clooster_cluster_quorum 1",
		"clooster_cluster_leader_changes_total 3", "clooster_cluster_writes_total 2",
		"clooster_cluster_fenced_writes_total 1", "clooster_cluster_aborted_writes_total 0",
		`clooster_cluster_member_reachable{member="b.example.com"} 1`, `clooster_cluster_member_healthy{member="b.example.com"} 0`,
		`clooster_cluster_member_reachable{member="w.example.com"} 0`,
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("metrics: got\n%s\nwant %q", out.String(), want)
		}
	}
	// A witness checks no service: it has no health series.
	if strings.Contains(out.String(), `clooster_cluster_member_healthy{member="w.example.com"}`) {
		t.Errorf("metrics: got\n%s\nwant no health of the witness", out.String())
	}
	// The same member once it follows: of the others it knows nothing,
	// and says nothing (not 0).
	st.Leader = "b.example.com"
	out.Reset()
	cm.WritePrometheus(&out)
	if strings.Contains(out.String(), `member="b.example.com"`) || strings.Contains(out.String(), `member="w.example.com"`) {
		t.Errorf("a follower's metrics name other members:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `clooster_cluster_member_reachable{member="a.example.com"} 1`+"\n") {
		t.Errorf("a follower's metrics leave itself out:\n%s", out.String())
	}
}

// The status listener: /healthz open, the rest behind status.token, the
// page for people at /.
func TestClusterHandlerToken(t *testing.T) {
	m := &member{}
	token := "token-for-the-tests"
	m.token.Store(&token)
	api := http.NewServeMux()
	api.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	api.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	h := m.page(func() quorum.Status {
		return quorum.Status{Self: "a.example.com", Leader: "a.example.com", Term: 3, Quorum: true}
	}, api)
	tests := []struct {
		name, path, auth string
		want             int
	}{
		{"healthz without token", "/healthz", "", 200},
		{"status without token", "/status", "", 401},
		{"status with a wrong token", "/status", "Bearer nope", 401},
		{"status with the token", "/status", "Bearer " + token, 200},
		{"the page", "/", "Bearer " + token, 200},
		{"the page without the token", "/", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("GET %s: got %d, want %d", tt.path, rec.Code, tt.want)
			}
		})
	}
}

// A reload in quorum mode applies the log level, the channels, the health
// check, the hooks and the token live; the timings and the records wait
// for a restart.
func TestClusterReloadSplit(t *testing.T) {
	running := clusterFile(t, "a.example.com", nil)
	next := clusterFile(t, "a.example.com", map[string]any{
		"log":            map[string]any{"level": "debug"},
		"failback_delay": "1m",
		"notify":         []any{"ntfy://ntfy.example.com/topic"},
		"health":         map[string]any{"tcp": "127.0.0.1:80"},
		"hooks":          map[string]any{"on_active": "true"},
		"status":         map[string]any{"token": "token-for-the-tests"},
		"records": []any{map[string]any{"name": "www.example.com", "type": "A",
			"values": map[string]any{"a.example.com": "192.0.2.9", "b.example.com": "192.0.2.2"}}},
	})
	got := clusterApplied(running, next)
	if got.Log.Level != "debug" || len(got.Notify) != 1 || got.Health.TCP != "127.0.0.1:80" || got.Hooks.OnActive != "true" || got.Status.Token != "token-for-the-tests" {
		t.Errorf("applied: got level %q, notify %v, health %+v, hooks %+v, token set %v; want the new ones",
			got.Log.Level, got.Notify, got.Health, got.Hooks, got.Status.Token != "")
	}
	if got.FailbackDelay != running.FailbackDelay || got.Records[0].Values["a.example.com"] != "192.0.2.1" {
		t.Errorf("applied: got failback %s, records %v; want the running ones", got.FailbackDelay, got.Records)
	}
	pending := clusterPending(got, next)
	for _, key := range []string{"failback_delay", "records"} {
		if !slices.ContainsFunc(pending, func(p string) bool { return strings.HasPrefix(p, key) }) {
			t.Errorf("pending: got %v, want %s in it", pending, key)
		}
	}
	if slices.ContainsFunc(pending, func(p string) bool { return strings.HasPrefix(p, "log.") || strings.HasPrefix(p, "health.") }) {
		t.Errorf("pending: got %v, want nothing applied live", pending)
	}
}

// Raft's complaint about one peer, at every heartbeat while it is down, is
// logged once per 30 s, with the count of those left out; another peer's
// is its own.
func TestRaftLogRepeats(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	w := &raftLog{log: slog.New(slog.NewTextHandler(&buf, nil)), now: func() time.Time { return at }}
	line := func(peer string, backoff int) string {
		return fmt.Sprintf("2025-03-01T12:00:00.000Z [ERROR] raft: failed to heartbeat to: peer=\"{Voter %s 192.0.2.2:4096}\" backoff time=%dms error=\"dial tcp: connection refused\"\n", peer, backoff)
	}
	for i := range 20 {
		w.Write([]byte(line("n2", 10*i)))
		at = at.Add(time.Second)
	}
	w.Write([]byte(line("n3", 10)))
	at = at.Add(15 * time.Second)
	w.Write([]byte(line("n2", 500)))
	got := buf.String()
	if n := strings.Count(got, "peer=\\\"{Voter n2"); n != 2 {
		t.Errorf("n2's lines: got %d, want 2 (the first, and one 35 s later):\n%s", n, got)
	}
	if !strings.Contains(got, "suppressed=19") {
		t.Errorf("want the second n2 line to count the 19 left out:\n%s", got)
	}
	if n := strings.Count(got, "Voter n3"); n != 1 {
		t.Errorf("n3's line: got %d, want 1:\n%s", n, got)
	}
}

// The first leader since the member started says so, not that the one
// before is unknown.
func TestClusterAlertsFirstLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := &hubRec{}
		a := newClusterAlerts(clusterFile(t, "a.example.com", nil), hub, nil, nil)
		a.Event(quorum.Event{Kind: quorum.EventLeaderChanged, Leader: "a.example.com", Term: 1})
		a.Event(quorum.Event{Kind: quorum.EventRecordMoved, Record: "www.example.com A", Content: "192.0.2.1", Term: 1})
		time.Sleep(movedWait)
		synctest.Wait()
		got := hub.notices()
		if len(got) != 1 || !strings.HasSuffix(got[0].body, "No other member has led since this one started.") {
			t.Errorf("first leader: got %+v, want one alert saying no other member led since the start", got)
		}
	})
}

// A member that refuses this member's key is said once, and again only
// after keyRefusedEvery.
func TestClusterAlertsKeyRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := &hubRec{}
		a := newClusterAlerts(clusterFile(t, "a.example.com", nil), hub, nil, nil)
		b := quorum.Member{Name: "b.example.com", Address: "127.0.0.1:4102", Priority: 1, Role: quorum.RoleNode}
		w := quorum.Member{Name: "w.example.com", Address: "127.0.0.1:4103", Priority: 2, Role: quorum.RoleWitness}
		for range 5 {
			a.keyRefused(b)
			a.keyRefused(w)
			time.Sleep(time.Minute)
		}
		got := hub.notices()
		if len(got) != 2 || got[0].event != "mismatch" || got[0].title != "[a.example.com] 'b.example.com' answers, but our keys differ" ||
			!strings.Contains(got[0].body, "b.example.com refused the proof of the shared key that a.example.com sent it at 127.0.0.1:4102") ||
			got[1].title != "[a.example.com] 'w.example.com' answers, but our keys differ" {
			t.Fatalf("five minutes of refusals by two members: got %+v, want one alert for each", got)
		}
		time.Sleep(keyRefusedEvery)
		a.keyRefused(b)
		if got := hub.notices(); len(got) != 3 {
			t.Errorf("an hour later: got %d alerts, want the refusal said again", len(got))
		}
	})
}
