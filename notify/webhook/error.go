package webhook

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/logtext"

	"github.com/clooster/clooster/internal/httpwait"
)

// Error is a push that failed: the endpoint answered with a status of 400
// or more, or no answer came (Status 0, Err says why).
type Error struct {
	Status  int           // HTTP status; 0 when no answer came
	Message string        // the first line of a text or JSON answer, secrets removed; may be empty
	Retry   time.Duration // how long the answer's Retry-After asks to wait; 0 if not said
	Op      string        // for a failed request: the method and endpoint, e.g. "POST https://example.com"
	Err     error         // for a failed request: why, e.g. a refused connection or ctx's error

	secrets []string
}

// Error returns e.g. "webhook: 503 Service Unavailable: try later" or
// "webhook: POST https://example.com: dial tcp ...: connection refused".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("webhook: ")
	if e.Status == 0 {
		b.WriteString(e.Op)
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(logtext.Redact(e.Err.Error(), e.secrets...))
		}
		return b.String()
	}
	b.WriteString(strconv.Itoa(e.Status))
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" ")
		b.WriteString(t)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the cause of a request that got no answer, so that
// errors.Is(err, context.Canceled) holds when ctx was cancelled.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again may succeed: true for 429, 5xx and
// a request that got no answer; false for the other 4xx.
func (e *Error) Temporary() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// statusError turns an answer of 400 or more into an *Error.
func (s *Sender) statusError(resp *http.Response, answer []byte) *Error {
	e := &Error{Status: resp.StatusCode, Retry: httpwait.RetryAfter(resp.Header, time.Now()), secrets: s.Secrets()}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/plain" || mt == "application/json" || strings.HasSuffix(mt, "+json") {
		line, _, _ := strings.Cut(string(answer), "\n")
		e.Message = logtext.OneLine(logtext.Redact(line, e.secrets...), 200)
	}
	return e
}

// redact is err with the sender's secrets replaced.
func (s *Sender) redact(err error) error {
	return errors.New(logtext.Redact(err.Error(), s.Secrets()...))
}
