package telegram_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/clooster/clooster/internal/fakechat"
	shoutrrr "github.com/nicholas-fedor/shoutrrr/pkg/services/chat/telegram"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// TestSameRequestAsShoutrrr sends the same message, without a title,
// through shoutrrr's telegram service and through a Sender, and wants the
// API to receive the same fields. With a title the two differ by design
// (see the package doc); with parse mode HTML and no title, shoutrrr sends
// an empty "<b></b>" line first.
func TestSameRequestAsShoutrrr(t *testing.T) {
	tests := []struct {
		name  string
		query string
	}{
		{name: "one chat", query: "chats=12345"},
		{name: "chats, a topic and a channel", query: "chats=12345,-1001234567890:7,@alerts"},
		{name: "channels, as shoutrrr's docs write it", query: "channels=@alerts&notification=no&preview=false"},
		{name: "preview and notification on", query: "chats=12345&preview=yes&notification=yes"},
		{name: "Markdown", query: "chats=12345&parsemode=Markdown"},
		{name: "MarkdownV2", query: "chats=12345&parseMode=markdownv2"},
	}
	fields := []string{"chat_id", "message_thread_id", "text", "parse_mode", "disable_web_page_preview", "disable_notification"}
	const body = "srv1 <is> *silent* & more"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t)
			raw := "telegram://" + botToken + "@telegram?" + tt.query

			useTransport(t, s)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			svc := &shoutrrr.Service{}
			if err := svc.Initialize(u, nil); err != nil {
				t.Fatalf("shoutrrr Initialize: %v", err)
			}
			if err := svc.Send(body, &types.Params{}); err != nil {
				t.Fatalf("shoutrrr Send: %v", err)
			}
			want := s.Messages()

			if err := newSender(t, raw, client(t, s, nil)).Push(t.Context(), "", body); err != nil {
				t.Fatalf("Push: %v", err)
			}
			got := s.Messages()[len(want):]

			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d messages, shoutrrr's %d", len(got), len(want))
			}
			for i := range want {
				g, w := decode(t, got[i].Raw), decode(t, want[i].Raw)
				for _, f := range fields {
					if !reflect.DeepEqual(g[f], w[f]) {
						t.Errorf("message %d: %s = %#v, shoutrrr's %#v", i, f, g[f], w[f])
					}
				}
				if got[i].Path != want[i].Path {
					t.Errorf("message %d: path differs from shoutrrr's", i)
				}
			}
		})
	}
}

func decode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("body %s: %v", raw, err)
	}
	return m
}

// useTransport makes s's transport http.DefaultTransport, which shoutrrr
// uses, until the test ends. No test of this package runs in parallel.
func useTransport(t *testing.T, s *fakechat.Server) {
	t.Helper()
	old := http.DefaultTransport
	tr := s.Transport()
	http.DefaultTransport = tr
	t.Cleanup(func() {
		http.DefaultTransport = old
		tr.CloseIdleConnections()
	})
}
