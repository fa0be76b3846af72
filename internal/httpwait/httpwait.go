// Package httpwait reads how long an HTTP answer asks its client to wait
// before trying again. Its functions are pure and safe for concurrent use.
package httpwait

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max caps any wait an answer may ask for.
const Max = 24 * time.Hour

// RetryAfter parses h's Retry-After header, delay seconds or an HTTP date,
// as a wait from now, at most Max; 0 when it says none.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(Max/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), Max)
	}
	return 0
}
