package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOriginalLoads(t *testing.T) {
	c := mustLoad(t, "testdata/original.json", nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"role", c.Role, "server"},
		{"this_server", c.ThisServer, "srv1.example.com"},
		{"other_server", c.OtherServer, "srv2.example.com"},
		{"listen", c.ListenAddr(), "0.0.0.0:4096"},
		{"backlog", c.Server.Backlog, 2},
		{"client", c.Client, (*Client)(nil)},
		{"cloudflare.key", c.Cloudflare.Key, "abcdef"},
		{"cloudflare.mail", c.Cloudflare.Mail, "webmaster@example.com"},
		{"cloudflare.token", c.Cloudflare.Token, ""},
		{"cloudflare.zone", c.Cloudflare.Zone, "example.com"},
		{"cloudflare.record", c.Cloudflare.Record, "cluster.example.com"},
		{"cloudflare.preferred_value", c.Cloudflare.PreferredValue, "srv1.example.com"},
		{"this value", c.ThisValue(), "srv1.example.com"},
		{"cloudflare.api_url", c.Cloudflare.APIURL, DefaultCloudflareAPIURL},
		{"pushbullet.key", c.Pushbullet.Key, "abcdef"},
		{"pushbullet.target", c.Pushbullet.Target, PushbulletTarget{}},
		{"pushbullet.api_url", c.Pushbullet.APIURL, DefaultPushbulletAPIURL},
		{"keepalive_interval", c.KeepaliveInterval.D(), DefaultKeepaliveInterval.D()},
		{"peer_timeout", c.PeerTimeout.D(), DefaultPeerTimeout.D()},
		{"failback_delay", c.FailbackDelay.D(), 30 * time.Second},
		{"restart_grace", c.RestartGrace.D(), 30 * time.Second},
		{"status", c.StatusAddr(), "127.0.0.1:9797"},
		{"log", c.Log, Log{Level: "info", Format: "text"}},
		{"health", c.Health, Health{Interval: Duration(2 * time.Second), Timeout: Duration(time.Second), Fall: 3, Rise: 3}},
		{"peer_check.timeout", c.PeerCheck.Timeout.D(), 2 * time.Second},
		{"hooks.timeout", c.Hooks.Timeout.D(), 30 * time.Second},
		{"handover", c.Handover(), true},
		{"drift_check_interval", c.DriftCheckInterval.D(), 5 * time.Minute},
		{"dry_run", c.DryRun, false},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if !hasWarning(c, "key:", "WARNING", "9 bytes", "original format") {
		t.Errorf("got warnings %q, want a loud one about the 9-byte key", c.Warnings)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "fancy_key") {
			t.Errorf("warning %q shows the key", w)
		}
	}
}

func TestOriginalClientLoads(t *testing.T) {
	c := mustLoad(t, "testdata/original_client.json", nil)
	if got, want := c.Role, "client"; got != want {
		t.Errorf("role: got %q, want %q", got, want)
	}
	if got, want := c.DialAddr(), "srv2.example.com:4096"; got != want {
		t.Errorf("DialAddr: got %q, want %q", got, want)
	}
	if c.Server != nil {
		t.Errorf("server: got %+v, want nil", c.Server)
	}
}

// The 16-byte minimum is an error, except for a key from a file in the
// original format, which only warns.
func TestShortKey(t *testing.T) {
	original, err := os.ReadFile("testdata/original.json")
	if err != nil {
		t.Fatal(err)
	}
	withLog := strings.Replace(string(original), `"key": "fancy_key",`, `"key": "fancy_key", "log": {"level": "debug"},`, 1)
	tests := []struct {
		name     string
		file     string
		environ  []string
		wantErr  string // "" for success
		wantWarn string
	}{
		{name: "original file", file: string(original), wantWarn: "key: WARNING: only 9 bytes"},
		{name: "original file with a newer key", file: withLog, wantErr: "key: must be at least 16 bytes (got 9 bytes)"},
		{name: "short key from the environment", file: string(original), environ: []string{"CLOOSTER_KEY=fancy_key2"},
			wantErr: "CLOOSTER_KEY: must be at least 16 bytes (got 10 bytes)"},
		{name: "16 bytes warns", file: strings.Replace(string(original), "fancy_key", "0123456789abcdef", 1), wantWarn: "key: only 16 bytes; use at least 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "clooster.json", tt.file)
			c, err := Load(path, tt.environ)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "fancy_key") {
					t.Errorf("error %q shows the key", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if !hasWarning(c, tt.wantWarn) {
				t.Errorf("got warnings %q, want %q", c.Warnings, tt.wantWarn)
			}
		})
	}
	t.Run("environment only", func(t *testing.T) {
		env := envBase("CLOOSTER_KEY=short")
		_, err := Load("", env)
		if err == nil || !strings.Contains(err.Error(), "CLOOSTER_KEY: must be at least 16 bytes (got 5 bytes)") {
			t.Fatalf("got error %v", err)
		}
	})
	t.Run("32 bytes is quiet", func(t *testing.T) {
		c := mustLoad(t, writeConfig(t, base()), nil)
		if hasWarning(c, "key") {
			t.Errorf("got warnings %q, want none about the key", c.Warnings)
		}
	})
}

func TestRole(t *testing.T) {
	tests := []struct {
		name     string
		change   func(m map[string]any)
		environ  []string
		wantRole string
		wantErr  string
		wantWarn string
	}{
		{name: "no block is a server", change: func(m map[string]any) { delete(m, "server") }, wantRole: "server"},
		{name: "server block", wantRole: "server"},
		{name: "client block", change: func(m map[string]any) {
			delete(m, "server")
			set(m, "client.address", "b.example.com")
		}, wantRole: "client"},
		{name: "both blocks without role", change: func(m map[string]any) { set(m, "client.address", "b.example.com") },
			wantErr: "role: required when both a server and a client block are set"},
		{name: "both blocks with role", change: func(m map[string]any) {
			set(m, "client.address", "b.example.com")
			m["role"] = "client"
		}, wantRole: "client", wantWarn: "server: ignored, role is client"},
		{name: "client from the environment", environ: []string{"CLOOSTER_CLIENT_ADDRESS=b.example.com"},
			wantErr: "role: required when both"},
		{name: "role from the environment", environ: []string{"CLOOSTER_ROLE=client", "CLOOSTER_CLIENT_ADDRESS=b.example.com"},
			wantRole: "client"},
		{name: "role is case-blind", change: func(m map[string]any) { m["role"] = "Server" }, wantRole: "server"},
		{name: "client role without a block", change: func(m map[string]any) { m["role"] = "client" },
			wantErr: "client.address: required for a client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			if tt.change != nil {
				tt.change(m)
			}
			c, err := Load(writeConfig(t, m), tt.environ)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Role != tt.wantRole {
				t.Errorf("role: got %q, want %q", c.Role, tt.wantRole)
			}
			if tt.wantWarn != "" && !hasWarning(c, tt.wantWarn) {
				t.Errorf("got warnings %q, want %q", c.Warnings, tt.wantWarn)
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		name       string
		change     func(m map[string]any)
		wantListen string
		wantDial   string
		wantStatus string
	}{
		{name: "defaults", wantListen: "0.0.0.0:4096", wantStatus: "127.0.0.1:9797"},
		{name: "ipv6 listen", change: func(m map[string]any) { set(m, "server.address", "::1") }, wantListen: "[::1]:4096", wantStatus: "127.0.0.1:9797"},
		{name: "bracketed ipv6 listen", change: func(m map[string]any) {
			set(m, "server.address", "[::1]")
			set(m, "server.port", 4443)
		}, wantListen: "[::1]:4443", wantStatus: "127.0.0.1:9797"},
		{name: "client dial", change: func(m map[string]any) {
			delete(m, "server")
			set(m, "client.address", "fe80::1")
			set(m, "client.port", 5000)
		}, wantListen: "0.0.0.0:4096", wantDial: "[fe80::1]:5000", wantStatus: "127.0.0.1:9797"},
		{name: "status disabled", change: func(m map[string]any) { set(m, "status.address", "") }, wantListen: "0.0.0.0:4096", wantStatus: ""},
		{name: "status set", change: func(m map[string]any) { set(m, "status.address", ":9000") }, wantListen: "0.0.0.0:4096", wantStatus: ":9000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			if tt.change != nil {
				tt.change(m)
			}
			c := mustLoad(t, writeConfig(t, m), nil)
			if got := c.ListenAddr(); got != tt.wantListen {
				t.Errorf("ListenAddr: got %q, want %q", got, tt.wantListen)
			}
			if got := c.DialAddr(); got != tt.wantDial {
				t.Errorf("DialAddr: got %q, want %q", got, tt.wantDial)
			}
			if got := c.StatusAddr(); got != tt.wantStatus {
				t.Errorf("StatusAddr: got %q, want %q", got, tt.wantStatus)
			}
		})
	}
}

func TestRedactedAndSecrets(t *testing.T) {
	m := base()
	set(m, "cloudflare.token", del)
	set(m, "cloudflare.key", "legacy-KEY-SECRET")
	set(m, "cloudflare.mail", "ops@example.com")
	c := mustLoad(t, writeConfig(t, m), nil)

	if got, want := c.Secrets(), []string{testKey, "legacy-KEY-SECRET", testPushbullet}; !slices.Equal(got, want) {
		t.Errorf("Secrets: got %q, want %q", got, want)
	}
	r := c.Redacted()
	checks := []struct {
		name      string
		got, want string
	}{
		{"key", r.Key, "REDACTED"},
		{"cloudflare.token (empty stays empty)", r.Cloudflare.Token, ""},
		{"cloudflare.key", r.Cloudflare.Key, "REDACTED"},
		{"pushbullet.key", r.Pushbullet.Key, "REDACTED"},
		{"cloudflare.mail", r.Cloudflare.Mail, "ops@example.com"},
		{"this_server", r.ThisServer, "a.example.com"},
		{"original key", c.Key, testKey},
		{"original pushbullet.key", c.Pushbullet.Key, testPushbullet},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	// A deep copy: changing the copy leaves the original alone.
	r.Server.Port = 1
	*r.Status.Address = "changed"
	*r.HandoverOnStop = false
	if c.Server.Port != 4096 || c.StatusAddr() != DefaultStatusAddress || !c.Handover() {
		t.Errorf("changing the redacted copy changed the original: %+v", c)
	}

	c = mustLoad(t, writeConfig(t, withRFC2136(aRecord())), nil)
	if got, want := c.Secrets(), []string{testKey, testPushbullet, testTSIG}; !slices.Equal(got, want) {
		t.Errorf("Secrets: got %q, want %q", got, want)
	}
	r = c.Redacted()
	if r.RFC2136.TSIGSecret != "REDACTED" || c.RFC2136.TSIGSecret != testTSIG || r.RFC2136.TSIGName != "clooster" {
		t.Errorf("rfc2136: redacted %+v, original %+v", r.RFC2136, c.RFC2136)
	}

	c.Cloudflare.Token, c.Cloudflare.Key = "tok", ""
	c.Pushbullet, c.RFC2136 = nil, nil
	if got, want := c.Secrets(), []string{testKey, "tok"}; !slices.Equal(got, want) {
		t.Errorf("Secrets: got %q, want %q", got, want)
	}
}

func TestZeroConfigMethods(t *testing.T) {
	var c Config
	checks := []struct {
		name      string
		got, want any
	}{
		{"ListenAddr", c.ListenAddr(), "0.0.0.0:4096"},
		{"DialAddr", c.DialAddr(), ""},
		{"StatusAddr", c.StatusAddr(), DefaultStatusAddress},
		{"Handover", c.Handover(), true},
		{"Secrets", len(c.Secrets()), 0},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestSecretsFileMode(t *testing.T) {
	tests := []struct {
		name     string
		mode     os.FileMode
		secrets  bool
		wantWarn bool
	}{
		{"private", 0o600, true, false},
		{"readable by others", 0o644, true, true},
		{"readable by the group", 0o640, true, true},
		{"no secrets in the file", 0o644, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			var env []string
			if !tt.secrets {
				delete(m, "key")
				delete(m, "pushbullet")
				set(m, "cloudflare.token", del)
				env = []string{"CLOOSTER_KEY=" + testKey, "CLOOSTER_CLOUDFLARE_TOKEN=" + testToken}
			}
			path := writeConfig(t, m)
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			c := mustLoad(t, path, env)
			if got := hasWarning(c, "is readable by others and holds secrets; chmod 600"); got != tt.wantWarn {
				t.Errorf("got warnings %q, want the mode warning: %v", c.Warnings, tt.wantWarn)
			}
		})
	}
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	_, _, fp := testCert(t, dir, "server")
	testCert(t, dir, "ca")
	colons := strings.ToUpper(fp[:2])
	for i := 2; i < len(fp); i += 2 {
		colons += ":" + strings.ToUpper(fp[i:i+2])
	}
	m := base()
	set(m, "tls.cert", "server.crt") // relative to the file
	set(m, "tls.key", "server.key")
	b := mustMarshal(t, m)
	path := writeFile(t, dir, "clooster.json", b)
	c := mustLoad(t, path, nil)
	if got, want := c.TLS.Cert, filepath.Join(dir, "server.crt"); got != want {
		t.Errorf("tls.cert: got %q, want %q", got, want)
	}

	m = base()
	delete(m, "server")
	set(m, "client.address", "b.example.com")
	set(m, "tls.ca", filepath.Join(dir, "ca.crt"))
	set(m, "tls.fingerprint", colons)
	c = mustLoad(t, writeConfig(t, m), nil)
	if got := c.TLS.Fingerprint; got != fp {
		t.Errorf("tls.fingerprint: got %q, want %q", got, fp)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: `"500ms"`, want: 500 * time.Millisecond},
		{in: `"1m30s"`, want: 90 * time.Second},
		{in: `5`, want: 5 * time.Second},
		{in: `0.5`, want: 500 * time.Millisecond},
		{in: `"5"`, want: 5 * time.Second},
		{in: `1e-3`, want: time.Millisecond},
		{in: `0`, want: 0},
		{in: `"-2s"`, want: -2 * time.Second},
		{in: `"soon"`, wantErr: true},
		{in: `"NaN"`, wantErr: true},
		{in: `"Inf"`, wantErr: true},
		{in: `"0x10"`, wantErr: true},
		{in: `1e300`, wantErr: true},
		{in: `true`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalJSON([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %v, want an error", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.D() != tt.want {
				t.Errorf("got %v, want %v", d.D(), tt.want)
			}
		})
	}
	b, err := Duration(5 * time.Second).MarshalJSON()
	if err != nil || string(b) != `"5s"` {
		t.Errorf("MarshalJSON: got %s, %v, want \"5s\"", b, err)
	}
}

// server.peer_address: other_server at the server's port unless set; a
// host alone takes the port; "" (in the file or the environment) turns the
// look off; a value that is no host:port is an error naming the key.
func TestPeerAddress(t *testing.T) {
	for _, tt := range []struct {
		name    string
		change  func(m map[string]any)
		environ []string
		want    string
	}{
		{name: "default", want: "b.example.com:4096"},
		{name: "default at the server's port", change: func(m map[string]any) { set(m, "server.port", 5000) }, want: "b.example.com:5000"},
		{name: "set", change: func(m map[string]any) { set(m, "server.peer_address", "192.0.2.2:4443") }, want: "192.0.2.2:4443"},
		{name: "host only", change: func(m map[string]any) { set(m, "server.peer_address", "2001:db8::2") }, want: "[2001:db8::2]:4096"},
		{name: "off in the file", change: func(m map[string]any) { set(m, "server.peer_address", "") }, want: ""},
		{name: "off by the environment", environ: []string{"CLOOSTER_SERVER_PEER_ADDRESS="}, want: ""},
		{name: "by the environment", environ: []string{"CLOOSTER_SERVER_PEER_ADDRESS=peer.example.net:9"}, want: "peer.example.net:9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			if tt.change != nil {
				tt.change(m)
			}
			c := mustLoad(t, writeConfig(t, m), tt.environ)
			if c.Server.PeerAddress != tt.want {
				t.Errorf("server.peer_address %q, want %q", c.Server.PeerAddress, tt.want)
			}
		})
	}
	m := base()
	set(m, "server.peer_address", "b.example.com:0")
	_, err := Load(writeConfig(t, m), nil)
	if ps := problems(t, err); len(ps) != 1 || ps[0].Key != "server.peer_address" || !strings.Contains(ps[0].String(), `"b.example.com:0"`) {
		t.Errorf("problems %q", ps)
	}
}
