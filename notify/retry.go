package notify

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/clooster/clooster/internal/backoff"
	"github.com/clooster/clooster/notify/mail"
	"github.com/clooster/clooster/notify/telegram"
	"github.com/clooster/clooster/notify/webhook"
)

// judge reads what an error of one of clooster's senders says of a retry:
// whether it may succeed and how long the service asked to wait; known is
// false for any other error (a retry may succeed). Only those errors are
// asked: net/http's, deep in many a chain, have a deprecated Temporary
// that says false for a connection the server closed.
func judge(err error) (temporary, known bool, wait time.Duration) {
	var (
		se *sendError
		pe *Error
		we *webhook.Error
		me *mail.Error
		te *telegram.Error
	)
	switch {
	case errors.As(err, &se):
		return se.Temporary(), true, se.RetryAfter()
	case errors.As(err, &pe):
		return pe.Temporary(), true, pe.Retry
	case errors.As(err, &we):
		return we.Temporary(), true, we.Retry
	case errors.As(err, &me):
		return me.Temporary(), true, 0
	case errors.As(err, &te):
		return te.Temporary(), true, te.Retry
	}
	return true, false, 0
}

// retryWait decides what follows a failed attempt: how long to wait before
// the next one, or, when why is not empty, that the note is given up and why.
func (q *Queue) retryWait(attempt int, err error) (wait time.Duration, why string) {
	if errors.Is(err, ErrMisconfigured) {
		return 0, "not retrying a misconfiguration"
	}
	temporary, _, wait := judge(err)
	switch {
	case !temporary:
		return 0, "rejected, not retrying"
	case wait > maxRetryAfter:
		return 0, "rate limited for too long, giving up"
	case wait > 0:
		return wait, ""
	}
	return q.jitter(retries.Delay(attempt)), ""
}

// retries is the backoff between attempts, before jitter.
var retries = backoff.Policy{Min: baseDelay, Max: maxDelay}

// jitter spreads d over [0.75 d, 1.25 d).
func jitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d*3/4 + rand.N(d/2)
}
