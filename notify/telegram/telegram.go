// Package telegram sends alerts to Telegram chats through the Bot API,
// configured by a URL in the syntax of shoutrrr's telegram service:
//
//	telegram://<bot id>:<secret>@telegram?chats=<chat id>,@<channel>,<chat id>:<thread id>
//
// The query keys are read in any case: chats (or channels), the chat ids,
// @channel names and forum topics ("<chat id>:<thread id>") to send to;
// preview and notification (yes or no, both yes by default), whether links
// get a preview and the message a sound; parsemode (None, Markdown, HTML or
// MarkdownV2), how Telegram reads the text; and title, the title when Push
// is given none. Any other key is an error.
//
// A message's text is the title, a blank line and the body. With parse mode
// None both go as they are; in the other modes the title is escaped for
// the mode and made bold (HTML, MarkdownV2) or left plain (Markdown, whose
// bold cannot hold an escaped "*"), and the body must be written in the
// mode's markup. This differs from shoutrrr, which sends a title with mode
// None as HTML and drops it in the Markdown modes. A text over Telegram's
// limit of 4096 UTF-16 code units is cut, at a rune boundary, and ends in
// "…"; it then goes without a parse mode, as a cut may break the markup.
//
// Unlike shoutrrr's service, which takes a request that got no answer, or an
// answer that is not the Bot API's (a proxy's 502 page), for a success, a
// Sender counts as sent only what the API accepted: an HTTP 200 with
// "ok": true. Everything else is an *Error.
//
// Concurrency: a Sender's configuration does not change after New, and Push
// may be called from any number of goroutines; the calls run one at a time,
// so that a Sender knows which chats got the note it sent last (see Push).
// Nothing a Sender returns contains the bot token; Secrets lists it for
// whoever logs anything else about the channel.
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/clooster/clooster/internal/logtext"
)

// apiBase is the Bot API's address.
const apiBase = "https://api.telegram.org"

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 64 << 10

// noteMemory is how long after its first Push a note's delivered chats are
// remembered: longer than a caller's retries of one note take, so that the
// same text as a new alert later reaches every chat again.
const noteMemory = 10 * time.Minute

// Sender sends alerts to the chats of one Telegram URL. Create it with New.
type Sender struct {
	token        string // "<bot id>:<secret>"
	secret       string
	chats        []chat
	preview      bool
	notification bool
	mode         parseMode
	title        string
	client       *http.Client

	now  func() time.Time
	turn chan struct{} // holds a token while a Push runs
	last *note         // the note pushed last, while a retry may still send it
}

// note is a Push's title and body, and the chats that got it.
type note struct {
	title, body string
	since       time.Time       // its first Push
	done        map[string]bool // by chat.name
}

// New returns a Sender for the telegram URL u. A nil client stands for one
// with a 10 s timeout on http.DefaultTransport. Errors describe the bad part
// of u without repeating the bot token.
func New(u *url.URL, client *http.Client) (*Sender, error) {
	s, err := parse(u)
	if err != nil {
		// A value may hold the token, pasted in the wrong place.
		var secrets []string
		if u != nil && u.User != nil {
			secret, _ := u.User.Password()
			secrets = []string{u.User.Username() + ":" + secret, secret}
		}
		return nil, errors.New("telegram: " + logtext.OneLine(logtext.Redact(err.Error(), secrets...), 300))
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	s.client = client
	s.now = time.Now
	s.turn = make(chan struct{}, 1)
	return s, nil
}

// Push sends one alert to each chat of the URL, one request per chat, and
// returns nil when every chat got it. When some did not, it returns their
// *Error, or for several chats an error joining one *Error per chat (the
// temporary ones first, the longest wait first), so that errors.As finds
// one that says whether and when to try again; the other chats are tried
// all the same.
//
// A Sender remembers which chats got the note it pushed last: a Push with
// the same title and body skips them, so that trying a note again does not
// repeat it where it arrived. It forgets the note, and sends the same title
// and body to every chat again, once every chat got it, once no chat failed
// but for a reason a retry cannot fix (no error is Temporary), ten minutes
// after the note's first Push, and at a Push of another title or body.
// Calls wait for each other; one that ctx ends while it waits returns ctx's
// error.
func (s *Sender) Push(ctx context.Context, title, body string) error {
	text, mode := s.message(title, body)
	if text == "" {
		return errors.New("telegram: empty message")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("telegram: %w", err)
	}
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		return fmt.Errorf("telegram: %w", ctx.Err())
	}

	now := s.now()
	if s.last == nil || s.last.title != title || s.last.body != body || now.Sub(s.last.since) >= noteMemory {
		s.last = &note{title: title, body: body, since: now, done: make(map[string]bool)}
	}
	var errs []*Error
	for _, c := range s.chats {
		if s.last.done[c.name] {
			continue
		}
		if err := s.send(ctx, c, text, mode); err != nil {
			errs = append(errs, err)
			continue
		}
		s.last.done[c.name] = true
	}
	if !slices.ContainsFunc(errs, (*Error).Temporary) {
		s.last = nil // delivered, or refused for good: no retry will follow
	}
	return newChatErrors(errs)
}

// sendMessage is the body of a sendMessage request.
type sendMessage struct {
	ChatID                string `json:"chat_id"`
	MessageThreadID       int64  `json:"message_thread_id,omitempty"`
	Text                  string `json:"text"`
	ParseMode             string `json:"parse_mode,omitempty"`
	DisableWebPagePreview bool   `json:"disable_web_page_preview"`
	DisableNotification   bool   `json:"disable_notification"`
}

// send sends text to chat c in one request.
func (s *Sender) send(ctx context.Context, c chat, text string, mode parseMode) *Error {
	msg := sendMessage{
		ChatID:                c.id,
		MessageThreadID:       c.thread,
		Text:                  text,
		DisableWebPagePreview: !s.preview,
		DisableNotification:   !s.notification,
	}
	if mode != modeNone {
		msg.ParseMode = mode.String()
	}
	payload, _ := json.Marshal(msg) // strings, numbers and booleans: it cannot fail
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiBase+"/bot"+s.token+"/sendMessage", bytes.NewReader(payload))
	if err != nil {
		return s.requestError(c, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := s.client.Do(req)
	if err != nil {
		return s.requestError(c, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return s.requestError(c, fmt.Errorf("read answer: %w", err))
	}
	return s.answerError(c, resp, answer)
}

// requestError is a request that got no answer, without the URL net/http
// puts in its error: the URL holds the token.
func (s *Sender) requestError(c chat, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Chat: c.name, Err: err, secrets: s.Secrets()}
}

// Secrets returns what must not be shown about the channel: the bot token
// and its secret half.
func (s *Sender) Secrets() []string {
	return []string{s.token, s.secret}
}
