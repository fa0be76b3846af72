package telegram

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/logtext"

	"github.com/clooster/clooster/internal/httpwait"
)

// ErrUnexpectedAnswer is the Err of an *Error for an answer that is not the
// Bot API's: not its JSON (a proxy's HTML page for a 502, say), or "ok"
// with a status other than 200.
var ErrUnexpectedAnswer = errors.New("answer is not the Bot API's")

// Error is a message that one chat did not get: the Bot API refused it, an
// answer came that is not the API's, or no answer came (Status 0).
type Error struct {
	Chat        string        // the chat as the URL names it, e.g. "12345", "@alerts" or "-100123:7"
	Status      int           // HTTP status; 0 when no answer came
	Code        int           // the API's error_code (the status if it gave none); 0 when the answer was not the API's
	Description string        // the API's description, e.g. "Forbidden: bot was blocked by the user"; secrets removed
	Retry       time.Duration // how long the answer asks to wait (retry_after or Retry-After); 0 if not said
	MigrateTo   int64         // the supergroup a group became, when the API says so; 0 if not said
	Err         error         // why there is no API answer: the request's failure, or ErrUnexpectedAnswer

	secrets []string
}

// Error returns e.g. "telegram: chat 12345: error 403: Forbidden: bot was
// blocked by the user", "telegram: chat 12345: 502 Bad Gateway: answer is
// not the Bot API's (text/html)" or "telegram: chat 12345: sendMessage:
// read: connection reset by peer". It never holds the bot token.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("telegram: chat ")
	b.WriteString(e.Chat)
	b.WriteString(": ")
	switch {
	case e.Status == 0:
		b.WriteString("sendMessage")
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(logtext.OneLine(logtext.Redact(e.Err.Error(), e.secrets...), 300))
		}
	case e.Err != nil:
		b.WriteString(strconv.Itoa(e.Status))
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" ")
			b.WriteString(t)
		}
		b.WriteString(": ")
		b.WriteString(logtext.OneLine(logtext.Redact(e.Err.Error(), e.secrets...), 300))
	default:
		b.WriteString("error ")
		b.WriteString(strconv.Itoa(e.Code))
		if e.Description != "" {
			b.WriteString(": ")
			b.WriteString(e.Description)
		}
		if e.MigrateTo != 0 {
			b.WriteString(" (now chat ")
			b.WriteString(strconv.FormatInt(e.MigrateTo, 10))
			b.WriteString(")")
		}
	}
	return b.String()
}

// Unwrap returns Err, so that errors.Is(err, context.Canceled) holds when
// ctx was cancelled, and errors.Is(err, ErrUnexpectedAnswer) for an answer
// that is not the API's.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again may succeed: true for no answer,
// an answer that is not the API's, 429, 5xx and any answer that asks to
// wait; false for the API's other refusals (400, 401, 403, 404).
func (e *Error) Temporary() bool {
	return e.Status == 0 || e.Err != nil || e.Code == http.StatusTooManyRequests || e.Code >= 500 || e.Retry > 0
}

// apiAnswer is the Bot API's answer, as far as a sender needs it.
type apiAnswer struct {
	OK          *bool  `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  *struct {
		RetryAfter      int64 `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// answerError returns nil for the API's success, an HTTP 200 with "ok":
// true, and an *Error for anything else.
func (s *Sender) answerError(c chat, resp *http.Response, answer []byte) *Error {
	e := &Error{Chat: c.name, Status: resp.StatusCode, secrets: s.Secrets()}
	var a apiAnswer
	if err := json.Unmarshal(answer, &a); err != nil || a.OK == nil || (*a.OK && resp.StatusCode != http.StatusOK) {
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if mt == "" {
			mt = "no content type"
		}
		e.Err = fmt.Errorf("%w (%s)", ErrUnexpectedAnswer, logtext.OneLine(mt, 64))
		e.Retry = httpwait.RetryAfter(resp.Header, time.Now())
		return e
	}
	if *a.OK {
		return nil
	}
	e.Code = cmp.Or(a.ErrorCode, resp.StatusCode)
	e.Description = logtext.OneLine(logtext.Redact(a.Description, e.secrets...), 200)
	if p := a.Parameters; p != nil {
		if p.RetryAfter > 0 {
			e.Retry = time.Duration(min(p.RetryAfter, int64(httpwait.Max/time.Second))) * time.Second
		}
		e.MigrateTo = p.MigrateToChatID
	}
	if e.Retry == 0 {
		e.Retry = httpwait.RetryAfter(resp.Header, time.Now())
	}
	return e
}

// chatErrors are the failures of a Push to several chats, the one that
// best says whether and when to try again first: the temporary ones, the
// longest wait first, then the others, each in the URL's order.
type chatErrors []*Error

func newChatErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if a.Temporary() != b.Temporary() {
			if a.Temporary() {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Retry, a.Retry)
	})
	return chatErrors(errs)
}

// Error returns the errors on one line, e.g. "telegram: chat 1: error 429:
// Too Many Requests: retry after 5; chat @alerts: error 403: Forbidden".
func (es chatErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
		if i > 0 {
			parts[i] = strings.TrimPrefix(parts[i], "telegram: ")
		}
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the *Errors, for errors.As and errors.Is.
func (es chatErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
