package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Secrets used by the modern base config; distinctive so that a test can
// tell they never leak into a message.
const (
	testKey        = "k3y-0123456789abcdef0123456789ab" // 32 bytes
	testToken      = "cf-token-SECRET-1234"
	testPushbullet = "pb-key-SECRET-5678"
)

// base is a valid configuration that uses the newer keys.
func base() map[string]any {
	return map[string]any{
		"this_server":  "a.example.com",
		"other_server": "b.example.com",
		"key":          testKey,
		"server":       map[string]any{"port": 4096},
		"cloudflare": map[string]any{
			"token":           testToken,
			"zone":            "example.com",
			"record":          "www.example.com",
			"preferred_value": "a.example.com",
		},
		"pushbullet": map[string]any{"key": testPushbullet},
		"log":        map[string]any{"level": "info"},
	}
}

// del as a value to set removes the key.
type deleteKey struct{}

var del = deleteKey{}

// set changes m at a dotted path, creating objects on the way.
func set(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	last := parts[len(parts)-1]
	if v == del {
		delete(m, last)
		return
	}
	m[last] = v
}

// writeFile writes content to name in dir with mode 0600 and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeConfig writes m as clooster.json in a fresh directory.
func writeConfig(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), "clooster.json", string(b))
}

// mustLoad loads or fails the test.
func mustLoad(t *testing.T, path string, environ []string) *Config {
	t.Helper()
	c, err := Load(path, environ)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// problems are the problems of a Load error, or fails the test.
func problems(t *testing.T, err error) []Problem {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v (%T), want *Error", err, err)
	}
	return ce.Problems
}

// hasWarning reports whether a warning contains every part.
func hasWarning(c *Config, parts ...string) bool {
	for _, w := range c.Warnings {
		found := true
		for _, p := range parts {
			found = found && strings.Contains(w, p)
		}
		if found {
			return true
		}
	}
	return false
}

// testCert writes a self-signed certificate and its key into dir and
// returns their paths and the certificate's SHA-256.
func testCert(t *testing.T, dir, name string) (certPath, keyPath, fingerprint string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		DNSNames:     []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certPath = writeFile(t, dir, name+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyPath = writeFile(t, dir, name+".key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	sum := sha256.Sum256(der)
	return certPath, keyPath, hex.EncodeToString(sum[:])
}

func mustMarshal(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// envBase is a valid configuration in variables, with overrides
// ("NAME=value") replacing or adding variables.
func envBase(overrides ...string) []string {
	env := []string{
		"CLOOSTER_THIS_SERVER=a.example.com",
		"CLOOSTER_OTHER_SERVER=b.example.com",
		"CLOOSTER_KEY=" + testKey,
		"CLOOSTER_CLOUDFLARE_TOKEN=" + testToken,
		"CLOOSTER_CLOUDFLARE_ZONE=example.com",
		"CLOOSTER_CLOUDFLARE_RECORD=www.example.com",
		"CLOOSTER_CLOUDFLARE_PREFERRED_VALUE=a.example.com",
	}
	for _, o := range overrides {
		name, _, _ := strings.Cut(o, "=")
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
		env = append(env, o)
	}
	return env
}
