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
		{"provider", with(func(r map[string]any) { r["provider"] = "route53" }), `records[0].provider: must be cloudflare (got "route53")`},
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
