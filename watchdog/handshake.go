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
	"slices"
	"strings"
	"sync/atomic"

	"github.com/clooster/clooster/internal/failover"
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

// refusal is a handshake that failed because the two nodes' configurations
// disagree: the peer answers, but it is not the peer this node expects, or
// it does not expect this node. Kind is a failover.Problem* kind; What says
// what was seen, Hint what to do. It is unauthenticated evidence: anyone on
// the path can produce it.
type refusal struct {
	Kind, What, Hint string
	Err              error // what it also is (errBadProof, errFrameVersion); may be nil
	// Told: the other side has been told why (a BYE it can read), or was
	// the one that told us. Theirs: the other side told us (What is its
	// text, and names it).
	Told, Theirs bool
}

func (r *refusal) Error() string { return r.What }

func (r *refusal) Unwrap() error { return r.Err }

// refusedBy reads the BYE(refused) the other side sent: its kind and text,
// or nil if it is not one.
func refusedBy(y bye) *refusal {
	if y.Code != byeRefused {
		return nil
	}
	kind, what, ok := strings.Cut(y.Reason, ": ")
	if !ok || !slices.Contains(failover.ProblemKinds, kind) {
		return nil
	}
	return &refusal{Kind: kind, What: what, Told: true, Theirs: true}
}

// authenticator proves this node's knowledge of the shared key and checks the
// peer's, over one TLS session. It holds no per-connection state and is safe
// for concurrent use.
type authenticator struct {
	key   []byte
	this  string
	other string
	// members, if set, takes the place of other on the listening side:
	// it accepts any client whose name it reports a member (quorum mode).
	members func(name string) bool
	rand    io.Reader

	probing atomic.Pointer[[nonceSize]byte] // the nonce of this node's probe under way
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
// check the server's proof. The caller sets the deadline. A server that
// refuses us says why (BYE refused): that is a *refusal, and so is a
// server's hello this node refuses, which it tells the server.
func (a *authenticator) client(c messageConn, cb []byte) error {
	nc, err := a.nonce()
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	if err := c.WriteMessage(binaryMessage, hello{Role: roleClient, Nonce: nc, Name: a.this}.encode()); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	p, err := readHandshake(c, frameHello)
	if err != nil {
		if _, ok := errors.AsType[*refusal](err); !ok {
			err = fmt.Errorf("%w: %w", errClosedAfterHello, err)
		}
		return fmt.Errorf("read hello: %w", err)
	}
	sh, err := decodeHello(p)
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	if r := a.checkHello(sh, roleServer); r != nil {
		a.tell(c, r)
		return r
	}
	mine := a.mac(roleClient, cb, nc, sh.Nonce, a.this, a.other)
	if err := c.WriteMessage(binaryMessage, proof{MAC: mine}.encode()); err != nil {
		return fmt.Errorf("send proof: %w", err)
	}
	p, err = readHandshake(c, frameProof)
	if err != nil {
		if _, ok := errors.AsType[*refusal](err); ok {
			return fmt.Errorf("read proof: %w", err)
		}
		return fmt.Errorf("read proof: %w (%w)", err, errProofRefused)
	}
	sp, err := decodeProof(p)
	if err != nil {
		return fmt.Errorf("read proof: %w", err)
	}
	want := a.mac(roleServer, cb, nc, sh.Nonce, a.this, a.other)
	if !hmac.Equal(sp.MAC[:], want[:]) {
		// The server took our proof, so it holds our key: this one is
		// not from it (a relay). Not a disagreement of the two files.
		return errBadProof
	}
	return nil
}

// server runs the listening side: read the client's hello, answer, check the
// client's proof, then prove. A client learns nothing keyed before it has
// proved itself; a client refused is told why, as a *refusal is returned.
func (a *authenticator) server(c messageConn, cb []byte) error {
	_, err := a.serve(c, cb)
	return err
}

// serve is server, and also returns the name the client proved.
func (a *authenticator) serve(c messageConn, cb []byte) (string, error) {
	p, err := readHandshake(c, frameHello)
	if err != nil {
		if r, ok := errors.AsType[*refusal](err); ok && !r.Told {
			a.tell(c, r)
		}
		return "", fmt.Errorf("read hello: %w", err)
	}
	ch, err := decodeHello(p)
	if err != nil {
		return "", fmt.Errorf("read hello: %w", err)
	}
	if a.isProbe(ch.Nonce) {
		return "", errSelfProbe
	}
	if r := a.checkHello(ch, roleClient); r != nil {
		a.tell(c, r)
		return "", r
	}
	ns, err := a.nonce()
	if err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	if err := c.WriteMessage(binaryMessage, hello{Role: roleServer, Nonce: ns, Name: a.this}.encode()); err != nil {
		return "", fmt.Errorf("send hello: %w", err)
	}
	p, err = readHandshake(c, frameProof)
	if err != nil {
		return "", fmt.Errorf("read proof: %w", err)
	}
	cp, err := decodeProof(p)
	if err != nil {
		return "", fmt.Errorf("read proof: %w", err)
	}
	want := a.mac(roleClient, cb, ch.Nonce, ns, ch.Name, a.this)
	if !hmac.Equal(cp.MAC[:], want[:]) {
		r := &refusal{Kind: failover.ProblemKey, What: fmt.Sprintf("%q answers the handshake, but its proof does not match the key of %q", ch.Name, a.this),
			Hint: hintFor(failover.ProblemKey), Err: errBadProof}
		a.tell(c, r)
		return "", r
	}
	mine := a.mac(roleServer, cb, ch.Nonce, ns, ch.Name, a.this)
	if err := c.WriteMessage(binaryMessage, proof{MAC: mine}.encode()); err != nil {
		return "", fmt.Errorf("send proof: %w", err)
	}
	return ch.Name, nil
}

// probe runs the server role's look at the peer's link port: it says hello
// as what it is, a server, and reads one answer. A listening peer that is
// a server too refuses it (or answers as a server): that is a refusal of
// kind role_mismatch. Anything else is nil: a client does not listen, and
// this node's own listener ignores its probe.
func (a *authenticator) probe(c messageConn) *refusal {
	n, err := a.nonce()
	if err != nil {
		return nil
	}
	a.probing.Store(&n)
	defer a.probing.Store(nil)
	if err := c.WriteMessage(binaryMessage, hello{Role: roleServer, Nonce: n, Name: a.this}.encode()); err != nil {
		return nil
	}
	p, err := readHandshake(c, frameHello)
	if r, ok := errors.AsType[*refusal](err); ok {
		if r.Kind != failover.ProblemRole {
			return nil // it refused us for another reason: the name, say, which it reports itself
		}
		return r
	}
	if err != nil {
		return nil
	}
	if h, err := decodeHello(p); err == nil && h.Role == roleServer {
		return &refusal{Kind: failover.ProblemRole, Hint: hintFor(failover.ProblemRole),
			What: fmt.Sprintf("%q answers on the link port as a server, and %q is one too: both nodes are configured as servers", h.Name, a.this)}
	}
	return nil
}

// isProbe reports whether a hello with nonce n is this node's own probe.
func (a *authenticator) isProbe(n [nonceSize]byte) bool {
	p := a.probing.Load()
	return p != nil && *p == n
}

// checkHello checks the peer's hello: the role this node expects, and the
// name other_server gives.
func (a *authenticator) checkHello(h hello, wantRole byte) *refusal {
	switch {
	case h.Role != wantRole:
		what := fmt.Sprintf("%q says hello as a server, and %q is one too: both nodes are configured as servers", h.Name, a.this)
		if wantRole == roleServer {
			what = fmt.Sprintf("%q answers as a client, and %q is one too: both nodes are configured as clients", h.Name, a.this)
		}
		return &refusal{Kind: failover.ProblemRole, What: what, Hint: hintFor(failover.ProblemRole)}
	case h.Name == a.this:
		return &refusal{Kind: failover.ProblemSameName, What: fmt.Sprintf("the peer calls itself %q too: both nodes have the same name", h.Name),
			Hint: hintFor(failover.ProblemSameName)}
	case a.members != nil:
		if !a.members(h.Name) {
			return &refusal{Kind: failover.ProblemName, What: fmt.Sprintf("the peer calls itself %q, which is not a member of the cluster of %q", h.Name, a.this),
				Hint: "every member's cluster.nodes must list the same members, each by its this_server"}
		}
	case h.Name != a.other:
		return &refusal{Kind: failover.ProblemName, What: fmt.Sprintf("the peer calls itself %q, but the other_server of %q is %q", h.Name, a.this, a.other),
			Hint: hintFor(failover.ProblemName)}
	}
	return nil
}

// tell sends the other side a BYE(refused) that says why, as far as it
// goes: a peer of another version may not read it.
func (a *authenticator) tell(c messageConn, r *refusal) {
	reason := r.Kind + ": " + a.this + " says " + r.What
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	c.WriteMessage(binaryMessage, bye{Code: byeRefused, Reason: reason}.encode())
	r.Told = true
}

// hintFor is what an operator does about a problem of kind.
func hintFor(kind string) string {
	switch kind {
	case failover.ProblemKey:
		return "set the same key on both nodes (clooster secret prints a new one); if they are the same, something between the nodes terminates TLS"
	case failover.ProblemName:
		return "each node's other_server must be the other node's this_server"
	case failover.ProblemSameName:
		return "both files name their node alike: swap this_server and other_server in one of them"
	case failover.ProblemRole:
		return "one node must be the server (it listens) and the other the client (a client block with the server's address)"
	case failover.ProblemVersion:
		return "run the same clooster version on both nodes"
	}
	return ""
}

// Handshake errors that are neither a refusal nor a broken frame.
var (
	// errClosedAfterHello: the server closed the connection after our
	// hello without a word; a server of protocol version 1 does so when
	// it meets another version, or refuses our name or role.
	errClosedAfterHello = errors.New("the server closed the connection after our hello")
	// errProofRefused: the server closed the connection after our proof,
	// as one that holds another key does.
	errProofRefused = errors.New("the server refused us: wrong key?")
	// errSelfProbe: this node's own probe of the peer's address reached
	// this node's listener.
	errSelfProbe = errors.New("this node's own probe")
)

// readHandshake reads one frame of the handshake: a frame of type want, or
// the peer's BYE (a refusal if it says why), or a frame of another
// protocol version (a refusal of kind version_mismatch).
func readHandshake(c messageConn, want frameType) ([]byte, error) {
	mt, b, err := c.ReadMessage()
	if err != nil {
		return nil, err
	}
	if mt == binaryMessage && len(b) >= 2 && b[0] != protoVersion {
		return nil, &refusal{Kind: failover.ProblemVersion,
			What: fmt.Sprintf("the peer speaks link protocol version %d, this node version %d", b[0], protoVersion),
			Hint: hintFor(failover.ProblemVersion), Err: fmt.Errorf("%w %d", errFrameVersion, b[0])}
	}
	if mt == binaryMessage && len(b) >= 2 && frameType(b[1]) == frameBye {
		y, err := decodeBye(b[2:])
		if err != nil {
			return nil, err
		}
		if r := refusedBy(y); r != nil {
			r.Hint = hintFor(r.Kind)
			return nil, r
		}
		return nil, fmt.Errorf("the peer said bye: %s", y.Reason)
	}
	return checkFrame(mt, b, want)
}

// checkFrame checks one message's envelope and type.
func checkFrame(mt int, b []byte, want frameType) ([]byte, error) {
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
