package fakechat_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakechat"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/discord"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/telegram"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/push/ntfy"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

const (
	ntfyPassword = "ntfy-pass-secret"
	ntfyToken    = "tk_ntfytokensecret"
	botToken     = "123456:AAbotTokenSecret"
	hookID       = "1100000000000000001"
	hookToken    = "hookTokenSecret_x"
)

// initialize sets svc up from raw, as shoutrrr's router does.
func initialize(t *testing.T, svc types.Service, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Initialize(u, nil); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
}

func params(title string) *types.Params {
	p := types.Params{}
	if title != "" {
		p[types.TitleKey] = title
	}
	return &p
}

func TestNtfyThroughShoutrrr(t *testing.T) {
	tests := []struct {
		name        string
		url         string // HOST stands for the stand-in's address
		title, text string
		wantHeader  map[string]string
	}{
		{name: "title, priority and tags", url: "ntfy://alice:" + ntfyPassword + "@HOST/alerts?scheme=http&priority=high&tags=warning,skull",
			title: "peer down", text: "srv1 is silent",
			wantHeader: map[string]string{"Title": "peer down", "Priority": "High", "Tags": "warning,skull", "Content-Type": "text/plain; charset=utf-8"}},
		{name: "no title", url: "ntfy://alice:" + ntfyPassword + "@HOST/alerts?scheme=http",
			text: "srv1 is back"},
		{name: "access token as the password", url: "ntfy://:" + ntfyToken + "@HOST/alerts?disabletls=yes",
			title: "t", text: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{NtfyUser: "alice", NtfyPassword: ntfyPassword, NtfyToken: ntfyToken})
			svc := &ntfy.Service{}
			initialize(t, svc, strings.ReplaceAll(tt.url, "HOST", strings.TrimPrefix(s.URL, "http://")))
			if err := svc.Send(tt.text, params(tt.title)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			m := wait(t, s, 1)[0]
			if m.Service != fakechat.Ntfy || m.Path != "/alerts" || m.Title != tt.title || m.Text != tt.text {
				t.Errorf("message = %s %s %q/%q, want %s /alerts %q/%q", m.Service, m.Path, m.Title, m.Text, fakechat.Ntfy, tt.title, tt.text)
			}
			for k, want := range tt.wantHeader {
				if got := m.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestNtfyErrorsThroughShoutrrr(t *testing.T) {
	tests := []struct {
		name    string
		user    string // in the URL, with ntfyPassword unless wrong
		wrong   bool
		fault   func(*fakechat.Server)
		wantErr string // the whole error, or its start when it ends in "..."
	}{
		{name: "wrong password", user: "alice", wrong: true,
			wantErr: "failed to send ntfy notification: server response: unauthorized (40101), see: https://ntfy.sh/docs/publish/#authentication"},
		{name: "anonymous", fault: nil,
			wantErr: "failed to send ntfy notification: server response: forbidden (40301), see: https://ntfy.sh/docs/publish/#authentication"},
		{name: "unavailable", user: "alice", fault: func(s *fakechat.Server) { s.Status(fakechat.Ntfy, 503) },
			wantErr: "failed to send ntfy notification: server response: service unavailable (50301)"},
		{name: "rate limited", user: "alice", fault: func(s *fakechat.Server) { s.Status(fakechat.Ntfy, 429) },
			wantErr: "failed to send ntfy notification: server response: limit reached: too many requests, please be nice (42901), see: https://ntfy.sh/docs/publish/#limitations"},
		{name: "bad gateway, not JSON", user: "alice", fault: func(s *fakechat.Server) { s.Status(fakechat.Ntfy, 502) },
			wantErr: "failed to send ntfy notification: posting to ntfy API: got unexpected HTTP status: 502 Bad Gateway"},
		{name: "down", user: "alice", fault: func(s *fakechat.Server) { s.Down(fakechat.Ntfy, true) },
			wantErr: `failed to send ntfy notification: posting to ntfy API: sending POST request to "http://HOST/alerts": Post "http://HOST/alerts": ...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{NtfyUser: "alice", NtfyPassword: ntfyPassword})
			if tt.fault != nil {
				tt.fault(s)
			}
			host := strings.TrimPrefix(s.URL, "http://")
			userinfo := ""
			switch {
			case tt.wrong:
				userinfo = tt.user + ":wrong-" + ntfyPassword + "@"
			case tt.user != "":
				userinfo = tt.user + ":" + ntfyPassword + "@"
			}
			svc := &ntfy.Service{}
			initialize(t, svc, "ntfy://"+userinfo+host+"/alerts?scheme=http")
			err := svc.Send("b", params("t"))
			t.Logf("shoutrrr's error: %v", err)
			if err == nil {
				t.Fatal("Send: no error")
			}
			wantErr := strings.ReplaceAll(tt.wantErr, "HOST", host)
			if prefix, ok := strings.CutSuffix(wantErr, "..."); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error = %q, want it to start with %q", err, prefix)
				}
			} else if got := err.Error(); got != wantErr {
				t.Errorf("error = %q, want %q", got, wantErr)
			}
			if strings.Contains(err.Error(), ntfyPassword) {
				t.Errorf("error %q shows the password", err)
			}
			if got := len(s.Messages()); got != 0 {
				t.Errorf("%d messages recorded, want none", got)
			}
		})
	}
}

func TestTelegramThroughShoutrrr(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		title    string
		text     string
		want     []fakechat.Message // Service, Title and Text
		wantMode string
	}{
		{name: "title, as HTML", query: "chats=12345", title: "peer <down>", text: "srv1 & srv2 are silent",
			want:     []fakechat.Message{{Title: "peer <down>", Text: "srv1 & srv2 are silent"}},
			wantMode: "HTML"},
		{name: "no title, as is", query: "chats=12345", text: "srv1 <b>back</b>",
			want: []fakechat.Message{{Text: "srv1 <b>back</b>"}}},
		{name: "two chats, one a channel", query: "chats=12345,@alerts&title=from+the+URL", text: "b",
			want:     []fakechat.Message{{Title: "from the URL", Text: "b"}, {Title: "from the URL", Text: "b"}},
			wantMode: "HTML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{TelegramToken: botToken})
			useTransport(t, s)
			svc := &telegram.Service{}
			initialize(t, svc, "telegram://"+botToken+"@telegram?"+tt.query)
			if err := svc.Send(tt.text, params(tt.title)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := wait(t, s, len(tt.want))
			for i, want := range tt.want {
				m := got[i]
				if m.Service != fakechat.Telegram || m.Title != want.Title || m.Text != want.Text {
					t.Errorf("message %d = %s %q/%q, want %s %q/%q", i, m.Service, m.Title, m.Text, fakechat.Telegram, want.Title, want.Text)
				}
				if want := "/bot" + botToken + "/sendMessage"; m.Path != want {
					t.Errorf("message %d path = %q, want %q", i, m.Path, want)
				}
				var body struct {
					ParseMode string `json:"parse_mode"`
				}
				if err := json.Unmarshal(m.Raw, &body); err != nil || body.ParseMode != tt.wantMode {
					t.Errorf("message %d body = %s, want parse_mode %q", i, m.Raw, tt.wantMode)
				}
			}
		})
	}
}

func TestTelegramErrorsThroughShoutrrr(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		fault   func(*fakechat.Server)
		wantErr string // "" for no error at all
	}{
		{name: "wrong token", token: "123456:AAwrongTokenSecret", wantErr: "Unauthorized"},
		{name: "unavailable", token: botToken, fault: func(s *fakechat.Server) { s.Status(fakechat.Telegram, 503) },
			wantErr: "Service Unavailable"},
		{name: "rate limited", token: botToken, fault: func(s *fakechat.Server) { s.Status(fakechat.Telegram, 429) },
			wantErr: "Too Many Requests: retry after 1"},
		// shoutrrr's telegram takes an answer that is not the Bot API's JSON,
		// or none at all, for a success.
		{name: "bad gateway, not JSON: no error", token: botToken, fault: func(s *fakechat.Server) { s.Status(fakechat.Telegram, 502) }},
		{name: "down: no error", token: botToken, fault: func(s *fakechat.Server) { s.Down(fakechat.Telegram, true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{TelegramToken: botToken})
			useTransport(t, s)
			if tt.fault != nil {
				tt.fault(s)
			}
			svc := &telegram.Service{}
			initialize(t, svc, "telegram://"+tt.token+"@telegram?chats=12345")
			err := svc.Send("b", params("t"))
			t.Logf("shoutrrr's error: %v", err)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Send: %v, want no error", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Send: no error, want %q", tt.wantErr)
			case err != nil && err.Error() != tt.wantErr:
				t.Errorf("error = %q, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), strings.SplitN(tt.token, ":", 2)[1]) {
				t.Errorf("error %q shows the token", err)
			}
			if got, want := s.Requests(fakechat.Telegram), 1; got != want {
				t.Errorf("Requests = %d, want %d", got, want)
			}
			if got := len(s.Messages()); got != 0 {
				t.Errorf("%d messages recorded, want none", got)
			}
		})
	}
}

// sleeper stands in for shoutrrr's discord Sleeper: it records the waits
// and returns at once.
type sleeper struct{ waits []time.Duration }

func (s *sleeper) Sleep(d time.Duration) { s.waits = append(s.waits, d) }

func newDiscord(t *testing.T, raw string) (*discord.Service, *sleeper) {
	t.Helper()
	svc := &discord.Service{}
	initialize(t, svc, raw)
	sl := &sleeper{}
	svc.Sleeper = sl
	return svc, sl
}

func TestDiscordThroughShoutrrr(t *testing.T) {
	tests := []struct {
		name      string
		title     string
		text      string
		wantTitle string
		wantText  string
		wantShape string // a part of the body
	}{
		{name: "one line", text: "srv1 is silent", wantText: "srv1 is silent", wantShape: `{"content":"srv1 is silent"}`},
		{name: "title, as an embed", title: "peer down", text: "srv1 is silent",
			wantTitle: "peer down", wantText: "srv1 is silent", wantShape: `"embeds":[{"title":"peer down","description":"srv1 is silent"`},
		{name: "lines, an embed each", title: "peer down", text: "srv1 is silent\nrecord moved",
			wantTitle: "peer down", wantText: "srv1 is silent\nrecord moved", wantShape: `{"description":"record moved"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{DiscordID: hookID, DiscordToken: hookToken})
			useTransport(t, s)
			svc, _ := newDiscord(t, "discord://"+hookToken+"@"+hookID)
			if err := svc.Send(tt.text, params(tt.title)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			m := wait(t, s, 1)[0]
			if m.Service != fakechat.Discord || m.Title != tt.wantTitle || m.Text != tt.wantText {
				t.Errorf("message = %s %q/%q, want %s %q/%q", m.Service, m.Title, m.Text, fakechat.Discord, tt.wantTitle, tt.wantText)
			}
			if want := "/api/webhooks/" + hookID + "/" + hookToken; m.Path != want {
				t.Errorf("path = %q, want %q", m.Path, want)
			}
			if !strings.Contains(string(m.Raw), tt.wantShape) {
				t.Errorf("body = %s, want it to hold %s", m.Raw, tt.wantShape)
			}
		})
	}
}

func TestDiscordErrorsThroughShoutrrr(t *testing.T) {
	tests := []struct {
		name         string
		token        string
		fault        func(*fakechat.Server)
		wantErr      string // the whole error, or its start when it ends in "..."
		wantRequests int
		wantWaits    []time.Duration
		wantToken    bool // whether the error shows the token
	}{
		{name: "wrong token", token: "wrong" + hookToken,
			wantErr: "failed to send discord notification: unexpected response status code: 401 Unauthorized", wantRequests: 1},
		{name: "unavailable, retried", token: hookToken, fault: func(s *fakechat.Server) { s.Status(fakechat.Discord, 503) },
			wantErr: "failed to send discord notification: max retries exceeded", wantRequests: 6,
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}},
		{name: "rate limited, retried after Retry-After", token: hookToken, fault: func(s *fakechat.Server) { s.Status(fakechat.Discord, 429) },
			wantErr: "failed to send discord notification: max retries exceeded", wantRequests: 6,
			wantWaits: []time.Duration{time.Second, time.Second, time.Second, time.Second, time.Second, time.Second}},
		{name: "down", token: hookToken, fault: func(s *fakechat.Server) { s.Down(fakechat.Discord, true) },
			wantErr:   `failed to send discord notification: making HTTP POST request: performing HTTP request: Post "https://discord.com/api/webhooks/` + hookID + "/" + hookToken + `": ...`,
			wantToken: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{DiscordID: hookID, DiscordToken: hookToken})
			useTransport(t, s)
			if tt.fault != nil {
				tt.fault(s)
			}
			svc, sl := newDiscord(t, "discord://"+tt.token+"@"+hookID)
			err := svc.Send("b", params("t"))
			t.Logf("shoutrrr's error: %v", err)
			if err == nil {
				t.Fatal("Send: no error")
			}
			if prefix, ok := strings.CutSuffix(tt.wantErr, "..."); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error = %q, want it to start with %q", err, prefix)
				}
			} else if got := err.Error(); got != tt.wantErr {
				t.Errorf("error = %q, want %q", got, tt.wantErr)
			}
			if got := strings.Contains(err.Error(), hookToken); got != tt.wantToken {
				t.Errorf("error %q shows the token: %v, want %v", err, got, tt.wantToken)
			}
			if tt.wantRequests != 0 {
				if got := s.Requests(fakechat.Discord); got != tt.wantRequests {
					t.Errorf("Requests = %d, want %d", got, tt.wantRequests)
				}
			}
			if tt.wantWaits != nil && !slices.Equal(sl.waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", sl.waits, tt.wantWaits)
			}
		})
	}
}

// TestTelegramMalformedToken shows that shoutrrr's telegram repeats a
// malformed token in its error.
func TestTelegramMalformedToken(t *testing.T) {
	u, err := url.Parse("telegram://123456:not%20a%20tokenSecret@telegram?chats=1")
	if err != nil {
		t.Fatal(err)
	}
	err = (&telegram.Service{}).Initialize(u, nil)
	t.Logf("shoutrrr's error: %v", err)
	if err == nil || !strings.Contains(err.Error(), "not a tokenSecret") {
		t.Errorf("Initialize: %v, want an error holding the token", err)
	}
}
