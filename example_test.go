package main

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/clooster/clooster/config"
)

const exampleConfig = "clooster.example.json"

// TestExampleConfigLoads: the shipped example is a valid configuration once
// the key is supplied, here through the environment.
func TestExampleConfigLoads(t *testing.T) {
	key := "0123456789abcdef0123456789abcdef" // 32 bytes, as clooster secret makes
	cfg, err := config.Load(exampleConfig, []string{"CLOOSTER_KEY=" + key})
	if err != nil {
		t.Fatalf("config.Load(%s) with CLOOSTER_KEY: %v", exampleConfig, err)
	}
	if cfg.Key != key {
		t.Errorf("key = %q, want the CLOOSTER_KEY value", cfg.Key)
	}
	if cfg.Role != "server" || cfg.Client != nil {
		t.Errorf("role = %q, client block %v; want a server without a client block", cfg.Role, cfg.Client)
	}
	if cfg.Pushbullet == nil {
		t.Errorf("pushbullet block missing")
	}
	// The example states the defaults; the values it sets must be them,
	// as a configuration that sets none of them gets them.
	def, err := config.Load("", []string{
		"CLOOSTER_THIS_SERVER=srv1.example.com", "CLOOSTER_OTHER_SERVER=srv2.example.com", "CLOOSTER_KEY=" + key,
		"CLOOSTER_CLOUDFLARE_TOKEN=a-token", "CLOOSTER_CLOUDFLARE_ZONE=example.com",
		"CLOOSTER_CLOUDFLARE_RECORD=cluster.example.com", "CLOOSTER_CLOUDFLARE_PREFERRED_VALUE=srv1.example.com",
	})
	if err != nil {
		t.Fatalf("config.Load of the defaults: %v", err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"server.address", cfg.Server.Address, def.Server.Address},
		{"server.port", cfg.Server.Port, def.Server.Port},
		{"status.address", cfg.StatusAddr(), def.StatusAddr()},
		{"keepalive_interval", cfg.KeepaliveInterval, def.KeepaliveInterval},
		{"peer_timeout", cfg.PeerTimeout, def.PeerTimeout},
		{"failback_delay", cfg.FailbackDelay, def.FailbackDelay},
		{"log.level", cfg.Log.Level, def.Log.Level},
		{"log.format", cfg.Log.Format, def.Log.Format},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want the default %v", c.name, c.got, c.want)
		}
	}
}

// TestExampleConfigRefusesPlaceholderKey: as shipped, the example fails on
// its placeholder key and on nothing else.
func TestExampleConfigRefusesPlaceholderKey(t *testing.T) {
	_, err := config.Load(exampleConfig, nil)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("config.Load(%s) = %v, want a *config.Error", exampleConfig, err)
	}
	if len(ce.Problems) != 1 || ce.Problems[0].Key != "key" {
		t.Fatalf("problems = %q, want one, about key", ce.Problems)
	}
}

// TestExampleConfigCoversEveryKey: every configuration key appears in the
// example, set or commented out, and the example has no key config does not
// know. A commented-out key is a line of "#" and then `"name":`, "{" or "}".
func TestExampleConfigCoversEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	collectPaths("", uncomment(t, string(data)), got)
	want := map[string]bool{}
	configPaths("", reflect.TypeFor[config.Config](), want)
	for p := range want {
		if !got[p] {
			t.Errorf("%s: not in %s", p, exampleConfig)
		}
	}
	for p := range got {
		if !want[p] {
			t.Errorf("%s: in %s but not a configuration key", p, exampleConfig)
		}
	}
}

// uncomment turns the example into strict JSON with every commented-out
// key restored: "#" before JSON (a key, a brace, a closing bracket) is dropped, comment lines are removed,
// and so are trailing commas.
func uncomment(t *testing.T, s string) any {
	t.Helper()
	jsonAfterHash := regexp.MustCompile(`^(\s*)#(\s*(?:"[a-z0-9_]+"\s*:|[{}\]]))`)
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		line = jsonAfterHash.ReplaceAllString(line, "$1$2")
		if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, "#") || trimmed == "" {
			continue
		}
		lines = append(lines, line)
	}
	strict := regexp.MustCompile(`,(\s*[}\]])`).ReplaceAllString(strings.Join(lines, "\n"), "$1")
	var v any
	if err := json.Unmarshal([]byte(strict), &v); err != nil {
		t.Fatalf("%s with every key uncommented is not JSON: %v\n%s", exampleConfig, err, strict)
	}
	return v
}

// collectPaths lists the leaf keys of a decoded JSON object as dotted paths.
func collectPaths(prefix string, v any, out map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = true
		return
	}
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		collectPaths(p, sub, out)
	}
}

// configPaths lists the leaf keys of config.Config from its json tags.
func configPaths(prefix string, t reflect.Type, out map[string]bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			configPaths(p, ft, out)
			continue
		}
		out[p] = true
	}
}
