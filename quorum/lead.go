package quorum

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clooster/clooster/internal/backoff"
	"github.com/clooster/clooster/internal/failover"
	"github.com/hashicorp/raft"
)

// retry is the backoff between a record's failed attempts; a store's
// RetryLater asks for longer.
var retry = backoff.Policy{Min: time.Second, Max: 30 * time.Second}

// errShortLease: the lease left after VerifyLeader was shorter than the API
// timeout; the write was not sent.
var errShortLease = errors.New("lease too short to write")

// errDeposed: this node no longer leads in the term it decided in.
var errDeposed = errors.New("no longer the leader")

type termKey struct{}

// WriteTerm is the Raft term a store call under ctx was decided in, for
// stores and logs that want it; a Fencer is also given it as an argument.
func WriteTerm(ctx context.Context) (uint64, bool) {
	t, ok := ctx.Value(termKey{}).(uint64)
	return t, ok
}

// leader is the work of one term's leadership. Its run is the only
// goroutine that touches its fields.
type leader struct {
	n    *Node
	r    *raft.Raft
	term uint64
	// seen is since when each member has answered healthy on every poll,
	// with no silence as long as a heartbeat timeout.
	seen map[string]time.Time
	// silent is since when each member has not answered a poll; lost
	// holds those said lost (EventMemberLost).
	silent     map[string]time.Time
	lost       map[string]bool
	noEligible bool
	// noWriteUntil follows a handover that failed: the member it was
	// offered to may have stood with the handover's licence to skip its
	// peers' leader stickiness, which voids the lease of any check made
	// before it gave up.
	noWriteUntil time.Time
	stale        bool // a fence holds a later term: a later leader exists
	recs         []recState
}

type recState struct {
	due      bool
	fenced   bool
	failures int
	next     time.Time
	alerted  bool // a write_failed raised in this streak of failures
}

func newLeader(n *Node, r *raft.Raft, term uint64) *leader {
	l := &leader{n: n, r: r, term: term, seen: map[string]time.Time{}, silent: map[string]time.Time{}, lost: map[string]bool{},
		recs: make([]recState, len(n.cfg.Records))}
	for i := range l.recs {
		l.recs[i].due = true
	}
	return l
}

func (l *leader) now() time.Time { return l.n.cfg.Now() }

// run is the leader's loop: a Barrier (every entry of earlier terms
// applied), then the records brought to this node's value, the policy's
// rounds, the drift checks and the retries, until ctx ends.
func (l *leader) run(ctx context.Context) {
	cfg := &l.n.cfg
	for failures := 1; ; failures++ {
		err := l.r.Barrier(cfg.APITimeout).Error()
		if err == nil {
			break
		}
		l.n.log.Warn("barrier", "term", l.term, "error", err)
		if !sleep(ctx, retry.Jittered(failures, cfg.Jitter)) {
			return
		}
	}
	// The policy's rounds: every member asked twice a heartbeat timeout
	// (an unhealthy leader hands over within half of one of its health
	// check), each answer awaited a quarter of one.
	interval := cfg.Timings.HeartbeatTimeout / 2
	policy := time.NewTicker(interval)
	defer policy.Stop()
	var drift <-chan time.Time
	if cfg.DriftCheckInterval > 0 {
		t := time.NewTicker(cfg.DriftCheckInterval)
		defer t.Stop()
		drift = t.C
	}
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()

	// The first round, before any write: a witness or an unhealthy node
	// hands over, and so does a node elected over a better one.
	if l.round(ctx, interval/2, true) {
		return
	}
	for {
		next := l.reconcileDue(ctx)
		if ctx.Err() != nil {
			return
		}
		wake.Stop()
		if !next.IsZero() {
			wake.Reset(max(next.Sub(l.now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-policy.C:
			if l.round(ctx, interval/2, false) {
				return
			}
		case <-drift:
			for i := range l.recs {
				l.recs[i].due = true
			}
		case <-wake.C:
		}
	}
}

// mayWrite: this node leads in its term, is a node member, is healthy, and
// nothing says a later leader may exist.
func (l *leader) mayWrite() bool {
	if l.n.self.Role != RoleNode || l.stale || l.now().Before(l.noWriteUntil) {
		return false
	}
	if ok, _ := l.n.cfg.Health.Healthy(); !ok {
		return false
	}
	if l.n.cfg.mutant(mutantFollowerWrites) {
		return true
	}
	return l.r.State() == raft.Leader && l.r.CurrentTerm() == l.term
}

// reconcileDue brings each due record whose retry time has come to this
// node's value, and returns the earliest retry time left (zero if none).
func (l *leader) reconcileDue(ctx context.Context) time.Time {
	var next time.Time
	for i := range l.recs {
		s := &l.recs[i]
		if !s.due {
			continue
		}
		if ctx.Err() != nil || !l.mayWrite() {
			return time.Time{} // the next policy round looks again
		}
		if l.now().Before(s.next) {
			if next.IsZero() || s.next.Before(next) {
				next = s.next
			}
			continue
		}
		err := l.reconcile(ctx, i)
		switch {
		case err == nil:
			*s = recState{fenced: s.fenced}
		case ctx.Err() != nil:
			return time.Time{}
		default:
			s.failures++
			wait := max(retry.Jittered(s.failures, l.n.cfg.Jitter), retryAfter(err))
			s.next = l.now().Add(wait)
			rec := l.n.cfg.Records[i]
			l.n.log.Warn("record not moved", "record", rec.Name, "term", l.term, "retry_in", wait, "error", err)
			if !s.alerted {
				s.alerted = true
				l.n.event(Event{Kind: EventWriteFailed, Term: l.term, Record: rec.Name, Content: rec.Values[l.n.self.Name], Err: err})
			}
			if next.IsZero() || s.next.Before(next) {
				next = s.next
			}
		}
	}
	return next
}

func retryAfter(err error) time.Duration {
	var r *failover.RetryLater
	if errors.As(err, &r) {
		return r.After
	}
	return 0
}

// call runs one store call with the API timeout.
func (l *leader) call(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, termKey{}, l.term), l.n.cfg.APITimeout)
	defer cancel()
	return f(ctx)
}

// reconcile raises the record's fence once in this term (a Fencer), reads
// the record, and writes this node's value if it holds anything else,
// then reads it again.
func (l *leader) reconcile(ctx context.Context, i int) error {
	rec := l.n.cfg.Records[i]
	want, ok := rec.Values[l.n.self.Name]
	if !ok {
		return nil
	}
	if f, ok := rec.Store.(Fencer); ok && !l.recs[i].fenced {
		err := l.call(ctx, func(ctx context.Context) error { return f.RaiseFence(ctx, l.term) })
		if errors.Is(err, failover.ErrConflict) {
			l.stale = true
		}
		if err != nil {
			return fmt.Errorf("raise fence to term %d: %w", l.term, err)
		}
		l.recs[i].fenced = true
	}
	read := func() (string, error) {
		var got failover.Record
		err := l.call(ctx, func(ctx context.Context) (err error) {
			got, err = rec.Store.Read(ctx)
			return err
		})
		return got.Content, err
	}
	got, err := read()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	l.n.noteRecord(i, got, false)
	if got == want {
		return nil
	}
	if err := l.write(ctx, rec, got, want); err != nil {
		return err
	}
	got, err = read()
	if err != nil {
		return fmt.Errorf("read after write: %w", err)
	}
	l.n.noteRecord(i, got, got == want)
	if got != want {
		return fmt.Errorf("read after write: holds %q", got)
	}
	l.n.log.Info("record moved", "record", rec.Name, "content", want, "term", l.term)
	l.n.event(Event{Kind: EventRecordMoved, Term: l.term, Record: rec.Name, Content: want})
	return nil
}

// write is the write rule's last step: a quorum round (VerifyLeader) timed
// from its start; the lease left after it (start + Timings.Lease − now)
// must cover the API timeout, else nothing is sent; the write then runs
// with the lease's end as its deadline, conditional on old where the
// store can compare, fenced by the term where it has a fence.
func (l *leader) write(ctx context.Context, rec Record, old, want string) error {
	n := l.n
	start := l.now()
	if !n.cfg.mutant(mutantFollowerWrites) && !n.cfg.mutant(mutantSkipVerify) {
		if err := l.r.VerifyLeader().Error(); err != nil {
			return fmt.Errorf("verify leadership: %w", err)
		}
		if l.r.CurrentTerm() != l.term {
			return errDeposed
		}
	}
	left := n.lease - l.now().Sub(start)
	if left < n.cfg.APITimeout {
		n.count(func(s *Status) { s.AbortedWrites++ })
		return fmt.Errorf("%w: %s left", errShortLease, left)
	}
	wctx, cancel := context.WithTimeout(context.WithValue(ctx, termKey{}, l.term), left)
	defer cancel()
	n.count(func(s *Status) { s.Writes++ })
	var err error
	switch s := rec.Store.(type) {
	case Fencer:
		err = s.SwapFenced(wctx, l.term, old, want)
	case failover.Swapper:
		if old != "" {
			err = s.Swap(wctx, old, want)
		} else {
			err = s.Write(wctx, want)
		}
	default:
		err = rec.Store.Write(wctx, want)
	}
	if errors.Is(err, failover.ErrConflict) {
		n.count(func(s *Status) { s.FencedWrites++ })
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// round is one turn of the leadership policy: ask every other member its
// status (each within timeout), and hand leadership over if decide says
// so. It reports whether leadership went to another member.
func (l *leader) round(ctx context.Context, timeout time.Duration, fresh bool) bool {
	n := l.n
	views := l.poll(ctx, timeout)
	if ctx.Err() != nil {
		return false
	}
	healthy, _ := n.cfg.Health.Healthy()
	// Fresh only while the records do not hold this node's values yet:
	// a leader that already has them (leadership came back to it) hands
	// them on only by the failback rule.
	v := decide(n.self, healthy, l.r.LastIndex(), views, n.cfg.FailbackDelay, fresh && !n.holdsAll())
	if !v.NoEligible {
		l.noEligible = false
	} else if !l.noEligible {
		l.noEligible = true
		n.log.Warn("no eligible node to hand leadership to", "term", l.term, "role", string(n.self.Role), "healthy", healthy)
		n.event(Event{Kind: EventNoEligibleNode, Term: l.term})
	}
	if !v.Transfer {
		return false
	}
	n.log.Info("handing leadership over", "to", v.To.Name, "term", l.term, "role", string(n.self.Role), "healthy", healthy)
	err := l.r.LeadershipTransferToServer(raft.ServerID(v.To.Name), raft.ServerAddress(v.To.Address)).Error()
	l.noWriteUntil = l.now().Add(n.cfg.Timings.ElectionTimeout)
	if err != nil {
		n.log.Warn("hand leadership over", "to", v.To.Name, "error", err)
		return false
	}
	if n.self.Role == RoleNode && !healthy {
		n.event(Event{Kind: EventHandedOver, Term: l.term, Member: v.To})
	}
	return true
}

// poll asks every other member its status at once, and updates what the
// leader has seen of each.
func (l *leader) poll(ctx context.Context, timeout time.Duration) []view {
	n := l.n
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	voters := n.Voters()
	views := make([]view, len(n.cfg.Members))
	var wg sync.WaitGroup
	for i, m := range n.cfg.Members {
		views[i].Member = m
		if m.Name == n.self.Name || !voters[m.Name] {
			continue // a member removed from the cluster is not asked
		}
		wg.Go(func() {
			st, err := n.cfg.Statuses.Status(ctx, m)
			views[i].Answered = err == nil && st.Name == m.Name
			views[i].Status = st
		})
	}
	wg.Wait()
	now := l.now()
	for _, e := range l.silence(views, voters, now) {
		n.event(e)
	}
	var out []view
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, v := range views {
		if v.Member.Name == n.self.Name {
			continue
		}
		mv := &n.st.Members[i]
		mv.Reachable = v.Answered
		if v.Answered {
			mv.Healthy = v.Status.Healthy
			mv.LastContact = now
		}
		switch silent, ok := l.silent[v.Member.Name]; {
		case v.Answered && v.Status.Healthy:
			if _, ok := l.seen[v.Member.Name]; !ok {
				l.seen[v.Member.Name] = now
			}
			v.SeenHealthy = now.Sub(l.seen[v.Member.Name])
		case v.Answered, !ok, now.Sub(silent) >= n.cfg.Timings.HeartbeatTimeout:
			// Unhealthy, or silent for a heartbeat timeout: its time
			// starts again. A poll or two lost on a busy machine does
			// not restart it.
			delete(l.seen, v.Member.Name)
		}
		if voters[v.Member.Name] {
			out = append(out, v)
		}
	}
	return out
}

// memberLostAfter is how many heartbeat timeouts a member leaves the
// leader's polls unanswered before it is said lost: long enough that a
// lossy path (whose polls time out now and then) says nothing; the
// cluster still fails over meanwhile, the alert is of one failure less
// to spare.
const memberLostAfter = 30

// silence notes which voters answered this poll, and returns the events of
// those lost (silent for memberLostAfter heartbeat timeouts) or back. A
// member outside Raft's configuration (removed) is not watched.
func (l *leader) silence(views []view, voters map[string]bool, now time.Time) []Event {
	answering := 0
	for _, v := range views {
		if voters[v.Member.Name] && (v.Member.Name == l.n.self.Name || v.Answered) {
			answering++
		}
	}
	after := memberLostAfter * l.n.cfg.Timings.HeartbeatTimeout
	var evs []Event
	for _, v := range views {
		name := v.Member.Name
		switch {
		case name == l.n.self.Name:
		case !voters[name]:
			delete(l.silent, name)
			delete(l.lost, name)
		case v.Answered:
			delete(l.silent, name)
			if l.lost[name] {
				delete(l.lost, name)
				evs = append(evs, Event{Kind: EventMemberBack, Term: l.term, Member: v.Member, Answering: answering, Voters: len(voters)})
			}
		default:
			if _, ok := l.silent[name]; !ok {
				l.silent[name] = now
			}
			if !l.lost[name] && now.Sub(l.silent[name]) >= after {
				l.lost[name] = true
				l.n.log.Warn("member not answering", "member", name, "for", now.Sub(l.silent[name]).Round(time.Millisecond),
					"answering", answering, "voters", len(voters), "term", l.term)
				evs = append(evs, Event{Kind: EventMemberLost, Term: l.term, Member: v.Member, Answering: answering, Voters: len(voters)})
			}
		}
	}
	return evs
}

// sleep waits d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
