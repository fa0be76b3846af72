// Package health probes services: this node's own, with a Monitor that runs
// a Check every interval and turns the results into a healthy/unhealthy state
// with fall and rise thresholds, and the peer's as the outside sees it, with
// a single Check.Probe.
//
// A Check is one of an HTTP GET (a 2xx answer is healthy; redirects are not
// followed, so a 3xx is a failure), a TCP connect, or a shell command (exit
// status 0 is healthy). Every probe is bounded by the check's timeout; a
// command's whole process group is killed when the timeout passes. Errors
// say what failed in a form fit for a log line or an alert:
//
//	GET http://127.0.0.1:8080/health: 503 Service Unavailable
//	connect 127.0.0.1:80: connection refused
//	command exited 3: disk full
//	connect 10.0.0.2:443: timed out after 1s
//
// Credentials in a URL are never shown: a password reads "xxxxx", and a
// user name without one (often a token) is left out.
//
// # Concurrency
//
// A Check is a plain value: Probe may be called from any number of
// goroutines at once and leaves nothing running when it returns.
//
// A Monitor is driven by one goroutine that calls Run, once; Run returns when
// its context ends, after the probe in progress (which that context cancels)
// has returned. State, Changes and Reconfigure are safe from any goroutine,
// before, during and after Run. The exported fields are read by Run: set
// them before and leave them alone after; Reconfigure changes what Run
// probes while it runs.
package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clooster/clooster/internal/logtext"
	"github.com/clooster/clooster/internal/procgroup"
)

// Defaults for the zero values of Check.Timeout and the Monitor's fields.
const (
	DefaultTimeout  = time.Second
	DefaultInterval = 2 * time.Second
	DefaultFall     = 3
	DefaultRise     = 3
)

// Probe limits.
const (
	maxBody       = 64 << 10               // response body bytes read by an HTTP probe
	maxHeader     = 64 << 10               // response header bytes accepted
	maxOutput     = 4 << 10                // command output kept for the error message
	maxLine       = 200                    // bytes of that output shown in the error
	maxLocation   = 200                    // bytes of a redirect's Location shown in the error
	pipeWaitDelay = 250 * time.Millisecond // wait for a command's output to close once it has exited or been killed
	userAgent     = "clooster-health"
)

// ErrTimeout is wrapped by the error of a probe that did not finish within
// its check's timeout.
var ErrTimeout = errors.New("timed out")

// Check is one way to probe a service. At most one of URL, TCP and Command
// is set (if more are, the first in that order is used); with none, the
// check is empty and always passes.
type Check struct {
	// URL is fetched with GET; a 2xx answer passes. Redirects are not
	// followed, no proxy is used, and at most 64 KiB of the body is read
	// (it must arrive within the timeout too). HTTPS certificates are
	// verified against the system roots.
	URL string
	// TCP is a host:port that must accept a connection, closed at once.
	TCP string
	// Command is run with /bin/sh -c in its own process group, with the
	// daemon's environment and no input; exit status 0 passes. Its output
	// (stdout and stderr, the first few KiB) goes into the error message.
	// Once it has exited or timed out, whatever it left running in its
	// process group is killed: a check must not leave processes behind.
	Command string
	// Timeout bounds one probe; zero means DefaultTimeout.
	Timeout time.Duration
}

// Empty reports whether c checks nothing.
func (c Check) Empty() bool {
	return c.URL == "" && c.TCP == "" && c.Command == ""
}

// String describes c for logs and status pages: "http GET <url>" (without
// user info), "tcp <host:port>", "command <command>", or "none".
func (c Check) String() string {
	switch {
	case c.URL != "":
		return "http GET " + logtext.RedactURL(c.URL)
	case c.TCP != "":
		return "tcp " + c.TCP
	case c.Command != "":
		return "command " + c.Command
	}
	return "none"
}

// Probe runs the check once, within c.Timeout (and ctx). It returns nil if
// the service is healthy (or the check is empty), else an error that says
// what failed; a probe cut off by the timeout wraps ErrTimeout.
func (c Check) Probe(ctx context.Context) error {
	return newProber(c, nil, nil).probe(ctx)
}

// dialFunc is the signature of net.Dialer.DialContext.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// prober probes one check with a given dialer and HTTP client.
type prober struct {
	check   Check
	timeout time.Duration
	dial    dialFunc
	client  *http.Client
}

// newProber returns a prober for c. A nil dial means a plain net.Dialer; a
// nil client means one of our own over dial. A given client is copied, and
// the copy does not follow redirects.
func newProber(c Check, dial dialFunc, client *http.Client) *prober {
	p := &prober{check: c, timeout: c.Timeout, dial: dial}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.dial == nil {
		d := &net.Dialer{}
		p.dial = d.DialContext
	}
	if c.URL != "" {
		var hc http.Client
		if client != nil {
			hc = *client
		} else {
			hc.Transport = &http.Transport{
				DialContext:            p.dial,
				DisableKeepAlives:      true, // every probe opens a connection, as a new client would
				MaxResponseHeaderBytes: maxHeader,
			}
		}
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		p.client = &hc
	}
	return p
}

func (p *prober) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var what string
	var err error
	switch c := p.check; {
	case c.URL != "":
		what = "GET " + logtext.RedactURL(c.URL)
		err = p.probeHTTP(pctx, what)
	case c.TCP != "":
		what = "connect " + c.TCP
		err = p.probeTCP(pctx, what)
	case c.Command != "":
		what = "command"
		err = p.probeCommand(pctx)
	default:
		return nil
	}
	if err != nil && pctx.Err() != nil && ctx.Err() == nil {
		// Cut off by our own timeout, not by the caller.
		return fmt.Errorf("%s: %w after %v", what, ErrTimeout, p.timeout)
	}
	return err
}

func (p *prober) probeHTTP(ctx context.Context, what string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.check.URL, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, unwrapURLError(err))
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, unwrapDialError(unwrapURLError(err)))
	}
	defer resp.Body.Close()
	_, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			return fmt.Errorf("%s: %s (redirect to %s not followed)", what, status(resp), truncate(logtext.RedactURL(loc), maxLocation))
		}
		return fmt.Errorf("%s: %s", what, status(resp))
	}
	if rerr != nil {
		return fmt.Errorf("%s: read body: %w", what, rerr)
	}
	return nil
}

func (p *prober) probeTCP(ctx context.Context, what string) error {
	conn, err := p.dial(ctx, "tcp", p.check.TCP)
	if err != nil {
		return fmt.Errorf("%s: %w", what, unwrapDialError(err))
	}
	conn.Close()
	return nil
}

func (p *prober) probeCommand(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", p.check.Command)
	procgroup.Set(cmd)
	cmd.WaitDelay = pipeWaitDelay
	out := &capWriter{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("command: start: %w", err)
	}
	err := cmd.Wait()
	procgroup.Kill(cmd) // whatever it left behind
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		return nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		if line := firstLine(out.buf); line != "" {
			return fmt.Errorf("command exited %d: %s", ee.ExitCode(), line)
		}
		return fmt.Errorf("command exited %d", ee.ExitCode())
	}
	if line := firstLine(out.buf); line != "" {
		return fmt.Errorf("command failed: %w: %s", err, line)
	}
	return fmt.Errorf("command failed: %w", err)
}

// status is a response's status line without the protocol: "503 Service
// Unavailable".
func status(resp *http.Response) string {
	if resp.Status != "" {
		return truncate(resp.Status, maxLine)
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// unwrapURLError drops the *url.Error around a client error: its message
// repeats the method and the URL (with any user info) that we give ourselves.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// unwrapDialError reduces "dial tcp 127.0.0.1:80: connect: connection
// refused" to "connection refused"; the caller names the address. Other
// errors are returned as they are.
func unwrapDialError(err error) error {
	var oe *net.OpError
	if !errors.As(err, &oe) {
		return err
	}
	err = oe.Err
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// firstLine is the first non-blank line of out, trimmed and cut short.
func firstLine(out []byte) string {
	for line := range bytes.Lines(out) {
		if s := strings.TrimSpace(string(line)); s != "" {
			return truncate(strings.ToValidUTF8(s, "\uFFFD"), maxLine)
		}
	}
	return ""
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// capWriter keeps the first max bytes written to it and discards the rest,
// without failing the writer.
type capWriter struct {
	buf []byte
	max int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(len(p), room)]...)
	}
	return len(p), nil
}
