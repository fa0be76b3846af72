package cfapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEnvironmentIgnored sets the variables cloudflare-go, its successor
// and flarectl read to wrong values: only Config may decide.
func TestEnvironmentIgnored(t *testing.T) {
	decoy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request to the environment's base URL: %s %s", r.Method, r.URL)
		http.Error(w, "decoy", http.StatusTeapot)
	}))
	defer decoy.Close()
	for k, v := range map[string]string{
		"CLOUDFLARE_API_TOKEN":            "env-token",
		"CLOUDFLARE_API_KEY":              "env-key",
		"CLOUDFLARE_EMAIL":                "env@example.com",
		"CLOUDFLARE_API_EMAIL":            "env@example.com",
		"CLOUDFLARE_API_USER_SERVICE_KEY": "v1.0-env-service-key",
		"CLOUDFLARE_BASE_URL":             decoy.URL,
		"CLOUDFLARE_API_BASE_URL":         decoy.URL,
		"CLOUDFLARE_API_URL":              decoy.URL,
		"CLOUDFLARE_ZONE_ID":              "0123456789abcdef0123456789abcdef",
		"CLOUDFLARE_ACCOUNT_ID":           "0123456789abcdef0123456789abcdef",
		"CF_API_TOKEN":                    "env-token",
		"CF_API_KEY":                      "env-key",
		"CF_API_EMAIL":                    "env@example.com",
	} {
		t.Setenv(k, v)
	}

	e := newEnv(t) // accepts testToken only, and the legacy key
	e.fake.SetLegacyAuth("", "")
	c := e.client(t, nil)
	rec, err := c.Get(context.Background())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if _, err := c.SetContent(context.Background(), rec, "192.0.2.2"); err != nil {
		t.Fatalf("SetContent: %v", err)
	}
	reqs := e.fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests to Config's base URL: got %d, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Auth != "token" || r.Status != 200 {
			t.Errorf("%s %s: got auth %q status %d, want Config's token accepted", r.Method, r.Path, r.Auth, r.Status)
		}
	}
}

// TestNoSecretInErrorsOrLogs has an API that echoes the credentials back.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := "bad credentials " + r.Header.Get("Authorization") + " " + r.Header.Get("X-Auth-Key")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]any{
			"success": false, "messages": []any{}, "result": nil,
			"errors": []any{map[string]any{"code": 10000, "message": msg}},
		})
	}))
	defer srv.Close()
	for _, cfg := range []Config{
		{Token: testToken},
		{Key: testKey, Email: testEmail},
	} {
		var logs bytes.Buffer
		cfg.BaseURL, cfg.Zone, cfg.Record = srv.URL, "example.com", "www.example.com"
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Get(context.Background())
		if err == nil {
			t.Fatal("Get: got no error, want a 403")
		}
		for _, where := range []string{err.Error(), logs.String()} {
			if strings.Contains(where, testToken) || strings.Contains(where, testKey) {
				t.Errorf("a credential leaked: %s", where)
			}
		}
		if !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("message: got %q, want the credential redacted", err)
		}
	}
}

func TestDebugLog(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	c := e.client(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	var requests int
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["component"] != "cfapi" {
			t.Errorf("component: got %v, want cfapi in %s", m["component"], line)
		}
		if m["msg"] != "request" {
			continue
		}
		requests++
		if m["level"] != "DEBUG" || m["method"] != "GET" || m["status"] != 200.0 ||
			!strings.HasPrefix(m["path"].(string), "/client/v4/zones") || m["duration"] == nil {
			t.Errorf("request line: got %s, want debug with method, path, status, duration", line)
		}
	}
	if requests != 2 {
		t.Errorf("request lines: got %d, want 2", requests)
	}
}

func TestQuietByDefault(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	c := e.client(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	e.fake.FailNext(1, 500)
	c.Get(context.Background())
	c.Get(context.Background())
	if logs.Len() != 0 {
		t.Errorf("at info level: got %q, want nothing: errors are the caller's to log", logs.String())
	}
}
