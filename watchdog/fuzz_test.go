package watchdog

import (
	"bytes"
	"github.com/clooster/clooster/internal/failover"
	"testing"
)

// FuzzDecodeFrame: no input makes a decoder panic, and whatever decodes
// encodes back to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(hello{Role: roleClient, Name: "srv2.example.com"}.encode())
	f.Add(proof{}.encode())
	f.Add(keepalive{Seq: 1, Sent: 5, Echo: 3, Held: 1, Flags: failover.FlagHealthy}.encode())
	f.Add(bye{Code: byeShutdown, Reason: "shutting down"}.encode())
	f.Add(info{Value: "srv1.example.com"}.encode())
	f.Add(info{Records: []recordDigest{{1, 2}, {3, 4}}}.encode())
	f.Add([]byte{})
	f.Add([]byte{protoVersion, 99})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, p, err := decodeFrame(b)
		if err != nil {
			return
		}
		var again []byte
		switch typ {
		case frameHello:
			h, err := decodeHello(p)
			if err != nil {
				return
			}
			again = h.encode()
		case frameProof:
			pr, err := decodeProof(p)
			if err != nil {
				return
			}
			again = pr.encode()
		case frameKeepalive:
			k, err := decodeKeepalive(p)
			if err != nil || k.Flags != p[32] {
				return // unknown flags are dropped, so no exact round trip
			}
			again = k.encode()
		case frameBye:
			y, err := decodeBye(p)
			if err != nil || y.Reason != string(p[2:]) {
				return // unprintable bytes are replaced
			}
			again = y.encode()
		case frameInfo:
			i, err := decodeInfo(p)
			if err != nil || i.Value != string(p[1:1+p[0]]) {
				return // unprintable bytes are replaced
			}
			again = i.encode()
		default:
			return
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip: got %x, want %x", again, b)
		}
	})
}

// FuzzServerHandshake: whatever a client sends, the server neither panics
// nor accepts it without the key.
func FuzzServerHandshake(f *testing.F) {
	h := hello{Role: roleClient, Name: "srv2"}.encode()
	f.Add(h, proof{}.encode())
	f.Add(h, h)
	f.Add([]byte{protoVersion}, []byte{})
	f.Fuzz(func(t *testing.T, m1, m2 []byte) {
		_, s := authPair(testKey, testKey)
		sc := &script{replies: [][]byte{m1, m2}}
		if err := s.server(sc, cb1); err == nil {
			t.Fatalf("server accepted %x %x", m1, m2)
		}
	})
}

// FuzzClientHandshake: whatever a server sends, the client neither panics
// nor accepts it without the key.
func FuzzClientHandshake(f *testing.F) {
	h := hello{Role: roleServer, Name: "srv1"}.encode()
	f.Add(h, proof{}.encode())
	f.Add(h, h)
	f.Fuzz(func(t *testing.T, m1, m2 []byte) {
		c, _ := authPair(testKey, testKey)
		sc := &script{replies: [][]byte{m1, m2}}
		if err := c.client(sc, cb1); err == nil {
			t.Fatalf("client accepted %x %x", m1, m2)
		}
	})
}
