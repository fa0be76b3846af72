package watchdog

import (
	"testing"

	"github.com/clooster/clooster/internal/failover"
)

// BenchmarkHandshake runs both sides of the authenticator over an
// in-memory message pipe: two HMAC proofs each way, no TLS.
func BenchmarkHandshake(b *testing.B) {
	c, s := authPair(testKey, testKey)
	b.ReportAllocs()
	for b.Loop() {
		if cerr, serr := handshake(c, s, cb1, cb1); cerr != nil || serr != nil {
			b.Fatalf("handshake: client %v, server %v", cerr, serr)
		}
	}
}

var benchKeepalive = keepalive{Seq: 12345, Sent: 1e15, Echo: 1e15 - 250e6, Held: 3e6, Flags: failover.FlagHealthy | failover.FlagActive}

var sinkFrame []byte

func BenchmarkKeepaliveEncode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkFrame = benchKeepalive.encode()
	}
}

func BenchmarkKeepaliveDecode(b *testing.B) {
	frame := benchKeepalive.encode()
	b.ReportAllocs()
	for b.Loop() {
		t, p, err := decodeFrame(frame)
		if err != nil || t != frameKeepalive {
			b.Fatalf("decodeFrame: type %d, %v", t, err)
		}
		k, err := decodeKeepalive(p)
		if err != nil || k != benchKeepalive {
			b.Fatalf("decodeKeepalive: %+v, %v", k, err)
		}
	}
}
