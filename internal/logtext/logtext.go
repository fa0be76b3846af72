// Package logtext makes text from outside (an API's answer, an error)
// fit for a log line or a message: secrets taken out, one line, bounded.
// Its functions are pure and safe for concurrent use.
package logtext

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Redact replaces every secret in s with "[redacted]", longest first so
// that a secret holding another is replaced whole. Empty secrets are
// ignored.
func Redact(s string, secrets ...string) string {
	found := make([]string, 0, len(secrets))
	for _, v := range secrets {
		if v != "" && strings.Contains(s, v) {
			found = append(found, v)
		}
	}
	slices.SortFunc(found, func(a, b string) int { return len(b) - len(a) })
	for _, v := range found {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// OneLine keeps s fit for a log line: surrounding space trimmed, control
// characters as spaces, and cut to at most n bytes (then "…").
func OneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// Count is n and the noun, in the plural unless n is 1: "1 failed
// attempt", "3 failed attempts".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// RedactURL is raw with a password replaced by "xxxxx", and a user name
// without a password (often a token) left out; raw itself if it is not a
// URL with user information.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		u.User = nil
		return u.String()
	}
	return u.Redacted()
}
