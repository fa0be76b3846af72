package config

import (
	"slices"
	"strings"
	"testing"
)

// Secrets a reload test changes to; like the base's, they must never show.
const (
	newToken       = "cf-token-NEWSECRET-9876"
	newPushbullet  = "pb-key-NEWSECRET-4321"
	newStatusToken = "status-token-NEWSECRET-0000"
	newKey         = "n3w-k3y-0123456789abcdef01234567"
	newNotify      = "ntfy://clooster:ntfy-pass-NEWSECRET@ntfy.example.com/alerts"
	newTSIG        = "c2VjcmV0LU5FV1NFQ1JFVC0xMjM0NTY3ODkw"
	hookSecret     = "curl -H 'Authorization: HOOKSECRET-1' https://example.com"
)

func TestDiff(t *testing.T) {
	record := func(name, typ, a, b string) map[string]any {
		return map[string]any{"name": name, "type": typ, "zone": "example.com",
			"values": map[string]any{"a.example.com": a, "b.example.com": b}}
	}
	withRecords := func(m map[string]any, rs ...any) {
		set(m, "cloudflare.record", del)
		set(m, "cloudflare.preferred_value", del)
		set(m, "records", rs)
	}
	type change struct {
		key      string
		old, new string // "" not checked
		live     bool
	}
	for _, tc := range []struct {
		name          string
		before, after func(m map[string]any) // nil: the base
		env           []string               // of the new load only
		want          []change
	}{
		{name: "unchanged"},
		{name: "timings and flags", after: func(m map[string]any) {
			set(m, "keepalive_interval", "1s")
			set(m, "peer_timeout", "4s")
			set(m, "failback_delay", "10s")
			set(m, "drift_check_interval", "1m")
			set(m, "handover_on_stop", false)
			set(m, "restart_grace", "1m")
		}, want: []change{
			{"keepalive_interval", `"500ms"`, `"1s"`, true},
			{"peer_timeout", `"2.5s"`, `"4s"`, true},
			{"failback_delay", `"30s"`, `"10s"`, true},
			{"drift_check_interval", `"5m0s"`, `"1m0s"`, true},
			{"handover_on_stop", `"true"`, `"false"`, true},
			{"restart_grace", `"30s"`, `"1m0s"`, true},
		}},
		{name: "the link waits", after: func(m map[string]any) {
			set(m, "key", newKey)
			set(m, "this_server", "c.example.com")
			set(m, "cloudflare.preferred_value", "c.example.com")
			set(m, "server.port", 4097)
			set(m, "server.address", "127.0.0.1")
			set(m, "server.peer_address", "")
		}, want: []change{
			{"key", Shown, Shown, false},
			{"this_server", `"a.example.com"`, `"c.example.com"`, false},
			{"server.address", `"0.0.0.0"`, `"127.0.0.1"`, false},
			{"server.port", "4096", "4097", false},
			{"server.peer_address", `"b.example.com:4096"`, "", false},
			{"cloudflare.preferred_value", `"a.example.com"`, `"c.example.com"`, true},
			{"cloudflare.this_value", `"a.example.com"`, `"c.example.com"`, true},
		}},
		{name: "a role, and the client's address", after: func(m map[string]any) {
			set(m, "server", del)
			set(m, "client", map[string]any{"address": "b.example.com", "port": 4000})
		}, want: []change{
			{"role", `"server"`, `"client"`, false},
			{"server.address", `"0.0.0.0"`, "", false},
			{"server.port", "4096", "0", false},
			{"server.peer_address", `"b.example.com:4096"`, "", false},
			{"client.address", "", `"b.example.com"`, false},
			{"client.port", "0", "4000", false},
		}},
		{name: "tls", after: func(m map[string]any) {
			set(m, "tls", map[string]any{"fingerprint": strings.Repeat("ab", 32)})
		}, want: []change{{"tls.fingerprint", "", `"` + strings.Repeat("ab", 32) + `"`, false}}},
		{name: "credentials wait", after: func(m map[string]any) {
			set(m, "cloudflare.token", newToken)
			set(m, "cloudflare.api_url", "https://cf.example.com/client/v4")
		}, want: []change{
			{"cloudflare.token", Shown, Shown, false},
			{"cloudflare.api_url", `"https://api.cloudflare.com/client/v4"`, `"https://cf.example.com/client/v4"`, false},
		}},
		{name: "a credential from the environment", env: []string{"CLOOSTER_CLOUDFLARE_KEY=" + newToken, "CLOOSTER_CLOUDFLARE_MAIL=ops@example.com"},
			want: []change{
				{"cloudflare.token", Shown, "", false},
				{"cloudflare.key", "", Shown, false},
				{"cloudflare.mail", "", `"ops@example.com"`, false},
			}},
		{name: "the single record", after: func(m map[string]any) {
			set(m, "cloudflare.record", "api.example.com")
			set(m, "cloudflare.other_value", "b.example.com")
		}, want: []change{
			{"cloudflare.record", `"www.example.com"`, `"api.example.com"`, true},
			{"cloudflare.other_value", "", `"b.example.com"`, true},
		}},
		{name: "records added, removed and changed", before: func(m map[string]any) {
			withRecords(m, record("www.example.com", "A", "192.0.2.1", "192.0.2.2"), record("old.example.com", "A", "192.0.2.1", "192.0.2.2"))
		}, after: func(m map[string]any) {
			withRecords(m, record("www.example.com", "A", "192.0.2.1", "192.0.2.3"), record("new.example.com", "AAAA", "2001:db8::1", "2001:db8::2"))
		}, want: []change{
			{`records[www.example.com A].values["b.example.com"]`, `"192.0.2.2"`, `"192.0.2.3"`, true},
			{"records[old.example.com A]", `"a.example.com 192.0.2.1, b.example.com 192.0.2.2"`, "", true},
			{"records[new.example.com AAAA]", "", `"a.example.com 2001:db8::1, b.example.com 2001:db8::2"`, true},
		}},
		{name: "the single record becomes a records block", after: func(m map[string]any) {
			withRecords(m, record("www.example.com", "CNAME", "a.example.com", "b.example.com"))
		}, want: []change{
			{"cloudflare.record", `"www.example.com"`, "", true},
			{"cloudflare.preferred_value", `"a.example.com"`, "", true},
			{"records[www.example.com CNAME]", "", "", true},
		}},
		{name: "an rfc2136 record without a running rfc2136 block waits", after: func(m map[string]any) {
			www := record("www.example.com", "A", "192.0.2.1", "192.0.2.2")
			www["provider"] = "cloudflare"
			withRecords(m, www,
				map[string]any{"name": "dyn.example.net", "type": "A", "provider": "rfc2136", "zone": "example.net",
					"values": map[string]any{"a.example.com": "192.0.2.1", "b.example.com": "192.0.2.2"}})
			set(m, "rfc2136", map[string]any{"server": "127.0.0.1:53", "tsig_name": "k", "tsig_secret": newTSIG})
		}, want: []change{
			{"rfc2136.server", "", `"127.0.0.1:53"`, false},
			{"rfc2136.tsig_name", "", `"k"`, false},
			{"rfc2136.tsig_secret", "", Shown, false},
			{"rfc2136.tsig_algorithm", "", `"hmac-sha256"`, false},
			{"rfc2136.transport", "", `"tcp"`, false},
			{"cloudflare.record", "", "", true},
			{"cloudflare.preferred_value", "", "", true},
			{"records[www.example.com A]", "", "", true},
			{"records[dyn.example.net A]", "", "", false},
		}},
		{name: "channels", after: func(m map[string]any) {
			set(m, "pushbullet.key", newPushbullet)
			set(m, "pushbullet.target", map[string]any{"email": "ops@example.com"})
			set(m, "notify", []any{newNotify, map[string]any{"url": "ntfy://ntfy.example.com/other", "events": []any{"down"}}})
		}, want: []change{
			{"pushbullet.key", Shown, Shown, true},
			{"pushbullet.target.email", "", `"ops@example.com"`, true},
			{"notify[0]", "", `"ntfy://***:***@ntfy.example.com/***"`, true},
			{"notify[1]", "", `"ntfy://ntfy.example.com/***"`, true},
		}},
		{name: "a zone with a final dot is the same zone", after: func(m map[string]any) {
			set(m, "cloudflare.zone", "Example.com.")
		}},
		{name: "a channel's events", before: func(m map[string]any) {
			set(m, "notify", []any{newNotify})
		}, after: func(m map[string]any) {
			set(m, "notify", []any{map[string]any{"url": newNotify, "events": []any{"down", "reload"}}})
		}, want: []change{{"notify[0].events", "all", "[down, reload]", true}}},
		{name: "checks and hooks", after: func(m map[string]any) {
			set(m, "health", map[string]any{"url": "http://user:health-pass-SECRET@127.0.0.1:8080/health", "fall": 2})
			set(m, "peer_check", map[string]any{"tcp": "b.example.com:443", "timeout": "3s"})
			set(m, "hooks", map[string]any{"on_active": hookSecret, "timeout": "5s"})
		}, want: []change{
			{"health.url", "", `"http://user:xxxxx@127.0.0.1:8080/health"`, true},
			{"health.fall", "3", "2", true},
			{"peer_check.tcp", "", `"b.example.com:443"`, true},
			{"peer_check.timeout", `"2s"`, `"3s"`, true},
			{"hooks.on_active", "", Shown, true},
			{"hooks.timeout", `"30s"`, `"5s"`, true},
		}},
		{name: "log and status", after: func(m map[string]any) {
			set(m, "log", map[string]any{"level": "debug", "format": "json"})
			set(m, "status", map[string]any{"token": newStatusToken})
			set(m, "dry_run", true)
		}, want: []change{
			{"log.level", `"info"`, `"debug"`, true},
			{"status.token", "", Shown, true},
			{"log.format", `"text"`, `"json"`, false},
			{"dry_run", `"false"`, `"true"`, false},
		}},
		{name: "a token for another status address waits for it", after: func(m map[string]any) {
			set(m, "status", map[string]any{"address": "127.0.0.1:9798", "token": newStatusToken})
		}, want: []change{
			{"status.token", "", Shown, false},
			{"status.address", `"127.0.0.1:9797"`, `"127.0.0.1:9798"`, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			if tc.before != nil {
				tc.before(a)
				tc.before(b)
			}
			if tc.after != nil {
				tc.after(b)
			}
			running := mustLoad(t, writeConfig(t, a), nil)
			next := mustLoad(t, writeConfig(t, b), tc.env)
			got := Diff(running, next)
			var keys, wantKeys []string
			for _, c := range got {
				keys = append(keys, c.Key)
			}
			for _, w := range tc.want {
				wantKeys = append(wantKeys, w.key)
			}
			if !slices.Equal(keys, wantKeys) {
				t.Fatalf("got keys %q, want %q\n%v", keys, wantKeys, got)
			}
			for i, w := range tc.want {
				c := got[i]
				if c.Live != w.live {
					t.Errorf("%s: got live %v, want %v", c.Key, c.Live, w.live)
				}
				if w.old != "" && c.Old != w.old || w.new != "" && c.New != w.new {
					t.Errorf("%s: got %s -> %s, want %s -> %s", c.Key, c.Old, c.New, w.old, w.new)
				}
				line := c.String()
				for _, secret := range []string{testKey, testToken, testPushbullet, newToken, newPushbullet, newStatusToken,
					newKey, "ntfy-pass-NEWSECRET", newTSIG, "HOOKSECRET", "health-pass-SECRET"} {
					if strings.Contains(line, secret) {
						t.Errorf("%q shows a secret", line)
					}
				}
			}
			if got, want := Live(got), !slices.ContainsFunc(tc.want, func(c change) bool { return !c.live }); got != want {
				t.Errorf("Live: got %v, want %v", got, want)
			}
		})
	}
}

func TestChangeString(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Change
		want string
	}{
		{"live", Change{Key: "peer_timeout", Old: `"2.5s"`, New: `"3s"`, Live: true}, `peer_timeout: "2.5s" -> "3s" (live)`},
		{"waits", Change{Key: "tls.cert", Old: `"a.pem"`, New: `"b.pem"`}, `tls.cert: "a.pem" -> "b.pem" (waits for a restart)`},
		{"added", Change{Key: "notify[1]", New: `"ntfy://x/y"`, Live: true}, `notify[1]: (none) -> "ntfy://x/y" (live)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestApplied(t *testing.T) {
	a, b := base(), base()
	set(b, "peer_timeout", "4s")
	set(b, "cloudflare.token", newToken)
	set(b, "key", newKey)
	set(b, "log", map[string]any{"level": "debug", "format": "json"})
	set(b, "status", map[string]any{"address": "127.0.0.1:9798", "token": newStatusToken})
	running := mustLoad(t, writeConfig(t, a), nil)
	next := mustLoad(t, writeConfig(t, b), nil)
	got := Applied(running, next)
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"a live timing", got.PeerTimeout.String(), "4s"},
		{"a live level", got.Log.Level, "debug"},
		{"the key waits", got.Key, testKey},
		{"a credential waits", got.Cloudflare.Token, testToken},
		{"the format waits", got.Log.Format, "text"},
		{"the status address waits", got.StatusAddr(), DefaultStatusAddress},
		{"and its token with it", got.Status.Token, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	if d := Diff(got, next); len(Pending(d)) != len(d) || len(d) == 0 {
		t.Errorf("from what was applied, every change left waits: %v", d)
	}
}
