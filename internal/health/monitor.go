package health

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Log keys.
const (
	keyComponent = "component"
	keyEvent     = "event"
	keyCheck     = "check"
	keyError     = "error"
	keyFailures  = "failures"
	keySuccesses = "successes"
	keyInterval  = "interval"
	keyTimeout   = "timeout"
	keyFall      = "fall"
	keyRise      = "rise"
	keyDownFor   = "down_for"
)

// Values of the "event" log key on transitions.
const (
	EventDown = "health_down"
	EventUp   = "health_up"
)

// State is what a Monitor knows of the service.
type State struct {
	Healthy   bool
	Since     time.Time // of the last transition, or when Run started; zero before
	LastAt    time.Time // of the last probe; zero before the first
	LastErr   string    // the last probe's error; "" if it passed
	Failures  int       // consecutive failed probes up to the last one
	Successes int       // consecutive passed probes up to the last one
	Checks    uint64    // probes made
}

// Monitor probes a Check every Interval and keeps a health state with
// asymmetric thresholds: Fall consecutive failures make it unhealthy, Rise
// consecutive successes make it healthy again; anything in between leaves it
// as it is.
//
// A Monitor starts healthy: a node must not give up the record, nor be
// passed over for it, because its first probes have not run yet. A service
// that is down from the start is found so after Fall probes, about
// (Fall-1) × Interval after Run starts.
//
// With an empty Check the monitor is always healthy and makes no probes.
// Use a Monitor by pointer, and do not copy it once used.
type Monitor struct {
	Check    Check
	Interval time.Duration // between the starts of two probes; zero means DefaultInterval
	Fall     int           // zero means DefaultFall
	Rise     int           // zero means DefaultRise
	Logger   *slog.Logger  // nil: nothing is logged

	// Dial, if set, opens the connections of TCP and HTTP probes.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// HTTPClient, if set, makes the HTTP probes instead of the monitor's own
	// client (Dial is then not used for them). Redirects are never
	// followed, whatever its CheckRedirect says.
	HTTPClient *http.Client

	// probe, if set, replaces the Check's probe (tests).
	probe func(ctx context.Context) error

	once    sync.Once
	changes chan bool

	mu      sync.Mutex
	state   State
	running bool
}

func (m *Monitor) init() {
	m.once.Do(func() {
		m.changes = make(chan bool, 1)
		m.state.Healthy = true
	})
}

// State returns the current state. Before Run has probed, it is healthy.
func (m *Monitor) State() State {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Changes returns a channel that receives the new health (true: healthy) on
// every transition. It holds one value: when its reader lags, a newer value
// replaces the unread one, so the monitor never blocks and the last value
// received is always the current health. It is never closed.
func (m *Monitor) Changes() <-chan bool {
	m.init()
	return m.changes
}

// Run probes at once and then every Interval until ctx ends, and returns nil
// when it does; a probe in progress is cancelled and not counted. It may be
// called once.
func (m *Monitor) Run(ctx context.Context) error {
	m.init()
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("health: monitor already run")
	}
	m.running = true
	m.state.Since = time.Now()
	m.mu.Unlock()

	log := m.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(keyComponent, "health")

	probe := m.probe
	if probe == nil {
		if m.Check.Empty() {
			log.Info("no health check configured: always healthy")
			<-ctx.Done()
			return nil
		}
		probe = newProber(m.Check, m.Dial, m.HTTPClient).probe
	}
	interval := orDefault(m.Interval, DefaultInterval)
	fall := orDefault(m.Fall, DefaultFall)
	rise := orDefault(m.Rise, DefaultRise)
	log.Info("health check started", keyCheck, m.Check.String(), keyInterval, interval,
		keyTimeout, orDefault(m.Check.Timeout, DefaultTimeout), keyFall, fall, keyRise, rise)

	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := probe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		m.record(log, err, time.Now(), fall, rise)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// record applies one probe's result, logs it and announces a transition.
func (m *Monitor) record(log *slog.Logger, err error, now time.Time, fall, rise int) {
	m.mu.Lock()
	prev := m.state
	m.state = Step(prev, err, now, fall, rise)
	st := m.state
	m.mu.Unlock()

	check := m.Check.String()
	switch {
	case st.Healthy != prev.Healthy && !st.Healthy:
		log.Warn("service unhealthy", keyEvent, EventDown, keyCheck, check, keyFailures, st.Failures, keyError, err)
	case st.Healthy != prev.Healthy:
		log.Warn("service healthy again", keyEvent, EventUp, keyCheck, check, keySuccesses, st.Successes,
			keyDownFor, now.Sub(prev.Since))
	case err != nil && st.Failures == 1:
		log.Info("health check failed", keyCheck, check, keyFailures, st.Failures, keyError, err)
	case err != nil:
		log.Debug("health check failed", keyCheck, check, keyFailures, st.Failures, keyError, err)
	case prev.Failures > 0 && st.Healthy:
		log.Info("health check passed again", keyCheck, check, keyFailures, prev.Failures)
	case !st.Healthy:
		log.Debug("health check passed", keyCheck, check, keySuccesses, st.Successes, keyRise, rise)
	}
	if st.Healthy != prev.Healthy {
		m.announce(st.Healthy)
	}
}

// announce puts healthy in the changes channel, replacing an unread value.
// Only Run's goroutine sends, so the loop ends at its second turn at most.
func (m *Monitor) announce(healthy bool) {
	for {
		select {
		case m.changes <- healthy:
			return
		default:
		}
		select {
		case <-m.changes:
		default:
		}
	}
}

// Step is s after a probe that ended at now with err (nil: passed), with
// the thresholds fall and rise.
func Step(s State, err error, now time.Time, fall, rise int) State {
	s.Checks++
	s.LastAt = now
	if err != nil {
		s.LastErr = err.Error()
		s.Failures++
		s.Successes = 0
		if s.Healthy && s.Failures >= fall {
			s.Healthy, s.Since = false, now
		}
		return s
	}
	s.LastErr = ""
	s.Successes++
	s.Failures = 0
	if !s.Healthy && s.Successes >= rise {
		s.Healthy, s.Since = true, now
	}
	return s
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
