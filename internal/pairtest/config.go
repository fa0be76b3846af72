package pairtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Obj is a JSON object with its members in order. It is written as the
// relaxed JSON clooster reads: with a comment, and a trailing comma after
// every member.
type Obj []Member

// Member is one member of an Obj; Val is an Obj, or anything
// encoding/json writes.
type Member struct {
	Key string
	Val any
}

// RelaxedJSON renders o as a configuration file headed by comment.
func RelaxedJSON(comment string, o Obj) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", comment)
	o.write(&b, "")
	b.WriteString("\n")
	return b.String()
}

func (o Obj) write(b *strings.Builder, indent string) {
	b.WriteString("{\n")
	for _, m := range o {
		k, _ := json.Marshal(m.Key)
		fmt.Fprintf(b, "%s    %s: ", indent, k)
		if sub, ok := m.Val.(Obj); ok {
			sub.write(b, indent+"    ")
		} else {
			v, _ := json.Marshal(m.Val)
			b.Write(v)
		}
		b.WriteString(",\n")
	}
	b.WriteString(indent + "}")
}

// Timing is the link's timings in a node's configuration; a zero field
// leaves its key out, so that the daemon's default applies.
type Timing struct {
	Keepalive, PeerTimeout, FailbackDelay, DriftCheck time.Duration
}

// String lists the keys set, as "keepalive_interval 100ms, peer_timeout
// 800ms", or says "defaults".
func (tm Timing) String() string {
	var parts []string
	for _, m := range tm.members() {
		parts = append(parts, fmt.Sprintf("%s %v", m.Key, m.Val))
	}
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, ", ")
}

func (tm Timing) members() Obj {
	var o Obj
	for _, k := range []struct {
		key string
		d   time.Duration
	}{
		{"keepalive_interval", tm.Keepalive},
		{"peer_timeout", tm.PeerTimeout},
		{"failback_delay", tm.FailbackDelay},
		{"drift_check_interval", tm.DriftCheck},
	} {
		if k.d > 0 {
			o = append(o, Member{k.key, k.d.String()})
		}
	}
	return o
}

// Node is one node's configuration.
type Node struct {
	Label       string // names the node in messages: "srv1", "srv1 (restarted)", "intruder"
	This, Other string // this_server, other_server
	Role        string // "server" listens on Address and Port, "client" dials them
	Address     string
	Port        int
	// PeerAddress is a server's server.peer_address, where it looks for a
	// second server; "" turns the look off (the default address,
	// other_server, is a name no test may resolve).
	PeerAddress string
	Key         string
	Status      string // status.address, host:port
	StatusToken string // status.token; "" leaves the listener open
	Fakes       *Fakes // the stand-ins, and the credentials they accept
	// CloudflareURL and PushbulletURL are the APIs' bases for this node;
	// "" is the stand-ins' on their first host.
	CloudflareURL, PushbulletURL string
	Timing                       Timing
	LogLevel, LogFormat          string // log.level and log.format; "" leaves the key out
	// Preferred is the single record's cloudflare.preferred_value; ""
	// is Srv1.
	Preferred string
	// Records, if set, is the record set, in place of the cloudflare
	// block's record keys.
	Records []any
	// DNS, if set, is the rfc2136 block; the cloudflare block is left out
	// unless a record of Records has provider cloudflare.
	DNS   *DNSBlock
	Extra Obj // more top-level members, last
}

// DNSBlock is an rfc2136 block: the name server and the TSIG key.
type DNSBlock struct {
	Server, Zone, KeyName, Secret string
}

// Config is the node's configuration file.
func (n Node) Config() Obj {
	cfURL, pbURL := n.CloudflareURL, n.PushbulletURL
	if cfURL == "" {
		cfURL = n.Fakes.CloudflareURL()
	}
	if pbURL == "" {
		pbURL = n.Fakes.PushbulletURL()
	}
	o := Obj{
		{"this_server", n.This},
		{"other_server", n.Other},
		{"key", n.Key},
	}
	if n.Role == "server" {
		o = append(o, Member{n.Role, Obj{{"address", n.Address}, {"port", n.Port}, {"peer_address", n.PeerAddress}}})
	} else {
		o = append(o, Member{n.Role, Obj{{"address", n.Address}, {"port", n.Port}}})
	}
	o = append(o, n.Timing.members()...)
	if n.Status != "" || n.StatusToken != "" {
		status := Obj{{"address", n.Status}}
		if n.StatusToken != "" {
			status = append(status, Member{"token", n.StatusToken})
		}
		o = append(o, Member{"status", status})
	}
	cf := Obj{{"token", n.Fakes.CFToken}, {"zone", Zone}}
	if n.Records == nil {
		cf = append(cf, Member{"record", Record}, Member{"preferred_value", cmp.Or(n.Preferred, Srv1)})
	}
	cf = append(cf, Member{"api_url", cfURL})
	if n.DNS == nil || usesCloudflare(n.Records) {
		o = append(o, Member{"cloudflare", cf})
	}
	o = append(o, Member{"pushbullet", Obj{{"key", n.Fakes.PBKey}, {"api_url", pbURL}}})
	var log Obj
	if n.LogLevel != "" {
		log = append(log, Member{"level", n.LogLevel})
	}
	if n.LogFormat != "" {
		log = append(log, Member{"format", n.LogFormat})
	}
	if log != nil {
		o = append(o, Member{"log", log})
	}
	if n.Records != nil {
		o = append(o, Member{"records", n.Records})
	}
	if n.DNS != nil {
		o = append(o, Member{"rfc2136", Obj{
			{"server", n.DNS.Server},
			{"zone", n.DNS.Zone},
			{"tsig_name", n.DNS.KeyName},
			{"tsig_secret", n.DNS.Secret},
		}})
	}
	return append(o, n.Extra...)
}

// usesCloudflare reports whether a record of records has provider
// cloudflare.
func usesCloudflare(records []any) bool {
	for _, r := range records {
		if m, ok := r.(map[string]any); ok && m["provider"] == "cloudflare" {
			return true
		}
	}
	return false
}

// Secrets are the values of n's configuration that no output may show.
func (n Node) Secrets() []Secret {
	out := []Secret{
		{"key", n.Key},
		{"cloudflare.token", n.Fakes.CFToken},
		{"pushbullet.key", n.Fakes.PBKey},
	}
	if n.StatusToken != "" {
		out = append(out, Secret{"status.token", n.StatusToken})
	}
	if n.DNS != nil {
		out = append(out, Secret{"rfc2136.tsig_secret", n.DNS.Secret})
	}
	return out
}

// WriteConfig writes n's configuration file, clooster.json, into a new
// temporary directory and returns its path.
func (n Node) WriteConfig(t T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clooster.json")
	text := RelaxedJSON(fmt.Sprintf("clooster: %s, %s", n.Label, n.Role), n.Config())
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("write the configuration of %s: %v", n.Label, err)
	}
	return path
}

// Pair is srv1 (server, preferred) and srv2 (client) sharing one set of
// stand-ins; the record points to srv1. Its nodes are configurations, to
// change before they are started.
type Pair struct {
	F          *Fakes
	Srv1, Srv2 Node
}

// NewPair makes a pair on loopback with stand-ins of its own on 127.0.0.1:
// srv1 listens on 127.0.0.1 and a free port, srv2 dials it; each has a
// status listener on a free port; both share a new key, run with timings
// tm and log at debug level.
func NewPair(t T, tm Timing) *Pair {
	t.Helper()
	f := NewFakes(t)
	key := NewSecret("key-")
	port := FreePort(t)
	node := func(label, this, other, role string) Node {
		return Node{Label: label, This: this, Other: other, Role: role, Address: "127.0.0.1", Port: port,
			Key: key, Status: Loopback(FreePort(t)), Fakes: f, Timing: tm, LogLevel: "debug"}
	}
	return &Pair{F: f, Srv1: node("srv1", Srv1, Srv2, "server"), Srv2: node("srv2", Srv2, Srv1, "client")}
}
