package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// ErrMisconfigured is wrapped by the errors that no retry can fix: a bad
// URL, or a server that does not offer what the URL requires (STARTTLS,
// the AUTH mechanism, TLS before credentials go to a remote host).
var ErrMisconfigured = errors.New("misconfigured")

// Error is a failed New or Push: the server's reply, a network or TLS
// failure, or a misconfiguration.
type Error struct {
	// Cmd is the step that failed: "dial", "TLS handshake", "greeting",
	// "EHLO", "STARTTLS", "AUTH PLAIN", "MAIL FROM", "RCPT TO <a@b>",
	// "DATA", or "" for a bad URL.
	Cmd string
	// Code is the server's reply code; 0 when the server did not answer
	// the step.
	Code int
	// Msg is the server's reply text on one line, without secrets; or
	// what is wrong, when the failure is not a reply.
	Msg string
	// Err is the cause: a network, TLS or context error, or
	// ErrMisconfigured; nil for a reply.
	Err error
	// Rejected is how many recipients the server refused, when the step
	// is a RCPT TO; the reply is the first refusal (a temporary one if
	// there is one).
	Rejected int
	// Accepted is how many recipients the server took the mail for
	// although others were refused. A retry would send it to them again,
	// so the error is not Temporary when Accepted is not 0.
	Accepted int
}

// Error returns e.g. "smtp: 535 5.7.8 Authentication credentials invalid
// (AUTH PLAIN)" for a reply, "smtp: dial: ...: connection refused" for a
// failure, or "smtp: to: missing" for a bad URL.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("smtp: ")
	if e.Code != 0 {
		b.WriteString(strconv.Itoa(e.Code))
		if e.Msg != "" {
			b.WriteString(" ")
			b.WriteString(e.Msg)
		}
		if e.Cmd != "" {
			b.WriteString(" (")
			b.WriteString(e.Cmd)
			if e.Rejected > 1 || e.Accepted > 0 {
				fmt.Fprintf(&b, "; %d of %d recipients refused", e.Rejected, e.Rejected+e.Accepted)
				if e.Accepted > 0 {
					b.WriteString(", the mail went to the others")
				}
			}
			b.WriteString(")")
		}
		return b.String()
	}
	parts := make([]string, 0, 3)
	for _, p := range []string{e.Cmd, e.Msg} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if e.Err != nil && e.Err != ErrMisconfigured {
		parts = append(parts, e.Err.Error())
	}
	if len(parts) == 0 {
		parts = append(parts, "failed")
	}
	b.WriteString(strings.Join(parts, ": "))
	return b.String()
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: true for a
// 4xx reply, a network failure or a timeout; false for a 5xx reply (a
// refused recipient, refused credentials), a TLS certificate or protocol
// failure, a misconfiguration, and a mail that some recipients got.
func (e *Error) Temporary() bool {
	switch {
	case e.Accepted > 0:
		return false
	case e.Code != 0:
		return e.Code >= 400 && e.Code < 500
	case e.Err == nil:
		return false
	}
	return temporary(e.Err)
}

// temporary sorts a failure that is not a reply.
func temporary(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, ErrMisconfigured),
		errors.As(err, &verify), errors.As(err, &record), errors.As(err, &alert),
		errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid):
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &netErr):
		return true
	}
	return false
}

// misconfigured is an error of step cmd that no retry can fix.
func misconfigured(cmd, msg string) *Error {
	return &Error{Cmd: cmd, Msg: msg, Err: ErrMisconfigured}
}
