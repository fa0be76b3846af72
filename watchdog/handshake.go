package watchdog

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"hash"
	"io"
)

// exporterLabel is the RFC 9266 channel binding label: both ends of one TLS
// 1.3 session export the same 32 bytes; two different sessions (a relay, a
// TLS-terminating middlebox) export different ones.
const exporterLabel = "EXPORTER-Channel-Binding"

// transcriptLabel starts every MAC input, so that these MACs cannot be
// confused with any other use of the key.
const transcriptLabel = "clooster proof v1"

// messageConn is the part of a websocket connection the handshake uses.
type messageConn interface {
	ReadMessage() (messageType int, p []byte, err error)
	WriteMessage(messageType int, data []byte) error
}

const binaryMessage = 2 // websocket.BinaryMessage

// errBadProof is what a wrong key looks like from either side.
var errBadProof = errors.New("bad proof (wrong key?)")

// authenticator proves this node's knowledge of the shared key and checks the
// peer's, over one TLS session. It holds no per-connection state and is safe
// for concurrent use.
type authenticator struct {
	key   []byte
	this  string
	other string
	rand  io.Reader
}

// channelBinding returns the TLS exporter value of a finished TLS 1.3 session.
func channelBinding(cs tls.ConnectionState) ([]byte, error) {
	if !cs.HandshakeComplete {
		return nil, errors.New("tls handshake not complete")
	}
	if cs.Version != tls.VersionTLS13 {
		return nil, fmt.Errorf("tls version %#x, want 1.3", cs.Version)
	}
	return cs.ExportKeyingMaterial(exporterLabel, nil, 32)
}

// mac computes the proof of the prover role over the whole transcript: the
// protocol version, the prover's role, the channel binding, both nonces and
// both names. Every variable-length field is length-prefixed.
func (a *authenticator) mac(prover byte, cb []byte, clientNonce, serverNonce [nonceSize]byte, clientName, serverName string) [macSize]byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(transcriptLabel))
	m.Write([]byte{protoVersion, prover})
	writeField(m, cb)
	m.Write(clientNonce[:])
	m.Write(serverNonce[:])
	writeField(m, []byte(clientName))
	writeField(m, []byte(serverName))
	var out [macSize]byte
	copy(out[:], m.Sum(nil))
	return out
}

func writeField(h hash.Hash, b []byte) {
	h.Write([]byte{byte(len(b) >> 8), byte(len(b))})
	h.Write(b)
}

func (a *authenticator) nonce() ([nonceSize]byte, error) {
	var n [nonceSize]byte
	r := a.rand
	if r == nil {
		r = rand.Reader
	}
	_, err := io.ReadFull(r, n[:])
	return n, err
}

// client runs the dialling side: hello, read the server's hello, prove,
// check the server's proof. The caller sets the deadline.
func (a *authenticator) client(c messageConn, cb []byte) error {
	nc, err := a.nonce()
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	if err := c.WriteMessage(binaryMessage, hello{Role: roleClient, Nonce: nc, Name: a.this}.encode()); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	p, err := readFrame(c, frameHello)
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	sh, err := decodeHello(p)
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	if err := a.checkHello(sh, roleServer); err != nil {
		return err
	}
	mine := a.mac(roleClient, cb, nc, sh.Nonce, a.this, a.other)
	if err := c.WriteMessage(binaryMessage, proof{MAC: mine}.encode()); err != nil {
		return fmt.Errorf("send proof: %w", err)
	}
	p, err = readFrame(c, frameProof)
	if err != nil {
		return fmt.Errorf("read proof: %w (the server refused us: wrong key?)", err)
	}
	sp, err := decodeProof(p)
	if err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	want := a.mac(roleServer, cb, nc, sh.Nonce, a.this, a.other)
	if !hmac.Equal(sp.MAC[:], want[:]) {
		return errBadProof
	}
	return nil
}

// server runs the listening side: read the client's hello, answer, check the
// client's proof, then prove. A client learns nothing keyed before it has
// proved itself.
func (a *authenticator) server(c messageConn, cb []byte) error {
	p, err := readFrame(c, frameHello)
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	ch, err := decodeHello(p)
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	if err := a.checkHello(ch, roleClient); err != nil {
		return err
	}
	ns, err := a.nonce()
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	if err := c.WriteMessage(binaryMessage, hello{Role: roleServer, Nonce: ns, Name: a.this}.encode()); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	p, err = readFrame(c, frameProof)
	if err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	cp, err := decodeProof(p)
	if err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	want := a.mac(roleClient, cb, ch.Nonce, ns, a.other, a.this)
	if !hmac.Equal(cp.MAC[:], want[:]) {
		return errBadProof
	}
	mine := a.mac(roleServer, cb, ch.Nonce, ns, a.other, a.this)
	if err := c.WriteMessage(binaryMessage, proof{MAC: mine}.encode()); err != nil {
		return fmt.Errorf("send proof: %w", err)
	}
	return nil
}

func (a *authenticator) checkHello(h hello, wantRole byte) error {
	if h.Role != wantRole {
		return fmt.Errorf("peer says it is a %s, want a %s (both configured with the same role?)", roleName(h.Role), roleName(wantRole))
	}
	if h.Name != a.other {
		return fmt.Errorf("peer says it is %q, want %q", h.Name, a.other)
	}
	return nil
}

// readFrame reads one binary message and checks its envelope and type.
func readFrame(c messageConn, want frameType) ([]byte, error) {
	mt, b, err := c.ReadMessage()
	if err != nil {
		return nil, err
	}
	if mt != binaryMessage {
		return nil, fmt.Errorf("%w: text message", errFrameLayout)
	}
	t, p, err := decodeFrame(b)
	if err != nil {
		return nil, err
	}
	if t != want {
		return nil, fmt.Errorf("%w %d", errFrameType, t)
	}
	return p, nil
}
