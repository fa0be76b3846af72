package main

// This file is what a quorum member shows of itself: /status, /metrics and
// /healthz on the status listener, the systemd status line, and the
// cluster view of `clooster status`.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/internal/logtext"
	"github.com/clooster/clooster/internal/series"
	"github.com/clooster/clooster/internal/statuspage"
	"github.com/clooster/clooster/quorum"
	"github.com/clooster/clooster/watchdog"
)

// modeCluster is /status's mode in quorum mode.
const modeCluster = "cluster"

// clusterStatus is GET /status of a quorum member.
type clusterStatus struct {
	Mode     string                 `json:"mode"` // modeCluster
	Node     string                 `json:"node"`
	Role     quorum.Role            `json:"role"`
	State    string                 `json:"state"`  // Raft's: Follower, Candidate, Leader, Shutdown; "" before Raft runs
	Leader   string                 `json:"leader"` // "" if none is known
	Term     uint64                 `json:"term"`
	Quorum   bool                   `json:"quorum"`
	Voters   int                    `json:"voters"`   // in Raft's latest configuration; 0 before Raft runs
	Majority int                    `json:"majority"` // the voters that make a quorum; 0 before Raft runs
	Health   clusterHealth          `json:"health"`
	Members  []clusterMember        `json:"members"`
	Records  []clusterRecord        `json:"records"`
	Counters clusterCounters        `json:"counters"`
	Version  string                 `json:"version"`
	Started  time.Time              `json:"started"`
	DryRun   bool                   `json:"dry_run,omitempty"`
	Config   *watchdog.ConfigStatus `json:"config,omitempty"`
}

// clusterHealth is this member's own health, as the leader's policy reads
// it, and why. A witness has none: it runs no health check.
type clusterHealth struct {
	Healthy *bool  `json:"healthy"` // null: a witness
	Reason  string `json:"reason"`
}

// clusterMember is one member as this one knows it: only the leader asks
// the others, so a follower knows little more than their configuration.
// A witness has no health and no priority that matters (it never leads
// for long): both are null.
type clusterMember struct {
	Name     string      `json:"name"`
	Role     quorum.Role `json:"role"`     // "": unlisted
	Priority *int        `json:"priority"` // null: a witness, or unlisted
	Address  string      `json:"address"`
	// Voter: Raft's latest configuration counts it; false for a member
	// this file lists and the cluster removed. Null before Raft runs.
	Voter *bool `json:"voter"`
	// Unlisted: in Raft's configuration, not in this member's file
	// (added with clooster cluster add).
	Unlisted    bool       `json:"unlisted,omitempty"`
	Reachable   bool       `json:"reachable"`
	Healthy     *bool      `json:"healthy"`      // null: a witness
	LastContact *time.Time `json:"last_contact"` // null: never
	Self        bool       `json:"self,omitempty"`
	Leader      bool       `json:"leader,omitempty"`
}

// removed: the member's file lists it, and the cluster removed it.
func (m clusterMember) removed() bool { return m.Voter != nil && !*m.Voter && !m.Unlisted }

// Member notes: what a member's membership means for the operator.
const (
	noteRemoved  = "removed from the cluster (still in this file: take it out of cluster.nodes)"
	noteUnlisted = "in the cluster, not in this file (added with clooster cluster add)"
)

// clusterRecord is a record as this member last read or wrote it.
type clusterRecord struct {
	Name    string     `json:"name"`
	Content string     `json:"content"`
	Holder  string     `json:"holder"` // the node whose value it holds; "" if none's
	At      *time.Time `json:"at"`     // of the read or write; null: never
	Written bool       `json:"written,omitempty"`
}

type clusterCounters struct {
	LeaderChanges uint64 `json:"leader_changes"`
	Writes        uint64 `json:"writes"`
	FencedWrites  uint64 `json:"fenced_writes"`
	AbortedWrites uint64 `json:"aborted_writes"`
}

// makeClusterStatus is /status from the node's view and this member's
// own health.
func makeClusterStatus(st quorum.Status, self quorum.Member, h clusterHealth) clusterStatus {
	out := clusterStatus{
		Mode: modeCluster, Node: st.Self, Role: self.Role, State: st.State, Leader: st.Leader, Term: st.Term,
		Quorum: st.Quorum, Voters: st.Voters, Majority: st.Majority(), Health: h, Members: []clusterMember{}, Records: []clusterRecord{},
		Counters: clusterCounters{LeaderChanges: st.LeaderChanges, Writes: st.Writes, FencedWrites: st.FencedWrites, AbortedWrites: st.AbortedWrites},
	}
	for _, m := range st.Members {
		cm := clusterMember{Name: m.Name, Role: m.Role, Address: m.Address, Unlisted: m.Unlisted, Reachable: m.Reachable,
			LastContact: timeOrNil(m.LastContact), Self: m.Name == st.Self, Leader: m.Name == st.Leader}
		if st.Voters > 0 {
			cm.Voter = &m.Voter
		}
		if m.Role == quorum.RoleNode {
			cm.Priority, cm.Healthy = &m.Priority, &m.Healthy
			if cm.Self {
				cm.Healthy = h.Healthy
			}
		}
		out.Members = append(out.Members, cm)
	}
	for _, r := range st.Records {
		out.Records = append(out.Records, clusterRecord{Name: r.Name, Content: r.Content, Holder: r.Holder, At: timeOrNil(r.At), Written: r.Written})
	}
	return out
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// witnessHealth is a witness's health as /status says it.
const witnessHealth = "n/a: a witness serves no website and runs no health check (it hands leadership to a node at once if it wins it)"

// health is this member's own health as /status says it.
func (m *member) health() clusterHealth {
	if m.monitor == nil {
		return clusterHealth{Reason: witnessHealth}
	}
	yes, no := true, false
	st := m.monitor.State()
	switch {
	case m.unchecked.Load():
		return clusterHealth{Healthy: &yes, Reason: "no health check configured: always healthy"}
	case st.Healthy:
		return clusterHealth{Healthy: &yes, Reason: "passing since " + st.Since.UTC().Format(time.RFC3339)}
	}
	return clusterHealth{Healthy: &no, Reason: st.LastErr}
}

// status is GET /status.
func (m *member) status() clusterStatus {
	st := makeClusterStatus(m.node.Status(), m.self, m.health())
	st.Version, st.Started, st.DryRun = buildVersion(), m.started, m.dryRun
	m.mu.Lock()
	st.Config = &watchdog.ConfigStatus{LoadedAt: m.loadedAt, Reloads: m.reloads, LastError: m.lastErr, PendingRestart: slices.Clone(m.pending)}
	m.mu.Unlock()
	if st.Config.PendingRestart == nil {
		st.Config.PendingRestart = []string{}
	}
	return st
}

// api serves /healthz, /status and /metrics.
func (m *member) api() http.Handler {
	extra := newDaemonMetrics(func() []*cfapi.Client { return m.clients }, m.hub, m.runner)
	extra.reload = m.reloadStats
	cm := &clusterMetrics{status: m.node.Status, set: metrics.NewSet()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(m.status())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		cm.WritePrometheus(w)
		extra.WritePrometheus(w)
		metrics.WriteProcessMetrics(w)
	})
	return mux
}

// handler is the status listener's: the page for people at /, and the API
// behind it; everything but /healthz wants status.token when one is set.
func (m *member) handler() http.Handler { return m.page(m.node.Status, m.api()) }

// page is the status page of status over api, guarded by status.token.
func (m *member) page(status func() quorum.Status, api http.Handler) http.Handler {
	return statuspage.ClusterHandler(status, statuspage.Options{
		Tokens: func() string { return *m.token.Load() },
		API:    api,
	})
}

// clusterMetrics are the cluster's series, set from the node's status at
// each scrape; scrapes take their turn.
type clusterMetrics struct {
	status func() quorum.Status

	mu  sync.Mutex
	set *metrics.Set
}

// WritePrometheus writes the metrics in the Prometheus text format.
func (c *clusterMetrics) WritePrometheus(w io.Writer) {
	st := c.status()
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(v float64, family string, labels ...string) {
		c.set.GetOrCreateGauge(series.Name(family, labels...), nil).Set(v)
	}
	counter := func(v uint64, family string) { c.set.GetOrCreateCounter(family).Set(v) }
	b := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	gauge(float64(st.Term), "clooster_cluster_term")
	gauge(b(st.Leader != "" && st.Leader == st.Self), "clooster_cluster_leader")
	gauge(b(st.Quorum), "clooster_cluster_quorum")
	counter(st.LeaderChanges, "clooster_cluster_leader_changes_total")
	counter(st.Writes, "clooster_cluster_writes_total")
	counter(st.FencedWrites, "clooster_cluster_fenced_writes_total")
	counter(st.AbortedWrites, "clooster_cluster_aborted_writes_total")
	leading := st.Leader != "" && st.Leader == st.Self
	for _, m := range st.Members {
		reach, health := series.Name("clooster_cluster_member_reachable", "member", m.Name), series.Name("clooster_cluster_member_healthy", "member", m.Name)
		if !leading && m.Name != st.Self || m.Unlisted {
			// Only the leader asks the others, and only those its file
			// lists: of the rest it does not know, and says nothing
			// rather than 0.
			c.set.UnregisterMetric(reach)
			c.set.UnregisterMetric(health)
			continue
		}
		c.set.GetOrCreateGauge(reach, nil).Set(b(m.Reachable))
		if m.Role != quorum.RoleNode {
			c.set.UnregisterMetric(health) // a witness checks no service
			continue
		}
		c.set.GetOrCreateGauge(health, nil).Set(b(m.Healthy))
	}
	c.set.WritePrometheus(w)
}

// clusterStatusLine is the one-line state systemctl status shows.
func clusterStatusLine(st quorum.Status) string {
	leader := st.Leader
	if leader == "" {
		leader = "none"
	}
	q := "no"
	if st.Quorum {
		q = "yes"
	}
	return fmt.Sprintf("leader %s, term %d, quorum %s", leader, st.Term, q)
}

// raftRuns reports whether the node runs Raft (past a restart's wait).
func raftRuns(st quorum.Status) bool { return st.State != "" && st.State != "Shutdown" }

// systemdCluster is systemdNotify in quorum mode: READY=1 once Raft runs,
// a STATUS= line whenever it changes, WATCHDOG=1 every half WatchdogSec
// while Raft runs, and STOPPING=1 when ctx ends.
func systemdCluster(ctx context.Context, status func() quorum.Status, log *slog.Logger) {
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for !raftRuns(status()) {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
	poll.Stop()
	sdNotify(log, daemon.SdNotifyReady)
	var dog <-chan time.Time
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		dog = t.C
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		st := status()
		if line := clusterStatusLine(st); line != last {
			sdNotify(log, "STATUS="+line)
			last = line
		}
		select {
		case <-ctx.Done():
			sdNotify(log, daemon.SdNotifyStopping)
			return
		case <-dog:
			if raftRuns(status()) {
				sdNotify(log, daemon.SdNotifyWatchdog)
			}
		case <-tick.C:
		}
	}
}

// printClusterStatus prints a quorum member's /status for people.
func printClusterStatus(w io.Writer, st clusterStatus, now time.Time) {
	ago := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return now.Sub(*t).Round(time.Second).String() + " ago"
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "NO"
	}
	role := string(st.Role)
	for _, m := range st.Members {
		if m.Self && m.Priority != nil {
			role += fmt.Sprintf(", priority %d", *m.Priority)
		}
	}
	fmt.Fprintf(w, "node     %s (%s), clooster %s, up %s\n", st.Node, role, st.Version, now.Sub(st.Started).Round(time.Second))
	leader := st.Leader
	switch {
	case leader == "":
		leader = "NONE known"
	case leader == st.Node:
		leader += " (this member)"
	}
	state := st.State
	if state == "" {
		state = "not running Raft yet"
	}
	q := "quorum " + yes(st.Quorum)
	if st.Voters > 0 {
		q += fmt.Sprintf(" (a majority: %d of %s)", st.Majority, logtext.Count(st.Voters, "voter"))
	}
	fmt.Fprintf(w, "cluster  leader %s, term %d, %s, %s\n", leader, st.Term, q, strings.ToLower(state))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "members\tNAME\tROLE\tPRIORITY\tADDRESS\tVOTER\tREACHABLE\tHEALTHY\tLAST CONTACT")
	var notes []string
	for _, m := range st.Members {
		name := m.Name
		if m.Leader {
			name += " *"
		}
		role, prio, voter := string(m.Role), "-", "?"
		if m.Unlisted {
			role, prio = "?", "?"
			notes = append(notes, m.Name+": "+noteUnlisted)
		}
		if m.Priority != nil {
			prio = strconv.Itoa(*m.Priority)
		}
		if m.Voter != nil {
			voter = yes(*m.Voter)
		}
		if m.removed() {
			notes = append(notes, m.Name+": "+noteRemoved)
		}
		contact := ago(m.LastContact)
		reach, healthy := yes(m.Reachable), "n/a"
		if m.Healthy != nil {
			healthy = yes(*m.Healthy)
		}
		switch {
		case m.Self:
			contact = "(this member)"
		case m.Unlisted:
			reach, healthy, contact = "?", "?", "(not in this file: not asked)"
		case st.Leader != st.Node:
			reach, contact = "?", "(only the leader asks)"
			if m.Healthy != nil {
				healthy = "?"
			}
		}
		fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, role, prio, m.Address, voter, reach, healthy, contact)
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintf(w, "         %s\n", n)
	}
	for i, r := range st.Records {
		label := "records"
		if i > 0 {
			label = ""
		}
		content := r.Content
		if content == "" {
			content = "(not read yet)"
			if st.Leader != st.Node {
				content = "(only the leader reads it)"
			}
		}
		line := fmt.Sprintf("%-8s %s -> %s", label, r.Name, content)
		if r.Holder != "" {
			line += " (" + r.Holder + ")"
		} else if r.Content != "" {
			line += " (no node's value)"
		}
		what := "read"
		if r.Written {
			what = "written"
		}
		fmt.Fprintf(w, "%s, %s %s\n", line, what, ago(r.At))
	}
	if len(st.Records) > 0 && st.Leader != st.Node {
		fmt.Fprintln(w, "         (as this member last read or wrote them, when it led: the leader's status has them now)")
	}
	c := st.Counters
	fmt.Fprintf(w, "counters %s, %s (%d fenced, %d aborted)\n", logtext.Count(int(c.LeaderChanges), "leader change"),
		logtext.Count(int(c.Writes), "write"), c.FencedWrites, c.AbortedWrites)
	switch h := st.Health; {
	case h.Healthy == nil:
		fmt.Fprintf(w, "health   %s\n", h.Reason)
	case *h.Healthy:
		fmt.Fprintf(w, "health   healthy: %s\n", h.Reason)
	default:
		fmt.Fprintf(w, "health   NOT HEALTHY: %s\n", h.Reason)
	}
	if st.DryRun {
		fmt.Fprintln(w, "mode     DRY RUN: record writes are only logged")
	}
	if c := st.Config; c != nil {
		line := fmt.Sprintf("config   loaded %s, %s since start", ago(&c.LoadedAt), logtext.Count(c.Reloads, "reload"))
		if c.LastError != "" {
			line += "; the last FAILED, running on the one loaded: " + c.LastError
		}
		fmt.Fprintln(w, line)
		if len(c.PendingRestart) > 0 {
			fmt.Fprintf(w, "         waiting for a restart: %s\n", strings.Join(c.PendingRestart, ", "))
		}
	}
}
