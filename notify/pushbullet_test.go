package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakepb"
)

const testToken = "o.Sekr3tT0kenValue"

// seen is one request as it reached the fake API.
type seen struct {
	method, path string
	header       http.Header
	body         map[string]any
}

// apiServer serves fake in front of a recorder of the requests; arrived gets
// a value each time a request has been read, before the fake answers it.
type apiServer struct {
	*httptest.Server
	fake *fakepb.Server

	mu      sync.Mutex
	seen    []seen
	arrived chan struct{}
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	a := &apiServer{fake: fakepb.New(testToken), arrived: make(chan struct{}, 16)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request: %v", err)
		}
		s := seen{method: r.Method, path: r.URL.Path, header: r.Header.Clone()}
		json.Unmarshal(raw, &s.body)
		a.mu.Lock()
		a.seen = append(a.seen, s)
		a.mu.Unlock()
		a.arrived <- struct{}{}
		r.Body = io.NopCloser(strings.NewReader(string(raw)))
		a.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *apiServer) requests() []seen {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seen(nil), a.seen...)
}

func (a *apiServer) client(target Target) *Pushbullet {
	return &Pushbullet{BaseURL: a.URL + "/v2", Token: testToken, Target: target, HTTPClient: a.Client()}
}

func TestPushRequest(t *testing.T) {
	tests := []struct {
		name       string
		target     Target
		wantFields map[string]any // besides type, title and body
		wantTarget map[string]string
	}{
		{name: "all devices"},
		{name: "device", target: Target{DeviceIden: "ujdev"},
			wantFields: map[string]any{"device_iden": "ujdev"}, wantTarget: map[string]string{"device_iden": "ujdev"}},
		{name: "email", target: Target{Email: "ops@example.org"},
			wantFields: map[string]any{"email": "ops@example.org"}, wantTarget: map[string]string{"email": "ops@example.org"}},
		{name: "channel", target: Target{ChannelTag: "alerts"},
			wantFields: map[string]any{"channel_tag": "alerts"}, wantTarget: map[string]string{"channel_tag": "alerts"}},
		{name: "client", target: Target{ClientIden: "ujclient"},
			wantFields: map[string]any{"client_iden": "ujclient"}, wantTarget: map[string]string{"client_iden": "ujclient"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newAPIServer(t)
			pb := api.client(tt.target)
			if err := pb.Push(t.Context(), "peer down", "b.example.com is silent"); err != nil {
				t.Fatalf("Push: %v", err)
			}
			reqs := api.requests()
			if got, want := len(reqs), 1; got != want {
				t.Fatalf("%d requests, want %d", got, want)
			}
			r := reqs[0]
			if got, want := r.method, http.MethodPost; got != want {
				t.Errorf("method = %s, want %s", got, want)
			}
			if got, want := r.path, "/v2/pushes"; got != want {
				t.Errorf("path = %s, want %s", got, want)
			}
			if got, want := r.header.Get("Access-Token"), testToken; got != want {
				t.Errorf("Access-Token = %q, want %q", got, want)
			}
			if got, want := r.header.Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			want := map[string]any{"type": "note", "title": "peer down", "body": "b.example.com is silent"}
			for k, v := range tt.wantFields {
				want[k] = v
			}
			if got := r.body; !reflect.DeepEqual(got, want) {
				t.Errorf("body = %v, want %v", got, want)
			}
			pushes := api.fake.Pushes()
			if len(pushes) != 1 {
				t.Fatalf("fake has %d pushes, want 1", len(pushes))
			}
			if got, want := pushes[0].Target, tt.wantTarget; !reflect.DeepEqual(got, want) {
				t.Errorf("fake saw target %v, want %v", got, want)
			}
		})
	}
}

func TestPushBaseURL(t *testing.T) {
	tests := []struct {
		name     string
		base     string // appended to the server's URL
		wantPath string
	}{
		{name: "v2", base: "/v2", wantPath: "/v2/pushes"},
		{name: "trailing slash", base: "/v2/", wantPath: "/v2/pushes"},
		{name: "root", base: "", wantPath: "/pushes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newAPIServer(t)
			pb := api.client(Target{})
			pb.BaseURL = api.URL + tt.base
			if err := pb.Push(t.Context(), "t", "b"); err != nil {
				t.Fatalf("Push: %v", err)
			}
			if got, want := api.requests()[0].path, tt.wantPath; got != want {
				t.Errorf("path = %s, want %s", got, want)
			}
		})
	}
}

func TestSendReceipt(t *testing.T) {
	api := newAPIServer(t)
	before := time.Now().Add(-time.Second)
	rc, err := api.client(Target{Email: "ops@example.org"}).Send(t.Context(), "t", "b")
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rc.Iden == "" {
		t.Errorf("Iden is empty")
	}
	if rc.Created.Before(before) || rc.Created.After(time.Now()) {
		t.Errorf("Created = %v, want about now", rc.Created)
	}
	if got, want := rc.ReceiverEmail, "ops@example.org"; got != want {
		t.Errorf("ReceiverEmail = %q, want %q", got, want)
	}
}

func TestPushGUID(t *testing.T) {
	api := newAPIServer(t)
	pb := api.client(Target{})
	ctx := withGUID(t.Context(), "g-1")
	for range 2 {
		if err := pb.Push(ctx, "t", "b"); err != nil {
			t.Fatalf("Push: %v", err)
		}
	}
	for i, r := range api.requests() {
		if got, want := r.body["guid"], "g-1"; got != want {
			t.Errorf("request %d: guid = %v, want %v", i, got, want)
		}
	}
	if got, want := len(api.fake.Pushes()), 1; got != want {
		t.Errorf("fake has %d pushes, want %d: a repeated guid is one push", got, want)
	}
}

func TestPushAPIErrors(t *testing.T) {
	tests := []struct {
		name          string
		token         string
		failStatus    int
		want          Error // Retry checked apart
		wantTemporary bool
		wantRetry     [2]time.Duration // bounds; zero: none
		wantString    string
	}{
		{
			name: "bad token", token: "o.wrong",
			want:       Error{Status: 401, Code: "invalid_access_token", Type: "invalid_request", Message: "Access token is missing or invalid."},
			wantString: "pushbullet: 401 invalid_access_token: Access token is missing or invalid.",
		},
		{
			name: "forbidden", failStatus: 403,
			want: Error{Status: 403, Code: "forbidden", Type: "invalid_request", Message: "The access token is not valid for that request."},
		},
		{
			name: "rate limited", failStatus: 429,
			want:          Error{Status: 429, Code: "too_many_requests", Type: "invalid_request", Message: "You have been ratelimited for making too many requests to the server."},
			wantTemporary: true,
			wantRetry:     [2]time.Duration{time.Second, 3 * time.Second},
		},
		{
			name: "server error", failStatus: 500,
			want:          Error{Status: 500, Code: "internal_server_error", Type: "server", Message: "Internal server error."},
			wantTemporary: true,
		},
		{
			name: "proxy answers html", failStatus: 502,
			want:          Error{Status: 502, Message: "Bad Gateway"},
			wantTemporary: true,
			wantString:    "pushbullet: 502: Bad Gateway",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newAPIServer(t)
			if tt.failStatus != 0 {
				api.fake.FailNext(1, tt.failStatus)
			}
			pb := api.client(Target{})
			if tt.token != "" {
				pb.Token = tt.token
			}
			err := pb.Push(t.Context(), "t", "b")
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Push error = %v (%T), want *Error", err, err)
			}
			retry := got.Retry
			g := *got
			g.Retry = 0
			if g != tt.want {
				t.Errorf("error = %+v, want %+v", g, tt.want)
			}
			if got, want := got.Temporary(), tt.wantTemporary; got != want {
				t.Errorf("Temporary() = %v, want %v", got, want)
			}
			if lo, hi := tt.wantRetry[0], tt.wantRetry[1]; retry < lo || retry > hi {
				t.Errorf("Retry = %v, want in [%v, %v]", retry, lo, hi)
			}
			if tt.wantString != "" && err.Error() != tt.wantString {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantString)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("Error() contains the token: %q", err.Error())
			}
		})
	}
}

func TestPushMisconfigured(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		target Target
	}{
		{name: "no token", token: ""},
		{name: "token with newline", token: testToken + "\n"},
		{name: "token with space", token: "o.abc def"},
		{name: "two targets", token: testToken, target: Target{Email: "a@example.org", DeviceIden: "ujdev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newAPIServer(t)
			pb := api.client(tt.target)
			pb.Token = tt.token
			err := pb.Push(t.Context(), "t", "b")
			if !errors.Is(err, ErrMisconfigured) {
				t.Fatalf("Push error = %v, want one wrapping ErrMisconfigured", err)
			}
			if tt.token != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.token)) {
				t.Errorf("error contains the token: %q", err)
			}
			if got := api.fake.Stats().Requests; got != 0 {
				t.Errorf("fake saw %d requests, want 0", got)
			}
		})
	}
}

func TestTargetValidate(t *testing.T) {
	tests := []struct {
		name    string
		target  Target
		wantErr string
	}{
		{name: "none", target: Target{}},
		{name: "one", target: Target{ChannelTag: "c"}},
		{name: "two", target: Target{DeviceIden: "d", ClientIden: "c"}, wantErr: "misconfigured: more than one target (device_iden, client_iden)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.target.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Validate() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestPushServerDown(t *testing.T) {
	api := newAPIServer(t)
	api.fake.SetDown(true)
	err := api.client(Target{}).Push(t.Context(), "t", "b")
	if err == nil {
		t.Fatal("Push succeeded against a server that hangs up")
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		t.Errorf("error = %v, want a network error, not *Error", err)
	}
	if !strings.HasPrefix(err.Error(), "pushbullet: ") || strings.Contains(err.Error(), testToken) {
		t.Errorf("error = %q, want a pushbullet: prefix and no token", err)
	}
}

func TestPushCanceled(t *testing.T) {
	api := newAPIServer(t)
	api.fake.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- api.client(Target{}).Push(ctx, "t", "b") }()
	<-api.arrived // the request is in the server, waiting out the latency
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Push error = %v, want context.Canceled", err)
	}
	if n := len(api.fake.Pushes()); n != 0 {
		t.Errorf("fake has %d pushes, want 0", n)
	}
}

func TestPushNotAPushObject(t *testing.T) {
	// A captive portal or a wrong base URL answers 200 with something else.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>welcome</html>")
	}))
	defer srv.Close()
	pb := &Pushbullet{BaseURL: srv.URL, Token: testToken, HTTPClient: srv.Client()}
	err := pb.Push(t.Context(), "t", "b")
	if err == nil {
		t.Fatal("Push succeeded on an answer that is not a push")
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		t.Errorf("error = %v, want a plain error, retried like a network fault", err)
	}
}

func TestErrorRedactsToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":"invalid_request","type":"invalid_request","message":"bad token `+r.Header.Get("Access-Token")+`\nsee docs"}}`)
	}))
	defer srv.Close()
	pb := &Pushbullet{BaseURL: srv.URL, Token: testToken, HTTPClient: srv.Client()}
	err := pb.Push(t.Context(), "t", "b")
	if err == nil {
		t.Fatal("Push succeeded")
	}
	if got, want := err.Error(), "pushbullet: 400 invalid_request: bad token [redacted] see docs"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
