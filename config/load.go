package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// loader carries one Load: what the file and the environment set, and
// what is wrong so far.
type loader struct {
	file    string // as named to Load; "" without one
	dir     string // the file's directory, for relative paths in it
	data    []byte
	mode    fs.FileMode
	environ []string

	cfg      *Config
	fileSet  map[string]bool   // JSON paths the file sets (objects included)
	envSet   map[string]string // JSON path → the variable that set it
	problems []Problem
	warnings []string
}

func newLoader(file string, environ []string) *loader {
	return &loader{
		file:    file,
		environ: environ,
		cfg:     &Config{},
		fileSet: map[string]bool{},
		envSet:  map[string]string{},
	}
}

func (l *loader) load() (*Config, error) {
	if l.file != "" {
		l.readConfig()
	}
	vals := l.readEnv(l.environ)
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	l.applyEnv(vals)
	l.defaults()
	l.validate()
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	l.cfg.Warnings = l.warnings
	return l.cfg, nil
}

func (l *loader) err() error {
	return &Error{File: l.file, Problems: l.problems}
}

func (l *loader) addProblem(p Problem) { l.problems = append(l.problems, p) }

func (l *loader) warn(key, msg string) { l.warnings = append(l.warnings, key+": "+msg) }

// isSet reports whether the file or the environment set path.
func (l *loader) isSet(path string) bool { return l.fileSet[path] || l.envSet[path] != "" }

// name is how a problem names path: the variable that set it, if one did.
func (l *loader) name(path string) string {
	if n := l.envSet[path]; n != "" {
		return n
	}
	return path
}

// readConfig decodes l.data into l.cfg.
func (l *loader) readConfig() {
	r, err := relax(l.data)
	if err != nil {
		l.addProblem(r.syntaxProblem(err))
		return
	}
	tree, dups, err := r.tree()
	if err != nil {
		l.addProblem(r.syntaxProblem(err))
		return
	}
	for _, d := range dups {
		l.warn(d.path, fmt.Sprintf("duplicate key on line %d, the last one wins", d.line))
	}
	if _, ok := tree.(*object); !ok {
		start := len(r.data) - len(bytes.TrimLeft(r.data, " \t\r\n"))
		line, col := r.position(start)
		l.addProblem(Problem{Value: showJSON("", tree), Msg: "the file must hold a JSON object", Line: line, Column: col})
		return
	}
	norm := l.shape("", tree, configType)
	delete(l.fileSet, "")
	if len(l.problems) > 0 {
		return
	}
	b, err := json.Marshal(norm)
	if err == nil {
		err = json.Unmarshal(b, l.cfg)
	}
	if err != nil { // shape let through something encoding/json refuses
		l.addProblem(Problem{Msg: fmt.Sprintf("decode: %v", err)})
		return
	}
	if len(l.cfg.Secrets()) > 0 && l.mode.IsRegular() && l.mode.Perm()&0o044 != 0 && runtime.GOOS != "windows" {
		l.warnings = append(l.warnings, l.file+" is readable by others and holds secrets; chmod 600")
	}
}

// originalPaths are the keys the original tool knew.
var originalPaths = map[string]bool{
	"this_server": true, "other_server": true, "key": true,
	"server": true, "server.address": true, "server.port": true, "server.backlog": true,
	"client": true, "client.address": true, "client.port": true,
	"cloudflare": true, "cloudflare.key": true, "cloudflare.mail": true,
	"cloudflare.zone": true, "cloudflare.record": true, "cloudflare.preferred_value": true,
	"pushbullet": true, "pushbullet.key": true, "pushbullet.target": true,
}

// originalFormat reports whether the key comes from a file that uses
// nothing but the original tool's keys.
func (l *loader) originalFormat() bool {
	if l.file == "" || l.envSet["key"] != "" {
		return false
	}
	for p := range l.fileSet {
		if !originalPaths[p] && !strings.HasPrefix(p, "pushbullet.target.") {
			return false
		}
	}
	return true
}

// defaults infers the role and fills in what neither the file nor the
// environment set.
func (l *loader) defaults() {
	c := l.cfg
	l.defaultCluster()
	switch {
	case c.Cluster != nil:
		c.Role = strings.ToLower(strings.TrimSpace(c.Role)) // a pair's key, for checkMode to name
	case l.isSet("role"):
		c.Role = strings.ToLower(strings.TrimSpace(c.Role))
	case c.Server != nil && c.Client != nil:
		l.addProblem(Problem{Key: "role", Msg: "required when both a server and a client block are set"})
	case c.Client != nil:
		c.Role = "client"
	default:
		c.Role = "server"
	}
	switch {
	case c.Cluster != nil:
	case c.Role == "server":
		if c.Server == nil {
			c.Server = &Server{}
		}
		if c.Client != nil {
			l.warn("client", "ignored, role is server")
		}
	case c.Role == "client":
		if c.Client == nil {
			c.Client = &Client{}
		}
		if c.Server != nil {
			l.warn("server", "ignored, role is client")
		}
	}
	if c.Server != nil && c.Cluster == nil {
		c.Server.Address = unbracket(c.Server.Address)
		if c.Server.Address == "" {
			c.Server.Address = DefaultServerAddress
		}
		setDefault(l, "server.port", &c.Server.Port, DefaultPort)
		port := strconv.Itoa(c.Server.Port)
		if !l.isSet("server.peer_address") {
			c.Server.PeerAddress = ""
			if c.OtherServer != "" {
				c.Server.PeerAddress = net.JoinHostPort(unbracket(c.OtherServer), port)
			}
		} else {
			c.Server.PeerAddress = withPort(strings.TrimSpace(c.Server.PeerAddress), port)
		}
	}
	if c.Client != nil && c.Cluster == nil {
		c.Client.Address = unbracket(c.Client.Address)
		setDefault(l, "client.port", &c.Client.Port, DefaultPort)
	}
	for _, p := range []struct {
		path string
		v    *string
	}{{"tls.cert", &c.TLS.Cert}, {"tls.key", &c.TLS.Key}, {"tls.ca", &c.TLS.CA}} {
		if l.fileSet[p.path] && *p.v != "" && !filepath.IsAbs(*p.v) {
			*p.v = filepath.Join(l.dir, *p.v)
		}
	}
	setDefault(l, "keepalive_interval", &c.KeepaliveInterval, DefaultKeepaliveInterval)
	setDefault(l, "peer_timeout", &c.PeerTimeout, DefaultPeerTimeout)
	setDefault(l, "failback_delay", &c.FailbackDelay, Duration(30*time.Second))
	if c.Status.Address == nil {
		addr := DefaultStatusAddress
		c.Status.Address = &addr
	}

	cf := &c.Cloudflare
	cf.Type = strings.ToUpper(strings.TrimSpace(cf.Type))
	if c.Cluster == nil { // a member's value is in records[].values
		setDefault(l, "cloudflare.this_value", &cf.ThisValue, c.ThisServer)
	}
	setDefault(l, "cloudflare.api_url", &cf.APIURL, DefaultCloudflareAPIURL)
	cf.APIURL = strings.TrimRight(cf.APIURL, "/")
	if x := c.RFC2136; x != nil {
		x.Server = withPort(strings.TrimSpace(x.Server), "53")
		x.Zone = strings.TrimSpace(x.Zone)
		x.TSIGName = strings.TrimSpace(x.TSIGName)
		x.TSIGSecret = strings.TrimSpace(x.TSIGSecret)
		x.TSIGAlgorithm = tsigAlgorithm(x.TSIGAlgorithm)
		x.Transport = strings.ToLower(strings.TrimSpace(x.Transport))
		if x.Transport == "" {
			x.Transport = "tcp"
		}
	}
	l.defaultRecords()
	if p := c.Pushbullet; p != nil {
		setDefault(l, "pushbullet.api_url", &p.APIURL, DefaultPushbulletAPIURL)
		p.APIURL = strings.TrimRight(p.APIURL, "/")
	}

	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
	setDefault(l, "log.level", &c.Log.Level, "info")
	setDefault(l, "log.format", &c.Log.Format, "text")

	setDefault(l, "health.interval", &c.Health.Interval, Duration(2*time.Second))
	setDefault(l, "health.timeout", &c.Health.Timeout, Duration(time.Second))
	setDefault(l, "health.fall", &c.Health.Fall, 3)
	setDefault(l, "health.rise", &c.Health.Rise, 3)
	setDefault(l, "peer_check.timeout", &c.PeerCheck.Timeout, Duration(2*time.Second))
	setDefault(l, "hooks.timeout", &c.Hooks.Timeout, Duration(30*time.Second))
	if c.HandoverOnStop == nil {
		on := true
		c.HandoverOnStop = &on
	}
	setDefault(l, "drift_check_interval", &c.DriftCheckInterval, Duration(5*time.Minute))
	setDefault(l, "restart_grace", &c.RestartGrace, DefaultRestartGrace)
}

// setDefault sets *v to def unless the file or the environment set path.
func setDefault[T any](l *loader, path string, v *T, def T) {
	if !l.isSet(path) {
		*v = def
	}
}

// withPort is s as host:port, with port if s has none; a value that is no
// host stays as it is, for validation to name.
func withPort(s, port string) string {
	if _, _, err := net.SplitHostPort(s); err == nil || s == "" {
		return s
	}
	host := unbracket(s)
	if strings.ContainsAny(host, " \t\r\n/[]") || strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return s
	}
	return net.JoinHostPort(host, port)
}

// tsigAlgorithm is a TSIG algorithm's name as rfc2136.tsig_algorithm takes
// it: lower case, without the final dot or hmac-md5's long suffix;
// hmac-sha256 if empty.
func tsigAlgorithm(alg string) string {
	alg = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(alg)), ".")
	if alg == "" {
		return TSIGAlgorithms[0]
	}
	return strings.TrimSuffix(alg, ".sig-alg.reg.int")
}

// unbracket turns "[::1]" into "::1", which net.JoinHostPort brackets again.
func unbracket(host string) string {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		return host[1 : len(host)-1]
	}
	return host
}
