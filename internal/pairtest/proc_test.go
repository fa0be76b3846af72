//go:build unix

package pairtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
	"github.com/clooster/clooster/watchdog"
)

// TestMain makes the test binary a stand-in for clooster when the
// environment says so: see node.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PAIRTEST_NODE"); mode != "" {
		node(mode)
		return
	}
	os.Exit(m.Run())
}

// node stands in for a clooster process. "serve": a status listener on
// PAIRTEST_ADDR that shows the peer up and the record read, until SIGTERM,
// which ends it with status 0; it first prints PAIRTEST_PRINT, and it
// answers only requests with the bearer token PAIRTEST_TOKEN if that is
// set. "exit": exits at once with status 3.
func node(mode string) {
	if mode == "exit" {
		os.Exit(3)
	}
	fmt.Println("starting " + os.Getenv("PAIRTEST_PRINT"))
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	ln, err := net.Listen("tcp", os.Getenv("PAIRTEST_ADDR"))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	var st watchdog.Status
	st.Node, st.Peer.State, st.Record.Content = "srv1.example.com", watchdog.PeerUp, "srv1.example.com"
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(st) })
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# TYPE clooster_links_total counter\nclooster_links_total 3\nclooster_x{kind=\"auth\"} 2\n")
	})
	token := os.Getenv("PAIRTEST_TOKEN")
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "status.token required", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	<-term
	os.Exit(0)
}

// stand is the test binary, as the stand-in for clooster.
func stand(t *testing.T) *pairtest.Binary {
	t.Helper()
	path, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &pairtest.Binary{Path: path}
}

func TestProc(t *testing.T) {
	addr := pairtest.Loopback(pairtest.FreePort(t))
	p := stand(t).Start(t, pairtest.Cmd{Label: "node", Status: addr, Env: []string{"PAIRTEST_NODE=serve", "PAIRTEST_ADDR=" + addr}})
	pairtest.WaitLinked(t, 10*time.Second, p)

	st, err := p.Status()
	if err != nil || st.Node != "srv1.example.com" || st.Peer.State != watchdog.PeerUp {
		t.Errorf("Status: node %q, peer %q (%v); want srv1.example.com, up", st.Node, st.Peer.State, err)
	}
	for _, c := range []struct {
		name string
		want float64
	}{
		{"clooster_links_total", 3},
		{`clooster_x{kind="auth"}`, 2},
		{"clooster_never_shown_total", 0},
	} {
		if got, err := p.Metric(c.name); err != nil || got != c.want {
			t.Errorf("Metric(%s): got %v (%v), want %v", c.name, got, err, c.want)
		}
	}
	if _, err := p.Get("/nothing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("GET /nothing: got %v, want a 404 error", err)
	}

	sent := p.Signal(t, syscall.SIGTERM)
	took, code, ok := p.WaitExit(10*time.Second, sent)
	if !ok || code != 0 || !p.Exited() || p.ExitCode() != 0 || p.Err() != nil {
		t.Errorf("after SIGTERM: exited %v after %v with status %d (%v), want 0", ok, took, code, p.Err())
	}
	if got := p.Log(); !strings.Contains(got, "starting") {
		t.Errorf("output: got %q, want the line it printed", got)
	}
}

func TestProcStatusToken(t *testing.T) {
	token := pairtest.NewSecret("status-")
	cases := []struct {
		name, token string
		wantErr     string
	}{
		{"with the token", token, ""},
		{"without", "", "GET /status: 401 Unauthorized"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := pairtest.Loopback(pairtest.FreePort(t))
			env := []string{"PAIRTEST_NODE=serve", "PAIRTEST_ADDR=" + addr, "PAIRTEST_TOKEN=" + token}
			p := stand(t).Start(t, pairtest.Cmd{Label: "node", Status: addr, StatusToken: c.token, Env: env})
			pairtest.WaitFor(t, 10*time.Second, "the status listener", func() bool {
				_, err := p.Get("/healthz")
				return err == nil || strings.Contains(err.Error(), "GET")
			})
			_, err := p.Status()
			if got := errString(err); got != c.wantErr {
				t.Errorf("Status: got error %q, want %q", got, c.wantErr)
			}
		})
	}
}

func TestProcKill(t *testing.T) {
	addr := pairtest.Loopback(pairtest.FreePort(t))
	p := stand(t).Start(t, pairtest.Cmd{Label: "node", Status: addr, Env: []string{"PAIRTEST_NODE=serve", "PAIRTEST_ADDR=" + addr}})
	pairtest.WaitLinked(t, 10*time.Second, p)
	killed := p.Kill(t)
	if !p.Exited() || p.ExitCode() != -1 || p.Err() == nil || p.ExitAt().Before(killed) {
		t.Errorf("after Kill: exited %v, status %d (%v) at %v; want -1, an error, after %v", p.Exited(), p.ExitCode(), p.Err(), p.ExitAt(), killed)
	}
}

// TestProcStopped: what a step started is killed when the step ends; its
// output is checked for secrets and shown because the step failed.
func TestProcStopped(t *testing.T) {
	secret := pairtest.NewSecret("token-")
	var p *pairtest.Proc
	var log bytes.Buffer
	err := pairtest.RunTo(context.Background(), &log, func(pt pairtest.T) {
		addr := pairtest.Loopback(pairtest.FreePort(pt))
		p = stand(t).Start(pt, pairtest.Cmd{Label: "node", Status: addr, Secrets: []pairtest.Secret{{Name: "token", Value: secret}},
			Env: []string{"PAIRTEST_NODE=serve", "PAIRTEST_ADDR=" + addr, "PAIRTEST_PRINT=" + secret}})
		pairtest.WaitLinked(pt, 10*time.Second, p)
	})
	if got, want := errString(err), "node output contains the token"; got != want {
		t.Errorf("error: got %q, want %q", got, want)
	}
	if !p.Exited() {
		t.Errorf("the process still runs after its step")
	}
	if !strings.Contains(log.String(), "--- node output:") {
		t.Errorf("log: got %q, want the output of the failed step's process", log.String())
	}
}

// TestWaitWatched: a wait fails as soon as a process it watches exits.
func TestWaitWatched(t *testing.T) {
	var took time.Duration
	err := pairtest.RunTo(context.Background(), &bytes.Buffer{}, func(pt pairtest.T) {
		p := stand(t).Start(pt, pairtest.Cmd{Label: "node", Env: []string{"PAIRTEST_NODE=exit"}})
		start := time.Now()
		defer func() { took = time.Since(start) }()
		pairtest.WaitEvery(pt, time.Millisecond, time.Minute, "the link", func() bool { return false }, p)
	})
	if got, want := errString(err), "the link: node exited"; got != want {
		t.Errorf("error: got %q, want %q", got, want)
	}
	if took > 30*time.Second {
		t.Errorf("the wait took %v, want it to end with the process", took)
	}
}
