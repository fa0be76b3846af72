package config

import (
	"strings"
	"testing"
)

// withRecords is base with a records block in place of the cloudflare
// block's record keys.
func withRecords(records ...map[string]any) map[string]any {
	m := base()
	set(m, "cloudflare.record", del)
	set(m, "cloudflare.preferred_value", del)
	rs := make([]any, len(records))
	for i, r := range records {
		rs[i] = r
	}
	m["records"] = rs
	return m
}

func aRecord() map[string]any {
	return map[string]any{"name": "example.com", "type": "A",
		"values": map[string]any{"a.example.com": "192.0.2.1", "b.example.com": "192.0.2.2"}}
}

func TestRecordSet(t *testing.T) {
	aaaa := map[string]any{"name": "example.com", "type": "aaaa", "zone": "example.com", "preferred": "b.example.com",
		"values": map[string]any{"a.example.com": "2001:db8::1", "b.example.com": "2001:db8::2"}}
	cname := map[string]any{"name": "www.example.org", "type": "CNAME", "zone_id": "z2", "preferred": "b.example.com"}
	a := aRecord()
	a["preferred"] = "b.example.com"
	c := mustLoad(t, writeConfig(t, withRecords(a, aaaa, cname)), nil)
	set := c.RecordSet()
	if len(set) != 3 {
		t.Fatalf("got %d records, want 3", len(set))
	}
	want := []struct{ label, zone, zoneID, preferred string }{
		{"example.com A", "example.com", "", "192.0.2.2"},
		{"example.com AAAA", "example.com", "", "2001:db8::2"},
		{"www.example.org CNAME", "", "z2", "b.example.com"},
	}
	for i, w := range want {
		r := set[i]
		if r.Label() != w.label || r.Zone != w.zone || r.ZoneID != w.zoneID || r.PreferredValue != w.preferred ||
			r.Provider != ProviderCloudflare || !r.OtherKnown {
			t.Errorf("records[%d] = %+v, want %+v", i, r, w)
		}
	}
	if v := set[2].Values; v["a.example.com"] != "a.example.com" || v["b.example.com"] != "b.example.com" {
		t.Errorf("a CNAME's values default to the nodes' names: %v", v)
	}

	// The preferred node defaults to the one whose value is
	// cloudflare.preferred_value, else the server.
	set2 := func(v string) []Record {
		m := withRecords(aRecord())
		if v != "" {
			m["cloudflare"].(map[string]any)["preferred_value"] = v
		}
		return mustLoad(t, writeConfig(t, m), nil).RecordSet()
	}
	if got := set2("192.0.2.2")[0].Preferred; got != "b.example.com" {
		t.Errorf("preferred by cloudflare.preferred_value: %q", got)
	}
	if got := set2("")[0].Preferred; got != "a.example.com" {
		t.Errorf("preferred by default (the server): %q", got)
	}
}

// The original format is a one-record set.
func TestRecordSetOriginal(t *testing.T) {
	m := base()
	set(m, "cloudflare.type", "A")
	set(m, "cloudflare.this_value", "192.0.2.1")
	set(m, "cloudflare.preferred_value", "192.0.2.9")
	c := mustLoad(t, writeConfig(t, m), nil)
	rs := c.RecordSet()
	if len(rs) != 1 || c.Records != nil {
		t.Fatalf("got %+v (Records %v), want one record made from the cloudflare block", rs, c.Records)
	}
	r := rs[0]
	if r.Label() != "www.example.com A" || r.Values["a.example.com"] != "192.0.2.1" || r.OtherKnown ||
		r.Preferred != "" || r.PreferredValue != "192.0.2.9" {
		t.Errorf("got %+v", r)
	}
	set(m, "cloudflare.other_value", "192.0.2.2")
	set(m, "cloudflare.preferred_value", "192.0.2.2")
	r = mustLoad(t, writeConfig(t, m), nil).RecordSet()[0]
	if !r.OtherKnown || r.Values["b.example.com"] != "192.0.2.2" || r.Preferred != "b.example.com" {
		t.Errorf("with other_value: %+v", r)
	}
}

// Each bad record set gets one problem naming the record's key path.
func TestRecordSetValidation(t *testing.T) {
	with := func(f func(r map[string]any)) map[string]any {
		r := aRecord()
		f(r)
		return withRecords(r)
	}
	tests := []struct {
		name string
		m    map[string]any
		want string
	}{
		{"both formats", func() map[string]any {
			m := withRecords(aRecord())
			set(m, "cloudflare.record", "www.example.com")
			return m
		}(), `cloudflare.record: set either records or cloudflare.record, not both (got "www.example.com")`},
		{"empty", withRecords(), `records: want at least one record (got [])`},
		{"name", with(func(r map[string]any) { delete(r, "name") }), "records[0].name: required"},
		{"type", with(func(r map[string]any) { r["type"] = "MX" }), `records[0].type: must be A, AAAA or CNAME (got "MX")`},
		{"provider", with(func(r map[string]any) { r["provider"] = "route53" }), `records[0].provider: must be cloudflare or rfc2136 (got "route53")`},
		{"an address", with(func(r map[string]any) { r["values"].(map[string]any)["b.example.com"] = "b.example.com" }),
			`records[0].values["b.example.com"]: want an IPv4 address for type A (got "b.example.com")`},
		{"a node missing", with(func(r map[string]any) { delete(r["values"].(map[string]any), "b.example.com") }),
			`records[0].values: want the content "b.example.com" writes (a key "b.example.com")`},
		{"a stranger", with(func(r map[string]any) { r["values"].(map[string]any)["c.example.com"] = "192.0.2.3" }),
			`records[0].values: names no node of the pair (this_server "a.example.com", other_server "b.example.com") (got "c.example.com")`},
		{"same values", with(func(r map[string]any) { r["values"].(map[string]any)["b.example.com"] = "192.0.2.1" }),
			`records[0].values: both nodes write the same content: nothing would move (got "192.0.2.1")`},
		{"preferred", with(func(r map[string]any) { r["preferred"] = "c.example.com" }),
			`records[0].preferred: must be this_server "a.example.com" or other_server "b.example.com" (got "c.example.com")`},
		{"values not an object", with(func(r map[string]any) { r["values"] = "192.0.2.1" }),
			`records[0].values: want an object (got "192.0.2.1")`},
		{"unknown key", with(func(r map[string]any) { r["ttl"] = 60 }), "records[0].ttl: unknown key"},
		{"twice", withRecords(aRecord(), aRecord()), `records[1]: the same record as records[0] (got "example.com A")`},
		{"preferred differs", func() map[string]any {
			b := aRecord()
			b["name"], b["preferred"] = "www.example.com", "b.example.com"
			return withRecords(aRecord(), b)
		}(), `records[1].preferred: must be the node of records[0].preferred, "a.example.com": the set fails over and back as one (got "b.example.com")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.m), nil)
			if err == nil {
				t.Fatal("loaded")
			}
			ps := problems(t, err)
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if len(ps) != 1 || got[0] != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

// Both nodes' files give the same record digests; one record's change
// changes its hash, not its key.
func TestRecordDigests(t *testing.T) {
	a := withRecords(aRecord())
	b := withRecords(aRecord())
	b["this_server"], b["other_server"] = "b.example.com", "a.example.com"
	delete(b, "server")
	set(b, "client.address", "a.example.com")
	da := mustLoad(t, writeConfig(t, a), nil).RecordDigests()
	db := mustLoad(t, writeConfig(t, b), nil).RecordDigests()
	if len(da) != 1 || da[0] != db[0] || da[0].Label != "example.com A" {
		t.Errorf("the two nodes' digests: %+v, %+v", da, db)
	}
	r := aRecord()
	r["values"].(map[string]any)["b.example.com"] = "192.0.2.3"
	dc := mustLoad(t, writeConfig(t, withRecords(r)), nil).RecordDigests()
	if dc[0].Key != da[0].Key || dc[0].Hash == da[0].Hash {
		t.Errorf("a changed value: %+v, was %+v", dc[0], da[0])
	}
	if d := mustLoad(t, writeConfig(t, base()), nil).RecordDigests(); d != nil {
		t.Errorf("the original format has no records block to compare: %+v", d)
	}
}

// testTSIG is a TSIG secret, base64, distinctive so that a test can tell
// it never leaks into a message.
const testTSIG = "dHNpZy1TRUNSRVQtMDEyMzQ1Njc4OWFiY2RlZg=="

// withRFC2136 is withRecords with an rfc2136 block in place of the
// cloudflare block.
func withRFC2136(records ...map[string]any) map[string]any {
	m := withRecords(records...)
	delete(m, "cloudflare")
	m["rfc2136"] = map[string]any{"server": "192.0.2.53", "zone": "example.com", "tsig_name": "clooster", "tsig_secret": testTSIG}
	return m
}

func TestRecordSetRFC2136(t *testing.T) {
	aaaa := map[string]any{"name": "example.com", "type": "AAAA",
		"values": map[string]any{"a.example.com": "2001:DB8:0::1", "b.example.com": "2001:db8::0002"}}
	cname := map[string]any{"name": "www.example.com", "type": "cname",
		"values": map[string]any{"a.example.com": "A.Example.NET.", "b.example.com": "b.example.net"}}
	mapped := map[string]any{"name": "v4.example.com", "type": "A",
		"values": map[string]any{"a.example.com": "::ffff:192.0.2.1", "b.example.com": "192.0.2.2"}}
	c := mustLoad(t, writeConfig(t, withRFC2136(aRecord(), aaaa, cname, mapped)), nil)
	want := RFC2136{Server: "192.0.2.53:53", Zone: "example.com", TSIGName: "clooster", TSIGSecret: testTSIG,
		TSIGAlgorithm: "hmac-sha256", Transport: "tcp"}
	if c.RFC2136 == nil || *c.RFC2136 != want {
		t.Errorf("rfc2136 = %+v, want %+v", c.RFC2136, want)
	}
	wantValues := []struct{ this, other string }{
		{"192.0.2.1", "192.0.2.2"},
		{"2001:db8::1", "2001:db8::2"},
		{"a.example.net", "b.example.net"},
		{"192.0.2.1", "192.0.2.2"},
	}
	for i, r := range c.RecordSet() {
		if r.Provider != ProviderRFC2136 || r.Zone != "example.com" || r.ZoneID != "" {
			t.Errorf("records[%d] = %+v, want provider rfc2136 in example.com", i, r)
		}
		w := wantValues[i]
		if got := r.Values; got["a.example.com"] != w.this || got["b.example.com"] != w.other || r.PreferredValue != w.this {
			t.Errorf("records[%d] values %v (preferred %q), want %q and %q as the server reports them", i, got, r.PreferredValue, w.this, w.other)
		}
	}
}

// With both provider blocks, each record names its provider and gets its
// block's zone; Cloudflare credentials are needed only by a Cloudflare record.
func TestRecordSetMixed(t *testing.T) {
	cf := aRecord()
	cf["provider"] = "cloudflare"
	rfc := map[string]any{"name": "www.example.net", "type": "CNAME", "provider": "RFC2136", "zone": "example.net"}
	m := withRFC2136(cf, rfc)
	m["cloudflare"] = map[string]any{"token": testToken, "zone": "example.com"}
	c := mustLoad(t, writeConfig(t, m), nil)
	rs := c.RecordSet()
	if rs[0].Provider != ProviderCloudflare || rs[0].Zone != "example.com" ||
		rs[1].Provider != ProviderRFC2136 || rs[1].Zone != "example.net" {
		t.Errorf("got %+v", rs)
	}

	// Every record on rfc2136: the cloudflare block needs no credentials.
	rfc2 := aRecord()
	rfc2["provider"] = "rfc2136"
	m = withRFC2136(rfc, rfc2)
	m["cloudflare"] = map[string]any{"zone": "example.com"}
	if _, err := Load(writeConfig(t, m), nil); err != nil {
		t.Errorf("no Cloudflare record, no Cloudflare credentials: %v", err)
	}
	// Only a cloudflare block: a record defaults to it, as before.
	if got := mustLoad(t, writeConfig(t, withRecords(aRecord())), nil).Records[0].Provider; got != ProviderCloudflare {
		t.Errorf("provider = %q, want cloudflare", got)
	}
}

func TestRFC2136Server(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ns1.example.com", "ns1.example.com:53"},
		{"127.0.0.1:5353", "127.0.0.1:5353"},
		{"2001:db8::53", "[2001:db8::53]:53"},
		{"[2001:db8::53]", "[2001:db8::53]:53"},
		{"[2001:db8::53]:5353", "[2001:db8::53]:5353"},
		{" ns1.example.com ", "ns1.example.com:53"},
	}
	for _, tt := range tests {
		m := withRFC2136(aRecord())
		set(m, "rfc2136.server", tt.in)
		if got := mustLoad(t, writeConfig(t, m), nil).RFC2136.Server; got != tt.want {
			t.Errorf("server %q: got %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"HMAC-SHA512.", "hmac-sha512"},
		{"hmac-md5.sig-alg.reg.int.", "hmac-md5"},
		{"", "hmac-sha256"},
	} {
		m := withRFC2136(aRecord())
		set(m, "rfc2136.tsig_algorithm", tt.in)
		set(m, "rfc2136.transport", "UDP")
		c := mustLoad(t, writeConfig(t, m), nil)
		if got := c.RFC2136.TSIGAlgorithm; got != tt.want || c.RFC2136.Transport != "udp" {
			t.Errorf("algorithm %q: got %q (transport %q), want %q", tt.in, got, c.RFC2136.Transport, tt.want)
		}
	}
}

// Each bad rfc2136 configuration gets its problems, naming the key path;
// the TSIG secret is never shown.
func TestRFC2136Validation(t *testing.T) {
	with := func(path string, v any) map[string]any {
		m := withRFC2136(aRecord())
		set(m, path, v)
		return m
	}
	record := func(f func(r map[string]any)) map[string]any {
		r := aRecord()
		f(r)
		return withRFC2136(r)
	}
	tests := []struct {
		name string
		m    map[string]any
		want []string
	}{
		{"no secret", with("rfc2136.tsig_secret", del),
			[]string{"rfc2136.tsig_secret: required: the key's secret, base64, as in the server's key statement"}},
		{"bad base64", with("rfc2136.tsig_secret", "not-base64!"), []string{"rfc2136.tsig_secret: not base64 (got 11 characters)"}},
		{"no server", with("rfc2136.server", del), []string{"rfc2136.server: required: the primary's host:port"}},
		{"bad server", with("rfc2136.server", "ns1 example.com"),
			[]string{`rfc2136.server: want host:port (port 53 if absent) (got "ns1 example.com")`}},
		{"bad port", with("rfc2136.server", "ns1.example.com:99999"),
			[]string{`rfc2136.server: want a port from 1 to 65535 (got "ns1.example.com:99999")`}},
		{"no key name", with("rfc2136.tsig_name", del),
			[]string{"rfc2136.tsig_name: required: updates are signed with a TSIG key of this name"}},
		{"bad key name", with("rfc2136.tsig_name", "a key"), []string{`rfc2136.tsig_name: not a key name (got "a key")`}},
		{"algorithm", with("rfc2136.tsig_algorithm", "hmac-sha3"),
			[]string{`rfc2136.tsig_algorithm: must be hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1 or hmac-md5 (got "hmac-sha3")`}},
		{"transport", with("rfc2136.transport", "quic"), []string{`rfc2136.transport: must be tcp or udp (got "quic")`}},
		{"no zone", with("rfc2136.zone", del), []string{"records[0].zone: required unless rfc2136.zone is set"}},
		{"bad zone", with("rfc2136.zone", "example..com"), []string{`rfc2136.zone: not a domain name (got "example..com")`}},
		{"outside the zone", record(func(r map[string]any) { r["name"] = "www.example.org" }),
			[]string{`records[0].name: not inside rfc2136.zone "example.com" (got "www.example.org")`}},
		{"outside its zone", record(func(r map[string]any) { r["zone"] = "example.net" }),
			[]string{`records[0].name: not inside records[0].zone "example.net" (got "example.com")`}},
		{"a zone id", record(func(r map[string]any) { r["zone_id"] = "z1" }),
			[]string{`records[0].zone_id: only for cloudflare records; an rfc2136 record names its zone in records[0].zone (got "z1")`}},
		{"no type", record(func(r map[string]any) { delete(r, "type") }),
			[]string{"records[0].type: required for an rfc2136 record: A, AAAA or CNAME"}},
		{"bad name", record(func(r map[string]any) { r["name"] = "www example.com" }),
			[]string{`records[0].name: not a domain name (got "www example.com")`}},
		{"bad target", record(func(r map[string]any) {
			r["type"] = "CNAME"
			r["values"] = map[string]any{"a.example.com": "a b", "b.example.com": "b.example.com"}
		}), []string{`records[0].values["a.example.com"]: want a host name for type CNAME (got "a b")`}},
		{"bad provider", record(func(r map[string]any) { r["provider"] = "route53" }),
			[]string{`records[0].provider: must be cloudflare or rfc2136 (got "route53")`}},
		{"both blocks, no provider", func() map[string]any {
			m := withRFC2136(aRecord())
			m["cloudflare"] = map[string]any{"token": testToken, "zone": "example.com"}
			return m
		}(), []string{"records[0].provider: required when both a cloudflare and an rfc2136 block are set: cloudflare or rfc2136"}},
		{"rfc2136 without its block", func() map[string]any {
			r := aRecord()
			r["provider"] = "rfc2136"
			return withRecords(r)
		}(), []string{"records[0].zone: required unless rfc2136.zone is set",
			"rfc2136: required: a record has provider rfc2136 (set rfc2136.server, tsig_name and tsig_secret)"}},
		{"rfc2136 without records", func() map[string]any {
			m := withRFC2136()
			delete(m, "records")
			return m
		}(), []string{"records: required with an rfc2136 block: list its records there (cloudflare.record is always a Cloudflare record)"}},
		{"cloudflare record without credentials", func() map[string]any {
			r := aRecord()
			r["provider"] = "cloudflare"
			m := withRFC2136(r)
			m["cloudflare"] = map[string]any{"zone": "example.com"}
			return m
		}(), []string{"cloudflare.token: required (or cloudflare.key and cloudflare.mail)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.m), nil)
			if err == nil {
				t.Fatal("loaded")
			}
			var got []string
			for _, p := range problems(t, err) {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if strings.Contains(err.Error(), testTSIG) {
				t.Errorf("the secret is in the error: %v", err)
			}
		})
	}
}

// The digest covers the provider, and not how a value is spelt.
func TestRecordDigestsRFC2136(t *testing.T) {
	aaaa := func(v string) map[string]any {
		return map[string]any{"name": "example.com", "type": "AAAA",
			"values": map[string]any{"a.example.com": v, "b.example.com": "2001:db8::2"}}
	}
	d1 := mustLoad(t, writeConfig(t, withRFC2136(aaaa("2001:db8::1"))), nil).RecordDigests()
	d2 := mustLoad(t, writeConfig(t, withRFC2136(aaaa("2001:DB8:0:0::1"))), nil).RecordDigests()
	if d1[0] != d2[0] {
		t.Errorf("the same address spelt two ways: %+v, %+v", d1[0], d2[0])
	}
	cf := aaaa("2001:db8::1")
	cf["provider"] = "cloudflare"
	m := withRFC2136(cf)
	m["cloudflare"] = map[string]any{"token": testToken, "zone": "example.com"}
	d3 := mustLoad(t, writeConfig(t, m), nil).RecordDigests()
	if d3[0].Key != d1[0].Key || d3[0].Hash == d1[0].Hash {
		t.Errorf("another provider: %+v, was %+v", d3[0], d1[0])
	}
}
