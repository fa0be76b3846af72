package fakecf

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFailNext(t *testing.T) {
	tests := []struct {
		status      int
		wantType    string
		wantCodes   []int
		wantInBody  string
		wantRetryAf string
	}{
		{400, "application/json", []int{9207}, "Request body is invalid.", ""},
		{401, "application/json", []int{10000}, "Authentication error", ""},
		{403, "application/json", []int{10000}, "Authentication error", ""},
		{404, "application/json", []int{7003, 7000}, "Could not route to /zones", ""},
		{409, "application/json", []int{1000}, "Conflict", ""},
		{429, "application/json", []int{971}, "Please wait and consider throttling your request speed", ""},
		{500, "application/json", []int{1000}, "Internal Server Error", ""},
		{502, "text/html", nil, "<title>502 Bad Gateway</title>", ""},
		{503, "text/html", nil, "<h1>503 Service Unavailable</h1>", ""},
		{504, "text/html", nil, "<center>cloudflare</center>", ""},
		{522, "text/plain; charset=UTF-8", nil, "error code: 522", ""},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			f := newFixture(t)
			f.s.FailNext(2, tt.status)
			for i := range 2 {
				a := call(t, f.srv, "GET", "/zones?name=example.com", "")
				if a.Status != tt.status {
					t.Fatalf("request %d: status: got %d, want %d", i, a.Status, tt.status)
				}
				if got := a.Header.Get("Content-Type"); got != tt.wantType {
					t.Errorf("content type: got %q, want %q", got, tt.wantType)
				}
				if got := codes(a.Errors); !slices.Equal(got, tt.wantCodes) {
					t.Errorf("codes: got %v, want %v", got, tt.wantCodes)
				}
				if !strings.Contains(a.Body, tt.wantInBody) {
					t.Errorf("body: got %q, want it to contain %q", a.Body, tt.wantInBody)
				}
				if got := a.Header.Get("Retry-After"); got != tt.wantRetryAf {
					t.Errorf("Retry-After: got %q, want %q", got, tt.wantRetryAf)
				}
				if a.Raw != nil && a.Success {
					t.Errorf("success: got true, want false")
				}
			}
			if a := call(t, f.srv, "GET", "/zones?name=example.com", ""); a.Status != 200 {
				t.Errorf("after the faults: got %d, want 200", a.Status)
			}
			st := f.s.Stats()
			if st.Failures[tt.status] != 2 || st.Reads != 1 || st.Requests != 3 {
				t.Errorf("stats: got %+v, want 2 failures of %d, 1 read, 3 requests", st, tt.status)
			}
		})
	}
}

func TestRateLimitNext(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration
		want  string
	}{
		{"seconds", 7 * time.Second, "7"},
		{"rounded up", 1500 * time.Millisecond, "2"},
		{"zero", 0, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.s.RateLimitNext(1, tt.after)
			a := call(t, f.srv, "GET", "/zones", "")
			if a.Status != 429 || a.Header.Get("Retry-After") != tt.want {
				t.Errorf("got %d Retry-After %q, want 429 %q", a.Status, a.Header.Get("Retry-After"), tt.want)
			}
			if got := codes(a.Errors); !slices.Equal(got, []int{971}) {
				t.Errorf("codes: got %v, want [971]", got)
			}
		})
	}
}

func TestFaultOrder(t *testing.T) {
	f := newFixture(t)
	f.s.FailNext(1, 500)
	f.s.RateLimitNext(2, time.Second)
	f.s.FailNext(0, 502) // nothing
	f.s.FailNext(1, 401)
	var got []int
	for range 5 {
		got = append(got, call(t, f.srv, "GET", "/zones", "").Status)
	}
	if want := []int{500, 429, 429, 401, 200}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestFaultBeforeAuth(t *testing.T) {
	f := newFixture(t)
	f.s.FailNext(1, 503)
	a := callWith(t, f.srv, "GET", "/zones", "", nil)
	if a.Status != 503 {
		t.Errorf("unauthenticated request during a fault: got %d, want 503", a.Status)
	}
}

func TestDown(t *testing.T) {
	f := newFixture(t)
	f.s.SetDown(true)
	resp, err := f.srv.Client().Get(f.srv.URL + "/zones")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("while down: got status %d, want a connection error", resp.StatusCode)
	}
	f.s.SetDown(false)
	if a := call(t, f.srv, "GET", "/zones", ""); a.Status != 200 {
		t.Errorf("up again: got %d, want 200", a.Status)
	}
	st := f.s.Stats()
	if st.Dropped != 1 || st.Requests != 2 {
		t.Errorf("stats: got %+v, want 1 dropped of 2 requests", st)
	}
	if got := f.s.Requests()[0].Status; got != 0 {
		t.Errorf("dropped request status: got %d, want 0", got)
	}
}

func TestDownWithoutHijacker(t *testing.T) {
	s := New()
	s.SetDown(true)
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("got panic %v, want http.ErrAbortHandler", r)
		}
	}()
	s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/zones", nil))
}

func TestLatencyHonoursCancel(t *testing.T) {
	s := New()
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/zones", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req) // returns at once: the client has gone
	if st := s.Stats(); st.Canceled != 1 || st.Requests != 1 {
		t.Errorf("stats: got %+v, want 1 canceled of 1 request", st)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("body: got %q, want none", rec.Body)
	}
}

func TestLatencyOverHTTP(t *testing.T) {
	f := newFixture(t)
	f.s.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.s.Stats().Requests == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/zones", nil)
	_, err := f.srv.Client().Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	f.s.SetLatency(0)
	if a := call(t, f.srv, "GET", "/zones", ""); a.Status != 200 {
		t.Errorf("without latency: got %d, want 200", a.Status)
	}
}

func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 10 {
				call(t, f.srv, "PATCH", "/zones/"+f.zone+"/dns_records/"+f.www, `{"content":"192.0.2.8"}`)
				call(t, f.srv, "GET", "/zones/"+f.zone+"/dns_records?name=www.example.com", "")
				f.s.SetContent(f.www, "192.0.2.9")
				_ = f.s.Stats()
				_ = f.s.Writes()
				if i == 0 {
					f.s.FailNext(1, 500)
				}
			}
		})
	}
	wg.Wait()
	st := f.s.Stats()
	if st.Requests != 160 || st.Writes+st.Failures[500] < 80 || len(f.s.Writes()) != st.Writes {
		t.Errorf("stats: got %+v and %d writes, want 160 requests and every write logged", st, len(f.s.Writes()))
	}
}
