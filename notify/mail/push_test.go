package mail_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/notify/mail"

	"github.com/clooster/clooster/internal/smtptest"
)

const (
	testUser     = "clooster"
	testPassword = "pa55-w0rd"
)

// newSender makes a Sender for rawURL, with PORT replaced by port.
func newSender(t *testing.T, rawURL string, port int) *mail.Sender {
	t.Helper()
	u, err := url.Parse(strings.Replace(rawURL, "PORT", fmt.Sprint(port), 1))
	if err != nil {
		t.Fatal(err)
	}
	s, err := mail.New(u)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// push sends through s with a bounded context.
func push(s *mail.Sender, title, body string) error {
	ctx, cancel := context.WithTimeout(context.Background(), smtptest.Wait)
	defer cancel()
	return s.Push(ctx, title, body)
}

// readMail parses a received mail: headers, decoded subject and text body.
func readMail(t *testing.T, m smtptest.Mail) (netmail.Header, string, string) {
	t.Helper()
	msg, err := netmail.ReadMessage(bufio.NewReader(bytes.NewReader(m.Data)))
	if err != nil {
		t.Fatalf("read mail: %v\n%s", err, m.Data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	var body []byte
	if strings.HasPrefix(msg.Header.Get("Content-Type"), "text/plain") {
		body, err = io.ReadAll(quotedprintable.NewReader(msg.Body))
	} else {
		body, err = io.ReadAll(msg.Body)
	}
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return msg.Header, subject, strings.ReplaceAll(string(body), "\r\n", "\n")
}

func TestPushPlain(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	tests := []struct {
		name        string
		query       string
		title, body string
		wantSubject string
	}{
		{
			name:  "title is the subject",
			query: "fromname=clooster%20at%20Z%C3%BCrich",
			title: "Failover: node-a is down – node-b took over", body: "example.com now points at node-b.\n.a line that starts with a dot\n..and two\n",
			wantSubject: "Failover: node-a is down – node-b took over",
		},
		{
			name:  "subject from the URL",
			query: "subject=DNS%20alert&fromname=clooster%20at%20Z%C3%BCrich",
			title: "ignored", body: "text", wantSubject: "DNS alert",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSender(t, "smtp://127.0.0.1:PORT/?from=alerts@example.com&to=ops@example.com,oncall+dns@example.com&"+tt.query, srv.Port)
			if err := push(s, tt.title, tt.body); err != nil {
				t.Fatalf("Push: %v", err)
			}
			m := srv.Next(t)
			if got, want := m.MailFrom, "alerts@example.com"; got != want {
				t.Errorf("MAIL FROM %q, want %q", got, want)
			}
			if got, want := m.RcptTos, []string{"ops@example.com", "oncall+dns@example.com"}; !slices.Equal(got, want) {
				t.Errorf("RCPT TO %q, want %q", got, want)
			}
			if m.TLS || m.Login != nil {
				t.Errorf("tls %v, login %v; want neither", m.TLS, m.Login)
			}
			h, subject, body := readMail(t, m)
			if got, want := subject, tt.wantSubject; got != want {
				t.Errorf("Subject %q, want %q", got, want)
			}
			from, err := netmail.ParseAddress(h.Get("From"))
			if err != nil {
				t.Fatalf("From %q: %v", h.Get("From"), err)
			}
			if got, want := *from, (netmail.Address{Name: "clooster at Zürich", Address: "alerts@example.com"}); got != want {
				t.Errorf("From %v, want %v", got, want)
			}
			to, err := h.AddressList("To")
			if err != nil || len(to) != 2 || to[0].Address != "ops@example.com" || to[1].Address != "oncall+dns@example.com" {
				t.Errorf("To %q (%v), want both recipients", h.Get("To"), err)
			}
			if _, err := h.Date(); err != nil {
				t.Errorf("Date %q: %v", h.Get("Date"), err)
			}
			if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
				t.Errorf("Message-ID %q, want <...@example.com>", id)
			}
			for key, want := range map[string]string{
				"MIME-Version":              "1.0",
				"Content-Type":              "text/plain; charset=utf-8",
				"Content-Transfer-Encoding": "quoted-printable",
			} {
				if got := h.Get(key); got != want {
					t.Errorf("%s %q, want %q", key, got, want)
				}
			}
			if got, want := body, tt.body; strings.TrimSuffix(got, "\n") != strings.TrimSuffix(want, "\n") {
				t.Errorf("body %q, want %q", got, want)
			}
		})
	}
}

func TestPushHTML(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, "smtp://127.0.0.1:PORT/?from=alerts@example.com&to=ops@example.com&usehtml=yes", srv.Port)
	if err := push(s, "t", "a < b"); err != nil {
		t.Fatalf("Push: %v", err)
	}
	h, _, body := readMail(t, srv.Next(t))
	if kind, _, _ := mime.ParseMediaType(h.Get("Content-Type")); kind != "multipart/alternative" {
		t.Errorf("Content-Type %q, want multipart/alternative", h.Get("Content-Type"))
	}
	if !strings.Contains(body, "<pre>a &lt; b") {
		t.Errorf("body %q, want the escaped text in <pre>", body)
	}
}

func TestPushTLSAndAuth(t *testing.T) {
	starttls := smtptest.Start(t, smtptest.Options{StartTLS: true, User: testUser, Password: testPassword})
	implicit := smtptest.Start(t, smtptest.Options{Implicit: true, User: testUser, Password: testPassword})
	creds := url.UserPassword(testUser, testPassword).String() + "@"
	tests := []struct {
		name string
		srv  *smtptest.Server
		url  string
	}{
		{name: "STARTTLS and PLAIN", srv: starttls, url: "smtp://" + creds + "127.0.0.1:PORT/?skiptlsverify=yes"},
		{name: "STARTTLS required and PLAIN", srv: starttls,
			url: "smtp://" + creds + "127.0.0.1:PORT/?encryption=ExplicitTLS&requirestarttls=yes&skiptlsverify=yes&auth=Plain"},
		{name: "CRAM-MD5", srv: starttls, url: "smtp://" + creds + "127.0.0.1:PORT/?skiptlsverify=yes&auth=CRAMMD5"},
		{name: "XOAUTH2", srv: starttls, url: "smtp://" + creds + "127.0.0.1:PORT/?skiptlsverify=yes&auth=OAuth2"},
		{name: "implicit TLS", srv: implicit, url: "smtp://" + creds + "127.0.0.1:PORT/?encryption=ImplicitTLS&skiptlsverify=yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSender(t, tt.url+"&from=alerts@example.com&to=ops@example.com", tt.srv.Port)
			if err := push(s, "over TLS", "body"); err != nil {
				t.Fatalf("Push: %v", err)
			}
			m := tt.srv.Next(t)
			if !m.TLS {
				t.Errorf("the server got the mail in clear")
			}
			if m.Login == nil || *m.Login != testUser {
				t.Errorf("login %v, want %q", m.Login, testUser)
			}
			if _, subject, _ := readMail(t, m); subject != "over TLS" {
				t.Errorf("Subject %q, want %q", subject, "over TLS")
			}
		})
	}
}

// wantError checks err against what a case expects and that it shows no secret.
func wantError(t *testing.T, err error, cmd string, code int, temporary bool, contains ...string) *mail.Error {
	t.Helper()
	var e *mail.Error
	if !errors.As(err, &e) {
		t.Fatalf("Push = %v, want a *mail.Error", err)
	}
	if got, want := e.Cmd, cmd; got != want {
		t.Errorf("Cmd %q, want %q (%v)", got, want, err)
	}
	if got, want := e.Code, code; got != want {
		t.Errorf("Code %d, want %d (%v)", got, want, err)
	}
	if got, want := e.Temporary(), temporary; got != want {
		t.Errorf("Temporary() %v, want %v (%v)", got, want, err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q, want it to contain %q", err, c)
		}
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("error %q shows the password", err)
	}
	return e
}

func TestPushRefused(t *testing.T) {
	starttls := smtptest.Start(t, smtptest.Options{StartTLS: true, User: testUser, Password: testPassword})
	plain := smtptest.Start(t, smtptest.Options{})
	const addrs = "&from=alerts@example.com&to=ops@example.com"

	for _, auth := range []struct{ key, mech string }{{"Plain", "PLAIN"}, {"CRAMMD5", "CRAM-MD5"}, {"OAuth2", "XOAUTH2"}} {
		t.Run("wrong password "+auth.mech, func(t *testing.T) {
			s := newSender(t, "smtp://"+testUser+":wrong-"+testPassword+"@127.0.0.1:PORT/?skiptlsverify=yes&auth="+auth.key+addrs, starttls.Port)
			err := push(s, "t", "b")
			wantError(t, err, "AUTH "+auth.mech, 535, false, "smtp: 535 5.7.8")
			starttls.None(t)
		})
	}
	t.Run("certificate not trusted", func(t *testing.T) {
		s := newSender(t, "smtp://"+testUser+":"+testPassword+"@127.0.0.1:PORT/?"+addrs, starttls.Port)
		err := push(s, "t", "b")
		wantError(t, err, "STARTTLS", 0, false, "certificate")
		var verify *tls.CertificateVerificationError
		if !errors.As(err, &verify) {
			t.Errorf("error %v, want a certificate verification error", err)
		}
		starttls.None(t)
	})
	t.Run("STARTTLS required but not offered", func(t *testing.T) {
		s := newSender(t, "smtp://127.0.0.1:PORT/?encryption=ExplicitTLS"+addrs, plain.Port)
		err := push(s, "t", "b")
		wantError(t, err, "STARTTLS", 0, false, "does not offer")
		if !errors.Is(err, mail.ErrMisconfigured) {
			t.Errorf("error %v, want ErrMisconfigured", err)
		}
		plain.None(t)
	})
	t.Run("no AUTH offered", func(t *testing.T) {
		s := newSender(t, "smtp://"+testUser+":"+testPassword+"@127.0.0.1:PORT/?"+addrs, plain.Port)
		err := push(s, "t", "b")
		wantError(t, err, "AUTH PLAIN", 0, false, "offers no AUTH")
		plain.None(t)
	})
	t.Run("every recipient refused", func(t *testing.T) {
		s := newSender(t, "smtp://127.0.0.1:PORT/?from=alerts@example.com&to=refuse-a@example.com,refuse-b@example.com", plain.Port)
		err := push(s, "t", "b")
		e := wantError(t, err, "RCPT TO <refuse-a@example.com>", 550, false, "smtp: 550 5.1.1", "2 of 2 recipients refused")
		if e.Accepted != 0 || e.Rejected != 2 {
			t.Errorf("Accepted %d, Rejected %d; want 0, 2", e.Accepted, e.Rejected)
		}
		plain.None(t)
	})
	t.Run("greylisted", func(t *testing.T) {
		s := newSender(t, "smtp://127.0.0.1:PORT/?from=alerts@example.com&to=later@example.com,refuse@example.com", plain.Port)
		err := push(s, "t", "b")
		wantError(t, err, "RCPT TO <later@example.com>", 451, true, "smtp: 451 4.7.1")
		plain.None(t)
	})
	t.Run("one recipient refused, the other gets it", func(t *testing.T) {
		s := newSender(t, "smtp://127.0.0.1:PORT/?from=alerts@example.com&to=refuse@example.com,later@example.com,ops@example.com", plain.Port)
		err := push(s, "t", "b")
		e := wantError(t, err, "RCPT TO <later@example.com>", 451, false, "2 of 3 recipients refused, the mail went to the others")
		if e.Accepted != 1 {
			t.Errorf("Accepted %d, want 1", e.Accepted)
		}
		if got, want := plain.Next(t).RcptTos, []string{"ops@example.com"}; !slices.Equal(got, want) {
			t.Errorf("RCPT TO %q, want %q", got, want)
		}
	})
}

// TestPushNoCredentialsInClear points a remote host name at a server that
// takes AUTH without TLS: the credentials must not go.
func TestPushNoCredentialsInClear(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: testUser, Password: testPassword})
	tests := []struct {
		name, query, cmd string
	}{
		{name: "PLAIN", query: "", cmd: "AUTH PLAIN"},
		{name: "CRAM-MD5", query: "auth=CRAMMD5&", cmd: "AUTH CRAM-MD5"},
		{name: "encryption None", query: "encryption=None&", cmd: "AUTH PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSender(t, "smtp://"+testUser+":"+testPassword+"@mail.example.com/?"+tt.query+"from=alerts@example.com&to=ops@example.com", 0)
			mail.SetDial(s, func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", srv.Port))
			})
			err := push(s, "t", "b")
			wantError(t, err, tt.cmd, 0, false, "refusing to send credentials over an unencrypted connection to mail.example.com")
			if !errors.Is(err, mail.ErrMisconfigured) {
				t.Errorf("error %v, want ErrMisconfigured", err)
			}
			srv.None(t)
		})
	}
	t.Run("loopback may", func(t *testing.T) {
		s := newSender(t, "smtp://"+testUser+":"+testPassword+"@127.0.0.1:PORT/?from=alerts@example.com&to=ops@example.com", srv.Port)
		if err := push(s, "t", "b"); err != nil {
			t.Fatalf("Push: %v", err)
		}
		if m := srv.Next(t); m.Login == nil || *m.Login != testUser {
			t.Errorf("login %v, want %q", m.Login, testUser)
		}
	})
}

func TestPushNotListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := newSender(t, "smtp://127.0.0.1:PORT/?from=alerts@example.com&to=ops@example.com", port)
	wantError(t, push(s, "t", "b"), "dial", 0, true, "refused")
}

// silent accepts connections and never answers; it closes them at the end
// of the test.
func silent(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func TestPushSilentServer(t *testing.T) {
	port := silent(t)
	tests := []struct {
		name    string
		query   string
		ctx     time.Duration
		wantErr error
	}{
		{name: "context deadline", query: "", ctx: 200 * time.Millisecond, wantErr: context.DeadlineExceeded},
		{name: "URL timeout", query: "timeout=200ms&", ctx: smtptest.Wait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSender(t, "smtp://127.0.0.1:PORT/?"+tt.query+"from=alerts@example.com&to=ops@example.com", port)
			ctx, cancel := context.WithTimeout(context.Background(), tt.ctx)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Push(ctx, "t", "b") }()
			var err error
			select {
			case err = <-done:
			case <-time.After(smtptest.Wait):
				t.Fatalf("Push still running after %v", smtptest.Wait)
			}
			wantError(t, err, "greeting", 0, true)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			var ne net.Error
			if tt.wantErr == nil && (!errors.As(err, &ne) || !ne.Timeout()) {
				t.Errorf("error %v, want a timeout", err)
			}
		})
	}
}

func TestPushCanceled(t *testing.T) {
	port := silent(t)
	s := newSender(t, "smtp://127.0.0.1:PORT/?from=alerts@example.com&to=ops@example.com", port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Push(ctx, "t", "b") }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Push = %v, want context.Canceled", err)
		}
	case <-time.After(smtptest.Wait):
		t.Fatalf("Push still running after %v", smtptest.Wait)
	}
}
