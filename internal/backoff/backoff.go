// Package backoff computes the waits between retries: capped exponential
// backoff, with jitter drawn from a source the caller gives, so that a
// simulation can replay it. It holds no state and starts nothing.
package backoff

import "time"

// Policy is a capped exponential backoff: Min after the first failure,
// doubled after each further one, never more than Max.
type Policy struct {
	Min, Max time.Duration
}

// Delay is the wait after the given number of failures in a row (from 1),
// before jitter.
func (p Policy) Delay(failures int) time.Duration {
	d := p.Min
	for i := 1; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Jittered is Delay spread over its upper half, [d/2, d], with n drawing a
// number in [0, k) as rand.Int64N does; so the wait never exceeds Max and
// two nodes retrying together drift apart.
func (p Policy) Jittered(failures int, n func(int64) int64) time.Duration {
	return UpperHalf(p.Delay(failures), n)
}

// UpperHalf spreads d over [d/2, d].
func UpperHalf(d time.Duration, n func(int64) int64) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(n(int64(d/2)+1))
}
