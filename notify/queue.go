package notify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
	giveUpAfter    = 10 * time.Minute // a note not delivered by then is given up
	baseDelay      = time.Second      // wait after the first failed attempt
	maxDelay       = 30 * time.Second // cap of the exponential backoff
	maxRetryAfter  = 2 * time.Minute  // a longer rate-limit wait gives the note up
	attemptTimeout = 15 * time.Second // one attempt, should the Sender not bound it
	flushTimeout   = time.Second      // what is left to send once Run's ctx ends
	dropLogEvery   = 10 * time.Second // at most one "dropped" warning this often
	rateLimit      = 5                // messages per rateWindow; the rest are coalesced
	rateWindow     = time.Minute
	listMax        = 10 // earlier transitions a coalesced message lists by title
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
	keyMerged    = "coalesced"
)

// Stats counts what a Queue did with its notes.
type Stats struct {
	Queued    int    // waiting now
	Sent      uint64 // messages delivered (a coalesced one counts once)
	Failed    uint64 // given up: rejected, misconfigured, undelivered for giveUpAfter, or failed in the shutdown flush
	Dropped   uint64 // never delivered nor given up: pushed out of a full queue, or unsent at shutdown
	Retries   uint64 // retries scheduled after a failed attempt
	Coalesced uint64 // notes folded into a later one's message by the rate limit
}

type note struct {
	title, body string
	guid        string    // the same for every attempt, so the API can drop a repeat
	at          time.Time // when it was queued
	folded      int       // earlier notes this one's message stands for
}

// Queue sends notes through a Sender in the background, one at a time and in
// order, retrying each with capped exponential backoff and jitter until it
// is delivered, rejected, or giveUpAfter old. At most rateLimit messages go
// out per rateWindow: the notes that wait beyond it go out as one message,
// the newest with the titles of the others ("3 more transitions in the last
// 40 seconds"), so that a flapping service cannot flood a channel. Create it
// with NewQueue; Notify from anywhere; Run in one goroutine.
type Queue struct {
	sender Sender
	log    *slog.Logger
	wake   chan struct{} // capacity 1: a note is waiting
	jitter func(time.Duration) time.Duration

	mu       sync.Mutex
	notes    []note // oldest first
	running  bool
	stopped  bool
	retiring bool // Run returns once nothing waits

	stats       Stats
	lastDropLog time.Time
	dropsToLog  uint64
	starts      []time.Time // first attempts of the messages of the last rateWindow
	held        bool        // the head waited for the rate limit: what waits goes out as one
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
	n := note{title: title, body: body, guid: newGUID(), at: time.Now()}

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
// left for at most about a second (one attempt, in one message) and returns
// nil. It may be called once; notes queued before it starts are sent.
func (q *Queue) Run(ctx context.Context) error {
	q.mu.Lock()
	if q.running || q.stopped {
		q.mu.Unlock()
		return errors.New("notify: queue already run")
	}
	q.running = true
	q.mu.Unlock()

	for ctx.Err() == nil {
		n, wait, ok := q.take(time.Now())
		switch {
		case wait > 0:
			sleep(ctx, wait)
		case !ok && q.retired():
			q.stop()
			return nil
		case !ok:
			select {
			case <-ctx.Done():
			case <-q.wake:
			}
		case !q.deliver(ctx, n):
			q.pushFront(n)
		}
	}
	q.flush(ctx)
	return nil
}

// retire makes Run return once nothing waits: what waits is delivered
// (or given up) as it would have been. Its channel was taken out.
func (q *Queue) retire() {
	q.mu.Lock()
	q.retiring = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) retired() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.retiring
}

// stop marks the queue stopped: a note queued from now on is dropped.
func (q *Queue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
}

// take pops the next message to send: the oldest note, or, once the rate
// limit has held the queue back, every waiting note as one. It returns how
// long to wait instead while the last rateWindow holds rateLimit messages,
// and false when no note waits.
func (q *Queue) take(now time.Time) (note, time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.notes) == 0 {
		return note{}, 0, false
	}
	for len(q.starts) > 0 && now.Sub(q.starts[0]) >= rateWindow {
		q.starts = q.starts[1:]
	}
	if len(q.starts) >= rateLimit {
		q.held = true
		return note{}, q.starts[0].Add(rateWindow).Sub(now), false
	}
	q.starts = append(q.starts, now)
	if !q.held || len(q.notes) == 1 {
		q.held = false
		return q.popLocked(), 0, true
	}
	q.held = false
	n := fold(q.notes, now)
	q.stats.Coalesced += uint64(len(q.notes) - 1)
	q.notes = q.notes[:0]
	return n, 0, true
}

// fold makes one message of ns (oldest first): the newest note, followed by
// how many transitions came before it since when, and their titles.
func fold(ns []note, now time.Time) note {
	last := ns[len(ns)-1]
	earlier := 0
	for _, n := range ns {
		earlier += n.folded + 1
	}
	earlier--
	first := ns[0].at
	var b strings.Builder
	b.WriteString(last.body)
	if b.Len() > 0 {
		b.WriteString("\n\n")
	}
	word := "transitions"
	if earlier == 1 {
		word = "transition"
	}
	fmt.Fprintf(&b, "%d more %s in the last %s, held back by the rate limit (%d messages per %s):",
		earlier, word, span(now.Sub(first)), rateLimit, span(rateWindow))
	prev := ns[:len(ns)-1]
	if len(prev) > listMax {
		fmt.Fprintf(&b, "\n- ... %d earlier", len(prev)-listMax)
		prev = prev[len(prev)-listMax:]
	}
	for _, n := range prev {
		fmt.Fprintf(&b, "\n- %s %s", n.at.Format("15:04:05"), n.title)
		if n.folded > 0 {
			fmt.Fprintf(&b, " (and %d before it)", n.folded)
		}
	}
	return note{title: last.title, body: b.String(), guid: newGUID(), at: first, folded: earlier}
}

// span is d for a message: "40 seconds", "3 minutes".
func span(d time.Duration) string {
	if d < 2*time.Minute {
		return fmt.Sprintf("%d seconds", int(d.Round(time.Second)/time.Second))
	}
	return fmt.Sprintf("%d minutes", int(d.Round(time.Minute)/time.Minute))
}

// deliver sends n with retries. It returns false if ctx ended first, leaving
// n neither sent nor given up.
func (q *Queue) deliver(ctx context.Context, n note) bool {
	for attempt := 1; ; attempt++ {
		err := q.attempt(ctx, n, attemptTimeout)
		if err == nil {
			q.count(func(st *Stats) { st.Sent++ })
			q.log.Info("push sent", q.noteAttrs(n, keyAttempt, attempt)...)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait, why := q.retryWait(attempt, err)
		if why == "" && time.Since(n.at)+wait > giveUpAfter {
			why = "undelivered for " + span(giveUpAfter) + ", giving up"
		}
		if why != "" {
			q.count(func(st *Stats) { st.Failed++ })
			q.log.Error("push failed, "+why, q.noteAttrs(n, keyAttempt, attempt, keyError, err)...)
			return true
		}
		q.count(func(st *Stats) { st.Retries++ })
		level := slog.LevelDebug
		if attempt&(attempt-1) == 0 { // 1, 2, 4, 8...: a dead channel does not flood the log
			level = slog.LevelWarn
		}
		q.log.Log(ctx, level, "push failed, will retry", q.noteAttrs(n, keyAttempt, attempt, keyWait, wait, keyError, err)...)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// noteAttrs are the log attributes of n, then more.
func (q *Queue) noteAttrs(n note, more ...any) []any {
	attrs := []any{keyTitle, n.title}
	if n.folded > 0 {
		attrs = append(attrs, keyMerged, n.folded)
	}
	return append(attrs, more...)
}

// flush makes one attempt, within flushTimeout of ctx ending, to send what
// is queued, as one message; then it stops the queue. What it could not
// try is dropped.
func (q *Queue) flush(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	q.mu.Lock()
	var n note
	waiting := len(q.notes)
	switch waiting {
	case 0:
	case 1:
		n = q.notes[0]
	default:
		n = fold(q.notes, time.Now())
	}
	q.notes = nil
	q.mu.Unlock()

	if waiting > 0 {
		if err := q.attempt(fctx, n, 0); err != nil {
			q.count(func(st *Stats) { st.Failed++; st.Dropped += uint64(waiting - 1) })
			q.log.Error("push failed at shutdown, giving up", q.noteAttrs(n, keyError, err)...)
		} else {
			q.count(func(st *Stats) { st.Sent++; st.Coalesced += uint64(waiting - 1) })
			q.log.Info("push sent", q.noteAttrs(n)...)
		}
	}

	q.mu.Lock()
	q.stopped = true
	unsent := len(q.notes) // queued during the flush
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

// popLocked removes and returns the oldest note; q.mu is held and a note
// waits.
func (q *Queue) popLocked() note {
	n := q.notes[0]
	copy(q.notes, q.notes[1:])
	q.notes = q.notes[:len(q.notes)-1]
	return n
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

// newGUID is a note's idempotency key.
func newGUID() string { return rand.Text() }

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
