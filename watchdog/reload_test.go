package watchdog

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

// reload hands r's node c, or fails the test.
func reload(t *testing.T, r *running, c Config) {
	t.Helper()
	if err := r.node.Reload(t.Context(), c); err != nil {
		t.Fatalf("reload: %v", err)
	}
	synctest.Wait()
}

// linksOf is how many links r's node has made.
func linksOf(r *running) uint64 { return r.node.met.linkUps.Get() }

// A reload shortens a failback under way: srv1, back after a crash, fails
// back the new failback_delay after the link came up, over the same link.
func TestReloadShortensFailback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		p.crash(s1)
		waitFor(t, 10*time.Second, recordIs(p, "srv2"))

		s1 = p.start("srv1")
		waitLinked(t, s1, s2)
		up := time.Now()
		links := linksOf(s1)
		time.Sleep(10 * time.Second)
		c := p.config("srv1")
		c.FailbackDelay = 15 * time.Second
		reload(t, s1, c)
		waitFor(t, 30*time.Second, recordIs(p, "srv1"))
		if took := time.Since(up); took < 15*time.Second || took > 16*time.Second {
			t.Errorf("link up to failback: %s, want within [15s, 16s]", took)
		}
		if got := linksOf(s1); got != links {
			t.Errorf("links made: %d, then %d: the reload dropped the link", links, got)
		}
		p.stopAll()
	})
}

// A shorter peer_timeout, given while the peer is already silent for
// longer, ends the silence at once.
func TestReloadShorterPeerTimeoutDuringSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(3 * time.Second)
		p.net.silence()
		s1.cancel()
		<-s1.done
		time.Sleep(2 * time.Second)
		if c, _ := p.store.get(); c != "srv1" {
			t.Fatalf("record %q after 2 s of silence, want srv1 still", c)
		}
		c := p.config("srv2")
		c.PeerTimeout = 1500 * time.Millisecond
		reload(t, s2, c)
		took := waitFor(t, 10*time.Second, recordIs(p, "srv2"))
		if took > 100*time.Millisecond {
			t.Errorf("reload to takeover: %s, want at once", took)
		}
		if !strings.Contains(s2.log.String(), "ping timeout") {
			t.Errorf("srv2 log lacks the ping timeout:\n%s", s2.log)
		}
		p.stopAll()
	})
}

// A reload that changes a setting the two files compare sends the INFO
// again on the link: both nodes say the mismatch, and both clear it when
// the reload is undone. The link stays up all along, and nothing is
// written.
func TestReloadSendsInfoAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(time.Second)
		since1, since2 := s1.node.Status().Peer.Since, s2.node.Status().Peer.Since
		links1, links2 := linksOf(s1), linksOf(s2)
		problem := func(r *running) bool {
			return slices.ContainsFunc(r.node.Status().Link.Problems, func(p failover.Problem) bool { return p.Kind == failover.ProblemSettings })
		}

		c := p.config("srv2")
		c.PeerTimeout = 12 * time.Second
		reload(t, s2, c)
		waitFor(t, 5*time.Second, func() bool { return problem(s1) && problem(s2) })
		for _, r := range []*running{s1, s2} {
			if what := r.node.Status().Link.Problem.What; !strings.Contains(what, "peer_timeout") {
				t.Errorf("problem %q, want it to name peer_timeout", what)
			}
		}

		reload(t, s2, p.config("srv2"))
		waitFor(t, 5*time.Second, func() bool { return !problem(s1) && !problem(s2) })
		if got := s1.node.Status().Peer.Since; !got.Equal(since1) {
			t.Errorf("srv1 sees the peer up since %v, then %v", since1, got)
		}
		if got := s2.node.Status().Peer.Since; !got.Equal(since2) {
			t.Errorf("srv2 sees the peer up since %v, then %v", since2, got)
		}
		if linksOf(s1) != links1 || linksOf(s2) != links2 {
			t.Errorf("links made changed: the reload dropped the link")
		}
		if _, writes := p.store.get(); len(writes) != 0 {
			t.Errorf("writes: %q, want none", writes)
		}
		if got := p.pushes.gotEvents(); !slices.Equal(got, []string{failover.AlertMismatch, failover.AlertMismatch}) {
			t.Errorf("pushes of events %q, want one mismatch each", got)
		}
		p.stopAll()
	})
}

// A shorter keepalive_interval is taken by the link under way.
func TestReloadRetimesTheLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, nil)
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(10 * time.Second)
		before := s2.node.met.keepalives.Get()
		time.Sleep(10 * time.Second)
		perTen := s2.node.met.keepalives.Get() - before

		for _, name := range []string{"srv1", "srv2"} {
			c := p.config(name)
			c.KeepaliveInterval, c.PeerTimeout = 250*time.Millisecond, 1250*time.Millisecond
			reload(t, map[string]*running{"srv1": s1, "srv2": s2}[name], c)
		}
		before = s2.node.met.keepalives.Get()
		time.Sleep(10 * time.Second)
		if got := s2.node.met.keepalives.Get() - before; got < 3*perTen {
			t.Errorf("keepalives in 10 s: %d before the reload, %d after, want about 4 times as many", perTen, got)
		}
		if s2.node.Status().Peer.State != PeerUp {
			t.Errorf("peer %s after the reload", s2.node.Status().Peer.State)
		}
		p.stopAll()
	})
}

// setReload is the configuration of name with a records block of the pair's
// record, www.example.com, and an A record added, kept in api.
func setReload(p *pair, name string, api *memStore) Config {
	c := p.config(name)
	this, other := "192.0.2.1", "192.0.2.2"
	if name == "srv2" {
		this, other = other, this
	}
	c.Records = []SetRecord{
		{Name: "www.example.com", Type: "CNAME", ThisValue: c.This, OtherValue: c.Other, Preferred: "srv1"},
		{Name: "api.example.com", Type: "A", ThisValue: this, OtherValue: other, Preferred: "192.0.2.1"},
	}
	c.RecordName = "www.example.com CNAME, api.example.com A"
	c.ThisValue = recordset.Join([]string{c.This, this})
	c.OtherValue, c.OtherKnown = recordset.Join([]string{c.Other, other}), true
	c.Preferred = recordset.Join([]string{"srv1", "192.0.2.1"})
	c.RecordKeys = []string{"www", "api"}
	set := recordset.New([]recordset.Member{{Label: "www.example.com CNAME", Store: p.store}, {Label: "api.example.com A", Store: api}})
	c.Store, c.RecordStates = set, set.States
	return c
}

func TestReloadRecordSet(t *testing.T) {
	for _, tc := range []struct {
		name       string
		node       string // the node reloaded
		api        string // what the record added holds
		wantAPI    string
		wantWrites int
	}{
		{"the set points here, the record added too: nothing written", "srv1", "192.0.2.1", "192.0.2.1", 0},
		{"the set points here: the record added is written this node's value", "srv1", "192.0.2.9", "192.0.2.1", 1},
		{"the set points at the peer: the record added is written the peer's value", "srv2", "192.0.2.9", "192.0.2.1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPair(t, func(c *Config) { c.RecordKeys = []string{"www"} })
				s1, s2 := p.start("srv1"), p.start("srv2")
				waitLinked(t, s1, s2)
				time.Sleep(time.Second)
				r := map[string]*running{"srv1": s1, "srv2": s2}[tc.node]
				since := r.node.Status().Peer.Since
				api := &memStore{content: tc.api}
				reload(t, r, setReload(p, tc.node, api))
				waitFor(t, 5*time.Second, func() bool { return len(r.node.Status().Records) == 2 })
				synctest.Wait()
				if got, writes := api.get(); got != tc.wantAPI || len(writes) != tc.wantWrites {
					t.Errorf("the record added holds %q after writes %q, want %q after %d", got, writes, tc.wantAPI, tc.wantWrites)
				}
				if api.reads != 1 {
					t.Errorf("the record added was read %d times, want once", api.reads)
				}
				if _, writes := p.store.get(); len(writes) != 0 {
					t.Errorf("the record kept was written: %q", writes)
				}
				st := r.node.Status()
				if want := tc.node == "srv1"; st.Record.Active != want {
					t.Errorf("active %v, want %v: %+v", st.Record.Active, want, st.Record)
				}
				if st.Records[1].Name != "api.example.com" || st.Records[1].Content != tc.wantAPI {
					t.Errorf("/status records[1] = %+v", st.Records[1])
				}
				if !st.Peer.Since.Equal(since) {
					t.Errorf("the link came up again: up since %v, then %v", since, st.Peer.Since)
				}
				if !strings.Contains(r.log.String(), "event=records_changed") {
					t.Errorf("log lacks records_changed:\n%s", r.log)
				}
				p.stopAll()
			})
		})
	}
}

// A record removed from the set is left as it is, no longer read.
func TestReloadRecordRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &memStore{content: "192.0.2.1"}
		p := newPair(t, nil)
		p.cfg = func(c *Config) {
			if c.This == "srv1" {
				p.cfg = nil
				*c = setReload(p, "srv1", api)
			}
		}
		s1, s2 := p.start("srv1"), p.start("srv2")
		waitLinked(t, s1, s2)
		time.Sleep(time.Second)
		one := p.config("srv1")
		one.RecordKeys = []string{"www"}
		reload(t, s1, one)
		waitFor(t, 5*time.Second, func() bool { return len(s1.node.Status().Records) == 1 })
		reads := api.reads
		time.Sleep(time.Minute)
		if got, writes := api.get(); got != "192.0.2.1" || len(writes) != 0 || api.reads != reads {
			t.Errorf("the record removed: %q, writes %q, reads %d then %d", got, writes, reads, api.reads)
		}
		if !strings.Contains(s1.log.String(), "event=record_removed record=\"api.example.com A\"") {
			t.Errorf("log lacks the record removed:\n%s", s1.log)
		}
		p.stopAll()
	})
}
