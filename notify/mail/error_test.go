package mail_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/clooster/clooster/notify/mail"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  mail.Error
		want string
	}{
		{name: "reply", err: mail.Error{Cmd: "AUTH PLAIN", Code: 535, Msg: "5.7.8 Authentication credentials invalid"},
			want: "smtp: 535 5.7.8 Authentication credentials invalid (AUTH PLAIN)"},
		{name: "one recipient refused", err: mail.Error{Cmd: "RCPT TO <a@example.com>", Code: 550, Msg: "5.1.1 no such user", Rejected: 1},
			want: "smtp: 550 5.1.1 no such user (RCPT TO <a@example.com>)"},
		{name: "all recipients refused", err: mail.Error{Cmd: "RCPT TO <a@example.com>", Code: 550, Msg: "no", Rejected: 2},
			want: "smtp: 550 no (RCPT TO <a@example.com>; 2 of 2 recipients refused)"},
		{name: "some recipients refused", err: mail.Error{Cmd: "RCPT TO <a@example.com>", Code: 550, Msg: "no", Rejected: 1, Accepted: 2},
			want: "smtp: 550 no (RCPT TO <a@example.com>; 1 of 3 recipients refused, the mail went to the others)"},
		{name: "failure", err: mail.Error{Cmd: "dial", Err: errors.New("connection refused")}, want: "smtp: dial: connection refused"},
		{name: "misconfigured step", err: mail.Error{Cmd: "STARTTLS", Msg: "not offered", Err: mail.ErrMisconfigured},
			want: "smtp: STARTTLS: not offered"},
		{name: "bad url", err: mail.Error{Msg: "to: missing", Err: mail.ErrMisconfigured}, want: "smtp: to: missing"},
		{name: "empty", err: mail.Error{}, want: "smtp: failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := tt.err.Error(), tt.want; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

func TestErrorTemporary(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  mail.Error
		want bool
	}{
		{name: "421", err: mail.Error{Code: 421}, want: true},
		{name: "451", err: mail.Error{Code: 451}, want: true},
		{name: "454", err: mail.Error{Code: 454}, want: true},
		{name: "500", err: mail.Error{Code: 500}},
		{name: "535", err: mail.Error{Code: 535}},
		{name: "550", err: mail.Error{Code: 550}},
		{name: "unexpected 250", err: mail.Error{Code: 250}},
		{name: "451 after some got it", err: mail.Error{Code: 451, Rejected: 1, Accepted: 1}},
		{name: "connection refused", err: mail.Error{Err: refused}, want: true},
		{name: "deadline", err: mail.Error{Err: context.DeadlineExceeded}, want: true},
		{name: "canceled", err: mail.Error{Err: fmt.Errorf("x: %w", context.Canceled)}, want: true},
		{name: "closed mid-reply", err: mail.Error{Err: io.ErrUnexpectedEOF}, want: true},
		{name: "closed", err: mail.Error{Err: io.EOF}, want: true},
		{name: "misconfigured", err: mail.Error{Err: mail.ErrMisconfigured}},
		{name: "unknown authority", err: mail.Error{Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}},
		{name: "wrong host", err: mail.Error{Err: x509.HostnameError{Host: "x"}}},
		{name: "not tls", err: mail.Error{Err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}}},
		{name: "tls alert", err: mail.Error{Err: &net.OpError{Op: "remote error", Err: tls.AlertError(40)}}},
		{name: "other", err: mail.Error{Err: errors.New("smtp: A line must not contain CR or LF")}},
		{name: "nothing", err: mail.Error{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := tt.err.Temporary(), tt.want; got != want {
				t.Errorf("Temporary() = %v, want %v", got, want)
			}
		})
	}
}
