package telegram_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/notify/telegram"
)

// apiServer is an httptest TLS server that answers as api.telegram.org:
// its client dials it whatever the address, and checks its certificate for
// example.com, the name httptest's certificate holds.
func apiServer(t *testing.T, answer http.HandlerFunc) *http.Client {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Host != "api.telegram.org" || r.URL.Path != "/bot"+botToken+"/sendMessage" {
			t.Errorf("request = %s %s%s, want POST api.telegram.org/bot<token>/sendMessage", r.Method, r.Host, r.URL.Path)
		}
		if got, want := r.Header.Get("Content-Type"), "application/json"; got != want {
			t.Errorf("Content-Type = %q, want %q", got, want)
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "example.com"
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		header         map[string]string
		body           string
		wantErr        string // "" for success
		wantCode       int
		wantTemporary  bool
		wantRetry      time.Duration
		wantMigrate    int64
		wantUnexpected bool
	}{
		{name: "ok", status: 200, header: map[string]string{"Content-Type": "application/json"},
			body: `{"ok":true,"result":{"message_id":1,"chat":{"id":12345,"type":"private"},"date":1,"text":"b"}}`},
		{name: "200, not JSON", status: 200, header: map[string]string{"Content-Type": "text/html"}, body: "<html>captive portal</html>",
			wantErr: "telegram: chat 12345: 200 OK: answer is not the Bot API's (text/html)", wantTemporary: true, wantUnexpected: true},
		{name: "200, JSON without ok", status: 200, header: map[string]string{"Content-Type": "application/json"}, body: `{"result":true}`,
			wantErr: "telegram: chat 12345: 200 OK: answer is not the Bot API's (application/json)", wantTemporary: true, wantUnexpected: true},
		{name: "200, ok false", status: 200, body: `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`,
			wantErr: "telegram: chat 12345: error 400: Bad Request: chat not found", wantCode: 400},
		{name: "201, ok true", status: 201, header: map[string]string{"Content-Type": "application/json"}, body: `{"ok":true}`,
			wantErr: "telegram: chat 12345: 201 Created: answer is not the Bot API's (application/json)", wantTemporary: true, wantUnexpected: true},
		{name: "503, empty", status: 503,
			wantErr: "telegram: chat 12345: 503 Service Unavailable: answer is not the Bot API's (no content type)", wantTemporary: true, wantUnexpected: true},
		{name: "502, HTML, Retry-After", status: 502, header: map[string]string{"Content-Type": "text/html; charset=utf-8", "Retry-After": "3"}, body: "<h1>502</h1>",
			wantErr: "telegram: chat 12345: 502 Bad Gateway: answer is not the Bot API's (text/html)", wantTemporary: true, wantRetry: 3 * time.Second, wantUnexpected: true},
		{name: "group became a supergroup", status: 400,
			body:    `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}`,
			wantErr: "telegram: chat 12345: error 400: Bad Request: group chat was upgraded to a supergroup chat (now chat -1001234567890)", wantCode: 400, wantMigrate: -1001234567890},
		{name: "retry_after without a header", status: 429,
			body:    `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 30","parameters":{"retry_after":30}}`,
			wantErr: "telegram: chat 12345: error 429: Too Many Requests: retry after 30", wantCode: 429, wantTemporary: true, wantRetry: 30 * time.Second},
		{name: "Retry-After without parameters", status: 429, header: map[string]string{"Retry-After": "7"},
			body:    `{"ok":false,"error_code":429,"description":"Too Many Requests"}`,
			wantErr: "telegram: chat 12345: error 429: Too Many Requests", wantCode: 429, wantTemporary: true, wantRetry: 7 * time.Second},
		{name: "retry_after wins over Retry-After", status: 429, header: map[string]string{"Retry-After": "7"},
			body:    `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 12","parameters":{"retry_after":12}}`,
			wantErr: "telegram: chat 12345: error 429: Too Many Requests: retry after 12", wantCode: 429, wantTemporary: true, wantRetry: 12 * time.Second},
		{name: "retry_after capped at a day", status: 429,
			body:    `{"ok":false,"error_code":429,"description":"Too Many Requests","parameters":{"retry_after":999999}}`,
			wantErr: "telegram: chat 12345: error 429: Too Many Requests", wantCode: 429, wantTemporary: true, wantRetry: 24 * time.Hour},
		{name: "a refusal asking to wait is temporary", status: 400,
			body:    `{"ok":false,"error_code":400,"description":"Bad Request: slow down","parameters":{"retry_after":5}}`,
			wantErr: "telegram: chat 12345: error 400: Bad Request: slow down", wantCode: 400, wantTemporary: true, wantRetry: 5 * time.Second},
		{name: "500 without error_code", status: 500, body: `{"ok":false}`,
			wantErr: "telegram: chat 12345: error 500", wantCode: 500, wantTemporary: true},
		{name: "description with the token and a newline", status: 401,
			body:    `{"ok":false,"error_code":401,"description":"Unauthorized: bot ` + botToken + `\nnot AAbotTokenSecret"}`,
			wantErr: "telegram: chat 12345: error 401: Unauthorized: bot [redacted] not [redacted]", wantCode: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			sender := newSender(t, "telegram://"+botToken+"@telegram?chats=12345", c)
			err := sender.Push(t.Context(), "", "b")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Push: %v", err)
				}
				return
			}
			var te *telegram.Error
			if !errors.As(err, &te) {
				t.Fatalf("Push: %v (%T), want a *telegram.Error", err, err)
			}
			if got, want := err.Error(), tt.wantErr; got != want {
				t.Errorf("error = %q, want %q", got, want)
			}
			if got, want := te.Status, tt.status; got != want {
				t.Errorf("Status = %d, want %d", got, want)
			}
			if got, want := te.Code, tt.wantCode; got != want {
				t.Errorf("Code = %d, want %d", got, want)
			}
			if got, want := te.Temporary(), tt.wantTemporary; got != want {
				t.Errorf("Temporary() = %v, want %v", got, want)
			}
			if got, want := te.Retry, tt.wantRetry; got != want {
				t.Errorf("Retry = %v, want %v", got, want)
			}
			if got, want := te.MigrateTo, tt.wantMigrate; got != want {
				t.Errorf("MigrateTo = %d, want %d", got, want)
			}
			if got, want := errors.Is(err, telegram.ErrUnexpectedAnswer), tt.wantUnexpected; got != want {
				t.Errorf("errors.Is(err, ErrUnexpectedAnswer) = %v, want %v", got, want)
			}
			if strings.Contains(err.Error(), tokenSecret) {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

// TestRequestErrorHidesToken closes the connection of a request whose
// error net/http would print with the URL, and so the token.
func TestRequestErrorHidesToken(t *testing.T) {
	c := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	})
	sender := newSender(t, "telegram://"+botToken+"@telegram?chats=12345", c)
	err := sender.Push(t.Context(), "", "b")
	var te *telegram.Error
	if !errors.As(err, &te) || te.Status != 0 || !te.Temporary() {
		t.Fatalf("Push: %v, want a temporary *telegram.Error without a status", err)
	}
	if _, doErr := c.Post("https://api.telegram.org/bot"+botToken+"/sendMessage", "application/json", strings.NewReader("{}")); doErr == nil || !strings.Contains(doErr.Error(), tokenSecret) {
		t.Fatalf("net/http's error %v does not show the URL: the test proves nothing", doErr)
	}
	if strings.Contains(err.Error(), tokenSecret) {
		t.Errorf("error %q shows the token", err)
	}
}

func TestRetryAfterDate(t *testing.T) {
	c := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	err := newSender(t, "telegram://"+botToken+"@telegram?chats=12345", c).Push(t.Context(), "", "b")
	var te *telegram.Error
	if !errors.As(err, &te) {
		t.Fatalf("Push: %v, want a *telegram.Error", err)
	}
	// The header has whole seconds, and the clock runs between the answer and
	// the parse.
	if te.Retry <= time.Minute || te.Retry > 2*time.Minute {
		t.Errorf("Retry = %v, want about 2m", te.Retry)
	}
}
