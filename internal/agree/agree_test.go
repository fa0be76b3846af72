package agree

import (
	"strings"
	"testing"
	"time"
)

func pair() (Settings, Settings) {
	a := Settings{Name: "srv1", Peer: "srv2", Role: "server", Keepalive: 500 * time.Millisecond, PeerTimeout: 2500 * time.Millisecond,
		Preferred: "srv1", ThisValue: "srv1", Protocol: 2, RecordsKnown: true}
	b := Settings{Name: "srv2", Peer: "srv1", Role: "client", Keepalive: 500 * time.Millisecond, PeerTimeout: 2500 * time.Millisecond,
		Preferred: "srv1", ThisValue: "srv2", Protocol: 2, RecordsKnown: true}
	return a, b
}

func TestCompare(t *testing.T) {
	www := Digest{Label: "www.example.com A", Key: 1, Hash: 10}
	www6 := Digest{Label: "www.example.com AAAA", Key: 2, Hash: 20}
	for _, tc := range []struct {
		name   string
		change func(a, b *Settings)
		want   []string // fields, in order
		blocks bool
	}{
		{"agree", func(a, b *Settings) {}, nil, false},
		{"same name", func(a, b *Settings) { b.Name, b.Peer = "srv1", "srv2" }, []string{"this_server"}, false},
		{"crossed names", func(a, b *Settings) { b.Name = "srv3" }, []string{"other_server"}, false},
		{"both expect others", func(a, b *Settings) { a.Peer, b.Peer = "x", "y" }, []string{"other_server", "other_server"}, false},
		{"both servers", func(a, b *Settings) { b.Role = "server" }, []string{"role"}, false},
		{"both clients", func(a, b *Settings) { a.Role = "client" }, []string{"role"}, false},
		{"protocol", func(a, b *Settings) { b.Protocol = 1 }, []string{"protocol"}, false},
		{"keepalive far apart", func(a, b *Settings) { b.Keepalive = 1100 * time.Millisecond }, []string{"keepalive_interval"}, false},
		{"keepalive twice is not far", func(a, b *Settings) { b.Keepalive = time.Second }, nil, false},
		{"peer_timeout far apart, and short for the other's keepalive", func(a, b *Settings) { b.PeerTimeout = 900 * time.Millisecond },
			[]string{"peer_timeout", "keepalive_interval/peer_timeout"}, false},
		{"failback_delay differs", func(a, b *Settings) { a.FailbackDelay, b.FailbackDelay = 30*time.Second, 10*time.Second }, []string{"failback_delay"}, false},
		{"failback_delay the same", func(a, b *Settings) { a.FailbackDelay, b.FailbackDelay = 30*time.Second, 30*time.Second }, nil, false},
		{"failback_delay of an older peer: not said", func(a, b *Settings) { a.FailbackDelay = 30 * time.Second }, nil, false},
		{"own timeout short for the peer's keepalive", func(a, b *Settings) { b.Keepalive, b.PeerTimeout = 1300*time.Millisecond, 5*time.Second },
			[]string{"keepalive_interval", "peer_timeout/keepalive_interval"}, false},
		{"record", func(a, b *Settings) { a.Record, b.Record = "www.example.com CNAME", "web.example.com CNAME" }, []string{"cloudflare.record"}, true},
		{"record same but case and type left out", func(a, b *Settings) { a.Record, b.Record = "WWW.example.com.", "www.example.com CNAME" }, nil, false},
		{"record types differ", func(a, b *Settings) { a.Record, b.Record = "www.example.com A", "www.example.com AAAA" }, []string{"cloudflare.record"}, true},
		{"preferred", func(a, b *Settings) { b.Preferred = "srv2" }, []string{"cloudflare.preferred_value"}, true},
		{"other value", func(a, b *Settings) { a.OtherValue = "192.0.2.2"; b.ThisValue = "192.0.2.3" }, []string{"cloudflare.other_value"}, true},
		{"other value agrees", func(a, b *Settings) { a.OtherValue = "192.0.2.2"; b.ThisValue = "192.0.2.2" }, nil, false},
		{"unknown skipped", func(a, b *Settings) { *b = Settings{} }, nil, false},
		{"records only one side", func(a, b *Settings) { a.Records = []Digest{www} }, []string{"records"}, true},
		{"records agree", func(a, b *Settings) { a.Records, b.Records = []Digest{www, www6}, []Digest{www, www6} }, nil, false},
		{"records differ", func(a, b *Settings) {
			a.Records = []Digest{www, www6}
			b.Records = []Digest{{Label: "www.example.com A", Key: 1, Hash: 11}, {Key: 3, Hash: 30}}
		}, []string{"records[www.example.com A]", "records[www.example.com AAAA]", "records[00000003]"}, true},
		{"records unknown", func(a, b *Settings) { a.Records, b.RecordsKnown = []Digest{www}, false }, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pair()
			tc.change(&a, &b)
			got := Compare(a, b)
			var fields []string
			for _, d := range got {
				fields = append(fields, d.Field)
				if d.What == "" || d.String() == "" {
					t.Errorf("%+v: no explanation", d)
				}
			}
			if strings.Join(fields, ",") != strings.Join(tc.want, ",") {
				t.Errorf("fields %q, want %q (%v)", fields, tc.want, got)
			}
			blocks := false
			for _, d := range got {
				blocks = blocks || d.Blocks
			}
			if blocks != tc.blocks {
				t.Errorf("a difference that blocks failback: %v, want %v", blocks, tc.blocks)
			}
			// Symmetric up to order: the same number of differences.
			if n := len(Compare(b, a)); n != len(got) {
				t.Errorf("Compare(b, a) finds %d differences, Compare(a, b) %d", n, len(got))
			}
		})
	}
}

func TestDifferenceString(t *testing.T) {
	a, b := pair()
	b.Keepalive = 2 * time.Second
	ds := Compare(a, b)
	if len(ds) == 0 {
		t.Fatal("no difference")
	}
	got := ds[0].String()
	for _, want := range []string{"keepalive_interval", `"500ms"`, `"2s"`, "apart"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if got := (Difference{Field: "records", What: "x"}).String(); got != "records: x" {
		t.Errorf("got %q", got)
	}
	if got := (Difference{Field: "f", A: "1", What: "x"}).String(); got != `f: "1" vs (none): x` {
		t.Errorf("got %q", got)
	}
	// Names in messages.
	a, b = pair()
	b.Name = "srv3"
	if got := Compare(a, b)[0].What; !strings.Contains(got, "srv1 expects") || !strings.Contains(got, `"srv3"`) {
		t.Errorf("%q: want the nodes named", got)
	}
}
