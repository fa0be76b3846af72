// Package fakepb is a local stand-in for the Pushbullet API: enough of
// POST /pushes and GET /pushes, in the real JSON shapes and with the real
// error bodies and rate-limit headers, for unit tests, end-to-end tests with
// real processes, and the demo.
//
// A Server is an http.Handler. It answers under any base: a request whose
// path ends in "/pushes" (the server's root, "/v2", ...) is a pushes request;
// anything else is a 404 in Pushbullet's error shape. Faults are injected
// with FailNext, SetDown and SetLatency, and what it received is read back
// with Pushes and Stats.
//
// Concurrency: every method, ServeHTTP included, is safe for concurrent use.
// A Server owns no goroutine and needs no closing; the http.Server or
// httptest.Server that serves it is the caller's.
package fakepb

import (
	"maps"
	"sync"
	"time"
)

// The account every accepted push is sent from and, without another target,
// received by.
const (
	AccountIden  = "ujfakepb0"
	AccountEmail = "operator@example.com"
	AccountName  = "Fake Operator"
)

// RateLimit is the X-Ratelimit-Limit the server announces.
const RateLimit = 32768

// Push is a push the server accepted.
type Push struct {
	At    time.Time
	Title string
	Body  string
	// Target holds the one target field of the request ("device_iden",
	// "email", "channel_tag" or "client_iden") with its value; it is nil for
	// a push to all devices.
	Target map[string]string
}

// Stats counts what the server saw.
type Stats struct {
	Requests int         // every request that reached the handler
	Accepted int         // pushes answered 200; a repeated guid counts, but is not stored twice
	Rejected map[int]int // answers other than 200 by status, injected faults included
	Dropped  int         // connections closed without an answer while down
	Canceled int         // requests whose client gave up during the latency
}

// Server is a fake Pushbullet API. Create it with New.
type Server struct {
	token string

	mu         sync.Mutex
	pushes     []record
	byGUID     map[string]int // guid -> index in pushes
	failN      int
	failStatus int
	down       bool
	latency    time.Duration
	resetAfter time.Duration
	stats      Stats
}

// record is an accepted push as the server stores it.
type record struct {
	iden   string
	at     time.Time
	typ    string
	title  string
	body   string
	url    string
	guid   string
	target map[string]string
}

// New returns a server that accepts token in the Access-Token header (or as
// an "Authorization: Bearer" token). An empty token accepts any non-empty one.
func New(token string) *Server {
	return &Server{
		token:      token,
		byGUID:     make(map[string]int),
		resetAfter: 2 * time.Second,
		stats:      Stats{Rejected: make(map[int]int)},
	}
}

// Pushes returns a copy of the accepted pushes, oldest first.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Push, len(s.pushes))
	for i, r := range s.pushes {
		out[i] = Push{At: r.at, Title: r.title, Body: r.body, Target: maps.Clone(r.target)}
	}
	return out
}

// FailNext makes the next n requests fail with status, whatever they hold,
// in Pushbullet's error shape (a 429 with X-Ratelimit-Reset; a 502 or 504 with
// a non-JSON body, as an intermediate proxy answers). n <= 0 clears it.
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = max(n, 0), status
}

// SetDown makes the server close every connection without an answer, as a
// dead or unreachable API does, until SetDown(false). It needs a connection
// that can be hijacked (net/http or httptest.Server, HTTP/1.x); otherwise the
// handler aborts with http.ErrAbortHandler.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetLatency delays every answer by d. A request whose client gives up
// during the delay is left unanswered and counted in Stats.Canceled.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// SetRateLimitReset sets how far ahead X-Ratelimit-Reset points on an
// injected 429 (default 2 s; the header has whole seconds, so a client sees
// up to 1 s more).
func (s *Server) SetRateLimitReset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetAfter = max(d, 0)
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Rejected = maps.Clone(s.stats.Rejected)
	return st
}
