package watchdog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

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
	protoVersion = 2
	maxFrameSize = 1024
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
const keepaliveSize = 2 + 8 + 8 + 8 + 8 + 8 + 1

type keepalive struct {
	Seq   uint64 // per connection, from 1
	Sent  int64  // sender's monotonic nanoseconds at sending
	Echo  int64  // the Sent of the last keepalive received from the peer, 0 if none
	Held  int64  // nanoseconds between receiving that keepalive and sending this one
	Clock int64  // sender's wall clock at sending, Unix nanoseconds; 0 if unknown
	Flags byte
}

// Bye reasons.
const (
	byeShutdown byte = 1 // the sender is stopping
	byeReplaced byte = 2 // a newer connection took this one's place
	byeTimeout  byte = 3 // the sender heard nothing for too long
	byeProtocol byte = 4 // the sender could not parse what it got
	byeRefused  byte = 5 // the handshake failed: the reason is "<problem kind>: <text>"
	// byeRestart: the sender restarts and asks its peer to keep the
	// record where it is meanwhile; the reason's first 4 bytes are the
	// grace in milliseconds (big-endian), then the text.
	byeRestart byte = 6
)

type bye struct {
	Code    byte
	Reason  string
	Restart time.Duration // byeRestart: the grace
}

// info tells the peer, once per link, what this node's configuration
// says about the pair: the value it writes when it takes over, its timings,
// the single record and its preferred value, or the digests of its records
// block, so that the two nodes can compare them (package agree). Layout:
// the value's length and the value, then fields, each a tag (1 byte), a
// length (2 bytes) and that many bytes; fields of unknown tags are skipped,
// so that later versions can add some.
type info struct {
	Value         string
	Keepalive     time.Duration
	PeerTimeout   time.Duration
	FailbackDelay time.Duration  // 0: not said (an older version), or none
	Record        string         // the single record, "name type"
	Preferred     string         // the single record's preferred value
	OtherValue    string         // what the sender expects this node to write; "" if its file does not say
	Version       string         // the sender's software version
	Records       []recordDigest // nil: no records block
}

// recordDigest is one record's key (its name and type) and hash (its
// whole configuration).
type recordDigest struct{ Key, Hash uint32 }

// INFO field tags.
const (
	infoRecords     = 1 // the records block's digests: key and hash, 4 bytes each, per record
	infoKeepalive   = 2 // keepalive_interval, nanoseconds, 8 bytes
	infoPeerTimeout = 3 // peer_timeout, nanoseconds, 8 bytes
	infoRecord      = 4 // the single record: "name type"
	infoPreferred   = 5 // the single record's preferred_value
	infoOtherValue  = 6 // cloudflare.other_value
	infoVersion     = 7 // the software version
	infoFailback    = 8 // failback_delay, nanoseconds, 8 bytes
)

// maxInfoRecords is the most record digests an INFO frame holds.
const maxInfoRecords = 64

func (i info) encode() []byte {
	v := i.Value
	if len(v) > 255 {
		v = "" // the peer then learns it from its own configuration only
	}
	b := header(frameInfo, 64)
	b = append(b, byte(len(v)))
	b = append(b, v...)
	field := func(tag byte, data []byte) {
		b = append(b, tag, byte(len(data)>>8), byte(len(data)))
		b = append(b, data...)
	}
	text := func(tag byte, s string) {
		if s != "" && len(s) <= 255 && len(b)+3+len(s) <= maxFrameSize {
			field(tag, []byte(s))
		}
	}
	dur := func(tag byte, d time.Duration) {
		if d > 0 {
			field(tag, binary.BigEndian.AppendUint64(nil, uint64(d)))
		}
	}
	if i.Records != nil && len(i.Records) <= maxInfoRecords {
		var rs []byte
		for _, r := range i.Records {
			rs = binary.BigEndian.AppendUint32(rs, r.Key)
			rs = binary.BigEndian.AppendUint32(rs, r.Hash)
		}
		field(infoRecords, rs)
	}
	dur(infoKeepalive, i.Keepalive)
	dur(infoPeerTimeout, i.PeerTimeout)
	dur(infoFailback, i.FailbackDelay)
	text(infoRecord, i.Record)
	text(infoPreferred, i.Preferred)
	text(infoOtherValue, i.OtherValue)
	text(infoVersion, i.Version)
	return b
}

func decodeInfo(p []byte) (info, error) {
	if len(p) < 1 || int(p[0]) > len(p)-1 {
		return info{}, errFrameLayout
	}
	n := int(p[0])
	i := info{Value: printable(string(p[1 : 1+n]))}
	rest := p[1+n:]
	if n == 0 && len(rest) == 0 {
		return info{}, errFrameLayout // says nothing
	}
	for len(rest) > 0 {
		if len(rest) < 3 {
			return info{}, errFrameLayout
		}
		tag, size := rest[0], int(binary.BigEndian.Uint16(rest[1:]))
		if len(rest) < 3+size {
			return info{}, errFrameLayout
		}
		data := rest[3 : 3+size]
		rest = rest[3+size:]
		switch tag {
		case infoRecords:
			if size%8 != 0 || size/8 > maxInfoRecords {
				return info{}, errFrameLayout
			}
			i.Records = make([]recordDigest, size/8)
			for k := range i.Records {
				i.Records[k] = recordDigest{binary.BigEndian.Uint32(data[8*k:]), binary.BigEndian.Uint32(data[8*k+4:])}
			}
		case infoKeepalive, infoPeerTimeout, infoFailback:
			if size != 8 {
				return info{}, errFrameLayout
			}
			d := time.Duration(binary.BigEndian.Uint64(data))
			if d < 0 {
				return info{}, errFrameLayout
			}
			switch tag {
			case infoKeepalive:
				i.Keepalive = d
			case infoPeerTimeout:
				i.PeerTimeout = d
			default:
				i.FailbackDelay = d
			}
		case infoRecord:
			i.Record = printable(string(data))
		case infoPreferred:
			i.Preferred = printable(string(data))
		case infoOtherValue:
			i.OtherValue = printable(string(data))
		case infoVersion:
			i.Version = printable(string(data))
		}
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
	b = binary.BigEndian.AppendUint64(b, uint64(k.Clock))
	return append(b, k.Flags)
}

func (y bye) encode() []byte {
	r := y.Reason
	if y.Code == byeRestart {
		ms := min(y.Restart.Milliseconds(), math.MaxUint32)
		r = string(binary.BigEndian.AppendUint32(nil, uint32(max(ms, 0)))) + r
	}
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
	k.Clock = int64(binary.BigEndian.Uint64(p[32:]))
	k.Flags = p[40]
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
	r := p[2:]
	if y.Code == byeRestart {
		if len(r) < 4 {
			return y, errFrameLayout
		}
		y.Restart = time.Duration(binary.BigEndian.Uint32(r)) * time.Millisecond
		r = r[4:]
	}
	y.Reason = printable(string(r))
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
