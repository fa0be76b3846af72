package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/clooster/clooster/notify"
)

var (
	durationType = reflect.TypeFor[Duration]()
	configType   = reflect.TypeFor[Config]()
	notifyType   = reflect.TypeFor[Notify]()
)

// shape checks a decoded file value against the Go type it is meant for,
// the way encoding/json would but with every problem named by its path:
// unknown keys, wrong types, bad durations. It returns the value normalised
// for encoding/json (nil when it has a problem), records the path as set by
// the file, and drops nulls (a null is as good as an absent key).
func (l *loader) shape(path string, v any, t reflect.Type) any {
	l.fileSet[path] = true
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := v.(string); ok && t == notifyType {
		v = &object{keys: []string{"url"}, vals: map[string]any{"url": s}} // the URL alone
	}
	switch {
	case t == durationType:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = string(x)
		default:
			l.fileProblem(path, v, `want a duration like "5s" or a number of seconds`)
			return nil
		}
		d, err := ParseDuration(s)
		if err != nil {
			l.fileProblem(path, v, err.Error())
			return nil
		}
		return d.String()

	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		obj, ok := v.(*object)
		if !ok {
			l.fileProblem(path, v, "want an object")
			return nil
		}
		out := make(map[string]any, len(obj.keys))
		for _, k := range obj.keys {
			p, ft, ok := l.member(path, t, k)
			if !ok || obj.vals[k] == nil {
				continue
			}
			if nv := l.shape(p, obj.vals[k], ft); nv != nil {
				out[k] = nv
			}
		}
		return out

	case t.Kind() == reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			l.fileProblem(path, v, "want an array")
			return nil
		}
		out := make([]any, 0, len(arr))
		for i, e := range arr {
			p := fmt.Sprintf("%s[%d]", path, i)
			if e == nil {
				l.addProblem(Problem{Key: p, Value: "null", Msg: "want an object"})
				continue
			}
			if nv := l.shape(p, e, t.Elem()); nv != nil {
				out = append(out, nv)
			} else {
				out = append(out, map[string]any{}) // keeps the indexes of the rest
			}
		}
		return out

	case t.Kind() == reflect.String:
		s, ok := v.(string)
		if !ok {
			l.fileProblem(path, v, "want a string")
			return nil
		}
		return s

	case t.Kind() == reflect.Int:
		var s string
		switch x := v.(type) {
		case json.Number:
			s = string(x)
		case string: // Perl did not tell "4096" from 4096
			s = strings.TrimSpace(x)
		default:
			l.fileProblem(path, v, "want a number")
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			msg := "want a whole number"
			if _, ok := v.(string); ok {
				msg = "want a number"
			}
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				msg = "number out of range"
			}
			l.fileProblem(path, v, msg)
			return nil
		}
		return n

	case t.Kind() == reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			l.fileProblem(path, v, "want true or false")
			return nil
		}
		return b
	}
	panic(fmt.Sprintf("config: no shape for %v", t)) // a Config field of a new kind
}

// member is the path and type of key k of an object of type t (a struct
// or a map); for a struct's unknown key, a problem (a warning inside
// pushbullet.target) and false.
func (l *loader) member(path string, t reflect.Type, k string) (string, reflect.Type, bool) {
	if t.Kind() == reflect.Map {
		return fmt.Sprintf("%s[%s]", path, strconv.Quote(k)), t.Elem(), true
	}
	p := joinPath(path, k)
	f, ok := fieldByJSON(t, k)
	if !ok {
		if path == "pushbullet.target" {
			l.warn(p, "unknown key, ignored")
		} else {
			l.addProblem(Problem{Key: p, Msg: "unknown key"})
		}
		return "", nil, false
	}
	return p, f.Type, true
}

// fileProblem records a problem with a value read from the file.
func (l *loader) fileProblem(path string, v any, msg string) {
	l.addProblem(Problem{Key: path, Value: showJSON(path, v), Msg: msg})
}

// showJSON is a decoded file value as shown in a message.
func showJSON(path string, v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "null"
	case *object:
		return "an object"
	case []any:
		return "an array"
	case string:
		s = x
	case json.Number:
		s = string(x)
	case bool:
		s = strconv.FormatBool(x)
	}
	if secretPaths[path] {
		return strconv.Itoa(len(s)) + " bytes"
	}
	if _, ok := v.(string); ok && isNotifyURL(path) {
		return quote(notify.Redact(s))
	}
	if _, ok := v.(string); ok {
		return quote(s)
	}
	return s
}

// isNotifyURL reports whether path is a notify entry's URL: notify[2] (the
// URL alone) or notify[2].url. Its value is shown redacted.
func isNotifyURL(path string) bool {
	rest, ok := strings.CutPrefix(path, "notify[")
	if !ok {
		return false
	}
	_, after, ok := strings.Cut(rest, "]")
	return ok && (after == "" || after == ".url")
}

// quote is s in Go quotes, shortened if long.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		r := []rune(s)
		if len(r) > max {
			s = string(r[:max]) + "..."
		}
	}
	return strconv.Quote(s)
}

// fieldByJSON is the field of struct type t whose JSON name is exactly name.
func fieldByJSON(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if n := jsonName(f); n != "" && n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonName is the key of f in the file, "" for fields that have none.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// leafPaths lists the JSON paths of every value of t (not of objects).
func leafPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		p := joinPath(prefix, name)
		if ft.Kind() == reflect.Slice {
			continue // records: the file's only
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, leafPaths(ft, p)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// fieldByPath is the field of the struct v (addressable) at a JSON path,
// allocating nil struct pointers on the way.
func fieldByPath(v reflect.Value, path string) reflect.Value {
	for name := range strings.SplitSeq(path, ".") {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		f, ok := fieldByJSON(v.Type(), name)
		if !ok {
			panic("config: no field for " + path)
		}
		v = v.FieldByIndex(f.Index)
	}
	return v
}
