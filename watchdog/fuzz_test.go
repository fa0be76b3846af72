package watchdog

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/failover"
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
	f.Add(info{Value: "192.0.2.1", Keepalive: time.Second, PeerTimeout: 3 * time.Second, Record: "www.example.com A",
		Preferred: "192.0.2.1", OtherValue: "192.0.2.2", Version: "1.0"}.encode())
	f.Add(bye{Code: byeRefused, Reason: "key_mismatch: srv1 says the proof does not match"}.encode())
	f.Add(bye{Code: byeRestart, Reason: "restarting", Restart: 30 * time.Second}.encode())
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
			if err != nil || k.Flags != p[40] {
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
			// Fields may come in any order, and unknown ones are
			// skipped: the round trip is of what was understood.
			i, err := decodeInfo(p)
			if err != nil {
				return
			}
			j, err := decodeInfo(i.encode()[2:])
			if err != nil && (i.Value != "" || i.Records != nil || i.Keepalive > 0 || i.PeerTimeout > 0 || i.Record != "" ||
				i.Preferred != "" || i.OtherValue != "" || i.Version != "") {
				t.Fatalf("%+v encodes to a frame that does not decode: %v", i, err)
			}
			if infoFits(i) && !reflect.DeepEqual(i, j) {
				t.Fatalf("round trip: got %+v, want %+v", j, i)
			}
			return
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

// infoFits reports whether every field of i fits the frame as encode
// writes it, so that none is left out.
func infoFits(i info) bool {
	n := 2 + 1 + len(i.Value)
	if len(i.Value) > 255 || len(i.Records) > maxInfoRecords {
		return false
	}
	if i.Records != nil {
		n += 3 + 8*len(i.Records)
	}
	for _, d := range []time.Duration{i.Keepalive, i.PeerTimeout} {
		if d > 0 {
			n += 11
		}
	}
	for _, s := range []string{i.Record, i.Preferred, i.OtherValue, i.Version} {
		if len(s) > 255 {
			return false
		}
		if s != "" {
			n += 3 + len(s)
		}
	}
	return n <= maxFrameSize
}
