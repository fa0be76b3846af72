package fakechat

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// authority is the stand-in's CA and the certificate it signed for the
// proxied hosts. The CA may sign for those hosts only (a name constraint),
// so trusting it trusts nothing else.
type authority struct {
	cert    *x509.Certificate
	certPEM []byte
	leaf    tls.Certificate
}

func newAuthority(hosts ...string) (*authority, error) {
	now := time.Now()
	notBefore, notAfter := now.Add(-time.Hour), now.Add(30*24*time.Hour)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fakechat: CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{CommonName: "fakechat test CA", Organization: []string{"clooster tests"}},
		NotBefore:                   notBefore,
		NotAfter:                    notAfter,
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         hosts,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("fakechat: CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("fakechat: CA certificate: %w", err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fakechat: server key: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("fakechat: server certificate: %w", err)
	}
	return &authority{
		cert:    caCert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		leaf:    tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey},
	}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// serverConfig is the TLS configuration of a tunnel: HTTP/1.1 only.
func (a *authority) serverConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{a.leaf},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}
}

// CAPEM returns the CA's certificate in PEM.
func (s *Server) CAPEM() []byte {
	return append([]byte(nil), s.ca.certPEM...)
}

// WriteCA writes the CA's certificate in PEM to path.
func (s *Server) WriteCA(path string) error {
	if err := os.WriteFile(path, s.ca.certPEM, 0o644); err != nil {
		return fmt.Errorf("fakechat: write CA: %w", err)
	}
	return nil
}

// Env returns the environment that sends a Go process's requests to
// api.telegram.org and discord.com to the stand-in, with caFile holding the
// CA (see WriteCA): HTTPS_PROXY and SSL_CERT_FILE. Requests to loopback
// addresses bypass the proxy, as Go does for them.
func (s *Server) Env(caFile string) []string {
	return []string{"HTTPS_PROXY=" + s.ProxyURL, "SSL_CERT_FILE=" + caFile}
}

// Transport returns a transport that sends requests to
// https://api.telegram.org and https://discord.com through the proxy,
// trusting the CA, and refuses to dial anything but loopback addresses: so
// that, as http.DefaultTransport for a test, nothing leaves the machine.
func (s *Server) Transport() *http.Transport {
	proxyURL, err := url.Parse(s.ProxyURL)
	if err != nil {
		panic(err) // Start set it
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AddCert(s.ca.cert)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Transport{
		Proxy: func(r *http.Request) (*url.URL, error) {
			port := r.URL.Port()
			if port == "" && r.URL.Scheme == "https" {
				port = "443"
			}
			if r.URL.Scheme == "https" && admitted(net.JoinHostPort(r.URL.Hostname(), port)) {
				return proxyURL, nil
			}
			return nil, nil
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return nil, fmt.Errorf("fakechat: refusing to dial %s: not a loopback address", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     30 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
}
