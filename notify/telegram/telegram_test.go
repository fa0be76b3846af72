package telegram_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/clooster/clooster/internal/fakechat"
	"github.com/clooster/clooster/notify/telegram"
)

const (
	botToken    = "123456:AAbotTokenSecret"
	tokenSecret = "AAbotTokenSecret"
)

// start starts a stand-in for the Bot API that accepts botToken and stops
// when the test ends.
func start(t *testing.T) *fakechat.Server {
	t.Helper()
	s, err := fakechat.Start(fakechat.Config{TelegramToken: botToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// client reaches api.telegram.org at s, through the round tripper wrap
// makes of s's transport when wrap is given.
func client(t *testing.T, s *fakechat.Server, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	t.Helper()
	tr := s.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	var rt http.RoundTripper = tr
	if wrap != nil {
		rt = wrap(tr)
	}
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}
}

// newSender parses raw into a Sender that uses c.
func newSender(t *testing.T, raw string, c *http.Client) *telegram.Sender {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := telegram.New(u, c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// request is a sendMessage request as the API received it.
type request struct {
	ChatID              string `json:"chat_id"`
	Thread              int64  `json:"message_thread_id"`
	Text                string `json:"text"`
	ParseMode           string `json:"parse_mode"`
	DisablePreview      bool   `json:"disable_web_page_preview"`
	DisableNotification bool   `json:"disable_notification"`
}

// requests decodes the messages s accepted.
func requests(t *testing.T, s *fakechat.Server) []request {
	t.Helper()
	var out []request
	for _, m := range s.Messages() {
		if want := "/bot" + botToken + "/sendMessage"; m.Path != want {
			t.Errorf("path = %q, want %q", m.Path, want)
		}
		if got, want := m.Header.Get("Content-Type"), "application/json"; got != want {
			t.Errorf("Content-Type = %q, want %q", got, want)
		}
		var r request
		if err := json.Unmarshal(m.Raw, &r); err != nil {
			t.Fatalf("body %s: %v", m.Raw, err)
		}
		out = append(out, r)
	}
	return out
}

// chatIDs lists the chats of rs, in order.
func chatIDs(rs []request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ChatID)
	}
	return out
}

func TestPushRequest(t *testing.T) {
	tests := []struct {
		name        string
		query       string
		title, body string
		want        []request
		wantTitle   string // the title the API reads from HTML; "" to not check
	}{
		{name: "no title: the body as it is", query: "chats=12345",
			body: "srv1 <down> & *out*",
			want: []request{{ChatID: "12345", Text: "srv1 <down> & *out*"}}},
		{name: "title, mode None: plain, then a blank line", query: "chats=12345",
			title: "peer <down>", body: "srv1 is silent",
			want: []request{{ChatID: "12345", Text: "peer <down>\n\nsrv1 is silent"}}},
		{name: "the URL's title when none is given", query: "chats=12345&title=From+the+URL",
			body: "b",
			want: []request{{ChatID: "12345", Text: "From the URL\n\nb"}}},
		{name: "a given title wins over the URL's", query: "chats=12345&title=From+the+URL",
			title: "given", body: "b",
			want: []request{{ChatID: "12345", Text: "given\n\nb"}}},
		{name: "title alone", query: "chats=12345",
			title: "peer down",
			want:  []request{{ChatID: "12345", Text: "peer down"}}},
		{name: "HTML: title escaped and bold, body as it is", query: "chats=12345&parsemode=HTML",
			title: `a<b> & "c"`, body: "<i>srv1</i> is silent",
			want:      []request{{ChatID: "12345", ParseMode: "HTML", Text: "<b>a&lt;b&gt; &amp; &#34;c&#34;</b>\n\n<i>srv1</i> is silent"}},
			wantTitle: `a<b> & "c"`},
		{name: "MarkdownV2: title escaped and bold", query: "chats=12345&parsemode=MarkdownV2",
			title: `v1.2 (beta)! a_b\c`, body: "*srv1* is silent",
			want: []request{{ChatID: "12345", ParseMode: "MarkdownV2", Text: `*v1\.2 \(beta\)\! a\_b\\c*` + "\n\n*srv1* is silent"}}},
		{name: "Markdown: title escaped, not bold", query: "chats=12345&parsemode=markdown",
			title: "a_b*c`d[e]", body: "_b_",
			want: []request{{ChatID: "12345", ParseMode: "Markdown", Text: "a\\_b\\*c\\`d\\[e]\n\n_b_"}}},
		{name: "no preview, no notification", query: "chats=12345&preview=no&notification=false",
			body: "b",
			want: []request{{ChatID: "12345", Text: "b", DisablePreview: true, DisableNotification: true}}},
		{name: "preview and notification said", query: "chats=12345&preview=yes&notification=1",
			body: "b",
			want: []request{{ChatID: "12345", Text: "b"}}},
		{name: "several chats, a topic, a channel, in order", query: "chats=12345,-1001234567890:7,@alerts",
			body: "b",
			want: []request{
				{ChatID: "12345", Text: "b"},
				{ChatID: "-1001234567890", Thread: 7, Text: "b"},
				{ChatID: "@alerts", Text: "b"},
			}},
		{name: "shoutrrr's documented form", query: "channels=@alerts&notification=no&preview=false&parseMode=html",
			title: "t", body: "b",
			want:      []request{{ChatID: "@alerts", ParseMode: "HTML", Text: "<b>t</b>\n\nb", DisablePreview: true, DisableNotification: true}},
			wantTitle: "t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t)
			sender := newSender(t, "telegram://"+botToken+"@telegram?"+tt.query, client(t, s, nil))
			if err := sender.Push(t.Context(), tt.title, tt.body); err != nil {
				t.Fatalf("Push: %v", err)
			}
			got := requests(t, s)
			if len(got) != len(tt.want) {
				t.Fatalf("%d messages, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("message %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if tt.wantTitle != "" {
				if got, want := s.Messages()[0].Title, tt.wantTitle; got != want {
					t.Errorf("title as the API reads it = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestPushLongText(t *testing.T) {
	tests := []struct {
		name          string
		query         string
		title, body   string
		wantText      string
		wantParseMode string
	}{
		{name: "at the limit: whole", query: "chats=1",
			body: strings.Repeat("a", 4096), wantText: strings.Repeat("a", 4096)},
		{name: "over the limit: cut, with an ellipsis", query: "chats=1",
			body: strings.Repeat("a", 5000), wantText: strings.Repeat("a", 4095) + "…"},
		{name: "title and body over the limit", query: "chats=1",
			title: "peer down", body: strings.Repeat("é", 5000),
			wantText: "peer down\n\n" + strings.Repeat("é", 4095-len("peer down\n\n")) + "…"},
		{name: "HTML at the limit: whole, as HTML", query: "chats=1&parsemode=HTML",
			body: "<b>" + strings.Repeat("a", 4089) + "</b>", wantText: "<b>" + strings.Repeat("a", 4089) + "</b>", wantParseMode: "HTML"},
		{name: "emoji count twice, cut between them", query: "chats=1",
			body: strings.Repeat("😀", 3000), wantText: strings.Repeat("😀", 2047) + "…"},
		{name: "HTML over the limit: cut, as plain text", query: "chats=1&parsemode=HTML",
			title: "a<b>", body: "<i>" + strings.Repeat("x", 5000) + "</i>",
			wantText: "a<b>\n\n<i>" + strings.Repeat("x", 4095-len("a<b>\n\n<i>")) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t)
			sender := newSender(t, "telegram://"+botToken+"@telegram?"+tt.query, client(t, s, nil))
			if err := sender.Push(t.Context(), tt.title, tt.body); err != nil {
				t.Fatalf("Push: %v", err)
			}
			got := requests(t, s)
			if len(got) != 1 {
				t.Fatalf("%d messages, want 1", len(got))
			}
			if got[0].Text != tt.wantText {
				t.Errorf("text = %.40q... (%d runes), want %.40q... (%d runes)", got[0].Text, utf8.RuneCountInString(got[0].Text), tt.wantText, utf8.RuneCountInString(tt.wantText))
			}
			if n := len(utf16.Encode([]rune(got[0].Text))); n > 4096 {
				t.Errorf("text is %d UTF-16 code units, want at most 4096", n)
			}
			if got, want := got[0].ParseMode, tt.wantParseMode; got != want {
				t.Errorf("parse_mode = %q, want %q", got, want)
			}
		})
	}
}

func TestPushErrors(t *testing.T) {
	tests := []struct {
		name           string
		token          string // botToken unless set
		body           string // "b" unless set
		fault          func(*fakechat.Server)
		wantErr        string // the whole error, or its start when it ends in "..."
		wantStatus     int
		wantCode       int
		wantTemporary  bool
		wantRetry      time.Duration
		wantUnexpected bool
	}{
		{name: "wrong token", token: "123456:AAwrongTokenSecret",
			wantErr:    "telegram: chat 12345: error 401: Unauthorized",
			wantStatus: 401, wantCode: 401},
		{name: "bad request", body: "  ",
			wantErr:    "telegram: chat 12345: error 400: Bad Request: message text is empty",
			wantStatus: 400, wantCode: 400},
		{name: "forbidden", fault: func(s *fakechat.Server) { s.Status(fakechat.Telegram, 403) },
			wantErr:    "telegram: chat 12345: error 403: Forbidden",
			wantStatus: 403, wantCode: 403},
		{name: "not found", fault: func(s *fakechat.Server) { s.Status(fakechat.Telegram, 404) },
			wantErr:    "telegram: chat 12345: error 404: Not Found",
			wantStatus: 404, wantCode: 404},
		{name: "unavailable", fault: func(s *fakechat.Server) { s.Status(fakechat.Telegram, 503) },
			wantErr:    "telegram: chat 12345: error 503: Service Unavailable",
			wantStatus: 503, wantCode: 503, wantTemporary: true},
		{name: "rate limited", fault: func(s *fakechat.Server) { s.Status(fakechat.Telegram, 429) },
			wantErr:    "telegram: chat 12345: error 429: Too Many Requests: retry after 1",
			wantStatus: 429, wantCode: 429, wantTemporary: true, wantRetry: time.Second},
		// shoutrrr's service returns no error for these two.
		{name: "bad gateway, HTML", fault: func(s *fakechat.Server) { s.Status(fakechat.Telegram, 502) },
			wantErr:    "telegram: chat 12345: 502 Bad Gateway: answer is not the Bot API's (text/html)",
			wantStatus: 502, wantTemporary: true, wantUnexpected: true},
		{name: "down", fault: func(s *fakechat.Server) { s.Down(fakechat.Telegram, true) },
			wantErr:       "telegram: chat 12345: sendMessage: ...",
			wantTemporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t)
			if tt.fault != nil {
				tt.fault(s)
			}
			token := cmp.Or(tt.token, botToken)
			sender := newSender(t, "telegram://"+token+"@telegram?chats=12345", client(t, s, nil))
			err := sender.Push(t.Context(), "", cmp.Or(tt.body, "b"))
			t.Logf("error: %v", err)
			var te *telegram.Error
			if !errors.As(err, &te) {
				t.Fatalf("Push: %v (%T), want a *telegram.Error", err, err)
			}
			if prefix, ok := strings.CutSuffix(tt.wantErr, "..."); ok {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error = %q, want it to start with %q", err, prefix)
				}
			} else if got := err.Error(); got != tt.wantErr {
				t.Errorf("error = %q, want %q", got, tt.wantErr)
			}
			if got, want := te.Chat, "12345"; got != want {
				t.Errorf("Chat = %q, want %q", got, want)
			}
			if got, want := te.Status, tt.wantStatus; got != want {
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
			if got, want := errors.Is(err, telegram.ErrUnexpectedAnswer), tt.wantUnexpected; got != want {
				t.Errorf("errors.Is(err, ErrUnexpectedAnswer) = %v, want %v", got, want)
			}
			if secret := strings.SplitN(token, ":", 2)[1]; strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the token", err)
			}
			if got := len(s.Messages()); got != 0 {
				t.Errorf("%d messages recorded, want none", got)
			}
			if got, want := s.Requests(fakechat.Telegram), 1; got != want {
				t.Errorf("%d requests, want %d", got, want)
			}
		})
	}
}

// hook runs before each request, with its number from 1, then passes it on.
type hook struct {
	next   http.RoundTripper
	before func(n int, r *http.Request)

	mu sync.Mutex
	n  int
}

func (h *hook) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	h.before(n, r)
	return h.next.RoundTrip(r)
}

func withHook(before func(n int, r *http.Request)) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper { return &hook{next: next, before: before} }
}

func TestPushRetrySkipsDelivered(t *testing.T) {
	s := start(t)
	// The second request meets a 503; the others go through.
	c := client(t, s, withHook(func(n int, _ *http.Request) {
		switch n {
		case 2:
			s.Status(fakechat.Telegram, 503)
		case 3:
			s.Status(fakechat.Telegram, 0)
		}
	}))
	sender := newSender(t, "telegram://"+botToken+"@telegram?chats=12345,@alerts,-100999", c)

	err := sender.Push(t.Context(), "peer down", "srv1 is silent")
	var te *telegram.Error
	if !errors.As(err, &te) || te.Chat != "@alerts" || !te.Temporary() {
		t.Fatalf("first Push: %v, want a temporary *telegram.Error for @alerts", err)
	}
	if got, want := chatIDs(requests(t, s)), []string{"12345", "-100999"}; !slices.Equal(got, want) {
		t.Fatalf("after the first Push, chats = %q, want %q", got, want)
	}

	// Trying the note again sends it to @alerts only.
	if err := sender.Push(t.Context(), "peer down", "srv1 is silent"); err != nil {
		t.Fatalf("second Push: %v", err)
	}
	if got, want := chatIDs(requests(t, s)), []string{"12345", "-100999", "@alerts"}; !slices.Equal(got, want) {
		t.Fatalf("after the retry, chats = %q, want %q", got, want)
	}
	if got, want := s.Requests(fakechat.Telegram), 4; got != want {
		t.Errorf("%d requests, want %d", got, want)
	}

	// Once every chat has it, the same note again is a new alert.
	if err := sender.Push(t.Context(), "peer down", "srv1 is silent"); err != nil {
		t.Fatalf("third Push: %v", err)
	}
	if got, want := len(requests(t, s)), 6; got != want {
		t.Errorf("after the same note again, %d messages, want %d", got, want)
	}
}

func TestPushAnotherNoteStartsAfresh(t *testing.T) {
	s := start(t)
	c := client(t, s, withHook(func(n int, _ *http.Request) {
		switch n {
		case 2:
			s.Status(fakechat.Telegram, 503)
		case 3:
			s.Status(fakechat.Telegram, 0)
		}
	}))
	sender := newSender(t, "telegram://"+botToken+"@telegram?chats=12345,@alerts", c)

	if err := sender.Push(t.Context(), "peer down", "srv1 is silent"); err == nil {
		t.Fatal("first Push: no error, want one for @alerts")
	}
	if err := sender.Push(t.Context(), "peer up", "srv1 is back"); err != nil {
		t.Fatalf("Push of another note: %v", err)
	}
	got := requests(t, s)
	if want := []string{"12345", "12345", "@alerts"}; !slices.Equal(chatIDs(got), want) {
		t.Fatalf("chats = %q, want %q", chatIDs(got), want)
	}
	if got, want := got[2].Text, "peer up\n\nsrv1 is back"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	// The first note is forgotten: pushed again, it goes to both.
	if err := sender.Push(t.Context(), "peer down", "srv1 is silent"); err != nil {
		t.Fatalf("Push of the first note again: %v", err)
	}
	if got, want := len(requests(t, s)), 5; got != want {
		t.Errorf("%d messages, want %d", got, want)
	}
}

func TestPushForgetsNote(t *testing.T) {
	tests := []struct {
		name      string
		status    int           // the first Push's answer for @alerts
		advance   time.Duration // between the two Pushes
		wantChats []string      // the chats the second Push sends to
	}{
		{name: "a temporary failure, retried at once", status: 503,
			wantChats: []string{"@alerts"}},
		{name: "a temporary failure, retried within ten minutes", status: 429, advance: 10*time.Minute - time.Second,
			wantChats: []string{"@alerts"}},
		{name: "ten minutes on: a new alert", status: 503, advance: 10 * time.Minute,
			wantChats: []string{"12345", "@alerts"}},
		{name: "refused for good: no retry follows, a new alert", status: 403,
			wantChats: []string{"12345", "@alerts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t)
			c := client(t, s, withHook(func(n int, _ *http.Request) {
				switch n {
				case 2:
					s.Status(fakechat.Telegram, tt.status)
				case 3:
					s.Status(fakechat.Telegram, 0)
				}
			}))
			sender := newSender(t, "telegram://"+botToken+"@telegram?chats=12345,@alerts", c)
			now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			telegram.SetClock(sender, func() time.Time { return now })

			if err := sender.Push(t.Context(), "peer down", "srv1 is silent"); err == nil {
				t.Fatal("first Push: no error, want one for @alerts")
			}
			now = now.Add(tt.advance)
			if err := sender.Push(t.Context(), "peer down", "srv1 is silent"); err != nil {
				t.Fatalf("second Push: %v", err)
			}
			if got, want := chatIDs(requests(t, s))[1:], tt.wantChats; !slices.Equal(got, want) {
				t.Errorf("second Push sent to %q, want %q", got, want)
			}
		})
	}
}

func TestPushSeveralChatsFail(t *testing.T) {
	s := start(t)
	c := client(t, s, withHook(func(n int, _ *http.Request) {
		s.Status(fakechat.Telegram, []int{0, 403, 503, 429, 0}[n])
	}))
	sender := newSender(t, "telegram://"+botToken+"@telegram?chats=1,2,3,4", c)

	// The temporary errors first, the longest wait first, then the others.
	err := sender.Push(t.Context(), "", "b")
	want := "telegram: chat 3: error 429: Too Many Requests: retry after 1; chat 2: error 503: Service Unavailable; chat 1: error 403: Forbidden"
	if got := fmt.Sprint(err); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	var te *telegram.Error
	if !errors.As(err, &te) || te.Chat != "3" || !te.Temporary() || te.Retry != time.Second {
		t.Errorf("errors.As found %+v, want chat 3's temporary error with Retry 1s", te)
	}
	if got, want := chatIDs(requests(t, s)), []string{"4"}; !slices.Equal(got, want) {
		t.Errorf("chats = %q, want %q", got, want)
	}
}

func TestPushCanceled(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := client(t, s, withHook(func(int, *http.Request) { cancel() }))
	sender := newSender(t, "telegram://"+botToken+"@telegram?chats=12345", c)

	err := sender.Push(ctx, "t", "b")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Push: %v, want context.Canceled", err)
	}
	var te *telegram.Error
	if !errors.As(err, &te) || !te.Temporary() || te.Status != 0 {
		t.Errorf("Push: %v, want a temporary *telegram.Error without a status", err)
	}
	if strings.Contains(err.Error(), tokenSecret) {
		t.Errorf("error %q shows the token", err)
	}

	// Cancelled before it starts: no request.
	err = sender.Push(ctx, "t", "b")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Push with a done ctx: %v, want context.Canceled", err)
	}
	if got, want := s.Requests(fakechat.Telegram), 0; got != want {
		t.Errorf("%d requests reached the API, want %d", got, want)
	}
}

func TestPushEmpty(t *testing.T) {
	s := start(t)
	sender := newSender(t, "telegram://"+botToken+"@telegram?chats=12345", client(t, s, nil))
	if err := sender.Push(t.Context(), "", ""); err == nil {
		t.Error("Push of nothing: no error")
	}
	if got := s.Requests(fakechat.Telegram); got != 0 {
		t.Errorf("%d requests, want none", got)
	}
}

func TestPushConcurrent(t *testing.T) {
	const n = 8
	s := start(t)
	sender := newSender(t, "telegram://"+botToken+"@telegram?chats=12345,@alerts", client(t, s, nil))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- sender.Push(t.Context(), "", fmt.Sprintf("note %d", i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Push: %v", err)
		}
	}
	seen := make(map[string]int)
	for _, r := range requests(t, s) {
		seen[r.Text]++
	}
	for i := range n {
		if got, want := seen[fmt.Sprintf("note %d", i)], 2; got != want {
			t.Errorf("note %d reached %d chats, want %d", i, got, want)
		}
	}
}
