package rfc2136

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/clooster/clooster/internal/failover"
)

// Operations, as Error.Op names them.
const (
	opRead   = "read"
	opUpdate = "update"
)

// Error is a failed exchange with the server: no reply, a reply that
// cannot be believed, or one that refuses.
type Error struct {
	Op     string // "read" (a query) or "update"
	Server string // host:port
	Zone   string // fully qualified
	Name   string // the record, or the zone's fence, fully qualified
	Type   string // "A", "AAAA" or "CNAME"; "TXT" for the fence
	// Rcode is the reply's RCODE (RFC 1035, 2136: 5 is REFUSED, 8
	// NXRRSET, 9 NOTAUTH); -1 without a usable reply.
	Rcode int
	// TSIGError is the error the server put in the reply's TSIG (16
	// BADSIG, 17 BADKEY, 18 BADTIME); 0 if none.
	TSIGError      int
	Key, Algorithm string // the TSIG key name and algorithm used
	// Skew is the server's clock minus ours, measured from the reply,
	// when a clock is the problem (BADTIME, or a reply signed too far
	// from our time); 0 otherwise.
	Skew     time.Duration
	Unsigned bool   // the reply carried no TSIG
	Msg      string // what happened, and the likely fix
	Err      error  // the cause, if any: a network error, failover.ErrMissing, ...
}

// Error returns, for example, "rfc2136: update www.example.com. A (zone
// example.com.) at 127.0.0.1:5353: REFUSED: the key "clooster" may not
// update www.example.com. A (check the server's update-policy or
// allow-update)". It never contains the secret.
func (e *Error) Error() string {
	return fmt.Sprintf("rfc2136: %s %s %s (zone %s) at %s: %s", e.Op, e.Name, e.Type, e.Zone, e.Server, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports an update that the server answered with an error, and so did
// not apply (RFC 2136 3.8: an update is applied whole or not at all), as
// failover.ErrRefused: known not to have landed. (A refused prerequisite
// is a conflict instead: Swap's error wraps failover.ErrConflict.)
func (e *Error) Is(target error) bool {
	if target != failover.ErrRefused || e.Op != opUpdate {
		return false
	}
	switch e.Rcode {
	case dns.RcodeFormatError, dns.RcodeServerFailure, dns.RcodeNotImplemented, dns.RcodeRefused, dns.RcodeNotAuth, dns.RcodeNotZone:
		return true
	}
	return false
}

// newError is an *Error about r, with no reply.
func (r *Record) newError(op, msg string, err error) *Error {
	return &Error{
		Op: op, Server: r.server, Zone: r.zone, Name: r.name, Type: r.typ,
		Rcode: -1, Key: r.keyName, Algorithm: r.algorithm,
		Msg: msg, Err: err,
	}
}

// fail is the error for reply (nil if none) with msg and cause err.
func (r *Record) fail(op string, reply *dns.Msg, err error, msg string) error {
	e := r.newError(op, msg, err)
	if reply != nil {
		e.Rcode = reply.Rcode
		if t := reply.IsTsig(); t != nil {
			e.TSIGError = int(t.Error)
		} else {
			e.Unsigned = true
		}
	}
	return e
}

// operatorError is e as a *failover.RetryLater: an error only an operator
// can fix, not worth trying again soon.
func operatorError(e *Error) error {
	return &failover.RetryLater{After: keyWait, Err: e}
}

// exchange sends m, signed, and returns the reply if it is one to m, signed
// by the key, and not truncated; else the *Error saying why not.
func (r *Record) exchange(ctx context.Context, op string, m *dns.Msg) (*dns.Msg, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	start := time.Now()
	conn, err := r.dial(ctx, r.network, r.server)
	if err != nil {
		return nil, r.netError(parent, ctx, op, start, err)
	}
	defer conn.Close()
	// The deadline ends the exchange at the timeout; a caller that
	// cancels closes the connection.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	m.SetTsig(r.keyName, r.key.algorithm, fudge, time.Now().Unix())
	req, requestMAC, err := dns.TsigGenerateWithProvider(m, r.key, "", false)
	if err != nil {
		return nil, r.newError(op, "sign: "+err.Error(), err)
	}
	co := &dns.Conn{Conn: conn, UDPSize: dns.DefaultMsgSize}
	if _, err := co.Write(req); err != nil {
		return nil, r.netError(parent, ctx, op, start, err)
	}
	var reply *dns.Msg
	var verr error // the reply's TSIG does not verify
	for {
		p, err := co.ReadMsgHeader(nil)
		if err != nil {
			return nil, r.netError(parent, ctx, op, start, err)
		}
		reply = new(dns.Msg)
		if err := reply.Unpack(p); err != nil {
			return nil, r.fail(op, nil, err, fmt.Sprintf("unreadable reply: %v", err))
		}
		if reply.Id != m.Id {
			if r.network == "udp" {
				continue // a late answer to another query
			}
			return nil, r.fail(op, nil, dns.ErrId, "unreadable reply: it answers another message (id mismatch)")
		}
		if reply.IsTsig() != nil {
			verr = r.key.verifyReply(p, requestMAC)
		}
		break
	}
	received := time.Now()
	if !reply.Response || reply.Opcode != m.Opcode {
		return nil, r.fail(op, nil, nil, "unreadable reply: not a response to the request")
	}

	t := reply.IsTsig()
	switch {
	case t != nil && t.Error != dns.RcodeSuccess:
		return nil, r.tsigError(op, reply, t, received)
	case verr != nil:
		e := r.fail(op, reply, verr, "").(*Error)
		if errors.Is(verr, dns.ErrTime) {
			e.Skew = time.Unix(int64(t.TimeSigned), 0).Sub(received.Truncate(time.Second))
			e.Msg = fmt.Sprintf("the reply's TSIG was signed %s, more than TSIG's %ds: fix the clock of one of them (NTP)", skewText(e.Skew), t.Fudge)
		} else {
			e.Msg = fmt.Sprintf("the reply's TSIG does not verify with key %q (%s): the reply was altered on the way, or does not come from the server (%v)", strings.TrimSuffix(r.keyName, "."), r.algorithm, verr)
		}
		return nil, operatorError(e)
	case t == nil:
		switch reply.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeYXDomain:
			return nil, r.fail(op, reply, nil, fmt.Sprintf("%s, but the reply is not signed with key %q: not believed", dns.RcodeToString[reply.Rcode], strings.TrimSuffix(r.keyName, ".")))
		}
		return nil, r.rcodeError(op, reply)
	case reply.Truncated:
		return nil, r.fail(op, reply, nil, fmt.Sprintf("the reply was truncated over %s (use tcp)", r.network))
	}
	return reply, nil
}

// netError is the error for a failed exchange with no reply: parent is
// the caller's context, ctx the exchange's (with its timeout).
func (r *Record) netError(parent, ctx context.Context, op string, start time.Time, err error) error {
	var msg string
	var ne net.Error
	switch {
	case parent.Err() != nil:
		err = fmt.Errorf("%w (%w)", parent.Err(), err)
		msg = err.Error()
	case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		msg = fmt.Sprintf("no reply within %s (is the server up, and reachable over %s?)", time.Since(start).Round(time.Millisecond), r.network)
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("connection refused (is the server running, and listening on %s at this address?)", r.network)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		msg = fmt.Sprintf("the server closed the connection without a reply (%v)", err)
	default:
		var de *dns.Error
		if errors.As(err, &de) {
			msg = fmt.Sprintf("unreadable reply: %v", err)
		} else {
			msg = err.Error()
		}
	}
	return r.newError(op, msg, err)
}

// tsigError is the error for a reply whose TSIG carries an error: the
// server did not accept our signature.
func (r *Record) tsigError(op string, reply *dns.Msg, t *dns.TSIG, received time.Time) error {
	e := r.fail(op, reply, nil, "").(*Error)
	key := strings.TrimSuffix(r.keyName, ".")
	prefix := "TSIG " + rcodeName(int(t.Error))
	if reply.Rcode != dns.RcodeSuccess {
		prefix = rcodeName(reply.Rcode) + ", " + prefix
	}
	switch t.Error {
	case dns.RcodeBadSig:
		e.Msg = fmt.Sprintf("the server does not verify the signature of key %q (%s): wrong secret", key, r.algorithm)
	case dns.RcodeBadKey:
		e.Msg = fmt.Sprintf("the server does not know key %q with algorithm %s: check the key name and algorithm", key, r.algorithm)
		if op == opUpdate {
			// Knot answers so when its ACL denies the update.
			e.Msg = fmt.Sprintf("the server does not accept key %q (%s) for this update: either it does not know the key name or algorithm, or its ACL does not let the key update %s %s (Knot: check update-owner and update-type)", key, r.algorithm, r.name, r.typ)
		}
	case dns.RcodeBadTime:
		if b, err := hex.DecodeString(t.OtherData); err == nil && len(b) == 6 {
			var secs int64
			for _, c := range b {
				secs = secs<<8 | int64(c)
			}
			e.Skew = time.Unix(secs, 0).Sub(received.Truncate(time.Second))
			e.Msg = fmt.Sprintf("clock skew: the server's clock is %s ours, more than TSIG's %ds: fix the clock of one of them (NTP)", skewWords(e.Skew), t.Fudge)
		} else {
			e.Msg = fmt.Sprintf("clock skew: the server's clock and ours differ by more than TSIG's %ds: fix the clock of one of them (NTP)", fudge)
		}
	default:
		e.Msg = fmt.Sprintf("the server refused the signature of key %q (%s)", key, r.algorithm)
	}
	e.Msg = prefix + ": " + e.Msg
	return operatorError(e)
}

// skewWords says how the server's clock stands to ours: "42s ahead of".
func skewWords(d time.Duration) string {
	switch {
	case d > 0:
		return d.String() + " ahead of"
	case d < 0:
		return (-d).String() + " behind"
	}
	return "about the same as"
}

// skewText says when the server signed, on our clock: "42s in the future".
func skewText(d time.Duration) string {
	if d >= 0 {
		return d.String() + " in the future by our clock"
	}
	return (-d).String() + " ago by our clock"
}

// rcodeName is an RCODE's mnemonic, or its number.
func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE %d", rc)
}

// rcodeError is the error for a reply that refuses or fails.
func (r *Record) rcodeError(op string, reply *dns.Msg) error {
	e := r.fail(op, reply, nil, "").(*Error)
	key := strings.TrimSuffix(r.keyName, ".")
	operator := false
	switch reply.Rcode {
	case dns.RcodeRefused:
		operator = true
		if op == opUpdate {
			e.Msg = fmt.Sprintf("the key %q may not update %s %s (check the server's update-policy or allow-update for this key)", key, r.name, r.typ)
		} else {
			e.Msg = fmt.Sprintf("the server refused the query (does it serve zone %s, and answer this address?)", r.zone)
		}
	case dns.RcodeNotAuth:
		e.Msg = fmt.Sprintf("the server is not authoritative for zone %s", r.zone)
		if op == opUpdate {
			e.Msg += " (is it the zone's primary, and is the zone right?)"
		}
	case dns.RcodeNotZone:
		e.Msg = fmt.Sprintf("the server does not place %s in zone %s (is the zone right?)", r.name, r.zone)
	case dns.RcodeServerFailure:
		e.Msg = "the server failed to process the request (see its log)"
	case dns.RcodeFormatError:
		e.Msg = "the server could not parse the request"
	case dns.RcodeNotImplemented:
		e.Msg = "the server does not implement this request"
		if op == opUpdate {
			e.Msg += " (are dynamic updates enabled for the zone?)"
		}
	default:
		e.Msg = "unexpected reply"
	}
	e.Msg = rcodeName(reply.Rcode) + ": " + e.Msg
	if e.Unsigned {
		e.Msg += " (unsigned reply)"
	}
	if operator {
		return operatorError(e)
	}
	return e
}
