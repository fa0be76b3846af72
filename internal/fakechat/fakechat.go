// Package fakechat is a local stand-in for the chat and push services that
// clooster's alerts may go to: ntfy, the Telegram Bot API, Discord webhooks
// and a plain webhook endpoint. It answers in the real request and answer
// shapes, records every message it accepts, and injects faults, for unit
// tests, end-to-end tests with real processes, and the demo.
//
// A Server listens on 127.0.0.1 (Start) and serves, at its URL:
//
//	POST|PUT /<topic>, POST / (JSON)        ntfy
//	/bot<token>/<method>                    Telegram (sendMessage, getMe, getUpdates)
//	POST /api/webhooks/<id>/<token>         Discord (?wait=true for the message)
//	/hook, /hook/...                        a webhook (any method)
//
// so an ntfy client is pointed at it with ?scheme=http, and a webhook with
// generic+http:// (the topic "hook" is the webhook's).
//
// Telegram and Discord clients have their hosts built in, so the Server also
// runs an HTTPS CONNECT proxy (ProxyURL) that admits api.telegram.org:443 and
// discord.com:443 only, never dials out, and answers them itself with a
// certificate signed by a CA of its own (CAPEM, WriteCA). A process run with
// Env's variables reaches the stand-in through it; a test in this process
// uses Transport.
//
// Faults are injected per service with Down (connections closed without an
// answer) and Status (every request answered with an error status, 503 or
// any other, in the service's shape); what arrived is read back with
// Messages, Wait and Requests.
//
// Concurrency: every method is safe for concurrent use. The Server owns its
// listeners and their goroutines until Close, which stops them and waits.
package fakechat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"
)

// The services, as Message.Service and the service argument of Down,
// Status and Requests name them.
const (
	Ntfy     = "ntfy"
	Telegram = "telegram"
	Discord  = "discord"
	Webhook  = "webhook"
)

// The hosts the proxy admits, on port 443.
const (
	TelegramHost = "api.telegram.org"
	DiscordHost  = "discord.com"
)

// Message is a message a service accepted.
type Message struct {
	Service string      // Ntfy, Telegram, Discord or Webhook
	Path    string      // the request's path
	Title   string      // the title, as the service's shape carries it; may be empty
	Text    string      // the text, as a reader would see it
	Header  http.Header // the request's header
	Raw     []byte      // the request's body
	At      time.Time   // when it arrived
}

// Config holds the credentials the services accept.
type Config struct {
	// NtfyUser and NtfyPassword, when set, make ntfy require that basic
	// authentication; NtfyToken, when set, an access token (as
	// "Authorization: Bearer <token>", or as the password with an empty
	// user). With neither, ntfy accepts anonymous messages.
	NtfyUser, NtfyPassword string
	NtfyToken              string
	// TelegramToken is the bot token, "<bot id>:<secret>"; empty accepts any
	// well-formed token.
	TelegramToken string
	// DiscordID and DiscordToken are the webhook's; empty accepts any.
	DiscordID, DiscordToken string
	// WebhookAuth, when set, is the Authorization header the webhook
	// requires.
	WebhookAuth string
}

// fault is what a service suffers.
type fault struct {
	down   bool
	status int
}

// Server is the stand-in. Create it with Start.
type Server struct {
	// URL is the base of the plain-HTTP listener, http://127.0.0.1:port.
	URL string
	// ProxyURL is the CONNECT proxy's, http://127.0.0.1:port.
	ProxyURL string

	cfg Config
	ca  *authority

	mu       sync.Mutex
	messages []Message
	arrived  chan struct{} // closed and replaced when a message arrives
	faults   map[string]fault
	requests map[string]int
	ids      int64 // the last message or object id handed out

	servers   []*httptest.Server
	tunnels   *connListener
	closeOnce sync.Once
}

// Messages returns a copy of the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = m.clone()
	}
	return out
}

// Wait returns the accepted messages, oldest first, once there are at least
// n, or ctx's error if it ends first.
func (s *Server) Wait(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		enough, arrived := len(s.messages) >= n, s.arrived
		s.mu.Unlock()
		if enough {
			return s.Messages(), nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Down makes service close every connection without an answer, as a dead
// or unreachable service does, until Down(service, false).
func (s *Server) Down(service string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults[service]
	f.down = down
	s.faults[service] = f
}

// Status makes service answer every request with status, in the service's
// error shape (502 and 504 as an intermediate proxy does, in HTML), until
// Status(service, 0). A 429 says to retry after a second.
func (s *Server) Status(service string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults[service]
	f.status = status
	s.faults[service] = f
}

// Requests returns how many requests reached service, faults included.
func (s *Server) Requests(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[service]
}

// record stores an accepted message and wakes the waiters.
func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// nextID hands out increasing ids for messages and objects.
func (s *Server) nextID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	return s.ids
}

func (m Message) clone() Message {
	m.Header = m.Header.Clone()
	m.Raw = slices.Clone(m.Raw)
	return m
}
