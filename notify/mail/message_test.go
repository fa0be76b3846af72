package mail

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

var testDate = time.Date(2026, 3, 1, 12, 30, 5, 0, time.FixedZone("", 3600))

func TestMessageExact(t *testing.T) {
	got := string(message(envelope{
		from:    mail.Address{Name: "clooster alerts", Address: "alerts@example.com"},
		to:      []string{"ops@example.com", "oncall@example.com"},
		subject: "Failover: node-a is down",
		date:    testDate,
		id:      "0123abcd@example.com",
	}, "node-b took over example.com.\n.a line with a dot\n"))
	want := "Date: Sun, 01 Mar 2026 12:30:05 +0100\r\n" +
		"From: \"clooster alerts\" <alerts@example.com>\r\n" +
		"To: ops@example.com, oncall@example.com\r\n" +
		"Subject: Failover: node-a is down\r\n" +
		"Message-ID: <0123abcd@example.com>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		"node-b took over example.com.\r\n" +
		".a line with a dot\r\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// parse reads a built message back as a mail reader would.
func parse(t *testing.T, raw []byte) (*mail.Message, string) {
	t.Helper()
	for i, line := range bytes.SplitAfter(raw, []byte("\r\n")) {
		if len(line) > 0 && !bytes.HasSuffix(line, []byte("\r\n")) {
			t.Errorf("line %d %q does not end in CRLF", i, line)
		}
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i, len(line))
		}
	}
	m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	return m, subject
}

func TestMessageHeaders(t *testing.T) {
	long := strings.Repeat("record example.com moved ", 12)
	tests := []struct {
		name        string
		fromName    string
		subject     string
		wantSubject string
		wantFrom    string
	}{
		{name: "ascii", fromName: "clooster", subject: "node-a is down", wantSubject: "node-a is down", wantFrom: "clooster"},
		{name: "utf-8", fromName: "Zürich DNS", subject: "Ausfall: Knoten ä ist weg ✓", wantSubject: "Ausfall: Knoten ä ist weg ✓", wantFrom: "Zürich DNS"},
		{name: "line breaks cannot add headers", fromName: "a\r\nBcc: x@example.com", subject: "one\r\nBcc: evil@example.com",
			wantSubject: "one  Bcc: evil@example.com", wantFrom: "a  Bcc: x@example.com"},
		{name: "long ascii is folded", subject: long, wantSubject: strings.TrimSpace(long)},
		{name: "long utf-8 is folded", subject: strings.Repeat("ü", 120), wantSubject: strings.Repeat("ü", 120)},
		{name: "empty", subject: "", wantSubject: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := message(envelope{
				from:    mail.Address{Name: tt.fromName, Address: "alerts@example.com"},
				to:      []string{"ops@example.com"},
				subject: tt.subject,
				date:    testDate,
				id:      "id@example.com",
			}, "body")
			m, subject := parse(t, raw)
			if got, want := subject, tt.wantSubject; got != want {
				t.Errorf("Subject = %q, want %q", got, want)
			}
			for i, line := range strings.Split(string(raw), "\r\n") {
				if len(line) > maxLine && strings.Contains(line, " ") {
					t.Errorf("line %d not folded (%d bytes): %q", i, len(line), line)
				}
			}
			from, err := mail.ParseAddress(m.Header.Get("From"))
			if err != nil {
				t.Fatalf("From: %v", err)
			}
			if got, want := from.Name, tt.wantFrom; got != want {
				t.Errorf("From name = %q, want %q", got, want)
			}
			if got, want := len(m.Header["Bcc"]), 0; got != want {
				t.Errorf("%d Bcc headers, want %d", got, want)
			}
			if got, want := m.Header.Get("Content-Type"), "text/plain; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if _, err := m.Header.Date(); err != nil {
				t.Errorf("Date: %v", err)
			}
		})
	}
}

func TestMessageBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "lf", body: "a\nb\n", want: "a\r\nb\r\n"},
		{name: "crlf", body: "a\r\nb", want: "a\r\nb\r\n"},
		{name: "empty", body: "", want: ""},
		{name: "utf-8 and equals", body: "Grüße = 1\n", want: "Grüße = 1\r\n"},
		{name: "trailing space kept", body: "a \nb\t", want: "a \r\nb\t\r\n"},
		{name: "long line", body: strings.Repeat("x", 300), want: strings.Repeat("x", 300) + "\r\n"},
		{name: "dots", body: ".\n..\n", want: ".\r\n..\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := message(envelope{from: mail.Address{Address: "a@example.com"}, to: []string{"b@example.com"}, date: testDate, id: "x@example.com"}, tt.body)
			m, _ := parse(t, raw)
			if got, want := m.Header.Get("Content-Transfer-Encoding"), "quoted-printable"; got != want {
				t.Errorf("Content-Transfer-Encoding = %q, want %q", got, want)
			}
			body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(body), tt.want; got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
		})
	}
}

func TestMessageHTML(t *testing.T) {
	raw := message(envelope{
		from: mail.Address{Address: "alerts@example.com"}, to: []string{"ops@example.com"},
		subject: "s", date: testDate, id: "0123abcd@example.com", html: true,
	}, "<b>1 < 2</b>\n")
	m, _ := parse(t, raw)
	kind, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kind, "multipart/alternative"; got != want {
		t.Fatalf("Content-Type = %q, want %q", got, want)
	}
	want := []struct{ kind, body string }{
		{"text/plain; charset=utf-8", "<b>1 < 2</b>\r\n"},
		{"text/html; charset=utf-8", "<pre>&lt;b&gt;1 &lt; 2&lt;/b&gt;\r\n</pre>\r\n"},
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for i := 0; ; i++ {
		p, err := r.NextRawPart()
		if err == io.EOF {
			if got := i; got != len(want) {
				t.Errorf("%d parts, want %d", got, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Fatalf("more than %d parts", len(want))
		}
		if got := p.Header.Get("Content-Type"); got != want[i].kind {
			t.Errorf("part %d Content-Type = %q, want %q", i, got, want[i].kind)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(body); got != want[i].body {
			t.Errorf("part %d body = %q, want %q", i, got, want[i].body)
		}
	}
}

func TestNewID(t *testing.T) {
	a, b := newID("alerts@example.com"), newID("alerts@example.com")
	if a == b {
		t.Errorf("two ids alike: %q", a)
	}
	if !strings.HasSuffix(a, "@example.com") {
		t.Errorf("id %q, want it in example.com", a)
	}
	if _, err := mail.ParseAddress("<" + a + ">"); err != nil {
		t.Errorf("id %q is not an addr-spec: %v", a, err)
	}
}
