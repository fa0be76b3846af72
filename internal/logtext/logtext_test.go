package logtext

import "testing"

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
