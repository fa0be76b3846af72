package watchdog

import (
	"testing"
	"testing/synctest"
	"time"
)

// A restart of the active node (SIGUSR2) asks the peer to keep the record
// where it is for restart_grace; back in time, nothing is written. One
// that does not come back costs the grace, then a takeover as for any
// lost peer.
func TestNodeRestart(t *testing.T) {
	grace := func(c *Config) { c.Handover = true; c.RestartGrace = 20 * time.Second }
	t.Run("back within the grace: no write", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPair(t, grace)
			s1, s2 := p.start("srv1"), p.start("srv2")
			waitLinked(t, s1, s2)
			time.Sleep(40 * time.Second) // failback done
			synctest.Wait()
			s1.restart()
			<-s1.done // up to 5 s here: the in-memory connections have no buffers
			if s1.err != nil {
				t.Fatalf("run: %v", s1.err)
			}
			synctest.Wait()
			st := s2.node.Status()
			if st.Peer.RestartBy.IsZero() || st.Peer.State == PeerDown {
				t.Errorf("peer while it restarts: %s, restart by %v; want not down, a restart time", st.Peer.State, st.Peer.RestartBy)
			}
			time.Sleep(10 * time.Second) // the peer's grace is 20 s from the BYE
			s1 = p.start("srv1")
			waitLinked(t, s1, s2)
			time.Sleep(2 * time.Minute)
			synctest.Wait()
			if c, writes := p.store.get(); c != "srv1" || len(writes) != 0 {
				t.Errorf("record %q, writes %q; want srv1 and none", c, writes)
			}
			if got := p.pushes.get(); len(got) != 0 {
				t.Errorf("pushes %q, want none", got)
			}
			if !s2.node.Status().Peer.RestartBy.IsZero() {
				t.Error("linked again: the peer still shown as restarting")
			}
		})
	})
	t.Run("not back: a takeover once the grace is out", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPair(t, grace)
			s1, s2 := p.start("srv1"), p.start("srv2")
			waitLinked(t, s1, s2)
			time.Sleep(40 * time.Second)
			synctest.Wait()
			start := time.Now()
			s1.restart()
			<-s1.done
			p.net.reset()
			waitFor(t, time.Minute, recordIs(p, "srv2"))
			if took := time.Since(start); took < 20*time.Second || took > 21*time.Second {
				t.Errorf("taken over %s after the restart began, want just after the 20s grace", took)
			}
			if _, writes := p.store.get(); len(writes) != 1 {
				t.Errorf("writes %q, want one", writes)
			}
			_ = s2
		})
	})
	t.Run("no grace: a restart is a stop, handed over", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPair(t, func(c *Config) { c.Handover = true })
			s1, s2 := p.start("srv1"), p.start("srv2")
			waitLinked(t, s1, s2)
			time.Sleep(time.Second)
			s1.restart()
			<-s1.done
			if c, _ := p.store.get(); c != "srv2" {
				t.Errorf("record when srv1 exited: %q, want srv2 (handed over)", c)
			}
		})
	})
}

// A BYE(restart) carries its grace in milliseconds before the text; one
// too short for it is refused; a grace beyond 32 bits is sent as the
// largest.
func TestByeRestart(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   bye
		want bye
	}{
		{"a grace", bye{Code: byeRestart, Reason: "restarting", Restart: 30 * time.Second}, bye{Code: byeRestart, Reason: "restarting", Restart: 30 * time.Second}},
		{"sub-millisecond parts dropped", bye{Code: byeRestart, Reason: "r", Restart: 1500 * time.Microsecond}, bye{Code: byeRestart, Reason: "r", Restart: time.Millisecond}},
		{"too long for 32 bits", bye{Code: byeRestart, Reason: "r", Restart: 100 * 24 * time.Hour}, bye{Code: byeRestart, Reason: "r", Restart: 4294967295 * time.Millisecond}},
		{"a plain BYE carries none", bye{Code: byeShutdown, Reason: "shutting down", Restart: time.Second}, bye{Code: byeShutdown, Reason: "shutting down"}},
	} {
		_, p, err := decodeFrame(tt.in.encode())
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got, err := decodeBye(p); err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	if _, err := decodeBye([]byte{byeRestart, 3, 0, 0, 1}); err == nil {
		t.Error("a BYE(restart) without room for its grace was taken")
	}
}
