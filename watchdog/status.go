package watchdog

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

// PeerState is the peer as a node sees it.
type PeerState = failover.PeerState

// Peer states.
const (
	PeerConnecting = failover.PeerConnecting // starting, or the link is being re-established
	PeerUp         = failover.PeerUp         // linked
	PeerDown       = failover.PeerDown       // declared down, not linked
)

// Status is a node's state as /status and `clooster status` show it.
type Status struct {
	Node    string       `json:"node"`
	Role    string       `json:"role"`
	Version string       `json:"version"`
	Started time.Time    `json:"started"`
	DryRun  bool         `json:"dry_run,omitempty"`
	Peer    PeerStatus   `json:"peer"`
	Record  RecordStatus `json:"record"`
	// Records is each record of the set; one entry for a single record.
	Records []SetRecordStatus `json:"records"`
	// Link is what stands between the two nodes and a working pair:
	// configurations that disagree, clocks apart.
	Link   LinkStatus   `json:"link"`
	Health HealthStatus `json:"health"`
	Guard  GuardStatus  `json:"guard"`
	Update *UpdateInfo  `json:"update,omitempty"`
	// Config is the daemon's configuration: loaded when, reloads, what
	// waits for a restart; nil when the daemon does not say.
	Config *ConfigStatus `json:"config,omitempty"`
}

// LinkStatus is what the link shows of the two nodes' agreement.
type LinkStatus struct {
	// Problem is the most serious of Problems; nil if there is none.
	Problem  *failover.Problem  `json:"problem,omitempty"`
	Problems []failover.Problem `json:"problems,omitempty"`
	// NoFailback lists the differences that hold off failback while
	// they last: the two files disagree on where the records belong.
	NoFailback []string `json:"no_failback,omitempty"`
	// ClockOffsetMillis is the peer's clock minus this node's, and
	// APIClockOffsetMillis the DNS API's, as last measured; absent
	// until measured.
	ClockOffsetMillis    *float64 `json:"clock_offset_ms,omitempty"`
	APIClockOffsetMillis *float64 `json:"api_clock_offset_ms,omitempty"`
}

// HealthStatus is this node's own service health (health.*).
type HealthStatus struct {
	Checked bool      `json:"checked"` // a health check is configured
	Healthy bool      `json:"healthy"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason,omitempty"` // why it is unhealthy
	// LastCheck is the last check's result: "passed", or "failed: " and
	// the error (a healthy node's check can fail fewer than fall times).
	LastCheck string `json:"last_check,omitempty"`
}

// GuardStatus is the split-brain guard's decision: whether this node
// withholds a takeover, and why.
type GuardStatus struct {
	Withholding bool      `json:"withholding"`
	Reason      string    `json:"reason,omitempty"`
	Since       time.Time `json:"since,omitzero"`
	PeerCheck   string    `json:"peer_check,omitempty"` // the last probe's result: "serving" or "down"
}

// PeerStatus is the peer as this node sees it.
type PeerStatus struct {
	Name      string    `json:"name"`
	State     PeerState `json:"state"`
	Since     time.Time `json:"since"`
	Addr      string    `json:"addr,omitempty"`
	Reason    string    `json:"reason,omitempty"`    // why the link was last lost
	RTTMillis float64   `json:"rtt_ms,omitempty"`    // last keepalive round trip
	Healthy   *bool     `json:"healthy,omitempty"`   // as the peer advertises it
	LastHeard time.Time `json:"last_heard,omitzero"` // last frame from the peer
	// RestartBy: the peer said it is restarting; its record stays where
	// it is until then, unless the link is back first.
	RestartBy time.Time `json:"restart_by,omitzero"`
}

// RecordStatus is the DNS record as this node last saw it.
type RecordStatus struct {
	Name      string    `json:"name"`
	Content   string    `json:"content"`          // "" until first read
	Checked   time.Time `json:"checked,omitzero"` // when it was last read or written
	Preferred string    `json:"preferred_value"`
	ThisValue string    `json:"this_value"`
	Active    bool      `json:"active"` // the record points to this node
}

// SetRecordStatus is one record of the set as this node last saw it.
type SetRecordStatus struct {
	Name    string `json:"name"`
	Type    string `json:"type,omitempty"`
	Content string `json:"content"` // "" until first read
	// PointsTo is the node whose value the record holds: this node's or
	// the peer's name, "" for neither.
	PointsTo  string    `json:"points_to"`
	Preferred bool      `json:"preferred"` // it holds its preferred value
	Missing   bool      `json:"missing,omitempty"`
	Checked   time.Time `json:"checked,omitzero"`    // last read
	LastWrite time.Time `json:"last_write,omitzero"` // last successful write
	// WriteError is the last write's error, "" if it succeeded.
	WriteError string `json:"write_error,omitempty"`
	// ReadError is the last read's error, "" if it succeeded: refused
	// credentials show here before any write is tried.
	ReadError string `json:"read_error,omitempty"`
	// Writes and WriteFailures count this node's writes of the record
	// since it started, and those that failed.
	Writes        uint64 `json:"writes"`
	WriteFailures uint64 `json:"write_failures"`
}

// UpdateInfo describes a record update in progress.
type UpdateInfo struct {
	Purpose  string    `json:"purpose"` // takeover or failback
	Want     string    `json:"want"`
	Since    time.Time `json:"since"`
	Failures int       `json:"failures"`
	LastErr  string    `json:"last_error,omitempty"`
}

// Status returns a snapshot of the node's state.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.snap
	if n.conf != nil {
		c := *n.conf
		c.PendingRestart = append([]string{}, c.PendingRestart...)
		st.Config = &c
	}
	return st
}

func (n *Node) publish(v failover.View, cur *link) {
	st := n.status(v, cur)
	n.mu.Lock()
	n.snap = st
	n.mu.Unlock()
}

func (n *Node) status(v failover.View, cur *link) Status {
	st := Status{
		Node:    n.cfg.This,
		Role:    n.cfg.Role,
		Version: n.cfg.Version,
		Started: v.Started,
		DryRun:  n.cfg.DryRun,
		Peer: PeerStatus{
			Name:      n.cfg.Other,
			State:     v.Peer,
			Since:     v.PeerSince,
			Reason:    v.Reason,
			LastHeard: v.LastHeard,
			RestartBy: v.RestartBy,
		},
		Record: RecordStatus{
			Name:      n.cfg.RecordName,
			Content:   v.Record,
			Checked:   v.RecordAt,
			Preferred: n.cfg.Preferred,
			ThisValue: n.cfg.ThisValue,
			Active:    v.Active,
		},
		Health: HealthStatus{Checked: n.cfg.Health != nil, Healthy: v.Healthy, Since: v.HealthySince, Reason: v.HealthReason},
	}
	st.Records = n.recordsStatus(v)
	st.Link = LinkStatus{Problems: v.Problems, NoFailback: v.Mismatch,
		ClockOffsetMillis: millis(v.PeerClock), APIClockOffsetMillis: millis(v.APIClock)}
	if len(v.Problems) > 0 {
		st.Link.Problem = &v.Problems[0]
	}
	if cur != nil {
		st.Peer.Addr = cur.remote
		st.Peer.RTTMillis = float64(n.met.lastRTT().Microseconds()) / 1000
		healthy := v.PeerHealthy
		st.Peer.Healthy = &healthy
	}
	if n.cfg.Health != nil {
		st.Health.LastCheck = "passed"
		if v.LastCheck != "" {
			st.Health.LastCheck = "failed: " + v.LastCheck
		}
	}
	if v.Guard != "" {
		st.Guard = GuardStatus{Withholding: true, Reason: v.Guard, Since: v.GuardAt}
	}
	st.Guard.PeerCheck = v.PeerCheck
	if j := v.Job; j != nil {
		st.Update = &UpdateInfo{Purpose: j.Purpose.String(), Want: j.Want, Since: j.Since, Failures: j.Failures, LastErr: j.LastErr}
	}
	return st
}

// recordsStatus is each record of the set: from the store's knowledge of
// each, else from the machine's view of the one record.
func (n *Node) recordsStatus(v failover.View) []SetRecordStatus {
	rs := n.cfg.Records
	if len(rs) == 0 {
		rs = []SetRecord{{Name: n.cfg.RecordName, ThisValue: n.cfg.ThisValue, OtherValue: n.cfg.OtherValue, Preferred: n.cfg.Preferred}}
	}
	var states []recordset.State
	if n.cfg.RecordStates != nil {
		states = n.cfg.RecordStates()
	}
	contents := []string{v.Record}
	if len(rs) > 1 {
		contents = strings.Split(v.Record, recordset.Sep)
	}
	out := make([]SetRecordStatus, len(rs))
	for i, r := range rs {
		e := SetRecordStatus{Name: r.Name, Type: r.Type, Checked: v.RecordAt}
		if i < len(contents) {
			e.Content = contents[i]
		}
		if i < len(states) {
			s := states[i]
			if !s.ReadAt.IsZero() || !s.WroteAt.IsZero() {
				e.Content, e.Missing, e.Checked = s.Content, s.Missing, s.ReadAt
			}
			e.LastWrite, e.WriteError, e.Writes, e.WriteFailures = s.WroteAt, s.WriteErr, s.Writes, s.Failures
			e.ReadError = s.ReadErr
		}
		switch {
		case e.Content == "":
		case e.Content == r.ThisValue:
			e.PointsTo = n.cfg.This
		case e.Content == r.OtherValue:
			e.PointsTo = n.cfg.Other
		}
		e.Preferred = e.Content != "" && e.Content == r.Preferred
		out[i] = e
	}
	return out
}

// StatusHandler serves /healthz, /status (JSON) and /metrics (Prometheus
// text) for n: the node's metrics, then extra's, if extra is not nil (the
// daemon's own), then the process's and the Go runtime's.
func StatusHandler(n *Node, extra func(io.Writer)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(n.Status())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		n.met.WritePrometheus(w, n.Status)
		if extra != nil {
			extra(w)
		}
		metrics.WriteProcessMetrics(w)
	})
	return mux
}

// millis is a clock offset in milliseconds; nil if it was not measured.
func millis(o failover.ClockOffset) *float64 {
	if !o.Known {
		return nil
	}
	ms := float64(o.Est.Microseconds()) / 1000
	return &ms
}
