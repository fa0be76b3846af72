package notify

import (
	"errors"
	"math/rand/v2"
	"time"
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
	return q.jitter(backoff(attempt)), ""
}

// backoff is the wait after the given failed attempt before jitter:
// baseDelay doubled for each attempt after the first, capped at maxDelay.
func backoff(attempt int) time.Duration {
	d := baseDelay
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// jitter spreads d over [0.75 d, 1.25 d).
func jitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d*3/4 + rand.N(d/2)
}
