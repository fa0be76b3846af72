package mail_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
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

// python is Debian's, which has python3-aiosmtpd; another python on PATH
// may not.
const python = "/usr/bin/python3"

// wait bounds every wait on the server, so that a broken one fails the test
// rather than hangs it.
const wait = 20 * time.Second

var (
	aiosmtpdOnce sync.Once
	aiosmtpdErr  error
)

// needAiosmtpd skips the test when aiosmtpd cannot be imported, or fails it
// when the environment has CI set.
func needAiosmtpd(t *testing.T) {
	t.Helper()
	aiosmtpdOnce.Do(func() {
		out, err := exec.Command(python, "-c", "import aiosmtpd").CombinedOutput()
		if out = bytes.TrimSpace(out); err != nil && len(out) > 0 {
			err = fmt.Errorf("%v: %s", err, out)
		}
		aiosmtpdErr = err
	})
	if aiosmtpdErr != nil {
		msg := fmt.Sprintf("%s cannot import aiosmtpd (apt-get install python3-aiosmtpd): %v", python, aiosmtpdErr)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// received is one mail as the server got it.
type received struct {
	MailFrom string   `json:"mail_from"`
	RcptTos  []string `json:"rcpt_tos"`
	Data     []byte   `json:"data"`
	TLS      bool     `json:"tls"`
	Login    *string  `json:"login"`
}

// smtpdOptions picks what the server offers.
type smtpdOptions struct {
	startTLS bool   // STARTTLS with a self-signed certificate
	implicit bool   // TLS from the start instead
	user     string // with password: AUTH, under TLS if there is TLS
	password string
}

// smtpd is testdata/smtpd.py running on 127.0.0.1.
type smtpd struct {
	port  int
	mails chan received
}

func startSMTPD(t *testing.T, o smtpdOptions) *smtpd {
	t.Helper()
	needAiosmtpd(t)
	args := []string{filepath.Join("testdata", "smtpd.py")}
	if o.startTLS || o.implicit {
		cert, key := writeCert(t)
		args = append(args, "--cert", cert, "--key", key)
		if o.implicit {
			args = append(args, "--implicit")
		}
	}
	if o.user != "" {
		args = append(args, "--user", o.user, "--password", o.password)
	}
	cmd := exec.Command(python, args...)
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

	s := &smtpd{mails: make(chan received, 16)}
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
			var m received
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
		case <-time.After(wait):
			cmd.Process.Kill()
			<-done
			t.Errorf("smtpd did not stop")
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("smtpd's stderr:\n%s", stderr.Bytes())
		}
	})

	select {
	case s.port = <-ready:
	case <-lines:
		t.Fatalf("smtpd ended before it was ready")
	case <-time.After(wait):
		t.Fatalf("smtpd not ready within %v", wait)
	}
	return s
}

// next is the next mail the server got.
func (s *smtpd) next(t *testing.T) received {
	t.Helper()
	select {
	case m := <-s.mails:
		return m
	case <-time.After(wait):
		t.Fatalf("no mail within %v", wait)
	}
	return received{}
}

// none checks that the server got no mail. Push has returned, so a mail
// would already be there.
func (s *smtpd) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-s.mails:
		t.Errorf("got a mail from %s to %v, want none", m.MailFrom, m.RcptTos)
	default:
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string) {
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
