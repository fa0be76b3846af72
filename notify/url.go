package notify

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/discord"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/matrix"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/slack"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/push/gotify"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/push/ntfy"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/push/pushover"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// A service is one kind of channel, by its URL scheme.
type service struct {
	// own makes the sender of a service clooster sends to itself.
	own func(*url.URL) (Sender, error)
	// open makes shoutrrr's sender of the service, when own is nil.
	open func() types.Service
	// titled: the service takes a title apart from the message (a
	// "title" parameter); else the title opens the message.
	titled bool
	// config, when set, is how a check parses the URL: the service's
	// Initialize talks to its server (matrix logs in), and a check sends
	// nothing.
	config func() types.ServiceConfig
}

// services are the channels clooster sends to, by URL scheme, in shoutrrr's
// syntax: those an operator most likely runs. shoutrrr sends to discord,
// gotify, matrix, ntfy, pushover and slack; clooster itself to generic and
// smtp (shoutrrr's run text/template, which keeps every exported method of
// the program in the binary: 4.8 MB more), telegram (shoutrrr's reports an
// unreachable API as a success) and pushbullet (its own client).
// shoutrrr's other services are left out: with them the binary is 0.3 MB
// and an idle node 0.5 MB larger, past the memory budget; a generic webhook
// reaches most of them (README, "Notification channels").
var services = map[string]service{
	"discord":    {open: func() types.Service { return &discord.Service{} }, titled: true},
	"generic":    {own: newWebhook},
	"pushbullet": {own: newPushbullet},
	"gotify":     {open: func() types.Service { return &gotify.Service{} }, titled: true},
	"matrix": {open: func() types.Service { return &matrix.Service{} }, titled: true,
		config: func() types.ServiceConfig { return &matrix.Config{} }},
	"ntfy":     {open: func() types.Service { return &ntfy.Service{} }, titled: true},
	"pushover": {open: func() types.Service { return &pushover.Service{} }, titled: true},
	"slack":    {open: func() types.Service { return &slack.Service{} }, titled: true},
	"smtp":     {own: newMail},
	"telegram": {own: newTelegram},
}

// Services lists the URL schemes clooster knows, sorted.
func Services() []string {
	out := make([]string, 0, len(services))
	for k := range services {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// URL is a channel's URL, parsed and checked without sending anything.
type URL struct {
	Service  string // the service, from the scheme: "ntfy", "smtp", "generic"...
	Redacted string // the URL with its secrets as "***": scheme and host stay visible

	u       *url.URL
	secrets []string
}

// ParseURL parses and checks a channel's URL in shoutrrr's syntax. Its
// error says what is wrong and never contains a secret of the URL.
func ParseURL(raw string) (*URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("empty URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL (" + redactParseError(err, raw) + ")")
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("no scheme: want a URL like ntfy://ntfy.sh/topic (known services: %s)", strings.Join(Services(), ", "))
	}
	scheme := strings.ToLower(u.Scheme)
	name, _, _ := strings.Cut(scheme, "+")
	svc, ok := services[name]
	if !ok {
		return nil, fmt.Errorf("unknown service %q (known: %s)", name, strings.Join(Services(), ", "))
	}
	p := &URL{Service: name, u: u}
	p.secrets = secretsOf(u)
	p.Redacted = redactURL(u)
	if err := p.check(svc); err != nil {
		return nil, errors.New(p.redact(err.Error()))
	}
	return p, nil
}

// Secrets are the parts of the URL that must never be shown: user,
// password, path segments and the query values that may be tokens.
func (p *URL) Secrets() []string { return slices.Clone(p.secrets) }

// redact replaces the URL's secrets in s.
func (p *URL) redact(s string) string {
	return redactAll(s, p.u.String(), p.secrets)
}

// check parses the URL as its service would, without dialling.
func (p *URL) check(svc service) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot be parsed: %v", r)
		}
	}()
	switch {
	case strings.Contains(p.u.Scheme, "+") && p.Service != "generic":
		return fmt.Errorf("%s: a custom URL (%s+...) is only for generic", p.Service, p.Service)
	case svc.own != nil:
		_, err = svc.own(p.u)
		return err
	case svc.config != nil:
		return svc.config().SetURL(p.u)
	}
	return svc.open().Initialize(p.u, nil)
}

// notSecret are query keys whose values are settings, shown as they are.
var notSecret = []string{
	"auth", "channel", "chats", "clienthost", "color", "contenttype", "devices", "disabletls",
	"disabletlsverification", "encryption", "from", "fromaddress", "fromname", "messagekey",
	"method", "notification", "parsemode", "preview", "priority", "requirestarttls", "scheme",
	"skiptlsverify", "starttls", "subject", "tags", "template", "timeout", "title", "titlekey",
	"to", "toaddresses", "usehtml", "usestarttls",
}

// secretHost are the services whose URL holds a token where the host goes
// (slack://token-a/token-b/token-c, pushbullet://token): their host is
// redacted too.
var secretHost = []string{"pushbullet", "pushover", "slack"}

// secretsOf lists the parts of u that may be secret.
func secretsOf(u *url.URL) []string {
	var out []string
	add := func(s string) {
		if s != "" && s != "***" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if u.User != nil {
		add(u.User.String())
		add(u.User.Username())
		pw, _ := u.User.Password()
		add(pw)
	}
	if hostIsSecret(u) {
		add(u.Hostname())
	}
	for seg := range strings.SplitSeq(strings.Trim(u.Path, "/"), "/") {
		add(seg)
		if dec, err := url.PathUnescape(seg); err == nil {
			add(dec)
		}
	}
	add(strings.Trim(u.Opaque, "/"))
	for k, vs := range u.Query() {
		if slices.Contains(notSecret, strings.ToLower(k)) {
			continue
		}
		for _, v := range vs {
			add(v)
			add(url.QueryEscape(v))
		}
	}
	add(u.Fragment)
	// Longest first, so that a secret holding another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// redactURL is u with its user, password, path, secret query values and
// fragment as "***".
func redactURL(u *url.URL) string {
	r := *u
	switch {
	case u.User == nil:
	case hasPassword(u):
		r.User = url.UserPassword("***", "***")
	default:
		r.User = url.User("***")
	}
	if r.Opaque != "" {
		r.Opaque = "***"
	}
	if hostIsSecret(u) && u.Host != "" {
		r.Host = "***"
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		segs := strings.Split(p, "/")
		for i := range segs {
			segs[i] = "***"
		}
		r.Path = "/" + strings.Join(segs, "/")
		r.RawPath = ""
	}
	if u.RawQuery != "" {
		q := u.Query()
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		for _, k := range keys {
			for _, v := range q[k] {
				if b.Len() > 0 {
					b.WriteByte('&')
				}
				b.WriteString(readable.Replace(url.QueryEscape(k)))
				b.WriteByte('=')
				if slices.Contains(notSecret, strings.ToLower(k)) {
					b.WriteString(readable.Replace(url.QueryEscape(v)))
				} else {
					b.WriteString("***")
				}
			}
		}
		r.RawQuery = b.String()
	}
	if r.Fragment != "" {
		r.Fragment, r.RawFragment = "***", ""
	}
	s := r.String()
	return strings.ReplaceAll(s, "%2A%2A%2A", "***")
}

// readable undoes the escapes a query does not need, for people: the "@"
// of an address or of a header key (@Authorization), a list's ",", a "$".
var readable = strings.NewReplacer("%40", "@", "%2C", ",", "%24", "$")

func hostIsSecret(u *url.URL) bool {
	name, _, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
	return slices.Contains(secretHost, name)
}

func hasPassword(u *url.URL) bool {
	_, ok := u.User.Password()
	return ok
}

// Redact is raw with its secrets as "***", for showing a URL that may not
// even parse.
func Redact(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" {
		return "(a URL that does not parse, not shown)"
	}
	return redactURL(u)
}

// redactParseError is url.Parse's error text without the URL it quotes.
func redactParseError(err error, raw string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if strings.Contains(msg, raw) {
		return "malformed"
	}
	// url's errors quote the offending part, which may be a secret.
	if i := strings.IndexAny(msg, "\"'"); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
}

// redactAll replaces each secret (and the whole URL) in s with "***".
func redactAll(s, whole string, secrets []string) string {
	if whole != "" {
		s = strings.ReplaceAll(s, whole, "***")
	}
	for _, sec := range secrets {
		if len(sec) >= minRedact {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// minRedact is the shortest secret replaced in text: a shorter one ("v2",
// "api") is a word of the path, and would garble every message.
const minRedact = 4
