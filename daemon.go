package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
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
	"github.com/clooster/clooster/internal/statuspage"
	"github.com/clooster/clooster/notify"
	"github.com/clooster/clooster/rfc2136"
	"github.com/clooster/clooster/watchdog"
)

// runDaemon builds the parts from cfg, runs them until ctx ends and stops
// them within 2 s; with a cluster block, it runs quorum mode (cluster.go). On a signal from src.hup, it reads src's configuration
// again and applies it (reload.go).
func runDaemon(ctx context.Context, cfg *config.Config, logOut io.Writer, src source) error {
	if cfg.ClusterMode() {
		return runCluster(ctx, cfg, logOut, src)
	}
	logger, lc := newControlledLogger(logOut, cfg.Log.Level, cfg.Log.Format, cfg.Secrets())
	for _, w := range cfg.Warnings {
		logger.Warn("configuration: " + w)
	}
	d := &service{src: src, logger: logger, logs: lc, running: cfg, loadedAt: time.Now(), lastOK: time.Now()}

	set, clients, stores, err := buildStores(cfg, logger, nil)
	if err != nil {
		return usageError{err}
	}
	d.set, d.stores, d.clients = set, stores, clients

	d.monitor = &health.Monitor{Check: healthCheck(cfg), Interval: cfg.Health.Interval.D(), Fall: cfg.Health.Fall, Rise: cfg.Health.Rise, Logger: logger}
	d.runner = &hooks.Runner{Commands: hookCommands(cfg), Timeout: cfg.Hooks.Timeout.D(), Logger: logger, Environ: os.Environ()}
	chans, err := channels(cfg)
	if err != nil {
		return usageError{err}
	}
	d.hub = notify.NewHub(chans, logger)
	d.token.Store(&cfg.Status.Token)

	values := setValues(cfg)
	nc := d.nodeConfig(cfg, set)
	nc.Key, nc.Role = []byte(cfg.Key), cfg.Role
	nc.This, nc.Other = cfg.ThisServer, cfg.OtherServer
	nc.DryRun, nc.Logger, nc.Version = cfg.DryRun, logger, buildVersion()
	switch cfg.Role {
	case "server":
		nc.ListenAddr = cfg.ListenAddr()
		nc.PeerAddress = cfg.Server.PeerAddress
		if nc.ServerTLS, err = watchdog.ServerTLS(cfg.TLS.Cert, cfg.TLS.Key); err != nil {
			return err
		}
	case "client":
		nc.DialAddr = cfg.DialAddr()
		host, _, _ := net.SplitHostPort(nc.DialAddr)
		if nc.ClientTLS, err = watchdog.ClientTLS(host, cfg.TLS.CA, cfg.TLS.Fingerprint); err != nil {
			return err
		}
	}
	node, err := watchdog.New(nc)
	if err != nil {
		return err
	}
	d.node = node
	d.publish()

	// The status listener binds before anything runs, so that a taken
	// address is an error at start, not a log line later.
	var statusSrv *http.Server
	var statusLn net.Listener
	if addr := cfg.StatusAddr(); addr != "" {
		statusLn, err = net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("status listener: %w\n  hint: set status.address to a free port, or \"\" to disable it", err)
		}
		extra := newDaemonMetrics(d.apiClients, d.hub, d.runner)
		extra.reload = d.reloadStats
		page := statuspage.Handler(node, statuspage.Options{
			Tokens: func() string { return *d.token.Load() },
			API:    watchdog.StatusHandler(node, extra.WritePrometheus),
			Scrub:  lc.replace,
		})
		statusSrv = &http.Server{Handler: page, ReadHeaderTimeout: 5 * time.Second}
	}

	logger.Info("clooster starting", "version", buildVersion(), "node", cfg.ThisServer, "role", cfg.Role,
		"peer", cfg.OtherServer, "record", values.name, "dry_run", cfg.DryRun)
	logChannels(logger, chans)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if statusSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := statusSrv.Serve(statusLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("status listener stopped", "error", err)
			}
		}()
		logger.Info("status listener up", "addr", statusLn.Addr().String())
	}
	queueCtx, stopQueue := context.WithCancel(context.Background())
	wg.Add(5)
	go func() { defer wg.Done(); d.hub.Run(queueCtx) }()
	go func() { defer wg.Done(); d.monitor.Run(queueCtx) }()
	go func() { defer wg.Done(); d.runner.Run(queueCtx) }()
	go func() { defer wg.Done(); systemdNotify(queueCtx, node, logger) }()
	go func() { defer wg.Done(); trimMemory(queueCtx) }()
	if src.hup != nil {
		wg.Go(func() {
			for {
				select {
				case <-queueCtx.Done():
					return
				case <-src.hup:
					d.reload(queueCtx)
				}
			}
		})
	}

	runErr := node.Run(ctx)
	logger.Info("clooster stopping")
	// Pushes still queued get a last short chance (Run flushes for up to
	// 1 s); the status listener closes at once.
	stopQueue()
	if statusSrv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		statusSrv.Shutdown(sctx)
		scancel()
	}
	wg.Wait()
	return runErr
}

// nodeConfig is what of cfg a node takes, at start and at a reload: the
// timings, the record set (kept in set), the checks, the hooks and the
// channels.
func (d *service) nodeConfig(cfg *config.Config, set *recordset.Set) watchdog.Config {
	values := setValues(cfg)
	nc := watchdog.Config{
		KeepaliveInterval: cfg.KeepaliveInterval.D(),
		PeerTimeout:       cfg.PeerTimeout.D(),
		FailbackDelay:     cfg.FailbackDelay.D(),
		RecordName:        values.name,
		ThisValue:         values.this,
		OtherValue:        values.other,
		OtherKnown:        values.otherKnown,
		Preferred:         values.preferred,
		Store:             set,
		Records:           values.records,
		Settings:          cfg.Settings(),
		RecordStates:      set.States,
		RecordKeys:        recordKeys(cfg),
		DriftInterval:     cfg.DriftCheckInterval.D(),
		Handover:          cfg.Handover(),
		RestartGrace:      cfg.RestartGrace.D(),
		Notifier:          d.hub,
	}
	for _, c := range hookCommands(cfg) {
		if c != "" {
			nc.Hooks = d.runner // else a transition does not log as a hook
		}
	}
	if !healthCheck(cfg).Empty() {
		m := d.monitor
		nc.Health = func() (bool, string) {
			st := m.State()
			return st.Healthy, st.LastErr
		}
	}
	if pc := (health.Check{URL: cfg.PeerCheck.URL, TCP: cfg.PeerCheck.TCP, Timeout: cfg.PeerCheck.Timeout.D()}); !pc.Empty() {
		nc.PeerProbe = pc.Probe
	}
	return nc
}

// healthCheck is cfg's check of this node's own service.
func healthCheck(cfg *config.Config) health.Check {
	return health.Check{URL: cfg.Health.URL, TCP: cfg.Health.TCP, Command: cfg.Health.Command, Timeout: cfg.Health.Timeout.D()}
}

// hookCommands are cfg's hooks, by event.
func hookCommands(cfg *config.Config) map[string]string {
	h := cfg.Hooks
	return map[string]string{"on_active": h.OnActive, "on_standby": h.OnStandby, "on_peer_down": h.OnPeerDown, "on_peer_up": h.OnPeerUp}
}

// logChannels logs each notification channel, and the events it takes.
func logChannels(logger *slog.Logger, chans []notify.Channel) {
	for _, c := range chans {
		events := "all"
		if c.Events != nil {
			events = strings.Join(c.Events, ",")
		}
		logger.Info("notification channel", "channel", c.Name, "service", c.Service, "events", events)
	}
}

// channels are cfg's notification channels: the pushbullet block, then
// the notify list in its order.
func channels(cfg *config.Config) ([]notify.Channel, error) {
	var out []notify.Channel
	if p := cfg.Pushbullet; p != nil {
		t := p.Target
		key := strings.Join([]string{"pushbullet", p.Key, p.APIURL, t.DeviceIden, t.Email, t.ChannelTag, t.ClientIden}, "\x00")
		out = append(out, notify.Channel{Name: "pushbullet", Service: "pushbullet", Shown: "pushbullet block", Sender: pushbullet(cfg), Key: key})
	}
	for i, n := range cfg.Notify {
		u, err := notify.ParseURL(n.URL)
		if err != nil {
			return nil, fmt.Errorf("notify[%d]: %w", i, err) // Load checked it: not reached
		}
		out = append(out, notify.Channel{Name: fmt.Sprintf("notify[%d]", i), Service: u.Service, Shown: u.Redacted,
			Events: n.Events, Sender: notify.Open(u), Key: "notify\x00" + n.URL})
	}
	return out, nil
}

// newLogger returns the daemon's logger. As a last line of defence, every
// string that goes out is scrubbed of the configured secrets.
func newLogger(w io.Writer, level, format string, secrets []string) *slog.Logger {
	l, _ := newControlledLogger(w, level, format, secrets)
	return l
}

// logControl is what a reload changes of the daemon's logger: its level,
// and the secrets it scrubs. Safe from any goroutine.
type logControl struct {
	level slog.LevelVar
	scrub atomic.Pointer[strings.Replacer] // nil: no secrets

	mu      sync.Mutex
	secrets []string
}

// setLevel sets the level to level ("" is info; config validated it).
func (lc *logControl) setLevel(level string) {
	var lv slog.Level
	lv.UnmarshalText([]byte(level))
	lc.level.Set(lv)
}

// addSecrets scrubs secrets too, from now on; the secrets scrubbed before
// still are (a reload may leave them in lines yet to be written).
func (lc *logControl) addSecrets(secrets []string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	n := len(lc.secrets)
	for _, s := range secrets {
		if s != "" && !slices.Contains(lc.secrets, s) {
			lc.secrets = append(lc.secrets, s)
		}
	}
	if len(lc.secrets) > n {
		lc.scrub.Store(scrubber(lc.secrets))
	}
}

// replace scrubs s of the secrets.
func (lc *logControl) replace(s string) string {
	if r := lc.scrub.Load(); r != nil {
		return r.Replace(s)
	}
	return s
}

// newControlledLogger is newLogger, with the control a reload uses.
func newControlledLogger(w io.Writer, level, format string, secrets []string) (*slog.Logger, *logControl) {
	lc := &logControl{}
	lc.setLevel(level)
	lc.addSecrets(secrets)
	opts := &slog.HandlerOptions{
		Level: &lc.level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			scrub := lc.scrub.Load()
			if scrub == nil {
				return a
			}
			switch a.Value.Kind() {
			case slog.KindString:
				return slog.String(a.Key, scrub.Replace(a.Value.String()))
			case slog.KindAny:
				if err, ok := a.Value.Any().(error); ok {
					return slog.String(a.Key, scrub.Replace(err.Error()))
				}
				return slog.String(a.Key, scrub.Replace(a.Value.String()))
			}
			return a
		},
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), lc
	}
	return slog.New(slog.NewTextHandler(w, opts)), lc
}

// recordStores is the record set of cfg as one store: a Cloudflare client
// per Cloudflare record, sharing one HTTP client, the records of one zone
// read and written in batches; an RFC 2136 record per rfc2136 record, each
// on its own, every write a compare-and-swap. The Cloudflare clients are
// returned for their metrics.
func recordStores(cfg *config.Config, logger *slog.Logger) (*recordset.Set, []*cfapi.Client, error) {
	set, clients, _, err := buildStores(cfg, logger, nil)
	return set, clients, err
}

// buildStores is recordStores, reusing the store of each record of cfg
// whose key (recordKey) is in reuse. It returns the Cloudflare clients it
// made, and the store of each record by its key.
func buildStores(cfg *config.Config, logger *slog.Logger, reuse map[string]failover.RecordStore) (*recordset.Set, []*cfapi.Client, map[string]failover.RecordStore, error) {
	hc := cfapi.DefaultHTTPClient()
	stores := map[string]failover.RecordStore{}
	var members []recordset.Member
	var clients []*cfapi.Client
	byZone := map[string][]int{} // Cloudflare members, by zone
	var zones []string
	for i, r := range cfg.RecordSet() {
		key := recordKey(r)
		store, reused := reuse[key]
		switch {
		case reused:
		case r.Provider == config.ProviderRFC2136:
			x := cfg.RFC2136
			rec, err := rfc2136.New(rfc2136.Config{
				Server:        x.Server,
				Zone:          r.Zone,
				TSIGName:      x.TSIGName,
				TSIGSecret:    x.TSIGSecret,
				TSIGAlgorithm: x.TSIGAlgorithm,
				Transport:     x.Transport,
			}, strings.TrimSuffix(r.Name, ".")+".", r.Type)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", r.Label(), err)
			}
			store = rec
		default:
			c, err := cfapi.New(cfapi.Config{
				BaseURL:    cfg.Cloudflare.APIURL,
				Token:      cfg.Cloudflare.Token,
				Key:        cfg.Cloudflare.Key,
				Email:      cfg.Cloudflare.Mail,
				Zone:       r.Zone,
				ZoneID:     r.ZoneID,
				Record:     r.Name,
				Type:       r.Type,
				HTTPClient: hc,
				Logger:     logger,
			})
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", r.Label(), err)
			}
			store = c
			clients = append(clients, c)
		}
		if _, ok := store.(*cfapi.Client); ok {
			z := "id:" + r.ZoneID
			if r.ZoneID == "" {
				z = "name:" + strings.ToLower(strings.TrimSuffix(r.Zone, "."))
			}
			if byZone[z] == nil {
				zones = append(zones, z)
			}
			byZone[z] = append(byZone[z], i)
		}
		stores[key] = store
		members = append(members, recordset.Member{Label: r.Label(), Store: store})
	}
	// The Cloudflare records of one zone are read with one listing and
	// written with one batch.
	var groups []recordset.Group
	for _, z := range zones {
		idx := byZone[z]
		if len(idx) < 2 {
			continue
		}
		var zc []*cfapi.Client
		for _, i := range idx {
			zc = append(zc, members[i].Store.(*cfapi.Client))
		}
		groups = append(groups, recordset.Group{Batcher: cfapi.BatchStore{B: cfapi.NewBatch(zc)}, Members: idx})
	}
	return recordset.New(members, groups...), clients, stores, nil
}

// recordKey names a record with its whole configuration: a record of the
// set a reload loads is the running one if their keys are the same.
func recordKey(r config.Record) string {
	var values []string
	for node, v := range r.Values {
		values = append(values, node+"="+v)
	}
	slices.Sort(values)
	return strings.Join([]string{r.Provider, strings.ToLower(strings.TrimSuffix(r.Zone, ".")), r.ZoneID,
		strings.ToLower(strings.TrimSuffix(r.Name, ".")), r.Type, strings.Join(values, ","), r.Preferred, r.PreferredValue,
		strconv.FormatBool(r.OtherKnown)}, "\x00")
}

// recordKeys are the keys of cfg's records, in order.
func recordKeys(cfg *config.Config) []string {
	var keys []string
	for _, r := range cfg.RecordSet() {
		keys = append(keys, recordKey(r))
	}
	return keys
}

// values are the record set's contents as the decision code sees them:
// each node's value, and the preferred one, of every record, joined.
type values struct {
	name, this, other, preferred string
	otherKnown                   bool
	records                      []watchdog.SetRecord // of a set of several
}

func setValues(cfg *config.Config) values {
	v := values{otherKnown: true}
	var names, this, other, preferred []string
	for _, r := range cfg.RecordSet() {
		names = append(names, r.Name)
		this = append(this, r.Values[cfg.ThisServer])
		other = append(other, r.Values[cfg.OtherServer])
		preferred = append(preferred, r.PreferredValue)
		v.otherKnown = v.otherKnown && r.OtherKnown
	}
	if len(names) > 1 {
		names = names[:0]
		for _, r := range cfg.RecordSet() {
			names = append(names, r.Label())
			v.records = append(v.records, watchdog.SetRecord{Name: r.Name, Type: r.Type,
				ThisValue: r.Values[cfg.ThisServer], OtherValue: r.Values[cfg.OtherServer], Preferred: r.PreferredValue})
		}
	}
	v.name = strings.Join(names, ", ")
	v.this, v.other, v.preferred = recordset.Join(this), recordset.Join(other), recordset.Join(preferred)
	return v
}
