package quorum

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/watchdog"
)

func TestStatusRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		st   MemberStatus
	}{
		{name: "healthy node", st: MemberStatus{Name: "a", Role: RoleNode, Healthy: true, HealthyFor: 3 * time.Minute, LastIndex: 1 << 40, Version: "1.4.0"}},
		{name: "unhealthy witness", st: MemberStatus{Name: "w", Role: RoleWitness}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeStatus(encodeStatus(tt.st))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.st {
				t.Errorf("got %+v, want %+v", got, tt.st)
			}
		})
	}
}

func TestDecodeStatusRefuses(t *testing.T) {
	field := func(tag byte, v string) []byte {
		var f fields
		f.text(tag, v)
		return f.b
	}
	tests := []struct {
		name string
		p    []byte
	}{
		{name: "no name", p: field(tagRole, "node")},
		{name: "truncated field", p: field(tagName, "a")[:3]},
		{name: "short header", p: []byte{tagName, 0}},
		{name: "healthy of 2 bytes", p: append(field(tagName, "a"), field(tagHealthy, "\x01\x01")...)},
		{name: "healthy of 2", p: append(field(tagName, "a"), field(tagHealthy, "\x02")...)},
		{name: "last index of 4 bytes", p: append(field(tagName, "a"), field(tagLastIndex, "\x00\x00\x00\x01")...)},
		{name: "control character", p: field(tagName, "a\nb")},
		{name: "too many fields", p: bytes.Repeat(field(99, ""), ctlMaxFields+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if st, err := decodeStatus(tt.p); !errors.Is(err, errCtlMalformed) {
				t.Errorf("got %+v, %v, want %v", st, err, errCtlMalformed)
			}
		})
	}
}

func TestUnknownFieldSkipped(t *testing.T) {
	p := encodeStatus(MemberStatus{Name: "a", Role: RoleNode})
	var f fields
	f.text(200, "from a later version")
	got, err := decodeStatus(append(f.b, p...))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "a" {
		t.Errorf("got name %q, want a", got.Name)
	}
}

func TestCtlFrames(t *testing.T) {
	tests := []struct {
		name    string
		wire    []byte
		want    ctlType
		wantErr string
	}{
		{name: "status", wire: []byte{0, 2, ctlVersion, byte(ctlStatus)}, want: ctlStatus},
		{name: "another version", wire: []byte{0, 2, 9, byte(ctlStatus)}, wantErr: "control protocol version 9"},
		{name: "error of another version", wire: []byte{0, 3, 9, byte(ctlError), ctlErrFailed}, want: ctlError},
		{name: "too short", wire: []byte{0, 1, ctlVersion}, wantErr: "length 1"},
		{name: "too long", wire: []byte{0x04, 0x01}, wantErr: "length 1025"},
		{name: "cut", wire: []byte{0, 4, ctlVersion, byte(ctlStatus)}, wantErr: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := readCtl(bytes.NewReader(tt.wire))
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %d, %v, want an error with %q", got, err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("got %d, %v, want %d", got, err, tt.want)
			}
		})
	}
}

func TestCtlErrors(t *testing.T) {
	tests := []struct {
		name    string
		code    byte
		text    string
		wantIs  error
		wantErr string
	}{
		{name: "not leader", code: ctlErrNotLeader, text: "b leads", wantIs: ErrNotLeader, wantErr: "not the leader: b leads"},
		{name: "unknown", code: ctlErrUnknown, text: "request type 9", wantIs: ErrUnsupported},
		{name: "failed", code: ctlErrFailed, text: "boom\x00\n" + strings.Repeat("x", 300), wantErr: "failed: boom" + strings.Repeat("x", ctlMaxText-4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeCtlError(&buf, tt.code, tt.text); err != nil {
				t.Fatal(err)
			}
			typ, p, err := readCtl(&buf)
			if err != nil || typ != ctlError {
				t.Fatalf("got %d, %v, want an error answer", typ, err)
			}
			got := decodeCtlError(p)
			if tt.wantIs != nil && !errors.Is(got, tt.wantIs) {
				t.Errorf("got %v, want it to be %v", got, tt.wantIs)
			}
			if tt.wantErr != "" && got.Error() != tt.wantErr {
				t.Errorf("got %q, want %q", got, tt.wantErr)
			}
		})
	}
}

// TestCtlVersionRefused sends a request of another version over a real,
// authenticated control connection: the answer says so.
func TestCtlVersionRefused(t *testing.T) {
	var members []Member
	var lns []net.Listener
	for _, n := range []string{"a", "b"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		lns = append(lns, ln)
		members = append(members, Member{Name: n, Address: ln.Addr().String(), Role: RoleNode})
	}
	var trs []*Transport
	for i, m := range members {
		st, err := watchdog.ServerTLS("", "")
		if err != nil {
			t.Fatal(err)
		}
		ct, err := watchdog.ClientTLS("", "", "")
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTransport(TransportConfig{Self: m.Name, Members: members, Key: []byte("k"), ServerTLS: st, ClientTLS: ct,
			Listener: lns[i], Status: func() MemberStatus { return MemberStatus{} }})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		go tr.Serve(context.Background())
		trs = append(trs, tr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := trs[0].dialMember(ctx, members[1], ALPNCtl)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte{0, 2, ctlVersion + 1, byte(ctlStatus)}); err != nil {
		t.Fatal(err)
	}
	typ, p, err := readCtl(c)
	if err != nil || typ != ctlError {
		t.Fatalf("got %d, %v, want an error answer", typ, err)
	}
	if p[0] != ctlErrVersion {
		t.Errorf("got code %d, want %d (%v)", p[0], ctlErrVersion, decodeCtlError(p))
	}
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add(encodeStatus(MemberStatus{Name: "a", Role: RoleNode, Healthy: true, HealthyFor: time.Second, LastIndex: 7, Version: "1"}))
	f.Add([]byte{tagName, 0, 1, 'a', tagHealthy, 0, 1, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		st, err := decodeStatus(p)
		if err != nil {
			return
		}
		again, err := decodeStatus(encodeStatus(st))
		if err != nil || again != st {
			t.Errorf("re-encoded: got %+v, %v, want %+v", again, err, st)
		}
	})
}

func FuzzReadCtl(f *testing.F) {
	f.Add([]byte{0, 2, ctlVersion, byte(ctlStatus)})
	f.Add([]byte{0, 3, 9, byte(ctlError), 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, p, err := readCtl(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := writeCtl(&buf, typ, p); err != nil {
			t.Fatalf("write back: %v", err)
		}
		if b[2] == ctlVersion && !bytes.Equal(buf.Bytes(), b[:buf.Len()]) {
			t.Errorf("written back: got %x, want %x", buf.Bytes(), b[:buf.Len()])
		}
	})
}
