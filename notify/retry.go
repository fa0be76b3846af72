package notify

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/clooster/clooster/internal/backoff"
)

// retryWait decides what follows a failed attempt: how long to wait before
// the next one, or, when why is not empty, that the note is given up and why.
func (q *Queue) retryWait(attempt int, err error) (wait time.Duration, why string) {
	var apiErr *Error
	isAPI := errors.As(err, &apiErr)
	switch {
	case errors.Is(err, ErrMisconfigured):
		return 0, "not retrying a misconfiguration"
	case isAPI && !apiErr.Temporary():
		return 0, "rejected, not retrying"
	case attempt >= maxAttempts:
		return 0, "giving up"
	case isAPI && apiErr.Retry > maxRetryAfter:
		return 0, "rate limited for too long, giving up"
	case isAPI && apiErr.Retry > 0:
		return apiErr.Retry, ""
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
