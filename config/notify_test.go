package config

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// Secrets of the channel URLs below; a message must never show them.
const (
	ntfyPass  = "ntfy-SECRET-pass"
	tgToken   = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	smtpPass  = "smtp-SECRET-pass"
	hookToken = "hook-SECRET-token-77"
)

var (
	ntfyURL = "ntfy://alice:" + ntfyPass + "@ntfy.example.com/alerts-topic"
	tgURL   = "telegram://" + tgToken + "@telegram?chats=-1001234"
	smtpURL = "smtp://ops:" + smtpPass + "@mail.example.com:587/?from=clooster@example.com&to=ops@example.com"
	hookURL = "generic+https://hooks.example.com/clooster?@Authorization=Bearer%20" + hookToken
)

func TestNotifyChannels(t *testing.T) {
	m := base()
	m["notify"] = []any{
		ntfyURL,
		map[string]any{"url": tgURL, "events": []any{"Down", "up"}},
		map[string]any{"url": smtpURL},
	}
	c := mustLoad(t, writeConfig(t, m), nil)
	want := []Notify{{URL: ntfyURL}, {URL: tgURL, Events: []string{"down", "up"}}, {URL: smtpURL}}
	if !slices.EqualFunc(c.Notify, want, func(a, b Notify) bool { return a.URL == b.URL && slices.Equal(a.Events, b.Events) }) {
		t.Errorf("notify = %+v, want %+v", c.Notify, want)
	}

	// check shows each URL with its secrets redacted, scheme and host visible.
	out, err := json.Marshal(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{ntfyPass, tgToken, "110201543", smtpPass, "alerts-topic", "alice"} {
		if strings.Contains(string(out), s) {
			t.Errorf("Redacted shows %q: %s", s, out)
		}
	}
	for _, s := range []string{"ntfy://***:***@ntfy.example.com/***", "telegram://***:***@telegram?chats=-1001234",
		"smtp://***:***@mail.example.com:587/?from=clooster@example.com\u0026to=ops@example.com"} {
		if !strings.Contains(string(out), strings.ReplaceAll(s, "&", `\u0026`)) {
			t.Errorf("Redacted lacks %q: %s", s, out)
		}
	}
	if c.Notify[0].URL != ntfyURL {
		t.Error("Redacted changed the configuration it copied")
	}

	// The logger scrubs the URLs and their long secret parts.
	secrets := c.Secrets()
	for _, s := range []string{ntfyURL, ntfyPass, tgToken, smtpPass, "alerts-topic"} {
		if !slices.Contains(secrets, s) {
			t.Errorf("Secrets() lacks %q", s)
		}
	}
	if slices.Contains(secrets, "ops") {
		t.Errorf("Secrets() = %q: a part shorter than 8 characters garbles logs", secrets)
	}
}

// A bad channel is a problem naming notify[i] and what is wrong, its URL
// shown redacted.
func TestNotifyValidation(t *testing.T) {
	tests := []struct {
		name  string
		entry any
		want  string
	}{
		{"unknown service", "ntfyy://" + ntfyPass + "@host/topic",
			`notify[1]: unknown service "ntfyy" (known: discord, generic, gotify,`},
		{"no scheme", "ntfy.example.com/topic", `notify[1]: no scheme: want a URL like ntfy://ntfy.sh/topic`},
		{"empty", "", "notify[1]: the URL is empty"},
		{"object without url", map[string]any{"events": []any{"down"}}, "notify[1]: the URL is empty"},
		{"bad port", "smtp://ops:" + smtpPass + "@mail.example.com:99999/?from=a@example.com&to=b@example.com",
			`notify[1]: smtp: port: must be 1 to 65535 (got "99999") (got "smtp://***:***@mail.example.com:99999/?from=a@example.com&to=b@example.com")`},
		{"smtp without to", "smtp://ops:" + smtpPass + "@mail.example.com/?from=a@example.com",
			`notify[1]: smtp: to: missing (got "smtp://***:***@mail.example.com/?from=a@example.com")`},
		{"telegram without chats", "telegram://" + tgToken + "@telegram",
			`notify[1]: telegram: no chats: want chats=<chat id>,@<channel>, one or more (got "telegram://***:***@telegram")`},
		{"unknown event", map[string]any{"url": ntfyURL, "events": []any{"down", "flap"}},
			`notify[1].events[1]: unknown event (want down, up, failed, withheld, drift, health, mismatch, reload, quorum, test) (got "flap")`},
		{"no event", map[string]any{"url": ntfyURL, "events": []any{}}, "notify[1].events: no event: leave events out for every event (got [])"},
		{"not a string", 42, "notify[1]: want an object (got 42)"},
		{"unknown key", map[string]any{"url": ntfyURL, "event": []any{"down"}}, "notify[1].event: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			m["notify"] = []any{ntfyURL, tt.entry}
			_, err := Load(writeConfig(t, m), nil)
			ps := problems(t, err)
			if len(ps) != 1 || !strings.HasPrefix(ps[0].String(), tt.want) {
				t.Errorf("got %q, want one starting %q", ps, tt.want)
			}
			for _, s := range []string{ntfyPass, smtpPass, tgToken, "110201543"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error shows the secret %q: %v", s, err)
				}
			}
		})
	}
}

func TestEnvNotify(t *testing.T) {
	m := base()
	m["notify"] = []any{map[string]any{"url": tgURL, "events": []any{"down"}}}
	path := writeConfig(t, m)
	list := writeFile(t, t.TempDir(), "urls", "# channels\n"+ntfyURL+"\n\n  "+smtpURL+" "+hookURL+"\n")

	// The variable replaces the file's list; every channel takes every event.
	c := mustLoad(t, path, []string{"CLOOSTER_NOTIFY_URLS=" + ntfyURL + "\n\t" + hookURL})
	if got := c.Notify; len(got) != 2 || got[0].URL != ntfyURL || got[1].URL != hookURL || got[0].Events != nil {
		t.Errorf("from CLOOSTER_NOTIFY_URLS: %+v", got)
	}
	c = mustLoad(t, path, []string{"CLOOSTER_NOTIFY_URLS_FILE=" + list})
	if got := c.Notify; len(got) != 3 || got[0].URL != ntfyURL || got[1].URL != smtpURL || got[2].URL != hookURL {
		t.Errorf("from CLOOSTER_NOTIFY_URLS_FILE: %+v", got)
	}
	c = mustLoad(t, path, []string{"CLOOSTER_NOTIFY_URLS="})
	if got := c.Notify; len(got) != 1 || got[0].URL != tgURL {
		t.Errorf("an empty CLOOSTER_NOTIFY_URLS counts as unset: %+v", got)
	}

	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"both", []string{"CLOOSTER_NOTIFY_URLS=" + ntfyURL, "CLOOSTER_NOTIFY_URLS_FILE=" + list},
			"CLOOSTER_NOTIFY_URLS_FILE: set only one of CLOOSTER_NOTIFY_URLS and CLOOSTER_NOTIFY_URLS_FILE"},
		{"missing file", []string{"CLOOSTER_NOTIFY_URLS_FILE=/nonexistent/urls"},
			`CLOOSTER_NOTIFY_URLS_FILE: cannot read: no such file or directory (got "/nonexistent/urls")`},
		{"file without URL", []string{"CLOOSTER_NOTIFY_URLS_FILE=" + writeFile(t, t.TempDir(), "empty", "# none yet\n")},
			"CLOOSTER_NOTIFY_URLS_FILE: no URL in the file"},
		{"bad URL", []string{"CLOOSTER_NOTIFY_URLS=" + ntfyURL + " slack://" + hookToken},
			`notify[1] (CLOOSTER_NOTIFY_URLS): invalid slack token format (got "slack://***")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(path, tt.env)
			ps := problems(t, err)
			if len(ps) != 1 || !strings.HasPrefix(ps[0].String(), tt.want) {
				t.Errorf("got %q, want one starting %q", ps, tt.want)
			}
			if strings.Contains(err.Error(), hookToken) || strings.Contains(err.Error(), ntfyPass) {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}
