//go:build unix

package e2e

import (
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakechat"
	"github.com/clooster/clooster/internal/pairtest"
	"github.com/clooster/clooster/watchdog"
)

// TestReload: systemctl reload (SIGHUP) on a running, linked pair. srv1's
// file is edited to send its alerts to ntfy instead of Pushbullet, to
// check its service's port and to own one more record, which the
// Cloudflare stand-in already points at srv1: the reload applies all of
// it without a record write and without dropping the link, and the next
// alert srv1 sends (the record sets now differ) goes to ntfy. An invalid
// file leaves srv1 running as it was, with one push and /status and the
// metrics saying so. Then both nodes are reloaded, in either order.
func TestReload(t *testing.T) {
	e2eTest(t)
	ntfyUser, ntfyPass := "alerts", pairtest.NewSecret("ntfy-pass-")
	chat, err := fakechat.Start(fakechat.Config{NtfyUser: ntfyUser, NtfyPassword: ntfyPass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chat.Close)
	ntfy := "ntfy://" + ntfyUser + ":" + ntfyPass + "@" + strings.TrimPrefix(chat.URL, "http://") + "/alerts?scheme=http"
	service := serviceListener(t)

	p := pairtest.NewPair(t, fastTiming)
	www := map[string]any{"name": pairtest.Record, "type": "CNAME"}
	api := map[string]any{"name": "api.example.com", "type": "CNAME"}
	p.F.CF.AddRecord(p.F.ZoneID, fakecf.Record{Name: "api.example.com", Type: "CNAME", Content: srv1, TTL: 60})
	p.Srv1.Records, p.Srv2.Records = []any{www}, []any{www}
	paths := map[string]string{"srv1": p.Srv1.WriteConfig(t), "srv2": p.Srv2.WriteConfig(t)}
	secrets := []pairtest.Secret{{Name: "ntfy password", Value: ntfyPass}}
	procs := map[string]*pairtest.Proc{}
	for name, n := range map[string]pairtest.Node{"srv1": p.Srv1, "srv2": p.Srv2} {
		procs[name] = bin.Start(t, pairtest.Cmd{Label: n.Label, Status: n.Status, Secrets: append(n.Secrets(), secrets...),
			Args: []string{paths[name]}})
	}
	a, b := procs["srv1"], procs["srv2"]
	pairtest.WaitLinked(t, 10*time.Second, a, b)
	time.Sleep(fastTiming.FailbackDelay + time.Second) // past the failback check
	// rewrite writes n's file anew, without its pushbullet block if drop,
	// and sends SIGHUP; then it waits until the node says it took it.
	rewrite := func(name string, n pairtest.Node, drop bool, extra ...pairtest.Member) {
		t.Helper()
		var o pairtest.Obj
		for _, m := range n.Config() {
			if !(drop && m.Key == "pushbullet") {
				o = append(o, m)
			}
		}
		o = append(o, extra...)
		if err := os.WriteFile(paths[name], []byte(pairtest.RelaxedJSON(name+", reloaded", o)), 0o600); err != nil {
			t.Fatal(err)
		}
		proc := procs[name]
		before := statusOf(t, proc).Config.Reloads
		proc.Signal(t, syscall.SIGHUP)
		pairtest.WaitFor(t, 5*time.Second, name+" reloaded", func() bool {
			st, err := proc.Status()
			return err == nil && st.Config != nil && st.Config.Reloads == before+1
		})
	}
	// unmoved checks what no reload may change: the link as each node
	// sees it, and the record, never written.
	since := map[string]time.Time{"srv1": statusOf(t, a).Peer.Since, "srv2": statusOf(t, b).Peer.Since}
	links := map[string]float64{"srv1": metric(t, a, "clooster_links_total"), "srv2": metric(t, b, "clooster_links_total")}
	unmoved := func(when string) {
		t.Helper()
		for name, proc := range procs {
			st := statusOf(t, proc)
			if st.Peer.State != watchdog.PeerUp || !st.Peer.Since.Equal(since[name]) {
				t.Errorf("%s: %s sees the peer %s since %v, want up since %v", when, name, st.Peer.State, st.Peer.Since, since[name])
			}
			if got := metric(t, proc, "clooster_links_total"); got != links[name] {
				t.Errorf("%s: %s made %v links, then %v: the link was dropped", when, name, links[name], got)
			}
		}
		if w := p.F.CF.Writes(); len(w) != 0 {
			t.Errorf("%s: record writes %+v, want none", when, w)
		}
	}
	srv1Pushes := func() int { return p.F.PushesWith("[" + srv1 + "]") }
	pushedBefore := srv1Pushes()
	if st := statusOf(t, a); st.Config == nil || st.Config.Reloads != 0 || st.Config.LastError != "" || len(st.Config.PendingRestart) != 0 {
		t.Errorf("/status config at start: %+v", st.Config)
	}

	// 1. srv1: ntfy for Pushbullet, a health check, one more record.
	reloadedAt := time.Now()
	p.Srv1.Records = []any{www, api}
	srv1Live := []pairtest.Member{
		{Key: "notify", Val: []any{ntfy}},
		{Key: "health", Val: pairtest.Obj{{Key: "tcp", Val: service}, {Key: "interval", Val: "1s"}}},
	}
	rewrite("srv1", p.Srv1, true, srv1Live...)
	pairtest.WaitFor(t, 5*time.Second, "srv1 owning two records", func() bool { return len(statusOf(t, a).Records) == 2 })
	st := statusOf(t, a)
	if c := st.Config; c.LastError != "" || len(c.PendingRestart) != 0 || c.LoadedAt.Before(reloadedAt) {
		t.Errorf("/status config after the reload: %+v", c)
	}
	if !st.Health.Checked || !st.Health.Healthy || !st.Record.Active || st.Records[1].Content != srv1 {
		t.Errorf("/status after the reload: health %+v, record %+v, records %+v", st.Health, st.Record, st.Records)
	}
	for _, want := range []string{`event=reloaded key=notify[0]`, `event=reloaded key=pushbullet.key`, `event=reloaded key=health.tcp`,
		`event=reloaded key="records[api.example.com CNAME]"`, `event=records_changed`} {
		waitLog(t, a, want)
	}
	if got := metric(t, a, "clooster_config_last_reload_successful"); got != 1 {
		t.Errorf("clooster_config_last_reload_successful %v, want 1", got)
	}
	okAt := metric(t, a, "clooster_config_last_reload_success_timestamp_seconds")
	if okAt < float64(reloadedAt.Unix()) {
		t.Errorf("clooster_config_last_reload_success_timestamp_seconds %v, before the reload at %d", okAt, reloadedAt.Unix())
	}
	// The next alert, srv1's word that the two record sets differ, goes
	// to ntfy, none to Pushbullet.
	pairtest.WaitFor(t, 5*time.Second, "srv1's next alert on ntfy", func() bool { return ntfyWith(chat, "["+srv1+"] Record sets differ") == 1 })
	if n := srv1Pushes(); n != pushedBefore {
		t.Errorf("srv1 pushed %d alerts to Pushbullet after the reload, want none", n-pushedBefore)
	}
	unmoved("after srv1's reload")

	// 2. An invalid file: srv1 runs on as it was; one push, on ntfy.
	rewrite("srv1", p.Srv1, true, append(srv1Live, pairtest.Member{Key: "peer_timeout", Val: "100ms"})...)
	st = statusOf(t, a)
	if c := st.Config; !strings.Contains(c.LastError, "peer_timeout: must be > keepalive_interval") || c.Reloads != 2 {
		t.Errorf("/status config after an invalid reload: %+v", c)
	}
	waitLog(t, a, `event=reload_failed key=peer_timeout`)
	if got := metric(t, a, "clooster_config_last_reload_successful"); got != 0 {
		t.Errorf("clooster_config_last_reload_successful %v after an invalid reload, want 0", got)
	}
	if got := metric(t, a, "clooster_config_last_reload_success_timestamp_seconds"); got != okAt {
		t.Errorf("clooster_config_last_reload_success_timestamp_seconds %v, want the last success's %v", got, okAt)
	}
	// (The text, not the title: the ntfy client of shoutrrr 0.13 sends
	// each message with the title of its first.)
	failedPush := "The configuration of '" + srv1 + "' could not be loaded again"
	pairtest.WaitFor(t, 5*time.Second, "the failed reload's push", func() bool { return ntfyWith(chat, failedPush) == 1 })
	time.Sleep(time.Second) // room for a stray push
	if n := ntfyWith(chat, failedPush); n != 1 {
		t.Errorf("%d pushes of the failed reload, want 1", n)
	}
	if ntfyWith(chat, "peer_timeout: must be > keepalive_interval") != 1 {
		t.Errorf("the failed reload's push does not name the problem")
	}
	unmoved("after an invalid reload")

	// 3. Both nodes, srv2 first: it owns the second record too (the
	// sets agree again), srv1's file is valid again and changes
	// log.format, which waits for a restart.
	p.Srv2.Records = []any{www, api}
	rewrite("srv2", p.Srv2, false)
	p.Srv1.LogFormat = "json"
	rewrite("srv1", p.Srv1, true, srv1Live...)
	pairtest.WaitFor(t, 5*time.Second, "the record sets' mismatch cleared on both", func() bool {
		return !hasProblem(statusOf(t, a), "records_mismatch") && !hasProblem(statusOf(t, b), "records_mismatch") && len(statusOf(t, b).Records) == 2
	})
	st = statusOf(t, a)
	if c := st.Config; c.LastError != "" || !slices.Equal(c.PendingRestart, []string{"log.format"}) {
		t.Errorf("/status config: %+v, want no error, log.format waiting for a restart", c)
	}
	waitLog(t, a, `msg="configuration change waits for a restart" event=reloaded key=log.format`)
	unmoved("after both reloads, srv2 first")

	// Then srv1 first: a shorter failback_delay on both.
	tm := fastTiming
	tm.FailbackDelay = 2 * time.Second
	p.Srv1.Timing, p.Srv2.Timing = tm, tm
	rewrite("srv1", p.Srv1, true, srv1Live...)
	rewrite("srv2", p.Srv2, false)
	for name, proc := range procs {
		waitLog(t, proc, `event=reloaded key=failback_delay old="\"3s\"" new="\"2s\""`)
		if c := statusOf(t, proc).Config; c.LastError != "" {
			t.Errorf("%s: /status config %+v", name, c)
		}
	}
	time.Sleep(time.Second)
	unmoved("after both reloads, srv1 first")
	if n := ntfyWith(chat, failedPush); n != 1 {
		t.Errorf("%d pushes of a failed reload in all, want 1", n)
	}
}

// serviceListener is a port that accepts connections, for a health check
// of type tcp; it closes when the test ends.
func serviceListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// waitLog waits for p's output to show s: what the process writes
// reaches the test through a pipe, a moment later.
func waitLog(t *testing.T, p *pairtest.Proc, s string) {
	t.Helper()
	pairtest.WaitFor(t, 2*time.Second, p.Label+"'s log line "+s, func() bool { return strings.Contains(p.Log(), s) })
}

func statusOf(t *testing.T, p *pairtest.Proc) watchdog.Status {
	t.Helper()
	st, err := p.Status()
	if err != nil {
		t.Fatalf("%s: %v", p.Label, err)
	}
	return st
}

func metric(t *testing.T, p *pairtest.Proc, name string) float64 {
	t.Helper()
	v, err := p.Metric(name)
	if err != nil {
		t.Fatalf("%s: %v", p.Label, err)
	}
	return v
}

func hasProblem(st watchdog.Status, kind string) bool {
	return slices.ContainsFunc(st.Link.Problems, func(p failover.Problem) bool { return p.Kind == kind })
}

// ntfyWith counts the ntfy messages whose title or text contains s.
func ntfyWith(chat *fakechat.Server, s string) int {
	n := 0
	for _, m := range chat.Messages() {
		if m.Service == fakechat.Ntfy && strings.Contains(m.Title+"\n"+m.Text, s) {
			n++
		}
	}
	return n
}
