package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/clooster/clooster/internal/failover"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clooster/clooster/watchdog"
)

const fail2banFilter = "deploy/fail2ban/filter.d/clooster.conf"

// f2bHost stands for fail2ban's <HOST>: an IPv4 or an IPv6 address.
const f2bHost = `(\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)`

// f2bFailregex reads the failregex lines of the shipped filter and turns
// them into Go regexps, <HOST> becoming a capture group.
func f2bFailregex(t *testing.T) []*regexp.Regexp {
	t.Helper()
	f, err := os.Open(fail2banFilter)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var res []*regexp.Regexp
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var expr string
		switch {
		case strings.HasPrefix(line, "failregex"):
			_, expr, _ = strings.Cut(line, "=")
			in = true
		case in && line != "" && (line[0] == ' ' || line[0] == '\t'):
			expr = line
		default:
			in = false
			continue
		}
		expr = strings.TrimSpace(expr)
		if expr == "" {
			continue
		}
		if strings.Count(expr, "<HOST>") != 1 {
			t.Fatalf("failregex %q: want exactly one <HOST>", expr)
		}
		re, err := regexp.Compile(strings.Replace(expr, "<HOST>", f2bHost, 1))
		if err != nil {
			t.Fatalf("failregex %q: %v", expr, err)
		}
		res = append(res, re)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 {
		t.Fatalf("%s: no failregex", fail2banFilter)
	}
	return res
}

// f2bHosts returns the addresses the filter finds in line.
func f2bHosts(res []*regexp.Regexp, line string) []string {
	var hosts []string
	for _, re := range res {
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			hosts = append(hosts, m[1])
		}
	}
	return hosts
}

// f2bBuffer is a log destination that the test reads while nodes write.
type f2bBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *f2bBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *f2bBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.b.String()), "\n")
}

// TestFail2banFilterLoggerLines: the filter finds the address in lines made
// by the daemon's logger the way the link logs a rejection, in both formats,
// and nothing in other lines, including lines whose values try to forge a
// rejection of another address.
func TestFail2banFilterLoggerLines(t *testing.T) {
	res := f2bFailregex(t)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf f2bBuffer
			log := newLogger(&buf, "debug", format, []string{"a-secret-key-of-some-length"}).With("component", "watchdog")
			reject := func(addr, why string) {
				log.Warn(fmt.Sprintf("rejected peer %s: %s", addr, why), "peer", addr, "reason", why)
			}
			forged := `x" level=WARN msg="rejected peer 203.0.113.66: y","level":"WARN","msg":"rejected peer 203.0.113.66: z`

			reject("192.0.2.7", "bad proof (wrong key?)")
			reject("2001:db8::7", "handshake timeout")
			reject("::ffff:192.0.2.8", "tls handshake: EOF")
			reject("::1", "websocket upgrade: unknown path")
			log.Warn(fmt.Sprintf("rejected peer %s: %s", "192.0.2.9", "rate limited"), "peer", "192.0.2.9", "reason", "rate limited", "suppressed", 3)
			reject("192.0.2.10", fmt.Sprintf("peer says it is %q, want %q", forged, "srv2.example.com"))
			want := [][]string{{"192.0.2.7"}, {"2001:db8::7"}, {"::ffff:192.0.2.8"}, {"::1"}, {"192.0.2.9"}, {"192.0.2.10"}}

			log.Info("clooster starting", "node", "srv1.example.com", "peer", "srv2.example.com")
			log.Info("listening", "addr", "0.0.0.0:4096")
			log.Warn("link to peer lost", "peer", "srv2.example.com", "reason", "peer closed the link: "+forged)
			log.Info("cannot reach peer; retrying", "addr", "192.0.2.2:4096", "error", "dial: connection refused "+forged)
			log.Warn("peer is down", "peer", "srv2.example.com", "reason", "rejected peer 203.0.113.66: bad proof")
			log.Info("rejected peer 203.0.113.66: not a warning")
			log.Warn(forged)
			for range 7 {
				want = append(want, nil)
			}

			lines := buf.lines()
			if len(lines) != len(want) {
				t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
			}
			for i, line := range lines {
				got := f2bHosts(res, line)
				if fmt.Sprint(got) != fmt.Sprint(want[i]) {
					t.Errorf("filter finds %q in\n  %s\nwant %q", got, line, want[i])
				}
				for _, h := range got {
					if net.ParseIP(h) == nil {
						t.Errorf("filter finds %q in\n  %s\nnot an IP address", h, line)
					}
				}
			}
		})
	}
}

// TestFail2banFilterRealRejection: a real server node, logging through the
// daemon's logger, rejects a client with the wrong key; the filter finds
// the client's address in what it logs.
func TestFail2banFilterRealRejection(t *testing.T) {
	res := f2bFailregex(t)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf f2bBuffer
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			stls, err := watchdog.ServerTLS("", "")
			if err != nil {
				t.Fatal(err)
			}
			ctls, err := watchdog.ClientTLS("", "", "")
			if err != nil {
				t.Fatal(err)
			}
			node := func(c watchdog.Config, key string) *watchdog.Node {
				c.Key = []byte(key)
				c.KeepaliveInterval, c.PeerTimeout, c.FailbackDelay = time.Second, 10*time.Second, time.Minute
				c.RecordName, c.Preferred = "cluster.example.com", "srv1.example.com"
				c.Store = f2bStore{}
				n, err := watchdog.New(c)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			srv := node(watchdog.Config{This: "srv1.example.com", Other: "srv2.example.com", Role: "server",
				Listener: ln, ServerTLS: stls, Logger: newLogger(&buf, "info", format, nil)}, "the right key, 32 bytes long....")
			cli := node(watchdog.Config{This: "srv2.example.com", Other: "srv1.example.com", Role: "client",
				DialAddr: ln.Addr().String(), ClientTLS: ctls}, "the wrong key, 32 bytes long....")

			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			for _, n := range []*watchdog.Node{srv, cli} {
				wg.Go(func() { n.Run(ctx) })
			}
			defer func() { cancel(); wg.Wait() }()

			deadline := time.Now().Add(10 * time.Second)
			for {
				for _, line := range buf.lines() {
					if !strings.Contains(line, "rejected peer") {
						continue
					}
					if got := f2bHosts(res, line); len(got) != 1 || got[0] != "127.0.0.1" {
						t.Fatalf("filter finds %q in\n  %s\nwant [127.0.0.1]", got, line)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no rejection logged within 10 s; log:\n%s", strings.Join(buf.lines(), "\n"))
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// f2bStore is a record that always points to the server.
type f2bStore struct{}

func (f2bStore) Read(context.Context) (failover.Record, error) {
	return failover.Record{Content: "srv1.example.com"}, nil
}
func (f2bStore) Write(context.Context, string) error { return nil }

// The shipped unit reloads with SIGHUP to the main process, which the
// daemon takes as a reload (systemd-analyze verify checks the rest in CI).
func TestUnitReloadsWithSIGHUP(t *testing.T) {
	data, err := os.ReadFile("deploy/clooster.service")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecReload="); ok {
			got = append(got, v)
		}
	}
	if want := []string{"/bin/kill -HUP $MAINPID"}; !slices.Equal(got, want) {
		t.Errorf("ExecReload: got %q, want %q", got, want)
	}
}
