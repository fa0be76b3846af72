package fakechat_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakechat"
)

func TestMain(m *testing.M) {
	if what := os.Getenv(childEnv); what != "" {
		os.Exit(child(what))
	}
	os.Exit(m.Run())
}

// start starts a stand-in that stops when the test ends.
func start(t *testing.T, c fakechat.Config) *fakechat.Server {
	t.Helper()
	s, err := fakechat.Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// useTransport makes s's transport http.DefaultTransport until the test
// ends. Tests that call it do not run in parallel.
func useTransport(t *testing.T, s *fakechat.Server) {
	t.Helper()
	old := http.DefaultTransport
	tr := s.Transport()
	http.DefaultTransport = tr
	t.Cleanup(func() {
		http.DefaultTransport = old
		tr.CloseIdleConnections()
	})
}

// wait returns the first n messages, failing the test if they do not
// arrive within a generous bound.
func wait(t *testing.T, s *fakechat.Server, n int) []fakechat.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msgs, err := s.Wait(ctx, n)
	if err != nil {
		t.Fatalf("waiting for %d messages: %v (have %d)", n, err, len(s.Messages()))
	}
	return msgs[:n]
}
