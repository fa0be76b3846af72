package statuspage

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clooster/clooster/quorum"
)

// leading is the status of srv1, the leader of srv1, srv2 and a witness,
// with one record on its value.
func leading() quorum.Status {
	return quorum.Status{
		Self: "srv1", State: "Leader", Leader: "srv1", Term: 7, Quorum: true, Voters: 3,
		Members: []quorum.MemberView{
			{Member: quorum.Member{Name: "witness", Address: "192.0.2.9:4096", Priority: 2, Role: quorum.RoleWitness},
				Voter: true, Reachable: true, Healthy: false, LastContact: t0.Add(-2 * time.Second)},
			{Member: quorum.Member{Name: "srv1", Address: "192.0.2.1:4096", Priority: 0, Role: quorum.RoleNode},
				Voter: true, Reachable: true, Healthy: true, LastContact: t0},
			{Member: quorum.Member{Name: "srv2", Address: "192.0.2.2:4096", Priority: 1, Role: quorum.RoleNode},
				Voter: true, Reachable: true, Healthy: true, LastContact: t0.Add(-time.Second)},
		},
		Records: []quorum.RecordStatus{
			{Name: "www.example.com", Content: "srv1.example.com", Holder: "srv1", At: t0.Add(-time.Minute)},
		},
		LeaderChanges: 2, Writes: 3,
	}
}

func newClusterServer(t *testing.T, status func() quorum.Status, token string) *httptest.Server {
	t.Helper()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) })
	srv := httptest.NewServer(ClusterHandler(status, Options{Token: token, API: api, Now: func() time.Time { return t0 }}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClusterPage(t *testing.T) {
	srv := newClusterServer(t, leading, "")
	code, body, hdr := get(t, srv.Client(), srv.URL+"/")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		`<title>clooster: srv1</title>`,
		`<h1>srv1 <small>node, leader</small></h1>`,
		`data-verdict="leader">Leader: this member writes the records`,
		`<dt>Leader</dt><dd><span data-leader="srv1">srv1</span> <span class="tag">this member</span>`,
		`<dt>Term</dt><dd>7</dd>`, `<span class="ok" data-quorum="held">held</span>`,
		`<dt>Leader changes</dt><dd>2</dd>`, `<dt>Writes</dt><dd>3 sent <span`,
		`<dt>Voters</dt><dd><span data-voters="3">3</span>: a quorum is 2 of them</dd>`,
		`<tr data-member="srv2" data-reachable="true" data-voter="true">`, `<br><small>192.0.2.2:4096</small></td><td>node</td><td>1</td>`,
		`<span class="ok">healthy</span></td><td>03:04:04 (1s ago)</td>`,
		// A witness has no priority that matters, and no health.
		`<td>witness<br><small>192.0.2.9:4096</small></td><td>witness</td><td><span class="muted">none: a witness never leads for long</span></td>`,
		`<td><span class="muted">none: a witness only votes</span></td>`,
		`<tr data-record="www.example.com" data-holder="srv1">`, `<code>srv1.example.com</code>`, `read 03:03:05 (1m 0s ago)`,
		`<script src="/page.js" defer></script>`, `<noscript><meta http-equiv="refresh" content="10"></noscript>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, not := range []string{"No quorum", "Only the leader asks", "data-membership", "UNHEALTHY"} {
		if strings.Contains(body, not) {
			t.Errorf("a leader's page says %q", not)
		}
	}
	// Members in the order of priority, lower first.
	if i, j, k := strings.Index(body, `data-member="srv1"`), strings.Index(body, `data-member="srv2"`), strings.Index(body, `data-member="witness"`); !(i < j && j < k) {
		t.Errorf("members at %d, %d, %d: want srv1, srv2, witness", i, j, k)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || hdr.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", hdr)
	}

	_, part, _ := get(t, srv.Client(), srv.URL+"/?part=main")
	if strings.Contains(part, "<html") || !strings.Contains(part, `data-verdict="leader"`) {
		t.Errorf("part=main = %.200q", part)
	}
	if _, b, _ := get(t, srv.Client(), srv.URL+"/status"); b != "api /status" {
		t.Errorf("/status = %q", b)
	}
	for _, p := range []string{"/page.js", "/page.css"} {
		if code, b, _ := get(t, srv.Client(), srv.URL+p); code != 200 || len(b) < 100 {
			t.Errorf("%s = %d, %d bytes", p, code, len(b))
		}
	}
}

func TestClusterVerdicts(t *testing.T) {
	tests := []struct {
		name   string
		change func(*quorum.Status)
		want   []string
		not    []string
	}{
		{
			name: "follower",
			change: func(s *quorum.Status) {
				s.Self, s.State, s.Leader = "srv2", "Follower", "srv1"
				s.Members[0].LastContact, s.Members[1].LastContact = time.Time{}, time.Time{}
				s.Records[0].At = time.Time{}
			},
			want: []string{
				`data-verdict="follower">Following srv1, the leader`, `<h1>srv2 <small>node, follower</small></h1>`,
				`Only the leader asks the members`, `<tr data-member="witness" data-reachable="false" data-voter="true">`,
				`<span class="muted">unknown</span>`, `<span class="muted">not read by this member</span>`,
				`<td>srv1 <span class="tag">leader</span><br>`, `<td>srv2 <span class="tag">this member</span><br>`,
			},
			not: []string{`data-verdict="leader"`, "No quorum"},
		},
		{
			name: "no quorum, a leader known",
			change: func(s *quorum.Status) {
				s.Self, s.State, s.Quorum = "srv2", "Follower", false
			},
			want: []string{
				`data-verdict="no-quorum">NO QUORUM: no write from this member`, `<span class="bad">NOT HELD</span>`,
				`data-quorum="lost"><h2>No quorum</h2><p>This member has not heard from srv1, the last leader it knew, within the lease.`,
				"<code>clooster cluster recover</code>",
			},
		},
		{
			name: "no quorum, no leader",
			change: func(s *quorum.Status) {
				s.Self, s.State, s.Leader, s.Quorum = "srv2", "Candidate", "", false
			},
			want: []string{
				`data-verdict="no-quorum"`, `This member knows no leader that a majority of the members follows.`,
				`<dt>Leader</dt><dd><span class="bad">none known</span>`,
			},
		},
		{
			name:   "the witness leads",
			change: func(s *quorum.Status) { s.Self, s.Leader = "witness", "witness" },
			want:   []string{`data-verdict="witness-leads">Leading as the witness: handing leadership to a node`},
		},
		{
			name: "a member unreachable, another unhealthy",
			change: func(s *quorum.Status) {
				s.Members[0].Reachable = false
				s.Members[2].Healthy = false
			},
			want: []string{`<tr data-member="witness" data-reachable="false" data-voter="true">`, `<span class="bad">NO</span>`, `<span class="bad">UNHEALTHY</span>`},
		},
		{
			name: "a member removed, one not in the file",
			change: func(s *quorum.Status) {
				s.Members[2].Voter = false
				s.Members = append(s.Members, quorum.MemberView{Member: quorum.Member{Name: "srv3", Address: "192.0.2.3:4096"}, Voter: true, Unlisted: true})
			},
			want: []string{
				`<tr data-member="srv2" data-reachable="true" data-voter="false">`,
				`<small class="warn" data-membership="removed">removed from the cluster (still in this file: take it out of <code>cluster.nodes</code>)</small>`,
				`<tr data-member="srv3" data-reachable="false" data-voter="true">`,
				`<small class="warn" data-membership="unlisted">in the cluster, not in this file (added with <code>clooster cluster add</code>)</small>` +
					`</td><td><span class="muted">unknown</span></td><td><span class="muted">unknown</span></td>`,
			},
		},
		{
			name: "before Raft runs",
			change: func(s *quorum.Status) {
				s.State, s.Voters = "", 0
				for i := range s.Members {
					s.Members[i].Voter = false
				}
			},
			want: []string{`<dt>Voters</dt><dd><span class="muted">not known until Raft runs</span></dd>`, `data-voter="unknown"`},
			not:  []string{"data-membership"},
		},
		{
			name: "writes refused and aborted",
			change: func(s *quorum.Status) {
				s.FencedWrites, s.AbortedWrites = 1, 2
			},
			want: []string{`<span class="warn">1 refused by the DNS server</span>`, `<span class="warn">2 not sent</span> (lease too short)`},
		},
		{
			name: "a record written, and one on no node's value",
			change: func(s *quorum.Status) {
				s.Records[0].Written = true
				s.Records = append(s.Records, quorum.RecordStatus{Name: "api.example.com", Content: "203.0.113.5", At: t0})
			},
			want: []string{`written by this member 03:03:05 (1m 0s ago)`, `<tr data-record="api.example.com" data-holder="">`,
				`<span class="warn">no node's value</span>`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := leading()
			tt.change(&st)
			srv := newClusterServer(t, func() quorum.Status { return st }, "")
			_, body, _ := get(t, srv.Client(), srv.URL+"/")
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			for _, not := range tt.not {
				if strings.Contains(body, not) {
					t.Errorf("the page has %q", not)
				}
			}
		})
	}
}

// Every text from the configuration or the DNS is escaped.
func TestClusterEscapes(t *testing.T) {
	st := leading()
	st.Members[1].Name, st.Self, st.Leader = `<b>srv1</b>`, `<b>srv1</b>`, `<b>srv1</b>`
	st.Members[2].Address = `"><script>x()</script>`
	st.Records[0].Name, st.Records[0].Content, st.Records[0].Holder = `<i>www</i>`, `"quoted" & <tag>`, `<b>srv1</b>`
	srv := newClusterServer(t, func() quorum.Status { return st }, "")
	_, body, _ := get(t, srv.Client(), srv.URL+"/")
	for _, bad := range []string{"<b>srv1</b>", "<script>x()", "<i>www</i>", "<tag>"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	for _, want := range []string{`&lt;b&gt;srv1&lt;/b&gt;`, `&#34;&gt;&lt;script&gt;x()&lt;/script&gt;`, `<code>&#34;quoted&#34; &amp; &lt;tag&gt;</code>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestClusterToken(t *testing.T) {
	srv := newClusterServer(t, leading, token)
	c := srv.Client()
	tests := []struct {
		name   string
		path   string
		hdr    []string
		code   int
		inBody string
	}{
		{"healthz is open", "/healthz", nil, 200, "api /healthz"},
		{"the stylesheet is open", "/page.css", nil, 200, "--fg"},
		{"the page asks for the token", "/", nil, 401, `<form method="post" action="/login">`},
		{"the refresh is refused", "/?part=main", nil, 401, "status.token required"},
		{"status is refused", "/status", nil, 401, "status.token required"},
		{"metrics are refused", "/metrics", nil, 401, "status.token required"},
		{"a wrong token is refused", "/", []string{"Authorization", "Bearer wrong-" + token}, 401, "<form"},
		{"the token opens the page", "/", []string{"Authorization", "Bearer " + token}, 200, `data-verdict="leader"`},
		{"the token's cookie opens the page", "/", []string{"Cookie", cookieName + "=" + proof(token)}, 200, `data-verdict="leader"`},
		{"a wrong cookie is refused", "/", []string{"Cookie", cookieName + "=" + proof("wrong")}, 401, "<form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, hdr := get(t, c, srv.URL+tt.path, tt.hdr...)
			if code != tt.code || !strings.Contains(body, tt.inBody) {
				t.Errorf("GET %s = %d %.120q, want %d with %q", tt.path, code, body, tt.code, tt.inBody)
			}
			if code == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s: 401 without WWW-Authenticate", tt.path)
			}
			if strings.Contains(body, token) {
				t.Errorf("GET %s shows the token", tt.path)
			}
		})
	}
}

// The status function is called at every request: the page follows the
// member as it changes.
func TestClusterFollows(t *testing.T) {
	var mu sync.Mutex
	st := leading()
	srv := newClusterServer(t, func() quorum.Status { mu.Lock(); defer mu.Unlock(); return st }, "")
	if _, body, _ := get(t, srv.Client(), srv.URL+"/?part=main"); !strings.Contains(body, `data-verdict="leader"`) {
		t.Fatalf("got %.200q, want the leader's verdict", body)
	}
	mu.Lock()
	st.Quorum, st.State = false, "Follower"
	mu.Unlock()
	if _, body, _ := get(t, srv.Client(), srv.URL+"/?part=main"); !strings.Contains(body, `data-verdict="no-quorum"`) {
		t.Errorf("got %.200q, want no quorum", body)
	}
}
