package cfapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go"
)

// Errors callers branch on; match them with errors.Is.
var (
	// ErrNotFound: the zone or the record does not exist (or the token
	// cannot see it). An *Error with status 404, or code 7003 or 81044,
	// matches it too.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: several records (or zones) of that name, and nothing
	// in Config to pick one.
	ErrAmbiguous = errors.New("ambiguous")
)

// Delays RetryAfter reports.
const (
	defaultRateLimitWait = 5 * time.Second  // a 429 without Retry-After
	maxRateLimitWait     = 10 * time.Minute // bound on what a Retry-After may ask
	authRetryWait        = time.Minute      // an authentication failure: retried slowly
)

// Cloudflare error codes that mean the credentials were refused.
var authCodes = []int{6103, 6111, 9103, 9106, 9107, 9109, 10000}

// Error is a failure the API reported.
type Error struct {
	Op      string        // what was attempted: "find zone", "find record", "get record", "patch record"
	Status  int           // HTTP status; 200 for an answer with "success": false
	Codes   []int         // Cloudflare's error codes, error_chain included
	Message string        // Cloudflare's messages, joined with "; "; empty when the body had none
	Retry   time.Duration // what RetryAfter returns
}

// Error returns, for example, "cloudflare: patch record: 429 Too Many
// Requests: Please wait and consider throttling your request speed (code
// 971)". It never contains a credential.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cloudflare: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	status := e.Status != 0 && e.Status != http.StatusOK
	if status {
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		if status {
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	} else if !status {
		b.WriteString("request failed")
	}
	switch len(e.Codes) {
	case 0:
	case 1:
		fmt.Fprintf(&b, " (code %d)", e.Codes[0])
	default:
		codes := make([]string, len(e.Codes))
		for i, c := range e.Codes {
			codes[i] = strconv.Itoa(c)
		}
		fmt.Fprintf(&b, " (codes %s)", strings.Join(codes, ", "))
	}
	return b.String()
}

// RetryAfter is how long to wait before trying again: for a 429, the
// Retry-After header (seconds or an HTTP date; 5s if absent, at most 10
// minutes); for an authentication failure, 1 minute, as such errors are
// retried slowly; otherwise 0, and the caller backs off as it sees fit.
func (e *Error) RetryAfter() time.Duration { return e.Retry }

// Auth reports whether the API refused the credentials (401, 403, or an
// authentication error code).
func (e *Error) Auth() bool {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return true
	}
	for _, c := range e.Codes {
		if slices.Contains(authCodes, c) {
			return true
		}
	}
	return false
}

// Is makes errors.Is(err, ErrNotFound) true for the API's "not found"
// answers.
func (e *Error) Is(target error) bool {
	if target != ErrNotFound {
		return false
	}
	return e.Status == http.StatusNotFound || slices.Contains(e.Codes, 7003) || slices.Contains(e.Codes, 81044)
}

// apiMessage is one entry of the envelope's errors, with its chain.
type apiMessage struct {
	Code       int          `json:"code"`
	Message    string       `json:"message"`
	ErrorChain []apiMessage `json:"error_chain"`
}

// convert turns what a failed SDK call returned into the error callers see:
// an *Error when the API answered with an error status, else err wrapped
// with op.
func (c *Client) convert(op string, x *exchange, err error) error {
	status, retryAfter, body := x.answer()
	if status < http.StatusBadRequest {
		if status == 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			c.stats.networkErrors.Add(1)
		} else {
			c.stats.requestErrors.Add(1)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	var msgs []apiMessage
	var env struct {
		Errors []apiMessage `json:"errors"`
	}
	if json.Unmarshal(body, &env) == nil {
		msgs = env.Errors
	}
	var cfErr *cloudflare.Error
	if len(msgs) == 0 && status < http.StatusInternalServerError && errors.As(err, &cfErr) {
		for _, m := range cfErr.Errors {
			msgs = append(msgs, apiMessage{Code: m.Code, Message: m.Message})
		}
	}
	e := c.newError(op, status, msgs)
	if e.Status == http.StatusTooManyRequests {
		e.Retry = parseRetryAfter(retryAfter, time.Now())
	}
	return e
}

// unsuccessful is the error for an answer with "success": false.
func (c *Client) unsuccessful(op string, infos []cloudflare.ResponseInfo) error {
	msgs := make([]apiMessage, len(infos))
	for i, m := range infos {
		msgs[i] = apiMessage{Code: m.Code, Message: m.Message}
	}
	return c.newError(op, http.StatusOK, msgs)
}

// newError builds an *Error, sets the slow retry for authentication
// failures, removes any credential from the messages and counts it.
func (c *Client) newError(op string, status int, msgs []apiMessage) *Error {
	e := &Error{Op: op, Status: status}
	var texts []string
	var add func(ms []apiMessage)
	add = func(ms []apiMessage) {
		for _, m := range ms {
			if m.Code != 0 {
				e.Codes = append(e.Codes, m.Code)
			}
			if m.Message != "" {
				texts = append(texts, m.Message)
			}
			add(m.ErrorChain)
		}
	}
	add(msgs)
	e.Message = strings.Join(texts, "; ")
	for _, s := range c.secrets {
		e.Message = strings.ReplaceAll(e.Message, s, "[redacted]")
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		c.stats.rateLimited.Add(1)
	case e.Auth():
		e.Retry = authRetryWait
		c.stats.authErrors.Add(1)
	case e.Status >= http.StatusInternalServerError:
		c.stats.serverErrors.Add(1)
	default:
		c.stats.requestErrors.Add(1)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. Absent or unreadable, it is 5 seconds; it is never more than 10
// minutes.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return defaultRateLimitWait
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return defaultRateLimitWait
		}
		if secs > int64(maxRateLimitWait/time.Second) {
			return maxRateLimitWait
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return defaultRateLimitWait
	}
	return min(d, maxRateLimitWait)
}
