package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/agree"
)

// otherKey is the client's key where a test makes the keys differ.
const otherKey = "0th3r-k3y-0123456789abcdef012345"

// pairMaps are the two halves of a pair that agree: a.example.com the
// server, b.example.com the client dialling it.
func pairMaps() (server, client map[string]any) {
	server = base()
	client = base()
	set(client, "this_server", "b.example.com")
	set(client, "other_server", "a.example.com")
	set(client, "server", del)
	set(client, "client", map[string]any{"address": "a.example.com", "port": 4096})
	return server, client
}

// pairCerts are certificates for the TLS cases: the server's, for
// a.example.com, and another one.
type pairCerts struct {
	cert, key, fingerprint  string
	other, otherFingerprint string
}

func TestComparePair(t *testing.T) {
	dir := t.TempDir()
	var pc pairCerts
	pc.cert, pc.key, pc.fingerprint = testCert(t, dir, "a.example.com")
	pc.other, _, pc.otherFingerprint = testCert(t, dir, "other.example.com")
	serverCert := func(s map[string]any) {
		set(s, "tls", map[string]any{"cert": pc.cert, "key": pc.key})
	}

	for _, tc := range []struct {
		name   string
		change func(s, c map[string]any)
		want   []string // fields, in order
	}{
		{"agree", func(s, c map[string]any) {}, nil},
		{"keys differ", func(s, c map[string]any) { set(c, "key", otherKey) }, []string{"key"}},
		{"copied without swapping the names", func(s, c map[string]any) {
			set(c, "this_server", "a.example.com")
			set(c, "other_server", "b.example.com")
		}, []string{"this_server"}},
		{"crossed names", func(s, c map[string]any) { set(c, "other_server", "c.example.com") }, []string{"other_server"}},
		{"both servers", func(s, c map[string]any) {
			set(c, "client", del)
			set(c, "server", map[string]any{"port": 4096})
		}, []string{"role"}},
		{"both clients", func(s, c map[string]any) {
			set(s, "server", del)
			set(s, "client", map[string]any{"address": "b.example.com"})
		}, []string{"role"}},
		{"keepalive far apart", func(s, c map[string]any) { set(c, "keepalive_interval", "1100ms") },
			[]string{"keepalive_interval"}},
		{"preferred value", func(s, c map[string]any) { set(c, "cloudflare.preferred_value", "b.example.com") },
			[]string{"cloudflare.preferred_value"}},
		{"record", func(s, c map[string]any) { set(c, "cloudflare.record", "web.example.com") }, []string{"cloudflare.record"}},
		{"other value is not the peer's this value", func(s, c map[string]any) {
			set(s, "cloudflare.type", "A")
			set(c, "cloudflare.type", "A")
			set(s, "cloudflare.preferred_value", "192.0.2.1")
			set(c, "cloudflare.preferred_value", "192.0.2.1")
			set(s, "cloudflare.this_value", "192.0.2.1")
			set(s, "cloudflare.other_value", "192.0.2.2")
			set(c, "cloudflare.this_value", "192.0.2.3")
			set(c, "cloudflare.other_value", "192.0.2.1")
		}, []string{"cloudflare.other_value"}},
		{"records block on one side", func(s, c map[string]any) {
			set(c, "cloudflare.record", del)
			set(c, "cloudflare.preferred_value", del)
			c["records"] = []any{map[string]any{"name": "www.example.com", "type": "CNAME"}}
		}, []string{"records"}},
		{"records blocks agree", func(s, c map[string]any) {
			for _, m := range []map[string]any{s, c} {
				set(m, "cloudflare.record", del)
				set(m, "cloudflare.preferred_value", del)
				m["records"] = []any{aRecord()}
			}
		}, nil},
		{"port", func(s, c map[string]any) { set(c, "client.port", 4097) }, []string{"client.port"}},
		{"port by default", func(s, c map[string]any) { set(s, "server.port", 5000) }, []string{"client.port"}},
		{"address is another name", func(s, c map[string]any) { set(c, "client.address", "srv-a.example.net") }, []string{"client.address"}},
		{"address differs in case and final dot", func(s, c map[string]any) { set(c, "client.address", "A.Example.COM.") }, nil},
		{"address is an IP", func(s, c map[string]any) { set(c, "client.address", "192.0.2.1") }, nil},
		{"fingerprint without a server certificate", func(s, c map[string]any) {
			set(c, "tls.fingerprint", pc.fingerprint)
		}, []string{"tls.fingerprint"}},
		{"fingerprint of the server's certificate", func(s, c map[string]any) {
			serverCert(s)
			set(c, "tls.fingerprint", strings.ToUpper(pc.fingerprint[:2])+":"+pc.fingerprint[2:])
		}, nil},
		{"fingerprint of another certificate", func(s, c map[string]any) {
			serverCert(s)
			set(c, "tls.fingerprint", pc.otherFingerprint)
		}, []string{"tls.fingerprint"}},
		{"ca verifies the server's certificate", func(s, c map[string]any) {
			serverCert(s)
			set(c, "tls.ca", pc.cert)
		}, nil},
		{"ca of another certificate", func(s, c map[string]any) {
			serverCert(s)
			set(c, "tls.ca", pc.other)
		}, []string{"tls.ca"}},
		{"ca, but the client dials a name the certificate does not hold", func(s, c map[string]any) {
			serverCert(s)
			set(c, "tls.ca", pc.cert)
			set(c, "client.address", "127.0.0.1")
		}, []string{"tls.ca"}},
		{"ca without a server certificate", func(s, c map[string]any) { set(c, "tls.ca", pc.cert) }, []string{"tls.ca"}},
		{"both pins on another certificate", func(s, c map[string]any) {
			serverCert(s)
			set(c, "tls", map[string]any{"ca": pc.other, "fingerprint": pc.otherFingerprint})
		}, []string{"tls.fingerprint", "tls.ca"}},
		{"dry_run on one node", func(s, c map[string]any) { set(c, "dry_run", true) }, []string{"dry_run"}},
		{"dry_run on both", func(s, c map[string]any) { set(s, "dry_run", true); set(c, "dry_run", true) }, nil},
		{"zone", func(s, c map[string]any) { set(c, "cloudflare.zone", "example.org") }, []string{"cloudflare.zone"}},
		{"zone in another case", func(s, c map[string]any) { set(c, "cloudflare.zone", "Example.com.") }, nil},
		{"zone ids", func(s, c map[string]any) {
			set(s, "cloudflare.zone_id", "z1")
			set(c, "cloudflare.zone_id", "z2")
		}, []string{"cloudflare.zone_id"}},
		{"zone and zone id cannot be judged", func(s, c map[string]any) {
			set(s, "cloudflare.zone", del)
			set(s, "cloudflare.zone_id", "z1")
		}, nil},
		{"rfc2136 blocks agree", func(s, c map[string]any) { rfcPair(s, c) }, nil},
		{"rfc2136 server", func(s, c map[string]any) {
			rfcPair(s, c)
			set(c, "rfc2136.server", "192.0.2.54")
		}, []string{"rfc2136.server"}},
		{"rfc2136 zone", func(s, c map[string]any) {
			rfcPair(s, c)
			set(c, "rfc2136.zone", "Example.COM.") // the same zone
		}, nil},
		{"rfc2136 keys of other names", func(s, c map[string]any) {
			rfcPair(s, c)
			set(c, "rfc2136.tsig_name", "clooster2")
		}, []string{"rfc2136.tsig_name"}},
		{"rfc2136 one key name, two secrets", func(s, c map[string]any) {
			rfcPair(s, c)
			set(c, "rfc2136.tsig_secret", "b3RoZXItc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWY=")
		}, []string{"rfc2136.tsig_secret"}},
		{"everything at once", func(s, c map[string]any) {
			set(c, "key", otherKey)
			set(c, "client.port", 4097)
			set(c, "dry_run", true)
		}, []string{"key", "client.port", "dry_run"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := pairMaps()
			tc.change(s, c)
			srv := mustLoad(t, writeConfig(t, s), nil)
			cli := mustLoad(t, writeConfig(t, c), nil)
			for _, order := range []struct {
				name string
				a, b *Config
			}{{"server first", srv, cli}, {"client first", cli, srv}} {
				got := ComparePair(order.a, order.b)
				if fields := diffFields(got); !slices.Equal(fields, tc.want) {
					t.Errorf("%s: got %q, want %q\n%s", order.name, fields, tc.want, showDiffs(got))
				}
				for _, d := range got {
					noSecrets(t, d.String())
				}
			}
		})
	}
}

// rfcPair gives both files an rfc2136 block and makes their record one
// of it.
func rfcPair(s, c map[string]any) {
	for _, m := range []map[string]any{s, c} {
		m["rfc2136"] = map[string]any{"server": "192.0.2.53", "zone": "example.com", "tsig_name": "clooster", "tsig_secret": testTSIG}
		set(m, "cloudflare.record", del)
		set(m, "cloudflare.preferred_value", del)
		r := aRecord()
		r["provider"] = "rfc2136"
		m["records"] = []any{r}
	}
}

// TestComparePairOrder: A is the first file's value, B the second's, for
// the differences that only two files show.
func TestComparePairOrder(t *testing.T) {
	s, c := pairMaps()
	set(c, "client.port", 4097)
	set(c, "dry_run", true)
	srv := mustLoad(t, writeConfig(t, s), nil)
	cli := mustLoad(t, writeConfig(t, c), nil)
	for _, tc := range []struct {
		name string
		a, b *Config
		want []string // A, B of client.port, then of dry_run
	}{
		{"server first", srv, cli, []string{"4096", "4097", "false", "true"}},
		{"client first", cli, srv, []string{"4097", "4096", "true", "false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range ComparePair(tc.a, tc.b) {
				got = append(got, d.A, d.B)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestComparePairUnreadableCert: a server certificate that cannot be read
// when the files are compared is a difference that says so.
func TestComparePairUnreadableCert(t *testing.T) {
	dir := t.TempDir()
	cert, key, fp := testCert(t, dir, "a.example.com")
	s, c := pairMaps()
	set(s, "tls", map[string]any{"cert": cert, "key": key})
	set(c, "tls.fingerprint", fp)
	srv := mustLoad(t, writeConfig(t, s), nil)
	cli := mustLoad(t, writeConfig(t, c), nil)
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	got := ComparePair(srv, cli)
	if fields := diffFields(got); !slices.Equal(fields, []string{"tls.cert"}) {
		t.Fatalf("got %q, want [tls.cert]\n%s", fields, showDiffs(got))
	}
	if want := "cannot read the server's certificate"; !strings.Contains(got[0].What, want) {
		t.Errorf("got %q, want it to contain %q", got[0].What, want)
	}
}

// TestComparePairKeys: the keys are compared, whatever their lengths, and
// never shown.
func TestComparePairKeys(t *testing.T) {
	for _, tc := range []struct {
		name      string
		key       string
		wantDiffs int
	}{
		{"same", testKey, 0},
		{"one byte off", testKey[:len(testKey)-1] + "c", 1},
		{"longer", testKey + "x", 1},
		{"shorter", testKey[:16], 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := pairMaps()
			set(c, "key", tc.key)
			got := ComparePair(mustLoad(t, writeConfig(t, s), nil), mustLoad(t, writeConfig(t, c), nil))
			if len(got) != tc.wantDiffs {
				t.Fatalf("got %d differences, want %d\n%s", len(got), tc.wantDiffs, showDiffs(got))
			}
			for _, d := range got {
				if d.A != "" || d.B != "" {
					t.Errorf("key difference shows values %q, %q; want none", d.A, d.B)
				}
				if s := d.String(); strings.Contains(s, testKey[:16]) || strings.Contains(s, tc.key) {
					t.Errorf("%q shows a key", s)
				}
			}
		})
	}
}

// TestComparePairOriginal: the original tool's example and its client
// variant, as it shipped them, are one file copied: the names are the
// same, and the client dials the name the server does not have.
func TestComparePairOriginal(t *testing.T) {
	srv := mustLoad(t, "testdata/original.json", nil)
	cli := mustLoad(t, "testdata/original_client.json", nil)
	got := ComparePair(srv, cli)
	if fields, want := diffFields(got), []string{"this_server", "client.address"}; !slices.Equal(fields, want) {
		t.Errorf("got %q, want %q\n%s", fields, want, showDiffs(got))
	}
	for _, d := range got {
		if strings.Contains(d.String(), "fancy_key") {
			t.Errorf("%q shows the key", d)
		}
	}
}

// TestComparePairExample: the shipped example and its peer's file, made
// from it as its comments tell, agree.
func TestComparePairExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "clooster.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	example := replaceOnce(t, string(data), `"key": "REPLACE-ME"`, `"key": "`+testKey+`"`)
	peer := example
	for _, r := range [][2]string{
		{`"this_server": "srv1.example.com"`, `"this_server": "srv2.example.com"`},
		{`"other_server": "srv2.example.com"`, `"other_server": "srv1.example.com"`},
		{`#"role": "server"`, `"role": "client"`},
		{`#"client": {`, `"client": {`},
		{`#    "address": "srv1.example.com",`, `    "address": "srv1.example.com",`},
		{`#    "port": 4096,
    #},`, `    "port": 4096,
    },`},
	} {
		peer = replaceOnce(t, peer, r[0], r[1])
	}
	dir := t.TempDir()
	srv := mustLoad(t, writeFile(t, dir, "srv1.json", example), nil)
	cli := mustLoad(t, writeFile(t, dir, "srv2.json", peer), nil)
	if srv.Role != "server" || cli.Role != "client" {
		t.Fatalf("roles %s and %s, want server and client", srv.Role, cli.Role)
	}
	if got := ComparePair(srv, cli); len(got) > 0 {
		t.Errorf("got differences, want none:\n%s", showDiffs(got))
	}
}

func TestSettings(t *testing.T) {
	single := base()
	set(single, "cloudflare.type", "cname")
	set(single, "keepalive_interval", "1s")
	set(single, "peer_timeout", "4s")
	records := withRecords(aRecord())
	set(records, "cloudflare.other_value", "b.example.com") // unused with a records block
	recs := mustLoad(t, writeConfig(t, records), nil)
	var digests []agree.Digest
	for _, d := range recs.RecordDigests() {
		digests = append(digests, agree.Digest{Label: d.Label, Key: d.Key, Hash: d.Hash})
	}
	for _, tc := range []struct {
		name string
		file map[string]any
		want agree.Settings
	}{
		{"single record", single, agree.Settings{Name: "a.example.com", Peer: "b.example.com", Role: "server",
			Keepalive: time.Second, PeerTimeout: 4 * time.Second, FailbackDelay: 30 * time.Second, Record: "www.example.com CNAME",
			Preferred: "a.example.com", ThisValue: "a.example.com", RecordsKnown: true}},
		{"defaults", base(), agree.Settings{Name: "a.example.com", Peer: "b.example.com", Role: "server",
			Keepalive: 500 * time.Millisecond, PeerTimeout: 2500 * time.Millisecond, FailbackDelay: 30 * time.Second, Record: "www.example.com",
			Preferred: "a.example.com", ThisValue: "a.example.com", RecordsKnown: true}},
		{"records block", records, agree.Settings{Name: "a.example.com", Peer: "b.example.com", Role: "server",
			Keepalive: 500 * time.Millisecond, PeerTimeout: 2500 * time.Millisecond, FailbackDelay: 30 * time.Second,
			Records: digests, RecordsKnown: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustLoad(t, writeConfig(t, tc.file), nil).Settings()
			if !settingsEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if len(digests) != 1 {
		t.Errorf("got %d digests of one record, want 1", len(digests))
	}
}

func TestFatal(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  bool
	}{
		{"dry_run", false},
		{"key", true},
		{"client.port", true},
		{"role", true},
	} {
		t.Run(tc.field, func(t *testing.T) {
			if got := Fatal(agree.Difference{Field: tc.field}); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func settingsEqual(a, b agree.Settings) bool {
	return reflect.DeepEqual(a, b)
}

func diffFields(ds []agree.Difference) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Field)
	}
	return out
}

func showDiffs(ds []agree.Difference) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("\t" + d.String() + "\n")
	}
	return b.String()
}

// noSecrets fails the test if s holds a key or a token of the test files.
func noSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{testKey, otherKey, testToken, testPushbullet} {
		if strings.Contains(s, secret) {
			t.Errorf("%q shows a secret", s)
		}
	}
}

// replaceOnce replaces old, which must occur once in s.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times, want once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}
