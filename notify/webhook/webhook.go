// Package webhook sends alerts to an HTTP endpoint, configured by a URL in
// the syntax of shoutrrr's generic service:
//
//	generic://host[:port]/path?query       https, or http with disabletls=yes
//	generic+https://host[:port]/path?query the scheme after "+" is the real one
//	generic+http://host[:port]/path?query
//
// The query configures the request, as in shoutrrr: template ("json" for a
// JSON object, empty for the message alone as a text/plain body),
// contenttype, disabletls, title (the title when Push is given none, which
// shoutrrr ignores), titlekey, messagekey and method; "@Name=value" adds a request header and
// "$key=value" a field of the JSON object. Any other key is passed on in the
// target's query; a key that collides with one of these is passed on by
// prefixing it with "__" ("__title=x" sends "title=x"). Userinfo is sent as
// basic authentication unless a header sets Authorization. Templates other
// than json are not supported.
//
// Concurrency: a Sender does not change after New; Push may be called from
// any number of goroutines at once. Nothing it returns contains the URL's
// userinfo, the target's query values or the header values; Secrets lists
// them for whoever logs anything else about the endpoint.
package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 64 << 10

// Sender sends alerts to one webhook. Create it with New.
type Sender struct {
	target      *url.URL // scheme, host, path and passed-on query; no userinfo
	user        *url.Userinfo
	method      string
	json        bool
	contentType string
	title       string
	titleKey    string
	messageKey  string
	headers     []header
	extra       map[string]string
	client      *http.Client
}

type header struct{ name, value string }

// New returns a Sender for the webhook URL u. A nil client stands for one
// with a 10 s timeout on http.DefaultTransport. Errors describe the bad part
// of u without repeating any secret in it.
func New(u *url.URL, client *http.Client) (*Sender, error) {
	s, err := parse(u)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	s.client = client
	return s, nil
}

// Push sends one alert in a single attempt: with the json template, an
// object holding body under the message key, the title (or the URL's, when
// title is empty) under the title key if there is one, and the extra
// fields; without a template, body alone. An answer of 400 or more, or a
// request that got none, is an *Error.
func (s *Sender) Push(ctx context.Context, title, body string) error {
	payload, err := s.payload(title, body)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.target.String(), bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("webhook: %w", s.redact(err))
	}
	ct := "text/plain"
	if s.json {
		ct = s.contentType
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", ct)
	for _, h := range s.headers {
		req.Header.Set(h.name, h.value)
	}
	if s.user != nil && req.Header.Get("Authorization") == "" {
		pass, _ := s.user.Password()
		req.SetBasicAuth(s.user.Username(), pass)
	}

	resp, err := s.client.Do(req)
	if err != nil {
		return s.networkError(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode >= http.StatusBadRequest {
		return s.statusError(resp, answer)
	}
	return nil
}

// payload is the request body for title and body.
func (s *Sender) payload(title, body string) ([]byte, error) {
	if !s.json {
		return []byte(body), nil
	}
	if title == "" {
		title = s.title
	}
	obj := make(map[string]string, 2+len(s.extra))
	if title != "" {
		obj[s.titleKey] = title
	}
	obj[s.messageKey] = body
	for k, v := range s.extra {
		obj[k] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return b, nil
}

// Secrets returns what must not be shown about the webhook: the header
// values (and the credentials of an Authorization header without its
// scheme), the userinfo's name and password (and their basic-auth
// encoding), and the target's query values. Empty values are left out, and
// each value is listed once.
func (s *Sender) Secrets() []string {
	var out []string
	seen := make(map[string]bool)
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, h := range s.headers {
		add(h.value)
		if h.name == "Authorization" || h.name == "Proxy-Authorization" {
			if _, cred, ok := strings.Cut(h.value, " "); ok {
				add(strings.TrimSpace(cred)) // the token of "Bearer <token>"
			}
		}
	}
	if s.user != nil {
		pass, _ := s.user.Password()
		add(s.user.Username())
		add(pass)
		add(base64.StdEncoding.EncodeToString([]byte(s.user.Username() + ":" + pass)))
	}
	for _, vs := range s.target.Query() {
		for _, v := range vs {
			add(v)
		}
	}
	return out
}

// Endpoint returns the webhook's scheme and host, e.g. "https://example.com",
// which is safe to show: the path, which may hold a key, is left out.
func (s *Sender) Endpoint() string {
	return s.target.Scheme + "://" + s.target.Host
}

// networkError turns a failed round trip into an *Error without the URL
// net/http puts in it.
func (s *Sender) networkError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Op: s.method + " " + s.Endpoint(), Err: err, secrets: s.Secrets()}
}
