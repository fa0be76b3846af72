// Package config reads clooster's configuration: a JSON file in the original
// Perl tool's relaxed dialect (plus the keys added since), then the CLOOSTER_*
// environment variables over it, then the defaults, and validates the result
// as a whole. Load returns a ready Config, or an *Error that lists every
// problem found, each naming the key (or the variable) and the bad value,
// never a secret (a secret is shown by its length).
//
// # File
//
// Relaxed JSON as the original read it: "#" and "//" comments to the end of
// the line, "/* */" comments, trailing commas, literal tabs in strings.
// Syntax errors give the line and column. Unknown keys are errors, except
// inside pushbullet.target, where they are ignored with a warning. A key
// given twice in one object: the last one wins, as in the original, with a
// warning. Integers may be quoted ("4096"), as Perl did not tell them apart;
// durations are Go duration strings ("500ms") or numbers of seconds (0.5).
// A null counts as an absent key. Relative tls paths are taken from the
// file's directory.
//
// # Providers
//
// A record is kept by Cloudflare (the cloudflare block) or by a server that
// takes RFC 2136 updates (the rfc2136 block). records[].provider defaults
// to the only block set; with both, every record names its provider. The
// original format's cloudflare.record is always a Cloudflare record, so an
// rfc2136 block needs a records block. Each block's credentials are
// required only when a record uses it.
//
// # Environment
//
// Every key has a variable: CLOOSTER_ and the key's path in upper case with
// dots as "_" (CLOOSTER_SERVER_PORT, CLOOSTER_PUSHBULLET_TARGET_DEVICE_IDEN);
// EnvVars lists them. A set variable overrides the file.
//
//   - A variable set to the empty string counts as unset (as an unfilled
//     template leaves it), except CLOOSTER_STATUS_ADDRESS, where empty
//     disables the status listener as "" does in the file.
//   - A variable that picks one of a set of alternatives drops the file's
//     other alternatives, so that a deployment can switch without editing the
//     file: CLOOSTER_CLOUDFLARE_TOKEN drops the file's cloudflare.key and
//     cloudflare.mail, CLOOSTER_CLOUDFLARE_KEY drops its cloudflare.token, a
//     pushbullet.target variable drops the file's other target fields, and so
//     do the health.url/tcp/command and peer_check.url/tcp variables.
//   - A variable inside a block (CLOOSTER_CLIENT_ADDRESS,
//     CLOOSTER_PUSHBULLET_KEY) creates the block if the file has none.
//   - The secrets can be read from files: CLOOSTER_KEY_FILE,
//     CLOOSTER_CLOUDFLARE_TOKEN_FILE, CLOOSTER_CLOUDFLARE_KEY_FILE,
//     CLOOSTER_PUSHBULLET_KEY_FILE, CLOOSTER_RFC2136_TSIG_SECRET_FILE
//     (trailing newlines trimmed). Setting a secret and its _FILE variable
//     both is an error.
//   - Unknown CLOOSTER_* variables are warned about (likely typos), except
//     those clooster sets for its hooks. Other programs' variables, such as
//     the Cloudflare library's CLOUDFLARE_*, are ignored.
//
// # Pairs
//
// Settings is what a configuration says about the pair, as the link
// compares it with the peer's (package agree). ComparePair compares the two
// nodes' configurations before they are deployed: the same comparison, and
// what only both files show (the keys, the client's port, address and
// certificate pins against the server's).
//
// # Quorum mode
//
// A cluster block makes the file a cluster member's: cluster.nodes lists
// every member (name, address host:port, priority lower first by default
// the position in the list, role node or witness by default node), and
// this_server names this one. A file is one mode or the other: with a
// cluster block, role, other_server, the server and client blocks and
// cloudflare's this_value and other_value are errors. records[].values
// name exactly the members of role node. A witness's file needs no DNS
// provider, records or health check; given, they are ignored with a
// warning. ClusterMode, Members, Self, Witness, StateDir and ClusterListen
// are what the daemon reads; CompareCluster compares two members' files.
// The members are the file's alone: a list has no variable.
//
// # Reload
//
// Diff lists what a reload from the running configuration to a newly
// loaded one would change, each change live or waiting for a restart;
// Applied is what the node then runs: the new one, but for what waits.
//
// # Concurrency
//
// Load starts no goroutines and keeps no global state: it may be called
// concurrently. A loaded Config is plain data, safe to read concurrently;
// so is ComparePair, which only reads the TLS files the configurations
// name, and so are Diff and Applied, which read nothing.
package config

import (
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/clooster/clooster/notify"
)

// Defaults that other packages may want to show or reuse.
const (
	DefaultPort             = 4096
	DefaultServerAddress    = "0.0.0.0"
	DefaultStatusAddress    = "127.0.0.1:9797"
	DefaultCloudflareAPIURL = "https://api.cloudflare.com/client/v4"
	DefaultPushbulletAPIURL = "https://api.pushbullet.com/v2"
)

// The failure detector's defaults, set by measurement (README, "Timings"):
// with keepalives every 500 ms and the link's linear retransmission
// timeouts, 2.5 s of silence is a hung or cut peer, not loss: a silent peer
// is repointed within 2.5 s, and 10 minutes of random loss at 10 or 20 %
// cause no failover.
const (
	DefaultKeepaliveInterval = Duration(500 * time.Millisecond)
	DefaultPeerTimeout       = Duration(2500 * time.Millisecond)
	// DefaultRestartGrace: long enough for systemd or a container engine
	// to start the node again, short enough that a node that does not
	// come back costs little.
	DefaultRestartGrace = Duration(30 * time.Second)
)

// Config is the effective configuration. After Load, Status.Address and
// HandoverOnStop are non-nil, and every default is filled in. In pair mode
// (no cluster block) Role is "server" or "client" and the block of that
// role is non-nil; in cluster mode Role is "", Server and Client are nil,
// other_server is "", and Cluster holds every member.
type Config struct {
	ThisServer        string      `json:"this_server"`
	OtherServer       string      `json:"other_server,omitempty"`
	Key               string      `json:"key"`
	Role              string      `json:"role,omitempty"`
	Server            *Server     `json:"server,omitempty"`
	Client            *Client     `json:"client,omitempty"`
	TLS               TLS         `json:"tls"`
	KeepaliveInterval Duration    `json:"keepalive_interval"`
	PeerTimeout       Duration    `json:"peer_timeout"`
	FailbackDelay     Duration    `json:"failback_delay"`
	Status            Status      `json:"status"`
	Cloudflare        Cloudflare  `json:"cloudflare"`
	RFC2136           *RFC2136    `json:"rfc2136,omitempty"`
	Records           []Record    `json:"records,omitempty"`
	Pushbullet        *Pushbullet `json:"pushbullet,omitempty"`
	Notify            []Notify    `json:"notify,omitempty"`
	Log               Log         `json:"log"`
	Health            Health      `json:"health"`
	PeerCheck         PeerCheck   `json:"peer_check"`
	Hooks             Hooks       `json:"hooks"`

	HandoverOnStop     *bool    `json:"handover_on_stop,omitempty"`
	DriftCheckInterval Duration `json:"drift_check_interval"`
	// RestartGrace is how long the peer keeps the record on this node
	// while it restarts (SIGUSR2); 0: a restart is a stop.
	RestartGrace Duration `json:"restart_grace"`
	DryRun       bool     `json:"dry_run"`

	// Cluster is quorum mode's block; nil in pair mode.
	Cluster *Cluster `json:"cluster,omitempty"`
	// StateDirectory is state_dir, where a member keeps its Raft state
	// (StateDir is the one to use); set after Load in cluster mode.
	StateDirectory string `json:"state_dir,omitempty"`

	// Warnings are non-fatal findings, one "key: message" each, for the
	// caller to log. They never contain a secret.
	Warnings []string `json:"-"`
}

// Server is where the server role listens.
type Server struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	// Backlog is accepted for compatibility with the original and ignored.
	Backlog int `json:"backlog,omitempty"`
	// PeerAddress is where the server looks, while it has no link, for a
	// peer that listens as a server too: host:port, by default
	// other_server and this server's port; "" turns the look off.
	PeerAddress string `json:"peer_address"`
}

// Client is where the client role dials.
type Client struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
}

// TLS names the server's certificate files and the client's optional pins.
// Relative paths in the file are taken from the file's directory; after Load
// they are usable as they are. Fingerprint is 64 lower-case hex digits.
type TLS struct {
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	CA          string `json:"ca"`
	Fingerprint string `json:"fingerprint"`
}

// Status is the status/metrics HTTP listener.
type Status struct {
	// Address is nil for the default, "" when disabled.
	Address *string `json:"address"`
	// Token, when set, is required for everything but /healthz.
	Token string `json:"token"`
}

// Cloudflare is the DNS record to keep and how to reach it.
type Cloudflare struct {
	Token          string `json:"token"`
	Key            string `json:"key"`
	Mail           string `json:"mail"`
	Zone           string `json:"zone"`
	ZoneID         string `json:"zone_id"`
	Record         string `json:"record"`
	Type           string `json:"type"`
	PreferredValue string `json:"preferred_value"`
	ThisValue      string `json:"this_value"`
	OtherValue     string `json:"other_value"`
	APIURL         string `json:"api_url"`
}

// RFC2136 is how to reach an authoritative server that takes dynamic
// updates (RFC 2136) signed with TSIG; a nil *RFC2136 is no such server.
// After Load, Server is host:port, TSIGAlgorithm and Transport are set,
// in lower case.
type RFC2136 struct {
	Server        string `json:"server"`
	Zone          string `json:"zone"`
	TSIGName      string `json:"tsig_name"`
	TSIGSecret    string `json:"tsig_secret"`
	TSIGAlgorithm string `json:"tsig_algorithm"`
	Transport     string `json:"transport"`
}

// Record is one DNS record of the set the pair owns (Config.RecordSet).
// After Load, every Type is upper case, Provider is set, Zone or ZoneID is
// set (Zone alone for rfc2136), Values names both nodes, and
// PreferredValue is what the record holds while both nodes are up. The
// values of an rfc2136 record are in the form its server reports them:
// addresses as net/netip prints them, CNAME targets in lower case without
// the final dot.
type Record struct {
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Zone      string            `json:"zone"`
	ZoneID    string            `json:"zone_id"`
	Provider  string            `json:"provider"`
	Values    map[string]string `json:"values"`
	Preferred string            `json:"preferred"`
	// PreferredValue is Values[Preferred], or, in the original format, a
	// cloudflare.preferred_value that is neither node's (a load balancer).
	PreferredValue string `json:"-"`
	// OtherKnown is false only in the original format, when the peer's
	// value is a guess (cloudflare.this_value set, other_value not).
	OtherKnown bool `json:"-"`
}

// Label is the record as people name it: name and type.
func (r Record) Label() string {
	if r.Type == "" {
		return r.Name
	}
	return r.Name + " " + r.Type
}

// Pushbullet is where notifications go; a nil *Pushbullet sends none.
type Pushbullet struct {
	Key    string           `json:"key"`
	Target PushbulletTarget `json:"target"`
	APIURL string           `json:"api_url"`
}

// PushbulletTarget holds at most one non-empty field; none means all devices.
type PushbulletTarget struct {
	DeviceIden string `json:"device_iden,omitempty"`
	Email      string `json:"email,omitempty"`
	ChannelTag string `json:"channel_tag,omitempty"`
	ClientIden string `json:"client_iden,omitempty"`
}

// Notify is one notification channel: a URL in shoutrrr's syntax
// (ntfy://ntfy.sh/topic), and the events it takes (nil: all). In the file
// an entry may be the URL alone. After Load, Events are in lower case.
type Notify struct {
	URL    string   `json:"url"`
	Events []string `json:"events,omitempty"`
}

// Log is the log level (debug, info, warn, error) and format (text, json).
type Log struct {
	Level  string `json:"level"`
	Format string `json:"format"`
}

// Health is how this node checks its own service: at most one of URL, TCP
// and Command; none means always healthy.
type Health struct {
	URL      string   `json:"url"`
	TCP      string   `json:"tcp"`
	Command  string   `json:"command"`
	Interval Duration `json:"interval"`
	Timeout  Duration `json:"timeout"`
	Fall     int      `json:"fall"`
	Rise     int      `json:"rise"`
}

// PeerCheck is how the survivor probes the peer's service from outside
// before taking over: at most one of URL and TCP.
type PeerCheck struct {
	URL     string   `json:"url"`
	TCP     string   `json:"tcp"`
	Timeout Duration `json:"timeout"`
}

// Hooks are shell commands run on transitions.
type Hooks struct {
	OnActive   string   `json:"on_active"`
	OnStandby  string   `json:"on_standby"`
	OnPeerDown string   `json:"on_peer_down"`
	OnPeerUp   string   `json:"on_peer_up"`
	Timeout    Duration `json:"timeout"`
}

// maxFileSize bounds every file Load reads.
const maxFileSize = 1 << 20

// Load reads the configuration file at path (relaxed JSON; "" for none),
// overlays the CLOOSTER_* variables of environ (as from os.Environ), applies
// the defaults and validates the result.
//
// Every error is a configuration error: an *Error listing all problems, or,
// for a file that cannot be read, a wrapped fs error.
//
// The key must be at least 16 bytes, with one exception kept for the original
// tool's users: a shorter key that comes from a file in the original format
// (no keys but this_server, other_server, key, server, client,
// cloudflare.{key,mail,zone,record,preferred_value} and
// pushbullet.{key,target}) is accepted with a loud warning. Keys shorter
// than 32 bytes always warn.
func Load(path string, environ []string) (*Config, error) {
	l := newLoader(path, environ)
	if path != "" {
		data, mode, err := readFile(path, maxFileSize)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		l.data, l.mode = data, mode
		l.dir = filepath.Dir(path)
	}
	return l.load()
}

// readFile reads at most limit bytes of a file, and its mode.
func readFile(path string, limit int64) ([]byte, fs.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if fi.IsDir() {
		return nil, 0, fmt.Errorf("%s: is a directory", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(data)) > limit {
		return nil, 0, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, fi.Mode(), nil
}

// ListenAddr is the server's host:port.
func (c *Config) ListenAddr() string {
	addr, port := DefaultServerAddress, DefaultPort
	if c.Server != nil {
		if c.Server.Address != "" {
			addr = c.Server.Address
		}
		if c.Server.Port != 0 {
			port = c.Server.Port
		}
	}
	return net.JoinHostPort(addr, strconv.Itoa(port))
}

// DialAddr is the host:port the client dials, "" without a client block.
func (c *Config) DialAddr() string {
	if c.Client == nil {
		return ""
	}
	port := c.Client.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(c.Client.Address, strconv.Itoa(port))
}

// StatusAddr is the status listener's address, "" when disabled.
func (c *Config) StatusAddr() string {
	if c.Status.Address == nil {
		return DefaultStatusAddress
	}
	return *c.Status.Address
}

// OtherValue is the record content the peer writes when it takes over,
// and whether it is known: cloudflare.other_value if set; else, when this
// node writes its own name (no this_value), the peer is taken to write its
// name too (other_server); otherwise the peer's value is not known until
// the peer says it over the link.
func (c *Config) OtherValue() (value string, known bool) {
	switch {
	case c.Cloudflare.OtherValue != "":
		return c.Cloudflare.OtherValue, true
	case c.Cloudflare.ThisValue == "" || c.Cloudflare.ThisValue == c.ThisServer:
		return c.OtherServer, true
	}
	return c.OtherServer, false
}

// ThisValue is the record content this node writes when it takes over.
func (c *Config) ThisValue() string {
	if c.Cloudflare.ThisValue != "" {
		return c.Cloudflare.ThisValue
	}
	return c.ThisServer
}

// Handover reports whether to hand the record to the peer on SIGTERM.
func (c *Config) Handover() bool {
	return c.HandoverOnStop == nil || *c.HandoverOnStop
}

// Redacted is a deep copy of c in which every non-empty secret reads
// "REDACTED", for printing.
func (c *Config) Redacted() *Config {
	r := *c
	redact := func(s *string) {
		if *s != "" {
			*s = "REDACTED"
		}
	}
	redact(&r.Key)
	redact(&r.Status.Token)
	redact(&r.Cloudflare.Token)
	redact(&r.Cloudflare.Key)
	if c.Server != nil {
		s := *c.Server
		r.Server = &s
	}
	if c.Client != nil {
		cl := *c.Client
		r.Client = &cl
	}
	if c.Status.Address != nil {
		a := *c.Status.Address
		r.Status.Address = &a
	}
	if c.Pushbullet != nil {
		p := *c.Pushbullet
		redact(&p.Key)
		r.Pushbullet = &p
	}
	if c.RFC2136 != nil {
		x := *c.RFC2136
		redact(&x.TSIGSecret)
		r.RFC2136 = &x
	}
	if c.Notify != nil {
		r.Notify = make([]Notify, len(c.Notify))
		for i, n := range c.Notify {
			r.Notify[i] = Notify{URL: notify.Redact(n.URL), Events: slices.Clone(n.Events)}
		}
	}
	if c.HandoverOnStop != nil {
		h := *c.HandoverOnStop
		r.HandoverOnStop = &h
	}
	if c.Cluster != nil {
		cl := *c.Cluster
		cl.Nodes = slices.Clone(c.Cluster.Nodes)
		r.Cluster = &cl
	}
	r.Warnings = append([]string(nil), c.Warnings...)
	return &r
}

// Secrets lists the non-empty secret values (key, status.token, cloudflare.token,
// cloudflare.key, pushbullet.key, rfc2136.tsig_secret, each notify URL and
// its secret parts of 8 characters or more), for scrubbing them from
// output.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.Key, c.Status.Token, c.Cloudflare.Token, c.Cloudflare.Key, c.pushbulletKey(), c.tsigSecret()} {
		if s != "" {
			out = append(out, s)
		}
	}
	for _, n := range c.Notify {
		out = append(out, n.URL)
		if u, err := notify.ParseURL(n.URL); err == nil {
			for _, s := range u.Secrets() {
				if len(s) >= minScrubbed {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// minScrubbed is the shortest part of a notify URL that Secrets lists: the
// words of a URL's path ("api", "hooks") would garble every log line.
const minScrubbed = 8

func (c *Config) pushbulletKey() string {
	if c.Pushbullet == nil {
		return ""
	}
	return c.Pushbullet.Key
}

func (c *Config) tsigSecret() string {
	if c.RFC2136 == nil {
		return ""
	}
	return c.RFC2136.TSIGSecret
}

// secretPaths are the keys whose values are never shown.
var secretPaths = map[string]bool{
	"key":              true,
	"status.token":     true,
	"cloudflare.token": true,
	"cloudflare.key":   true,
	"pushbullet.key":   true,

	"rfc2136.tsig_secret": true,
}
