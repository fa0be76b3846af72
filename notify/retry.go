package notify

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/clooster/clooster/internal/backoff"
)

// temporary is an error that says whether trying again may succeed.
type temporary interface{ Temporary() bool }

// waiter is an error that says how long to wait before trying again (a
// Retry-After); 0 when it does not say.
type waiter interface{ RetryAfter() time.Duration }

// retryWait decides what follows a failed attempt: how long to wait before
// the next one, or, when why is not empty, that the note is given up and why.
func (q *Queue) retryWait(attempt int, err error) (wait time.Duration, why string) {
	var tmp temporary
	var w waiter
	switch {
	case errors.Is(err, ErrMisconfigured):
		return 0, "not retrying a misconfiguration"
	case errors.As(err, &tmp) && !tmp.Temporary():
		return 0, "rejected, not retrying"
	}
	if errors.As(err, &w) && w.RetryAfter() > 0 {
		if w.RetryAfter() > maxRetryAfter {
			return 0, "rate limited for too long, giving up"
		}
		return w.RetryAfter(), ""
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
