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
	"strings"
	"sync"
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
// them within 2 s.
func runDaemon(ctx context.Context, cfg *config.Config, logOut io.Writer) error {
	logger := newLogger(logOut, cfg.Log.Level, cfg.Log.Format, cfg.Secrets())
	for _, w := range cfg.Warnings {
		logger.Warn("configuration: " + w)
	}

	set, clients, err := recordStores(cfg, logger)
	if err != nil {
		return usageError{err}
	}

	values := setValues(cfg)
	nc := watchdog.Config{
		This:              cfg.ThisServer,
		Other:             cfg.OtherServer,
		Key:               []byte(cfg.Key),
		Role:              cfg.Role,
		KeepaliveInterval: cfg.KeepaliveInterval.D(),
		PeerTimeout:       cfg.PeerTimeout.D(),
		FailbackDelay:     cfg.FailbackDelay.D(),
		RecordName:        values.name,
		ThisValue:         values.this,
		OtherValue:        values.other,
		OtherKnown:        values.otherKnown,
		Preferred:         values.preferred,
		DryRun:            cfg.DryRun,
		Store:             set,
		Records:           values.records,
		Settings:          cfg.Settings(),
		RecordStates:      set.States,
		Logger:            logger,
		Version:           buildVersion(),
		DriftInterval:     cfg.DriftCheckInterval.D(),
		Handover:          cfg.Handover(),
		RestartGrace:      cfg.RestartGrace.D(),
	}
	var monitor *health.Monitor
	if hc := (health.Check{URL: cfg.Health.URL, TCP: cfg.Health.TCP, Command: cfg.Health.Command, Timeout: cfg.Health.Timeout.D()}); !hc.Empty() {
		monitor = &health.Monitor{Check: hc, Interval: cfg.Health.Interval.D(), Fall: cfg.Health.Fall, Rise: cfg.Health.Rise, Logger: logger}
		nc.Health = func() (bool, string) {
			st := monitor.State()
			return st.Healthy, st.LastErr
		}
	}
	if pc := (health.Check{URL: cfg.PeerCheck.URL, TCP: cfg.PeerCheck.TCP, Timeout: cfg.PeerCheck.Timeout.D()}); !pc.Empty() {
		nc.PeerProbe = pc.Probe
	}
	var runner *hooks.Runner
	if h := cfg.Hooks; h.OnActive != "" || h.OnStandby != "" || h.OnPeerDown != "" || h.OnPeerUp != "" {
		runner = &hooks.Runner{
			Commands: map[string]string{"on_active": h.OnActive, "on_standby": h.OnStandby, "on_peer_down": h.OnPeerDown, "on_peer_up": h.OnPeerUp},
			Timeout:  h.Timeout.D(),
			Logger:   logger,
			Environ:  os.Environ(),
		}
		nc.Hooks = runner
	}
	var hub *notify.Hub
	chans, err := channels(cfg)
	if err != nil {
		return usageError{err}
	}
	if len(chans) > 0 {
		hub = notify.NewHub(chans, logger)
		nc.Notifier = hub
	}
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

	// The status listener binds before anything runs, so that a taken
	// address is an error at start, not a log line later.
	var statusSrv *http.Server
	var statusLn net.Listener
	if addr := cfg.StatusAddr(); addr != "" {
		statusLn, err = net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("status listener: %w\n  hint: set status.address to a free port, or \"\" to disable it", err)
		}
		extra := newDaemonMetrics(clients, hub, runner)
		page := statuspage.Handler(node, statuspage.Options{
			Token: cfg.Status.Token,
			API:   watchdog.StatusHandler(node, extra.WritePrometheus),
			Scrub: scrubber(cfg.Secrets()).Replace,
		})
		statusSrv = &http.Server{Handler: page, ReadHeaderTimeout: 5 * time.Second}
	}

	logger.Info("clooster starting", "version", buildVersion(), "node", cfg.ThisServer, "role", cfg.Role,
		"peer", cfg.OtherServer, "record", values.name, "dry_run", cfg.DryRun)
	for _, c := range chans {
		events := "all"
		if c.Events != nil {
			events = strings.Join(c.Events, ",")
		}
		logger.Info("notification channel", "channel", c.Name, "service", c.Service, "events", events)
	}

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
	if hub != nil {
		wg.Add(1)
		go func() { defer wg.Done(); hub.Run(queueCtx) }()
	}
	if monitor != nil {
		wg.Add(1)
		go func() { defer wg.Done(); monitor.Run(queueCtx) }()
	}
	if runner != nil {
		wg.Add(1)
		go func() { defer wg.Done(); runner.Run(queueCtx) }()
	}

	wg.Add(2)
	go func() { defer wg.Done(); systemdNotify(queueCtx, node, logger) }()
	go func() { defer wg.Done(); trimMemory(queueCtx) }()

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

// channels are cfg's notification channels: the pushbullet block, then
// the notify list in its order.
func channels(cfg *config.Config) ([]notify.Channel, error) {
	var out []notify.Channel
	if cfg.Pushbullet != nil {
		out = append(out, notify.Channel{Name: "pushbullet", Service: "pushbullet", Shown: "pushbullet block", Sender: pushbullet(cfg)})
	}
	for i, n := range cfg.Notify {
		u, err := notify.ParseURL(n.URL)
		if err != nil {
			return nil, fmt.Errorf("notify[%d]: %w", i, err) // Load checked it: not reached
		}
		out = append(out, notify.Channel{Name: fmt.Sprintf("notify[%d]", i), Service: u.Service, Shown: u.Redacted,
			Events: n.Events, Sender: notify.Open(u)})
	}
	return out, nil
}

// newLogger returns the daemon's logger. As a last line of defence, every
// string that goes out is scrubbed of the configured secrets.
func newLogger(w io.Writer, level, format string, secrets []string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(level)) // validated by config; "" is info
	var scrub *strings.Replacer
	if len(secrets) > 0 {
		scrub = scrubber(secrets)
	}
	opts := &slog.HandlerOptions{
		Level: lv,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
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
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// recordStores is the record set of cfg as one store: a Cloudflare client
// per Cloudflare record, sharing one HTTP client, the records of one zone
// read and written in batches; an RFC 2136 record per rfc2136 record, each
// on its own, every write a compare-and-swap. The Cloudflare clients are
// returned for their metrics.
func recordStores(cfg *config.Config, logger *slog.Logger) (*recordset.Set, []*cfapi.Client, error) {
	hc := cfapi.DefaultHTTPClient()
	var members []recordset.Member
	var clients []*cfapi.Client
	byZone := map[string][]int{} // Cloudflare members, by zone
	var zones []string
	for i, r := range cfg.RecordSet() {
		var store failover.RecordStore
		switch r.Provider {
		case config.ProviderRFC2136:
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
				return nil, nil, fmt.Errorf("%s: %w", r.Label(), err)
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
				return nil, nil, fmt.Errorf("%s: %w", r.Label(), err)
			}
			store = c
			clients = append(clients, c)
			z := "id:" + r.ZoneID
			if r.ZoneID == "" {
				z = "name:" + strings.ToLower(strings.TrimSuffix(r.Zone, "."))
			}
			if byZone[z] == nil {
				zones = append(zones, z)
			}
			byZone[z] = append(byZone[z], i)
		}
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
	return recordset.New(members, groups...), clients, nil
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
