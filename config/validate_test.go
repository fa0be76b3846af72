package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Each case breaks one rule of a valid configuration and names the one
// problem expected, which must name the key and show the bad value.
func TestValidation(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := testCert(t, dir, "server")
	_, otherKey, _ := testCert(t, dir, "other")
	notPEM := writeFile(t, dir, "notpem", "hello")
	missing := filepath.Join(dir, "missing.pem")
	client := func(m map[string]any) {
		delete(m, "server")
		set(m, "client.address", "b.example.com")
	}

	tests := []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"this_server required", func(m map[string]any) { delete(m, "this_server") }, "this_server: required"},
		{"other_server required", func(m map[string]any) { delete(m, "other_server") }, "other_server: required"},
		{"servers differ", func(m map[string]any) { m["other_server"] = "A.example.com" }, `other_server: must differ from this_server (got "A.example.com")`},
		{"key required", func(m map[string]any) { delete(m, "key") }, "key: required"},
		{"key length", func(m map[string]any) { m["key"] = "short-secret" }, "key: must be at least 16 bytes (got 12 bytes)"},
		{"role", func(m map[string]any) { m["role"] = "master" }, `role: must be server or client (got "master")`},
		{"server.port zero", func(m map[string]any) { set(m, "server.port", 0) }, "server.port: must be from 1 to 65535 (got 0)"},
		{"server.port high", func(m map[string]any) { set(m, "server.port", 65536) }, "server.port: must be from 1 to 65535 (got 65536)"},
		{"server.address with port", func(m map[string]any) { set(m, "server.address", "0.0.0.0:4096") },
			`server.address: want a host name or IP address, without a port (got "0.0.0.0:4096")`},
		{"client.address required", func(m map[string]any) { client(m); set(m, "client.address", "") }, "client.address: required for a client"},
		{"client.address with port", func(m map[string]any) { client(m); set(m, "client.address", "b.example.com:4096") },
			`client.address: want a host name or IP address, without a port (got "b.example.com:4096")`},
		{"client.port", func(m map[string]any) { client(m); set(m, "client.port", -1) }, "client.port: must be from 1 to 65535 (got -1)"},
		{"keepalive_interval", func(m map[string]any) { m["keepalive_interval"] = 0 }, "keepalive_interval: must be > 0 (got 0s)"},
		{"peer_timeout", func(m map[string]any) { m["peer_timeout"] = "200ms" }, "peer_timeout: must be > keepalive_interval (got 200ms)"},
		{"peer_timeout against a set keepalive", func(m map[string]any) { m["keepalive_interval"] = "5s" }, "peer_timeout: must be > keepalive_interval (got 2.5s)"},
		{"failback_delay", func(m map[string]any) { m["failback_delay"] = "-1s" }, "failback_delay: must be >= 0 (got -1s)"},
		{"restart_grace negative", func(m map[string]any) { m["restart_grace"] = "-1s" }, "restart_grace: must be between 0 (a restart is a stop) and 10m0s (got -1s)"},
		{"restart_grace too long", func(m map[string]any) { m["restart_grace"] = "11m" }, "restart_grace: must be between 0 (a restart is a stop) and 10m0s (got 11m0s)"},
		{"status.address host:port", func(m map[string]any) { set(m, "status.address", "localhost") }, `status.address: want host:port (got "localhost")`},
		{"status.address port", func(m map[string]any) { set(m, "status.address", "localhost:99999") }, `status.address: want a port from 1 to 65535 (got "localhost:99999")`},
		{"cloudflare token and key", func(m map[string]any) { set(m, "cloudflare.key", "k"); set(m, "cloudflare.mail", "m@example.com") },
			"cloudflare.token: set either cloudflare.token or cloudflare.key and cloudflare.mail, not both"},
		{"cloudflare credentials required", func(m map[string]any) { set(m, "cloudflare.token", del) }, "cloudflare.token: required (or cloudflare.key and cloudflare.mail)"},
		{"cloudflare key without mail", func(m map[string]any) { set(m, "cloudflare.token", del); set(m, "cloudflare.key", "k") },
			"cloudflare.mail: required with cloudflare.key"},
		{"cloudflare mail without key", func(m map[string]any) { set(m, "cloudflare.token", del); set(m, "cloudflare.mail", "m@example.com") },
			"cloudflare.key: required with cloudflare.mail (or use cloudflare.token)"},
		{"cloudflare zone", func(m map[string]any) { set(m, "cloudflare.zone", del) }, "cloudflare.zone: required unless cloudflare.zone_id is set"},
		{"cloudflare record", func(m map[string]any) { set(m, "cloudflare.record", del) }, "cloudflare.record: required"},
		{"cloudflare type", func(m map[string]any) { set(m, "cloudflare.type", "MX") }, `cloudflare.type: must be A, AAAA or CNAME (got "MX")`},
		{"cloudflare preferred_value", func(m map[string]any) { set(m, "cloudflare.preferred_value", del) }, "cloudflare.preferred_value: required"},
		{"cloudflare api_url scheme", func(m map[string]any) { set(m, "cloudflare.api_url", "ftp://api.example.com") },
			`cloudflare.api_url: want an absolute http or https URL (got "ftp://api.example.com")`},
		{"cloudflare api_url relative", func(m map[string]any) { set(m, "cloudflare.api_url", "api.example.com/v4") },
			`cloudflare.api_url: want an absolute http or https URL (got "api.example.com/v4")`},
		{"cloudflare type A value", func(m map[string]any) {
			set(m, "cloudflare.type", "A")
			set(m, "cloudflare.this_value", "192.0.2.1")
		}, `cloudflare.preferred_value: want an IPv4 address for type A (got "a.example.com")`},
		{"cloudflare type A other_value", func(m map[string]any) {
			set(m, "cloudflare.type", "A")
			set(m, "cloudflare.this_value", "192.0.2.1")
			set(m, "cloudflare.preferred_value", "192.0.2.1")
			set(m, "cloudflare.other_value", "b.example.com")
		}, `cloudflare.other_value: want an IPv4 address for type A (got "b.example.com")`},
		{"cloudflare other_value is this node's", func(m map[string]any) { set(m, "cloudflare.other_value", "a.example.com") },
			`cloudflare.other_value: must differ from this node's value (cloudflare.this_value) (got "a.example.com")`},
		{"cloudflare type AAAA this_value", func(m map[string]any) {
			set(m, "cloudflare.type", "aaaa")
			set(m, "cloudflare.preferred_value", "2001:db8::1")
		}, `cloudflare.this_value: want an IPv6 address for type AAAA; it defaults to this_server (got "a.example.com")`},
		{"pushbullet key", func(m map[string]any) { set(m, "pushbullet.key", del) }, "pushbullet.key: required"},
		{"pushbullet target", func(m map[string]any) {
			set(m, "pushbullet.target.device_iden", "d")
			set(m, "pushbullet.target.email", "e@example.com")
		}, "pushbullet.target: set at most one of device_iden, email, channel_tag, client_iden (got device_iden and email)"},
		{"pushbullet api_url", func(m map[string]any) { set(m, "pushbullet.api_url", "pushbullet") },
			`pushbullet.api_url: want an absolute http or https URL (got "pushbullet")`},
		{"log.level", func(m map[string]any) { set(m, "log.level", "verbose") }, `log.level: must be debug, info, warn or error (got "verbose")`},
		{"log.format", func(m map[string]any) { set(m, "log.format", "xml") }, `log.format: must be text or json (got "xml")`},
		{"health one check", func(m map[string]any) { set(m, "health.url", "http://127.0.0.1/"); set(m, "health.command", "true") },
			"health: set at most one of url, tcp, command (got url and command)"},
		{"health.url", func(m map[string]any) { set(m, "health.url", "localhost/health") }, `health.url: want an absolute http or https URL (got "localhost/health")`},
		{"health.url hides a password", func(m map[string]any) { set(m, "health.url", "ftp://u:pw-SECRET@127.0.0.1/") },
			`health.url: want an absolute http or https URL (got "ftp://u:xxxxx@127.0.0.1/")`},
		{"health.tcp", func(m map[string]any) { set(m, "health.tcp", "localhost") }, `health.tcp: want host:port (got "localhost")`},
		{"health.tcp port", func(m map[string]any) { set(m, "health.tcp", "localhost:0") }, `health.tcp: want a port from 1 to 65535 (got "localhost:0")`},
		{"health.interval", func(m map[string]any) { set(m, "health.interval", 0); set(m, "health.timeout", "1s") }, "health.interval: must be > 0 (got 0s)"},
		{"health.timeout", func(m map[string]any) { set(m, "health.timeout", 0) }, "health.timeout: must be > 0 (got 0s)"},
		{"health.timeout above interval", func(m map[string]any) { set(m, "health.timeout", "3s") }, "health.timeout: must be <= health.interval (got 3s)"},
		{"health.fall", func(m map[string]any) { set(m, "health.fall", 0) }, "health.fall: must be >= 1 (got 0)"},
		{"health.rise", func(m map[string]any) { set(m, "health.rise", -2) }, "health.rise: must be >= 1 (got -2)"},
		{"peer_check one check", func(m map[string]any) {
			set(m, "peer_check.url", "https://b.example.com/")
			set(m, "peer_check.tcp", "b.example.com:443")
		},
			"peer_check: set at most one of url, tcp (got url and tcp)"},
		{"peer_check.url", func(m map[string]any) { set(m, "peer_check.url", "b.example.com") }, `peer_check.url: want an absolute http or https URL (got "b.example.com")`},
		{"peer_check.tcp", func(m map[string]any) { set(m, "peer_check.tcp", ":443") }, `peer_check.tcp: want host:port (got ":443")`},
		{"peer_check.timeout", func(m map[string]any) { set(m, "peer_check.timeout", "-1s") }, "peer_check.timeout: must be > 0 (got -1s)"},
		{"hooks.timeout", func(m map[string]any) { set(m, "hooks.timeout", 0) }, "hooks.timeout: must be > 0 (got 0s)"},
		{"drift_check_interval", func(m map[string]any) { m["drift_check_interval"] = "-5m" }, "drift_check_interval: must be >= 0 (0 disables) (got -5m0s)"},
		{"tls.cert without key", func(m map[string]any) { set(m, "tls.cert", cert) }, "tls.key: required with tls.cert"},
		{"tls.key without cert", func(m map[string]any) { set(m, "tls.key", key) }, "tls.cert: required with tls.key"},
		{"tls.cert unreadable", func(m map[string]any) { set(m, "tls.cert", missing); set(m, "tls.key", key) },
			`tls.cert: cannot read: no such file or directory (got "` + missing + `")`},
		{"tls.cert a directory", func(m map[string]any) { set(m, "tls.cert", dir); set(m, "tls.key", key) },
			`tls.cert: cannot read: not a regular file (got "` + dir + `")`},
		{"tls pair mismatch", func(m map[string]any) { set(m, "tls.cert", cert); set(m, "tls.key", otherKey) },
			`tls.cert: not a usable certificate and key pair: tls: private key does not match public key (got "` + cert + `")`},
		{"tls.ca unreadable", func(m map[string]any) { client(m); set(m, "tls.ca", missing) }, `tls.ca: cannot read: no such file or directory (got "` + missing + `")`},
		{"tls.ca not PEM", func(m map[string]any) { client(m); set(m, "tls.ca", notPEM) }, `tls.ca: no PEM certificate in the file (got "` + notPEM + `")`},
		{"tls.fingerprint", func(m map[string]any) { client(m); set(m, "tls.fingerprint", "ab:cd") }, `tls.fingerprint: want a SHA-256 as 64 hex digits (colons allowed) (got "ab:cd")`},
		{"tls.fingerprint not hex", func(m map[string]any) { client(m); set(m, "tls.fingerprint", strings.Repeat("g", 64)) },
			`tls.fingerprint: want a SHA-256 as 64 hex digits (colons allowed) (got "` + strings.Repeat("g", 64) + `")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.change(m)
			_, err := Load(writeConfig(t, m), nil)
			var got []string
			for _, p := range problems(t, err) {
				got = append(got, p.String())
			}
			if want := []string{tt.want}; !reflect.DeepEqual(got, want) {
				t.Errorf("got %q\nwant %q", got, want)
			}
			for _, secret := range []string{testKey, testToken, testPushbullet, "short-secret", "pw-SECRET"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a secret", err)
				}
			}
		})
	}
}

func TestValidationCollectsAll(t *testing.T) {
	m := base()
	m["peer_timeout"] = "100ms"
	set(m, "server.port", 0)
	set(m, "log.format", "xml")
	delete(m, "other_server")
	_, err := Load(writeConfig(t, m), nil)
	want := "other_server: required\n" +
		"server.port: must be from 1 to 65535 (got 0)\n" +
		"peer_timeout: must be > keepalive_interval (got 100ms)\n" +
		`log.format: must be text or json (got "xml")`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"mail with token", func(m map[string]any) { set(m, "cloudflare.mail", "m@example.com") }, "cloudflare.mail: ignored with cloudflare.token"},
		{"record outside the zone", func(m map[string]any) { set(m, "cloudflare.record", "www.example.org") },
			`cloudflare.record: "www.example.org" is not inside cloudflare.zone "example.com"`},
		{"tight peer_timeout", func(m map[string]any) { m["peer_timeout"] = "900ms" }, "peer_timeout: 900ms is less than two keepalive intervals"},
		{"client block on a server", func(m map[string]any) { m["role"] = "server"; set(m, "client.address", "b.example.com") }, "client: ignored, role is server"},
		{"pins on a server", func(m map[string]any) { set(m, "tls.fingerprint", strings.Repeat("a", 64)) }, "tls: ca and fingerprint are ignored by a server"},
		{"A record without the peer's address", func(m map[string]any) {
			set(m, "cloudflare.type", "A")
			set(m, "cloudflare.this_value", "192.0.2.1")
			set(m, "cloudflare.preferred_value", "192.0.2.1")
		}, "cloudflare.other_value: not set: this node does not know the address the peer writes until the link is up, and leaves any address but its own alone; set it to the peer's this_value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.change(m)
			c := mustLoad(t, writeConfig(t, m), nil)
			if !hasWarning(c, tt.want) {
				t.Errorf("got warnings %q, want %q", c.Warnings, tt.want)
			}
		})
	}
}

func TestOtherValue(t *testing.T) {
	tests := []struct {
		name      string
		change    func(m map[string]any)
		want      string
		wantKnown bool
	}{
		{"names: the peer writes its own name", func(m map[string]any) {}, "b.example.com", true},
		{"addresses, the peer's configured", func(m map[string]any) {
			set(m, "cloudflare.type", "A")
			set(m, "cloudflare.this_value", "192.0.2.1")
			set(m, "cloudflare.preferred_value", "192.0.2.1")
			set(m, "cloudflare.other_value", "192.0.2.2")
		}, "192.0.2.2", true},
		{"addresses, the peer's not configured: not known", func(m map[string]any) {
			set(m, "cloudflare.type", "A")
			set(m, "cloudflare.this_value", "192.0.2.1")
			set(m, "cloudflare.preferred_value", "192.0.2.1")
		}, "b.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.change(m)
			c := mustLoad(t, writeConfig(t, m), nil)
			if got, known := c.OtherValue(); got != tt.want || known != tt.wantKnown {
				t.Errorf("got %q (known %v), want %q (known %v)", got, known, tt.want, tt.wantKnown)
			}
		})
	}
	c := mustLoad(t, writeConfig(t, base()), []string{"CLOOSTER_CLOUDFLARE_OTHER_VALUE=peer.example.com"})
	if got, _ := c.OtherValue(); got != "peer.example.com" {
		t.Errorf("from the environment: got %q", got)
	}
}
