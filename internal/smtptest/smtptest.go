// Package smtptest runs a real SMTP server for tests: aiosmtpd (Debian's
// python3-aiosmtpd) on 127.0.0.1, by a script of its own, which reports
// each mail it receives. A test that needs it skips when aiosmtpd is
// missing, or fails when CI is set.
//
// Concurrency: a Server's methods may be called from any goroutine; the
// server stops when its test ends.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python is Debian's, which has python3-aiosmtpd; another Python on PATH
// may not.
const Python = "/usr/bin/python3"

// Wait bounds every wait on the server, so that a broken one fails the test
// rather than hangs it.
const Wait = 20 * time.Second

//go:embed smtpd.py
var script []byte

var (
	aiosmtpdOnce sync.Once
	aiosmtpdErr  error
)

// Need skips the test when aiosmtpd cannot be imported, or fails it when
// the environment has CI set.
func Need(t testing.TB) {
	t.Helper()
	aiosmtpdOnce.Do(func() {
		out, err := exec.Command(Python, "-c", "import aiosmtpd").CombinedOutput()
		if out = bytes.TrimSpace(out); err != nil && len(out) > 0 {
			err = fmt.Errorf("%v: %s", err, out)
		}
		aiosmtpdErr = err
	})
	if aiosmtpdErr != nil {
		msg := fmt.Sprintf("%s cannot import aiosmtpd (apt-get install python3-aiosmtpd): %v", Python, aiosmtpdErr)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Mail is one mail as the server got it.
type Mail struct {
	MailFrom string   `json:"mail_from"`
	RcptTos  []string `json:"rcpt_tos"`
	Data     []byte   `json:"data"`
	TLS      bool     `json:"tls"`
	Login    *string  `json:"login"`
}

// Options picks what the server offers.
type Options struct {
	StartTLS bool   // STARTTLS with a self-signed certificate for 127.0.0.1
	Implicit bool   // TLS from the start instead
	User     string // with Password: AUTH, under TLS if there is TLS
	Password string
}

// Server is the SMTP server, running on 127.0.0.1:Port.
type Server struct {
	Port  int
	mails chan Mail
}

// Start starts a server offering what o says; it stops when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Need(t)
	path := filepath.Join(t.TempDir(), "smtpd.py")
	if err := os.WriteFile(path, script, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{path}
	if o.StartTLS || o.Implicit {
		cert, key := writeCert(t)
		args = append(args, "--cert", cert, "--key", key)
		if o.Implicit {
			args = append(args, "--implicit")
		}
	}
	if o.User != "" {
		args = append(args, "--user", o.User, "--password", o.Password)
	}
	cmd := exec.Command(Python, args...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	s := &Server{mails: make(chan Mail, 64)}
	ready := make(chan int, 1)
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			line := sc.Text()
			if port, ok := strings.CutPrefix(line, "ready "); ok {
				var n int
				fmt.Sscan(port, &n)
				ready <- n
				continue
			}
			var m Mail
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("smtpd printed %q: %v", line, err)
				continue
			}
			select {
			case s.mails <- m:
			default:
				t.Errorf("smtpd: more mails than the test takes")
			}
		}
	}()
	// Closing stdin stops the server; a server that does not stop is killed.
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { <-lines; done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(Wait):
			cmd.Process.Kill()
			<-done
			t.Errorf("smtpd did not stop")
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("smtpd's stderr:\n%s", stderr.Bytes())
		}
	})

	select {
	case s.Port = <-ready:
	case <-lines:
		t.Fatalf("smtpd ended before it was ready")
	case <-time.After(Wait):
		t.Fatalf("smtpd not ready within %v", Wait)
	}
	return s
}

// Next is the next mail the server got, waiting for it up to Wait.
func (s *Server) Next(t testing.TB) Mail {
	t.Helper()
	select {
	case m := <-s.mails:
		return m
	case <-time.After(Wait):
		t.Fatalf("no mail within %v", Wait)
	}
	return Mail{}
}

// None checks that the server has no mail that Next has not taken.
func (s *Server) None(t testing.TB) {
	t.Helper()
	select {
	case m := <-s.mails:
		t.Errorf("got a mail from %s to %v, want none", m.MailFrom, m.RcptTos)
	default:
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtpd.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
