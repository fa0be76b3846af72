package config

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzLoad feeds arbitrary files to the relaxed parser and the validation:
// they must never panic, must fail with an *Error, and a configuration they
// accept must load again, unchanged, from its own JSON (what `clooster
// check` prints, secrets aside).
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"testdata/original.json", "testdata/original_client.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	modern, err := json.Marshal(base())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(modern)
	cname := map[string]any{"name": "WWW.example.com.", "type": "cname", "provider": "rfc2136"}
	mixed, err := json.Marshal(withRFC2136(aRecord(), cname))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mixed)
	withNotify := base()
	withNotify["notify"] = []any{"ntfy://u:p@ntfy.example.com/topic?scheme=http",
		map[string]any{"url": "smtp://mail.example.com:587/?from=a@example.com&to=b@example.com", "events": []any{"down", "UP"}},
		"generic+https://hooks.example.com/x?template=json&@Authorization=Bearer%20t&$k=v",
		"telegram://110201543:AAHdqTcvCH1v@telegram?chats=-100123,@ops"}
	withNotify["status"] = map[string]any{"address": "0.0.0.0:9797", "token": "status-token-0123456789"}
	notifyJSON, err := json.Marshal(withNotify)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(notifyJSON)
	f.Add([]byte("{\"a\": \"# not a comment\", # a comment\n \"b\": [1, 2,], /* x */}"))
	f.Add([]byte(`{"server": {"port": "4096", "address": "[::1]"}, "peer_timeout": 0.5, "status": {"address": null}}`))
	f.Add([]byte("\xef\xbb\xbf{\"key\": \"a\tb\", \"key\": 1}"))
	f.Add([]byte("{ /* unterminated"))
	for _, m := range []map[string]any{clusterBase(), witnessFile()} {
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := loadBytes(data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 || ce.Error() == "" {
				t.Fatalf("got error %v (%T), want an *Error with problems", err, err)
			}
			for _, p := range ce.Problems {
				if (p.Line > 0) != (p.Column > 0) {
					t.Fatalf("problem %+v: line and column go together", p)
				}
			}
			return
		}
		switch {
		case c.ClusterMode() && (c.Role != "" || c.Server != nil || c.Client != nil || c.OtherServer != ""):
			t.Fatalf("cluster mode with role %q, server %v, client %v, other_server %q", c.Role, c.Server, c.Client, c.OtherServer)
		case c.ClusterMode() && (c.Self().Name == "" || len(c.Members()) < MinMembers || c.StateDir() == "" || c.ClusterListen() == ""):
			t.Fatalf("cluster mode with self %+v, members %+v, state_dir %q, listen %q", c.Self(), c.Members(), c.StateDir(), c.ClusterListen())
		case c.ClusterMode():
		case c.Role == "server" && c.Server == nil, c.Role == "client" && c.Client == nil,
			c.Role != "server" && c.Role != "client":
			t.Fatalf("role %q with server %v, client %v", c.Role, c.Server, c.Client)
		case c.Status.Address == nil || c.HandoverOnStop == nil:
			t.Fatal("defaults not filled in")
		case c.KeepaliveInterval <= 0 || c.PeerTimeout <= c.KeepaliveInterval:
			t.Fatalf("keepalive_interval %v, peer_timeout %v", c.KeepaliveInterval, c.PeerTimeout)
		}
		if len(c.Key) < MinKeyLen {
			return // allowed only in the original format, which re-encoding leaves
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := loadBytes(again)
		if err != nil {
			t.Fatalf("re-encoded configuration %s: %v", again, err)
		}
		c.Warnings, c2.Warnings = nil, nil
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("re-encoded configuration differs:\n%s\n%s", again, mustJSON(c2))
		}
	})
}

// loadBytes loads data as the file, without the environment.
func loadBytes(data []byte) (*Config, error) {
	l := newLoader("fuzz.json", nil)
	l.data = data
	return l.load()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
