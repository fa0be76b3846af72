package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Key is the JSON path ("cloudflare.zone"), or the variable
	// ("CLOOSTER_PEER_TIMEOUT") when the value came from the environment.
	// It is empty for a syntax error.
	Key string
	// Value is the offending value as shown to the operator: strings
	// quoted, secrets as their length. Empty when there is none to show.
	Value string
	Msg   string
	// Line and Column locate a syntax error in the file (1-based); 0 otherwise.
	Line, Column int
}

// String is "key: msg (got value)".
func (p Problem) String() string {
	s := p.Msg
	if p.Key != "" {
		s = p.Key + ": " + s
	}
	if p.Value != "" {
		s += " (got " + p.Value + ")"
	}
	return s
}

// Error is an invalid configuration: every problem found, in a stable order.
type Error struct {
	File     string // the file as named to Load; "" without one
	Problems []Problem
}

// Error has one problem per line; a syntax error reads "file:line:col: msg".
func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return "invalid configuration"
	}
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "%s:%d:%d: ", e.File, p.Line, p.Column)
		}
		b.WriteString(p.String())
	}
	return b.String()
}
