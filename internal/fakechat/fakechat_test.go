package fakechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakechat"
)

// request is one request to the stand-in's URL.
type request struct {
	method string // POST when empty
	path   string
	header map[string]string
	body   string
}

// answer is what came back.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %q", err, a.body)
	}
	return m
}

// do sends req to base and reads the answer.
func do(t *testing.T, client *http.Client, base string, req request) (answer, error) {
	t.Helper()
	method := req.method
	if method == "" {
		method = http.MethodPost
	}
	r, err := http.NewRequestWithContext(t.Context(), method, base+req.path, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	resp, err := client.Do(r)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// mustDo is do that fails the test on a transport error.
func mustDo(t *testing.T, client *http.Client, base string, req request) answer {
	t.Helper()
	a, err := do(t, client, base, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	return a
}

// subset reports whether every key of want is in got with an equal value,
// numbers compared as JSON decodes them.
func subset(got, want map[string]any) bool {
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			return false
		}
	}
	return true
}

func TestNtfy(t *testing.T) {
	json := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantAnswer map[string]any
		want       *fakechat.Message // Title and Text; nil for none recorded
	}{
		{name: "body and headers",
			req:        request{path: "/alerts", header: map[string]string{"X-Title": "t", "Priority": "urgent", "Tags": "a, b"}, body: "hello"},
			wantStatus: 200, wantAnswer: map[string]any{"event": "message", "topic": "alerts", "title": "t", "message": "hello", "priority": 5.0, "tags": []any{"a", "b"}},
			want: &fakechat.Message{Title: "t", Text: "hello"}},
		{name: "query parameters, PUT", req: request{method: "PUT", path: "/alerts?t=qt&p=2&m=from+query"},
			wantStatus: 200, wantAnswer: map[string]any{"title": "qt", "message": "from query", "priority": 2.0},
			want: &fakechat.Message{Title: "qt", Text: "from query"}},
		{name: "empty message", req: request{path: "/alerts"},
			wantStatus: 200, wantAnswer: map[string]any{"message": "triggered"},
			want: &fakechat.Message{Text: "triggered"}},
		{name: "JSON to the root", req: request{path: "/", header: json, body: `{"topic":"alerts","title":"t","message":"m","priority":4}`},
			wantStatus: 200, wantAnswer: map[string]any{"topic": "alerts", "title": "t", "message": "m", "priority": 4.0},
			want: &fakechat.Message{Title: "t", Text: "m"}},
		{name: "bad JSON", req: request{path: "/", body: `{"topic":`},
			wantStatus: 400, wantAnswer: map[string]any{"code": 40017.0, "http": 400.0}},
		{name: "JSON without a topic", req: request{path: "/", body: `{"message":"m"}`},
			wantStatus: 400, wantAnswer: map[string]any{"code": 40009.0}},
		{name: "bad priority", req: request{path: "/alerts", header: map[string]string{"Priority": "9"}, body: "x"},
			wantStatus: 400, wantAnswer: map[string]any{"code": 40007.0, "error": "invalid priority parameter"}},
		{name: "not a topic", req: request{path: "/a/b", body: "x"},
			wantStatus: 404, wantAnswer: map[string]any{"code": 40401.0, "error": "page not found"}},
		{name: "GET", req: request{method: "GET", path: "/alerts"},
			wantStatus: 404, wantAnswer: map[string]any{"code": 40401.0}},
		{name: "health", req: request{method: "GET", path: "/v1/health"},
			wantStatus: 200, wantAnswer: map[string]any{"healthy": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{})
			a := mustDo(t, http.DefaultClient, s.URL, tt.req)
			if got, want := a.status, tt.wantStatus; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, a.body)
			}
			if got := a.json(t); !subset(got, tt.wantAnswer) {
				t.Errorf("answer = %v, want it to hold %v", got, tt.wantAnswer)
			}
			msgs := s.Messages()
			if tt.want == nil {
				if len(msgs) != 0 {
					t.Errorf("recorded %d messages, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("recorded %d messages, want 1", len(msgs))
			}
			if m := msgs[0]; m.Service != fakechat.Ntfy || m.Title != tt.want.Title || m.Text != tt.want.Text {
				t.Errorf("message = %s %q/%q, want %s %q/%q", m.Service, m.Title, m.Text, fakechat.Ntfy, tt.want.Title, tt.want.Text)
			}
		})
	}
}

func TestNtfyAuth(t *testing.T) {
	basic := func(user, pass string) map[string]string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		return map[string]string{"Authorization": r.Header.Get("Authorization")}
	}
	tests := []struct {
		name       string
		cfg        fakechat.Config
		header     map[string]string
		wantStatus int
	}{
		{name: "open server, anonymous", wantStatus: 200},
		{name: "user, right password", cfg: fakechat.Config{NtfyUser: "u", NtfyPassword: "p"}, header: basic("u", "p"), wantStatus: 200},
		{name: "user, wrong password", cfg: fakechat.Config{NtfyUser: "u", NtfyPassword: "p"}, header: basic("u", "x"), wantStatus: 401},
		{name: "user, anonymous", cfg: fakechat.Config{NtfyUser: "u", NtfyPassword: "p"}, wantStatus: 403},
		{name: "token as bearer", cfg: fakechat.Config{NtfyToken: "tk_1"}, header: map[string]string{"Authorization": "Bearer tk_1"}, wantStatus: 200},
		{name: "token as password", cfg: fakechat.Config{NtfyToken: "tk_1"}, header: basic("", "tk_1"), wantStatus: 200},
		{name: "wrong token", cfg: fakechat.Config{NtfyToken: "tk_1"}, header: map[string]string{"Authorization": "Bearer tk_2"}, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.cfg)
			a := mustDo(t, http.DefaultClient, s.URL, request{path: "/alerts", header: tt.header, body: "x"})
			if got, want := a.status, tt.wantStatus; got != want {
				t.Errorf("status = %d, want %d: %s", got, want, a.body)
			}
		})
	}
}

func TestTelegram(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	send := "/bot" + botToken + "/sendMessage"
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantAnswer map[string]any
		want       *fakechat.Message
	}{
		{name: "JSON, HTML with a title", req: request{path: send, header: jsonCT,
			body: `{"chat_id":12345,"text":"<b>peer &lt;down&gt;</b>\nsrv1 &amp; srv2","parse_mode":"HTML"}`},
			wantStatus: 200, wantAnswer: map[string]any{"ok": true},
			want: &fakechat.Message{Title: "peer <down>", Text: "srv1 & srv2"}},
		{name: "form, plain", req: request{path: send, header: form, body: "chat_id=-1001234&text=hello"},
			wantStatus: 200, wantAnswer: map[string]any{"ok": true},
			want: &fakechat.Message{Text: "hello"}},
		{name: "query", req: request{method: "GET", path: send + "?chat_id=@alerts&text=hi"},
			wantStatus: 200, wantAnswer: map[string]any{"ok": true},
			want: &fakechat.Message{Text: "hi"}},
		{name: "method names are case-insensitive", req: request{path: "/bot" + botToken + "/SENDMESSAGE", header: jsonCT, body: `{"chat_id":"1","text":"x"}`},
			wantStatus: 200, want: &fakechat.Message{Text: "x"}},
		{name: "getMe", req: request{method: "GET", path: "/bot" + botToken + "/getMe"},
			wantStatus: 200, wantAnswer: map[string]any{"ok": true, "result": map[string]any{
				"id": 123456.0, "is_bot": true, "first_name": "Fake Bot", "username": "fakechat_bot",
				"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false}}},
		{name: "wrong token", req: request{path: "/bot123456:AAother/sendMessage", header: jsonCT, body: `{"chat_id":1,"text":"x"}`},
			wantStatus: 401, wantAnswer: map[string]any{"ok": false, "error_code": 401.0, "description": "Unauthorized"}},
		{name: "malformed token", req: request{path: "/bot123456:AA other/sendMessage"},
			wantStatus: 404, wantAnswer: map[string]any{"ok": false, "error_code": 404.0, "description": "Not Found"}},
		{name: "unknown method", req: request{path: "/bot" + botToken + "/sendPigeon"},
			wantStatus: 404, wantAnswer: map[string]any{"description": "Not Found"}},
		{name: "no chat", req: request{path: send, header: jsonCT, body: `{"text":"x"}`},
			wantStatus: 400, wantAnswer: map[string]any{"description": "Bad Request: chat_id is empty"}},
		{name: "unknown chat", req: request{path: send, header: jsonCT, body: `{"chat_id":"somebody","text":"x"}`},
			wantStatus: 400, wantAnswer: map[string]any{"description": "Bad Request: chat not found"}},
		{name: "no text", req: request{path: send, header: jsonCT, body: `{"chat_id":1,"text":" "}`},
			wantStatus: 400, wantAnswer: map[string]any{"description": "Bad Request: message text is empty"}},
		{name: "text too long", req: request{path: send, header: jsonCT, body: `{"chat_id":1,"text":"` + strings.Repeat("x", 4097) + `"}`},
			wantStatus: 400, wantAnswer: map[string]any{"description": "Bad Request: message is too long"}},
		{name: "bad parse mode", req: request{path: send, header: jsonCT, body: `{"chat_id":1,"text":"x","parse_mode":"rtf"}`},
			wantStatus: 400, wantAnswer: map[string]any{"description": "Bad Request: unsupported parse_mode"}},
		{name: "bad JSON", req: request{path: send, header: jsonCT, body: `{"chat_id":`},
			wantStatus: 400, wantAnswer: map[string]any{"error_code": 400.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{TelegramToken: botToken})
			a := mustDo(t, http.DefaultClient, s.URL, tt.req)
			if got, want := a.status, tt.wantStatus; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, a.body)
			}
			if got := a.json(t); !subset(got, tt.wantAnswer) {
				t.Errorf("answer = %v, want it to hold %v", got, tt.wantAnswer)
			}
			msgs := s.Messages()
			if tt.want == nil {
				if len(msgs) != 0 {
					t.Errorf("recorded %d messages, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("recorded %d messages, want 1", len(msgs))
			}
			if m := msgs[0]; m.Service != fakechat.Telegram || m.Title != tt.want.Title || m.Text != tt.want.Text {
				t.Errorf("message = %s %q/%q, want %s %q/%q", m.Service, m.Title, m.Text, fakechat.Telegram, tt.want.Title, tt.want.Text)
			}
		})
	}
}

func TestTelegramAnswerShape(t *testing.T) {
	s := start(t, fakechat.Config{})
	a := mustDo(t, http.DefaultClient, s.URL, request{path: "/bot42:AAx/sendMessage", header: map[string]string{"Content-Type": "application/json"},
		body: `{"chat_id":"@alerts","text":"<b>T</b>\nbody","parse_mode":"HTML","message_thread_id":7}`})
	var got struct {
		OK     bool `json:"ok"`
		Result struct {
			MessageID       int64 `json:"message_id"`
			MessageThreadID int64 `json:"message_thread_id"`
			From            struct {
				ID    int64 `json:"id"`
				IsBot bool  `json:"is_bot"`
			} `json:"from"`
			Chat struct {
				Type     string `json:"type"`
				Username string `json:"username"`
			} `json:"chat"`
			Date     int64  `json:"date"`
			Text     string `json:"text"`
			Entities []struct {
				Type           string `json:"type"`
				Offset, Length int
			} `json:"entities"`
		} `json:"result"`
	}
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatal(err)
	}
	r := got.Result
	if !got.OK || r.MessageID == 0 || r.MessageThreadID != 7 || r.From.ID != 42 || !r.From.IsBot ||
		r.Chat.Type != "channel" || r.Chat.Username != "alerts" || r.Text != "T\nbody" ||
		len(r.Entities) != 1 || r.Entities[0].Type != "bold" || r.Entities[0].Length != 1 ||
		time.Since(time.Unix(r.Date, 0)) > time.Minute {
		t.Errorf("answer = %s", a.body)
	}
}

func TestDiscord(t *testing.T) {
	jsonCT := map[string]string{"Content-Type": "application/json"}
	hook := "/api/webhooks/" + hookID + "/" + hookToken
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantAnswer map[string]any // nil for an empty answer
		want       *fakechat.Message
	}{
		{name: "content", req: request{path: hook, header: jsonCT, body: `{"content":"hello"}`},
			wantStatus: 204, want: &fakechat.Message{Text: "hello"}},
		{name: "embeds", req: request{path: hook, header: jsonCT, body: `{"embeds":[{"title":"T","description":"a"},{"description":"b"}]}`},
			wantStatus: 204, want: &fakechat.Message{Title: "T", Text: "a\nb"}},
		{name: "wait for the message", req: request{path: hook + "?wait=true", header: jsonCT, body: `{"content":"hello","username":"clooster"}`},
			wantStatus: 200, wantAnswer: map[string]any{"content": "hello", "webhook_id": hookID, "type": 0.0,
				"author": map[string]any{"id": hookID, "username": "clooster", "bot": true, "avatar": nil, "discriminator": "0000"}},
			want: &fakechat.Message{Text: "hello"}},
		{name: "versioned path", req: request{path: "/api/v10/webhooks/" + hookID + "/" + hookToken, header: jsonCT, body: `{"content":"x"}`},
			wantStatus: 204, want: &fakechat.Message{Text: "x"}},
		{name: "multipart payload_json", req: request{path: hook,
			header: map[string]string{"Content-Type": "multipart/form-data; boundary=B"},
			body:   "--B\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{\"content\":\"multi\"}\r\n--B--\r\n"},
			wantStatus: 204, want: &fakechat.Message{Text: "multi"}},
		{name: "wrong token", req: request{path: "/api/webhooks/" + hookID + "/other", header: jsonCT, body: `{"content":"x"}`},
			wantStatus: 401, wantAnswer: map[string]any{"message": "Invalid Webhook Token", "code": 50027.0}},
		{name: "unknown webhook", req: request{path: "/api/webhooks/1/" + hookToken, header: jsonCT, body: `{"content":"x"}`},
			wantStatus: 404, wantAnswer: map[string]any{"message": "Unknown Webhook", "code": 10015.0}},
		{name: "empty", req: request{path: hook, header: jsonCT, body: `{"content":""}`},
			wantStatus: 400, wantAnswer: map[string]any{"message": "Cannot send an empty message", "code": 50006.0}},
		{name: "content too long", req: request{path: hook, header: jsonCT, body: `{"content":"` + strings.Repeat("x", 2001) + `"}`},
			wantStatus: 400, wantAnswer: map[string]any{"message": "Invalid Form Body", "code": 50035.0}},
		{name: "bad JSON", req: request{path: hook, header: jsonCT, body: `{`},
			wantStatus: 400, wantAnswer: map[string]any{"code": 50109.0}},
		{name: "GET", req: request{method: "GET", path: hook},
			wantStatus: 405, wantAnswer: map[string]any{"message": "405: Method Not Allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{DiscordID: hookID, DiscordToken: hookToken})
			a := mustDo(t, http.DefaultClient, s.URL, tt.req)
			if got, want := a.status, tt.wantStatus; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, a.body)
			}
			if tt.wantAnswer == nil {
				if len(a.body) != 0 {
					t.Errorf("answer = %q, want none", a.body)
				}
			} else if got := a.json(t); !subset(got, tt.wantAnswer) {
				t.Errorf("answer = %v, want it to hold %v", got, tt.wantAnswer)
			}
			msgs := s.Messages()
			if tt.want == nil {
				if len(msgs) != 0 {
					t.Errorf("recorded %d messages, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("recorded %d messages, want 1", len(msgs))
			}
			if m := msgs[0]; m.Service != fakechat.Discord || m.Title != tt.want.Title || m.Text != tt.want.Text {
				t.Errorf("message = %s %q/%q, want %s %q/%q", m.Service, m.Title, m.Text, fakechat.Discord, tt.want.Title, tt.want.Text)
			}
		})
	}
}

func TestWebhook(t *testing.T) {
	tests := []struct {
		name       string
		req        request
		wantStatus int
		want       *fakechat.Message
	}{
		{name: "JSON", req: request{path: "/hook/alerts", header: map[string]string{"Authorization": "Bearer k"}, body: `{"title":"T","message":"m","x":1}`},
			wantStatus: 200, want: &fakechat.Message{Path: "/hook/alerts", Title: "T", Text: "m"}},
		{name: "JSON without the keys", req: request{path: "/hook", header: map[string]string{"Authorization": "Bearer k"}, body: `{"text":"m"}`},
			wantStatus: 200, want: &fakechat.Message{Path: "/hook", Text: `{"text":"m"}`}},
		{name: "plain, PUT", req: request{method: "PUT", path: "/hook/x", header: map[string]string{"Authorization": "Bearer k"}, body: "plain"},
			wantStatus: 200, want: &fakechat.Message{Path: "/hook/x", Text: "plain"}},
		{name: "no auth", req: request{path: "/hook", body: "x"}, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{WebhookAuth: "Bearer k"})
			a := mustDo(t, http.DefaultClient, s.URL, tt.req)
			if got, want := a.status, tt.wantStatus; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, a.body)
			}
			msgs := s.Messages()
			if tt.want == nil {
				if len(msgs) != 0 {
					t.Errorf("recorded %d messages, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("recorded %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.Service != fakechat.Webhook || m.Path != tt.want.Path || m.Title != tt.want.Title || m.Text != tt.want.Text {
				t.Errorf("message = %s %s %q/%q, want %s %s %q/%q", m.Service, m.Path, m.Title, m.Text, fakechat.Webhook, tt.want.Path, tt.want.Title, tt.want.Text)
			}
			if string(m.Raw) != tt.req.body || m.Header.Get("Authorization") != "Bearer k" {
				t.Errorf("raw = %q, header %v; want the request's", m.Raw, m.Header)
			}
		})
	}
}

// serviceRequests is one valid request to each service.
var serviceRequests = map[string]request{
	fakechat.Ntfy:     {path: "/alerts", body: "x"},
	fakechat.Telegram: {path: "/bot" + botToken + "/sendMessage", header: map[string]string{"Content-Type": "application/json"}, body: `{"chat_id":1,"text":"x"}`},
	fakechat.Discord:  {path: "/api/webhooks/" + hookID + "/" + hookToken, header: map[string]string{"Content-Type": "application/json"}, body: `{"content":"x"}`},
	fakechat.Webhook:  {path: "/hook", body: "x"},
}

func TestStatus(t *testing.T) {
	tests := []struct {
		service    string
		status     int
		wantType   string         // the answer's media type
		wantAnswer map[string]any // for a JSON answer
		wantRetry  string         // Retry-After
	}{
		{service: fakechat.Ntfy, status: 503, wantType: "application/json", wantAnswer: map[string]any{"code": 50301.0, "http": 503.0, "error": "service unavailable"}},
		{service: fakechat.Ntfy, status: 401, wantType: "application/json", wantAnswer: map[string]any{"code": 40101.0, "error": "unauthorized"}},
		{service: fakechat.Ntfy, status: 429, wantType: "application/json", wantAnswer: map[string]any{"code": 42901.0}, wantRetry: "1"},
		{service: fakechat.Telegram, status: 503, wantType: "application/json", wantAnswer: map[string]any{"ok": false, "error_code": 503.0, "description": "Service Unavailable"}},
		{service: fakechat.Telegram, status: 429, wantType: "application/json",
			wantAnswer: map[string]any{"error_code": 429.0, "description": "Too Many Requests: retry after 1", "parameters": map[string]any{"retry_after": 1.0}}, wantRetry: "1"},
		{service: fakechat.Discord, status: 503, wantType: "application/json", wantAnswer: map[string]any{"message": "503: Service Unavailable", "code": 0.0}},
		{service: fakechat.Discord, status: 429, wantType: "application/json",
			wantAnswer: map[string]any{"message": "You are being rate limited.", "retry_after": 1.0, "global": false}, wantRetry: "1"},
		{service: fakechat.Webhook, status: 500, wantType: "text/plain"},
		{service: fakechat.Telegram, status: 502, wantType: "text/html"},
		{service: fakechat.Discord, status: 504, wantType: "text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.service+" "+strconv.Itoa(tt.status), func(t *testing.T) {
			s := start(t, fakechat.Config{})
			s.Status(tt.service, tt.status)
			req := serviceRequests[tt.service]
			a := mustDo(t, http.DefaultClient, s.URL, req)
			if got, want := a.status, tt.status; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if got := a.header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type = %q, want %s", got, tt.wantType)
			}
			if tt.wantAnswer != nil {
				if got := a.json(t); !subset(got, tt.wantAnswer) {
					t.Errorf("answer = %v, want it to hold %v", got, tt.wantAnswer)
				}
			}
			if got := a.header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			// Other services are untouched, and 0 clears the fault.
			for other, r := range serviceRequests {
				if other == tt.service {
					continue
				}
				if a := mustDo(t, http.DefaultClient, s.URL, r); a.status >= 400 {
					t.Errorf("%s: status = %d while %s fails", other, a.status, tt.service)
				}
			}
			s.Status(tt.service, 0)
			if a := mustDo(t, http.DefaultClient, s.URL, req); a.status >= 400 {
				t.Errorf("after Status(%s, 0): status = %d", tt.service, a.status)
			}
			if got, want := s.Requests(tt.service), 2; got != want {
				t.Errorf("Requests(%s) = %d, want %d", tt.service, got, want)
			}
		})
	}
}

func TestDown(t *testing.T) {
	for service, req := range serviceRequests {
		t.Run(service, func(t *testing.T) {
			s := start(t, fakechat.Config{})
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			s.Down(service, true)
			if a, err := do(t, client, s.URL, req); err == nil {
				t.Fatalf("down: status %d, want a connection error", a.status)
			}
			s.Down(service, false)
			if a := mustDo(t, client, s.URL, req); a.status >= 400 {
				t.Errorf("up again: status = %d: %s", a.status, a.body)
			}
			if got, want := len(s.Messages()), 1; got != want {
				t.Errorf("recorded %d messages, want %d", got, want)
			}
		})
	}
}

func TestWait(t *testing.T) {
	s := start(t, fakechat.Config{})

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Wait(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with nothing sent: %v, want context.Canceled", err)
	}
	if msgs, err := s.Wait(ctx, 0); err != nil || len(msgs) != 0 {
		t.Errorf("Wait(0) = %d messages, %v; want none at once", len(msgs), err)
	}

	const n = 3
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := do(t, http.DefaultClient, s.URL, request{path: "/alerts", body: strconv.Itoa(i)})
			errs <- err
		}()
	}
	msgs := wait(t, s, n)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	slices.Sort(texts)
	if got := strings.Join(texts, ","); got != "0,1,2" {
		t.Errorf("texts = %s, want 0,1,2 in some order", got)
	}
}

func TestMessagesIsACopy(t *testing.T) {
	s := start(t, fakechat.Config{})
	mustDo(t, http.DefaultClient, s.URL, request{path: "/alerts", header: map[string]string{"Title": "t"}, body: "x"})
	m := s.Messages()[0]
	m.Header.Set("Title", "changed")
	m.Raw[0] = 'y'
	if m := s.Messages()[0]; m.Header.Get("Title") != "t" || string(m.Raw) != "x" {
		t.Errorf("message changed through a copy: %q, %q", m.Header.Get("Title"), m.Raw)
	}
}

func TestConcurrent(t *testing.T) {
	s := start(t, fakechat.Config{TelegramToken: botToken, DiscordID: hookID, DiscordToken: hookToken})
	useTransport(t, s)
	services := []string{fakechat.Ntfy, fakechat.Telegram, fakechat.Discord, fakechat.Webhook}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			service := services[i%len(services)]
			if i%5 == 0 {
				s.Messages()
				s.Requests(service)
				s.Status("none", 0)
			}
			base := s.URL
			if i%2 == 0 && (service == fakechat.Telegram || service == fakechat.Discord) {
				base = "https://" + fakechat.TelegramHost
				if service == fakechat.Discord {
					base = "https://" + fakechat.DiscordHost
				}
			}
			if a, err := do(t, http.DefaultClient, base, serviceRequests[service]); err != nil || a.status >= 400 {
				t.Errorf("%s via %s: %v %d", service, base, err, a.status)
			}
		})
	}
	wg.Wait()
	if got, want := len(s.Messages()), n; got != want {
		t.Errorf("recorded %d messages, want %d", got, want)
	}
	for _, service := range services {
		if got, want := s.Requests(service), n/len(services); got != want {
			t.Errorf("Requests(%s) = %d, want %d", service, got, want)
		}
	}
}
