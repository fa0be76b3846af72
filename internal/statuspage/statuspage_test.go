package statuspage

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/watchdog"
)

var t0 = time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)

// fixed is a node's state: srv2, standby, linked, one record on srv1.
type fixed struct {
	st  watchdog.Status
	evs []watchdog.Event
}

func (f *fixed) Status() watchdog.Status { return f.st }
func (f *fixed) Events() []watchdog.Event {
	out := make([]watchdog.Event, len(f.evs))
	for i, e := range f.evs {
		out[i] = e
		out[i].Attrs = map[string]string{}
		for k, v := range e.Attrs {
			out[i].Attrs[k] = v
		}
	}
	return out
}

func standby() *fixed {
	healthy := true
	return &fixed{
		st: watchdog.Status{
			Node: "srv2.example.com", Role: "client", Version: "v1.2.3", Started: t0.Add(-time.Hour),
			Peer: watchdog.PeerStatus{Name: "srv1.example.com", State: watchdog.PeerUp, Since: t0.Add(-50 * time.Minute),
				Addr: "192.0.2.1:4096", RTTMillis: 0.42, Healthy: &healthy, LastHeard: t0.Add(-time.Second)},
			Record: watchdog.RecordStatus{Name: "www.example.com", Content: "srv1.example.com", Checked: t0.Add(-time.Minute)},
			Records: []watchdog.SetRecordStatus{
				{Name: "www.example.com", Type: "CNAME", Content: "srv1.example.com", PointsTo: "srv1.example.com", Preferred: true, Checked: t0.Add(-time.Minute)},
			},
		},
		evs: []watchdog.Event{
			{At: t0.Add(-50 * time.Minute), Name: "link_up", Level: "INFO", Msg: "link to peer up", Attrs: map[string]string{"peer": "srv1.example.com"}},
			{At: t0.Add(-55 * time.Minute), Name: "record_update_failed", Level: "WARN", Msg: "record update failed; retrying",
				Attrs: map[string]string{"error": "auth failed for token cf-SECRET-token"}},
		},
	}
}

func newServer(t *testing.T, src Source, token string) *httptest.Server {
	t.Helper()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) })
	srv := httptest.NewServer(Handler(src, Options{Token: token, API: api, Now: func() time.Time { return t0 },
		Scrub: strings.NewReplacer("cf-SECRET-token", "[redacted]").Replace}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestPage(t *testing.T) {
	srv := newServer(t, standby(), "")
	code, body, hdr := get(t, srv.Client(), srv.URL+"/")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		`<h1>srv2.example.com <small>client</small></h1>`,
		`data-verdict="standby">Standby: the records point to srv1.example.com`,
		`data-peer-state="up">up</span> since 02:14:05 (50m 0s ago)`,
		`192.0.2.1:4096, round trip 0.4 ms`,
		`<tr data-record="www.example.com CNAME" data-points-to="srv1.example.com">`,
		`<code>srv1.example.com</code>`, `<span class="tag">preferred</span>`,
		`<b>link_up</b> link to peer up <span class="muted">peer=srv1.example.com</span>`,
		`error=auth failed for token [redacted]`,
		`<script src="/page.js" defer></script>`, `<noscript><meta http-equiv="refresh" content="10"></noscript>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "cf-SECRET-token") {
		t.Error("the page shows a secret")
	}
	if strings.Index(body, "link_up") > strings.Index(body, "record_update_failed") {
		t.Error("the timeline is not newest first")
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || hdr.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", hdr)
	}

	// The script's refresh gets the main part alone.
	_, part, _ := get(t, srv.Client(), srv.URL+"/?part=main")
	if strings.Contains(part, "<html") || !strings.Contains(part, `data-verdict="standby"`) {
		t.Errorf("part=main = %.200q", part)
	}
	// The rest goes to the API.
	if _, b, _ := get(t, srv.Client(), srv.URL+"/status"); b != "api /status" {
		t.Errorf("/status = %q", b)
	}
	// Static files.
	for _, p := range []string{"/page.js", "/page.css"} {
		if code, b, _ := get(t, srv.Client(), srv.URL+p); code != 200 || len(b) < 100 {
			t.Errorf("%s = %d, %d bytes", p, code, len(b))
		}
	}
}

func TestVerdicts(t *testing.T) {
	tests := []struct {
		name   string
		change func(*fixed)
		want   string
	}{
		{"active", func(f *fixed) { f.st.Records[0].PointsTo = "srv2.example.com" }, `data-verdict="active">Active: the records point here`},
		{"neither", func(f *fixed) { f.st.Records[0].PointsTo = "" }, `data-verdict="neither">The records point to neither node`},
		{"split", func(f *fixed) {
			f.st.Records = append(f.st.Records, watchdog.SetRecordStatus{Name: "www.example.com", Type: "AAAA", Content: "2001:db8::2", PointsTo: "srv2.example.com"})
		}, `data-verdict="split">Split: 1 records point here, 1 to srv1.example.com`},
		{"peer down", func(f *fixed) {
			f.st.Peer.State, f.st.Peer.Healthy, f.st.Peer.Reason = watchdog.PeerDown, nil, "ping timeout"
		}, `data-peer-state="down">down</span> since 02:14:05 (50m 0s ago)<br><span class="muted">link lost: ping timeout</span>`},
		{"unhealthy", func(f *fixed) {
			f.st.Health = watchdog.HealthStatus{Checked: true, Since: t0.Add(-3 * time.Second), Reason: "503", LastCheck: "failed: 503"}
		}, `<span class="bad">UNHEALTHY</span>: 503, since 03:04:02 (3s ago)`},
		{"withheld", func(f *fixed) {
			f.st.Guard = watchdog.GuardStatus{Withholding: true, Reason: "link down, peer still serving", Since: t0, PeerCheck: "serving"}
		}, `Takeover withheld</h2><p>link down, peer still serving, since 03:04:05 (0s ago). peer_check: the peer's service is serving.`},
		{"update", func(f *fixed) {
			f.st.Update = &watchdog.UpdateInfo{Purpose: "takeover", Want: "srv2.example.com", Since: t0.Add(-2 * time.Second), Failures: 2, LastErr: "429"}
		}, `takeover to <code>srv2.example.com</code> since 03:04:03 (2s ago), 2 failed attempts; last: 429.`},
		{"missing", func(f *fixed) { f.st.Records[0].Missing = true }, `<span class="bad">MISSING</span>`},
		{"write failed", func(f *fixed) { f.st.Records[0].WriteError = "500" }, `<span class="bad">failed: 500</span>`},
		{"read failed", func(f *fixed) { f.st.Records[0].ReadError = "BADSIG" }, `<span class="bad">cannot read it: BADSIG</span>`},
		{"yesterday", func(f *fixed) { f.st.Started = t0.Add(-30 * time.Hour) }, `2026-11-30 21:04:05 (30h 0m ago)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := standby()
			tt.change(f)
			srv := newServer(t, f, "")
			if _, body, _ := get(t, srv.Client(), srv.URL+"/"); !strings.Contains(body, tt.want) {
				t.Errorf("the page lacks %q", tt.want)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	srv := newServer(t, standby(), "")
	_, body, hdr := get(t, srv.Client(), srv.URL+"/events")
	var evs []watchdog.Event
	if err := json.Unmarshal([]byte(body), &evs); err != nil || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("/events: %v, %s", err, body)
	}
	if len(evs) != 2 || evs[0].Name != "link_up" || evs[1].Attrs["error"] != "auth failed for token [redacted]" {
		t.Errorf("/events = %+v", evs)
	}
}

const token = "status-token-0123456789"

func TestToken(t *testing.T) {
	srv := newServer(t, standby(), token)
	c := srv.Client()
	tests := []struct {
		path   string
		hdr    []string
		code   int
		inBody string
	}{
		{"/healthz", nil, 200, "api /healthz"},
		{"/page.css", nil, 200, "--fg"},
		{"/", nil, 401, `<form method="post" action="/login">`},
		{"/?part=main", nil, 401, "status.token required"},
		{"/status", nil, 401, "status.token required"},
		{"/events", nil, 401, "status.token required"},
		{"/metrics", nil, 401, "status.token required"},
		{"/status", []string{"Authorization", "Bearer wrong-" + token}, 401, "status.token required"},
		{"/status", []string{"Authorization", "Bearer " + token}, 200, "api /status"},
		{"/", []string{"Authorization", "Bearer " + token}, 200, `data-verdict="standby"`},
		{"/", []string{"Cookie", cookieName + "=" + proof("wrong")}, 401, "<form"},
	}
	for _, tt := range tests {
		code, body, hdr := get(t, c, srv.URL+tt.path, tt.hdr...)
		if code != tt.code || !strings.Contains(body, tt.inBody) {
			t.Errorf("GET %s %v = %d %.120q, want %d with %q", tt.path, tt.hdr, code, body, tt.code, tt.inBody)
		}
		if code == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without WWW-Authenticate", tt.path)
		}
		if strings.Contains(body, token) {
			t.Errorf("GET %s shows the token", tt.path)
		}
	}
}

// A token that changes (a reload) is asked for at each request: the old
// one, and the cookie it made, no longer open the page; a token set
// anew closes what was open; one taken out opens it.
func TestTokenChanges(t *testing.T) {
	var mu sync.Mutex
	current := token
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) })
	srv := httptest.NewServer(Handler(standby(), Options{API: api, Now: func() time.Time { return t0 },
		Tokens: func() string { mu.Lock(); defer mu.Unlock(); return current }}))
	t.Cleanup(srv.Close)
	set := func(tok string) { mu.Lock(); current = tok; mu.Unlock() }
	const next = "next-token-0123456789abcdef"
	for _, tc := range []struct {
		name  string
		token string // in force
		hdr   []string
		code  int
	}{
		{"the token in force", token, []string{"Authorization", "Bearer " + token}, 200},
		{"the old token, once changed", next, []string{"Authorization", "Bearer " + token}, 401},
		{"the old token's cookie", next, []string{"Cookie", cookieName + "=" + proof(token)}, 401},
		{"the new token", next, []string{"Authorization", "Bearer " + next}, 200},
		{"the new token's cookie", next, []string{"Cookie", cookieName + "=" + proof(next)}, 200},
		{"no token: open", "", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set(tc.token)
			if code, _, _ := get(t, srv.Client(), srv.URL+"/status", tc.hdr...); code != tc.code {
				t.Errorf("got %d, want %d", code, tc.code)
			}
		})
	}
}

// The form sets a cookie that opens the page; a wrong token does not.
func TestLogin(t *testing.T) {
	srv := newServer(t, standby(), token)
	jar := &cookieJar{}
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(srv.URL+"/login", url.Values{"token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "That is not the token.") || len(jar.cookies) != 0 {
		t.Errorf("wrong token: %d, cookies %v", resp.StatusCode, jar.cookies)
	}
	resp, err = c.PostForm(srv.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `data-verdict="standby"`) {
		t.Errorf("after login: %d %.200q", resp.StatusCode, b)
	}
	if len(jar.cookies) != 1 || jar.cookies[0].Value == token || !jar.cookies[0].HttpOnly || jar.cookies[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %+v: want one, HttpOnly, SameSite=Strict, not the token itself", jar.cookies)
	}
	// The script's refresh rides on the cookie too.
	if code, _, _ := get(t, c, srv.URL+"/?part=main"); code != 200 {
		t.Errorf("part=main with the cookie: %d", code)
	}
}

// cookieJar keeps the cookies set, as they were set.
type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) { j.cookies = append(j.cookies, cs...) }
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie          { return j.cookies }

// What the two nodes disagree on is shown, most serious first, with the
// hint, and the differences that hold off failback; texts are escaped.
func TestPageProblems(t *testing.T) {
	f := standby()
	f.st.Link = watchdog.LinkStatus{
		Problems: []failover.Problem{
			{Kind: "key_mismatch", What: `"srv1" answers, but its <proof> does not match`, Hint: "set the same key", Since: t0.Add(-time.Minute)},
			{Kind: "clock_skew", What: "the peer's clock is 3s ahead", Since: t0},
		},
		NoFailback: []string{"cloudflare.preferred_value: differ"},
	}
	f.st.Link.Problem = &f.st.Link.Problems[0]
	srv := newServer(t, f, "")
	_, body, _ := get(t, srv.Client(), srv.URL+"/")
	for _, want := range []string{
		`data-problem="key_mismatch"`, `&#34;srv1&#34; answers, but its &lt;proof&gt; does not match`, `set the same key.`,
		`data-problem="clock_skew"`, `<li>cloudflare.preferred_value: differ</li>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Index(body, "key_mismatch") > strings.Index(body, "clock_skew") {
		t.Error("not the most serious first")
	}
}
