package telegram_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clooster/clooster/notify/telegram"
)

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "other scheme", url: "https://123456:AAsecretPart@telegram?chats=1",
			wantErr: `telegram: scheme: want telegram (got "https")`},
		{name: "no userinfo", url: "telegram://telegram?chats=1",
			wantErr: "telegram: no bot token: want telegram://<bot id>:<secret>@telegram?chats=<chat id>"},
		{name: "opaque", url: "telegram:123456:AAsecretPart",
			wantErr: "telegram: no bot token: want telegram://<bot id>:<secret>@telegram?chats=<chat id>"},
		{name: "no secret", url: "telegram://123456@telegram?chats=1",
			wantErr: "telegram: bot token: want <bot id>:<secret>, the bot id in digits and the secret in letters, digits, _ and -"},
		{name: "bot id not digits", url: "telegram://bot12:AAsecretPart@telegram?chats=1",
			wantErr: "telegram: bot token: want <bot id>:<secret>, the bot id in digits and the secret in letters, digits, _ and -"},
		{name: "secret with a space", url: "telegram://123456:AA%20secretPart@telegram?chats=1",
			wantErr: "telegram: bot token: want <bot id>:<secret>, the bot id in digits and the secret in letters, digits, _ and -"},
		{name: "no chats", url: "telegram://123456:AAsecretPart@telegram",
			wantErr: "telegram: no chats: want chats=<chat id>,@<channel>, one or more"},
		{name: "empty chats", url: "telegram://123456:AAsecretPart@telegram?chats=",
			wantErr: `telegram: chats: want a chat id or @channel, optionally with :<thread id> (got "")`},
		{name: "empty chat in the list", url: "telegram://123456:AAsecretPart@telegram?chats=1,,2",
			wantErr: `telegram: chats: want a chat id or @channel, optionally with :<thread id> (got "")`},
		{name: "channel without @", url: "telegram://123456:AAsecretPart@telegram?chats=alerts",
			wantErr: `telegram: chats: want a chat id or @channel, optionally with :<thread id> (got "alerts")`},
		{name: "chat id zero", url: "telegram://123456:AAsecretPart@telegram?chats=0",
			wantErr: `telegram: chats: want a chat id or @channel, optionally with :<thread id> (got "0")`},
		{name: "bad thread", url: "telegram://123456:AAsecretPart@telegram?chats=-100123:x",
			wantErr: `telegram: chats: thread: want a positive number (got "-100123:x")`},
		{name: "thread zero", url: "telegram://123456:AAsecretPart@telegram?chats=-100123:0",
			wantErr: `telegram: chats: thread: want a positive number (got "-100123:0")`},
		{name: "channel name with a dash", url: "telegram://123456:AAsecretPart@telegram?chats=@my-alerts",
			wantErr: `telegram: chats: want a chat id or @channel, optionally with :<thread id> (got "@my-alerts")`},
		{name: "@ alone", url: "telegram://123456:AAsecretPart@telegram?chats=@",
			wantErr: `telegram: chats: want a chat id or @channel, optionally with :<thread id> (got "@")`},
		{name: "chat twice", url: "telegram://123456:AAsecretPart@telegram?chats=1,@a,1",
			wantErr: `telegram: chats: "1" given twice`},
		{name: "chats and channels", url: "telegram://123456:AAsecretPart@telegram?chats=1&channels=2",
			wantErr: "telegram: chats: given more than once (channels is another name for it)"},
		{name: "key twice", url: "telegram://123456:AAsecretPart@telegram?chats=1&preview=yes&Preview=no",
			wantErr: "telegram: preview: given more than once"},
		{name: "unknown key", url: "telegram://123456:AAsecretPart@telegram?chats=1&silent=yes",
			wantErr: `telegram: unknown query key "silent": want chats, preview, notification, parsemode or title`},
		{name: "preview not a boolean", url: "telegram://123456:AAsecretPart@telegram?chats=1&preview=maybe",
			wantErr: `telegram: preview: want yes or no (got "maybe")`},
		{name: "notification not a boolean", url: "telegram://123456:AAsecretPart@telegram?chats=1&notification=2",
			wantErr: `telegram: notification: want yes or no (got "2")`},
		{name: "unknown parse mode", url: "telegram://123456:AAsecretPart@telegram?chats=1&parsemode=rich",
			wantErr: `telegram: parsemode: want None, Markdown, HTML or MarkdownV2 (got "rich")`},
		{name: "the token as a chat", url: "telegram://123456:AAsecretPart@telegram?chats=123456:AAsecretPart",
			wantErr: `telegram: chats: thread: want a positive number (got "[redacted]")`},
		{name: "the secret as a title, then an error", url: "telegram://123456:AAsecretPart@telegram?chats=1&title=AAsecretPart&parsemode=AAsecretPart",
			wantErr: `telegram: parsemode: want None, Markdown, HTML or MarkdownV2 (got "[redacted]")`},
		{name: "the token as a parse mode", url: "telegram://123456:AAsecretPart@telegram?chats=1&parsemode=123456:AAsecretPart",
			wantErr: `telegram: parsemode: want None, Markdown, HTML or MarkdownV2 (got "[redacted]")`},
		{name: "malformed query", url: "telegram://123456:AAsecretPart@telegram?chats=1&x=%zz",
			wantErr: "telegram: malformed query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = telegram.New(u, nil)
			if err == nil {
				t.Fatal("New: no error")
			}
			if got, want := err.Error(), tt.wantErr; got != want {
				t.Errorf("error = %q, want %q", got, want)
			}
			if strings.Contains(err.Error(), "secretPart") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
	if _, err := telegram.New(nil, nil); err == nil {
		t.Error("New(nil): no error")
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{name: "shoutrrr's documented form", url: "telegram://123456:AA-secret_Part@telegram/?channels=@alerts&notification=no&preview=false&parseMode=html"},
		{name: "several chats and a topic", url: "telegram://123456:AAsecretPart@telegram?chats=12345,-1001234567890:7,@alerts"},
		{name: "keys and values in any case", url: "TELEGRAM://123456:AAsecretPart@telegram?Chats=1&Preview=Yes&NOTIFICATION=n&ParseMode=MARKDOWNV2&Title=t"},
		{name: "every parse mode name", url: "telegram://123456:AAsecretPart@telegram?chats=1&parsemode=None"},
		{name: "bot id with every digit", url: "telegram://1234567890:AAsecretPart@telegram?chats=9876543210"},
		{name: "another host", url: "telegram://123456:AAsecretPart@api.telegram.org?chats=1&parsemode=Markdown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := telegram.New(u, nil); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	u, err := url.Parse("telegram://123456:AAsecretPart@telegram?chats=1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := telegram.New(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Secrets(), []string{"123456:AAsecretPart", "AAsecretPart"}; !slices.Equal(got, want) {
		t.Errorf("Secrets() = %q, want %q", got, want)
	}
}
