package watchdog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

// ConfigStatus is the daemon's configuration as /status shows it: when
// the running one was loaded, how many reloads were asked for since start,
// the last one's error ("" if it applied) and the keys whose change waits
// for a restart.
type ConfigStatus struct {
	LoadedAt       time.Time `json:"loaded_at"`
	Reloads        int       `json:"reloads"`
	LastError      string    `json:"last_error,omitempty"`
	PendingRestart []string  `json:"pending_restart"`
}

// SetConfigStatus sets what /status shows of the configuration. Safe from
// any goroutine.
func (n *Node) SetConfigStatus(c ConfigStatus) {
	c.PendingRestart = append([]string{}, c.PendingRestart...)
	n.mu.Lock()
	n.conf = &c
	n.mu.Unlock()
}

// linkSettings are what a link takes from the configuration: the timings
// and this node's INFO.
type linkSettings struct {
	keepalive, timeout time.Duration
	info               info
}

// same reports whether s and t are the same settings.
func (s *linkSettings) same(t *linkSettings) bool {
	return s.keepalive == t.keepalive && s.timeout == t.timeout && string(s.info.encode()) == string(t.info.encode())
}

// storeLive publishes the link settings of n.cfg for the links made from
// now on. Called by New, then by the loop's goroutine only.
func (n *Node) storeLive() {
	n.live.Store(&linkSettings{keepalive: n.cfg.KeepaliveInterval, timeout: n.cfg.PeerTimeout, info: n.ownInfo()})
}

// reloadReq is one Reload: taken is closed once the loop has applied it.
type reloadReq struct {
	cfg   Config
	taken chan struct{}
}

// Reload hands a running node a new configuration, and returns once its
// loop has taken it, or with ctx's error, or with an error if the node is
// not running or cfg is not fit.
//
// The node takes of cfg, at once and without dropping the link: the
// timings (KeepaliveInterval, PeerTimeout, FailbackDelay, DriftInterval;
// deadlines under way are reckoned anew, see failover.EvReconfigure),
// Handover, RestartGrace, Notifier, Hooks, Health and PeerProbe. The
// link's keepalives follow the new interval, and the peer gets this
// node's INFO again, so that its comparison of the two files sees the new
// settings; this node compares the peer's last INFO with its own new
// settings too. The record
// set (RecordName, ThisValue, OtherValue, OtherKnown, Preferred, Records,
// RecordStates, RecordKeys, Store, and Settings, which describes it) is
// taken at the first moment no record update is under way: the records
// added are read, and written to the value of the node the rest of the
// set points at (this node's; the peer's only if known), one read and at
// most one write; a record removed is left as it is in DNS. The rest of
// cfg (the names, the key, the role, the addresses, TLS, DryRun, Logger,
// Version, Clock) is the node's until it restarts.
func (n *Node) Reload(ctx context.Context, cfg Config) error {
	switch {
	case cfg.KeepaliveInterval <= 0 || cfg.PeerTimeout <= cfg.KeepaliveInterval || cfg.FailbackDelay < 0 || cfg.DriftInterval < 0:
		return errors.New("reload: bad timings")
	case cfg.Store == nil:
		return errors.New("reload: record store required")
	}
	r := reloadReq{cfg: cfg, taken: make(chan struct{})}
	select {
	case n.reloads <- r:
	case <-n.done:
		return errors.New("reload: node not running")
	case <-ctx.Done():
		return fmt.Errorf("reload: %w", ctx.Err())
	}
	<-r.taken
	return nil
}

// reloading is a change of the record set under way, on the loop's
// goroutine.
type reloading struct {
	pending *Config // the configuration of the new set; nil: none waits
	gen     uint64  // counts the changes asked for, so that a superseded one's outcome is dropped
	busy    bool    // a bring-up is under way
	next    time.Time
	done    chan setDone
	fails   int
}

// setRetry is how long a change of the record set waits after its read or
// write failed.
const setRetry = 10 * time.Second

// setDone is the outcome of a bring-up: the new set as read (and written)
// for it, as of at; "" with no error if it is not known.
type setDone struct {
	gen     uint64
	plan    failover.SetPlan
	from    []int
	content string
	at      time.Time
	wrote   bool
	err     error
}

// reload applies what cfg changes at once (see Reload) on the loop's
// goroutine, and sets a change of the record set waiting.
func (n *Node) reload(cfg Config, loop *failover.Loop, w *worker, rl *reloading, now time.Time) ([]failover.Action, bool) {
	c := &n.cfg
	c.KeepaliveInterval, c.PeerTimeout, c.FailbackDelay = cfg.KeepaliveInterval, cfg.PeerTimeout, cfg.FailbackDelay
	c.DriftInterval, c.Handover, c.RestartGrace = cfg.DriftInterval, cfg.Handover, cfg.RestartGrace
	c.Notifier, c.Hooks = cfg.Notifier, cfg.Hooks
	hadHealth := c.Health != nil
	c.Health, c.PeerProbe = cfg.Health, cfg.PeerProbe
	w.setProbe(cfg.PeerProbe)
	w.setHealth(cfg.Health)

	fc := *loop.C
	fc.PeerTimeout, fc.Keepalive, fc.FailbackDelay = cfg.PeerTimeout, cfg.KeepaliveInterval, cfg.FailbackDelay
	fc.PeerCheck, fc.DriftInterval, fc.Handover, fc.RestartGrace = cfg.PeerProbe != nil, cfg.DriftInterval, cfg.Handover, cfg.RestartGrace
	acts, kick, _ := loop.Reconfigure(failover.EvReconfigure{At: now, Config: fc})
	n.mc = *loop.C
	if hadHealth && cfg.Health == nil {
		// No check: always healthy, as at a start without one.
		more, k := loop.Health(now, true, "")
		acts, kick = append(acts, more...), kick || k
	}

	if sameSet(*c, cfg) {
		if rl.pending != nil {
			n.log.Info("record set change withdrawn: the configuration holds the running set again", "event", "records_unchanged")
		}
		rl.pending = nil
		rl.gen++
		c.Settings = cfg.Settings
		return acts, kick
	}
	p := cfg
	rl.pending = &p
	rl.gen++
	rl.next, rl.fails = time.Time{}, 0
	return acts, kick
}

// sameSet reports whether a and b have the same record set.
func sameSet(a, b Config) bool {
	return a.RecordName == b.RecordName && cmp.Or(a.ThisValue, a.This) == cmp.Or(b.ThisValue, b.This) &&
		cmp.Or(a.OtherValue, a.Other) == cmp.Or(b.OtherValue, b.Other) &&
		a.OtherKnown == b.OtherKnown && a.Preferred == b.Preferred && slices.Equal(a.Records, b.Records) &&
		slices.Equal(a.RecordKeys, b.RecordKeys) && (a.RecordKeys != nil || a.Store == b.Store)
}

// setFrom maps each record of the new set (keys) to its index in the
// running one (old), -1 for a record added or changed.
func setFrom(old, keys []string) []int {
	from := make([]int, len(keys))
	for i, k := range keys {
		from[i] = -1
		if j := slices.Index(old, k); j >= 0 && k != "" {
			from[i] = j
		}
	}
	return from
}

// setConfig is c with the record set of p.
func (n *Node) setConfig(c *failover.Config, p *Config) failover.Config {
	fc := *c
	fc.Record, fc.ThisValue = p.RecordName, cmp.Or(p.ThisValue, n.cfg.This)
	fc.OtherValue, fc.OtherKnown = cmp.Or(p.OtherValue, n.cfg.Other), p.OtherKnown
	fc.Preferred = p.Preferred
	return fc
}

// setSize is the number of records of cfg's set.
func setSize(cfg *Config) int { return max(1, len(cfg.Records)) }

// labels name the records of cfg's set.
func labels(cfg *Config) []string {
	if len(cfg.Records) == 0 {
		return []string{cfg.RecordName}
	}
	var out []string
	for _, r := range cfg.Records {
		out = append(out, strings.TrimSpace(r.Name+" "+r.Type))
	}
	return out
}

// changeSet starts the change of the record set that waits, if the loop
// is idle: it plans it, then reads the new set, and writes the records
// added if the plan says so, off the loop.
func (n *Node) changeSet(ctx context.Context, loop *failover.Loop, w *worker, rl *reloading, now time.Time) {
	p := rl.pending
	if p == nil || rl.busy || !loop.Idle() || now.Before(rl.next) {
		return
	}
	from := setFrom(n.cfg.RecordKeys, p.RecordKeys)
	if len(from) != setSize(p) {
		from = make([]int, setSize(p))
		for i := range from {
			from[i] = -1
		}
	}
	fc := n.setConfig(loop.C, p)
	plan := loop.PlanSet(&fc, from)
	own := parts(fc.ThisValue, len(from))
	for i, v := range plan.Want {
		if v != "" && own != nil && v == own[i] && !loop.MayWrite(loop.C.ThisValue) {
			// No node writes its own value while its service fails its
			// checks: the set's next move takes the records added along.
			plan.Want = make([]string, len(from))
			plan.Leave = "this node's service fails its checks"
			break
		}
	}
	expected := make([]string, len(from))
	if base := parts(plan.Base, setSize(&n.cfg)); base != nil {
		for i, j := range from {
			if j >= 0 {
				expected[i] = base[j]
			}
		}
	}
	if plan.Leave != "" && slices.Contains(from, -1) && rl.fails == 0 {
		n.log.Info("records added are left as they are", "event", "records_left", "why", plan.Leave)
	}
	rl.busy = true
	gen := rl.gen
	store := p.Store
	w.wg.Go(func() {
		d := w.bringUp(ctx, store, expected, plan.Want)
		d.gen, d.plan, d.from = gen, plan, from
		select {
		case rl.done <- d:
		case <-ctx.Done():
		}
	})
}

// bringUp reads the new set and, if its records kept hold what the loop
// knows (expected; "" not known), writes the records for which want says
// a value: one read, at most one write. Its outcome's content is what the
// set holds, "" if that is not known (a record is missing, or the records
// kept changed since: the loop reads and judges it).
func (w *worker) bringUp(ctx context.Context, store failover.RecordStore, expected, want []string) setDone {
	t := &target{store: store}
	asked := time.Now()
	rec, err := w.readRecord(ctx, t)
	switch {
	case errors.Is(err, failover.ErrMissing):
		return setDone{at: asked}
	case err != nil:
		return setDone{err: fmt.Errorf("read the new set: %w", err)}
	}
	got := parts(rec.Content, len(want))
	if got == nil {
		return setDone{at: asked}
	}
	for i, e := range expected {
		if e != "" && got[i] != e {
			return setDone{at: asked}
		}
	}
	to := slices.Clone(got)
	for i, v := range want {
		if v != "" {
			to[i] = v
		}
	}
	content := recordset.Join(to)
	if content == rec.Content {
		return setDone{at: asked, content: content}
	}
	if w.dryRun {
		w.log.Warn("dry run: not writing the records added", "to", content)
		return setDone{at: asked, content: rec.Content}
	}
	if err := w.write(ctx, t, content, rec.Content); err != nil {
		return setDone{err: fmt.Errorf("write the records added: %w", err)}
	}
	return setDone{at: time.Now(), content: content, wrote: true}
}

// setDone takes a bring-up's outcome: the new set applies if the loop is
// still idle and knows what it knew when the change was planned; else it
// waits for the next idle moment.
func (n *Node) setDone(d setDone, loop *failover.Loop, w *worker, rl *reloading, now time.Time) ([]failover.Action, bool, bool) {
	rl.busy = false
	p := rl.pending
	if p == nil || d.gen != rl.gen {
		return nil, false, false // withdrawn, or superseded by a later reload
	}
	if d.err != nil {
		rl.fails++
		rl.next = now.Add(setRetry)
		if rl.fails <= 3 || rl.fails&(rl.fails-1) == 0 {
			n.log.Warn("record set change waits: the new set cannot be read or written", "event", "records_change_failed",
				"error", d.err, "attempt", rl.fails, "retry", setRetry)
		}
		return nil, false, false
	}
	fc := n.setConfig(loop.C, p)
	ch := failover.SetChange{From: d.from, Base: d.plan.Base, BaseAt: d.plan.BaseAt, Content: d.content, Asked: d.at}
	acts, kick, applied := loop.Reconfigure(failover.EvReconfigure{At: now, Config: fc, Set: &ch})
	n.mc = *loop.C
	if !applied {
		n.log.Debug("record set change waits for the record update under way")
		return acts, kick, false
	}
	old := labels(&n.cfg)
	c := &n.cfg
	c.RecordName, c.ThisValue, c.OtherValue, c.OtherKnown, c.Preferred = p.RecordName, n.mc.ThisValue, p.OtherValue, p.OtherKnown, p.Preferred
	c.Records, c.RecordStates, c.RecordKeys, c.Store, c.Settings = p.Records, p.RecordStates, p.RecordKeys, p.Store, p.Settings
	w.setTarget(p.Store, n.mc.ThisValue)
	rl.pending = nil
	n.log.Info("record set changed", "event", "records_changed", "records", strings.Join(labels(c), ", "),
		"content", cmp.Or(d.content, "(reading)"), "wrote", d.wrote)
	for j, label := range old {
		if !slices.Contains(d.from, j) {
			n.log.Info("record no longer kept, left as it is in DNS", "event", "record_removed", "record", label)
		}
	}
	return acts, kick, true
}

// parts are the n records' contents of a set's content; nil if it has not
// n parts. A set of one record is its content.
func parts(content string, n int) []string {
	if content == "" {
		return nil
	}
	if n == 1 {
		return []string{content}
	}
	ps := strings.Split(content, recordset.Sep)
	if len(ps) != n {
		return nil
	}
	return ps
}
