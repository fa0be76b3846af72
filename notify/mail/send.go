package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/logtext"
)

// Push sends one mail to every recipient: its subject is the URL's subject,
// or else title; its text is body. It returns soon after ctx ends; each
// step (dial, TLS handshake, each command) is bounded by the URL's timeout
// too. Its error is an *Error.
func (s *Sender) Push(ctx context.Context, title, body string) error {
	subject := s.subject
	if subject == "" {
		subject = title
	}
	msg := message(envelope{
		from:    s.from,
		to:      s.to,
		subject: subject,
		date:    time.Now(),
		id:      newID(s.from.Address),
		html:    s.html,
	}, body)

	ss := &session{Sender: s, ctx: ctx}
	if err := ss.run(msg); err != nil {
		return err
	}
	return nil
}

// session is one connection to the server, for one Push.
type session struct {
	*Sender
	ctx  context.Context
	conn net.Conn // the TCP connection, which any TLS runs over
}

// arm bounds the next step by the timeout and by ctx's deadline.
func (ss *session) arm() time.Time {
	d := time.Now().Add(ss.timeout)
	if dl, ok := ss.ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	if ss.conn != nil {
		ss.conn.SetDeadline(d)
	}
	return d
}

func (ss *session) run(msg []byte) *Error {
	addr := net.JoinHostPort(ss.host, strconv.Itoa(ss.port))
	dctx, cancel := context.WithDeadline(ss.ctx, ss.arm())
	conn, err := ss.dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return ss.fail("dial", err)
	}
	ss.conn = conn
	defer conn.Close()
	// Closing the connection is what unblocks a step once ctx ends.
	stop := context.AfterFunc(ss.ctx, func() { conn.Close() })
	defer stop()

	if ss.implicit {
		tc := tls.Client(conn, ss.tlsConfig())
		hctx, cancel := context.WithDeadline(ss.ctx, ss.arm())
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return ss.fail("TLS handshake", err)
		}
		conn = tc
	}

	ss.arm()
	c, err := smtp.NewClient(conn, ss.host)
	if err != nil {
		return ss.fail("greeting", err)
	}
	ss.arm()
	if err := c.Hello(ss.clientHost); err != nil {
		return ss.fail("EHLO", err)
	}

	if ss.startTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			ss.arm()
			if err := c.StartTLS(ss.tlsConfig()); err != nil {
				return ss.fail("STARTTLS", err)
			}
		} else if ss.requireTLS {
			return misconfigured("STARTTLS", "the server does not offer it, and the URL requires it")
		}
	}

	if ss.auth != authNone {
		if err := ss.authenticate(c); err != nil {
			return err
		}
	}

	ss.arm()
	if err := c.Mail(ss.from.Address); err != nil {
		return ss.fail("MAIL FROM", err)
	}
	var refused []*Error
	for _, to := range ss.to {
		ss.arm()
		if err := c.Rcpt(to); err != nil {
			e := ss.fail("RCPT TO <"+to+">", err)
			if e.Code == 0 {
				return e
			}
			refused = append(refused, e)
		}
	}
	if len(refused) == len(ss.to) {
		return recipients(refused, 0)
	}

	ss.arm()
	w, err := c.Data()
	if err != nil {
		return ss.fail("DATA", err)
	}
	ss.arm()
	if _, err := w.Write(msg); err != nil {
		return ss.fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return ss.fail("DATA", err)
	}

	// The server has the mail: what QUIT answers does not change that.
	ss.arm()
	c.Quit()
	if len(refused) > 0 {
		return recipients(refused, len(ss.to)-len(refused))
	}
	return nil
}

// authenticate sends the credentials, if the connection is fit for them.
func (ss *session) authenticate(c *smtp.Client) *Error {
	mech := ss.auth.mechanism()
	cmd := "AUTH " + mech
	_, encrypted := c.TLSConnectionState()
	if !encrypted && !isLocalhost(ss.host) {
		return misconfigured(cmd, "refusing to send credentials over an unencrypted connection to "+ss.host+
			" (the server offers no STARTTLS, or the URL turns it off)")
	}
	ok, offered := c.Extension("AUTH")
	switch {
	case !ok && encrypted:
		return misconfigured(cmd, "the server offers no AUTH")
	case !ok:
		return misconfigured(cmd, "the server offers no AUTH over this unencrypted connection")
	case !slices.ContainsFunc(strings.Fields(offered), func(m string) bool { return strings.EqualFold(m, mech) }):
		return misconfigured(cmd, "the server offers "+logtext.OneLine(offered, 64)+", not "+mech)
	}
	var a smtp.Auth
	switch ss.auth {
	case authPlain:
		// PlainAuth refuses by itself to go out in clear to a remote host.
		a = smtp.PlainAuth("", ss.user, ss.pass, ss.host)
	case authCRAMMD5:
		a = smtp.CRAMMD5Auth(ss.user, ss.pass)
	case authOAuth2:
		a = xoauth2{ss.user, ss.pass}
	}
	ss.arm()
	if err := c.Auth(a); err != nil {
		return ss.fail(cmd, err)
	}
	return nil
}

// isLocalhost is net/smtp's rule for where PLAIN may go in clear.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (ss *session) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName:         ss.host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: ss.skipVerify, // the URL's skiptlsverify=yes
	}
}

// fail makes the *Error of step cmd: the server's reply, or the failure
// that kept it from coming. Once ctx has ended, that is the cause.
func (ss *session) fail(cmd string, err error) *Error {
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return &Error{Cmd: cmd, Code: reply.Code, Msg: logtext.OneLine(logtext.Redact(reply.Msg, ss.Secrets()...), 256)}
	}
	if cerr := ss.ctx.Err(); cerr != nil {
		err = cerr
	} else if dl, ok := ss.ctx.Deadline(); ok && !time.Now().Before(dl) {
		err = context.DeadlineExceeded
	}
	return &Error{Cmd: cmd, Err: err}
}

// recipients is the error for the refused recipients: the first temporary
// refusal if any, else the first.
func recipients(refused []*Error, accepted int) *Error {
	e := refused[0]
	for _, r := range refused {
		if r.Temporary() {
			e = r
			break
		}
	}
	e.Rejected = len(refused)
	e.Accepted = accepted
	return e
}

// xoauth2 is SASL XOAUTH2, with the password as the access token.
type xoauth2 struct{ user, token string }

func (a xoauth2) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

// Next answers the server's error challenge with an empty line, after
// which it replies with its error code.
func (a xoauth2) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return []byte{}, nil
	}
	return nil, nil
}
