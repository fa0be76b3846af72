package cfapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// promptly bounds a call that must not sleep inside the client: the SDK's
// own retries would wait a second or more.
const promptly = 500 * time.Millisecond

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name       string
		fault      func(e *env)
		wantStatus int
		wantCodes  []int
		wantRetry  time.Duration
		wantAuth   bool
		wantMsg    string // Error() for Get; SetContent says "patch record"
	}{
		{"401", func(e *env) { e.fake.FailNext(1, 401) }, 401, []int{10000}, time.Minute, true,
			"cloudflare: get record: 401 Unauthorized: Authentication error (code 10000)"},
		{"403", func(e *env) { e.fake.FailNext(1, 403) }, 403, []int{10000}, time.Minute, true,
			"cloudflare: get record: 403 Forbidden: Authentication error (code 10000)"},
		{"wrong token", func(e *env) { e.fake.SetToken("another-token") }, 403, []int{9109}, time.Minute, true,
			"cloudflare: get record: 403 Forbidden: Invalid access token (code 9109)"},
		{"429 with Retry-After: 7", func(e *env) { e.fake.RateLimitNext(1, 7*time.Second) }, 429, []int{971}, 7 * time.Second, false,
			"cloudflare: get record: 429 Too Many Requests: Please wait and consider throttling your request speed (code 971)"},
		{"429 without Retry-After", func(e *env) { e.fake.FailNext(1, 429) }, 429, []int{971}, 5 * time.Second, false,
			"cloudflare: get record: 429 Too Many Requests: Please wait and consider throttling your request speed (code 971)"},
		{"500", func(e *env) { e.fake.FailNext(1, 500) }, 500, []int{1000}, 0, false,
			"cloudflare: get record: 500 Internal Server Error: Internal Server Error (code 1000)"},
		{"502 from the edge", func(e *env) { e.fake.FailNext(1, 502) }, 502, nil, 0, false,
			"cloudflare: get record: 502 Bad Gateway"},
		{"522 from the edge", func(e *env) { e.fake.FailNext(1, 522) }, 522, nil, 0, false,
			"cloudflare: get record: 522 "},
		{"400", func(e *env) { e.fake.FailNext(1, 400) }, 400, []int{9207}, 0, false,
			"cloudflare: get record: 400 Bad Request: Request body is invalid. (code 9207)"},
		{"404", func(e *env) { e.fake.FailNext(1, 404) }, 404, []int{7003, 7000}, 0, false,
			"cloudflare: get record: 404 Not Found: Could not route to /client/v4/zones/"},
	}
	for _, tt := range tests {
		for _, op := range []string{"get record", "patch record"} {
			if tt.wantStatus == 404 && op == "get record" {
				continue // a vanished record is looked up again: TestRecordVanished
			}
			t.Run(tt.name+"/"+op, func(t *testing.T) {
				e := newEnv(t)
				c := e.client(t, func(c *Config) { c.ZoneID = e.zone })
				rec, err := c.Get(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				tt.fault(e)
				before := e.fake.Stats().Requests
				start := time.Now()
				if op == "get record" {
					_, err = c.Get(context.Background())
				} else {
					_, err = c.SetContent(context.Background(), rec, "192.0.2.2")
				}
				if d := time.Since(start); d > promptly {
					t.Errorf("took %v, want no wait inside the client", d)
				}
				if n := e.fake.Stats().Requests - before; n != 1 {
					t.Errorf("requests: got %d, want exactly 1", n)
				}
				var apiErr *Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("got %T %v, want *Error", err, err)
				}
				if apiErr.Op != op || apiErr.Status != tt.wantStatus || !slices.Equal(apiErr.Codes, tt.wantCodes) {
					t.Errorf("got op %q status %d codes %v, want %q %d %v", apiErr.Op, apiErr.Status, apiErr.Codes, op, tt.wantStatus, tt.wantCodes)
				}
				if got := apiErr.RetryAfter(); got != tt.wantRetry {
					t.Errorf("RetryAfter: got %v, want %v", got, tt.wantRetry)
				}
				if got := apiErr.Auth(); got != tt.wantAuth {
					t.Errorf("Auth: got %v, want %v", got, tt.wantAuth)
				}
				wantMsg := strings.Replace(tt.wantMsg, "get record", op, 1)
				if !strings.HasPrefix(err.Error(), wantMsg) {
					t.Errorf("message: got %q, want %q", err, wantMsg)
				}
				// The retry policy belongs to the caller: through a small
				// interface, as the caller uses it.
				var ra interface{ RetryAfter() time.Duration }
				if !errors.As(fmt.Errorf("update record: %w", err), &ra) || ra.RetryAfter() != tt.wantRetry {
					t.Errorf("RetryAfter through wrapping: got %v, want %v", ra, tt.wantRetry)
				}
			})
		}
	}
}

func TestRecordVanished(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, func(c *Config) { c.ZoneID = e.zone })
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.fake.FailNext(1, 404)
	m := e.mark()
	rec, err := c.Get(context.Background())
	if err != nil || rec.ID != e.www {
		t.Fatalf("got %+v, %v; want the record found again", rec, err)
	}
	want := []string{
		"GET /zones/" + e.zone + "/dns_records/" + e.www,
		"GET /zones/" + e.zone + "/dns_records?name=www.example.com&page=1&per_page=100&type=A",
	}
	if got := e.requests(m); !slices.Equal(got, want) {
		t.Errorf("requests: got %q, want %q", got, want)
	}
}

func TestNotFoundThroughWrapping(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want bool
	}{
		{"404", &Error{Status: 404}, true},
		{"7003 with 400", &Error{Status: 400, Codes: []int{7003, 7000}}, true},
		{"81044", &Error{Status: 404, Codes: []int{81044}}, true},
		{"500", &Error{Status: 500}, false},
		{"403", &Error{Status: 403, Codes: []int{10000}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fmt.Errorf("update record: %w", tt.err)
			if got := errors.Is(err, ErrNotFound); got != tt.want {
				t.Errorf("errors.Is(ErrNotFound): got %v, want %v", got, tt.want)
			}
			if errors.Is(err, ErrAmbiguous) {
				t.Errorf("errors.Is(ErrAmbiguous): got true, want false")
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"one code", &Error{Op: "patch record", Status: 429, Codes: []int{971}, Message: "Please wait and consider throttling your request speed"},
			"cloudflare: patch record: 429 Too Many Requests: Please wait and consider throttling your request speed (code 971)"},
		{"no body", &Error{Op: "get record", Status: 503}, "cloudflare: get record: 503 Service Unavailable"},
		{"success false", &Error{Op: "find zone", Status: 200, Codes: []int{1001}, Message: "bad"}, "cloudflare: find zone: bad (code 1001)"},
		{"nothing", &Error{Op: "find zone", Status: 200}, "cloudflare: find zone: request failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"absent", "", 5 * time.Second},
		{"seconds", "7", 7 * time.Second},
		{"spaces", " 12 ", 12 * time.Second},
		{"zero", "0", 0},
		{"negative", "-3", 5 * time.Second},
		{"garbage", "soon", 5 * time.Second},
		{"capped", "86400", 10 * time.Minute},
		{"http date", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"http date past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"http date far", now.Add(24 * time.Hour).Format(http.TimeFormat), 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.header, now); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContextCancellation(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, func(c *Config) { c.ZoneID = e.zone })
	rec, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SetLatency(time.Hour)

	t.Run("canceled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		before := e.fake.Stats().Requests
		go func() {
			for e.fake.Stats().Requests == before {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		_, err := c.SetContent(ctx, rec, "192.0.2.2")
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "patch record: ") {
			t.Errorf("got %v, want a wrapped context.Canceled", err)
		}
		var apiErr *Error
		if errors.As(err, &apiErr) {
			t.Errorf("got *Error %v, want none", apiErr)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		_, err := c.Get(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "get record: ") {
			t.Errorf("got %v, want a wrapped context.DeadlineExceeded", err)
		}
	})
	t.Run("canceled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		before := e.fake.Stats().Requests
		if _, err := c.Get(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if n := e.fake.Stats().Requests - before; n != 0 {
			t.Errorf("requests: got %d, want 0", n)
		}
	})
	if got := c.Stats().NetworkErrors; got != 3 {
		t.Errorf("network errors: got %d, want 3", got)
	}
}

func TestNetworkErrors(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, func(c *Config) { c.ZoneID = e.zone })
	rec, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	e.fake.SetDown(true)
	for _, op := range []string{"get record", "patch record"} {
		var err error
		if op == "get record" {
			_, err = c.Get(context.Background())
		} else {
			_, err = c.SetContent(context.Background(), rec, "192.0.2.2")
		}
		var apiErr *Error
		if err == nil || errors.As(err, &apiErr) || !strings.HasPrefix(err.Error(), op+": ") {
			t.Errorf("%s while down: got %v, want a wrapped network error", op, err)
		}
	}
	// No retry of ours; net/http itself resends an idempotent GET once on a
	// fresh connection when a kept-alive one closes unanswered.
	if got := e.fake.Stats().Dropped; got < 2 || got > 3 {
		t.Errorf("dropped: got %d, want 2 or 3", got)
	}

	e.srv.Close() // nothing listens any more
	if _, err := c.Get(context.Background()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("closed server: got %v, want connection refused", err)
	}
	if got := c.Stats().NetworkErrors; got != 3 {
		t.Errorf("network errors: got %d, want 3", got)
	}
}

// TestConcurrentCallsKeepTheirAnswers has many calls in flight at once,
// each answered 429 with its own Retry-After: each must read its own.
func TestConcurrentCallsKeepTheirAnswers(t *testing.T) {
	var n sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Lock()
		requests++
		n.Unlock()
		// The record id is the number of seconds to ask for.
		secs := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", secs)
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[],"result":null}`))
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, Token: testToken, ZoneID: "z", Record: "www.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 40; i++ {
		wg.Go(func() {
			_, err := c.SetContent(context.Background(), Record{ID: strconv.Itoa(i), ZoneID: "z"}, "192.0.2.2")
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.RetryAfter() != time.Duration(i)*time.Second {
				t.Errorf("call %d: got %v, want RetryAfter %ds", i, err, i)
			}
		})
	}
	wg.Wait()
	if requests != 40 {
		t.Errorf("requests: got %d, want 40", requests)
	}
	if st := c.Stats(); st.RateLimited != 40 || st.Requests != 40 {
		t.Errorf("stats: got %+v, want 40 requests, 40 rate limited", st)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	rec, _ := c.Get(context.Background())
	c.SetContent(context.Background(), rec, "192.0.2.2")
	e.fake.FailNext(1, 500)
	c.Get(context.Background())
	e.fake.FailNext(1, 401)
	c.Get(context.Background())
	e.fake.RateLimitNext(1, time.Second)
	c.Get(context.Background())
	c.SetContent(context.Background(), rec, "not an address")
	want := Stats{Requests: 7, Reads: 1, Writes: 1, RateLimited: 1, AuthErrors: 1, ServerErrors: 1, RequestErrors: 1}
	if got := c.Stats(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
