//go:build unix

package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCheckString(t *testing.T) {
	tests := []struct {
		name  string
		check Check
		want  string
		empty bool
	}{
		{"empty", Check{Timeout: time.Second}, "none", true},
		{"url", Check{URL: "http://127.0.0.1:8080/health"}, "http GET http://127.0.0.1:8080/health", false},
		{"url with password", Check{URL: "https://ops:hunter2@example.com/"}, "http GET https://ops:xxxxx@example.com/", false},
		{"url with user", Check{URL: "https://ops@example.com/"}, "http GET https://example.com/", false},
		{"tcp", Check{TCP: "127.0.0.1:80"}, "tcp 127.0.0.1:80", false},
		{"command", Check{Command: "pgrep nginx"}, "command pgrep nginx", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.check.String(); got != tt.want {
				t.Errorf("String: got %q, want %q", got, tt.want)
			}
			if got := tt.check.Empty(); got != tt.empty {
				t.Errorf("Empty: got %v, want %v", got, tt.empty)
			}
		})
	}
}

func TestEmptyCheckPasses(t *testing.T) {
	if err := (Check{}).Probe(t.Context()); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

func TestProbeHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("method: got %s, want GET", r.Method)
		}
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 1<<20))) // more than is read
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/slowbody", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		name    string
		path    string
		want    string // substring of the error; "" for healthy
		timeout bool
	}{
		{"200", "/ok", "", false},
		{"204", "/empty", "", false},
		{"large body", "/big", "", false},
		{"503", "/down", "GET " + srv.URL + "/down: 503 Service Unavailable", false},
		{"404", "/nothing", "GET " + srv.URL + "/nothing: 404 Not Found", false},
		{"redirect", "/moved", "GET " + srv.URL + "/moved: 302 Found (redirect to /ok not followed)", false},
		{"timeout", "/hang", "GET " + srv.URL + "/hang: timed out after 200ms", true},
		{"body timeout", "/slowbody", "GET " + srv.URL + "/slowbody: timed out after 200ms", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Check{URL: srv.URL + tt.path, Timeout: 200 * time.Millisecond}
			start := time.Now()
			err := c.Probe(t.Context())
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			checkErr(t, err, tt.want)
			if got := errors.Is(err, ErrTimeout); got != tt.timeout {
				t.Errorf("errors.Is(err, ErrTimeout): got %v, want %v", got, tt.timeout)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		addr := closedPort(t)
		err := Check{URL: "http://" + addr + "/"}.Probe(t.Context())
		checkErr(t, err, "GET http://"+addr+"/: connection refused")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("got %v, want a connection refused", err)
		}
	})

	t.Run("password not shown", func(t *testing.T) {
		u := strings.Replace(srv.URL, "http://", "http://ops:hunter2@", 1) + "/down"
		err := Check{URL: u}.Probe(t.Context())
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("got %v, want an error without the password", err)
		}
	})

	t.Run("monitor dial and client", func(t *testing.T) {
		// The monitor's dialer reaches the service whatever the URL's host.
		var dialed []string
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = append(dialed, addr)
			var d net.Dialer
			return d.DialContext(ctx, network, srv.Listener.Addr().String())
		}
		m := &Monitor{Check: Check{URL: "http://service.invalid/ok"}, Dial: dial}
		if err := newProber(m.Check, m.Dial, m.HTTPClient).probe(t.Context()); err != nil {
			t.Errorf("probe: %v", err)
		}
		if len(dialed) != 1 || dialed[0] != "service.invalid:80" {
			t.Errorf("dialed %q, want [service.invalid:80]", dialed)
		}
		// A given client is used, and does not follow redirects.
		hc := srv.Client()
		err := newProber(Check{URL: srv.URL + "/moved"}, nil, hc).probe(t.Context())
		checkErr(t, err, "302 Found")
		if hc.CheckRedirect != nil {
			t.Error("the given client was changed")
		}
	})
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if err := (Check{TCP: ln.Addr().String()}).Probe(t.Context()); err != nil {
		t.Errorf("listening port: got %v, want nil", err)
	}

	addr := closedPort(t)
	err = Check{TCP: addr}.Probe(t.Context())
	checkErr(t, err, "connect "+addr+": connection refused")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("got %v, want it to wrap ECONNREFUSED", err)
	}

	// A dialer that never answers: the timeout cuts it off.
	hang := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	err = newProber(Check{TCP: "192.0.2.1:80", Timeout: 100 * time.Millisecond}, hang, nil).probe(t.Context())
	checkErr(t, err, "connect 192.0.2.1:80: timed out after 100ms")
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("got %v, want it to wrap ErrTimeout", err)
	}

	// The caller's cancellation is not reported as a timeout.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = newProber(Check{TCP: "192.0.2.1:80"}, hang, nil).probe(ctx)
	if err == nil || errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

func TestProbeCommand(t *testing.T) {
	tests := []struct {
		name    string
		command string
		want    string // the whole error; "" for healthy
	}{
		{"true", "true", ""},
		{"false", "false", "command exited 1"},
		{"exit code and output", "echo; echo '  disk full  '; echo more; exit 3", "command exited 3: disk full"},
		{"stderr", "echo 'no such service' >&2; exit 4", "command exited 4: no such service"},
		{"long output", "yes 'a long line of output' | head -c 100000; exit 2", "command exited 2: a long line of output"},
		{"very long line", "head -c 100000 /dev/zero | tr '\\0' x; exit 2", "command exited 2: " + strings.Repeat("x", maxLine) + "…"},
		{"not found", "no-such-command-here", "command exited 127: "},
		{"killed by a signal", "kill -9 $$", "command failed: signal: killed"},
		{"background left running", "sleep 30 & exit 0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := Check{Command: tt.command, Timeout: 5 * time.Second}.Probe(t.Context())
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want == "":
			case err == nil:
				t.Errorf("got nil, want %q", tt.want)
			case strings.HasSuffix(tt.want, ": ") && !strings.HasPrefix(err.Error(), tt.want):
				t.Errorf("got %q, want it to start %q", err, tt.want)
			case !strings.HasSuffix(tt.want, ": ") && err.Error() != tt.want:
				t.Errorf("got %q, want %q", err, tt.want)
			}
		})
	}
}

func TestProbeCommandTimeoutKillsGroup(t *testing.T) {
	tests := []struct {
		name    string
		command string // writes the pid to watch to $PIDFILE, then hangs
	}{
		{"the command", `echo $$ > "$PIDFILE"; exec sleep 10`},
		{"a child", `sleep 10 & echo $! > "$PIDFILE"; wait`},
		{"a grandchild", `sh -c 'sleep 10 & echo $! > "$PIDFILE"; wait'; echo done`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pid")
			t.Setenv("PIDFILE", pidfile)
			c := Check{Command: tt.command, Timeout: 300 * time.Millisecond}
			start := time.Now()
			err := c.Probe(t.Context())
			d := time.Since(start)
			if !errors.Is(err, ErrTimeout) || err.Error() != "command: timed out after 300ms" {
				t.Errorf("got %v, want command: timed out after 300ms", err)
			}
			if d > c.Timeout+time.Second {
				t.Errorf("returned after %v, want about %v", d, c.Timeout)
			}
			waitGone(t, readPid(t, pidfile))
		})
	}
}

func TestProbeCommandLeavesNothing(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("PIDFILE", pidfile)
	err := Check{Command: `sleep 30 >/dev/null 2>&1 & echo $! > "$PIDFILE"`}.Probe(t.Context())
	if err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	waitGone(t, readPid(t, pidfile))
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("got %v, want nil", err)
	case want != "" && err == nil:
		t.Errorf("got nil, want an error with %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("got %q, want it to contain %q", err, want)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file: %q", b)
	}
	return pid
}

// waitGone fails unless process pid has ended (a zombie waiting for its
// reaper counts as ended) within a second.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat") // Linux
		if i := strings.LastIndexByte(string(stat), ')'); err == nil && i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still running", pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
