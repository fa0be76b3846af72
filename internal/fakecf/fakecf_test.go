package fakecf

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

const token = "test-token-0123456789"

// answerJSON is an answer as a client sees it.
type answerJSON struct {
	Success  bool            `json:"success"`
	Errors   []apiError      `json:"errors"`
	Messages []apiError      `json:"messages"`
	Result   json.RawMessage `json:"result"`
	Info     *resultInfo     `json:"result_info"`
	Raw      map[string]any  `json:"-"` // the envelope's keys
	Header   http.Header     `json:"-"`
	Status   int             `json:"-"`
	Body     string          `json:"-"`
}

// call sends one request with the test token and decodes the answer.
func call(t *testing.T, srv *httptest.Server, method, path, body string) answerJSON {
	t.Helper()
	return callWith(t, srv, method, path, body, map[string]string{"Authorization": "Bearer " + token})
}

func callWith(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) answerJSON {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answerJSON{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
		if err := json.Unmarshal(b, &a.Raw); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func codes(errs []apiError) []int {
	var c []int
	for _, e := range errs {
		c = append(c, e.Code)
		c = append(c, codes(e.ErrorChain)...)
	}
	return c
}

type fixture struct {
	s          *Server
	srv        *httptest.Server
	zone       string
	www, www6  string
	apex, mail string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	s := New()
	s.SetToken(token)
	f := fixture{s: s}
	f.zone = s.AddZone("example.com")
	other := s.AddZone("example.org")
	f.www = s.AddRecord(f.zone, Record{Name: "www", Type: "A", Content: "192.0.2.1", TTL: 300, Proxied: true, Comment: "failover", Tags: []string{"env:prod"}})
	f.www6 = s.AddRecord(f.zone, Record{Name: "WWW.example.com.", Type: "AAAA", Content: "2001:db8::1"})
	f.apex = s.AddRecord(f.zone, Record{Name: "@", Type: "A", Content: "192.0.2.10"})
	f.mail = s.AddRecord(f.zone, Record{Name: "mail", Type: "CNAME", Content: "mx.example.net"})
	s.AddRecord(other, Record{Name: "www", Content: "198.51.100.1"})
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

func TestAddRecordNormalizes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		id   string
		want Record
	}{
		{"relative name", f.www, Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Proxied: true, Comment: "failover", Tags: []string{"env:prod"}}},
		{"full name, case and dot", f.www6, Record{Name: "www.example.com", Type: "AAAA", Content: "2001:db8::1", TTL: 1}},
		{"apex", f.apex, Record{Name: "example.com", Type: "A", Content: "192.0.2.10", TTL: 1}},
		{"unknown id", "nope", Record{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.s.Record(tt.id)
			if !equalRecord(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func equalRecord(a, b Record) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Content == b.Content && a.TTL == b.TTL &&
		a.Proxied == b.Proxied && a.Comment == b.Comment && slices.Equal(a.Tags, b.Tags)
}

func TestEnvelopeShape(t *testing.T) {
	f := newFixture(t)
	a := call(t, f.srv, "GET", "/zones?name=example.com&status=active&page=1&per_page=50", "")
	if a.Status != 200 {
		t.Fatalf("status: got %d, want 200 (%s)", a.Status, a.Body)
	}
	for _, k := range []string{"success", "errors", "messages", "result", "result_info"} {
		if _, ok := a.Raw[k]; !ok {
			t.Errorf("answer has no %q: %s", k, a.Body)
		}
	}
	if !a.Success || len(a.Errors) != 0 || a.Messages == nil {
		t.Errorf("got success %v errors %v messages %v, want true, [], []", a.Success, a.Errors, a.Messages)
	}
	want := resultInfo{Page: 1, PerPage: 50, Count: 1, TotalCount: 1, TotalPages: 1}
	if *a.Info != want {
		t.Errorf("result_info: got %+v, want %+v", *a.Info, want)
	}
	var zones []map[string]any
	json.Unmarshal(a.Result, &zones)
	if len(zones) != 1 || zones[0]["id"] != f.zone || zones[0]["name"] != "example.com" || zones[0]["status"] != "active" {
		t.Errorf("zones: got %v, want the one example.com zone", zones)
	}
	if ct := a.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type: got %q, want application/json", ct)
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	zp := "/zones/" + f.zone
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCodes  []int
		wantIDs    []string // ids in the result, in order
	}{
		{"zones by name", "GET", "/zones?name=example.com", 200, nil, []string{f.zone}},
		{"zones by name, trailing dot and case", "GET", "/zones?name=Example.COM.", 200, nil, []string{f.zone}},
		{"zones, unknown name", "GET", "/zones?name=example.net", 200, nil, []string{}},
		{"zones, other status", "GET", "/zones?name=example.com&status=pending", 200, nil, []string{}},
		{"zone details", "GET", zp, 200, nil, []string{f.zone}},
		{"zone details under /client/v4", "GET", "/client/v4" + zp, 200, nil, []string{f.zone}},
		{"unknown zone", "GET", "/zones/0123456789abcdef0123456789abcdef", 404, []int{7003, 7000}, nil},
		{"records by name", "GET", zp + "/dns_records?name=www.example.com", 200, nil, []string{f.www, f.www6}},
		{"records by name and type", "GET", zp + "/dns_records?name=www.example.com&type=AAAA", 200, nil, []string{f.www6}},
		{"records by name.exact", "GET", zp + "/dns_records?name.exact=mail.example.com", 200, nil, []string{f.mail}},
		{"records, name is exact", "GET", zp + "/dns_records?name=example.com", 200, nil, []string{f.apex}},
		{"records, relative name matches nothing", "GET", zp + "/dns_records?name=www", 200, nil, []string{}},
		{"records, other zone's", "GET", zp + "/dns_records?content=198.51.100.1", 200, nil, []string{}},
		{"record details", "GET", zp + "/dns_records/" + f.mail, 200, nil, []string{f.mail}},
		{"record of another zone", "GET", zp + "/dns_records/" + f.s.recIDs[4], 404, []int{81044}, nil},
		{"unknown record", "GET", zp + "/dns_records/0123456789abcdef0123456789abcdef", 404, []int{81044}, nil},
		{"unknown records path", "GET", zp + "/dns_records/x/y", 404, []int{7003, 7000}, nil},
		{"no route", "GET", "/user/tokens/verify", 404, []int{7003, 7000}, nil},
		{"delete not served", "DELETE", zp + "/dns_records/" + f.www, 405, []int{7001}, nil},
		{"post not served", "POST", zp + "/dns_records", 405, []int{7001}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, f.srv, tt.method, tt.path, "")
			if a.Status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", a.Status, tt.wantStatus, a.Body)
			}
			if got := codes(a.Errors); !slices.Equal(got, tt.wantCodes) {
				t.Errorf("codes: got %v, want %v", got, tt.wantCodes)
			}
			if a.Success != (tt.wantStatus == 200) {
				t.Errorf("success: got %v, want %v", a.Success, tt.wantStatus == 200)
			}
			if tt.wantIDs == nil {
				if string(a.Result) != "null" {
					t.Errorf("result: got %s, want null", a.Result)
				}
				return
			}
			var got []string
			var list []struct{ ID string }
			if json.Unmarshal(a.Result, &list) == nil {
				for _, r := range list {
					got = append(got, r.ID)
				}
			} else {
				var one struct{ ID string }
				json.Unmarshal(a.Result, &one)
				got = []string{one.ID}
			}
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tt.wantIDs) {
				t.Errorf("ids: got %v, want %v", got, tt.wantIDs)
			}
		})
	}
}

func TestNoRouteMessage(t *testing.T) {
	f := newFixture(t)
	a := call(t, f.srv, "GET", "/client/v4/zones/nope/dns_records", "")
	want := "Could not route to /client/v4/zones/nope/dns_records, perhaps your object identifier is invalid?"
	if a.Status != 404 || len(a.Errors) == 0 || a.Errors[0].Message != want {
		t.Errorf("got %d %+v, want 404 %q", a.Status, a.Errors, want)
	}
}

func TestRecordShape(t *testing.T) {
	f := newFixture(t)
	a := call(t, f.srv, "GET", "/zones/"+f.zone+"/dns_records/"+f.www, "")
	var got map[string]any
	json.Unmarshal(a.Result, &got)
	want := map[string]any{
		"id": f.www, "zone_id": f.zone, "zone_name": "example.com", "name": "www.example.com",
		"type": "A", "content": "192.0.2.1", "proxiable": true, "proxied": true, "ttl": 300.0,
		"comment": "failover",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	for _, k := range []string{"settings", "meta", "tags", "created_on", "modified_on"} {
		if _, ok := got[k]; !ok {
			t.Errorf("record has no %q", k)
		}
	}

	a = call(t, f.srv, "GET", "/zones/"+f.zone+"/dns_records/"+f.apex, "")
	json.Unmarshal(a.Result, &got)
	if got["comment"] != nil {
		t.Errorf("empty comment: got %v, want null", got["comment"])
	}
	if tags, ok := got["tags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("no tags: got %v, want []", got["tags"])
	}
}

func TestUpdate(t *testing.T) {
	base := Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Proxied: true, Comment: "failover", Tags: []string{"env:prod"}}
	with := func(f func(*Record)) Record {
		r := base
		r.Tags = slices.Clone(base.Tags)
		f(&r)
		return r
	}
	tests := []struct {
		name       string
		method     string
		body       string
		wantStatus int
		wantCodes  []int
		want       Record
	}{
		{"patch content only", "PATCH", `{"content":"192.0.2.2"}`, 200, nil,
			with(func(r *Record) { r.Content = "192.0.2.2" })},
		{"patch ttl and proxied", "PATCH", `{"ttl":120,"proxied":false}`, 200, nil,
			with(func(r *Record) { r.TTL, r.Proxied = 120, false })},
		{"patch comment null clears it", "PATCH", `{"comment":null}`, 200, nil,
			with(func(r *Record) { r.Comment = "" })},
		{"patch tags null keeps them", "PATCH", `{"content":"192.0.2.3","tags":null}`, 200, nil,
			with(func(r *Record) { r.Content = "192.0.2.3" })},
		{"patch tags empty clears them", "PATCH", `{"tags":[]}`, 200, nil,
			with(func(r *Record) { r.Tags = []string{} })},
		{"patch unknown fields accepted", "PATCH", `{"content":"192.0.2.4","settings":{},"id":"x"}`, 200, nil,
			with(func(r *Record) { r.Content = "192.0.2.4" })},
		{"patch type and content", "PATCH", `{"type":"CNAME","content":"other.example.net"}`, 200, nil,
			with(func(r *Record) { r.Type, r.Content = "CNAME", "other.example.net" })},
		{"put replaces", "PUT", `{"name":"www","type":"A","content":"192.0.2.5"}`, 200, nil,
			Record{Name: "www.example.com", Type: "A", Content: "192.0.2.5", TTL: 1}},
		{"put needs content", "PUT", `{"name":"www","type":"A"}`, 400, []int{1004, 9000}, base},
		{"malformed json", "PATCH", `{"content":`, 400, []int{6007}, base},
		{"not an object", "PATCH", `["192.0.2.2"]`, 400, []int{6007}, base},
		{"empty body", "PATCH", ``, 400, []int{6007}, base},
		{"wrong field type", "PATCH", `{"ttl":"300"}`, 400, []int{1004, 9000}, base},
		{"bad A content", "PATCH", `{"content":"alpha"}`, 400, []int{1004, 9005}, base},
		{"IPv6 in an A record", "PATCH", `{"content":"2001:db8::2"}`, 400, []int{1004, 9005}, base},
		{"bad ttl", "PATCH", `{"ttl":5}`, 400, []int{1004, 9021}, base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			before := f.s.Stats()
			a := call(t, f.srv, tt.method, "/zones/"+f.zone+"/dns_records/"+f.www, tt.body)
			if a.Status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", a.Status, tt.wantStatus, a.Body)
			}
			if got := codes(a.Errors); !slices.Equal(got, tt.wantCodes) {
				t.Errorf("codes: got %v, want %v", got, tt.wantCodes)
			}
			if got := f.s.Record(f.www); !equalRecord(got, tt.want) {
				t.Errorf("record: got %+v, want %+v", got, tt.want)
			}
			wantWrites := 0
			if tt.wantStatus == 200 {
				wantWrites = 1
				var got struct{ Content string }
				json.Unmarshal(a.Result, &got)
				if got.Content != tt.want.Content {
					t.Errorf("answered content: got %q, want %q", got.Content, tt.want.Content)
				}
			}
			w := f.s.Writes()
			if len(w) != wantWrites {
				t.Fatalf("writes: got %d, want %d", len(w), wantWrites)
			}
			if wantWrites == 1 && (w[0].RecordID != f.www || w[0].Content != tt.want.Content) {
				t.Errorf("write: got %+v, want record %s content %q", w[0], f.www, tt.want.Content)
			}
			if got := f.s.Stats().Writes - before.Writes; got != wantWrites {
				t.Errorf("stats writes: got %d, want %d", got, wantWrites)
			}
		})
	}
}

func TestSetContentIsNotAWrite(t *testing.T) {
	f := newFixture(t)
	f.s.SetContent(f.www, "192.0.2.99")
	if got := f.s.Record(f.www).Content; got != "192.0.2.99" {
		t.Errorf("content: got %q, want 192.0.2.99", got)
	}
	if got := f.s.Record(f.www).TTL; got != 300 {
		t.Errorf("ttl: got %d, want 300", got)
	}
	if got := len(f.s.Writes()); got != 0 {
		t.Errorf("writes: got %d, want 0", got)
	}
	if got := f.s.Stats().Requests; got != 0 {
		t.Errorf("requests: got %d, want 0", got)
	}
}

func TestAuth(t *testing.T) {
	const key, email = "0123456789abcdef0123456789abcdef01234", "ops@example.com"
	tests := []struct {
		name       string
		token      string // configured
		legacy     bool   // key and email configured
		hdr        map[string]string
		wantStatus int
		wantCodes  []int
	}{
		{"token", token, false, map[string]string{"Authorization": "Bearer " + token}, 200, nil},
		{"wrong token", token, false, map[string]string{"Authorization": "Bearer nope"}, 403, []int{9109}},
		{"token not accepted when only a key is", "", true, map[string]string{"Authorization": "Bearer " + token}, 403, []int{9109}},
		{"not a bearer", token, false, map[string]string{"Authorization": "Basic " + token}, 400, []int{6003, 6111}},
		{"empty bearer", token, false, map[string]string{"Authorization": "Bearer "}, 400, []int{6003, 6111}},
		{"legacy", "", true, map[string]string{"X-Auth-Key": key, "X-Auth-Email": email}, 200, nil},
		{"legacy e-mail case", "", true, map[string]string{"X-Auth-Key": key, "X-Auth-Email": "OPS@example.com"}, 200, nil},
		{"legacy wrong key", "", true, map[string]string{"X-Auth-Key": "nope", "X-Auth-Email": email}, 403, []int{9103}},
		{"legacy no e-mail", "", true, map[string]string{"X-Auth-Key": key}, 400, []int{9106}},
		{"legacy no key", "", true, map[string]string{"X-Auth-Email": email}, 400, []int{9107}},
		{"key not accepted when only a token is", token, false, map[string]string{"X-Auth-Key": key, "X-Auth-Email": email}, 403, []int{9103}},
		{"both configured, token", token, true, map[string]string{"Authorization": "Bearer " + token}, 200, nil},
		{"both configured, key", token, true, map[string]string{"X-Auth-Key": key, "X-Auth-Email": email}, 200, nil},
		{"no credentials", token, false, nil, 400, []int{9106, 9107}},
		{"open server, any token", "", false, map[string]string{"Authorization": "Bearer anything"}, 200, nil},
		{"open server, still needs credentials", "", false, nil, 400, []int{9106, 9107}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			s.SetToken(tt.token)
			if tt.legacy {
				s.SetLegacyAuth(key, email)
			}
			srv := httptest.NewServer(s)
			defer srv.Close()
			a := callWith(t, srv, "GET", "/zones", "", tt.hdr)
			if a.Status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", a.Status, tt.wantStatus, a.Body)
			}
			if got := codes(a.Errors); !slices.Equal(got, tt.wantCodes) {
				t.Errorf("codes: got %v, want %v", got, tt.wantCodes)
			}
			if strings.Contains(a.Body, key) || (tt.token != "" && strings.Contains(a.Body, tt.token)) {
				t.Errorf("answer echoes a credential: %s", a.Body)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	s := New()
	z := s.AddZone("example.com")
	for range 12 {
		s.AddRecord(z, Record{Name: "rr", Content: "192.0.2.1"})
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	tests := []struct {
		name  string
		query string
		want  resultInfo
	}{
		{"default", "", resultInfo{Page: 1, PerPage: 100, Count: 12, TotalCount: 12, TotalPages: 1}},
		{"first page", "per_page=5", resultInfo{Page: 1, PerPage: 5, Count: 5, TotalCount: 12, TotalPages: 3}},
		{"last page", "per_page=5&page=3", resultInfo{Page: 3, PerPage: 5, Count: 2, TotalCount: 12, TotalPages: 3}},
		{"past the end", "per_page=5&page=9", resultInfo{Page: 9, PerPage: 5, Count: 0, TotalCount: 12, TotalPages: 3}},
		{"per_page clamped", "per_page=1", resultInfo{Page: 1, PerPage: 5, Count: 5, TotalCount: 12, TotalPages: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := callWith(t, srv, "GET", "/zones/"+z+"/dns_records?"+tt.query, "", map[string]string{"Authorization": "Bearer x"})
			if a.Info == nil || *a.Info != tt.want {
				t.Fatalf("result_info: got %+v, want %+v", a.Info, tt.want)
			}
			var list []any
			json.Unmarshal(a.Result, &list)
			if len(list) != tt.want.Count {
				t.Errorf("results: got %d, want %d", len(list), tt.want.Count)
			}
		})
	}
}

func TestRequestLog(t *testing.T) {
	f := newFixture(t)
	call(t, f.srv, "PATCH", "/client/v4/zones/"+f.zone+"/dns_records/"+f.www, `{"content":"192.0.2.7"}`)
	callWith(t, f.srv, "GET", "/zones?name=example.com", "", nil)
	got := f.s.Requests()
	want := []Request{
		{Method: "PATCH", Path: "/client/v4/zones/" + f.zone + "/dns_records/" + f.www, Auth: "token", Body: `{"content":"192.0.2.7"}`, Status: 200},
		{Method: "GET", Path: "/zones", Query: "name=example.com", Status: 400},
	}
	if len(got) != len(want) {
		t.Fatalf("requests: got %d, want %d", len(got), len(want))
	}
	for i := range want {
		got[i].At = want[i].At
		if got[i] != want[i] {
			t.Errorf("request %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	st := f.s.Stats()
	if st.Requests != 2 || st.Writes != 1 || st.Reads != 0 || st.Failures[400] != 1 {
		t.Errorf("stats: got %+v, want 2 requests, 1 write, 0 reads, one 400", st)
	}
}

// The batch endpoint applies its patches as one transaction: all, or none
// with the failing patch's error.
func TestBatch(t *testing.T) {
	f := newFixture(t)
	path := "/client/v4/zones/" + f.zone + "/dns_records/batch"
	a := call(t, f.srv, "POST", path, `{"patches":[{"id":"`+f.www+`","content":"192.0.2.2"},{"id":"`+f.www6+`","content":"2001:db8::2"}]}`)
	if a.Status != 200 || !a.Success {
		t.Fatalf("batch: %d %s", a.Status, a.Body)
	}
	var res struct {
		Patches []struct {
			ID, Content string
		} `json:"patches"`
	}
	if err := json.Unmarshal(a.Result, &res); err != nil || len(res.Patches) != 2 || res.Patches[1].Content != "2001:db8::2" {
		t.Errorf("result %s: %v", a.Result, err)
	}
	if w := f.s.Writes(); len(w) != 2 || !w[0].At.Equal(w[1].At) {
		t.Errorf("writes %+v, want two at one time", w)
	}
	if st := f.s.Stats(); st.Batches != 1 || st.Requests != 1 {
		t.Errorf("stats %+v", st)
	}

	for _, tt := range []struct{ name, body string }{
		{"a bad content", `{"patches":[{"id":"` + f.www + `","content":"192.0.2.3"},{"id":"` + f.www6 + `","content":"alpha"}]}`},
		{"an unknown record", `{"patches":[{"id":"` + f.www + `","content":"192.0.2.3"},{"id":"nope","content":"2001:db8::3"}]}`},
		{"a delete", `{"deletes":[{"id":"` + f.www + `"}]}`},
	} {
		if a := call(t, f.srv, "POST", path, tt.body); a.Status != 400 || a.Success {
			t.Errorf("%s: %d %s", tt.name, a.Status, a.Body)
		}
	}
	f.s.RefuseWrites(f.www6, true)
	if a := call(t, f.srv, "POST", path, `{"patches":[{"id":"`+f.www+`","content":"192.0.2.4"},{"id":"`+f.www6+`","content":"2001:db8::4"}]}`); a.Status != 400 {
		t.Errorf("a refused record: %d", a.Status)
	}
	if got := f.s.Record(f.www).Content; got != "192.0.2.2" || len(f.s.Writes()) != 2 {
		t.Errorf("a failed batch wrote: %q, %d writes", got, len(f.s.Writes()))
	}
}
