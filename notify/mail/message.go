package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"html"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode"
)

// maxLine is where header lines are folded, when they have a space to fold at.
const maxLine = 78

// content is one body part's Content-Type.
const (
	textPlain = "text/plain; charset=utf-8"
	textHTML  = "text/html; charset=utf-8"
)

// envelope is what a message is built from.
type envelope struct {
	from    mail.Address
	to      []string
	subject string
	date    time.Time
	id      string // Message-ID without the angle brackets
	html    bool   // add an HTML alternative of the body
}

// message builds the mail: headers, a blank line and the body, with CRLF
// line ends. The body is quoted-printable UTF-8 text; with html, a
// multipart/alternative of the text and of the text in an HTML <pre>.
// Lines that start with a dot are left to the DATA writer to stuff.
func message(e envelope, body string) []byte {
	var b bytes.Buffer
	header(&b, "Date", e.date.Format(time.RFC1123Z))
	from := e.from
	from.Name = clean(from.Name)
	header(&b, "From", from.String())
	header(&b, "To", strings.Join(e.to, ", "))
	header(&b, "Subject", encodeWords(clean(e.subject)))
	header(&b, "Message-ID", "<"+e.id+">")
	header(&b, "MIME-Version", "1.0")
	if !e.html {
		header(&b, "Content-Type", textPlain)
		header(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		quoted(&b, body)
		return b.Bytes()
	}
	mw := multipart.NewWriter(&b)
	// The boundary must not occur in the parts: quoted-printable never
	// writes "=_", so a boundary that starts with it cannot be there.
	local, _, _ := strings.Cut(e.id, "@")
	if mw.SetBoundary("=_"+local) != nil {
		mw.SetBoundary("=_" + mw.Boundary())
	}
	header(&b, "Content-Type", "multipart/alternative; boundary=\""+mw.Boundary()+"\"")
	b.WriteString("\r\n")
	for _, part := range []struct{ kind, text string }{
		{textPlain, body},
		{textHTML, "<pre>" + html.EscapeString(body) + "</pre>\n"},
	} {
		w, _ := mw.CreatePart(map[string][]string{
			"Content-Type":              {part.kind},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		var p bytes.Buffer
		quoted(&p, part.text)
		w.Write(p.Bytes())
	}
	mw.Close()
	return b.Bytes()
}

// quoted writes text quoted-printable, its line ends (CRLF, LF or CR) as
// CRLF, and ends it with a line end.
func quoted(b *bytes.Buffer, text string) {
	w := quotedprintable.NewWriter(b)
	w.Write([]byte(text))
	w.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
}

// header writes "name: value", folded at spaces so that lines keep within
// maxLine where they can.
func header(b *bytes.Buffer, name, value string) {
	line := len(name) + 1
	b.WriteString(name)
	b.WriteString(":")
	for word := range strings.SplitSeq(value, " ") {
		if word != "" && line > 1 && line+1+len(word) > maxLine {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(" ")
		b.WriteString(word)
		line += 1 + len(word)
	}
	b.WriteString("\r\n")
}

// encodeWords encodes s as RFC 2047 words, each short enough for a header
// line, when it is not plain ASCII.
func encodeWords(s string) string {
	return mime.QEncoding.Encode("utf-8", s)
}

// clean makes s fit in a header: control characters, line breaks
// included, become spaces, and the ends are trimmed.
func clean(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// newID is a fresh Message-ID (without brackets) in the domain of from.
func newID(from string) string {
	var r [16]byte
	rand.Read(r[:])
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	return hex.EncodeToString(r[:]) + "@" + domain
}
