package quorum

// The control protocol (ALPN clooster-ctl/1): after the handshake, the
// dialling member sends a request and the listening member answers it.
// After a STATUS answer the connection stays open for the next STATUS
// (the leader asks every member several times a second: one handshake
// per member, not one per question); a membership change is answered and
// closed. Wire format in docs/PROTOCOL.md, "Quorum mode".

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

const (
	ctlVersion   = 1
	ctlMaxFrame  = 1024
	ctlMaxText   = 200
	ctlTimeout   = 10 * time.Second // from the end of the handshake, or a request, to the answer sent
	ctlIdle      = 30 * time.Second // how long a connection waits for its next STATUS
	ctlMaxFields = 64
)

type ctlType byte

const (
	ctlStatus       ctlType = 1   // request: none
	ctlAddVoter     ctlType = 2   // request: name, address
	ctlRemoveServer ctlType = 3   // request: name
	ctlStatusAnswer ctlType = 128 // answer to STATUS: fields
	ctlOK           ctlType = 129 // answer: done
	ctlError        ctlType = 130 // answer: code, text
)

// Error codes of an ERROR answer.
const (
	ctlErrUnknown   byte = 1 // the request type is unknown, or not served here
	ctlErrNotLeader byte = 2 // a membership change asked of a member that does not lead
	ctlErrFailed    byte = 3 // the request was understood and failed
	ctlErrMalformed byte = 4 // the request's payload does not parse
	ctlErrVersion   byte = 5 // the request is of another version
)

// Field tags. STATUS answer: name, role, healthy, healthy_for, last_index,
// version. ADD_VOTER and REMOVE_SERVER: name, address (ADD_VOTER only).
const (
	tagName       byte = 1
	tagRole       byte = 2
	tagHealthy    byte = 3
	tagHealthyFor byte = 4
	tagLastIndex  byte = 5
	tagVersion    byte = 6
	tagAddress    byte = 2
)

var (
	// ErrNotLeader is what a member that does not lead answers a
	// membership change; AddVoter and RemoveServer in TransportConfig wrap
	// it to answer so.
	ErrNotLeader = errors.New("not the leader")
	// ErrUnsupported is the answer of a member that does not serve the
	// request (an older version, or no function configured for it).
	ErrUnsupported = errors.New("request not supported by the member")

	errCtlMalformed = errors.New("malformed control message")
)

// asker sends one control request to a member and reads its answer: the
// transport's, or an operator's client's.
type asker func(ctx context.Context, m Member, typ ctlType, payload []byte) (ctlType, []byte, error)

// status asks member m what it says of itself.
func (ask asker) status(ctx context.Context, m Member) (MemberStatus, error) {
	typ, p, err := ask(ctx, m, ctlStatus, nil)
	if err != nil {
		return MemberStatus{}, err
	}
	if typ != ctlStatusAnswer {
		return MemberStatus{}, fmt.Errorf("status of %s: %w: answer type %d", m.Name, errCtlMalformed, typ)
	}
	st, err := decodeStatus(p)
	if err != nil {
		return MemberStatus{}, fmt.Errorf("status of %s: %w", m.Name, err)
	}
	if st.Name != m.Name {
		return MemberStatus{}, fmt.Errorf("status of %s: it answers as %q", m.Name, st.Name)
	}
	return st, nil
}

// addVoter asks leader to add the member name at address as a voter.
func (ask asker) addVoter(ctx context.Context, leader Member, name, address string) error {
	var f fields
	f.text(tagName, name)
	f.text(tagAddress, address)
	return ask.change(ctx, leader, ctlAddVoter, f.b)
}

// removeServer asks leader to remove the member name.
func (ask asker) removeServer(ctx context.Context, leader Member, name string) error {
	var f fields
	f.text(tagName, name)
	return ask.change(ctx, leader, ctlRemoveServer, f.b)
}

func (ask asker) change(ctx context.Context, leader Member, typ ctlType, payload []byte) error {
	got, _, err := ask(ctx, leader, typ, payload)
	if err != nil {
		return err
	}
	if got != ctlOK {
		return fmt.Errorf("ask %s: %w: answer type %d", leader.Name, errCtlMalformed, got)
	}
	return nil
}

// Status asks member m what it says of itself.
func (t *Transport) Status(ctx context.Context, m Member) (MemberStatus, error) {
	return asker(t.ctlRequest).status(ctx, m)
}

// AddVoter asks leader to add the member name at address as a voter.
func (t *Transport) AddVoter(ctx context.Context, leader Member, name, address string) error {
	return asker(t.ctlRequest).addVoter(ctx, leader, name, address)
}

// RemoveServer asks leader to remove the member name.
func (t *Transport) RemoveServer(ctx context.Context, leader Member, name string) error {
	return asker(t.ctlRequest).removeServer(ctx, leader, name)
}

// ctlRequest sends one request to m and reads its answer; an ERROR answer
// is returned as an error. A STATUS goes on m's idle connection if there
// is one (a connection the member closed meanwhile is dialled anew), and
// its connection is kept for the next; anything else has a connection of
// its own.
func (t *Transport) ctlRequest(ctx context.Context, m Member, typ ctlType, payload []byte) (ctlType, []byte, error) {
	var c net.Conn
	if typ == ctlStatus {
		if c = t.takeIdle(m.Name); c != nil {
			got, p, err := exchange(ctx, c, m, typ, payload)
			if err == nil {
				t.putIdle(m.Name, c)
				return got, p, nil
			}
			c.Close()
			if ctx.Err() != nil || !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				return 0, nil, err
			}
		}
		var err error
		if c, err = t.statusConn(ctx, m); err != nil {
			return 0, nil, err
		}
	} else {
		var err error
		if c, err = t.dialMember(ctx, m, ALPNCtl); err != nil {
			return 0, nil, err
		}
	}
	got, p, err := exchange(ctx, c, m, typ, payload)
	if err == nil && typ == ctlStatus {
		t.putIdle(m.Name, c)
	} else {
		c.Close()
	}
	return got, p, err
}

// exchange sends one request on c and reads its answer, within ctx (else
// ctlTimeout); c is left without a deadline.
func exchange(ctx context.Context, c net.Conn, m Member, typ ctlType, payload []byte) (ctlType, []byte, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(ctlTimeout)
	}
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := writeCtl(c, typ, payload); err != nil {
		return 0, nil, fmt.Errorf("ask %s: %w", m.Name, err)
	}
	got, p, err := readCtl(c)
	if err != nil {
		return 0, nil, fmt.Errorf("ask %s: %w", m.Name, err)
	}
	if !stop() {
		return 0, nil, fmt.Errorf("ask %s: %w", m.Name, ctx.Err())
	}
	c.SetDeadline(time.Time{})
	if got == ctlError {
		return 0, nil, fmt.Errorf("ask %s: %w", m.Name, decodeCtlError(p))
	}
	return got, p, nil
}

// statusConn returns a new connection to m for STATUS requests. Its dial
// runs on its own, within the handshake's timeout, whatever ctx allows
// (a poll's is a fraction of a heartbeat timeout): one cut short in its
// TLS handshake would count as a failed attempt at the member, whose
// admission limits would then slow this member's dials, Raft's too. If
// ctx ends first, the connection, once made, waits in the pool for the
// next request. One dial per member at a time.
func (t *Transport) statusConn(ctx context.Context, m Member) (net.Conn, error) {
	t.idleMu.Lock()
	d := t.dialing[m.Name]
	if d == nil {
		if !t.start(nil, &t.wg) {
			t.idleMu.Unlock()
			return nil, raft.ErrTransportShutdown
		}
		d = &statusDial{done: make(chan struct{})}
		if t.dialing == nil {
			t.dialing = map[string]*statusDial{}
		}
		t.dialing[m.Name] = d
		go func() {
			defer t.wg.Done()
			c, err := t.dialMember(t.ctx, m, ALPNCtl)
			t.idleMu.Lock()
			delete(t.dialing, m.Name)
			d.err = err
			t.idleMu.Unlock()
			if err == nil {
				t.putIdle(m.Name, c)
			}
			close(d.done)
		}()
	}
	t.idleMu.Unlock()
	select {
	case <-d.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("dial %s: %w", m.Name, ctx.Err())
	}
	if d.err != nil {
		return nil, d.err
	}
	if c := t.takeIdle(m.Name); c != nil {
		return c, nil
	}
	return t.dialMember(ctx, m, ALPNCtl) // another request took it meanwhile
}

// statusDial is a dial of a STATUS connection under way.
type statusDial struct {
	done chan struct{}
	err  error // once done
}

// takeIdle returns the idle STATUS connection to the member name, if any,
// and takes it out of the pool.
func (t *Transport) takeIdle(name string) net.Conn {
	t.idleMu.Lock()
	defer t.idleMu.Unlock()
	c := t.idle[name]
	delete(t.idle, name)
	return c
}

// putIdle keeps c, a connection to the member name, for its next STATUS,
// unless the pool holds one already.
func (t *Transport) putIdle(name string, c net.Conn) {
	t.idleMu.Lock()
	defer t.idleMu.Unlock()
	if _, ok := t.idle[name]; ok || t.ctx.Err() != nil {
		c.Close()
		return
	}
	if t.idle == nil {
		t.idle = map[string]net.Conn{}
	}
	t.idle[name] = c
}

// serveCtl answers the requests on conn, from the member name, and closes
// it: after a membership change, after a request it cannot answer, or
// when no next STATUS comes within ctlIdle.
func (t *Transport) serveCtl(conn net.Conn, name string) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ctlTimeout))
	for first := true; ; first = false {
		typ, p, err := readCtl(conn)
		if err != nil {
			if v, ok := errors.AsType[*ctlVersionError](err); ok {
				writeCtlError(conn, ctlErrVersion, fmt.Sprintf("version %d, this member speaks version %d", v.got, ctlVersion))
			} else if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
				// The asker is done with it, gave up before it asked
				// (its poll's time ran out), or left it idle too long.
				t.log.Debug("control connection closed", "peer", name, "error", err)
				return
			}
			t.log.Warn("bad control request", "peer", name, "error", err)
			return
		}
		if !first && !t.isMember(name) {
			return // removed since its handshake: it dials anew, and is refused
		}
		conn.SetDeadline(time.Now().Add(ctlTimeout))
		if !t.answer(conn, name, typ, p) {
			return
		}
		conn.SetDeadline(time.Now().Add(ctlIdle))
	}
}

// answer answers one request on conn, and reports whether the connection
// may carry the next.
func (t *Transport) answer(conn net.Conn, name string, typ ctlType, p []byte) bool {
	ctx, cancel := context.WithTimeout(t.ctx, ctlTimeout)
	defer cancel()
	switch typ {
	case ctlStatus:
		st := t.status()
		if st.Name == "" {
			st.Name = t.self.Name
		}
		if st.Role == "" {
			st.Role = t.self.Role
		}
		return writeCtl(conn, ctlStatusAnswer, encodeStatus(st)) == nil
	case ctlAddVoter, ctlRemoveServer:
		f, err := decodeFields(p)
		if err != nil || f[tagName] == "" || typ == ctlAddVoter && f[tagAddress] == "" {
			writeCtlError(conn, ctlErrMalformed, "a name (and for add_voter an address) is required")
			return false
		}
		var do func() error
		switch {
		case typ == ctlAddVoter && t.addVoter != nil:
			do = func() error { return t.addVoter(ctx, f[tagName], f[tagAddress]) }
		case typ == ctlRemoveServer && t.remove != nil:
			do = func() error { return t.remove(ctx, f[tagName]) }
		default:
			writeCtlError(conn, ctlErrUnknown, fmt.Sprintf("request type %d", typ))
			return false
		}
		if err := do(); err != nil {
			code := ctlErrFailed
			if errors.Is(err, ErrNotLeader) {
				code = ctlErrNotLeader
			}
			t.log.Warn("membership change refused", "peer", name, "error", err)
			writeCtlError(conn, code, err.Error())
			return false
		}
		t.log.Info("membership change done", "peer", name, "request", int(typ), "member", f[tagName])
		writeCtl(conn, ctlOK, nil)
	default:
		writeCtlError(conn, ctlErrUnknown, fmt.Sprintf("request type %d", typ))
	}
	return false
}

// ctlVersionError is a control message of another version.
type ctlVersionError struct{ got byte }

func (e *ctlVersionError) Error() string {
	return fmt.Sprintf("control protocol version %d, want %d", e.got, ctlVersion)
}

// writeCtl sends one message: a 2-byte length, the version, the type, the
// payload.
func writeCtl(w io.Writer, typ ctlType, payload []byte) error {
	n := 2 + len(payload)
	if n > ctlMaxFrame {
		return fmt.Errorf("%w: %d bytes", errCtlMalformed, n)
	}
	b := make([]byte, 0, 2+n)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, ctlVersion, byte(typ))
	_, err := w.Write(append(b, payload...))
	return err
}

// readCtl reads one message. An ERROR answer is read whatever its version:
// its layout is the same in every version.
func readCtl(r io.Reader) (ctlType, []byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return 0, nil, err
	}
	size := int(binary.BigEndian.Uint16(n[:]))
	if size < 2 || size > ctlMaxFrame {
		return 0, nil, fmt.Errorf("%w: length %d", errCtlMalformed, size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	return parseCtl(b)
}

// parseCtl splits one message (without its length) into type and payload.
func parseCtl(b []byte) (ctlType, []byte, error) {
	if len(b) < 2 {
		return 0, nil, fmt.Errorf("%w: %d bytes", errCtlMalformed, len(b))
	}
	if b[0] != ctlVersion && ctlType(b[1]) != ctlError {
		return 0, nil, &ctlVersionError{got: b[0]}
	}
	return ctlType(b[1]), b[2:], nil
}

func writeCtlError(w io.Writer, code byte, text string) error {
	return writeCtl(w, ctlError, append([]byte{code}, printable(text)...))
}

// decodeCtlError reads an ERROR answer's payload as the error it reports.
func decodeCtlError(p []byte) error {
	if len(p) < 1 {
		return fmt.Errorf("%w: empty error", errCtlMalformed)
	}
	text := printable(string(p[1:]))
	switch p[0] {
	case ctlErrNotLeader:
		return fmt.Errorf("%w: %s", ErrNotLeader, text)
	case ctlErrUnknown:
		return fmt.Errorf("%w: %s", ErrUnsupported, text)
	case ctlErrMalformed:
		return fmt.Errorf("refused as malformed: %s", text)
	case ctlErrVersion:
		return fmt.Errorf("refused: %s", text)
	}
	return fmt.Errorf("failed: %s", text)
}

// printable keeps printable ASCII, at most ctlMaxText bytes of it.
func printable(s string) string {
	b := make([]byte, 0, min(len(s), ctlMaxText))
	for i := 0; i < len(s) && len(b) < ctlMaxText; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

// fields builds a payload of fields: each a tag (1 byte), a length (2
// bytes) and that many bytes.
type fields struct{ b []byte }

func (f *fields) add(tag byte, v []byte) {
	f.b = append(f.b, tag)
	f.b = binary.BigEndian.AppendUint16(f.b, uint16(len(v)))
	f.b = append(f.b, v...)
}

func (f *fields) text(tag byte, s string) { f.add(tag, []byte(s)) }

func (f *fields) u64(tag byte, v uint64) { f.add(tag, binary.BigEndian.AppendUint64(nil, v)) }

// decodeFields reads a payload of fields; of a tag given twice, the last
// counts.
func decodeFields(p []byte) (map[byte]string, error) {
	out := make(map[byte]string)
	for n := 0; len(p) > 0; n++ {
		if n == ctlMaxFields || len(p) < 3 {
			return nil, fmt.Errorf("%w: fields", errCtlMalformed)
		}
		size := int(binary.BigEndian.Uint16(p[1:3]))
		if len(p) < 3+size {
			return nil, fmt.Errorf("%w: field %d: %d bytes past the end", errCtlMalformed, p[0], 3+size-len(p))
		}
		out[p[0]] = string(p[3 : 3+size])
		p = p[3+size:]
	}
	return out, nil
}

func encodeStatus(st MemberStatus) []byte {
	var f fields
	f.text(tagName, st.Name)
	f.text(tagRole, string(st.Role))
	healthy := byte(0)
	if st.Healthy {
		healthy = 1
	}
	f.add(tagHealthy, []byte{healthy})
	f.u64(tagHealthyFor, uint64(max(st.HealthyFor, 0)))
	f.u64(tagLastIndex, st.LastIndex)
	f.text(tagVersion, st.Version)
	return f.b
}

func decodeStatus(p []byte) (MemberStatus, error) {
	f, err := decodeFields(p)
	if err != nil {
		return MemberStatus{}, err
	}
	u64 := func(tag byte) (uint64, error) {
		v, ok := f[tag]
		if !ok {
			return 0, nil
		}
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: field %d: %d bytes, want 8", errCtlMalformed, tag, len(v))
		}
		return binary.BigEndian.Uint64([]byte(v)), nil
	}
	st := MemberStatus{Name: f[tagName], Role: Role(f[tagRole]), Version: f[tagVersion]}
	if h, ok := f[tagHealthy]; ok {
		if len(h) != 1 || h[0] > 1 {
			return MemberStatus{}, fmt.Errorf("%w: field healthy", errCtlMalformed)
		}
		st.Healthy = h[0] == 1
	}
	hf, err := u64(tagHealthyFor)
	if err != nil {
		return MemberStatus{}, err
	}
	if hf > 1<<62 {
		return MemberStatus{}, fmt.Errorf("%w: field healthy_for", errCtlMalformed)
	}
	st.HealthyFor = time.Duration(hf)
	if st.LastIndex, err = u64(tagLastIndex); err != nil {
		return MemberStatus{}, err
	}
	if st.Name == "" || bytes.ContainsFunc([]byte(st.Name+string(st.Role)+st.Version), func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
		return MemberStatus{}, fmt.Errorf("%w: name, role or version", errCtlMalformed)
	}
	return st, nil
}
