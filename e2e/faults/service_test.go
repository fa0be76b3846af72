//go:build faults && linux

package faults

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// service stands in for the website a node serves: its own health check
// (health.url) and the peer's peer_check probe it. It is served by the
// test process on the lab's root-side addresses, so it stays reachable
// whatever happens on the link, as a public service would.
type service struct {
	mode   atomic.Int32 // serviceUp, serviceDown or serviceFlap
	checks atomic.Int64
	mu     sync.Mutex
	log    []check
}

// check is one request the service answered.
type check struct {
	at     time.Time
	from   string // the remote address's host
	status int
}

const (
	serviceUp   = iota // 200
	serviceDown        // 503
	serviceFlap        // 503 on every other request, 200 on the rest
)

// ServeHTTP answers by the current mode.
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.checks.Add(1)
	status := http.StatusOK
	switch s.mode.Load() {
	case serviceDown:
		status = http.StatusServiceUnavailable
	case serviceFlap:
		if n%2 == 1 {
			status = http.StatusServiceUnavailable
		}
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	s.mu.Lock()
	s.log = append(s.log, check{at: time.Now(), from: host, status: status})
	s.mu.Unlock()
	w.WriteHeader(status)
}

func (s *service) set(mode int32) time.Time {
	s.mode.Store(mode)
	return time.Now()
}

// answered returns the requests from host at or after since.
func (s *service) answered(host string, since time.Time) []check {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []check
	for _, c := range s.log {
		if c.from == host && !c.at.Before(since) {
			out = append(out, c)
		}
	}
	return out
}

// serve serves s on each host, port chosen by the kernel, until t ends,
// and returns the URL of each host.
func (s *service) serve(t testing.TB, hosts ...string) map[string]string {
	t.Helper()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	urls := make(map[string]string)
	for _, host := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatalf("service: listen on %s: %v", host, err)
		}
		urls[host] = "http://" + ln.Addr().String() + "/healthz"
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return urls
}
