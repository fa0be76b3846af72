package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestRelax(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // strict JSON of the same value
	}{
		{"hash comment", "{\n# a comment\n\"a\": 1 # after\n}", `{"a":1}`},
		{"slash comment", "{\n// a comment\n\"a\": 1 // after\n}", `{"a":1}`},
		{"block comment", "{ /* one\n two */ \"a\": /* in */ 1 }", `{"a":1}`},
		{"trailing comma in object", `{"a": 1, "b": {"c": 2,},}`, `{"a":1,"b":{"c":2}}`},
		{"trailing comma in array", `{"a": [1, 2, ]}`, `{"a":[1,2]}`},
		{"trailing comma before comment", "{\"a\": 1, # last\n}", `{"a":1}`},
		{"comment characters in strings", `{"a": "# not // a /* comment */", "b": "x"}`, `{"a":"# not // a /* comment */","b":"x"}`},
		{"escaped quote then hash", `{"a": "say \"#1\" // ok"} # real`, `{"a":"say \"#1\" // ok"}`},
		{"backslash at end of string", `{"a": "c:\\", "b": "#"}`, `{"a":"c:\\","b":"#"}`},
		{"comma in string before brace", `{"a": ",}"}`, `{"a":",}"}`},
		{"literal tab in string", "{\"a\": \"x\ty\"}", `{"a":"x\ty"}`},
		{"byte order mark", "\xef\xbb\xbf{\"a\": 1}", `{"a":1}`},
		{"crlf", "{\r\n\"a\": 1, # c\r\n}\r\n", `{"a":1}`},
		{"lone slash stays", `{"a": "/"}`, `{"a":"/"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := relax([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal(r.data, &got); err != nil {
				t.Fatalf("strict form %q: %v", r.data, err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		line     int
		col      int
		wantMsg  string
		stricter bool
	}{
		{name: "missing comma", in: "{\n  \"a\": 1\n  \"b\": 2\n}", line: 3, col: 3, wantMsg: "invalid character '\"' after object key:value pair"},
		{name: "stray brace", in: "{\n  # c\n  \"a\": }\n", line: 3, col: 8, wantMsg: "invalid character '}' looking for beginning of value"},
		{name: "unterminated", in: "{\n  \"a\": 1,\n", line: 3, col: 1, wantMsg: "unexpected end of JSON input"},
		{name: "unterminated block comment", in: "{\n  /* no end\n}", line: 2, col: 3, wantMsg: "unterminated /* comment"},
		{name: "columns count characters after a block comment", in: "{ /* ééé */ x }", line: 1, col: 13, wantMsg: "invalid character 'x'"},
		{name: "columns count a literal tab once", in: "{\"a\": \"x\ty\", x}", line: 1, col: 14, wantMsg: "invalid character 'x'"},
		{name: "double comma", in: `{"a": 1,,}`, line: 1, col: 9, wantMsg: "invalid character ','"},
		{name: "lone comma", in: `{,}`, line: 1, col: 2, wantMsg: "invalid character ','"},
		{name: "after the object", in: "{}\n{}", line: 2, col: 1, wantMsg: "after top-level value"},
		{name: "empty", in: "# nothing\n", line: 2, col: 1, wantMsg: "no JSON object in the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "clooster.json", tt.in)
			_, err := Load(path, nil)
			ps := problems(t, err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems %v, want 1", len(ps), ps)
			}
			p := ps[0]
			if p.Line != tt.line || p.Column != tt.col || !strings.Contains(p.Msg, tt.wantMsg) {
				t.Errorf("got %d:%d %q, want %d:%d %q", p.Line, p.Column, p.Msg, tt.line, tt.col, tt.wantMsg)
			}
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("got %q, want it to start with the file name", err)
			}
		})
	}
	t.Run("message", func(t *testing.T) {
		e := &Error{File: "clooster.json", Problems: []Problem{{Msg: "invalid character '}' looking for beginning of value", Line: 12, Column: 5}}}
		if got, want := e.Error(), "clooster.json:12:5: invalid character '}' looking for beginning of value"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestFileShape(t *testing.T) {
	tests := []struct {
		name  string
		patch map[string]any // path → raw value
		want  []string       // problems, in order
	}{
		{name: "unknown key in a block", patch: map[string]any{"cloudflare.zonee": "x"}, want: []string{"cloudflare.zonee: unknown key"}},
		{name: "unknown top-level key", patch: map[string]any{"peer_timout": "3s"}, want: []string{"peer_timout: unknown key"}},
		{name: "keys are case-sensitive", patch: map[string]any{"This_Server": "x"}, want: []string{"This_Server: unknown key"}},
		{name: "every unknown key", patch: map[string]any{"zz": 1, "server.prot": 1, "log.lvl": "x"},
			want: []string{"log.lvl: unknown key", "server.prot: unknown key", "zz: unknown key"}}, // file order
		{name: "port not a number", patch: map[string]any{"server.port": "abc"}, want: []string{`server.port: want a number (got "abc")`}},
		{name: "port not whole", patch: map[string]any{"server.port": 1.5}, want: []string{`server.port: want a whole number (got 1.5)`}},
		{name: "port out of range", patch: map[string]any{"server.port": 1e20}, want: []string{`server.port: number out of range (got 100000000000000000000)`}},
		{name: "string wanted", patch: map[string]any{"this_server": 123}, want: []string{`this_server: want a string (got 123)`}},
		{name: "object wanted", patch: map[string]any{"server": "x"}, want: []string{`server: want an object (got "x")`}},
		{name: "bool wanted", patch: map[string]any{"dry_run": "yes"}, want: []string{`dry_run: want true or false (got "yes")`}},
		{name: "duration", patch: map[string]any{"peer_timeout": "5 seconds"}, want: []string{`peer_timeout: want a duration like "5s" or a number of seconds (got "5 seconds")`}},
		{name: "duration type", patch: map[string]any{"health.interval": []any{1}}, want: []string{`health.interval: want a duration like "5s" or a number of seconds (got an array)`}},
		{name: "duration range", patch: map[string]any{"failback_delay": 1e300}, want: []string{`failback_delay: duration out of range (got 1e+300)`}},
		{name: "secret shown by length", patch: map[string]any{"key": 1234567890}, want: []string{`key: want a string (got 10 bytes)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			for p, v := range tt.patch {
				set(m, p, v)
			}
			_, err := Load(writeConfig(t, m), nil)
			var got []string
			for _, p := range problems(t, err) {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFileLeniency(t *testing.T) {
	m := base()
	set(m, "server.port", "4443") // Perl did not tell strings from numbers
	set(m, "pushbullet.target.device_iden", "dev1")
	set(m, "pushbullet.target.color", "red")
	set(m, "status", map[string]any{"address": nil})
	c := mustLoad(t, writeConfig(t, m), nil)
	if got := c.ListenAddr(); got != "0.0.0.0:4443" {
		t.Errorf("ListenAddr: got %q", got)
	}
	if got := c.Pushbullet.Target; got != (PushbulletTarget{DeviceIden: "dev1"}) {
		t.Errorf("target: got %+v", got)
	}
	if !hasWarning(c, "pushbullet.target.color: unknown key, ignored") {
		t.Errorf("got warnings %q, want one about pushbullet.target.color", c.Warnings)
	}
	if got := c.StatusAddr(); got != DefaultStatusAddress {
		t.Errorf("status with a null address: got %q, want the default", got)
	}
}

func TestCommentsEndToEnd(t *testing.T) {
	m := base()
	set(m, "hooks.on_active", "logger '#1 active' // yes /* really */")
	body := mustMarshal(t, m)
	body = strings.Replace(body, "{", "{ # opening\n // another\n /* and\n a block */", 1)
	body = strings.Replace(body, `"log":{"level":"info"}`, `"log":{"level":"info",}`, 1)
	body = strings.TrimSuffix(body, "}") + ",\n// the end\n}"
	path := writeFile(t, t.TempDir(), "clooster.json", body)
	c := mustLoad(t, path, nil)
	if got, want := c.Hooks.OnActive, "logger '#1 active' // yes /* really */"; got != want {
		t.Errorf("on_active: got %q, want %q", got, want)
	}
}

func TestDuplicateKeys(t *testing.T) {
	body := strings.Replace(mustMarshal(t, base()), `"key":`, "\"peer_timeout\": \"2s\",\n\"peer_timeout\": \"3s\",\n\"key\":", 1)
	c := mustLoad(t, writeFile(t, t.TempDir(), "clooster.json", body), nil)
	if got := c.PeerTimeout.String(); got != "3s" {
		t.Errorf("peer_timeout: got %s, want the last one, 3s", got)
	}
	if !hasWarning(c, "peer_timeout: duplicate key on line 2, the last one wins") {
		t.Errorf("got warnings %q, want one about the duplicate", c.Warnings)
	}
}

func TestTopLevel(t *testing.T) {
	path := writeFile(t, t.TempDir(), "clooster.json", "# an array\n [1]")
	_, err := Load(path, nil)
	if err == nil || err.Error() != path+":2:2: the file must hold a JSON object (got an array)" {
		t.Errorf("got %v", err)
	}
	_, err = Load(t.TempDir()+"/missing.json", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "read config: ") {
		t.Errorf("got %v, want a read error", err)
	}
}
