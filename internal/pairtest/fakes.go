package pairtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/fakepb"
)

// The pair's names and record, as in the original example configuration.
const (
	Srv1   = "srv1.example.com" // the server, and the preferred value
	Srv2   = "srv2.example.com" // the client
	Zone   = "example.com"
	Record = "www.example.com"
)

// Fakes is one set of stand-ins: a Cloudflare API holding Zone with one
// CNAME record, Record → Srv1, that accepts CFToken; and a Pushbullet API
// that accepts PBKey. Both answer on one port of each of the hosts given to
// NewFakes, Pushbullet under /v2 and Cloudflare under any other path (it
// ignores what precedes /zones, so that each node may have a prefix of its
// own), until the test or step ends.
type Fakes struct {
	CF       *fakecf.Server
	CFToken  string
	ZoneID   string
	RecordID string

	PB    *fakepb.Server
	PBKey string

	hosts []string
	urls  map[string]string // base URL by host
}

// NewFakes serves a new set of stand-ins on each of hosts, 127.0.0.1 if
// none is given.
func NewFakes(t T, hosts ...string) *Fakes {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	f := &Fakes{CF: fakecf.New(), CFToken: NewSecret("cf-token-"), PBKey: NewSecret("o.pb-"),
		hosts: hosts, urls: make(map[string]string)}
	f.CF.SetToken(f.CFToken)
	f.ZoneID = f.CF.AddZone(Zone)
	f.RecordID = f.CF.AddRecord(f.ZoneID, fakecf.Record{Name: Record, Type: "CNAME", Content: Srv1, TTL: 60, Comment: "kept by clooster"})
	f.PB = fakepb.New(f.PBKey)
	mux := http.NewServeMux()
	mux.Handle("/v2/", f.PB)
	mux.Handle("/", f.CF)
	for _, host := range hosts {
		f.urls[host] = ServeOn(t, host, mux)
	}
	return f
}

// URL is the stand-ins' base URL on host, "http://host:port"; on the first
// host given to NewFakes if host is "".
func (f *Fakes) URL(host string) string {
	if host == "" {
		host = f.hosts[0]
	}
	return f.urls[host]
}

// CloudflareURL is the Cloudflare API's base on the first host.
func (f *Fakes) CloudflareURL() string { return f.URL("") + "/client/v4" }

// PushbulletURL is the Pushbullet API's base on the first host.
func (f *Fakes) PushbulletURL() string { return f.URL("") + "/v2" }

// Content is the record's content as the API holds it.
func (f *Fakes) Content() string { return f.CF.Record(f.RecordID).Content }

// WriteContents lists the contents written, oldest first.
func (f *Fakes) WriteContents() []string {
	var out []string
	for _, w := range f.CF.Writes() {
		out = append(out, w.Content)
	}
	return out
}

// PushTitles lists the titles of the pushes received, oldest first.
func (f *Fakes) PushTitles() []string {
	var out []string
	for _, p := range f.PB.Pushes() {
		out = append(out, p.Title)
	}
	return out
}

// PushesWith counts the pushes whose title contains s.
func (f *Fakes) PushesWith(s string) int {
	n := 0
	for _, p := range f.PB.Pushes() {
		if strings.Contains(p.Title, s) {
			n++
		}
	}
	return n
}

// Serve serves h on 127.0.0.1 until t ends and returns its base URL.
func Serve(t T, h http.Handler) string {
	t.Helper()
	return ServeOn(t, "127.0.0.1", h)
}

// ServeOn serves h on host, on a port the kernel picks, until t ends, and
// returns its base URL, "http://host:port".
func ServeOn(t T, host string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// Secret is a credential to keep out of every output, with the name a
// message gives it in its place.
type Secret struct{ Name, Value string }

// NewSecret returns prefix and 16 random bytes in hex: distinctive enough
// that finding it in an output can only be a leak.
func NewSecret(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// NewKey returns 32 random bytes in base64, as a TSIG secret is written.
func NewKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// CheckNoSecrets fails t if text (named what) contains one of secrets; the
// message names the secret, never shows it.
func CheckNoSecrets(t T, what, text string, secrets []Secret) {
	t.Helper()
	for _, s := range secrets {
		if s.Value != "" && strings.Contains(text, s.Value) {
			t.Errorf("%s contains the %s", what, s.Name)
		}
	}
}
