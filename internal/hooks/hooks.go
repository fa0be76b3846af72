// Package hooks runs the operator's shell commands on transitions:
// on_active, on_standby, on_peer_down and on_peer_up.
//
// A Runner never delays its caller: Fire queues the event and returns at
// once, and the Runner's own goroutine runs the hooks one at a time, in the
// order fired, each to its end before the next starts. A hook runs with
// /bin/sh -c in its own process group, with the base environment plus the
// event's variables, and no input; when its timeout passes, the whole
// process group is killed. Its output (stdout and stderr together) is logged
// line by line, up to a hundred lines a run; its exit status and duration
// are logged when it ends, at warn level if it failed or was killed. The
// command text itself is never logged, since it may hold a credential.
//
// # Concurrency
//
// Fire, Set and Stats are safe from any goroutine, before, during and after
// Run. Run is called once, by the goroutine that owns the Runner; it returns
// when its context ends, after killing the hook in progress, and does not
// start the hooks still queued. The exported fields are read by Fire and
// Run: set them before the first call and leave them alone after; Set
// changes Commands and Timeout while the Runner runs.
package hooks

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/clooster/clooster/internal/procgroup"
)

// The events a Runner knows of, as the hooks.* keys name them.
const (
	OnActive   = "on_active"
	OnStandby  = "on_standby"
	OnPeerDown = "on_peer_down"
	OnPeerUp   = "on_peer_up"
)

// DefaultTimeout is the limit for one hook when Runner.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Limits.
const (
	queueSize     = 32                     // hooks waiting; past it the oldest is dropped
	maxLines      = 100                    // output lines logged per run
	maxLineBytes  = 1024                   // bytes of one output line logged
	pipeWaitDelay = 500 * time.Millisecond // wait for a hook's output to close once it has exited or been killed
)

// Log keys.
const (
	keyComponent = "component"
	keyHook      = "hook"
	keyLine      = "line"
	keyExit      = "exit"
	keyDuration  = "duration"
	keyTimeout   = "timeout"
	keyError     = "error"
	keyDropped   = "dropped"
	keyWaited    = "waited"
	keyLogged    = "logged"
	keySkipped   = "skipped"
)

// Stats counts what a Runner did. Runs that succeeded are Runs − Failures −
// Timeouts.
type Stats struct {
	Runs     uint64 // hooks that ran to their end, whatever it was
	Failures uint64 // of those: non-zero exit, failed to start, or killed at shutdown
	Timeouts uint64 // of those: killed when their timeout passed
	Dropped  uint64 // hooks never run: pushed out of a full queue, still queued at shutdown, or fired after it
	Queued   int    // hooks waiting now
}

// Runner runs hooks. Its zero value runs nothing; set Commands to give it
// work. Use a Runner by pointer, and do not copy it once used.
type Runner struct {
	// Commands maps an event name (OnActive, ...) to its shell command; an
	// event without one, or with "", runs nothing.
	Commands map[string]string
	// Timeout bounds one run; zero means DefaultTimeout.
	Timeout time.Duration
	// Logger receives the runs' logs; nil: nothing is logged.
	Logger *slog.Logger
	// Environ is the base environment of every hook, "KEY=value" strings
	// (os.Environ() in production); nil means the daemon's own environment.
	Environ []string

	once sync.Once
	log  *slog.Logger
	wake chan struct{} // capacity 1: a hook is waiting

	mu      sync.Mutex
	queue   []job // oldest first
	running bool
	stopped bool
	stats   Stats
}

// job is one fired hook.
type job struct {
	event   string
	command string
	env     []string // the event's variables, "KEY=value", sorted
	fired   time.Time
}

func (r *Runner) init() {
	r.once.Do(func() {
		log := r.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		r.log = log.With(keyComponent, "hooks")
		r.wake = make(chan struct{}, 1)
	})
}

// Fire queues the hook of event, if it has one, with env added to the base
// environment (over any variable of the same name), and returns at once.
// When the queue is full, the oldest waiting hook is dropped with a warning:
// the newest says most about the current state. After Run has returned, the
// hook is dropped.
func (r *Runner) Fire(event string, env map[string]string) {
	r.mu.Lock()
	command := r.Commands[event]
	r.mu.Unlock()
	if command == "" {
		return
	}
	r.init()
	j := job{event: event, command: command, fired: time.Now()}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		j.env = append(j.env, k+"="+env[k])
	}

	r.mu.Lock()
	var dropped string // event of the dropped hook
	switch {
	case r.stopped:
		dropped = j.event
	case len(r.queue) >= queueSize:
		dropped = r.queue[0].event
		copy(r.queue, r.queue[1:])
		r.queue[len(r.queue)-1] = j
	default:
		r.queue = append(r.queue, j)
	}
	if dropped != "" {
		r.stats.Dropped++
	}
	stopped := r.stopped
	r.mu.Unlock()

	switch {
	case stopped:
		r.log.Warn("hook not run: runner stopped", keyHook, dropped)
	case dropped != "":
		r.log.Warn("hook queue full, dropped the oldest", keyHook, dropped)
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Set replaces the commands and the timeout: a hook fired from now on runs
// the new command, with the new timeout; one already queued runs the
// command it was fired with.
func (r *Runner) Set(commands map[string]string, timeout time.Duration) {
	commands = maps.Clone(commands)
	r.mu.Lock()
	r.Commands, r.Timeout = commands, timeout
	r.mu.Unlock()
}

// Configured reports whether an event has a command.
func (r *Runner) Configured() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.Commands {
		if c != "" {
			return true
		}
	}
	return false
}

// Stats returns the counters.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.Queued = len(r.queue)
	return st
}

// Run runs the queued hooks, and those fired later, one at a time, until ctx
// ends. Then it kills the hook in progress (its whole process group), waits
// for it, drops the hooks still queued, and returns nil. It may be called
// once; hooks fired before it starts are run.
func (r *Runner) Run(ctx context.Context) error {
	r.init()
	r.mu.Lock()
	if r.running || r.stopped {
		r.mu.Unlock()
		return errors.New("hooks: runner already run")
	}
	r.running = true
	r.mu.Unlock()
	defer r.stop()

	for ctx.Err() == nil {
		j, ok := r.pop()
		if !ok {
			select {
			case <-ctx.Done():
			case <-r.wake:
			}
			continue
		}
		r.run(ctx, j)
	}
	return nil
}

// pop takes the oldest queued hook.
func (r *Runner) pop() (job, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return job{}, false
	}
	j := r.queue[0]
	r.queue[0] = job{}
	r.queue = r.queue[1:]
	return j, true
}

// stop marks the runner stopped and drops what is queued.
func (r *Runner) stop() {
	r.mu.Lock()
	n := len(r.queue)
	r.queue = nil
	r.stopped = true
	r.stats.Dropped += uint64(n)
	r.mu.Unlock()
	if n > 0 {
		r.log.Warn("stopping: queued hooks not run", keyDropped, n)
	}
}

// run runs one hook to its end, logs how it ended and counts it.
func (r *Runner) run(ctx context.Context, j job) {
	r.mu.Lock()
	timeout := r.Timeout
	r.mu.Unlock()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(hctx, "/bin/sh", "-c", j.command)
	procgroup.Set(cmd)
	cmd.WaitDelay = pipeWaitDelay
	if len(j.env) > 0 || r.Environ != nil {
		base := r.Environ
		if base == nil {
			base = cmd.Environ()
		}
		// exec keeps the last of duplicate keys: the event's variables win.
		cmd.Env = append(slices.Clip(base), j.env...)
	}
	out := &lineLogger{log: r.log, hook: j.event}
	cmd.Stdout, cmd.Stderr = out, out

	r.log.Info("running hook", keyHook, j.event, keyWaited, time.Since(j.fired).Round(time.Millisecond))
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start).Round(time.Millisecond)
	out.flush()

	var ee *exec.ExitError
	var result func(*Stats)
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success():
		if err != nil {
			r.log.Info("hook left a process holding its output; the rest of its output is not logged", keyHook, j.event)
		}
		r.log.Info("hook finished", keyHook, j.event, keyExit, 0, keyDuration, d)
	case ctx.Err() != nil:
		result = func(st *Stats) { st.Failures++ }
		r.log.Warn("hook killed: shutting down", keyHook, j.event, keyDuration, d)
	case hctx.Err() != nil:
		result = func(st *Stats) { st.Timeouts++ }
		r.log.Warn("hook timed out, killed", keyHook, j.event, keyTimeout, timeout, keyDuration, d)
	case cmd.ProcessState == nil:
		result = func(st *Stats) { st.Failures++ }
		r.log.Warn("hook failed to start", keyHook, j.event, keyError, err)
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		result = func(st *Stats) { st.Failures++ }
		r.log.Warn("hook failed", keyHook, j.event, keyExit, ee.ExitCode(), keyDuration, d)
	default:
		result = func(st *Stats) { st.Failures++ }
		r.log.Warn("hook failed", keyHook, j.event, keyError, err, keyDuration, d)
	}

	r.mu.Lock()
	r.stats.Runs++
	if result != nil {
		result(&r.stats)
	}
	r.mu.Unlock()
}
