package config

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvOverridesFile(t *testing.T) {
	m := base()
	set(m, "peer_timeout", "5s")
	set(m, "cloudflare.zone", "example.com")
	set(m, "status.address", "127.0.0.1:1")
	path := writeConfig(t, m)
	c := mustLoad(t, path, []string{
		"CLOOSTER_PEER_TIMEOUT=7",
		"CLOOSTER_KEEPALIVE_INTERVAL=0.5",
		"CLOOSTER_SERVER_PORT=5000",
		"CLOOSTER_SERVER_ADDRESS=::",
		"CLOOSTER_CLOUDFLARE_ZONE_ID=zone123",
		"CLOOSTER_CLOUDFLARE_PREFERRED_VALUE=b.example.com",
		"CLOOSTER_DRY_RUN=true",
		"CLOOSTER_HANDOVER_ON_STOP=false",
		"CLOOSTER_DRIFT_CHECK_INTERVAL=0",
		"CLOOSTER_RESTART_GRACE=2m",
		"CLOOSTER_LOG_FORMAT=json",
		"CLOOSTER_HEALTH_URL=http://127.0.0.1:8080/health",
		"CLOOSTER_HEALTH_FALL=5",
		"CLOOSTER_PEER_CHECK_TCP=b.example.com:443",
		"CLOOSTER_HOOKS_ON_ACTIVE=systemctl start web",
		"CLOOSTER_STATUS_ADDRESS=:9000",
		"CLOOSTER_PUSHBULLET_TARGET_DEVICE_IDEN=dev1",
	})
	checks := []struct {
		name      string
		got, want any
	}{
		{"peer_timeout", c.PeerTimeout.D(), 7 * time.Second},
		{"keepalive_interval", c.KeepaliveInterval.D(), 500 * time.Millisecond},
		{"listen", c.ListenAddr(), "[::]:5000"},
		{"zone (file)", c.Cloudflare.Zone, "example.com"},
		{"zone_id", c.Cloudflare.ZoneID, "zone123"},
		{"preferred_value", c.Cloudflare.PreferredValue, "b.example.com"},
		{"dry_run", c.DryRun, true},
		{"handover", c.Handover(), false},
		{"drift (0 disables)", c.DriftCheckInterval.D(), time.Duration(0)},
		{"restart_grace", c.RestartGrace.D(), 2 * time.Minute},
		{"log", c.Log, Log{Level: "info", Format: "json"}},
		{"health.url", c.Health.URL, "http://127.0.0.1:8080/health"},
		{"health.fall", c.Health.Fall, 5},
		{"peer_check.tcp", c.PeerCheck.TCP, "b.example.com:443"},
		{"hooks.on_active", c.Hooks.OnActive, "systemctl start web"},
		{"status", c.StatusAddr(), ":9000"},
		{"target", c.Pushbullet.Target, PushbulletTarget{DeviceIden: "dev1"}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestEnvOnly(t *testing.T) {
	c := mustLoad(t, "", envBase("CLOOSTER_CLIENT_ADDRESS=b.example.com"))
	checks := []struct {
		name      string
		got, want any
	}{
		{"role", c.Role, "client"},
		{"dial", c.DialAddr(), "b.example.com:4096"},
		{"key", c.Key, testKey},
		{"token", c.Cloudflare.Token, testToken},
		{"record", c.Cloudflare.Record, "www.example.com"},
		{"pushbullet", c.Pushbullet, (*Pushbullet)(nil)},
		{"peer_timeout", c.PeerTimeout.D(), DefaultPeerTimeout.D()},
		{"warnings", len(c.Warnings), 0},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if _, err := Load("", nil); err == nil {
		t.Error("Load with neither file nor variables: got no error")
	}
}

// Only the environ given counts, and only CLOOSTER_ variables in it: the
// Cloudflare library's own variables change nothing.
func TestEnvIgnoresOthers(t *testing.T) {
	t.Setenv("CLOOSTER_PEER_TIMEOUT", "9s") // the process environment is not read
	env := envBase(
		"CLOUDFLARE_API_TOKEN=other-token",
		"CLOUDFLARE_API_KEY=other-key",
		"CLOUDFLARE_API_EMAIL=other@example.com",
		"CLOUDFLARE_EMAIL=other@example.com",
		"CLOUDFLARE_ZONE_ID=other-zone",
		"PEER_TIMEOUT=1s",
		"CLOOSTER_EVENT=active", // set for hooks
		"CLOOSTER_NODE=a.example.com",
	)
	c := mustLoad(t, "", env)
	if c.Cloudflare.Token != testToken || c.Cloudflare.Key != "" || c.Cloudflare.Mail != "" || c.Cloudflare.ZoneID != "" {
		t.Errorf("cloudflare: got %+v, want only the CLOOSTER_ values", c.Redacted().Cloudflare)
	}
	if got := c.PeerTimeout.D(); got != DefaultPeerTimeout.D() {
		t.Errorf("peer_timeout: got %v, want the default %v", got, DefaultPeerTimeout)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("got warnings %q, want none", c.Warnings)
	}
}

func TestEnvEmptyValues(t *testing.T) {
	m := base()
	set(m, "peer_timeout", "4s")
	set(m, "status.address", "127.0.0.1:1")
	c := mustLoad(t, writeConfig(t, m), []string{"CLOOSTER_STATUS_ADDRESS=", "CLOOSTER_PEER_TIMEOUT=", "CLOOSTER_THIS_SERVER="})
	if got := c.StatusAddr(); got != "" {
		t.Errorf("status: got %q, want disabled", got)
	}
	if got := c.PeerTimeout.D(); got != 4*time.Second {
		t.Errorf("peer_timeout: got %v, want the file's 4s (empty is unset)", got)
	}
	if got := c.ThisServer; got != "a.example.com" {
		t.Errorf("this_server: got %q, want the file's", got)
	}
}

func TestEnvUnknown(t *testing.T) {
	c := mustLoad(t, "", envBase("CLOOSTER_PEER_TIMOUT=3s", "CLOOSTER_CLOUDFLARE_ZONEID=x"))
	want := []string{
		"CLOOSTER_CLOUDFLARE_ZONEID: unknown variable, ignored",
		"CLOOSTER_PEER_TIMOUT: unknown variable, ignored",
	}
	if !reflect.DeepEqual(c.Warnings, want) {
		t.Errorf("got warnings %q, want %q", c.Warnings, want)
	}
}

func TestEnvProblems(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty", "\n")
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"number", []string{"CLOOSTER_SERVER_PORT=abc"}, []string{`CLOOSTER_SERVER_PORT: want a number (got "abc")`}},
		{"bool", []string{"CLOOSTER_DRY_RUN=maybe"}, []string{`CLOOSTER_DRY_RUN: want true or false (got "maybe")`}},
		{"duration", []string{"CLOOSTER_PEER_TIMEOUT=soon"}, []string{`CLOOSTER_PEER_TIMEOUT: want a duration like "5s" or a number of seconds (got "soon")`}},
		{"all of them", []string{"CLOOSTER_HEALTH_RISE=x", "CLOOSTER_HOOKS_TIMEOUT=y"}, []string{
			`CLOOSTER_HEALTH_RISE: want a number (got "x")`,
			`CLOOSTER_HOOKS_TIMEOUT: want a duration like "5s" or a number of seconds (got "y")`,
		}},
		{"validation names the variable", []string{"CLOOSTER_PEER_TIMEOUT=200ms"}, []string{"CLOOSTER_PEER_TIMEOUT: must be > keepalive_interval (got 200ms)"}},
		{"port range", []string{"CLOOSTER_SERVER_PORT=70000"}, []string{"CLOOSTER_SERVER_PORT: must be from 1 to 65535 (got 70000)"}},
		{"secret and its file", []string{"CLOOSTER_KEY_FILE=" + empty}, []string{"CLOOSTER_KEY_FILE: set only one of CLOOSTER_KEY and CLOOSTER_KEY_FILE"}},
		{"missing secret file", []string{"CLOOSTER_CLOUDFLARE_TOKEN=", "CLOOSTER_CLOUDFLARE_TOKEN_FILE=" + filepath.Join(dir, "nope")},
			[]string{`CLOOSTER_CLOUDFLARE_TOKEN_FILE: cannot read: no such file or directory (got "` + filepath.Join(dir, "nope") + `")`}},
		{"empty secret file", []string{"CLOOSTER_PUSHBULLET_KEY_FILE=" + empty}, []string{`CLOOSTER_PUSHBULLET_KEY_FILE: file is empty (got "` + empty + `")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", envBase(tt.env...))
			var got []string
			for _, p := range problems(t, err) {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvSecretFiles(t *testing.T) {
	dir := t.TempDir()
	key := writeFile(t, dir, "key", testKey+"\n")
	token := writeFile(t, dir, "token", testToken+"\r\n")
	cfKey := writeFile(t, dir, "cfkey", "legacy-key")
	pb := writeFile(t, dir, "pb", testPushbullet+"\n\n")

	c := mustLoad(t, "", envBase("CLOOSTER_KEY=", "CLOOSTER_KEY_FILE="+key, "CLOOSTER_CLOUDFLARE_TOKEN=", "CLOOSTER_CLOUDFLARE_TOKEN_FILE="+token,
		"CLOOSTER_PUSHBULLET_KEY_FILE="+pb))
	if got := c.Secrets(); !slices.Equal(got, []string{testKey, testToken, testPushbullet}) {
		t.Errorf("secrets: got %q", got)
	}
	if c.Pushbullet == nil || c.Pushbullet.APIURL != DefaultPushbulletAPIURL {
		t.Errorf("pushbullet: got %+v, want a block made by the variable", c.Pushbullet)
	}

	// The legacy key from a file replaces the file's token.
	m := base()
	path := writeConfig(t, m)
	c = mustLoad(t, path, []string{"CLOOSTER_CLOUDFLARE_KEY_FILE=" + cfKey, "CLOOSTER_CLOUDFLARE_MAIL=ops@example.com"})
	if c.Cloudflare.Key != "legacy-key" || c.Cloudflare.Token != "" {
		t.Errorf("cloudflare: got key %q token %q", c.Cloudflare.Key, c.Cloudflare.Token)
	}
}

func TestEnvAlternatives(t *testing.T) {
	tests := []struct {
		name  string
		file  map[string]any
		env   []string
		check func(c *Config) bool
	}{
		{"token replaces key and mail", map[string]any{"cloudflare.token": del, "cloudflare.key": "k", "cloudflare.mail": "m@example.com"},
			[]string{"CLOOSTER_CLOUDFLARE_TOKEN=t"},
			func(c *Config) bool { return c.Cloudflare == Cloudflare{Token: "t"}.with(c.Cloudflare) }},
		{"key replaces token", nil, []string{"CLOOSTER_CLOUDFLARE_KEY=k", "CLOOSTER_CLOUDFLARE_MAIL=m@example.com"},
			func(c *Config) bool {
				return c.Cloudflare == Cloudflare{Key: "k", Mail: "m@example.com"}.with(c.Cloudflare)
			}},
		{"target replaces target", map[string]any{"pushbullet.target.device_iden": "dev"}, []string{"CLOOSTER_PUSHBULLET_TARGET_EMAIL=me@example.com"},
			func(c *Config) bool { return c.Pushbullet.Target == PushbulletTarget{Email: "me@example.com"} }},
		{"health check replaces health check", map[string]any{"health.url": "http://127.0.0.1/"}, []string{"CLOOSTER_HEALTH_COMMAND=true"},
			func(c *Config) bool { return c.Health.URL == "" && c.Health.Command == "true" }},
		{"peer check replaces peer check", map[string]any{"peer_check.tcp": "b.example.com:80"}, []string{"CLOOSTER_PEER_CHECK_URL=https://b.example.com/"},
			func(c *Config) bool { return c.PeerCheck.TCP == "" && c.PeerCheck.URL == "https://b.example.com/" }},
		{"variables block", map[string]any{"pushbullet": del}, []string{"CLOOSTER_PUSHBULLET_KEY=pb"},
			func(c *Config) bool { return c.Pushbullet != nil && c.Pushbullet.Key == "pb" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			for p, v := range tt.file {
				set(m, p, v)
			}
			c := mustLoad(t, writeConfig(t, m), tt.env)
			if !tt.check(c) {
				t.Errorf("got %+v", c.Redacted())
			}
		})
	}
}

// with copies the fields that the alternatives leave alone from o.
func (cf Cloudflare) with(o Cloudflare) Cloudflare {
	cf.Zone, cf.ZoneID, cf.Record, cf.Type = o.Zone, o.ZoneID, o.Record, o.Type
	cf.PreferredValue, cf.ThisValue, cf.APIURL = o.PreferredValue, o.ThisValue, o.APIURL
	return cf
}

// Every key has its variable, named after its path, and there are no others
// but the _FILE ones and the notify list's.
func TestEnvNames(t *testing.T) {
	want := []string{"CLOOSTER_NOTIFY_URLS", "CLOOSTER_NOTIFY_URLS_FILE"}
	for _, p := range leafPaths(configType, "") {
		want = append(want, EnvName(p))
	}
	for _, s := range secretFiles {
		want = append(want, s.fileVar)
	}
	slices.Sort(want)
	if got := EnvVars(); !slices.Equal(got, want) {
		t.Errorf("got %q,\nwant %q", got, want)
	}
	if got, want := EnvName("pushbullet.target.device_iden"), "CLOOSTER_PUSHBULLET_TARGET_DEVICE_IDEN"; got != want {
		t.Errorf("EnvName: got %q, want %q", got, want)
	}
	for _, s := range secretFiles {
		if !strings.HasPrefix(s.fileVar, EnvName(s.path)) {
			t.Errorf("%s is not named after %s", s.fileVar, s.path)
		}
	}
}

func TestEnvRFC2136(t *testing.T) {
	// A file with a records block and no provider block: the variables
	// make the rfc2136 block, and the records default to it.
	m := withRFC2136(aRecord())
	delete(m, "rfc2136")
	path := writeConfig(t, m)
	secret := writeFile(t, t.TempDir(), "tsig", testTSIG+"\n")
	vars := []string{
		"CLOOSTER_RFC2136_SERVER=127.0.0.1:5353",
		"CLOOSTER_RFC2136_ZONE=example.com",
		"CLOOSTER_RFC2136_TSIG_NAME=clooster",
		"CLOOSTER_RFC2136_TSIG_SECRET_FILE=" + secret,
		"CLOOSTER_RFC2136_TSIG_ALGORITHM=hmac-sha512",
		"CLOOSTER_RFC2136_TRANSPORT=udp",
	}
	c := mustLoad(t, path, vars)
	want := RFC2136{Server: "127.0.0.1:5353", Zone: "example.com", TSIGName: "clooster", TSIGSecret: testTSIG,
		TSIGAlgorithm: "hmac-sha512", Transport: "udp"}
	if c.RFC2136 == nil || *c.RFC2136 != want || c.Records[0].Provider != ProviderRFC2136 {
		t.Errorf("got %+v, records %+v; want %+v", c.RFC2136, c.Records, want)
	}

	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"secret and file", []string{"CLOOSTER_RFC2136_TSIG_SECRET=" + testTSIG},
			"CLOOSTER_RFC2136_TSIG_SECRET_FILE: set only one of CLOOSTER_RFC2136_TSIG_SECRET and CLOOSTER_RFC2136_TSIG_SECRET_FILE"},
		{"bad secret", []string{"CLOOSTER_RFC2136_TSIG_SECRET_FILE=", "CLOOSTER_RFC2136_TSIG_SECRET=not-base64!"},
			"CLOOSTER_RFC2136_TSIG_SECRET: not base64 (got 11 characters)"},
		{"transport", []string{"CLOOSTER_RFC2136_TRANSPORT=quic"}, `CLOOSTER_RFC2136_TRANSPORT: must be tcp or udp (got "quic")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append(slices.Clone(vars), tt.env...)
			_, err := Load(path, env)
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].String() != tt.want {
				t.Errorf("got %q, want %q", ps, tt.want)
			}
			if strings.Contains(err.Error(), testTSIG) {
				t.Errorf("the secret is in the error: %v", err)
			}
		})
	}
}
