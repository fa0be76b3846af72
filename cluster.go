package main

// This file runs quorum mode (a cluster block): the member's TLS port
// (quorum.Transport), its Raft node (quorum.Node) with the records and
// their stores, its health, its alerts and hooks, its status listener,
// systemd's notifications, reloads, and a stopping leader's hand-over.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clooster/clooster/cfapi"
	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/health"
	"github.com/clooster/clooster/internal/hooks"
	"github.com/clooster/clooster/notify"
	"github.com/clooster/clooster/quorum"
	"github.com/clooster/clooster/watchdog"
)

// handOverLimit bounds a stopping leader's hand-over: asking the members
// their status, and the election of the one it hands leadership to.
const handOverLimit = 2 * time.Second

// member is what runCluster builds around the quorum node, and what a
// reload changes. A reload runs on one goroutine at a time; the status
// and the metrics read the state under mu.
type member struct {
	src     source
	logger  *slog.Logger
	logs    *logControl
	self    quorum.Member
	node    *quorum.Node
	hub     *notify.Hub
	runner  *hooks.Runner
	monitor *health.Monitor // nil for a witness: it checks nothing
	clients []*cfapi.Client
	token   atomic.Pointer[string] // status.token
	// unchecked: no health check is configured (always healthy).
	unchecked atomic.Bool
	started   time.Time
	dryRun    bool

	// Of the reloads' goroutine.
	running *config.Config

	mu       sync.Mutex
	loadedAt time.Time
	reloads  int
	lastErr  string
	pending  []string
	lastOK   time.Time
}

// runCluster is runDaemon in quorum mode: it builds the member from cfg,
// runs it until ctx ends, then, if it leads and handover_on_stop is on,
// hands leadership to the best eligible node (within handOverLimit)
// before it stops Raft.
func runCluster(ctx context.Context, cfg *config.Config, logOut io.Writer, src source) error {
	logger, lc := newControlledLogger(logOut, cfg.Log.Level, cfg.Log.Format, cfg.Secrets())
	for _, w := range cfg.Warnings {
		logger.Warn("configuration: " + w)
	}
	now := time.Now()
	m := &member{src: src, logger: logger, logs: lc, self: cfg.Self(), running: cfg, started: now, loadedAt: now, lastOK: now, dryRun: cfg.DryRun}
	m.token.Store(&cfg.Status.Token)

	// Everything that can fail on the configuration first, then the
	// state directory, then the ports: nothing is left half made.
	stores := map[string]failover.RecordStore{}
	if !cfg.Witness() {
		_, clients, s, err := buildStores(cfg, logger, nil)
		if err != nil {
			return usageError{err}
		}
		stores, m.clients = s, clients
		if cfg.DryRun {
			for _, r := range cfg.RecordSet() {
				k := recordKey(r)
				stores[k] = &dryRunStore{RecordStore: stores[k], log: logger, name: r.Label()}
			}
		}
		m.unchecked.Store(healthCheck(cfg).Empty())
		m.monitor = &health.Monitor{Check: healthCheck(cfg), Interval: cfg.Health.Interval.D(), Fall: cfg.Health.Fall, Rise: cfg.Health.Rise, Logger: logger}
	}
	m.runner = &hooks.Runner{Commands: hookCommands(cfg), Timeout: cfg.Hooks.Timeout.D(), Logger: logger, Environ: os.Environ()}
	chans, err := channels(cfg)
	if err != nil {
		return usageError{err}
	}
	m.hub = notify.NewHub(chans, logger)
	serverTLS, err := watchdog.ServerTLS(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return err
	}
	clientTLS, err := watchdog.ClientTLS("", cfg.TLS.CA, cfg.TLS.Fingerprint)
	if err != nil {
		return err
	}
	alerts := newClusterAlerts(cfg, m.hub, m.runner, lc.replace)
	qc, err := nodeConfig(cfg, stores, memberHealth(m.monitor))
	if err != nil {
		return usageError{err}
	}
	qc.Logger, qc.RaftLog, qc.Events = logger, &raftLog{log: logger}, alerts

	release, err := lockStateDir(cfg.StateDir())
	if err != nil {
		return err
	}
	defer release()
	rstores, err := quorum.OpenStores(cfg.StateDir(), qc.RaftLog)
	if err != nil {
		return fmt.Errorf("state_dir %s: %w", cfg.StateDir(), err)
	}
	defer rstores.Close()
	qc.Stores = rstores

	ln, err := net.Listen("tcp", cfg.ClusterListen())
	if err != nil {
		return fmt.Errorf("cluster listener: %w\n  hint: this member listens on the port of its cluster.nodes[].address (or cluster.listen); is another process on it?", err)
	}
	var node atomic.Pointer[quorum.Node]
	trans, err := quorum.NewTransport(quorum.TransportConfig{
		Self: cfg.ThisServer, Members: cfg.Members(), Key: []byte(cfg.Key),
		ServerTLS: serverTLS, ClientTLS: clientTLS, Listener: ln,
		Status: func() quorum.MemberStatus {
			var s quorum.MemberStatus
			if n := node.Load(); n != nil {
				s = n.Local()
			}
			s.Name, s.Role, s.Version = m.self.Name, m.self.Role, buildVersion()
			return s
		},
		AddVoter: func(ctx context.Context, name, address string) error {
			return node.Load().AddVoter(ctx, name, address)
		},
		RemoveServer: func(ctx context.Context, name string) error {
			return node.Load().RemoveServer(ctx, name)
		},
		KeyRefused: alerts.keyRefused,
		Log:        logger,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("cluster transport: %w", err)
	}
	qc.Transport, qc.Statuses = trans.Raft(), trans
	n, err := quorum.New(qc)
	if err != nil {
		trans.Close()
		return usageError{err}
	}
	node.Store(n)
	m.node = n

	// The status listener binds before anything runs, so that a taken
	// address is an error at start, not a log line later.
	var statusSrv *http.Server
	var statusLn net.Listener
	if addr := cfg.StatusAddr(); addr != "" {
		statusLn, err = net.Listen("tcp", addr)
		if err != nil {
			trans.Close()
			return fmt.Errorf("status listener: %w\n  hint: set status.address to a free port, or \"\" to disable it", err)
		}
		statusSrv = &http.Server{Handler: m.handler(), ReadHeaderTimeout: 5 * time.Second}
	}

	logger.Info("clooster starting", "version", buildVersion(), "node", cfg.ThisServer, "mode", "cluster",
		"role", string(m.self.Role), "members", len(cfg.Members()), "listen", ln.Addr().String(),
		"state_dir", cfg.StateDir(), "preset", cfg.Cluster.Preset, "dry_run", cfg.DryRun)
	logChannels(logger, chans)

	var wg sync.WaitGroup
	if statusSrv != nil {
		wg.Go(func() {
			if err := statusSrv.Serve(statusLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("status listener stopped", "error", err)
			}
		})
		logger.Info("status listener up", "addr", statusLn.Addr().String())
	}
	queueCtx, stopQueue := context.WithCancel(context.Background())
	// Raft and the port run past ctx, for the hand-over.
	raftCtx, stopRaft := context.WithCancel(context.Background())
	wg.Go(func() { m.hub.Run(queueCtx) })
	if m.monitor != nil {
		wg.Go(func() { m.monitor.Run(queueCtx) })
	}
	wg.Go(func() { m.runner.Run(queueCtx) })
	wg.Go(func() { systemdCluster(queueCtx, n.Status, logger) })
	wg.Go(func() { trimMemory(queueCtx) })
	wg.Go(func() {
		if err := trans.Serve(raftCtx); err != nil {
			logger.Error("cluster listener stopped", "error", err)
		}
	})
	if src.hup != nil {
		wg.Go(func() {
			for {
				select {
				case <-queueCtx.Done():
					return
				case <-src.hup:
					m.reload()
				}
			}
		})
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(raftCtx) }()

	var runErr error
	select {
	case <-ctx.Done():
		if m.running.Handover() {
			m.handOver()
		}
		stopRaft()
		runErr = <-done
	case runErr = <-done:
		stopRaft()
	}
	logger.Info("clooster stopping")
	trans.Close()
	alerts.flush()
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

// handOver hands leadership away if this member leads, within
// handOverLimit, and logs what came of it.
func (m *member) handOver() {
	ctx, cancel := context.WithTimeout(context.Background(), handOverLimit)
	defer cancel()
	start := time.Now()
	to, err := m.node.HandOver(ctx)
	switch {
	case err != nil:
		m.logger.Warn("stopping without handing leadership over", "error", err)
	case to != "":
		m.logger.Info("leadership handed over", "to", to, "took", time.Since(start).Round(time.Millisecond))
	}
}

// nodeConfig is the quorum node's configuration from cfg: the members,
// this one, the preset's timings, failback_delay, drift_check_interval,
// the API timeout, and one record per configured record (none for a
// witness) with its own store from stores (by recordKey) and each node
// member's value. The caller adds the transport, the stores, the logs
// and the events. Its errors name the key.
func nodeConfig(cfg *config.Config, stores map[string]failover.RecordStore, h quorum.Health) (quorum.Config, error) {
	if !cfg.ClusterMode() {
		return quorum.Config{}, errors.New("cluster: no cluster block")
	}
	t, err := quorum.Preset(cfg.Cluster.Preset)
	if err != nil {
		return quorum.Config{}, fmt.Errorf("cluster.%w", err)
	}
	qc := quorum.Config{
		Members:            cfg.Members(),
		Self:               cfg.ThisServer,
		Timings:            t,
		FailbackDelay:      cfg.FailbackDelay.D(),
		DriftCheckInterval: cfg.DriftCheckInterval.D(),
		APITimeout:         t.API,
		Health:             h,
	}
	if cfg.Witness() {
		return qc, nil
	}
	for i, r := range cfg.RecordSet() {
		store, ok := stores[recordKey(r)]
		if !ok {
			return quorum.Config{}, fmt.Errorf("records[%d]: %s: no store for the record", i, r.Label())
		}
		values := map[string]string{}
		for _, mb := range qc.Members {
			if mb.Role != quorum.RoleNode {
				continue
			}
			v, ok := r.Values[mb.Name]
			if !ok {
				return quorum.Config{}, fmt.Errorf("records[%d].values: no value for the node %s", i, mb.Name)
			}
			values[mb.Name] = v
		}
		qc.Records = append(qc.Records, quorum.Record{Name: r.Label(), Store: store, Values: values})
	}
	return qc, nil
}

// memberHealth is this member's health as the leader's policy reads it:
// the monitor's, healthy since its last transition; a witness (no
// monitor) is never healthy, so that it never keeps leadership when a
// node can take it.
func memberHealth(mon *health.Monitor) quorum.Health {
	if mon == nil {
		return quorum.HealthFunc(func() (bool, time.Time) { return false, time.Time{} })
	}
	return quorum.HealthFunc(func() (bool, time.Time) {
		st := mon.State()
		if !st.Healthy {
			return false, time.Time{}
		}
		return true, st.Since
	})
}

// lockStateDir makes dir if need be and takes its lock file, so that two
// daemons never share one Raft state; release gives it back.
func lockStateDir(dir string) (release func(), err error) {
	const hint = "\n  hint: state_dir must be a directory this user can write; each member needs its own"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir %s: %w%s", dir, err, hint)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state_dir %s: %w%s", dir, err, hint)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state_dir %s: %s is locked by another process\n  hint: is another clooster running with this state_dir?", dir, path)
		}
		return nil, fmt.Errorf("state_dir %s: lock %s: %w", dir, path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// raftLog writes Raft's own warnings and errors, a line each, to the
// daemon's log.
type raftLog struct {
	log *slog.Logger
	now func() time.Time // nil: time.Now

	mu      sync.Mutex
	last    map[string]time.Time // when a kind of line was last logged
	dropped map[string]int       // how many of that kind since
}

// raftRepeat is how long Raft's lines of one kind (its complaint about one
// peer, say, at every heartbeat while that peer is down) are logged once.
const raftRepeat = 30 * time.Second

func (w *raftLog) Write(p []byte) (int, error) {
	now := time.Now
	if w.now != nil {
		now = w.now
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		w.last, w.dropped = map[string]time.Time{}, map[string]int{}
	}
	for line := range strings.Lines(string(p)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		// The kind: the line without its time stamp, its backoff and its
		// error (the peer stays in it).
		_, kind, _ := strings.Cut(line, " ")
		kind, _, _ = strings.Cut(kind, " backoff time=")
		kind, _, _ = strings.Cut(kind, " error=")
		t := now()
		if at, ok := w.last[kind]; ok && t.Sub(at) < raftRepeat {
			w.dropped[kind]++
			continue
		}
		attrs := []any{"component", "raft"}
		if n := w.dropped[kind]; n > 0 {
			attrs = append(attrs, "suppressed", n)
		}
		w.last[kind], w.dropped[kind] = t, 0
		w.log.Warn(line, attrs...)
	}
	return len(p), nil
}

// dryRunStore is a record's store under dry_run: reads go to the
// provider until the first write; a write is logged, not made, and the
// record then reads as written, so that the leader sees its write land.
type dryRunStore struct {
	failover.RecordStore
	log  *slog.Logger
	name string

	mu      sync.Mutex
	written *string
}

func (s *dryRunStore) Read(ctx context.Context) (failover.Record, error) {
	s.mu.Lock()
	w := s.written
	s.mu.Unlock()
	if w != nil {
		return failover.Record{Content: *w}, nil
	}
	return s.RecordStore.Read(ctx)
}

func (s *dryRunStore) Write(ctx context.Context, content string) error {
	s.log.Info("dry run: record not written", "event", "dry_run_write", "record", s.name, "content", content)
	s.mu.Lock()
	s.written = &content
	s.mu.Unlock()
	return nil
}
