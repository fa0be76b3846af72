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

	// probe, if set, replaces the Check's probe (tests); prober, if set,
	// makes the probe of a check that is not empty (tests of Reconfigure).
	probe  func(ctx context.Context) error
	prober func(Check) func(ctx context.Context) error

	once    sync.Once
	changes chan bool
	reconf  chan struct{} // capacity 1: Reconfigure was called

	mu      sync.Mutex
	state   State
	running bool
	next    *settings // Reconfigure's, for Run to take; nil: none waits
}

// settings are what Run probes, and with which thresholds.
type settings struct {
	check    Check
	interval time.Duration
	fall     int
	rise     int
}

func (m *Monitor) init() {
	m.once.Do(func() {
		m.changes = make(chan bool, 1)
		m.reconf = make(chan struct{}, 1)
		m.state.Healthy = true
	})
}

// Reconfigure changes the check and its thresholds (zero values as for the
// fields), from the next interval on. The state carries over, healthy or
// not and since when, so that a change of the check never flips the
// health by itself; a new check counts its passes and failures anew.
// With an empty check the monitor is healthy at once: it checks nothing.
// Safe from any goroutine, before, during and after Run.
func (m *Monitor) Reconfigure(check Check, interval time.Duration, fall, rise int) {
	m.init()
	m.mu.Lock()
	m.next = &settings{check: check, interval: interval, fall: fall, rise: rise}
	m.mu.Unlock()
	select {
	case m.reconf <- struct{}{}:
	default:
	}
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
// when it does; a probe in progress is cancelled and not counted. After a
// Reconfigure, it probes the new check every new interval, the first an
// interval after the change. It may be called once.
func (m *Monitor) Run(ctx context.Context) error {
	m.init()
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("health: monitor already run")
	}
	m.running = true
	m.state.Since = time.Now()
	set := settings{check: m.Check, interval: m.Interval, fall: m.Fall, rise: m.Rise}
	if m.next != nil {
		set, m.next = *m.next, nil
	}
	m.mu.Unlock()

	log := m.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(keyComponent, "health")

	for first := true; ; first = false {
		if !m.run(ctx, log, set, first) {
			return nil
		}
		// Reconfigured: the new check, from the next interval.
		m.mu.Lock()
		if m.next != nil {
			if m.next.check != set.check {
				m.state.Failures, m.state.Successes = 0, 0
			}
			set, m.next = *m.next, nil
		}
		m.mu.Unlock()
	}
}

// run probes set's check until ctx ends (false) or Reconfigure is called
// (true): at once if first, then every interval.
func (m *Monitor) run(ctx context.Context, log *slog.Logger, set settings, first bool) bool {
	probe := m.probe
	if probe == nil && m.prober != nil && !set.check.Empty() {
		probe = m.prober(set.check)
	}
	if probe == nil {
		if set.check.Empty() {
			if first {
				log.Info("no health check configured: always healthy")
			} else {
				m.healthyUnchecked(log)
			}
			select {
			case <-ctx.Done():
				return false
			case <-m.reconf:
				return true
			}
		}
		probe = newProber(set.check, m.Dial, m.HTTPClient).probe
	}
	interval := orDefault(set.interval, DefaultInterval)
	fall := orDefault(set.fall, DefaultFall)
	rise := orDefault(set.rise, DefaultRise)
	msg := "health check started"
	if !first {
		msg = "health check changed"
	}
	log.Info(msg, keyCheck, set.check.String(), keyInterval, interval,
		keyTimeout, orDefault(set.check.Timeout, DefaultTimeout), keyFall, fall, keyRise, rise)

	tick := time.NewTicker(interval)
	defer tick.Stop()
	for wait := !first; ; wait = false {
		if !wait {
			err := probe(ctx)
			if ctx.Err() != nil {
				return false
			}
			m.record(log, set.check, err, time.Now(), fall, rise)
		}
		select {
		case <-ctx.Done():
			return false
		case <-m.reconf:
			return true
		case <-tick.C:
		}
	}
}

// healthyUnchecked makes the monitor healthy, its check taken out: with
// none, it is always healthy.
func (m *Monitor) healthyUnchecked(log *slog.Logger) {
	m.mu.Lock()
	prev := m.state
	m.state.Failures, m.state.Successes, m.state.LastErr = 0, 0, ""
	if !prev.Healthy {
		m.state.Healthy, m.state.Since = true, time.Now()
	}
	m.mu.Unlock()
	log.Info("health check taken out: always healthy")
	if !prev.Healthy {
		m.announce(true)
	}
}

// record applies one probe's result, logs it and announces a transition.
func (m *Monitor) record(log *slog.Logger, c Check, err error, now time.Time, fall, rise int) {
	m.mu.Lock()
	prev := m.state
	m.state = Step(prev, err, now, fall, rise)
	st := m.state
	m.mu.Unlock()

	check := c.String()
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
