package notify

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Sender sends one note in one attempt. It must return soon after ctx ends.
type Sender interface {
	Push(ctx context.Context, title, body string) error
}

// Queue limits and timing.
const (
	queueSize      = 64               // notes waiting; past it the oldest is dropped
	maxAttempts    = 4                // attempts per note
	baseDelay      = time.Second      // wait after the first failed attempt
	maxDelay       = 30 * time.Second // cap of the exponential backoff
	maxRetryAfter  = 2 * time.Minute  // a longer rate-limit wait gives the note up
	attemptTimeout = 15 * time.Second // one attempt, should the Sender not bound it
	flushTimeout   = time.Second      // what is left to send once Run's ctx ends
	dropLogEvery   = 10 * time.Second // at most one "dropped" warning this often
)

// Log keys.
const (
	keyComponent = "component"
	keyTitle     = "title"
	keyAttempt   = "attempt"
	keyError     = "error"
	keyWait      = "wait"
	keyDropped   = "dropped"
	keyUnsent    = "unsent"
)

// Stats counts what a Queue did with its notes.
type Stats struct {
	Queued  int    // waiting now
	Sent    uint64 // delivered
	Failed  uint64 // given up: permanent error, attempts exhausted, or failed in the shutdown flush
	Dropped uint64 // never delivered nor given up: pushed out of a full queue, or unsent at shutdown
	Retries uint64 // retries scheduled after a failed attempt
}

type note struct {
	title, body string
	guid        string // the same for every attempt, so the API can drop a repeat
}

// Queue sends notes through a Sender in the background, one at a time and in
// order, retrying each a few times with capped exponential backoff and
// jitter. Create it with NewQueue; Notify from anywhere; Run in one goroutine.
type Queue struct {
	sender Sender
	log    *slog.Logger
	wake   chan struct{} // capacity 1: a note is waiting
	jitter func(time.Duration) time.Duration

	mu          sync.Mutex
	notes       []note // oldest first
	running     bool
	stopped     bool
	stats       Stats
	lastDropLog time.Time
	dropsToLog  uint64
}

// NewQueue returns a queue that sends through s and logs to logger (nil:
// nothing is logged).
func NewQueue(s Sender, logger *slog.Logger) *Queue {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		sender: s,
		log:    logger.With(keyComponent, "notify"),
		wake:   make(chan struct{}, 1),
		jitter: jitter,
	}
}

// Notify queues a note and returns at once. When the queue is full, the
// oldest waiting note is dropped, counted and logged: the newest says most
// about the current state. After Run has returned, the note is dropped.
func (q *Queue) Notify(title, body string) {
	n := note{title: title, body: body, guid: rand.Text()}

	q.mu.Lock()
	var dropped string // title of the dropped note
	drop := true
	switch {
	case q.stopped:
		dropped = n.title
	case len(q.notes) >= queueSize:
		dropped = q.notes[0].title
		copy(q.notes, q.notes[1:])
		q.notes[len(q.notes)-1] = n
	default:
		q.notes = append(q.notes, n)
		drop = false
	}
	var logDrops uint64
	if drop {
		q.stats.Dropped++
		q.dropsToLog++
		if now := time.Now(); q.lastDropLog.IsZero() || now.Sub(q.lastDropLog) >= dropLogEvery {
			q.lastDropLog = now
			logDrops, q.dropsToLog = q.dropsToLog, 0
		}
	}
	stopped := q.stopped
	q.mu.Unlock()

	if logDrops > 0 {
		msg := "queue full, dropped the oldest note"
		if stopped {
			msg = "queue stopped, dropped the note"
		}
		q.log.Warn(msg, keyTitle, dropped, keyDropped, logDrops)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.stats
	st.Queued = len(q.notes)
	return st
}

// Run sends the queued notes until ctx ends; then it tries to flush what is
// left for at most about a second (one attempt per note) and returns nil. It
// may be called once; notes queued before it starts are sent.
func (q *Queue) Run(ctx context.Context) error {
	q.mu.Lock()
	if q.running || q.stopped {
		q.mu.Unlock()
		return errors.New("notify: queue already run")
	}
	q.running = true
	q.mu.Unlock()

	for ctx.Err() == nil {
		n, ok := q.pop()
		if !ok {
			select {
			case <-ctx.Done():
			case <-q.wake:
			}
			continue
		}
		if !q.deliver(ctx, n) {
			q.pushFront(n)
		}
	}
	q.flush(ctx)
	return nil
}

// deliver sends n with retries. It returns false if ctx ended first, leaving
// n neither sent nor given up.
func (q *Queue) deliver(ctx context.Context, n note) bool {
	for attempt := 1; ; attempt++ {
		err := q.attempt(ctx, n, attemptTimeout)
		if err == nil {
			q.count(func(st *Stats) { st.Sent++ })
			q.log.Info("push sent", keyTitle, n.title, keyAttempt, attempt)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait, why := q.retryWait(attempt, err)
		if why != "" {
			q.count(func(st *Stats) { st.Failed++ })
			q.log.Error("push failed, "+why, keyTitle, n.title, keyAttempt, attempt, keyError, err)
			return true
		}
		q.count(func(st *Stats) { st.Retries++ })
		q.log.Warn("push failed, will retry", keyTitle, n.title, keyAttempt, attempt, keyWait, wait, keyError, err)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// flush makes one attempt per queued note within flushTimeout of ctx ending,
// then stops the queue; what it could not try is dropped.
func (q *Queue) flush(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	for fctx.Err() == nil {
		n, ok := q.pop()
		if !ok {
			break
		}
		if err := q.attempt(fctx, n, 0); err != nil {
			q.count(func(st *Stats) { st.Failed++ })
			q.log.Error("push failed at shutdown, giving up", keyTitle, n.title, keyError, err)
			continue
		}
		q.count(func(st *Stats) { st.Sent++ })
		q.log.Info("push sent", keyTitle, n.title)
	}

	q.mu.Lock()
	q.stopped = true
	unsent := len(q.notes)
	q.stats.Dropped += uint64(unsent)
	q.notes = nil
	q.mu.Unlock()
	if unsent > 0 {
		q.log.Warn("stopped with notes unsent", keyUnsent, unsent)
	}
}

// attempt makes one call to the Sender, bounded by timeout if it is > 0.
func (q *Queue) attempt(ctx context.Context, n note, timeout time.Duration) error {
	ctx = withGUID(ctx, n.guid)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return q.sender.Push(ctx, n.title, n.body)
}

func (q *Queue) pop() (note, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.notes) == 0 {
		return note{}, false
	}
	n := q.notes[0]
	copy(q.notes, q.notes[1:])
	q.notes = q.notes[:len(q.notes)-1]
	return n, true
}

// pushFront puts back a note whose delivery was interrupted, first in line,
// unless the queue has filled up meanwhile.
func (q *Queue) pushFront(n note) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.notes) >= queueSize {
		q.stats.Dropped++
		return
	}
	q.notes = append(q.notes, note{})
	copy(q.notes[1:], q.notes)
	q.notes[0] = n
}

func (q *Queue) count(f func(*Stats)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	f(&q.stats)
}

// sleep waits for d or ctx, whichever ends first, and reports whether the
// whole d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type guidKey struct{}

// withGUID attaches the note's idempotency key for the Sender.
func withGUID(ctx context.Context, guid string) context.Context {
	return context.WithValue(ctx, guidKey{}, guid)
}

// guidFrom returns the idempotency key attached by the Queue, if any.
func guidFrom(ctx context.Context) string {
	g, _ := ctx.Value(guidKey{}).(string)
	return g
}
