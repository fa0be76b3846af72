package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/notify/webhook"
)

// received is a request as the endpoint saw it.
type received struct {
	method string
	path   string
	query  url.Values
	header http.Header
	body   []byte
}

// endpoint is an httptest server that records every request and answers
// with answer.
type endpoint struct {
	srv  *httptest.Server
	reqs chan received
}

func newEndpoint(t *testing.T, answer http.HandlerFunc) *endpoint {
	t.Helper()
	e := &endpoint{reqs: make(chan received, 16)}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.reqs <- received{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(), body: body}
		if answer == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		answer(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// host is the endpoint's host:port.
func (e *endpoint) host() string { return e.srv.Listener.Addr().String() }

// last returns the request the endpoint received.
func (e *endpoint) last(t *testing.T) received {
	t.Helper()
	select {
	case r := <-e.reqs:
		return r
	default:
		t.Fatal("the endpoint received no request")
		return received{}
	}
}

// sender parses raw, with HOST standing for the endpoint's address.
func (e *endpoint) sender(t *testing.T, raw string) *webhook.Sender {
	t.Helper()
	u, err := url.Parse(strings.ReplaceAll(raw, "HOST", e.host()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := webhook.New(u, e.srv.Client())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestPushRequest(t *testing.T) {
	tests := []struct {
		name        string
		url         string
		title, body string
		wantMethod  string
		wantPath    string
		wantQuery   url.Values
		wantHeader  map[string]string
		wantBody    string // compared as JSON when it starts with "{"
	}{
		{
			name:  "plain body",
			url:   "generic://HOST/api/hook?disabletls=yes",
			title: "ignored", body: "peer down",
			wantMethod: "POST", wantPath: "/api/hook", wantQuery: url.Values{},
			wantHeader: map[string]string{"Content-Type": "text/plain", "Accept": "text/plain"},
			wantBody:   "peer down",
		},
		{
			name:       "custom form",
			url:        "generic+http://HOST/hook",
			body:       "b",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantHeader: map[string]string{"Content-Type": "text/plain"},
			wantBody:   "b",
		},
		{
			name:  "json with title",
			url:   "generic://HOST/hook?disabletls=yes&template=json",
			title: "clooster", body: "peer down",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantHeader: map[string]string{"Content-Type": "application/json", "Accept": "application/json"},
			wantBody:   `{"title":"clooster","message":"peer down"}`,
		},
		{
			name:       "json without title",
			url:        "generic+http://HOST/hook?template=JSON",
			body:       "peer down",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantBody: `{"message":"peer down"}`,
		},
		{
			name:       "title from the URL when none is given",
			url:        "generic+http://HOST/hook?template=json&title=From+URL",
			body:       "b",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantBody: `{"title":"From URL","message":"b"}`,
		},
		{
			name:  "title given wins over the URL's",
			url:   "generic+http://HOST/hook?template=json&title=From+URL",
			title: "given", body: "b",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantBody: `{"title":"given","message":"b"}`,
		},
		{
			name:  "keys, extra fields, content type and method",
			url:   "generic+http://HOST/hook?template=json&titlekey=header&messagekey=text&$context=home&$n=1&contenttype=application/vnd.x%2Bjson&method=PUT",
			title: "t", body: "b",
			wantMethod: "PUT", wantPath: "/hook", wantQuery: url.Values{},
			wantHeader: map[string]string{"Content-Type": "application/vnd.x+json"},
			wantBody:   `{"header":"t","text":"b","context":"home","n":"1"}`,
		},
		{
			name:       "an extra field overrides the message",
			url:        "generic+http://HOST/hook?template=json&$message=fixed",
			body:       "b",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantBody: `{"message":"fixed"}`,
		},
		{
			name:       "headers",
			url:        "generic+http://HOST/hook?@Authorization=Bearer+s3cret&@contentType=text/x-alert&@X-Key=k",
			body:       "b",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantHeader: map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "text/x-alert", "X-Key": "k"},
			wantBody:   "b",
		},
		{
			name:       "other keys pass on, escaped ones unescaped",
			url:        "generic+http://HOST/hook?token=abc&__title=x&__method=y",
			body:       "b",
			wantMethod: "POST", wantPath: "/hook",
			wantQuery: url.Values{"token": {"abc"}, "title": {"x"}, "method": {"y"}},
			wantBody:  "b",
		},
		{
			name:       "userinfo as basic auth",
			url:        "generic+http://user:pa%20ss@HOST/hook",
			body:       "b",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantHeader: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa ss"))},
			wantBody:   "b",
		},
		{
			name:       "a header's Authorization wins over userinfo",
			url:        "generic+http://user:pass@HOST/hook?@Authorization=Token+t",
			body:       "b",
			wantMethod: "POST", wantPath: "/hook", wantQuery: url.Values{},
			wantHeader: map[string]string{"Authorization": "Token t"},
			wantBody:   "b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, nil)
			s := e.sender(t, tt.url)
			if err := s.Push(t.Context(), tt.title, tt.body); err != nil {
				t.Fatalf("Push: %v", err)
			}
			r := e.last(t)
			if got, want := r.method, tt.wantMethod; got != want {
				t.Errorf("method = %q, want %q", got, want)
			}
			if got, want := r.path, tt.wantPath; got != want {
				t.Errorf("path = %q, want %q", got, want)
			}
			if tt.wantQuery != nil {
				if got, want := r.query, tt.wantQuery; !reflect.DeepEqual(got, want) {
					t.Errorf("query = %v, want %v", got, want)
				}
			}
			for k, want := range tt.wantHeader {
				if got := r.header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if strings.HasPrefix(tt.wantBody, "{") {
				var got, want map[string]string
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatalf("body is not a JSON object of strings: %v: %s", err, r.body)
				}
				if err := json.Unmarshal([]byte(tt.wantBody), &want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("body = %v, want %v", got, want)
				}
			} else if got, want := string(r.body), tt.wantBody; got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "custom template", url: "generic://user:pw-secret@example.com/hook?template=news&@Authorization=hdr-secret",
			wantErr: `webhook: template: custom templates are not supported, only json (got "news")`},
		{name: "other scheme", url: "https://example.com/hook", wantErr: `webhook: scheme: want generic, generic+https or generic+http (got "https")`},
		{name: "no host", url: "generic:///hook", wantErr: "webhook: no host: want generic://host[:port]/path"},
		{name: "opaque", url: "generic:example.com", wantErr: "webhook: no host: want generic://host[:port]/path"},
		{name: "disabletls not a boolean", url: "generic://example.com/?disabletls=maybe", wantErr: `webhook: disabletls: want yes or no (got "maybe")`},
		{name: "method not a token", url: "generic://example.com/?method=PO%20ST", wantErr: `webhook: method: not an HTTP method (got "PO ST")`},
		{name: "header value with a newline", url: "generic://example.com/?@X-A=hdr-secret%0Aevil", wantErr: `webhook: header "X-A": invalid name or value`},
		{name: "malformed query", url: "generic://example.com/?token=q-secret&x=%zz", wantErr: "webhook: malformed query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = webhook.New(u, nil)
			if err == nil {
				t.Fatal("New: no error")
			}
			if got, want := err.Error(), tt.wantErr; got != want {
				t.Errorf("error = %q, want %q", got, want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
	if _, err := webhook.New(nil, nil); err == nil {
		t.Error("New(nil): no error")
	}
}

func TestPushStatusError(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		header        map[string]string
		body          string
		wantErr       string
		wantTemporary bool
		wantRetry     time.Duration
	}{
		{name: "bad request", status: 400, header: map[string]string{"Content-Type": "text/plain"}, body: "no such hook\nmore",
			wantErr: "webhook: 400 Bad Request: no such hook"},
		{name: "unauthorized", status: 401, header: map[string]string{"Content-Type": "application/json"}, body: `{"error":"bad token Bearer hdr-secret"}`,
			wantErr: `webhook: 401 Unauthorized: {"error":"bad token [redacted]"}`},
		{name: "unauthorized, the token alone", status: 401, header: map[string]string{"Content-Type": "text/plain"}, body: "token hdr-secret expired",
			wantErr: "webhook: 401 Unauthorized: token [redacted] expired"},
		{name: "not found, html left out", status: 404, header: map[string]string{"Content-Type": "text/html"}, body: "<html>q-secret</html>",
			wantErr: "webhook: 404 Not Found"},
		{name: "rate limited", status: 429, header: map[string]string{"Retry-After": "7"},
			wantErr: "webhook: 429 Too Many Requests", wantTemporary: true, wantRetry: 7 * time.Second},
		{name: "server error", status: 500,
			wantErr: "webhook: 500 Internal Server Error", wantTemporary: true},
		{name: "unavailable, retry after a day at most", status: 503, header: map[string]string{"Retry-After": "999999"},
			wantErr: "webhook: 503 Service Unavailable", wantTemporary: true, wantRetry: 24 * time.Hour},
		{name: "unknown status", status: 599,
			wantErr: "webhook: 599", wantTemporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			s := e.sender(t, "generic+http://user:pw-secret@HOST/hook?token=q-secret&@Authorization=Bearer+hdr-secret")
			err := s.Push(t.Context(), "t", "b")
			var we *webhook.Error
			if !errors.As(err, &we) {
				t.Fatalf("Push: %v (%T), want a *webhook.Error", err, err)
			}
			if got, want := err.Error(), tt.wantErr; got != want {
				t.Errorf("error = %q, want %q", got, want)
			}
			if got, want := we.Status, tt.status; got != want {
				t.Errorf("Status = %d, want %d", got, want)
			}
			if got, want := we.Temporary(), tt.wantTemporary; got != want {
				t.Errorf("Temporary() = %v, want %v", got, want)
			}
			if got, want := we.Retry, tt.wantRetry; got != want {
				t.Errorf("Retry = %v, want %v", got, want)
			}
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	err := e.sender(t, "generic+http://HOST/hook").Push(t.Context(), "", "b")
	var we *webhook.Error
	if !errors.As(err, &we) {
		t.Fatalf("Push: %v, want a *webhook.Error", err)
	}
	// The header has whole seconds, and the clock runs between the answer and
	// the parse.
	if we.Retry <= time.Minute || we.Retry > 2*time.Minute {
		t.Errorf("Retry = %v, want about 2m", we.Retry)
	}
}

func TestPushNetworkError(t *testing.T) {
	e := newEndpoint(t, nil)
	s := e.sender(t, "generic+http://user:pw-secret@HOST/hook-path-secret?token=q-secret&@Authorization=Bearer+hdr-secret")
	e.srv.Close()

	err := s.Push(t.Context(), "t", "b")
	var we *webhook.Error
	if !errors.As(err, &we) {
		t.Fatalf("Push: %v (%T), want a *webhook.Error", err, err)
	}
	if got, want := we.Status, 0; got != want {
		t.Errorf("Status = %d, want %d", got, want)
	}
	if !we.Temporary() {
		t.Error("Temporary() = false, want true")
	}
	if want := "webhook: POST http://" + e.host() + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows a secret", err)
	}
}

func TestPushCanceled(t *testing.T) {
	arrived := make(chan struct{})
	e := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	s := e.sender(t, "generic+http://HOST/hook?token=q-secret")
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	err := s.Push(ctx, "t", "b")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Push: %v, want context.Canceled", err)
	}
	var we *webhook.Error
	if !errors.As(err, &we) || !we.Temporary() {
		t.Errorf("Push: %v, want a temporary *webhook.Error", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows a secret", err)
	}
}

func TestSecrets(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want []string
	}{
		{name: "none", url: "generic://example.com/hook?template=json&title=t&$context=c", want: nil},
		{name: "all kinds",
			url:  "generic://user:pass@example.com/hook?@Authorization=Bearer+tok&@X-Key=k&key=qv&__title=tv&$context=c",
			want: []string{"Bearer tok", "tok", "k", "user", "pass", "dXNlcjpwYXNz", "qv", "tv"}},
		{name: "each once, empty left out", url: "generic://user:@example.com/hook?@A=user&b=user&c=", want: []string{"user", "dXNlcjo="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			s, err := webhook.New(u, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Secrets()
			// The query's values come in map order.
			if !sameSet(got, tt.want) {
				t.Errorf("Secrets() = %q, want %q", got, tt.want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[string]int)
	for _, v := range a {
		m[v]++
	}
	for _, v := range b {
		if m[v] != 1 {
			return false
		}
		m[v]--
	}
	return true
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"generic://user:pass@example.com:8443/path/key?q=1", "https://example.com:8443"},
		{"generic://example.com/path?disabletls=yes", "http://example.com"},
		{"generic+http://example.com/path?disabletls=no", "http://example.com"},
		{"generic+https://example.com/path?disabletls=yes", "https://example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			s, err := webhook.New(u, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Endpoint(); got != tt.want {
				t.Errorf("Endpoint() = %q, want %q", got, tt.want)
			}
		})
	}
}
