package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/health"
	"github.com/clooster/clooster/internal/hooks"
	"github.com/clooster/clooster/internal/recordset"
	"github.com/clooster/clooster/notify"
	"github.com/clooster/clooster/watchdog"
)

// source is where the daemon's configuration comes from, to read again at
// a reload: the same file and the same environment (whose _FILE variables
// name files read again too).
type source struct {
	path    string   // the file; "" for the environment alone
	environ []string // as the daemon started with
	dryRun  bool     // -dry-run, whatever the file says
	// hup delivers a signal for each reload asked for (SIGHUP); nil:
	// none.
	hup <-chan os.Signal
}

// service is what runDaemon builds around the node, and what a reload
// changes. A reload runs on one goroutine at a time; the metrics read the
// state under mu.
type service struct {
	src     source
	logger  *slog.Logger
	logs    *logControl
	node    *watchdog.Node
	hub     *notify.Hub
	runner  *hooks.Runner
	monitor *health.Monitor
	token   atomic.Pointer[string] // status.token, for the status page

	// Of the reloads' goroutine.
	running *config.Config                  // as it runs: the file as loaded, but what waits for a restart
	set     *recordset.Set                  // the running record set
	stores  map[string]failover.RecordStore // its records' stores, by recordKey

	mu       sync.Mutex
	clients  []*cfapi.Client // every Cloudflare client made, for the metrics
	loadedAt time.Time       // of the running configuration
	reloads  int             // asked for since start
	lastErr  string          // the last reload's, "" if it applied
	pending  []string        // the keys whose change waits for a restart
	lastOK   time.Time       // the last load that applied: the start, or a reload
}

// reload reads the configuration again and, if it is valid, applies what
// changed: live what can be, the rest noted as waiting for a restart, and
// every change logged (event reloaded). If it is not, the daemon runs on
// as it was: the problems are logged (event reload_failed) and pushed
// once (event reload), and /status and the metrics say so.
func (d *service) reload(ctx context.Context) {
	sdNotify(d.logger, "RELOADING=1")
	defer sdNotify(d.logger, "READY=1")
	now := time.Now()
	d.mu.Lock()
	d.reloads++
	d.mu.Unlock()
	d.logger.Info("reloading the configuration", "event", "reload", "from", cmp.Or(d.src.path, "the environment"))

	next, err := config.Load(d.src.path, d.src.environ)
	if err != nil {
		d.fail(err)
		return
	}
	if d.src.dryRun {
		next.DryRun = true
	}
	d.logs.addSecrets(next.Secrets())
	for _, w := range next.Warnings {
		d.logger.Warn("configuration: " + w)
	}
	changes := config.Diff(d.running, next)
	applied := config.Applied(d.running, next)

	// Everything that can fail first, so that a reload applies whole or
	// not at all.
	chans, err := channels(applied)
	if err != nil {
		d.fail(err)
		return
	}
	set, stores := d.set, d.stores
	var made []*cfapi.Client
	if !slices.Equal(recordKeys(applied), recordKeys(d.running)) {
		if set, made, stores, err = buildStores(applied, d.logger, d.stores); err != nil {
			d.fail(err)
			return
		}
	}
	nc := d.nodeConfig(applied, set)

	d.hub.Replace(chans)
	d.runner.Set(hookCommands(applied), applied.Hooks.Timeout.D())
	if h, r := applied.Health, d.running.Health; healthCheck(applied) != healthCheck(d.running) ||
		h.Interval != r.Interval || h.Fall != r.Fall || h.Rise != r.Rise {
		d.monitor.Reconfigure(healthCheck(applied), h.Interval.D(), h.Fall, h.Rise)
	}
	d.logs.setLevel(applied.Log.Level)
	d.token.Store(&applied.Status.Token)
	if err := d.node.Reload(ctx, nc); err != nil {
		d.logger.Warn("configuration reload cut short: the node is stopping", "event", "reload_failed", "error", err)
		return
	}
	d.running, d.set, d.stores = applied, set, stores

	for _, c := range changes {
		if c.Live {
			d.logger.Info("configuration changed", "event", "reloaded", "key", c.Key, "old", c.Old, "new", c.New, "applies", "live")
		} else {
			d.logger.Warn("configuration change waits for a restart", "event", "reloaded", "key", c.Key, "old", c.Old, "new", c.New,
				"applies", "waits for a restart")
		}
	}
	if len(changes) == 0 {
		d.logger.Info("configuration reloaded: nothing changed", "event", "reloaded")
	}
	d.mu.Lock()
	d.clients = append(d.clients, made...)
	d.loadedAt, d.lastOK, d.lastErr = now, now, ""
	d.pending = config.Pending(config.Diff(applied, next))
	d.mu.Unlock()
	d.publish()
}

// fail keeps the running configuration after a reload that could not
// load: each problem logged at ERROR with its key path, one push.
func (d *service) fail(err error) {
	var problems []string
	var ce *config.Error
	if errors.As(err, &ce) {
		lines := strings.Split(ce.Error(), "\n")
		for i, p := range ce.Problems {
			line := p.String()
			if i < len(lines) {
				line = lines[i] // a syntax error's line and column
			}
			problems = append(problems, line)
			d.logger.Error("configuration reload failed, running on the old configuration: "+line,
				"event", "reload_failed", "key", p.Key)
		}
	} else {
		problems = append(problems, err.Error())
		d.logger.Error("configuration reload failed, running on the old configuration", "event", "reload_failed", "error", err)
	}
	d.mu.Lock()
	d.lastErr = strings.Join(problems, "; ")
	loaded := d.loadedAt
	d.mu.Unlock()
	title := fmt.Sprintf("[%s] Configuration reload failed", d.running.ThisServer)
	body := fmt.Sprintf("The configuration of '%s' could not be loaded again; it runs on the one loaded at %s.\n\n%s",
		d.running.ThisServer, loaded.Format(time.RFC3339), strings.Join(problems, "\n"))
	d.hub.Notify([]string{failover.AlertReload}, title, d.logs.replace(body))
	d.publish()
}

// publish tells /status what it shows of the configuration.
func (d *service) publish() {
	d.mu.Lock()
	st := watchdog.ConfigStatus{LoadedAt: d.loadedAt, Reloads: d.reloads, LastError: d.lastErr, PendingRestart: d.pending}
	d.mu.Unlock()
	d.node.SetConfigStatus(st)
}

// reloadStats are the last load's: whether it applied, and when the last
// one that did was.
func (d *service) reloadStats() (ok bool, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastErr == "", d.lastOK
}

// apiClients are the Cloudflare clients made so far.
func (d *service) apiClients() []*cfapi.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.clients)
}
