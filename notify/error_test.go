package notify

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{name: "api error", err: Error{Status: 401, Code: "invalid_access_token", Message: "Access token is missing or invalid."},
			want: "pushbullet: 401 invalid_access_token: Access token is missing or invalid."},
		{name: "no code", err: Error{Status: 502, Message: "Bad Gateway"}, want: "pushbullet: 502: Bad Gateway"},
		{name: "bare status", err: Error{Status: 500}, want: "pushbullet: 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorTemporary(t *testing.T) {
	tests := []struct {
		status int
		want   bool
	}{
		{400, false}, {401, false}, {403, false}, {404, false}, {413, false},
		{429, true}, {500, true}, {502, true}, {503, true}, {504, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			e := &Error{Status: tt.status}
			if got := e.Temporary(); got != tt.want {
				t.Errorf("Temporary() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryHeaders(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		reset      string
		status     int
		want       time.Duration
	}{
		{name: "retry-after seconds", retryAfter: "5", status: 503, want: 5 * time.Second},
		{name: "retry-after date", retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat), status: 429, want: 90 * time.Second},
		{name: "retry-after in the past", retryAfter: now.Add(-time.Minute).Format(http.TimeFormat), status: 429},
		{name: "retry-after garbage", retryAfter: "soon", status: 503},
		{name: "retry-after negative", retryAfter: "-3", status: 503},
		{name: "retry-after huge is capped", retryAfter: "999999999", status: 429, want: 24 * time.Hour},
		{name: "ratelimit reset", reset: strconv.FormatInt(now.Add(7*time.Second).Unix(), 10), status: 429, want: 7 * time.Second},
		{name: "ratelimit reset passed", reset: strconv.FormatInt(now.Add(-7*time.Second).Unix(), 10), status: 429},
		{name: "ratelimit reset ignored unless 429", reset: strconv.FormatInt(now.Add(time.Hour).Unix(), 10), status: 500},
		{name: "retry-after wins", retryAfter: "3", reset: strconv.FormatInt(now.Add(time.Hour).Unix(), 10), status: 429, want: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.retryAfter != "" {
				h.Set("Retry-After", tt.retryAfter)
			}
			if tt.reset != "" {
				h.Set("X-Ratelimit-Reset", tt.reset)
			}
			if got := retryIn(tt.status, h, now); got != tt.want {
				t.Errorf("wait = %v, want %v", got, tt.want)
			}
		})
	}
}
