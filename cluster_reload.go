package main

// This file is a quorum member's reload (SIGHUP): what can change live is
// applied, the rest waits for a restart and is said so.

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/failover"
)

// clusterLive reports whether a change of key applies live in quorum mode:
// the log level, the channels, the health check, the hooks and the
// status token (as Diff says: with the same status address). The rest of
// what Diff calls live in a pair (the timings, the records) is the
// quorum node's, made once at start: it waits for a restart.
func clusterLive(c config.Change) bool {
	if !c.Live {
		return false
	}
	for _, p := range []string{"log.level", "status.token", "notify", "pushbullet.", "health.", "hooks."} {
		if strings.HasPrefix(c.Key, p) {
			return true
		}
	}
	return false
}

// clusterApplied is what a member runs after a reload from running to
// next: running, with next's value of what applies live.
func clusterApplied(running, next *config.Config) *config.Config {
	out := *running
	for _, c := range config.Diff(running, next) {
		if !clusterLive(c) {
			continue
		}
		switch k := c.Key; {
		case k == "log.level":
			out.Log.Level = next.Log.Level
		case k == "status.token":
			out.Status.Token = next.Status.Token
		case strings.HasPrefix(k, "notify"), strings.HasPrefix(k, "pushbullet."):
			out.Notify, out.Pushbullet = next.Notify, next.Pushbullet
		case strings.HasPrefix(k, "health."):
			out.Health = next.Health
		case strings.HasPrefix(k, "hooks."):
			out.Hooks = next.Hooks
		}
	}
	return &out
}

// clusterPending are the keys of the changes from running to next that
// wait for a restart in quorum mode.
func clusterPending(running, next *config.Config) []string {
	var out []string
	for _, c := range config.Diff(running, next) {
		if !clusterLive(c) {
			out = append(out, c.Key)
		}
	}
	return out
}

// reload reads the configuration again and, if it is valid, applies what
// can change live; the rest is logged and shown as waiting for a restart.
// If it is not valid, the member runs on as it was: the problems are
// logged and pushed once (event reload).
func (m *member) reload() {
	sdNotify(m.logger, "RELOADING=1")
	defer sdNotify(m.logger, "READY=1")
	now := time.Now()
	m.mu.Lock()
	m.reloads++
	m.mu.Unlock()
	m.logger.Info("reloading the configuration", "event", "reload", "from", cmp.Or(m.src.path, "the environment"))

	next, err := config.Load(m.src.path, m.src.environ)
	if err != nil {
		m.fail(err)
		return
	}
	if m.src.dryRun {
		next.DryRun = true
	}
	m.logs.addSecrets(next.Secrets())
	for _, w := range next.Warnings {
		m.logger.Warn("configuration: " + w)
	}
	applied := clusterApplied(m.running, next)
	chans, err := channels(applied)
	if err != nil {
		m.fail(err)
		return
	}
	m.hub.Replace(chans)
	m.runner.Set(hookCommands(applied), applied.Hooks.Timeout.D())
	if m.monitor != nil {
		if h, r := applied.Health, m.running.Health; healthCheck(applied) != healthCheck(m.running) ||
			h.Interval != r.Interval || h.Fall != r.Fall || h.Rise != r.Rise {
			m.monitor.Reconfigure(healthCheck(applied), h.Interval.D(), h.Fall, h.Rise)
			m.unchecked.Store(healthCheck(applied).Empty())
		}
	}
	m.logs.setLevel(applied.Log.Level)
	m.token.Store(&applied.Status.Token)

	changes := config.Diff(m.running, next)
	for _, c := range changes {
		if clusterLive(c) {
			m.logger.Info("configuration changed", "event", "reloaded", "key", c.Key, "old", c.Old, "new", c.New, "applies", "live")
		} else {
			m.logger.Warn("configuration change waits for a restart", "event", "reloaded", "key", c.Key, "old", c.Old, "new", c.New,
				"applies", "waits for a restart")
		}
	}
	if len(changes) == 0 {
		m.logger.Info("configuration reloaded: nothing changed", "event", "reloaded")
	}
	m.running = applied
	m.mu.Lock()
	m.loadedAt, m.lastOK, m.lastErr = now, now, ""
	m.pending = clusterPending(applied, next)
	m.mu.Unlock()
}

// fail keeps the running configuration after a reload that could not
// load: each problem logged at ERROR with its key path, one push.
func (m *member) fail(err error) {
	var problems []string
	var ce *config.Error
	if errors.As(err, &ce) {
		lines := strings.Split(ce.Error(), "\n")
		for i, p := range ce.Problems {
			line := p.String()
			if i < len(lines) {
				line = lines[i]
			}
			problems = append(problems, line)
			m.logger.Error("configuration reload failed, running on the old configuration: "+line, "event", "reload_failed", "key", p.Key)
		}
	} else {
		problems = append(problems, err.Error())
		m.logger.Error("configuration reload failed, running on the old configuration", "event", "reload_failed", "error", err)
	}
	m.mu.Lock()
	m.lastErr = strings.Join(problems, "; ")
	loaded := m.loadedAt
	m.mu.Unlock()
	name := m.self.Name
	title := fmt.Sprintf("[%s] Configuration reload failed", name)
	body := fmt.Sprintf("The configuration of '%s' could not be loaded again; it runs on the one loaded at %s.\n\n%s",
		name, loaded.Format(time.RFC3339), strings.Join(problems, "\n"))
	m.hub.Notify([]string{failover.AlertReload}, title, m.logs.replace(body))
}

// reloadStats are the last load's: whether it applied, and when the last
// one that did was.
func (m *member) reloadStats() (ok bool, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr == "", m.lastOK
}
