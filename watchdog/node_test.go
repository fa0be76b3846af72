package watchdog

import (
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/internal/failover"
)

// Each test runs two nodes over in-memory connections in a synctest bubble:
// time is fake, so a 30 s failback delay takes no real time, and
// synctest.Wait lets every goroutine settle before the test looks.

func waitLinked(t *testing.T, rs ...*running) {
	t.Helper()
	for range 100 {
		synctest.Wait()
		ok := true
		for _, r := range rs {
			ok = ok && r.node.Status().Peer.State == PeerUp
		}
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("nodes did not link")
}

// waitFor advances fake time in small steps until cond holds, and returns
// how long that took.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		synctest.Wait()
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func recordIs(p *pair, want string) func() bool {
	return func() bool { c, _ := p.store.get(); return c == want }
}

func TestNodeLinkAndSteadyState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(time.Minute)
		synctest.Wait()
		p.store.mu.Lock()
		settled := p.store.reads
		p.store.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := s2.node.Status().Peer.State; got != PeerUp {
			t.Errorf("srv2 sees peer %s, want up", got)
		}
		_, writes := p.store.get()
		if len(writes) != 0 {
			t.Errorf("writes in steady state: %q", writes)
		}
		// One read each at start and one failback check by srv1 (one
		// run in a few hundred makes one more, in the first seconds, as
		// the first keepalives and the start's lookups happen to
		// cross), then none at all.
		p.store.mu.Lock()
		reads := p.store.reads
		p.store.mu.Unlock()
		if settled > 4 || reads != settled {
			t.Errorf("reads: %d in the first minute, want <= 4; %d in the second, want none", settled, reads-settled)
		}
		if got := p.pushes.get(); len(got) != 0 {
			t.Errorf("pushes in steady state: %q", got)
		}
		st := s1.node.Status()
		if st.Record.Content != "srv1" || !st.Record.Active || st.Peer.RTTMillis < 0 {
			t.Errorf("status: %+v", st)
		}
		p.stopAll()
	})
}

func TestNodeCrashFailsOverAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		p.crash(s1) // kill -9 of srv1
		took := waitFor(t, 10*time.Second, recordIs(p, "srv2"))
		if took > 100*time.Millisecond {
			t.Errorf("crash to repointed: %s, want at once", took)
		}
		synctest.Wait()
		want := []string{"[srv2] Server 'srv1' is now down (peer closed the link: shutting down) | The address for 'www.example.com' has been changed to 'srv2'"}
		if got := p.pushes.get(); !reflect.DeepEqual(got, want) && !strings.Contains(strings.Join(got, ""), "changed to 'srv2'") {
			t.Errorf("pushes: got %q, want %q", got, want)
		}
		p.stopAll()
	})
}

func TestNodeHangFailsOverAfterPeerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(3 * time.Second)
		// SIGSTOP of srv1 looks like silence on the link: nothing it sends
		// arrives, not even its close.
		p.net.silence()
		s1.cancel()
		<-s1.done
		took := waitFor(t, 20*time.Second, recordIs(p, "srv2"))
		if took < 4*time.Second || took > 5*time.Second+100*time.Millisecond {
			t.Errorf("hang to repointed: %s, want within (4s, 5.1s]", took)
		}
		if !strings.Contains(s2.log.String(), "ping timeout") {
			t.Errorf("srv2 log lacks the ping timeout:\n%s", s2.log)
		}
		p.stopAll()
	})
}

func TestNodeFailback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		p.crash(s1)
		waitFor(t, 10*time.Second, recordIs(p, "srv2"))
		time.Sleep(20 * time.Second)

		p.start("srv1")
		took := waitFor(t, 40*time.Second, recordIs(p, "srv1"))
		if took < 30*time.Second || took > 31*time.Second {
			t.Errorf("restart to failback: %s, want within [30s, 31s]", took)
		}
		synctest.Wait()
		_, writes := p.store.get()
		if want := []string{"srv2", "srv1"}; !reflect.DeepEqual(writes, want) {
			t.Errorf("writes: got %q, want %q", writes, want)
		}
		got := p.pushes.get()
		if len(got) != 2 || !strings.HasPrefix(got[1], "[srv1] Server 'srv2' is now up | The address for 'www.example.com' has been changed to 'srv1'") {
			t.Errorf("pushes: %q", got)
		}
		if got, want := p.pushes.gotEvents(), []string{failover.AlertDown, failover.AlertUp}; !reflect.DeepEqual(got, want) {
			t.Errorf("events of the pushes: got %q, want %q", got, want)
		}
		p.stopAll()
	})
}

func TestNodeAPIFaultsDelayButDoNotStopFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		p.store.mu.Lock()
		p.store.fail = []error{errAPI, retryAfterErr(3 * time.Second), errAPI, errAPI}
		p.store.mu.Unlock()
		p.crash(s1)
		took := waitFor(t, time.Minute, recordIs(p, "srv2"))
		if took < 3*time.Second {
			t.Errorf("took %s: Retry-After of 3s not honoured", took)
		}
		synctest.Wait()
		got := p.pushes.get()
		if len(got) != 2 || !strings.Contains(got[0], "something went wrong") || !strings.Contains(got[1], "record update delayed") {
			t.Errorf("pushes: %q", got)
		}
		if got, want := p.pushes.gotEvents(), []string{"failed+down", "failed+down"}; !reflect.DeepEqual(got, want) {
			t.Errorf("events of the pushes: got %q, want %q", got, want)
		}
		p.stopAll()
	})
}

func TestNodeLoneStartTakesOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		start := time.Now()
		p.start("srv2")
		waitFor(t, 10*time.Second, recordIs(p, "srv2"))
		if took := time.Since(start); took < 5*time.Second || took > 5100*time.Millisecond {
			t.Errorf("lone start to takeover: %s, want 5s", took)
		}
		p.stopAll()
	})
}

func TestNodeWrongKeyChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		bad := p.config("srv2")
		bad.Key = []byte("a wrong key of sufficient length")
		bad.Store = &memStore{content: "srv1"} // its own takeover is not the pair's
		intruder := p.startWith(bad)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := s1.node.Status().Peer.State; got != PeerUp {
			t.Errorf("srv1 link: %s, want up", got)
		}
		if _, writes := p.store.get(); len(writes) != 0 {
			t.Errorf("writes: %q", writes)
		}
		if !strings.Contains(s1.log.String(), "rejected peer 192.0.2.1: bad proof (wrong key?)") {
			t.Errorf("srv1 log lacks the rejection:\n%s", s1.log)
		}
		intruder.cancel()
		<-intruder.done
		p.stopAll()
	})
}

func TestNodeNewerLinkReplacesStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		// srv2 restarts quickly: its new link replaces the old one, which
		// srv1 has not seen die.
		p.net.mu.Lock()
		old := append([]*faultConn(nil), p.net.conns...)
		p.net.mu.Unlock()
		for _, c := range old {
			c.holed.Store(true)
		}
		s2.cancel()
		<-s2.done
		s2 = p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if _, writes := p.store.get(); len(writes) != 0 {
			t.Errorf("writes: %q", writes)
		}
		if !strings.Contains(s1.log.String(), "event=link_replaced") {
			t.Errorf("srv1 log lacks the replacement:\n%s", s1.log)
		}
		p.stopAll()
	})
}

func TestNodeShutdownIsQuick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		p.net.blackhole() // a stuck peer must not hold the shutdown
		start := time.Now()
		s1.stop(t)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("shutdown took %s", took)
		}
		p.stopAll()
	})
}

func TestNodeDryRunWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, func(c *Config) { c.DryRun = true })
		p.start("srv2")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if c, writes := p.store.get(); c != "srv1" || len(writes) != 0 {
			t.Errorf("dry run wrote: %q %q", c, writes)
		}
		if got := p.pushes.get(); len(got) != 1 {
			t.Errorf("pushes: %q", got)
		}
		p.stopAll()
	})
}

// In a partition both nodes live; whatever the direction of the cut, the
// record is written at most once per episode, and never back and forth,
// drift checks included.
func TestNodePartitionsWriteAtMostOnce(t *testing.T) {
	for _, tt := range []struct {
		name string
		cut  func(*memNet)
	}{
		{"both ways", (*memNet).blackhole},
		{"server to client lost", func(m *memNet) { m.mute(true) }},
		{"client to server lost", func(m *memNet) { m.mute(false) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, func(c *Config) { c.DriftInterval = 20 * time.Second; c.Handover = false })
				s1, s2 := p.start("srv1"), p.start("srv2")
				waitLinked(t, s1, s2)
				time.Sleep(40 * time.Second) // failback done: both know the record is on srv1
				synctest.Wait()
				p.net.mu.Lock()
				p.net.refused = true // new connections fail too
				p.net.mu.Unlock()
				tt.cut(p.net)
				time.Sleep(5 * time.Minute)
				synctest.Wait()
				_, writes := p.store.get()
				t.Logf("writes: %q; pushes: %q", writes, p.pushes.get())
				if len(writes) > 1 {
					t.Errorf("writes in one partition: %q, want at most one", writes)
				}
				for _, r := range []*running{s1, s2} {
					if st := r.node.Status(); st.Peer.State == PeerUp {
						t.Errorf("%s still sees the link up", st.Node)
					}
				}
				p.stopAll()
			})
		})
	}
}

func TestNodeHandoverOnStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, func(c *Config) { c.Handover = true })
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(time.Second)
		start := time.Now()
		s1.cancel() // SIGTERM on the active node
		<-s1.done
		took := time.Since(start)
		if c, _ := p.store.get(); c != "srv2" {
			t.Fatalf("record when srv1 exited: %q, want srv2 (handed over first)", c)
		}
		if took > 5*time.Second {
			t.Errorf("handover took %s, want within 5s", took)
		}
		synctest.Wait()
		if _, writes := p.store.get(); len(writes) != 1 {
			t.Errorf("writes: %q, want one", writes)
		}
		p.stopAll()
	})
}

func TestNodeUnhealthyActiveMovesRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sick atomic.Bool
		p := newPair(t, func(c *Config) {
			if c.This == "srv1" {
				c.Health = func() (bool, string) {
					if sick.Load() {
						return false, "GET /: 503"
					}
					return true, ""
				}
			}
		})
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(2 * time.Second)
		sick.Store(true)
		took := waitFor(t, 5*time.Second, recordIs(p, "srv2"))
		if took > time.Second+100*time.Millisecond {
			t.Errorf("unhealthy to moved: %s, want within a keepalive", took)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if h := s1.node.Status().Health; h.Healthy || h.Reason != "GET /: 503" || h.LastCheck != "failed: GET /: 503" {
			t.Errorf("srv1's health in /status: %+v", h)
		}
		if got := p.pushes.get(); len(got) != 1 || !strings.HasPrefix(got[0], "[srv2] Server 'srv1' reports its service unhealthy | The address") {
			t.Errorf("pushes after the move: %q, want the one announcing it", got)
		}
		sick.Store(false)
		took = waitFor(t, 40*time.Second, recordIs(p, "srv1"))
		if took < 30*time.Second {
			t.Errorf("failback after recovery came after %s, want failback_delay", took)
		}
		if h := s1.node.Status().Health; !h.Healthy || h.LastCheck != "passed" {
			t.Errorf("srv1's health in /status after recovery: %+v", h)
		}
		if got := p.pushes.get(); len(got) != 2 || !strings.HasPrefix(got[1], "[srv1] Service healthy again: record back to 'srv1'") {
			t.Errorf("pushes: %q", got)
		}
		p.stopAll()
	})
}
