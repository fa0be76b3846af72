package watchdog

import (
	"testing"
	"time"
)

// BenchmarkHandshake runs both sides of the authenticator over an
// in-memory message pipe: two HMAC proofs each way, no TLS.
func BenchmarkHandshake(b *testing.B) {
	c, s := authPair(testKey, testKey)
	b.ReportAllocs()
	for b.Loop() {
		if cerr, serr := handshake(c, s, cb1, cb1); cerr != nil || serr != nil {
			b.Fatalf("handshake: client %v, server %v", cerr, serr)
		}
	}
}

var benchKeepalive = keepalive{Seq: 12345, Sent: 1e15, Echo: 1e15 - 250e6, Held: 3e6, Flags: flagHealthy | flagActive}

var sinkFrame []byte

func BenchmarkKeepaliveEncode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkFrame = benchKeepalive.encode()
	}
}

func BenchmarkKeepaliveDecode(b *testing.B) {
	frame := benchKeepalive.encode()
	b.ReportAllocs()
	for b.Loop() {
		t, p, err := decodeFrame(frame)
		if err != nil || t != frameKeepalive {
			b.Fatalf("decodeFrame: type %d, %v", t, err)
		}
		k, err := decodeKeepalive(p)
		if err != nil || k != benchKeepalive {
			b.Fatalf("decodeKeepalive: %+v, %v", k, err)
		}
	}
}

// BenchmarkMachineStep is one turn of the state machine of a linked pair's
// failback owner, past its failback check, on a keepalive: the steady
// state, four times a second per node at the defaults.
func BenchmarkMachineStep(b *testing.B) {
	c := testMachine(true)
	c.Keepalive, c.PeerTimeout = 250*time.Millisecond, 2*time.Second
	s := newState(t0, c)
	now := t0
	step := func(ev event) []action {
		var acts []action
		s, acts = next(c, s, ev)
		return acts
	}
	step(evRead{at: now, content: c.ThisValue})
	step(evLinkUp{at: now})
	for now.Sub(t0) <= c.FailbackDelay {
		now = now.Add(c.Keepalive)
		for _, a := range step(evHeard{at: now, flags: flagHealthy}) {
			if e, ok := a.(actEnsure); ok {
				step(evDone{at: now, job: e.job, content: e.content})
			}
		}
	}
	now = now.Add(c.Keepalive)
	if acts := step(evHeard{at: now, flags: flagHealthy}); len(acts) > 0 || !s.link || !s.failbackDone {
		b.Fatalf("not in the steady state: %d actions, link %v, failback done %v", len(acts), s.link, s.failbackDone)
	}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(c.Keepalive)
		s, _ = next(c, s, evHeard{at: now, flags: flagHealthy})
	}
}
