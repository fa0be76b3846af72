package notify

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/logtext"

	"github.com/clooster/clooster/internal/httpwait"
)

// Error is an error the Pushbullet API answered.
type Error struct {
	Status  int           // HTTP status
	Code    string        // the API's error code, e.g. "invalid_access_token"; empty for a non-JSON answer
	Type    string        // "invalid_request" or "server"; empty for a non-JSON answer
	Message string        // the API's message, or the status text
	Retry   time.Duration // how long to wait before trying again, from Retry-After or X-Ratelimit-Reset; 0 if not said
}

// Error returns e.g. "pushbullet: 401 invalid_access_token: Access token is
// missing or invalid.".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pushbullet: ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Temporary reports whether trying again may succeed: true for 429 and 5xx,
// false for the other 4xx.
func (e *Error) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// apiError turns a non-2xx answer into an *Error. Whatever the answer says is
// kept out of it if it contains the token.
func (p *Pushbullet) apiError(resp *http.Response, answer []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		ErrorCode string `json:"error_code"`
	}
	if json.Unmarshal(answer, &body) == nil {
		e.Code = body.Error.Code
		if e.Code == "" {
			e.Code = body.ErrorCode
		}
		e.Type = body.Error.Type
		e.Message = body.Error.Message
	}
	e.Code = logtext.OneLine(logtext.Redact(e.Code, p.Token), 64)
	e.Type = logtext.OneLine(logtext.Redact(e.Type, p.Token), 64)
	e.Message = logtext.OneLine(logtext.Redact(e.Message, p.Token), 256)
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.Retry = retryIn(resp.StatusCode, resp.Header, time.Now())
	return e
}

// retryIn is how long an answer asks to wait: its Retry-After, or for a 429
// without one, until its X-Ratelimit-Reset.
func retryIn(status int, h http.Header, now time.Time) time.Duration {
	if d := httpwait.RetryAfter(h, now); d > 0 {
		return d
	}
	if status == http.StatusTooManyRequests {
		return untilReset(h, now)
	}
	return 0
}

// untilReset parses X-Ratelimit-Reset (unix seconds) into a wait from now.
func untilReset(h http.Header, now time.Time) time.Duration {
	secs, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Ratelimit-Reset")), 10, 64)
	if err != nil {
		return 0
	}
	if t := time.Unix(secs, 0); t.After(now) {
		return t.Sub(now)
	}
	return 0
}
