package watchdog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/clooster/clooster/internal/failover"
)

// Wire format. Every websocket message is one binary frame:
//
//	byte 0     protocol version (protoVersion)
//	byte 1     frame type
//	bytes 2..  payload, fixed layout per type (see docs/PROTOCOL.md)
//
// Frames are small and bounded by maxFrameSize; anything else is an error.
const (
	protoVersion = 1
	maxFrameSize = 512
	nonceSize    = 32
	macSize      = 32
	maxNameLen   = 253
	maxReasonLen = 200
)

type frameType byte

const (
	frameHello     frameType = 1 // role, nonce, name
	frameProof     frameType = 2 // HMAC over the transcript
	frameKeepalive frameType = 3 // seq, timestamps, flags
	frameBye       frameType = 4 // reason code and text
	frameInfo      frameType = 5 // the sender's own record value, once per link
)

// Roles as they appear on the wire and in the transcript.
const (
	roleServer byte = 1
	roleClient byte = 2
)

func roleName(r byte) string {
	switch r {
	case roleServer:
		return "server"
	case roleClient:
		return "client"
	}
	return fmt.Sprintf("role(%d)", r)
}

// Errors returned by the decoder; callers report them as the reason a peer
// was rejected.
var (
	errFrameShort   = errors.New("frame too short")
	errFrameLong    = errors.New("frame too long")
	errFrameVersion = errors.New("unsupported protocol version")
	errFrameType    = errors.New("unexpected frame type")
	errFrameLayout  = errors.New("malformed frame")
)

type hello struct {
	Role  byte
	Nonce [nonceSize]byte
	Name  string
}

type proof struct {
	MAC [macSize]byte
}

// keepaliveSize is a keepalive's length; its flags are failover's Flag*.
const keepaliveSize = 2 + 8 + 8 + 8 + 8 + 1

type keepalive struct {
	Seq   uint64 // per connection, from 1
	Sent  int64  // sender's monotonic nanoseconds at sending
	Echo  int64  // the Sent of the last keepalive received from the peer, 0 if none
	Held  int64  // nanoseconds between receiving that keepalive and sending this one
	Flags byte
}

// Bye reasons.
const (
	byeShutdown byte = 1 // the sender is stopping
	byeReplaced byte = 2 // a newer connection took this one's place
	byeTimeout  byte = 3 // the sender heard nothing for too long
	byeProtocol byte = 4 // the sender could not parse what it got
)

type bye struct {
	Code   byte
	Reason string
}

// info tells the peer what this node writes when it takes over, so that each
// side knows the other's value even when cloudflare.this_value is set; and,
// when the node has a records block, the digest of each record, so that the
// two nodes can compare their sets. Layout: the value's length and the
// value; then, only with a records block, the number of records and, for
// each, its key and hash (4 bytes each). The value may then be empty.
type info struct {
	Value   string
	Records []recordDigest // nil: no records block
}

// recordDigest is one record's key (its name and type) and hash (its
// whole configuration).
type recordDigest struct{ Key, Hash uint32 }

// maxInfoRecords is the most record digests an INFO frame holds.
const maxInfoRecords = (maxFrameSize - 2 - 1 - 1) / 8

func (i info) encode() []byte {
	v := i.Value
	if len(v) > 255 {
		v = "" // the peer then learns it from its own configuration only
	}
	n := 1 + len(v)
	if i.Records != nil {
		n += 1 + 8*len(i.Records)
	}
	b := header(frameInfo, n)
	b = append(b, byte(len(v)))
	b = append(b, v...)
	if i.Records != nil {
		b = append(b, byte(len(i.Records)))
		for _, r := range i.Records {
			b = binary.BigEndian.AppendUint32(b, r.Key)
			b = binary.BigEndian.AppendUint32(b, r.Hash)
		}
	}
	return b
}

func decodeInfo(p []byte) (info, error) {
	if len(p) < 1 || int(p[0]) > len(p)-1 {
		return info{}, errFrameLayout
	}
	n := int(p[0])
	i := info{Value: printable(string(p[1 : 1+n]))}
	rest := p[1+n:]
	if len(rest) == 0 {
		if n == 0 {
			return info{}, errFrameLayout // neither a value nor records
		}
		return i, nil
	}
	if int(rest[0]) > maxInfoRecords || len(rest) != 1+8*int(rest[0]) {
		return info{}, errFrameLayout
	}
	i.Records = make([]recordDigest, rest[0])
	for k := range i.Records {
		off := 1 + 8*k
		i.Records[k] = recordDigest{binary.BigEndian.Uint32(rest[off:]), binary.BigEndian.Uint32(rest[off+4:])}
	}
	return i, nil
}

func header(t frameType, n int) []byte {
	b := make([]byte, 2, 2+n)
	b[0] = protoVersion
	b[1] = byte(t)
	return b
}

func (h hello) encode() []byte {
	b := header(frameHello, 1+nonceSize+1+len(h.Name))
	b = append(b, h.Role)
	b = append(b, h.Nonce[:]...)
	b = append(b, byte(len(h.Name)))
	return append(b, h.Name...)
}

func (p proof) encode() []byte {
	return append(header(frameProof, macSize), p.MAC[:]...)
}

func (k keepalive) encode() []byte {
	b := header(frameKeepalive, keepaliveSize-2)
	b = binary.BigEndian.AppendUint64(b, k.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(k.Sent))
	b = binary.BigEndian.AppendUint64(b, uint64(k.Echo))
	b = binary.BigEndian.AppendUint64(b, uint64(k.Held))
	return append(b, k.Flags)
}

func (y bye) encode() []byte {
	r := y.Reason
	if len(r) > maxReasonLen {
		r = r[:maxReasonLen]
	}
	b := header(frameBye, 2+len(r))
	b = append(b, y.Code, byte(len(r)))
	return append(b, r...)
}

// decodeFrame checks the envelope and returns the type and payload.
func decodeFrame(b []byte) (frameType, []byte, error) {
	if len(b) > maxFrameSize {
		return 0, nil, errFrameLong
	}
	if len(b) < 2 {
		return 0, nil, errFrameShort
	}
	if b[0] != protoVersion {
		return 0, nil, fmt.Errorf("%w %d", errFrameVersion, b[0])
	}
	return frameType(b[1]), b[2:], nil
}

func decodeHello(p []byte) (hello, error) {
	var h hello
	if len(p) < 1+nonceSize+1 {
		return h, errFrameLayout
	}
	h.Role = p[0]
	copy(h.Nonce[:], p[1:1+nonceSize])
	n := int(p[1+nonceSize])
	rest := p[2+nonceSize:]
	if n != len(rest) || n == 0 || n > maxNameLen {
		return h, errFrameLayout
	}
	if h.Role != roleServer && h.Role != roleClient {
		return h, errFrameLayout
	}
	for _, c := range rest {
		if c < 0x21 || c > 0x7e {
			return h, errFrameLayout
		}
	}
	h.Name = string(rest)
	return h, nil
}

func decodeProof(p []byte) (proof, error) {
	var pr proof
	if len(p) != macSize {
		return pr, errFrameLayout
	}
	copy(pr.MAC[:], p)
	return pr, nil
}

func decodeKeepalive(p []byte) (keepalive, error) {
	var k keepalive
	if len(p) != keepaliveSize-2 {
		return k, errFrameLayout
	}
	k.Seq = binary.BigEndian.Uint64(p[0:])
	k.Sent = int64(binary.BigEndian.Uint64(p[8:]))
	k.Echo = int64(binary.BigEndian.Uint64(p[16:]))
	k.Held = int64(binary.BigEndian.Uint64(p[24:]))
	k.Flags = p[32]
	if k.Seq == 0 {
		return k, errFrameLayout
	}
	k.Flags &= failover.KnownFlags // flags of later versions are ignored
	return k, nil
}

func decodeBye(p []byte) (bye, error) {
	var y bye
	if len(p) < 2 || int(p[1]) != len(p)-2 {
		return y, errFrameLayout
	}
	y.Code = p[0]
	y.Reason = printable(string(p[2:]))
	return y, nil
}

// printable replaces bytes outside printable ASCII, so that text from the
// peer cannot forge log lines.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
