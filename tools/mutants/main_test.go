package main

import "testing"

func TestApply(t *testing.T) {
	src := []byte("package p\n\tcase a == b && c <= d:\n\tx := y - 1\n\tn++\n")
	for _, tt := range []struct {
		name    string
		m       mutant
		want    string
		applies bool
	}{
		{"negation of ==", mutant{Type: "CONDITIONALS_NEGATION", Line: 2, Column: 9}, "package p\n\tcase a != b && c <= d:\n\tx := y - 1\n\tn++\n", true},
		{"negation of <=", mutant{Type: "CONDITIONALS_NEGATION", Line: 2, Column: 19}, "package p\n\tcase a == b && c > d:\n\tx := y - 1\n\tn++\n", true},
		{"boundary of <=", mutant{Type: "CONDITIONALS_BOUNDARY", Line: 2, Column: 19}, "package p\n\tcase a == b && c < d:\n\tx := y - 1\n\tn++\n", true},
		{"arithmetic", mutant{Type: "ARITHMETIC_BASE", Line: 3, Column: 9}, "package p\n\tcase a == b && c <= d:\n\tx := y + 1\n\tn++\n", true},
		{"increment", mutant{Type: "INCREMENT_DECREMENT", Line: 4, Column: 3}, "package p\n\tcase a == b && c <= d:\n\tx := y - 1\n\tn--\n", true},
		{"no operator there", mutant{Type: "CONDITIONALS_NEGATION", Line: 3, Column: 2}, "", false},
		{"a line past the end", mutant{Type: "CONDITIONALS_NEGATION", Line: 9, Column: 1}, "", false},
	} {
		got, ok := apply(src, tt.m)
		if ok != tt.applies || string(got) != tt.want {
			t.Errorf("%s: got %q (%v), want %q (%v)", tt.name, got, ok, tt.want, tt.applies)
		}
	}
}
