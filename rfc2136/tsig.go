package rfc2136

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// tsigKey signs requests and verifies replies with one key (hmac-md5
// included, which the library no longer does itself). It accepts no other
// key name and no other algorithm.
type tsigKey struct {
	name      string // fully qualified, lower case
	algorithm string // TSIG algorithm name: "hmac-sha256."
	secret    []byte
}

func (k *tsigKey) mac(t *dns.TSIG) (hash.Hash, error) {
	if !strings.EqualFold(t.Hdr.Name, k.name) {
		return nil, dns.ErrSecret
	}
	if !strings.EqualFold(dns.CanonicalName(t.Algorithm), k.algorithm) {
		return nil, dns.ErrKeyAlg
	}
	var h func() hash.Hash
	switch k.algorithm {
	case "hmac-md5.sig-alg.reg.int.":
		h = md5.New
	case dns.HmacSHA1:
		h = sha1.New
	case dns.HmacSHA224:
		h = sha256.New224
	case dns.HmacSHA256:
		h = sha256.New
	case dns.HmacSHA384:
		h = sha512.New384
	case dns.HmacSHA512:
		h = sha512.New
	default:
		return nil, dns.ErrKeyAlg
	}
	return hmac.New(h, k.secret), nil
}

// Generate implements dns.TsigProvider.
func (k *tsigKey) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	h, err := k.mac(t)
	if err != nil {
		return nil, err
	}
	h.Write(msg)
	return h.Sum(nil), nil
}

// Verify implements dns.TsigProvider.
func (k *tsigKey) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(got, want) {
		return dns.ErrSig
	}
	return nil
}

// verifyReply checks the TSIG of reply, the wire form of an answer to a
// request whose MAC was requestMAC (hex). The library declines to verify
// a NOTAUTH reply at all, but servers sign those that do not come from a
// key error (BIND's for a zone it does not serve): such a reply is
// verified with its RCODE cleared, then put back in what is signed.
func (k *tsigKey) verifyReply(reply []byte, requestMAC string) error {
	if len(reply) < 12 || reply[3]&0x0F != dns.RcodeNotAuth {
		return dns.TsigVerifyWithProvider(slices.Clone(reply), k, requestMAC, false)
	}
	cleared := slices.Clone(reply)
	cleared[3] &^= 0x0F
	// What is signed is the request's MAC (length and bytes), then the
	// reply: its flags are 3 bytes into the reply.
	at := 2 + len(requestMAC)/2 + 3
	return dns.TsigVerifyWithProvider(cleared, notAuthKey{k, at}, requestMAC, false)
}

// notAuthKey verifies with k what was signed with NOTAUTH at byte at.
type notAuthKey struct {
	k  *tsigKey
	at int
}

func (n notAuthKey) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	return nil, dns.ErrSecret // verifies only
}

func (n notAuthKey) Verify(msg []byte, t *dns.TSIG) error {
	if n.at >= len(msg) {
		return dns.ErrSig
	}
	msg[n.at] |= dns.RcodeNotAuth
	return n.k.Verify(msg, t)
}
