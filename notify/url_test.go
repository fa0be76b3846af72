package notify

import (
	"slices"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		service  string
		redacted string
		secrets  []string // among Secrets()
	}{
		{"ntfy", "ntfy://alice:s3cret-pw@ntfy.example.com/alerts-topic?priority=high", "ntfy",
			"ntfy://***:***@ntfy.example.com/***?priority=high", []string{"s3cret-pw", "alice", "alerts-topic"}},
		{"ntfy topic only", "ntfy://ntfy.sh/topic-xyz", "ntfy", "ntfy://ntfy.sh/***", []string{"topic-xyz"}},
		{"telegram", "telegram://110201543:AAHdqTcvCH1v@telegram?chats=@ops,-1001", "telegram",
			"telegram://***:***@telegram?chats=@ops,-1001", []string{"110201543:AAHdqTcvCH1v", "AAHdqTcvCH1v"}},
		{"discord", "discord://tok-abc123@987654321", "discord", "discord://***@987654321", []string{"tok-abc123"}},
		{"slack webhook", "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook?color=good", "slack",
			"slack://***:***@***?color=good", []string{"T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX"}},
		{"slack bot: the host is a channel, the token the password", "slack://xoxb:123456789012-1234567890123-4b8ff7c3e96bab2b4b1a4ae2@C001CH4NN3L",
			"slack", "slack://***:***@***", []string{"123456789012-1234567890123-4b8ff7c3e96bab2b4b1a4ae2"}},
		{"gotify", "gotify://gotify.example.com/Aoh2ahth7xx", "gotify", "gotify://gotify.example.com/***", []string{"Aoh2ahth7xx"}},
		{"pushover", "pushover://shoutrrr:apitoken123@userkey456/?devices=phone", "pushover",
			"pushover://***:***@***/?devices=phone", []string{"apitoken123", "userkey456"}},
		{"matrix is not dialled", "matrix://bot:pa55word@matrix.example.com/?rooms=!room:example.com", "matrix",
			"matrix://***:***@matrix.example.com/?rooms=***", []string{"pa55word"}},
		{"pushbullet", "pushbullet://o.abcdefghijklmnopqrstuvwxyz012345/#ops", "pushbullet",
			"pushbullet://***/#***", []string{"o.abcdefghijklmnopqrstuvwxyz012345", "ops"}},
		{"case of the scheme", "NTFY://ntfy.sh/topic-xyz", "ntfy", "ntfy://ntfy.sh/***", []string{"topic-xyz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL(tt.raw)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if u.Service != tt.service || u.Redacted != tt.redacted {
				t.Errorf("got %q %q, want %q %q", u.Service, u.Redacted, tt.service, tt.redacted)
			}
			if Redact(tt.raw) != tt.redacted {
				t.Errorf("Redact = %q, want %q", Redact(tt.raw), tt.redacted)
			}
			for _, s := range tt.secrets {
				if !slices.Contains(u.Secrets(), s) {
					t.Errorf("Secrets() = %q, lacks %q", u.Secrets(), s)
				}
				if strings.Contains(u.Redacted, s) {
					t.Errorf("Redacted %q shows %q", u.Redacted, s)
				}
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"empty", "  ", "empty URL"},
		{"no scheme", "ntfy.sh/topic", "no scheme: want a URL like ntfy://ntfy.sh/topic (known services: discord, "},
		{"unknown", "pushy://tok-secret-1@x", `unknown service "pushy" (known: discord, generic, gotify, `},
		{"logger is left out", "logger://", `unknown service "logger"`},
		{"teams is left out", "teams://group@tenant/altId/groupOwner?host=example.webhook.office.com", `unknown service "teams"`},
		{"pushbullet token", "pushbullet://tok-secret-1/device", "the access token (the host) is 12 characters, want 34"},
		{"pushbullet key", "pushbullet://" + strings.Repeat("x", 34) + "?device=x", `unknown key "device"`},
		{"not a URL", "ntfy://host:port-secret-9/x", "not a URL (invalid port"},
		{"custom URL for a service other than generic", "ntfy+https://ntfy.sh/topic", "ntfy: a custom URL (ntfy+...) is only for generic"},
		{"custom URL for one of clooster's own", "smtp+tls://mail.example.com/?from=a@b.c&to=d@e.f", "smtp: a custom URL (smtp+...) is only for generic"},
		{"the service's own check", "ntfy://ntfy.sh/topic?priority=extreme", "setting query parameter"},
		{"clooster's own check", "telegram://110201543:AAHdqTcvCH1v@telegram", "telegram: no chats"},
		{"slack token", "slack://hook-secret-77", "invalid slack token format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURL(tt.raw)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("ParseURL(%q) = %v, want an error starting %q", tt.raw, err, tt.want)
			}
			for _, s := range []string{"tok-secret-1", "port-secret-9", "AAHdqTcvCH1v", "hook-secret-77"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error %q shows the secret %q", err, s)
				}
			}
		})
	}
}

func TestRedactUnparsable(t *testing.T) {
	if got, want := Redact("ntfy://host:bad port/x"), "(a URL that does not parse, not shown)"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

// Every service clooster lists can be opened.
func TestServicesOpen(t *testing.T) {
	for _, name := range Services() {
		svc := services[name]
		if svc.own != nil {
			if svc.open != nil || svc.config != nil {
				t.Errorf("%s: sent by clooster itself and by shoutrrr", name)
			}
			continue
		}
		if svc.open() == nil {
			t.Errorf("%s: no service", name)
		}
	}
}
