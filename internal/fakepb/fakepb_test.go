package fakepb

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const token = "o.test-token"

type request struct {
	method      string
	path        string
	header      map[string]string
	contentType string // "" means application/json
	body        string
}

func do(t *testing.T, s *Server, req request) *httptest.ResponseRecorder {
	t.Helper()
	return doContext(context.Background(), s, req)
}

func doContext(ctx context.Context, s *Server, req request) *httptest.ResponseRecorder {
	method := req.method
	if method == "" {
		method = http.MethodPost
	}
	r := httptest.NewRequestWithContext(ctx, method, req.path, strings.NewReader(req.body))
	ct := req.contentType
	if ct == "" {
		ct = "application/json"
	}
	r.Header.Set("Content-Type", ct)
	if req.header == nil {
		r.Header.Set("Access-Token", token)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, w.Body.String())
	}
	return m
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name       string
		req        request
		wantTarget map[string]string
		wantEcho   map[string]any // fields of the push object
	}{
		{
			name:     "note to all devices",
			req:      request{path: "/pushes", body: `{"type":"note","title":"t","body":"b"}`},
			wantEcho: map[string]any{"direction": "self", "receiver_email": AccountEmail},
		},
		{
			name:       "device",
			req:        request{path: "/v2/pushes", body: `{"type":"note","title":"t","body":"b","device_iden":"dev1"}`},
			wantTarget: map[string]string{"device_iden": "dev1"},
			wantEcho:   map[string]any{"target_device_iden": "dev1"},
		},
		{
			name:       "email",
			req:        request{path: "/v2/pushes", body: `{"type":"note","title":"t","body":"b","email":"Ops@Example.org"}`},
			wantTarget: map[string]string{"email": "Ops@Example.org"},
			wantEcho:   map[string]any{"direction": "outgoing", "receiver_email": "Ops@Example.org", "receiver_email_normalized": "ops@example.org"},
		},
		{
			name:       "channel",
			req:        request{path: "/pushes", body: `{"type":"note","title":"t","body":"b","channel_tag":"alerts"}`},
			wantTarget: map[string]string{"channel_tag": "alerts"},
			wantEcho:   map[string]any{"channel_iden": "ujchanalerts"},
		},
		{
			name:       "client",
			req:        request{path: "/pushes", body: `{"type":"note","title":"t","body":"b","client_iden":"cl1"}`},
			wantTarget: map[string]string{"client_iden": "cl1"},
			wantEcho:   map[string]any{"client_iden": "cl1"},
		},
		{
			name: "bearer token",
			req: request{path: "/pushes", body: `{"type":"note","title":"t","body":"b"}`,
				header: map[string]string{"Authorization": "Bearer " + token}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(token)
			before := time.Now()
			w := do(t, s, tt.req)
			if got, want := w.Code, http.StatusOK; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, w.Body)
			}
			obj := decode(t, w)
			for k, want := range tt.wantEcho {
				if got := obj[k]; got != want {
					t.Errorf("answer %s = %v, want %v", k, got, want)
				}
			}
			pushes := s.Pushes()
			if got, want := len(pushes), 1; got != want {
				t.Fatalf("len(Pushes()) = %d, want %d", got, want)
			}
			p := pushes[0]
			if p.Title != "t" || p.Body != "b" {
				t.Errorf("push = %q/%q, want %q/%q", p.Title, p.Body, "t", "b")
			}
			if got, want := p.Target, tt.wantTarget; !reflect.DeepEqual(got, want) {
				t.Errorf("Target = %v, want %v", got, want)
			}
			if p.At.Before(before) {
				t.Errorf("At = %v, before the request (%v)", p.At, before)
			}
			if got, want := s.Stats().Accepted, 1; got != want {
				t.Errorf("Stats().Accepted = %d, want %d", got, want)
			}
		})
	}
}

func TestPushObjectShape(t *testing.T) {
	s := New(token)
	w := do(t, s, request{path: "/v2/pushes", body: `{"type":"note","title":"Space","body":"Elevator"}`})
	obj := decode(t, w)
	for _, k := range []string{
		"iden", "active", "created", "modified", "type", "dismissed", "direction",
		"sender_iden", "sender_email", "sender_email_normalized", "sender_name",
		"receiver_iden", "receiver_email", "receiver_email_normalized", "title", "body",
	} {
		if _, ok := obj[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, w.Body)
		}
	}
	if got, ok := obj["created"].(float64); !ok || got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("created = %v, want float seconds of now", obj["created"])
	}
	if got, want := obj["type"], "note"; got != want {
		t.Errorf("type = %v, want %v", got, want)
	}
	if got, want := obj["active"], true; got != want {
		t.Errorf("active = %v, want %v", got, want)
	}
	if got, want := w.Header().Get("X-Ratelimit-Limit"), strconv.Itoa(RateLimit); got != want {
		t.Errorf("X-Ratelimit-Limit = %q, want %q", got, want)
	}
	if w.Header().Get("X-Ratelimit-Reset") == "" || w.Header().Get("X-Ratelimit-Remaining") == "" {
		t.Errorf("rate-limit headers missing: %v", w.Header())
	}
}

func TestRejected(t *testing.T) {
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string
		wantParam  string
	}{
		{name: "no token", req: request{path: "/pushes", header: map[string]string{}, body: `{"type":"note"}`},
			wantStatus: 401, wantCode: "invalid_access_token"},
		{name: "wrong token", req: request{path: "/pushes", header: map[string]string{"Access-Token": "o.other"}, body: `{"type":"note"}`},
			wantStatus: 401, wantCode: "invalid_access_token"},
		{name: "bad json", req: request{path: "/pushes", body: `{"type":"note",`},
			wantStatus: 400, wantCode: "invalid_request"},
		{name: "title not a string", req: request{path: "/pushes", body: `{"type":"note","title":3}`},
			wantStatus: 400, wantCode: "invalid_request"},
		{name: "not json", req: request{path: "/pushes", contentType: "application/x-www-form-urlencoded", body: `type=note`},
			wantStatus: 400, wantCode: "invalid_request"},
		{name: "no type", req: request{path: "/pushes", body: `{"title":"t"}`},
			wantStatus: 400, wantCode: "invalid_request", wantParam: "type"},
		{name: "unknown type", req: request{path: "/pushes", body: `{"type":"sms"}`},
			wantStatus: 400, wantCode: "invalid_request", wantParam: "type"},
		{name: "two targets", req: request{path: "/pushes", body: `{"type":"note","email":"a@b.c","device_iden":"d"}`},
			wantStatus: 400, wantCode: "invalid_request"},
		{name: "unknown path", req: request{path: "/v2/devices", body: `{}`},
			wantStatus: 404, wantCode: "not_found"},
		{name: "wrong method", req: request{method: http.MethodDelete, path: "/v2/pushes"},
			wantStatus: 405, wantCode: "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(token)
			w := do(t, s, tt.req)
			if got, want := w.Code, tt.wantStatus; got != want {
				t.Fatalf("status = %d, want %d: %s", got, want, w.Body)
			}
			var got errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("error body is not JSON: %v", err)
			}
			if got.Error.Code != tt.wantCode || got.ErrorCode != tt.wantCode {
				t.Errorf("code = %q, error_code = %q, want %q", got.Error.Code, got.ErrorCode, tt.wantCode)
			}
			if got.Error.Param != tt.wantParam {
				t.Errorf("param = %q, want %q", got.Error.Param, tt.wantParam)
			}
			if got.Error.Message == "" || got.Error.Cat != cat {
				t.Errorf("error = %+v, want a message and the cat", got.Error)
			}
			if n := len(s.Pushes()); n != 0 {
				t.Errorf("len(Pushes()) = %d, want 0", n)
			}
			st := s.Stats()
			if got, want := st.Rejected[tt.wantStatus], 1; got != want {
				t.Errorf("Stats().Rejected[%d] = %d, want %d", tt.wantStatus, got, want)
			}
		})
	}
}

func TestUnauthorizedBodyExact(t *testing.T) {
	s := New(token)
	w := do(t, s, request{path: "/v2/pushes", header: map[string]string{}, body: `{"type":"note"}`})
	want := `{"error":{"code":"invalid_access_token","type":"invalid_request","message":"Access token is missing or invalid.","cat":"~(=^‥^)ノ"},"error_code":"invalid_access_token"}`
	if got := strings.TrimSpace(w.Body.String()); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if got, want := w.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
}

func TestEmptyTokenAcceptsAny(t *testing.T) {
	s := New("")
	w := do(t, s, request{path: "/pushes", header: map[string]string{"Access-Token": "o.anything"}, body: `{"type":"note"}`})
	if got, want := w.Code, http.StatusOK; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
	w = do(t, s, request{path: "/pushes", header: map[string]string{}, body: `{"type":"note"}`})
	if got, want := w.Code, http.StatusUnauthorized; got != want {
		t.Errorf("no token: status = %d, want %d", got, want)
	}
}

func TestFailNext(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		wantCode string // "" for a non-JSON answer
		wantType string
	}{
		{name: "rate limited", status: 429, wantCode: "too_many_requests", wantType: "invalid_request"},
		{name: "server error", status: 500, wantCode: "internal_server_error", wantType: "server"},
		{name: "unavailable", status: 503, wantCode: "service_unavailable", wantType: "server"},
		{name: "forbidden", status: 403, wantCode: "forbidden", wantType: "invalid_request"},
		{name: "bad gateway from a proxy", status: 502},
		{name: "gateway timeout from a proxy", status: 504},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(token)
			s.FailNext(2, tt.status)
			body := `{"type":"note","title":"t"}`
			for i := range 2 {
				w := do(t, s, request{path: "/pushes", body: body})
				if got, want := w.Code, tt.status; got != want {
					t.Fatalf("request %d: status = %d, want %d", i, got, want)
				}
				if tt.wantCode == "" {
					if ct := w.Header().Get("Content-Type"); strings.Contains(ct, "json") {
						t.Errorf("Content-Type = %q, want a non-JSON answer", ct)
					}
					continue
				}
				var got errorBody
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatalf("error body is not JSON: %v", err)
				}
				if got.Error.Code != tt.wantCode || got.Error.Type != tt.wantType || got.ErrorCode != tt.wantCode {
					t.Errorf("error = %+v (error_code %q), want code %q type %q", got.Error, got.ErrorCode, tt.wantCode, tt.wantType)
				}
				if tt.status == 429 {
					reset, err := strconv.ParseInt(w.Header().Get("X-Ratelimit-Reset"), 10, 64)
					if err != nil {
						t.Fatalf("X-Ratelimit-Reset: %v", err)
					}
					if d := time.Until(time.Unix(reset, 0)); d < time.Second || d > 3*time.Second {
						t.Errorf("X-Ratelimit-Reset is %v ahead, want about 2s", d)
					}
					if got, want := w.Header().Get("X-Ratelimit-Remaining"), "0"; got != want {
						t.Errorf("X-Ratelimit-Remaining = %q, want %q", got, want)
					}
				}
			}
			if w := do(t, s, request{path: "/pushes", body: body}); w.Code != http.StatusOK {
				t.Errorf("third request: status = %d, want 200", w.Code)
			}
			st := s.Stats()
			if got, want := st.Rejected[tt.status], 2; got != want {
				t.Errorf("Rejected[%d] = %d, want %d", tt.status, got, want)
			}
			if got, want := st.Requests, 3; got != want {
				t.Errorf("Requests = %d, want %d", got, want)
			}
			if got, want := len(s.Pushes()), 1; got != want {
				t.Errorf("len(Pushes()) = %d, want %d", got, want)
			}
		})
	}
}

func TestGUIDIsIdempotent(t *testing.T) {
	s := New(token)
	body := `{"type":"note","title":"t","guid":"g1"}`
	a := decode(t, do(t, s, request{path: "/pushes", body: body}))
	b := decode(t, do(t, s, request{path: "/pushes", body: body}))
	if a["iden"] != b["iden"] {
		t.Errorf("idens = %v, %v, want the same push twice", a["iden"], b["iden"])
	}
	do(t, s, request{path: "/pushes", body: `{"type":"note","title":"t","guid":"g2"}`})
	if got, want := len(s.Pushes()), 2; got != want {
		t.Errorf("len(Pushes()) = %d, want %d", got, want)
	}
	if got, want := s.Stats().Accepted, 3; got != want {
		t.Errorf("Accepted = %d, want %d", got, want)
	}
}

func TestList(t *testing.T) {
	s := New(token)
	for _, title := range []string{"first", "second"} {
		do(t, s, request{path: "/v2/pushes", body: `{"type":"note","title":"` + title + `"}`})
	}
	w := do(t, s, request{method: http.MethodGet, path: "/v2/pushes"})
	var got struct {
		Pushes []struct {
			Title string `json:"title"`
		} `json:"pushes"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, p := range got.Pushes {
		titles = append(titles, p.Title)
	}
	if want := []string{"second", "first"}; !reflect.DeepEqual(titles, want) {
		t.Errorf("titles = %v, want %v (newest first)", titles, want)
	}
}

func TestPushesIsACopy(t *testing.T) {
	s := New(token)
	do(t, s, request{path: "/pushes", body: `{"type":"note","email":"a@b.c"}`})
	s.Pushes()[0].Target["email"] = "changed"
	if got, want := s.Pushes()[0].Target["email"], "a@b.c"; got != want {
		t.Errorf("Target[email] = %q, want %q", got, want)
	}
	st := s.Stats()
	st.Rejected[500] = 9
	if got := s.Stats().Rejected[500]; got != 0 {
		t.Errorf("Rejected[500] = %d after changing a copy, want 0", got)
	}
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(token)
		s.SetLatency(3 * time.Second)
		start := time.Now()
		w := do(t, s, request{path: "/pushes", body: `{"type":"note"}`})
		if got, want := time.Since(start), 3*time.Second; got != want {
			t.Errorf("answered after %v, want %v", got, want)
		}
		if got, want := w.Code, http.StatusOK; got != want {
			t.Errorf("status = %d, want %d", got, want)
		}
	})
}

func TestLatencyCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(token)
		s.SetLatency(time.Minute)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done)
			doContext(ctx, s, request{path: "/pushes", body: `{"type":"note"}`})
		}()
		synctest.Wait() // the request is waiting in the handler
		cancel()
		<-done
		if got, want := time.Since(start), time.Duration(0); got != want {
			t.Errorf("handler returned after %v, want %v", got, want)
		}
		st := s.Stats()
		if st.Canceled != 1 || st.Accepted != 0 || len(s.Pushes()) != 0 {
			t.Errorf("Stats() = %+v, pushes %d; want one canceled, none accepted", st, len(s.Pushes()))
		}
	})
}

func TestDown(t *testing.T) {
	s := New(token)
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func() (*http.Response, error) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/v2/pushes", strings.NewReader(`{"type":"note"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Access-Token", token)
		req.Header.Set("Content-Type", "application/json")
		return srv.Client().Do(req)
	}

	s.SetDown(true)
	if resp, err := post(); err == nil {
		resp.Body.Close()
		t.Fatalf("down: got status %d, want a connection error", resp.StatusCode)
	}
	if got, want := s.Stats().Dropped, 1; got != want {
		t.Errorf("Dropped = %d, want %d", got, want)
	}

	s.SetDown(false)
	resp, err := post()
	if err != nil {
		t.Fatalf("up again: %v", err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Errorf("up again: status = %d, want %d", got, want)
	}
}

func TestConcurrent(t *testing.T) {
	s := New(token)
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%10 == 0 {
				s.Stats()
				s.Pushes()
			}
			do(t, s, request{path: "/pushes", body: `{"type":"note","title":"` + strconv.Itoa(i) + `"}`})
		})
	}
	wg.Wait()
	if got, want := len(s.Pushes()), n; got != want {
		t.Errorf("len(Pushes()) = %d, want %d", got, want)
	}
	if got, want := s.Stats().Accepted, n; got != want {
		t.Errorf("Accepted = %d, want %d", got, want)
	}
}
