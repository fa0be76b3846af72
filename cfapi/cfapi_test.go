package cfapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
)

const (
	testToken = "test-token-0123456789abcdef"
	testKey   = "0123456789abcdef0123456789abcdef01234"
	testEmail = "ops@example.com"
)

// env is a fake API with one zone and a few records, and a client for it.
type env struct {
	fake      *fakecf.Server
	srv       *httptest.Server
	zone      string
	www, www6 string // www.example.com A and AAAA
	apex      string // example.com A (next to a TXT record)
	mail      string // mail.example.com CNAME
}

func newEnv(t *testing.T) *env {
	t.Helper()
	f := fakecf.New()
	f.SetToken(testToken)
	f.SetLegacyAuth(testKey, testEmail)
	e := &env{fake: f}
	e.zone = f.AddZone("example.com")
	e.www = f.AddRecord(e.zone, fakecf.Record{Name: "www", Type: "A", Content: "192.0.2.1", TTL: 300, Proxied: true, Comment: "failover pair", Tags: []string{"owner:ops"}})
	e.www6 = f.AddRecord(e.zone, fakecf.Record{Name: "www", Type: "AAAA", Content: "2001:db8::1"})
	e.apex = f.AddRecord(e.zone, fakecf.Record{Name: "@", Type: "A", Content: "192.0.2.10"})
	f.AddRecord(e.zone, fakecf.Record{Name: "@", Type: "TXT", Content: "v=spf1 -all"})
	e.mail = f.AddRecord(e.zone, fakecf.Record{Name: "mail", Type: "CNAME", Content: "alpha.example.net"})
	e.srv = httptest.NewServer(f)
	t.Cleanup(e.srv.Close)
	return e
}

// client returns a client for the env's API, with cfg's fields over the
// defaults (token auth, zone by name, www.example.com A).
func (e *env) client(t *testing.T, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL: e.srv.URL + "/client/v4",
		Token:   testToken,
		Zone:    "example.com",
		Record:  "www.example.com",
		Type:    "A",
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// requests returns the requests the fake saw since mark, as "METHOD path?query".
func (e *env) requests(mark int) []string {
	var out []string
	for _, r := range e.fake.Requests()[mark:] {
		s := r.Method + " " + strings.TrimPrefix(r.Path, "/client/v4")
		if r.Query != "" {
			s += "?" + r.Query
		}
		out = append(out, s)
	}
	return out
}

func (e *env) mark() int { return len(e.fake.Requests()) }

func TestGet(t *testing.T) {
	e := newEnv(t)
	zp := "/zones/" + e.zone + "/dns_records"
	tests := []struct {
		name   string
		mod    func(*Config)
		want   Record
		first  []string // requests of the first Get
		second []string // requests of the second
	}{
		{
			name:   "zone by name",
			want:   Record{ID: e.www, ZoneID: e.zone, Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Proxied: true},
			first:  []string{"GET /zones?name=example.com&per_page=50", "GET " + zp + "?name=www.example.com&page=1&per_page=100&type=A"},
			second: []string{"GET " + zp + "/" + e.www},
		},
		{
			name:   "zone by id: no zone lookup",
			mod:    func(c *Config) { c.Zone, c.ZoneID = "", e.zone },
			want:   Record{ID: e.www, ZoneID: e.zone, Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Proxied: true},
			first:  []string{"GET " + zp + "?name=www.example.com&page=1&per_page=100&type=A"},
			second: []string{"GET " + zp + "/" + e.www},
		},
		{
			name:   "by type among several",
			mod:    func(c *Config) { c.ZoneID, c.Type = e.zone, "aaaa" },
			want:   Record{ID: e.www6, ZoneID: e.zone, Name: "www.example.com", Type: "AAAA", Content: "2001:db8::1", TTL: 1},
			first:  []string{"GET " + zp + "?name=www.example.com&page=1&per_page=100&type=AAAA"},
			second: []string{"GET " + zp + "/" + e.www6},
		},
		{
			name:   "the only A/AAAA/CNAME of the name, a TXT beside it",
			mod:    func(c *Config) { c.ZoneID, c.Record, c.Type = e.zone, "Example.COM.", "" },
			want:   Record{ID: e.apex, ZoneID: e.zone, Name: "example.com", Type: "A", Content: "192.0.2.10", TTL: 1},
			first:  []string{"GET " + zp + "?name=example.com&page=1&per_page=100"},
			second: []string{"GET " + zp + "/" + e.apex},
		},
		{
			name: "legacy key and e-mail",
			mod: func(c *Config) {
				c.Token, c.Key, c.Email, c.ZoneID, c.Record, c.Type = "", testKey, testEmail, e.zone, "mail.example.com", ""
			},
			want:   Record{ID: e.mail, ZoneID: e.zone, Name: "mail.example.com", Type: "CNAME", Content: "alpha.example.net", TTL: 1},
			first:  []string{"GET " + zp + "?name=mail.example.com&page=1&per_page=100"},
			second: []string{"GET " + zp + "/" + e.mail},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client(t, tt.mod)
			for i, wantReqs := range [][]string{tt.first, tt.second} {
				m := e.mark()
				got, err := c.Get(context.Background())
				if err != nil {
					t.Fatalf("Get %d: %v", i+1, err)
				}
				if got.Modified.IsZero() || got.APIClock.IsZero() || got.Received.IsZero() || got.Asked.IsZero() {
					t.Errorf("Get %d: no modified_on, Date or time of the answer: %+v", i+1, got)
				}
				got.Modified, got.APIClock, got.Asked, got.Received = time.Time{}, time.Time{}, time.Time{}, time.Time{}
				if got != tt.want {
					t.Errorf("Get %d: got %+v, want %+v", i+1, got, tt.want)
				}
				if reqs := e.requests(m); !slices.Equal(reqs, wantReqs) {
					t.Errorf("Get %d requests: got %q, want %q", i+1, reqs, wantReqs)
				}
			}
		})
	}
}

func TestAuthHeaders(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want http.Header
		gone []string
	}{
		{"token", nil, http.Header{"Authorization": {"Bearer " + testToken}}, []string{"X-Auth-Key", "X-Auth-Email"}},
		{"legacy", func(c *Config) { c.Token, c.Key, c.Email = "", testKey, testEmail },
			http.Header{"X-Auth-Key": {testKey}, "X-Auth-Email": {testEmail}}, []string{"Authorization"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"success":true,"errors":[],"messages":[],"result":[],"result_info":{"page":1,"per_page":100,"count":0,"total_count":0,"total_pages":0}}`))
			}))
			defer srv.Close()
			cfg := Config{BaseURL: srv.URL, Token: testToken, ZoneID: "z", Record: "www.example.com"}
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(context.Background()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get: got %v, want ErrNotFound", err)
			}
			for k, v := range tt.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s: got %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tt.gone {
				if _, ok := got[k]; ok {
					t.Errorf("%s: sent, want absent", k)
				}
			}
			if ua := got.Get("User-Agent"); ua != "clooster" {
				t.Errorf("User-Agent: got %q, want clooster", ua)
			}
		})
	}
}

func TestLookupErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		mod        func(*Config)
		want       error
		wantStatus int // of the *Error, 0 if none
		wantInMsg  string
	}{
		{"zone not found", func(c *Config) { c.Zone = "example.net" }, ErrNotFound, 0, "find zone example.net"},
		{"record not found", func(c *Config) { c.Record = "ftp.example.com" }, ErrNotFound, 0, "find record ftp.example.com (A)"},
		{"no record of that type", func(c *Config) { c.Record = "mail.example.com" }, ErrNotFound, 0, "find record mail.example.com (A)"},
		{"several, no type", func(c *Config) { c.Type = "" }, ErrAmbiguous, 0, "A, AAAA; set the record type"},
		{"unknown zone id", func(c *Config) { c.Zone, c.ZoneID = "", "0123456789abcdef0123456789abcdef" }, ErrNotFound, 404, "(codes 7003, 7000)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client(t, tt.mod).Get(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var apiErr *Error
			if got := errors.As(err, &apiErr); got != (tt.wantStatus != 0) {
				t.Fatalf("*Error: got %v (%v), want %v", got, err, tt.wantStatus != 0)
			}
			if apiErr != nil && apiErr.Status != tt.wantStatus {
				t.Errorf("status: got %d, want %d", apiErr.Status, tt.wantStatus)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("message: got %q, want it to contain %q", err, tt.wantInMsg)
			}
		})
	}
}

func TestSetContent(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	rec, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	got, err := c.SetContent(context.Background(), rec, "192.0.2.2")
	if err != nil {
		t.Fatalf("SetContent: %v", err)
	}
	want := rec
	want.Content = "192.0.2.2"
	if !got.Modified.After(rec.Modified) {
		t.Errorf("modified_on after the write: %s, want after %s", got.Modified, rec.Modified)
	}
	want.Modified, want.APIClock, want.Asked, want.Received = got.Modified, got.APIClock, got.Asked, got.Received
	if got != want {
		t.Errorf("answered: got %+v, want %+v", got, want)
	}
	reqs := e.fake.Requests()[m:]
	if len(reqs) != 1 {
		t.Fatalf("requests: got %d, want 1", len(reqs))
	}
	if r := reqs[0]; r.Method != "PATCH" || r.Path != "/client/v4/zones/"+e.zone+"/dns_records/"+e.www || r.Body != `{"content":"192.0.2.2"}` {
		t.Errorf("request: got %s %s %s, want PATCH of the record with body {\"content\":\"192.0.2.2\"}", r.Method, r.Path, r.Body)
	}
	after := e.fake.Record(e.www)
	wantRec := fakecf.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 300, Proxied: true, Comment: "failover pair", Tags: []string{"owner:ops"}}
	if after.Name != wantRec.Name || after.Type != wantRec.Type || after.Content != wantRec.Content || after.TTL != wantRec.TTL ||
		after.Proxied != wantRec.Proxied || after.Comment != wantRec.Comment || !slices.Equal(after.Tags, wantRec.Tags) {
		t.Errorf("record after: got %+v, want %+v", after, wantRec)
	}
	if w := e.fake.Writes(); len(w) != 1 || w[0].RecordID != e.www || w[0].Content != "192.0.2.2" {
		t.Errorf("writes: got %+v, want one of 192.0.2.2", w)
	}
}

func TestSetContentEscapes(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, func(c *Config) { c.Record, c.Type = "mail.example.com", "CNAME" })
	rec, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	if _, err := c.SetContent(context.Background(), rec, `beta.example.net`); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Requests()[m].Body; got != `{"content":"beta.example.net"}` {
		t.Errorf("body: got %s", got)
	}
	// A refused value is the API's error, not the SDK's.
	_, err = c.SetContent(context.Background(), rec, `has "quotes" and space`)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !slices.Equal(apiErr.Codes, []int{1004, 9007}) {
		t.Fatalf("got %v, want a 400 with codes 1004, 9007", err)
	}
	if got := e.fake.Requests()[m+1].Body; got != `{"content":"has \"quotes\" and space"}` {
		t.Errorf("body: got %s", got)
	}
	if want := "cloudflare: patch record: 400 Bad Request: DNS Validation Error; Content for CNAME record is invalid. (codes 1004, 9007)"; err.Error() != want {
		t.Errorf("message: got %q, want %q", err, want)
	}
}

func TestSetContentWithoutIDs(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, func(c *Config) { c.Zone, c.ZoneID = "", e.zone })
	m := e.mark()
	got, err := c.SetContent(context.Background(), Record{}, "192.0.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.www || got.Content != "192.0.2.3" {
		t.Errorf("got %+v, want record %s with 192.0.2.3", got, e.www)
	}
	if reqs := e.requests(m); len(reqs) != 2 || !strings.HasPrefix(reqs[0], "GET ") || !strings.HasPrefix(reqs[1], "PATCH ") {
		t.Errorf("requests: got %q, want a lookup then the PATCH", reqs)
	}
}

func TestRecordMovedOutside(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, func(c *Config) { c.ZoneID = e.zone })
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The cached record is renamed (a PUT from elsewhere): the next Get
	// notices and finds the record by name again.
	req, _ := http.NewRequest("PUT", e.srv.URL+"/zones/"+e.zone+"/dns_records/"+e.www, strings.NewReader(`{"name":"old","type":"A","content":"192.0.2.1"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := e.srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("rename: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = c.Get(context.Background())
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func TestName(t *testing.T) {
	e := newEnv(t)
	if got := e.client(t, func(c *Config) { c.Record = "WWW.Example.com." }).Name(); got != "www.example.com" {
		t.Errorf("got %q, want www.example.com", got)
	}
}

func TestNew(t *testing.T) {
	base := Config{Token: "t", Zone: "example.com", Record: "www.example.com"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string // "" for success
	}{
		{"token", nil, ""},
		{"legacy", func(c *Config) { c.Token, c.Key, c.Email = "", "k", "e@example.com" }, ""},
		{"zone id only", func(c *Config) { c.Zone, c.ZoneID = "", "z" }, ""},
		{"base url with slash", func(c *Config) { c.BaseURL = "http://127.0.0.1:8080/client/v4/" }, ""},
		{"no credentials", func(c *Config) { c.Token = "" }, "no credentials"},
		{"token and key", func(c *Config) { c.Key = "k" }, "mutually exclusive"},
		{"key without e-mail", func(c *Config) { c.Token, c.Key = "", "k" }, "needs both"},
		{"no zone", func(c *Config) { c.Zone = "" }, "no zone"},
		{"no record", func(c *Config) { c.Record = "" }, "no record"},
		{"bad type", func(c *Config) { c.Type = "TXT" }, `record type must be A, AAAA or CNAME (got "TXT")`},
		{"bad base url", func(c *Config) { c.BaseURL = "api.cloudflare.com" }, "base url"},
		{"base url with credentials", func(c *Config) { c.BaseURL = "https://u:p@api.cloudflare.com" }, "base url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			_, err := New(cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHTTPClientNotModified(t *testing.T) {
	e := newEnv(t)
	tr := &countingTransport{base: http.DefaultTransport}
	hc := &http.Client{Transport: tr}
	c := e.client(t, func(c *Config) { c.HTTPClient = hc })
	if hc.Transport != tr {
		t.Fatalf("the caller's client was modified")
	}
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr.n != 2 {
		t.Errorf("requests through the caller's transport: got %d, want 2", tr.n)
	}
}

type countingTransport struct {
	base http.RoundTripper
	n    int
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n++
	return t.base.RoundTrip(r)
}
