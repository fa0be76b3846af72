package rfc2136_test

import (
	"strings"
	"testing"

	"github.com/clooster/clooster/rfc2136"
)

func validConfig() rfc2136.Config {
	return rfc2136.Config{Server: "192.0.2.53", Zone: "example.com", TSIGName: "clooster", TSIGSecret: "c2VjcmV0"}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*rfc2136.Config)
		want string // "" for valid
	}{
		{"valid", func(*rfc2136.Config) {}, ""},
		{"ipv6 server", func(c *rfc2136.Config) { c.Server = "[2001:db8::53]:5353" }, ""},
		{"bare ipv6 server", func(c *rfc2136.Config) { c.Server = "2001:db8::53" }, ""},
		{"host name server", func(c *rfc2136.Config) { c.Server = "ns1.example.com" }, ""},
		{"md5", func(c *rfc2136.Config) { c.TSIGAlgorithm = "HMAC-MD5.SIG-ALG.REG.INT." }, ""},
		{"udp", func(c *rfc2136.Config) { c.Transport = "udp" }, ""},
		{"no server", func(c *rfc2136.Config) { c.Server = "" }, "rfc2136.server: required (host:port)"},
		{"bad server", func(c *rfc2136.Config) { c.Server = "ns1:53:1" }, `rfc2136.server: want host:port (got "ns1:53:1")`},
		{"no zone", func(c *rfc2136.Config) { c.Zone = "" }, "rfc2136.zone: required"},
		{"root zone", func(c *rfc2136.Config) { c.Zone = "." }, `rfc2136.zone: not a domain name (got ".")`},
		{"no key", func(c *rfc2136.Config) { c.TSIGName = "" }, "rfc2136.tsig_name: required"},
		{"no secret", func(c *rfc2136.Config) { c.TSIGSecret = "" }, "rfc2136.tsig_secret: required (base64"},
		{"secret not base64", func(c *rfc2136.Config) { c.TSIGSecret = "not base64!" }, "rfc2136.tsig_secret: not base64 (got 11 characters)"},
		{"algorithm", func(c *rfc2136.Config) { c.TSIGAlgorithm = "hmac-sha3" }, `rfc2136.tsig_algorithm: must be one of hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5 (got "hmac-sha3")`},
		{"transport", func(c *rfc2136.Config) { c.Transport = "tls" }, `rfc2136.transport: must be "tcp" or "udp" (got "tls")`},
		{"timeout", func(c *rfc2136.Config) { c.Timeout = -1 }, "rfc2136.timeout: must be > 0 (got -1ns)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "not base64!") {
				t.Errorf("Validate: %v shows the secret", err)
			}
		})
	}
	// Every problem is reported.
	err := rfc2136.Config{Transport: "x"}.Validate()
	for _, key := range []string{"server", "zone", "tsig_name", "tsig_secret", "transport"} {
		if err == nil || !strings.Contains(err.Error(), "rfc2136."+key+":") {
			t.Errorf("Validate of an empty config: %v, want a problem with %s", err, key)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name, typ string
		want      string // the record's name, or the error
	}{
		{"www", "A", "www.example.com."},
		{"@", "AAAA", "example.com."},
		{"www.example.com", "cname", "www.example.com."},
		{"WWW.Example.COM.", "A", "www.example.com."},
		{"a.b", "A", "a.b.example.com."},
		{"www.example.org.", "A", "rfc2136: record www.example.org. is not in zone example.com."},
		{"www", "TXT", `rfc2136: record type must be A, AAAA or CNAME (got "TXT")`},
		{"", "A", "rfc2136: record name required"},
		{"a..b", "A", `rfc2136: record name "a..b" is not a domain name`},
	} {
		r, err := rfc2136.New(validConfig(), tc.name, tc.typ)
		var got string
		if err != nil {
			got = err.Error()
		} else {
			got = r.Name()
		}
		if got != tc.want {
			t.Errorf("New(%q, %q) = %q, want %q", tc.name, tc.typ, got, tc.want)
		}
	}
	if _, err := rfc2136.New(rfc2136.Config{}, "www", "A"); err == nil || !strings.Contains(err.Error(), "rfc2136.server") {
		t.Errorf("New with an empty config: %v, want the config's problems", err)
	}
}
