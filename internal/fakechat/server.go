package fakechat

import (
	"bufio"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Start starts a Server on 127.0.0.1: the services at URL, the proxy at
// ProxyURL. Close stops it. Like httptest, it panics if it cannot listen;
// the error is for the CA's keys.
func Start(c Config) (*Server, error) {
	ca, err := newAuthority(TelegramHost, DiscordHost)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      c,
		ca:       ca,
		arrived:  make(chan struct{}),
		faults:   make(map[string]fault),
		requests: make(map[string]int),
	}
	quiet := log.New(io.Discard, "", 0) // a client refusing the CA is no news

	plain := httptest.NewUnstartedServer(s)
	plain.Config.ErrorLog = quiet
	plain.Start()
	s.URL = plain.URL

	// The proxy hands each admitted tunnel, as a TLS connection, to tunnels,
	// which serves it with the same handler. HTTP/1.1 only, so that Down can
	// hang up.
	s.tunnels = newConnListener()
	tunnel := httptest.NewUnstartedServer(s)
	tunnel.Listener.Close()
	tunnel.Listener = s.tunnels
	tunnel.Config.ErrorLog = quiet
	tunnel.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	tunnel.Start()

	proxy := httptest.NewUnstartedServer(http.HandlerFunc(s.proxy))
	proxy.Config.ErrorLog = quiet
	proxy.Start()
	s.ProxyURL = proxy.URL

	// Stopped in this order: no new tunnel, then the tunnels, then the rest.
	s.servers = []*httptest.Server{proxy, tunnel, plain}
	return s, nil
}

// Close stops the listeners, closes every connection and waits for the
// requests in progress. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		for _, srv := range s.servers {
			srv.Close()
		}
	})
}

// admitted reports whether the proxy tunnels to authority, a host:port.
func admitted(authority string) bool {
	host, port, err := net.SplitHostPort(authority)
	if err != nil || port != "443" {
		return false
	}
	return strings.EqualFold(host, TelegramHost) || strings.EqualFold(host, DiscordHost)
}

// proxy answers CONNECT to an admitted host by serving the tunnel itself,
// over TLS with the CA's certificate; anything else is refused with 403.
// It never dials anywhere.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect || !admitted(r.Host) {
		http.Error(w, "fakechat proxy: only CONNECT to "+TelegramHost+":443 or "+DiscordHost+":443", http.StatusForbidden)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "fakechat proxy: cannot take over the connection", http.StatusInternalServerError)
		return
	}
	conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		conn.Close()
		return
	}
	var c net.Conn = conn
	if brw.Reader.Buffered() > 0 {
		c = &bufferedConn{Conn: conn, r: brw.Reader}
	}
	if !s.tunnels.put(tls.Server(c, s.ca.serverConfig())) {
		conn.Close()
	}
}

// bufferedConn is a hijacked connection whose first bytes were already read
// into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// connListener is a net.Listener that accepts the connections put to it.
type connListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnListener() *connListener {
	return &connListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// put hands c to Accept; false if the listener is closed.
func (l *connListener) put(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}
}
