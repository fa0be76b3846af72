package fakechat_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakechat"
	"github.com/clooster/clooster/notify/webhook"
)

// connect sends one request line to the proxy on a fresh connection and
// returns the answer with the connection, for a tunnel.
func connect(t *testing.T, s *fakechat.Server, line, host string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.ProxyURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: %s\r\n\r\n", line, host); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return resp, conn, br
}

func TestProxyRefuses(t *testing.T) {
	tests := []struct {
		name string
		line string
		host string
	}{
		{name: "another host", line: "CONNECT example.com:443", host: "example.com:443"},
		{name: "another port", line: "CONNECT api.telegram.org:80", host: "api.telegram.org:80"},
		{name: "a subdomain", line: "CONNECT cdn.discord.com:443", host: "cdn.discord.com:443"},
		{name: "loopback", line: "CONNECT 127.0.0.1:443", host: "127.0.0.1:443"},
		{name: "plain proxying", line: "GET http://api.telegram.org/", host: "api.telegram.org"},
		{name: "plain proxying over 443", line: "POST https://discord.com/api/webhooks/1/x", host: "discord.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{})
			resp, _, _ := connect(t, s, tt.line, tt.host)
			resp.Body.Close()
			if got, want := resp.StatusCode, http.StatusForbidden; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
		})
	}
}

func TestProxyTunnel(t *testing.T) {
	pool := x509.NewCertPool()
	tests := []struct {
		name       string
		authority  string
		serverName string
		wantErr    bool
	}{
		{name: "telegram", authority: "api.telegram.org:443", serverName: "api.telegram.org"},
		{name: "discord, any case", authority: "Discord.com:443", serverName: "discord.com"},
		{name: "a name the certificate does not hold", authority: "discord.com:443", serverName: "example.com", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{})
			if !pool.AppendCertsFromPEM(s.CAPEM()) {
				t.Fatal("CAPEM holds no certificate")
			}
			resp, conn, br := connect(t, s, "CONNECT "+tt.authority, tt.authority)
			if got, want := resp.StatusCode, http.StatusOK; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if br.Buffered() != 0 {
				t.Fatal("the proxy wrote after its answer")
			}
			tc := tls.Client(conn, &tls.Config{ServerName: tt.serverName, RootCAs: pool})
			err := tc.Handshake()
			if tt.wantErr {
				if err == nil {
					t.Error("handshake: no error")
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got := tc.ConnectionState().NegotiatedProtocol; got != "" && got != "http/1.1" {
				t.Errorf("protocol = %q, want HTTP/1.1", got)
			}
		})
	}
}

func TestTransport(t *testing.T) {
	s := start(t, fakechat.Config{TelegramToken: botToken})
	tr := s.Transport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	a := mustDo(t, client, "https://api.telegram.org", request{method: "GET", path: "/bot" + botToken + "/getMe"})
	if a.status != 200 || !strings.Contains(string(a.body), `"ok":true`) {
		t.Errorf("getMe = %d %s", a.status, a.body)
	}
	if a := mustDo(t, client, s.URL, serviceRequests[fakechat.Ntfy]); a.status != 200 {
		t.Errorf("loopback: status = %d", a.status)
	}
	for _, base := range []string{"https://example.com", "http://api.telegram.org", "https://api.telegram.org:8443"} {
		_, err := do(t, client, base, request{method: "GET", path: "/"})
		if err == nil || !strings.Contains(err.Error(), "refusing to dial") {
			t.Errorf("%s: %v, want it refused", base, err)
		}
	}
}

func TestWriteCA(t *testing.T) {
	s := start(t, fakechat.Config{})
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := s.WriteCA(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(s.CAPEM()) {
		t.Error("file differs from CAPEM")
	}
	if err := s.WriteCA(filepath.Join(t.TempDir(), "missing", "ca.pem")); err == nil {
		t.Error("WriteCA into a missing directory: no error")
	}
}

// The child process's environment, beyond Env's.
const (
	childEnv  = "FAKECHAT_CHILD"
	childText = "FAKECHAT_TEXT"
)

// child runs in a process started by TestEnv: it sends one Telegram message
// and one Discord message with http.DefaultClient, as a process configured
// only by its environment would.
func child(what string) int {
	text := os.Getenv(childText)
	posts := map[string]string{
		"https://api.telegram.org/bot" + botToken + "/sendMessage":     `{"chat_id":1,"text":` + quote(text) + `}`,
		"https://discord.com/api/webhooks/" + hookID + "/" + hookToken: `{"content":` + quote(text) + `}`,
	}
	for u, body := range posts {
		resp, err := http.Post(u, "application/json", strings.NewReader(body))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			fmt.Fprintln(os.Stderr, u, resp.Status)
			return 1
		}
	}
	fmt.Println(what, "sent")
	return 0
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestEnv(t *testing.T) {
	s := start(t, fakechat.Config{TelegramToken: botToken, DiscordID: hookID, DiscordToken: hookToken})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := s.WriteCA(ca); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, s.Env(ca)...)
	cmd.Env = append(cmd.Env, childEnv+"=both", childText+"=from a child")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	msgs := wait(t, s, 2)
	for _, m := range msgs {
		if m.Text != "from a child" {
			t.Errorf("%s message = %q, want %q", m.Service, m.Text, "from a child")
		}
	}
	if msgs[0].Service == msgs[1].Service {
		t.Errorf("services = %s, %s; want one each", msgs[0].Service, msgs[1].Service)
	}
}

func TestEnvWithoutTheCA(t *testing.T) {
	s := start(t, fakechat.Config{})
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HTTPS_PROXY="+s.ProxyURL, "SSL_CERT_FILE="+filepath.Join(t.TempDir(), "none.pem"),
		"SSL_CERT_DIR="+t.TempDir(), childEnv+"=both", childText+"=x")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child trusted the stand-in without its CA:\n%s", out)
	}
	if !strings.Contains(string(out), "certificate") {
		t.Errorf("child failed, but not on the certificate:\n%s", out)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("recorded %d messages, want none", n)
	}
}

// TestWebhookSender drives notify/webhook against the stand-in's webhook.
func TestWebhookSender(t *testing.T) {
	tests := []struct {
		name          string
		query         string
		fault         func(*fakechat.Server)
		wantErr       bool
		wantTemporary bool
		want          *fakechat.Message
	}{
		{name: "json", query: "template=json&@Authorization=Bearer+k",
			want: &fakechat.Message{Path: "/hook/alerts", Title: "peer down", Text: "srv1 is silent"}},
		{name: "plain", query: "@Authorization=Bearer+k",
			want: &fakechat.Message{Path: "/hook/alerts", Text: "srv1 is silent"}},
		{name: "wrong auth", query: "@Authorization=Bearer+wrong", wantErr: true},
		{name: "unavailable", query: "@Authorization=Bearer+k", fault: func(s *fakechat.Server) { s.Status(fakechat.Webhook, 503) },
			wantErr: true, wantTemporary: true},
		{name: "down", query: "@Authorization=Bearer+k", fault: func(s *fakechat.Server) { s.Down(fakechat.Webhook, true) },
			wantErr: true, wantTemporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fakechat.Config{WebhookAuth: "Bearer k"})
			if tt.fault != nil {
				tt.fault(s)
			}
			u, err := url.Parse("generic+" + s.URL + "/hook/alerts?" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			w, err := webhook.New(u, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = w.Push(t.Context(), "peer down", "srv1 is silent")
			if (err != nil) != tt.wantErr {
				t.Fatalf("Push: %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				we, ok := err.(*webhook.Error)
				if !ok || we.Temporary() != tt.wantTemporary {
					t.Errorf("Push: %v, want a *webhook.Error, temporary %v", err, tt.wantTemporary)
				}
				if strings.Contains(err.Error(), "Bearer") {
					t.Errorf("error %q shows the header", err)
				}
				return
			}
			m := wait(t, s, 1)[0]
			if m.Service != fakechat.Webhook || m.Path != tt.want.Path || m.Title != tt.want.Title || m.Text != tt.want.Text {
				t.Errorf("message = %s %s %q/%q, want %s %s %q/%q", m.Service, m.Path, m.Title, m.Text, fakechat.Webhook, tt.want.Path, tt.want.Title, tt.want.Text)
			}
		})
	}
}
