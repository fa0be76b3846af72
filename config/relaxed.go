package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// relaxed is a file in the relaxed JSON the original tool read
// (JSON::MaybeXS relaxed) turned into strict JSON for encoding/json:
//
//   - "#" and "//" comments to the end of the line, and "/* */" comments;
//   - a trailing comma before "}" or "]";
//   - a literal tab inside a string;
//   - a UTF-8 byte order mark.
//
// Comments, trailing commas and the mark become spaces, so offsets stay the
// same; a literal tab becomes `\t`, and the inserted bytes are recorded so
// that an offset in data maps back to one in orig.
type relaxed struct {
	orig     []byte
	data     []byte
	inserted []int // offsets in data of bytes not in orig, ascending
}

// relax rewrites src; the only error is an unterminated block comment.
func relax(src []byte) (*relaxed, error) {
	r := &relaxed{orig: src, data: make([]byte, 0, len(src)+8)}
	out := r.data
	i := 0
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		out = append(out, "   "...)
		i = 3
	}
	inString := false
	for ; i < len(src); i++ {
		c := src[i]
		if inString {
			switch c {
			case '\\':
				out = append(out, c)
				if i+1 < len(src) {
					i++
					out = append(out, src[i])
				}
				continue
			case '"':
				inString = false
			case '\t':
				out = append(out, '\\')
				r.inserted = append(r.inserted, len(out)-1)
				c = 't'
			}
			out = append(out, c)
			continue
		}
		var next byte
		if i+1 < len(src) {
			next = src[i+1]
		}
		switch {
		case c == '"':
			inString = true
		case c == '#' || c == '/' && next == '/':
			for i < len(src) && src[i] != '\n' {
				out = append(out, ' ')
				i++
			}
			i-- // the newline, if any, is copied by the next turn
			continue
		case c == '/' && next == '*':
			n := bytes.Index(src[i+2:], []byte("*/"))
			if n < 0 {
				r.data = out
				return r, &syntaxError{off: len(out), msg: "unterminated /* comment"}
			}
			end := i + 2 + n + 2
			for ; i < end; i++ {
				if src[i] == '\n' {
					out = append(out, '\n')
				} else {
					out = append(out, ' ')
				}
			}
			i--
			continue
		}
		out = append(out, c)
	}
	r.data = out
	dropTrailingCommas(r.data)
	return r, nil
}

// dropTrailingCommas blanks each comma that follows a value and precedes
// "}" or "]". Other stray commas are left for the decoder to report.
func dropTrailingCommas(b []byte) {
	inString := false
	var last byte // the last significant byte outside strings
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
				last = c
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
		case ',':
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
				j++
			}
			if j < len(b) && (b[j] == '}' || b[j] == ']') && last != 0 && !bytes.ContainsRune([]byte("{[,:"), rune(last)) {
				b[i] = ' '
				continue
			}
		}
		last = c
	}
}

// syntaxError is an error at a byte offset of relaxed.data.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

// position is the 1-based line and column (in characters) in the original
// file of byte offset off of r.data.
func (r *relaxed) position(off int) (line, col int) {
	off -= sort.SearchInts(r.inserted, off)
	off = max(0, min(off, len(r.orig)))
	before := r.orig[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}

// syntaxProblem turns a decoding error into a located Problem.
func (r *relaxed) syntaxProblem(err error) Problem {
	off, msg := len(r.data), err.Error()
	var se *syntaxError
	var je *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off = se.off
	case errors.As(err, &je):
		msg = je.Error()
		if msg != "unexpected end of JSON input" {
			off = int(je.Offset) - 1 // Offset counts the offending byte
		}
	}
	if len(bytes.TrimSpace(r.data)) == 0 {
		msg = "no JSON object in the file"
	}
	line, col := r.position(off)
	return Problem{Msg: msg, Line: line, Column: col}
}

// object is a JSON object that keeps its keys in file order.
type object struct {
	keys []string
	vals map[string]any
}

// duplicate is a key given twice in one object.
type duplicate struct {
	path string
	line int
}

// tree decodes r.data into nil, bool, string, json.Number, []any and
// *object values, and lists the duplicate keys (the last one wins, as in
// the original).
func (r *relaxed) tree() (any, []duplicate, error) {
	var check any
	if err := json.Unmarshal(r.data, &check); err != nil {
		return nil, nil, err
	}
	t := &treeReader{r: r, dec: json.NewDecoder(bytes.NewReader(r.data))}
	t.dec.UseNumber()
	v, err := t.value("")
	return v, t.dups, err
}

type treeReader struct {
	r    *relaxed
	dec  *json.Decoder
	dups []duplicate
}

func (t *treeReader) value(path string) (any, error) {
	tok, err := t.dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		obj := &object{vals: map[string]any{}}
		for t.dec.More() {
			tok, err := t.dec.Token()
			if err != nil {
				return nil, err
			}
			key, ok := tok.(string)
			if !ok {
				return nil, fmt.Errorf("object key %v is not a string", tok)
			}
			line, _ := t.r.position(int(t.dec.InputOffset()) - 1)
			p := joinPath(path, key)
			v, err := t.value(p)
			if err != nil {
				return nil, err
			}
			if _, dup := obj.vals[key]; dup {
				t.dups = append(t.dups, duplicate{path: p, line: line})
			} else {
				obj.keys = append(obj.keys, key)
			}
			obj.vals[key] = v
		}
		_, err := t.dec.Token()
		return obj, err
	case '[':
		arr := []any{}
		for t.dec.More() {
			v, err := t.value(path)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := t.dec.Token()
		return arr, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
