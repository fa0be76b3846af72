package logtext

import "testing"

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://user:pass@host/health": "http://user:xxxxx@host/health",
		"http://token@host/health":     "http://host/health",
		"http://host/health":           "http://host/health",
		"not a url\x7f":                "not a url\x7f",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q): got %q, want %q", raw, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 failed attempts", 1: "1 failed attempt", 2: "2 failed attempts"} {
		if got := Count(n, "failed attempt"); got != want {
			t.Errorf("Count(%d): got %q, want %q", n, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		s       string
		secrets []string
		want    string
	}{
		{"token abc and abcdef", []string{"abc", "abcdef", ""}, "token [redacted] and [redacted]"},
		{"nothing here", []string{"x1", ""}, "nothing here"},
		{"", []string{"a"}, ""},
	}
	for _, tt := range tests {
		if got := Redact(tt.s, tt.secrets...); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tt.s, tt.secrets, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"  a\nb\tc\x7f ", 10, "a b c "}, // trimmed first, then mapped
		{"abcdef", 3, "abc…"},
		{"ééé", 3, "é…"}, // not cut inside a rune
	}
	for _, tt := range tests {
		if got := OneLine(tt.s, tt.n); got != tt.want {
			t.Errorf("OneLine(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
