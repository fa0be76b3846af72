package mail

import (
	"errors"
	"net/mail"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// parsed is what New makes of a URL, without the injected parts.
type parsed struct {
	host       string
	port       int
	user, pass string
	from       mail.Address
	to         []string
	subject    string
	auth       authMethod
	implicit   bool
	startTLS   bool
	requireTLS bool
	skipVerify bool
	clientHost string
	timeout    time.Duration
	html       bool
}

func view(s *Sender) parsed {
	return parsed{
		host: s.host, port: s.port, user: s.user, pass: s.pass, from: s.from, to: s.to,
		subject: s.subject, auth: s.auth, implicit: s.implicit, startTLS: s.startTLS,
		requireTLS: s.requireTLS, skipVerify: s.skipVerify, clientHost: s.clientHost,
		timeout: s.timeout, html: s.html,
	}
}

// base is what the shortest good URL gives; each case changes it.
func base(change func(*parsed)) parsed {
	p := parsed{
		host: "mail.example.com", port: 25,
		from: mail.Address{Address: "alerts@example.com"}, to: []string{"ops@example.com"},
		auth: authNone, startTLS: true, clientHost: "localhost", timeout: 10 * time.Second,
	}
	if change != nil {
		change(&p)
	}
	return p
}

const addrs = "from=alerts@example.com&to=ops@example.com"

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want parsed
	}{
		{name: "defaults", url: "smtp://mail.example.com/?" + addrs, want: base(nil)},
		{
			name: "user and password mean PLAIN",
			url:  "smtp://bob:s3cret@mail.example.com:587/?" + addrs,
			want: base(func(p *parsed) { p.port, p.user, p.pass, p.auth = 587, "bob", "s3cret", authPlain }),
		},
		{
			name: "port 465 is implicit TLS",
			url:  "smtp://mail.example.com:465/?" + addrs,
			want: base(func(p *parsed) { p.port, p.implicit, p.startTLS = 465, true, false }),
		},
		{
			name: "port 465 with ExplicitTLS",
			url:  "smtp://mail.example.com:465/?encryption=ExplicitTLS&" + addrs,
			want: base(func(p *parsed) { p.port, p.requireTLS = 465, true }),
		},
		{
			name: "ImplicitTLS on another port",
			url:  "smtp://mail.example.com:2465/?encryption=implicittls&" + addrs,
			want: base(func(p *parsed) { p.port, p.implicit, p.startTLS = 2465, true, false }),
		},
		{
			name: "encryption None sends in clear",
			url:  "smtp://mail.example.com/?encryption=None&usestarttls=yes&" + addrs,
			want: base(func(p *parsed) { p.startTLS = false }),
		},
		{
			name: "starttls turned off",
			url:  "smtp://mail.example.com/?starttls=no&" + addrs,
			want: base(func(p *parsed) { p.startTLS = false }),
		},
		{
			name: "starttls required",
			url:  "smtp://mail.example.com/?RequireStartTLS=Yes&" + addrs,
			want: base(func(p *parsed) { p.requireTLS = true }),
		},
		{
			name: "every key, mixed case, long names",
			url: "smtp://alerts%40example.com:p%40ss@[::1]:2525/?FromAddress=alerts@example.com&FromName=clooster%20alerts" +
				"&ToAddresses=ops@example.com,%20oncall@example.com,&Title=Fixed&Auth=CRAMMD5&Encryption=Auto" +
				"&UseStartTLS=1&RequireStartTLS=true&SkipTLSVerify=y&ClientHost=node-a.example.com&Timeout=1m30s&UseHTML=yes",
			want: parsed{
				host: "::1", port: 2525, user: "alerts@example.com", pass: "p@ss",
				from: mail.Address{Name: "clooster alerts", Address: "alerts@example.com"},
				to:   []string{"ops@example.com", "oncall@example.com"}, subject: "Fixed", auth: authCRAMMD5,
				startTLS: true, requireTLS: true, skipVerify: true, clientHost: "node-a.example.com",
				timeout: 90 * time.Second, html: true,
			},
		},
		{
			name: "a plus in an address survives the query",
			url:  "smtp://mail.example.com/?from=alerts+clooster@example.com&to=ops+dns@example.com",
			want: base(func(p *parsed) {
				p.from.Address, p.to = "alerts+clooster@example.com", []string{"ops+dns@example.com"}
			}),
		},
		{
			name: "auth None ignores the user",
			url:  "smtp://bob:s3cret@mail.example.com/?auth=none&" + addrs,
			want: base(func(p *parsed) { p.user, p.pass = "bob", "s3cret" }),
		},
		{
			name: "OAuth2",
			url:  "smtp://bob@example.com:tok@mail.example.com/?auth=OAuth2&" + addrs,
			want: base(func(p *parsed) { p.user, p.pass, p.auth = "bob@example.com", "tok", authOAuth2 }),
		},
		{
			name: "uppercase scheme",
			url:  "SMTP://mail.example.com/?" + addrs,
			want: base(nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(u)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got, want := view(s), tt.want; !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestNewClientHostAuto(t *testing.T) {
	u, _ := url.Parse("smtp://mail.example.com/?clienthost=auto&" + addrs)
	s, err := New(u)
	if err != nil {
		t.Fatal(err)
	}
	if s.clientHost == "" || s.clientHost == "auto" {
		t.Errorf("clientHost = %q, want the machine's name", s.clientHost)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want []string // each in the error
	}{
		{name: "no from", url: "smtp://mail.example.com/?to=ops@example.com", want: []string{"from: missing"}},
		{name: "no to", url: "smtp://mail.example.com/?from=alerts@example.com", want: []string{"to: missing"}},
		{name: "empty to", url: "smtp://mail.example.com/?from=alerts@example.com&to=,", want: []string{"to: missing"}},
		{name: "nothing", url: "smtp://mail.example.com", want: []string{"from: missing", "to: missing"}},
		{name: "no host", url: "smtp:///?" + addrs, want: []string{"host: missing"}},
		{name: "other scheme", url: "smtps://mail.example.com/?" + addrs, want: []string{`scheme: must be smtp (got "smtps")`}},
		{name: "port 0", url: "smtp://mail.example.com:0/?" + addrs, want: []string{`port: must be 1 to 65535 (got "0")`}},
		{name: "port too big", url: "smtp://mail.example.com:70000/?" + addrs, want: []string{`port: must be 1 to 65535 (got "70000")`}},
		{name: "bad from", url: "smtp://mail.example.com/?from=alerts&to=ops@example.com", want: []string{`from: not an address (got "alerts")`}},
		{name: "from with a name", url: "smtp://mail.example.com/?from=A%20%3Ca@example.com%3E&to=ops@example.com",
			want: []string{`from: not an address (got "A <a@example.com>")`}},
		{name: "bad to", url: "smtp://mail.example.com/?from=alerts@example.com&to=ops@example.com,oncall",
			want: []string{`to: not an address (got "oncall")`}},
		{name: "unknown key", url: "smtp://mail.example.com/?colour=red&" + addrs, want: []string{"colour: unknown key"}},
		{name: "key twice", url: "smtp://mail.example.com/?to=a@example.com&" + addrs, want: []string{"to: given more than once"}},
		{name: "alias twice", url: "smtp://mail.example.com/?toaddresses=a@example.com&" + addrs, want: []string{"to: given more than once"}},
		{name: "bad auth", url: "smtp://mail.example.com/?auth=LOGIN&" + addrs,
			want: []string{`auth: must be one of None, Plain, CRAMMD5, Unknown, OAuth2 (got "LOGIN")`}},
		{name: "bad encryption", url: "smtp://mail.example.com/?encryption=TLS&" + addrs,
			want: []string{`encryption: must be one of None, ExplicitTLS, ImplicitTLS, Auto (got "TLS")`}},
		{name: "bad bool", url: "smtp://mail.example.com/?usestarttls=maybe&" + addrs, want: []string{`usestarttls: must be yes or no (got "maybe")`}},
		{name: "empty bool", url: "smtp://mail.example.com/?skiptlsverify=&" + addrs, want: []string{`skiptlsverify: must be yes or no (got "")`}},
		{name: "bad timeout", url: "smtp://mail.example.com/?timeout=10&" + addrs, want: []string{`timeout: must be a duration such as 10s (got "10")`}},
		{name: "zero timeout", url: "smtp://mail.example.com/?timeout=0s&" + addrs, want: []string{`timeout: must be positive (got "0s")`}},
		{name: "bad clienthost", url: "smtp://mail.example.com/?clienthost=a%20b&" + addrs, want: []string{`clienthost: must be a host name or auto (got "a b")`}},
		{name: "auth without user", url: "smtp://mail.example.com/?auth=Plain&" + addrs, want: []string{"auth: Plain needs a username in the URL"}},
		{name: "password without user", url: "smtp://:s3cret@mail.example.com/?" + addrs, want: []string{"user: missing before the password"}},
		{name: "None but required", url: "smtp://mail.example.com/?encryption=None&requirestarttls=yes&" + addrs,
			want: []string{"requirestarttls: conflicts with encryption=None"}},
		{name: "ExplicitTLS without starttls", url: "smtp://mail.example.com/?encryption=ExplicitTLS&usestarttls=no&" + addrs,
			want: []string{"usestarttls: conflicts with encryption=ExplicitTLS"}},
		{name: "required without starttls", url: "smtp://mail.example.com/?requirestarttls=yes&usestarttls=no&" + addrs,
			want: []string{"requirestarttls: conflicts with usestarttls=no"}},
		{name: "every problem at once", url: "smtp://mail.example.com:0/?auth=x&encryption=y&timeout=z",
			want: []string{"port:", "auth:", "encryption:", "timeout:", "from: missing", "to: missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(u)
			if err == nil {
				t.Fatalf("New = %+v, want an error", view(s))
			}
			if !errors.Is(err, ErrMisconfigured) {
				t.Errorf("error %v does not wrap ErrMisconfigured", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Temporary() {
				t.Errorf("error %v: want a *Error that is not Temporary", err)
			}
			got := err.Error()
			if !strings.HasPrefix(got, "smtp: ") {
				t.Errorf("got %q, want it to start with \"smtp: \"", got)
			}
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("got %q, want it to contain %q", got, want)
				}
			}
		})
	}
}

func TestNewNil(t *testing.T) {
	if _, err := New(nil); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("New(nil) = %v, want ErrMisconfigured", err)
	}
}

func TestNewErrorsHideSecrets(t *testing.T) {
	for _, raw := range []string{
		"smtp://bob:s3cret@mail.example.com/?auth=nope",
		"smtp://bob:s3cret@mail.example.com:0/",
		"smtp://bob:s3cret@/?" + addrs,
	} {
		u, _ := url.Parse(raw)
		_, err := New(u)
		if err == nil {
			t.Fatalf("New(%s): no error", raw)
		}
		for _, secret := range []string{"bob", "s3cret"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows %q", err, secret)
			}
		}
	}
}

func TestSecrets(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want []string
	}{
		{name: "none", url: "smtp://mail.example.com/?" + addrs},
		{name: "user name and password", url: "smtp://bob:s3cret@mail.example.com/?" + addrs, want: []string{"s3cret", "bob"}},
		{name: "address as user", url: "smtp://bob%40example.com:s3cret@mail.example.com/?" + addrs, want: []string{"s3cret"}},
		{name: "user alone", url: "smtp://bob@mail.example.com/?" + addrs, want: []string{"bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(tt.url)
			s, err := New(u)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := s.Secrets(), tt.want; !slices.Equal(got, want) {
				t.Errorf("Secrets() = %q, want %q", got, want)
			}
		})
	}
}

// FuzzNew checks that New never panics, and that its error does not
// depend on the password: it cannot show it.
func FuzzNew(f *testing.F) {
	f.Add("smtp://bob:s3cret@mail.example.com:587/?" + addrs + "&auth=Plain&timeout=5s")
	f.Add("smtp://[::1]:465/?from=a@b&to=c@d,e@f&encryption=ImplicitTLS")
	f.Add("smtp://:pw@h/?to=%zz&auth=pw")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		_, err = New(u)
		p, ok := u.User.Password()
		if err == nil || !ok {
			return
		}
		other := *u
		other.User = url.UserPassword(u.User.Username(), strings.Repeat("\x00", len(p)))
		_, err2 := New(&other)
		if err2 == nil || err2.Error() != err.Error() {
			t.Errorf("error %q changes with the password: %v", err, err2)
		}
	})
}
