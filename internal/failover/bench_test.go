package failover

import (
	"testing"
	"time"
)

// BenchmarkMachineStep is one turn of the state machine of a linked pair's
// failback owner, past its failback check, on a keepalive: the steady
// state, four times a second per node at the defaults.
func BenchmarkMachineStep(b *testing.B) {
	c := testMachine(true)
	c.Keepalive, c.PeerTimeout = 250*time.Millisecond, 2*time.Second
	s := NewState(t0, c)
	now := t0
	step := func(ev Event) []Action {
		var acts []Action
		s, acts = Next(c, s, ev)
		return acts
	}
	step(EvRead{At: now, Record: Record{Content: c.ThisValue}})
	step(EvLinkUp{At: now})
	for now.Sub(t0) <= c.FailbackDelay {
		now = now.Add(c.Keepalive)
		for _, a := range step(EvHeard{At: now, Sent: now, Flags: FlagHealthy}) {
			if e, ok := a.(ActEnsure); ok {
				step(EvDone{At: now, Job: e.Job, Content: e.Content})
			}
		}
	}
	now = now.Add(c.Keepalive)
	if acts := step(EvHeard{At: now, Sent: now, Flags: FlagHealthy}); len(acts) > 0 || !s.link || !s.failbackDone {
		b.Fatalf("not in the steady state: %d actions, link %v, failback done %v", len(acts), s.link, s.failbackDone)
	}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(c.Keepalive)
		s, _ = Next(c, s, EvHeard{At: now, Sent: now, Flags: FlagHealthy})
	}
}
