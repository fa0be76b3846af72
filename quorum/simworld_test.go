package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/clooster/clooster/quorum"
	"github.com/hashicorp/raft"
)

// election is a member's winning of a term, as its events said.
type election struct {
	At   time.Time
	Term uint64
	Name string
}

// simMember is one member of the simulated cluster: its stores outlive
// its process, as a daemon's state_dir does.
type simMember struct {
	m      quorum.Member
	stores *quorum.Stores

	// while running
	trans  *simTransport
	node   *quorum.Node
	cancel context.CancelFunc
	done   chan error

	unhealthy    int // faults making it unhealthy now
	healthySince time.Time
	frozen       int
}

// world is the cluster under test and everything outside it: the
// network between the members, the DNS provider, the members' health.
// Only the test's goroutine changes it (ops); the members' goroutines
// read it under mu.
type world struct {
	timings  quorum.Timings
	failback time.Duration
	drift    time.Duration
	plant    func(*quorum.Config)

	mu       sync.Mutex
	members  []*simMember
	cut      map[[2]int]int // a → b cut by that many faults
	dns      []*fakeDNS     // www (fenced), api (plain), mail (swap)
	elected  []election
	events   map[string][]quorum.EventKind
	full     map[string][]quorum.Event
	restarts int
}

func newWorld(members []quorum.Member, failback, drift time.Duration, rng *rand.Rand) *world {
	timings, _ := quorum.Preset("lan")
	w := &world{timings: timings, failback: failback, drift: drift, cut: map[[2]int]int{}, events: map[string][]quorum.EventKind{}, full: map[string][]quorum.Event{}}
	for _, m := range members {
		w.members = append(w.members, &simMember{m: m, stores: quorum.InmemStores(), healthySince: time.Now()})
	}
	for _, kind := range []storeKind{kindFenced, kindPlain, kindSwap} {
		d := &fakeDNS{kind: kind, rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), content: "192.0.2.99"}
		w.dns = append(w.dns, d)
	}
	return w
}

// value is what record r holds when member name leads.
func value(r int, name string) string { return fmt.Sprintf("%s.%d", name, r) }

func (w *world) records(self string) []quorum.Record {
	var out []quorum.Record
	for i, d := range w.dns {
		vals := map[string]string{}
		for _, m := range w.members {
			if m.m.Role == quorum.RoleNode {
				vals[m.m.Name] = value(i, m.m.Name)
			}
		}
		out = append(out, quorum.Record{Name: []string{"www", "api", "mail"}[i], Store: d.client(self), Values: vals})
	}
	return out
}

// linked: a and b can talk both ways.
func (w *world) linked(a, b int) bool {
	return w.cut[[2]int{a, b}] == 0 && w.cut[[2]int{b, a}] == 0 &&
		w.members[a].frozen == 0 && w.members[b].frozen == 0
}

func (w *world) index(name string) int {
	return slices.IndexFunc(w.members, func(m *simMember) bool { return m.m.Name == name })
}

type simStatuses struct {
	w    *world
	from int
}

func (s simStatuses) Status(ctx context.Context, m quorum.Member) (quorum.MemberStatus, error) {
	w := s.w
	w.mu.Lock()
	to := w.index(m.Name)
	ok := w.linked(s.from, to)
	node := w.members[to].node
	w.mu.Unlock()
	if !ok {
		<-ctx.Done()
		return quorum.MemberStatus{}, ctx.Err()
	}
	if node == nil {
		return quorum.MemberStatus{}, errors.New("connection refused")
	}
	t := time.NewTimer(5 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return quorum.MemberStatus{}, ctx.Err()
	case <-t.C:
	}
	return node.Local(), nil
}

type simEvents struct {
	w    *world
	self string
}

func (s simEvents) Event(e quorum.Event) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.events[s.self] = append(s.w.events[s.self], e.Kind)
	s.w.full[s.self] = append(s.w.full[s.self], e)
	if e.Kind == quorum.EventLeaderChanged && e.Leader == s.self {
		s.w.elected = append(s.w.elected, election{At: time.Now(), Term: e.Term, Name: s.self})
	}
}

// start starts member i's process with the state its stores hold.
func (w *world) start(i int) {
	sm := w.members[i]
	trans := newSimTransport(raft.ServerAddress(sm.m.Address), time.Second)
	var ms []quorum.Member
	for _, m := range w.members {
		ms = append(ms, m.m)
	}
	cfg := quorum.Config{
		Members:            ms,
		Self:               sm.m.Name,
		Timings:            w.timings,
		FailbackDelay:      w.failback,
		DriftCheckInterval: w.drift,
		APITimeout:         w.timings.API,
		Records:            w.records(sm.m.Name),
		Health: quorum.HealthFunc(func() (bool, time.Time) {
			w.mu.Lock()
			defer w.mu.Unlock()
			return sm.unhealthy == 0, sm.healthySince
		}),
		Statuses:  simStatuses{w: w, from: i},
		Transport: trans,
		Stores:    sm.stores,
		Events:    simEvents{w: w, self: sm.m.Name},
	}
	if w.plant != nil {
		w.plant(&cfg)
	}
	node, err := quorum.New(cfg)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	w.mu.Lock()
	sm.trans, sm.node, sm.cancel, sm.done = trans, node, cancel, done
	w.mu.Unlock()
	w.rewire()
}

// crash stops member i's process; its stores stay.
func (w *world) crash(i int) error {
	sm := w.members[i]
	if sm.node == nil {
		return nil
	}
	sm.cancel()
	err := <-sm.done
	sm.trans.close()
	w.mu.Lock()
	sm.node, sm.trans = nil, nil
	w.mu.Unlock()
	w.rewire()
	return err
}

// rewire makes the transports match the cuts and freezes.
func (w *world) rewire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for a, ma := range w.members {
		if ma.trans == nil {
			continue
		}
		ma.trans.setFrozen(ma.frozen > 0)
		for b, mb := range w.members {
			if a == b {
				continue
			}
			addr := raft.ServerAddress(mb.m.Address)
			if mb.trans == nil || w.cut[[2]int{a, b}] > 0 {
				ma.trans.inner.Disconnect(addr)
			} else {
				ma.trans.inner.Connect(addr, mb.trans.inner)
			}
		}
	}
}

func (w *world) setHealth(i, delta int) {
	w.mu.Lock()
	sm := w.members[i]
	was := sm.unhealthy
	sm.unhealthy += delta
	if was > 0 && sm.unhealthy == 0 {
		sm.healthySince = time.Now()
	}
	w.mu.Unlock()
}

func (w *world) setCut(a, b, delta int) {
	w.mu.Lock()
	w.cut[[2]int{a, b}] += delta
	w.mu.Unlock()
	w.rewire()
}

func (w *world) setFrozen(i, delta int) {
	w.mu.Lock()
	w.members[i].frozen += delta
	w.mu.Unlock()
	w.rewire()
}

// nodes are the members' running processes (nil: down).
func (w *world) nodes() []*quorum.Node {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*quorum.Node, len(w.members))
	for i, sm := range w.members {
		out[i] = sm.node
	}
	return out
}

// leader is the member that leads with a quorum now, if one does.
func (w *world) leader() (int, bool) {
	for i, node := range w.nodes() {
		if node == nil {
			continue
		}
		if st := node.Status(); st.State == raft.Leader.String() && st.Quorum {
			return i, true
		}
	}
	return 0, false
}

// eventsOf returns the kinds of the events member name raised so far.
func (w *world) eventsOf(name string) []quorum.EventKind {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events[name])
}

// eventsFull returns the events of kind member name raised so far.
func (w *world) eventsFull(name string, kind quorum.EventKind) []quorum.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []quorum.Event
	for _, e := range w.full[name] {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// waitFor polls cond every second for at most d, and reports whether it
// held.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		if cond() {
			return true
		}
	}
	return cond()
}

// running: every member but skip (-1: none) runs Raft (past a
// restart's wait).
func (w *world) running(skip int) bool {
	for i, node := range w.nodes() {
		if i == skip {
			continue
		}
		if node == nil {
			return false
		}
		if st := node.Status().State; st == "" || st == raft.Shutdown.String() {
			return false
		}
	}
	return true
}

// holds: every record holds member i's values.
func (w *world) holds(i int) bool {
	for r, d := range w.dns {
		if c, _ := d.snapshot(); c != value(r, w.members[i].m.Name) {
			return false
		}
	}
	return true
}
