package cfapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrorBody bounds what is kept of an error answer's body.
const maxErrorBody = 64 << 10

// exchange is what the transport saw of a call's HTTP answer; cloudflare-go
// keeps neither headers nor, for 429 and 5xx, the body in its errors. Each
// call puts its own exchange in the request context, so concurrent calls
// never mix.
type exchange struct {
	mu         sync.Mutex // cloudflare-go may fetch list pages concurrently
	status     int        // 0: no answer
	retryAfter string     // the Retry-After header
	body       []byte     // error answers only
	date       time.Time  // the Date header: the API's clock at the answer; zero if absent
	sent, at   time.Time  // our clock when the request went, and when the answer came
}

// clock returns the API's clock at the answer, and ours when the request
// went and when the answer came; zero if the answer had no Date.
func (x *exchange) clock() (api, sent, received time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.date, x.sent, x.at
}

// answer returns what was recorded.
func (x *exchange) answer() (status int, retryAfter string, body []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.retryAfter, x.body
}

type exchangeKey struct{}

func withExchange(ctx context.Context) (context.Context, *exchange) {
	x := new(exchange)
	return context.WithValue(ctx, exchangeKey{}, x), x
}

// transport records each answer in the call's exchange, logs each request
// at debug level and counts requests. For error answers it reads the body
// and closes the connection's body itself: cloudflare-go does not close it
// on 429 and 5xx.
type transport struct {
	base  http.RoundTripper // nil: http.DefaultTransport
	log   *slog.Logger
	stats *counters
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	t.stats.requests.Add(1)
	start := time.Now()
	resp, err := base.RoundTrip(req)
	d := time.Since(start)
	ctx := req.Context()
	if err != nil {
		t.log.LogAttrs(ctx, slog.LevelDebug, "request",
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.Duration("duration", d), slog.Any("error", err))
		return nil, err
	}
	t.log.LogAttrs(ctx, slog.LevelDebug, "request",
		slog.String("method", req.Method), slog.String("path", req.URL.Path),
		slog.Int("status", resp.StatusCode), slog.Duration("duration", d))

	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	if x == nil {
		return resp, nil
	}
	var body []byte
	if resp.StatusCode >= http.StatusBadRequest {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	x.mu.Lock()
	x.status, x.retryAfter, x.body = resp.StatusCode, resp.Header.Get("Retry-After"), body
	x.date, _ = http.ParseTime(resp.Header.Get("Date"))
	x.sent, x.at = start, time.Now()
	x.mu.Unlock()
	return resp, nil
}

// Stats counts a Client's activity since New, for metrics. Each failed call
// counts once, under one kind.
type Stats struct {
	Requests      uint64 // HTTP requests sent
	Reads         uint64 // successful Get calls
	Writes        uint64 // successful SetContent calls
	RateLimited   uint64 // 429 answers
	AuthErrors    uint64 // credentials refused (401, 403, authentication codes)
	ServerErrors  uint64 // 5xx answers
	RequestErrors uint64 // other error answers: 4xx, "success": false, unreadable bodies
	NetworkErrors uint64 // no answer: connection failures, timeouts, cancellations
}

type counters struct {
	requests, reads, writes               atomic.Uint64
	rateLimited, authErrors, serverErrors atomic.Uint64
	requestErrors, networkErrors          atomic.Uint64
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{
		Requests:      s.requests.Load(),
		Reads:         s.reads.Load(),
		Writes:        s.writes.Load(),
		RateLimited:   s.rateLimited.Load(),
		AuthErrors:    s.authErrors.Load(),
		ServerErrors:  s.serverErrors.Load(),
		RequestErrors: s.requestErrors.Load(),
		NetworkErrors: s.networkErrors.Load(),
	}
}
