package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/fakepb"
	"github.com/clooster/clooster/watchdog"
)

// TestMain makes the test binary double as the clooster command: the
// scripts under testdata/script run it as a separate process, as users do.
func TestMain(m *testing.M) {
	// Under -race, a process sleeps 1 s at exit by default; the scripts
	// start dozens. testscript passes GORACE on to the commands.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=10")
	}
	testscript.Main(m, map[string]func(){
		"clooster": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

// TestScripts runs testdata/script/*.txtar: usage, bad configurations and
// exit statuses, with the real command line. Besides the built-in commands,
// the scripts have
//
//	exitcode N program [args...]
//
// which runs program like exec and asserts that it exits with status N
// (exec alone only tells zero from non-zero).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		// Report every failed assertion of a script, not only the first.
		ContinueOnError: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
		},
	})
}

func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad status %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// runCLI calls run in-process with only the given environment.
func runCLI(t *testing.T, ctx context.Context, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, args, environ, &out, &errOut)
	t.Logf("clooster %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// writeConfig writes a configuration file made of a valid base and extra,
// a JSON object whose top-level keys are added to (or replace) the base's.
func writeConfig(t *testing.T, extra map[string]any) string {
	t.Helper()
	cfg := map[string]any{
		"this_server":  "a.example.com",
		"other_server": "b.example.com",
		"key":          "0123456789abcdef0123456789abcdef",
		"cloudflare": map[string]any{
			"token":           "cf-token-for-tests",
			"zone":            "example.com",
			"record":          "www.example.com",
			"preferred_value": "a.example.com",
			// Nothing may reach the real API from a test.
			"api_url": "http://127.0.0.1:1/client/v4",
		},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "clooster.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNotifyTest sends the test push to a stand-in for Pushbullet.
func TestNotifyTest(t *testing.T) {
	const token = "o.pb-token-for-tests-0123456789"
	pb := fakepb.New(token)
	srv := httptest.NewServer(pb)
	defer srv.Close()

	t.Run("sent", func(t *testing.T) {
		file := writeConfig(t, map[string]any{
			"pushbullet": map[string]any{"key": token, "api_url": srv.URL + "/v2"},
		})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		before := len(pb.Pushes())
		code, stdout, stderr := runCLI(t, ctx, nil, "notify-test", file)
		if code != exitOK {
			t.Fatalf("exit status %d, want %d; stderr: %s", code, exitOK, stderr)
		}
		if !regexp.MustCompile(`^pushbullet \(pushbullet block\): delivered in \S+: push \S+ at \S+( to \S+)?\n$`).MatchString(stdout) {
			t.Errorf("stdout %q, want \"pushbullet (pushbullet block): delivered in D: push IDEN at TIME\"", stdout)
		}
		pushes := pb.Pushes()[before:]
		if len(pushes) != 1 {
			t.Fatalf("got %d pushes, want 1", len(pushes))
		}
		if got, want := pushes[0].Title, "[a.example.com] clooster test"; got != want {
			t.Errorf("push title %q, want %q", got, want)
		}
		if !strings.Contains(pushes[0].Body, "www.example.com") {
			t.Errorf("push body %q does not name the record www.example.com", pushes[0].Body)
		}
		if strings.Contains(stdout+stderr, token) {
			t.Errorf("the Pushbullet key appears in the output")
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		const wrong = "o.wrong-token-0123456789abcdef"
		file := writeConfig(t, map[string]any{
			"pushbullet": map[string]any{"key": wrong, "api_url": srv.URL + "/v2"},
		})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		before := len(pb.Pushes())
		code, stdout, stderr := runCLI(t, ctx, nil, "notify-test", file)
		if code != exitFailure {
			t.Errorf("exit status %d, want %d", code, exitFailure)
		}
		for _, want := range []string{"pushbullet (pushbullet block): FAILED after ", "401", "Access token is missing or invalid."} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout %q does not contain %q (the API's answer)", stdout, want)
			}
		}
		if want := "clooster: notify-test: 1 of 1 channels failed\n"; stderr != want {
			t.Errorf("stderr %q, want %q", stderr, want)
		}
		if strings.Contains(stdout+stderr, wrong) {
			t.Errorf("the Pushbullet key appears in the output")
		}
		if n := len(pb.Pushes()) - before; n != 0 {
			t.Errorf("%d pushes accepted, want 0", n)
		}
	})
}

// TestDemo runs the whole demo: failover and failback on loopback.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes several seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, stdout, stderr := runCLI(t, ctx, nil, "demo")
	if code != exitOK {
		t.Fatalf("exit status %d, want %d; stderr: %s", code, exitOK, stderr)
	}
	// The timeline, in order.
	steps := []string{
		`(?m)^ *\d+\.\d{3}s  srv1\.example\.com listens on 127\.0\.0\.1:\d+; srv2\.example\.com dials it$`,
		`(?m)^ *\d+\.\d{3}s  linked in \d+ ms`,
		`(?m)^ *\d+\.\d{3}s  srv1\.example\.com crashes`,
		`(?m)^ *\d+\.\d{3}s  srv2\.example\.com repointed all three records to its values in \d+ ms`,
		`(?m)^ *\d+\.\d{3}s  srv1\.example\.com restarts$`,
		`(?m)^ *\d+\.\d{3}s  linked again after \d+ ms`,
		`(?m)^ *\d+\.\d{3}s  srv1\.example\.com returned the three records to its preferred values`,
		`(?m)^record writes: 6 \(198\.51\.100\.1, 2001:db8:1::1, srv2\.example\.com, 192\.0\.2\.1, 2001:db8::1, srv1\.example\.com\)`,
	}
	rest := stdout
	for _, step := range steps {
		loc := regexp.MustCompile(step).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("stdout lacks, after the steps before it, %s", step)
		}
		rest = rest[loc[1]:]
	}
}

// TestRunStatusAddressTaken: a daemon whose status address is taken fails
// at once, with exit status 1 and a message naming the address, before it
// listens for its peer or calls the DNS API.
func TestRunStatusAddressTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()

	// A free loopback port for the peer link, so that the run would not
	// take the default 0.0.0.0:4096 if it got that far.
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peerPort := pl.Addr().(*net.TCPAddr).Port
	pl.Close()

	var apiCalls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		http.Error(w, "not expected", http.StatusTeapot)
	}))
	defer api.Close()

	file := writeConfig(t, map[string]any{
		"server": map[string]any{"address": "127.0.0.1", "port": peerPort},
		"status": map[string]any{"address": addr},
		"cloudflare": map[string]any{
			"token":           "cf-token-for-tests",
			"zone":            "example.com",
			"record":          "www.example.com",
			"preferred_value": "a.example.com",
			"api_url":         api.URL + "/client/v4",
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	code, _, stderr := runCLI(t, ctx, nil, file)
	took := time.Since(start)
	if code != exitFailure {
		t.Errorf("exit status %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, addr) {
		t.Errorf("stderr does not name the status address %s", addr)
	}
	if !strings.Contains(stderr, "clooster: ") || !strings.Contains(stderr, "status") {
		t.Errorf("stderr lacks a \"clooster: \" message about the status listener")
	}
	if !strings.Contains(stderr, "hint:") {
		t.Errorf("stderr lacks a hint")
	}
	if took > 2*time.Second {
		t.Errorf("took %v to fail, want at once (< 2s)", took)
	}
	if n := apiCalls.Load(); n != 0 {
		t.Errorf("%d calls to the DNS API, want none", n)
	}
}

func TestPrintStatusShowsHealthAndGuard(t *testing.T) {
	now := time.Now()
	sick := false
	st := watchdog.Status{Node: "srv2", Role: "client", Started: now.Add(-time.Hour),
		Peer:   watchdog.PeerStatus{Name: "srv1", State: watchdog.PeerDown, Since: now.Add(-time.Minute), Healthy: &sick},
		Record: watchdog.RecordStatus{Name: "www.example.com", Content: "srv1"},
		Health: watchdog.HealthStatus{Checked: true, Healthy: false, Since: now, Reason: "GET /: 503"},
		Guard:  watchdog.GuardStatus{Withholding: true, Reason: "link down, peer still serving", Since: now, PeerCheck: "serving"}}
	var b strings.Builder
	printStatus(&b, st, now)
	for _, want := range []string{"UNHEALTHY: GET /: 503", "peer reports its service UNHEALTHY", "WITHHOLDING", "link down, peer still serving", "peer_check: the peer's service is serving"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

func TestPrintStatusShowsConfig(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		c    *watchdog.ConfigStatus
		want []string
	}{
		{"none", nil, nil},
		{"reloaded", &watchdog.ConfigStatus{LoadedAt: now.Add(-time.Minute), Reloads: 1, PendingRestart: []string{"log.format", "tls.cert"}},
			[]string{"config   loaded 1m0s ago, 1 reload since start", "         waiting for a restart: log.format, tls.cert"}},
		{"the last failed", &watchdog.ConfigStatus{LoadedAt: now.Add(-time.Hour), Reloads: 2, LastError: "peer_timeout: must be > keepalive_interval (got 100ms)"},
			[]string{"config   loaded 1h0m0s ago, 2 reloads since start; the last FAILED, running on the one loaded: peer_timeout: must be > keepalive_interval (got 100ms)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := watchdog.Status{Node: "srv1", Role: "server", Started: now.Add(-time.Hour), Config: tc.c,
				Peer: watchdog.PeerStatus{Name: "srv2", State: watchdog.PeerUp, Since: now}}
			var b strings.Builder
			printStatus(&b, st, now)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
				if strings.HasPrefix(line, "config ") || strings.Contains(line, "waiting for a restart") {
					got = append(got, line)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrintStatusShowsProblems(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	st := watchdog.Status{Node: "srv2", Role: "client", Started: now.Add(-time.Hour),
		Peer:   watchdog.PeerStatus{Name: "srv1", State: watchdog.PeerDown, Since: now.Add(-time.Minute)},
		Record: watchdog.RecordStatus{Name: "www.example.com", Content: "srv1"},
		Link: watchdog.LinkStatus{Problems: []failover.Problem{{Kind: "key_mismatch", What: "srv1 says the proof does not match", Hint: "set the same key", Since: now}},
			NoFailback: []string{"cloudflare.preferred_value: differ"}}}
	var b strings.Builder
	printStatus(&b, st, now)
	for _, want := range []string{
		"problem  KEY_MISMATCH since 2026-12-02T08:00:00Z: srv1 says the proof does not match\n",
		"         hint: set the same key\n",
		"no failback while the files differ on: cloudflare.preferred_value: differ\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

func TestPrintStatusLinePerRecord(t *testing.T) {
	now := time.Now()
	st := watchdog.Status{Node: "srv2", Role: "client", Started: now.Add(-time.Hour),
		Peer:   watchdog.PeerStatus{Name: "srv1", State: watchdog.PeerDown, Since: now.Add(-time.Minute)},
		Record: watchdog.RecordStatus{Name: "example.com A, example.com AAAA, www.example.com CNAME"},
		Records: []watchdog.SetRecordStatus{
			{Name: "example.com", Type: "A", Content: "192.0.2.2", PointsTo: "srv2", LastWrite: now.Add(-3 * time.Second)},
			{Name: "example.com", Type: "AAAA", Content: "2001:db8::1", PointsTo: "srv1", Preferred: true, WriteError: "400: invalid content"},
			{Name: "www.example.com", Type: "CNAME", Missing: true},
		}}
	var b strings.Builder
	printStatus(&b, st, now)
	for _, want := range []string{
		"example.com A -> 192.0.2.2 (srv2), written 3s ago\n",
		"example.com AAAA -> 2001:db8::1 (srv1, preferred), WRITE FAILED: 400: invalid content\n",
		"www.example.com CNAME -> (MISSING)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

// clooster status sends the status token: from CLOOSTER_STATUS_TOKEN, or
// from -token-file; without it, a node that has one answers 401 and the
// command says what to do.
func TestStatusToken(t *testing.T) {
	const token = "status-token-0123456789abcdef"
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "status.token required", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"node":"a.example.com","role":"server","peer":{"name":"b.example.com","state":"up"}}`)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	code, _, stderr := runCLI(t, ctx, nil, "status", "-addr", addr)
	if code != exitFailure || !strings.Contains(stderr, "401") || !strings.Contains(stderr, "hint: the daemon has a status.token: set CLOOSTER_STATUS_TOKEN, or pass -token-file") {
		t.Errorf("without the token: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := runCLI(t, ctx, []string{"CLOOSTER_STATUS_TOKEN=" + token}, "status", "-addr", addr, "-json"); code != exitOK || !strings.Contains(stdout, `"a.example.com"`) {
		t.Errorf("with CLOOSTER_STATUS_TOKEN: exit %d, stdout %q", code, stdout)
	}
	if code, stdout, _ := runCLI(t, ctx, nil, "status", "-addr", addr, "-token-file", file, "-json"); code != exitOK || !strings.Contains(stdout, `"a.example.com"`) {
		t.Errorf("with -token-file: exit %d, stdout %q", code, stdout)
	}
	if want := []string{"", "Bearer " + token, "Bearer " + token}; !slices.Equal(got, want) {
		t.Errorf("Authorization headers %q, want %q", got, want)
	}
}
