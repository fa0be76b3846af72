package quorum

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/hashicorp/raft"
)

// Record is one DNS record the cluster keeps on its leader's value.
type Record struct {
	Name string
	// Store is the record at its provider. If it is also a
	// failover.Swapper, every write is conditional on what was read; if
	// it is also a Fencer, the write carries the leader's term too.
	Store failover.RecordStore
	// Values is the content the record holds when each node member leads,
	// by member name (a witness has none).
	Values map[string]string
}

// Health is this member's own health, as its checks see it.
type Health interface {
	// Healthy says whether the member's service passes its checks now,
	// and since when without a break (zero if not healthy).
	Healthy() (ok bool, since time.Time)
}

// HealthFunc adapts a function to Health.
type HealthFunc func() (bool, time.Time)

// Healthy calls f.
func (f HealthFunc) Healthy() (bool, time.Time) { return f() }

// StatusSource asks another member what it says of itself (the control
// protocol). An error, or no answer before ctx ends, makes that member
// not eligible to lead for this round.
type StatusSource interface {
	Status(ctx context.Context, m Member) (MemberStatus, error)
}

// DefaultAPITimeout is the lan preset's API timeout: a write needs that
// much of its lease left, and the lan preset's lease is 950 ms. A Config
// whose APITimeout is 0 runs its preset's (Timings.API).
const DefaultAPITimeout = 800 * time.Millisecond

// Config is what a Node is made of.
type Config struct {
	Members []Member
	Self    string // the name of this member, one of Members
	Timings Timings
	// FailbackDelay is how long a node of better priority than the
	// leader must have been healthy, and seen so by the leader on every
	// poll it answered (none silent for a heartbeat timeout), before
	// leadership is handed to it.
	FailbackDelay time.Duration
	// DriftCheckInterval is how often the leader re-reads every record
	// and corrects it; 0 turns drift checks off.
	DriftCheckInterval time.Duration
	// APITimeout bounds each call to a store; a write needs at least this
	// much of the lease left. It must be shorter than Timings.Lease();
	// DefaultAPITimeout is.
	APITimeout time.Duration
	Records    []Record
	Health     Health
	Statuses   StatusSource
	Transport  raft.Transport
	Stores     *Stores
	Logger     *slog.Logger // nil: discard
	RaftLog    io.Writer    // Raft's own log, warnings and errors; nil: discard
	Events     EventSink    // nil: none
	// Now is the clock of the lease and of health streaks; nil: time.Now.
	// It must be the clock Go's timers run on.
	Now func() time.Time
	// Jitter draws in [0, k) for the retry backoff; nil: rand.Int64N.
	Jitter func(k int64) int64

	planted mutant
}

// Node is one member of a quorum cluster: it runs Raft, and while it
// leads (a node member, healthy, with a quorum) it brings the records to
// its values and hands leadership to the best node when the policy says.
//
// Run runs it, once: a restart is a new Node on the same Stores. Status
// and Local may be called from any goroutine at any time, during Run or
// not.
type Node struct {
	cfg   Config
	self  Member
	lease time.Duration
	log   *slog.Logger

	evMu sync.Mutex // one Event call at a time

	mu  sync.Mutex
	r   *raft.Raft // while Run runs
	st  Status
	rec []RecordStatus
}

// New checks cfg and returns the node it describes, not yet running.
func New(cfg Config) (*Node, error) {
	var errs []error
	idx := slices.IndexFunc(cfg.Members, func(m Member) bool { return m.Name == cfg.Self })
	if idx < 0 {
		errs = append(errs, fmt.Errorf("self: %q is not a member", cfg.Self))
	}
	names := map[string]bool{}
	for _, m := range cfg.Members {
		if names[m.Name] {
			errs = append(errs, fmt.Errorf("members: %q listed twice", m.Name))
		}
		names[m.Name] = true
		if m.Role != RoleNode && m.Role != RoleWitness {
			errs = append(errs, fmt.Errorf("members: %q: role must be node or witness (got %q)", m.Name, m.Role))
		}
	}
	if cfg.APITimeout == 0 {
		cfg.APITimeout = cfg.Timings.API
	}
	if err := cfg.Timings.validate(cfg.APITimeout); err != nil {
		errs = append(errs, err)
	}
	if cfg.Transport == nil || cfg.Stores == nil || cfg.Health == nil || cfg.Statuses == nil {
		errs = append(errs, errors.New("transport, stores, health and statuses are required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Int64N
	}
	n := &Node{
		cfg:   cfg,
		self:  cfg.Members[idx],
		lease: cfg.Timings.Lease(),
		log:   cfg.Logger.With("component", "quorum"),
	}
	n.st.Self = n.self.Name
	for _, m := range cfg.Members {
		n.st.Members = append(n.st.Members, MemberView{Member: m})
	}
	for _, r := range cfg.Records {
		n.rec = append(n.rec, RecordStatus{Name: r.Name})
	}
	return n, nil
}

func (n *Node) event(e Event) {
	if e.At.IsZero() {
		e.At = n.cfg.Now()
	}
	if n.cfg.Events != nil {
		n.evMu.Lock()
		defer n.evMu.Unlock()
		n.cfg.Events.Event(e)
	}
}

// Run starts Raft, bootstrapping the cluster from the member list if the
// stores hold no state, and runs the node until ctx ends; it then shuts
// Raft down and returns nil. A member whose stores hold state waits one
// of its heartbeat timeouts before it starts: a vote it could grant at
// once would void a lease it acknowledged before it stopped.
func (n *Node) Run(ctx context.Context) error {
	st := n.cfg.Stores
	has, err := raft.HasExistingState(st.Log, st.Stable, st.Snapshots)
	if err != nil {
		return fmt.Errorf("read raft state: %w", err)
	}
	if has {
		t := time.NewTimer(n.cfg.Timings.For(n.self.Role).HeartbeatTimeout)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	r, err := raft.NewRaft(raftConfig(n.self, n.cfg.Timings, n.cfg.RaftLog), fsm{}, st.Log, st.Stable, st.Snapshots, n.cfg.Transport)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	if !has {
		var servers []raft.Server
		for _, m := range n.cfg.Members {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Address)})
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			r.Shutdown()
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	n.mu.Lock()
	n.r = r
	n.mu.Unlock()

	obsCh := make(chan raft.Observation, 16)
	obs := raft.NewObserver(obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(obs)

	started := n.cfg.Now()
	quorum := true // no alert before the first election has had its time
	grace := 2*n.cfg.Timings.HeartbeatTimeout + n.cfg.Timings.ElectionTimeout
	// An ordinary failover leaves the survivors without a leader for an
	// election or two: only a quorum missing for longer than a few is
	// lost, and said so.
	lostFor := quorumLostAfter * n.cfg.Timings.HeartbeatTimeout
	var missing time.Time // since when no quorum; zero while held
	// The status's view of Raft, and the quorum's debounce: twice a
	// heartbeat timeout is fresh enough for both, and an idle member
	// wakes for little else than Raft's heartbeats.
	tick := time.NewTicker(n.cfg.Timings.HeartbeatTimeout / 2)
	defer tick.Stop()

	var stopLead func()
	endLead := func() {
		if stopLead != nil {
			stopLead()
			stopLead = nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			r.DeregisterObserver(obs)
			shut := r.Shutdown()
			endLead()
			err := shut.Error()
			n.mu.Lock()
			n.r = nil
			n.st.Leader, n.st.State, n.st.Quorum = "", raft.Shutdown.String(), false
			n.mu.Unlock()
			if err != nil {
				return fmt.Errorf("shut raft down: %w", err)
			}
			return nil
		case leading := <-r.LeaderCh():
			if !leading && n.cfg.mutant(mutantFollowerWrites) {
				continue
			}
			endLead()
			if leading {
				stopLead = n.startLead(ctx, r)
			}
		case o := <-obsCh:
			lo := o.Data.(raft.LeaderObservation)
			n.mu.Lock()
			n.st.Leader = string(lo.LeaderID)
			n.st.LeaderChanges++
			n.mu.Unlock()
			term := r.CurrentTerm()
			n.log.Info("leader changed", "leader", string(lo.LeaderID), "term", term)
			n.event(Event{Kind: EventLeaderChanged, Term: term, Leader: string(lo.LeaderID)})
		case <-tick.C:
			now := n.cfg.Now()
			held := n.quorumHeld(r, now)
			n.mu.Lock()
			n.st.Quorum = held
			n.st.Term = r.CurrentTerm()
			n.st.State = r.State().String()
			_, id := r.LeaderWithID()
			n.st.Leader = string(id)
			n.mu.Unlock()
			switch {
			case held:
				missing = time.Time{}
			case missing.IsZero():
				missing = now
			}
			if held != quorum && (held || now.Sub(started) >= grace && now.Sub(missing) >= lostFor) {
				quorum = held
				kind := EventQuorumRegained
				if !held {
					kind = EventQuorumLost
					n.log.Warn("quorum lost")
				} else {
					n.log.Info("quorum regained")
				}
				n.event(Event{Kind: kind, Term: r.CurrentTerm(), Voters: len(n.Voters())})
			}
		}
	}
}

// quorumLostAfter is how many heartbeat timeouts without a quorum make it
// lost: an election takes one to three of them, so a failover is not a
// loss (10 s at the lan preset, 30 s at wan).
const quorumLostAfter = 10

// quorumHeld: a leader has heard from a majority within its leader lease
// (else Raft steps it down); a follower knows a leader and heard from it
// within the lease.
func (n *Node) quorumHeld(r *raft.Raft, now time.Time) bool {
	if r.State() == raft.Leader {
		return true
	}
	_, id := r.LeaderWithID()
	return id != "" && now.Sub(r.LastContact()) < n.lease
}

// startLead runs the leader's work for the term just won until the stop
// function it returns is called (which waits for it to end).
func (n *Node) startLead(ctx context.Context, r *raft.Raft) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	l := newLeader(n, r, r.CurrentTerm())
	n.log.Info("leading", "term", l.term)
	go func() {
		defer close(done)
		l.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// Local is what this member says of itself over the control protocol.
func (n *Node) Local() MemberStatus {
	ok, since := n.cfg.Health.Healthy()
	s := MemberStatus{Name: n.self.Name, Role: n.self.Role, Healthy: ok}
	if ok && !since.IsZero() {
		s.HealthyFor = n.cfg.Now().Sub(since)
	}
	n.mu.Lock()
	if n.r != nil {
		s.LastIndex = n.r.LastIndex()
	}
	n.mu.Unlock()
	return s
}

// mutant names a fault planted on purpose, to show that the simulator
// catches it (export_test.go); none is ever set outside the tests.
type mutant string

// mutantFollowerWrites: a deposed leader goes on writing, without
// VerifyLeader, until its process stops.
const mutantFollowerWrites mutant = "follower-writes"

// mutantSkipVerify: writes without VerifyLeader (the lease counted from
// the write's start).
const mutantSkipVerify mutant = "skip-verify"

func (c *Config) mutant(m mutant) bool { return c.planted == m }
