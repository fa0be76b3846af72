package mail

import (
	"context"
	"net"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/clooster/clooster/internal/logtext"
)

// Defaults, as shoutrrr's.
const (
	defaultPort       = 25
	implicitTLSPort   = 465
	defaultTimeout    = 10 * time.Second
	defaultClientHost = "localhost"
)

// authMethod is the auth key's value, in shoutrrr's order.
type authMethod int

const (
	authNone authMethod = iota
	authPlain
	authCRAMMD5
	authUnknown
	authOAuth2
)

var authNames = []string{"None", "Plain", "CRAMMD5", "Unknown", "OAuth2"}

// mechanism is the SASL name the server must offer for m.
func (m authMethod) mechanism() string {
	switch m {
	case authPlain:
		return "PLAIN"
	case authCRAMMD5:
		return "CRAM-MD5"
	case authOAuth2:
		return "XOAUTH2"
	}
	return ""
}

// encryption is the encryption key's value, in shoutrrr's order.
type encryption int

const (
	encNone encryption = iota
	encExplicitTLS
	encImplicitTLS
	encAuto
)

var encNames = []string{"None", "ExplicitTLS", "ImplicitTLS", "Auto"}

// keys maps each query key, lowercased, to its canonical name.
var keys = map[string]string{
	"from":            "from",
	"fromaddress":     "from",
	"fromname":        "fromname",
	"to":              "to",
	"toaddresses":     "to",
	"subject":         "subject",
	"title":           "subject",
	"auth":            "auth",
	"encryption":      "encryption",
	"usestarttls":     "usestarttls",
	"starttls":        "usestarttls",
	"requirestarttls": "requirestarttls",
	"skiptlsverify":   "skiptlsverify",
	"clienthost":      "clienthost",
	"timeout":         "timeout",
	"usehtml":         "usehtml",
}

// Sender sends mails through one SMTP server. Make it with New.
type Sender struct {
	host       string
	port       int
	user, pass string
	from       mail.Address // Name is fromname
	to         []string
	subject    string // "" for the title
	auth       authMethod
	implicit   bool // TLS from the first byte
	startTLS   bool // STARTTLS when the server offers it
	requireTLS bool // and fail when it does not
	skipVerify bool
	clientHost string
	timeout    time.Duration
	html       bool

	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// problems collects what is wrong with a URL, each as "key: msg (got value)".
type problems []string

func (p *problems) add(key, msg, got string) {
	s := key + ": " + msg
	if got != "" {
		s += " (got " + got + ")"
	}
	*p = append(*p, s)
}

// quote shows a value from the URL in an error: quoted, on one line, short.
func quote(v string) string {
	return strconv.Quote(logtext.OneLine(v, 64))
}

// New parses a shoutrrr smtp URL. Its error, an *Error wrapping
// ErrMisconfigured, names every key that is wrong and its value (never the
// password nor the username).
func New(u *url.URL) (*Sender, error) {
	if u == nil {
		return nil, misconfigured("", "no URL")
	}
	s := &Sender{
		port:       defaultPort,
		startTLS:   true,
		clientHost: defaultClientHost,
		timeout:    defaultTimeout,
		dial:       (&net.Dialer{}).DialContext,
	}
	var p problems
	if !strings.EqualFold(u.Scheme, "smtp") {
		p.add("scheme", "must be smtp", quote(u.Scheme))
	}
	s.host = u.Hostname()
	if s.host == "" {
		p.add("host", "missing", "")
	}
	if ps := u.Port(); ps != "" {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || n == 0 {
			p.add("port", "must be 1 to 65535", quote(ps))
		} else {
			s.port = int(n)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		if s.user == "" && s.pass != "" {
			p.add("user", "missing before the password", "")
		}
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		p.add("query", "malformed", "")
	}
	v := make(map[string]string)
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		name, ok := keys[strings.ToLower(k)]
		switch {
		case !ok:
			p.add(logtext.OneLine(k, 32), "unknown key", "")
		case len(q[k]) > 1:
			p.add(name, "given more than once", "")
		default:
			if _, dup := v[name]; dup {
				p.add(name, "given more than once", "")
			}
			v[name] = q[k][0]
		}
	}

	auth := authUnknown
	if a, ok := v["auth"]; ok {
		i := enum(authNames, a)
		if i < 0 {
			p.add("auth", "must be one of "+strings.Join(authNames, ", "), quote(a))
		} else {
			auth = authMethod(i)
		}
	}
	enc := encAuto
	if e, ok := v["encryption"]; ok {
		i := enum(encNames, e)
		if i < 0 {
			p.add("encryption", "must be one of "+strings.Join(encNames, ", "), quote(e))
		} else {
			enc = encryption(i)
		}
	}
	useStartTLS, useSet := boolKey(&p, v, "usestarttls", true)
	requireStartTLS, requireSet := boolKey(&p, v, "requirestarttls", false)
	s.skipVerify, _ = boolKey(&p, v, "skiptlsverify", false)
	s.html, _ = boolKey(&p, v, "usehtml", false)

	if f, ok := v["from"]; !ok || strings.TrimSpace(f) == "" {
		p.add("from", "missing", "")
	} else if a, ok := address(f); !ok {
		p.add("from", "not an address", quote(f))
	} else {
		s.from.Address = a
	}
	s.from.Name = clean(v["fromname"])
	badTo := false
	for t := range strings.SplitSeq(v["to"], ",") {
		if strings.TrimSpace(t) == "" {
			continue
		}
		if a, ok := address(t); ok {
			s.to = append(s.to, a)
		} else {
			p.add("to", "not an address", quote(t))
			badTo = true
		}
	}
	if len(s.to) == 0 && !badTo {
		p.add("to", "missing", "")
	}
	s.subject = v["subject"]

	switch {
	case auth == authUnknown && s.user != "":
		auth = authPlain
	case auth == authUnknown:
		auth = authNone
	case auth != authNone && s.user == "":
		p.add("auth", authNames[auth]+" needs a username in the URL", "")
	}
	s.auth = auth

	s.implicit = enc == encImplicitTLS || enc == encAuto && s.port == implicitTLSPort
	switch {
	case s.implicit:
		s.startTLS = false
	case enc == encNone:
		s.startTLS = false
		if requireStartTLS {
			p.add("requirestarttls", "conflicts with encryption=None", "")
		}
	case enc == encExplicitTLS:
		if useSet && !useStartTLS {
			p.add("usestarttls", "conflicts with encryption=ExplicitTLS", "")
		}
		s.requireTLS = true
	default:
		s.startTLS = useStartTLS
		s.requireTLS = requireStartTLS
		if requireSet && requireStartTLS && !useStartTLS {
			p.add("requirestarttls", "conflicts with usestarttls=no", "")
		}
	}

	if h, ok := v["clienthost"]; ok {
		switch {
		case strings.EqualFold(h, "auto"):
			s.clientHost = defaultClientHost
			if name, err := os.Hostname(); err == nil && name != "" && hostChars(name) {
				s.clientHost = name
			}
		case h == "" || !hostChars(h):
			p.add("clienthost", "must be a host name or auto", quote(h))
		default:
			s.clientHost = h
		}
	}
	if t, ok := v["timeout"]; ok {
		d, err := time.ParseDuration(t)
		switch {
		case err != nil:
			p.add("timeout", "must be a duration such as 10s", quote(t))
		case d <= 0:
			p.add("timeout", "must be positive", quote(t))
		default:
			s.timeout = d
		}
	}

	if len(p) > 0 {
		return nil, misconfigured("", strings.Join(p, "; "))
	}
	return s, nil
}

// boolKey parses key as shoutrrr does (yes/no, true/false, y/n, 1/0, in
// any case); set reports whether the URL has it.
func boolKey(p *problems, v map[string]string, key string, def bool) (value, set bool) {
	raw, ok := v[key]
	if !ok {
		return def, false
	}
	switch strings.ToLower(raw) {
	case "yes", "y", "true", "1":
		return true, true
	case "no", "n", "false", "0":
		return false, true
	}
	p.add(key, "must be yes or no", quote(raw))
	return def, true
}

// enum is the index of v among names, in any case, or -1.
func enum(names []string, v string) int {
	for i, n := range names {
		if strings.EqualFold(n, v) {
			return i
		}
	}
	return -1
}

// address checks one address of the URL. A '+' in a query reads as a
// space, so spaces inside it turn back into '+', as shoutrrr does.
func address(v string) (string, bool) {
	v = strings.ReplaceAll(strings.TrimSpace(v), " ", "+")
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return "", false
	}
	return a.Address, true
}

// hostChars reports whether h can stand in EHLO: no space nor control.
func hostChars(h string) bool {
	return !strings.ContainsFunc(h, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// Secrets returns the strings that must never appear in logs: the
// password, and the username when it is not an address.
func (s *Sender) Secrets() []string {
	var out []string
	if s.pass != "" {
		out = append(out, s.pass)
	}
	if s.user != "" {
		if a, err := mail.ParseAddress(s.user); err != nil || a.Address != s.user {
			out = append(out, s.user)
		}
	}
	return out
}
