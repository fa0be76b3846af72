package webhook

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/clooster/clooster/internal/logtext"
)

// Scheme is the URL scheme of a webhook; "generic+https" and "generic+http"
// name the target's scheme as well.
const Scheme = "generic"

// The query keys that configure the request rather than pass on to the
// target.
const (
	keyTemplate    = "template"
	keyContentType = "contenttype"
	keyDisableTLS  = "disabletls"
	keyTitle       = "title"
	keyTitleKey    = "titlekey"
	keyMessageKey  = "messagekey"
	keyMethod      = "method"
)

var configKeys = []string{keyTemplate, keyContentType, keyDisableTLS, keyTitle, keyTitleKey, keyMessageKey, keyMethod}

// escapePrefix passes on a target query key that collides with a config key.
const escapePrefix = "__"

// The prefixes of a header and of an extra JSON field in the query.
const (
	headerPrefix = '@'
	extraPrefix  = '$'
)

// parse reads a webhook URL into a Sender without a client.
func parse(u *url.URL) (*Sender, error) {
	if u == nil {
		return nil, errors.New("no URL")
	}
	var scheme string
	switch strings.ToLower(u.Scheme) {
	case Scheme:
	case Scheme + "+https":
		scheme = "https"
	case Scheme + "+http":
		scheme = "http"
	default:
		return nil, fmt.Errorf("scheme: want %s, %s+https or %s+http (got %q)", Scheme, Scheme, Scheme, logtext.OneLine(u.Scheme, 32))
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, errors.New("no host: want " + Scheme + "://host[:port]/path")
	}

	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("malformed query")
	}
	s := &Sender{
		user:        u.User,
		method:      http.MethodPost,
		contentType: "application/json",
		titleKey:    "title",
		messageKey:  "message",
		extra:       make(map[string]string),
	}
	// Headers and extra fields first, so that "@title" is a header.
	for key, values := range query {
		if len(key) <= 1 {
			continue
		}
		switch key[0] {
		case headerPrefix:
			s.headers = append(s.headers, header{name: headerName(key[1:]), value: values[0]})
		case extraPrefix:
			s.extra[key[1:]] = values[0]
		default:
			continue
		}
		delete(query, key)
	}
	// In name and value order, so that a URL gives the same request whatever
	// the map's order.
	slices.SortFunc(s.headers, func(a, b header) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.value, b.value))
	})

	disableTLS := false
	for _, key := range configKeys {
		values, ok := query[key]
		query.Del(key)
		if esc := query[escapePrefix+key]; len(esc) > 0 {
			query.Del(escapePrefix + key)
			query[key] = esc
		}
		if !ok || len(values) == 0 {
			continue
		}
		v := values[0]
		switch key {
		case keyTemplate:
			switch {
			case v == "":
			case strings.EqualFold(v, "json"):
				s.json = true
			default:
				return nil, fmt.Errorf("template: custom templates are not supported, only json (got %q)", logtext.OneLine(v, 64))
			}
		case keyContentType:
			s.contentType = v
		case keyDisableTLS:
			b, ok := parseBool(v)
			if !ok {
				return nil, fmt.Errorf("disabletls: want yes or no (got %q)", logtext.OneLine(v, 16))
			}
			disableTLS = b
		case keyTitle:
			s.title = v
		case keyTitleKey:
			s.titleKey = v
		case keyMessageKey:
			s.messageKey = v
		case keyMethod:
			if !validMethod(v) {
				return nil, fmt.Errorf("method: not an HTTP method (got %q)", logtext.OneLine(v, 16))
			}
			s.method = v
		}
	}
	for _, h := range s.headers {
		if !validHeader(h.name, h.value) {
			return nil, fmt.Errorf("header %q: invalid name or value", logtext.OneLine(h.name, 64))
		}
	}
	if scheme == "" {
		scheme = "https"
		if disableTLS {
			scheme = "http"
		}
	}

	s.target = &url.URL{
		Scheme:   scheme,
		Host:     u.Host,
		Path:     u.Path,
		RawPath:  u.RawPath,
		RawQuery: query.Encode(),
	}
	return s, nil
}

// headerName turns a query key into a header name as shoutrrr does: an
// upper-case letter starts a new dash-separated word ("contentType" →
// "Content-Type", "X-API-Key" → "X-A-P-I-Key"), and the first letter of each
// word is upper case.
func headerName(key string) string {
	var b strings.Builder
	b.Grow(2 * len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'A' <= c && c <= 'Z':
			if i > 0 && key[i-1] != '-' {
				b.WriteByte('-')
			}
		case 'a' <= c && c <= 'z' && (i == 0 || key[i-1] == '-'):
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// parseBool reads a boolean as shoutrrr does.
func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "y":
		return true, true
	case "false", "0", "no", "n":
		return false, true
	}
	return false, false
}

// validMethod reports whether m is an HTTP token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeader reports whether name and value can be sent as they are.
func validHeader(name, value string) bool {
	if !validMethod(name) { // a header name is a token too
		return false
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
