package watchdog

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/clooster/clooster/internal/failover"
)

// This file lends the link's authentication to the other protocols of a
// node's TLS port (quorum mode's Raft and control connections): the same
// HELLO/PROOF handshake, bound to the TLS session, over a raw TLS stream
// instead of a websocket, and the same admission limits for the listener.

// HandshakeTimeout bounds everything between the TCP accept (or dial) and
// the end of the handshake: TCP, TLS and HELLO/PROOF.
const HandshakeTimeout = handshakeTimeout

// ErrBadProof is what a wrong key looks like from either side of the
// handshake; "bad proof (wrong key?)" is the text fail2ban's filter knows.
var ErrBadProof = errBadProof

// KeyRefused reports whether err, the dialling side's handshake error,
// says that the server refused this side's proof of the key: it said so
// (a refusal of kind failover.ProblemKey, told after the proof). A
// connection merely closed after the proof says nothing for sure (the
// server's handshake may have timed out on a lossy path).
func KeyRefused(err error) bool {
	r, ok := errors.AsType[*refusal](err)
	return ok && r.Kind == failover.ProblemKey
}

// StreamAuth runs the link's handshake (docs/PROTOCOL.md, "Handshake") over a
// TLS 1.3 stream: each frame is sent as a 2-byte big-endian length and the
// frame, of at most 1,024 bytes. The dialling side says HELLO as a client,
// the listening side as a server. It holds no per-connection state and is
// safe for concurrent use; the caller sets the connection's deadline.
type StreamAuth struct {
	key     []byte
	this    string
	members func(name string) bool
}

// NewStreamAuth returns the handshake of the node named this, with the
// shared key. members reports whether a name is that of another node
// allowed to connect; the listening side refuses every other name (and its
// own) with BYE(refused).
func NewStreamAuth(key []byte, this string, members func(name string) bool) *StreamAuth {
	return &StreamAuth{key: key, this: this, members: members}
}

// Client runs the dialling side over c, whose TLS handshake is complete:
// the server must prove the key and call itself server.
func (a *StreamAuth) Client(c *tls.Conn, server string) error {
	cb, err := channelBinding(c.ConnectionState())
	if err != nil {
		return fmt.Errorf("channel binding: %w", err)
	}
	au := &authenticator{key: a.key, this: a.this, other: server}
	return au.client(streamConn{c}, cb)
}

// Server runs the listening side over c, whose TLS handshake is complete,
// and returns the name the client proved: a name members accepts.
func (a *StreamAuth) Server(c *tls.Conn) (string, error) {
	cb, err := channelBinding(c.ConnectionState())
	if err != nil {
		return "", fmt.Errorf("channel binding: %w", err)
	}
	au := &authenticator{key: a.key, this: a.this, members: a.members}
	if au.members == nil {
		au.members = func(string) bool { return false }
	}
	return au.serve(streamConn{c}, cb)
}

// streamConn frames the handshake's messages on a byte stream: a 2-byte
// big-endian length, then the frame.
type streamConn struct{ rw io.ReadWriter }

func (s streamConn) ReadMessage() (int, []byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(s.rw, n[:]); err != nil {
		return 0, nil, err
	}
	size := int(binary.BigEndian.Uint16(n[:]))
	if size > maxFrameSize {
		return 0, nil, fmt.Errorf("%w: %d bytes", errFrameLong, size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(s.rw, b); err != nil {
		return 0, nil, err
	}
	return binaryMessage, b, nil
}

func (s streamConn) WriteMessage(_ int, data []byte) error {
	if len(data) > maxFrameSize {
		return fmt.Errorf("%w: %d bytes", errFrameLong, len(data))
	}
	b := make([]byte, 2, 2+len(data))
	binary.BigEndian.PutUint16(b, uint16(len(data)))
	_, err := s.rw.Write(append(b, data...))
	return err
}

// Limiter is the link listener's admission control (docs/PROTOCOL.md,
// "Transport"): at most 64 connections in their handshake at once, at most 8
// from one address, and after 10 failures in a row from one address one try
// every 2 s, until a success restores its allowance. Safe for concurrent use.
type Limiter struct{ l *limiter }

// NewLimiter returns the limits of the link's listener.
func NewLimiter() *Limiter { return &Limiter{l: newLimiter()} }

// Admit decides whether a new connection from the address addr (a host,
// without port) may start its handshake. If it may, the caller must call
// Done exactly once when the handshake ends. If it may not, why says so,
// and logIt whether to log this rejection: those of one limited address
// are logged at most every 10 s, with the count of those not logged.
func (l *Limiter) Admit(addr string) (ok bool, why string, logIt bool, suppressed int) {
	return l.l.admit(addr)
}

// Done ends a handshake that Admit let start.
func (l *Limiter) Done(addr string, success bool) { l.l.done(addr, success) }

// Abandoned ends a handshake that Admit let start and that the other side
// closed before it sent anything: neither a success nor a failure (a
// member's dial that gave up while this process was frozen, say).
func (l *Limiter) Abandoned(addr string) { l.l.abandoned(addr) }

// HostOf is a's host, without its port ("unknown" for none): the address
// the admission limits and the log lines name.
func HostOf(a net.Addr) string { return hostOf(a) }

// ShortErr keeps the last, most specific part of a wrapped network error.
func ShortErr(err error) string { return shortErr(err) }
