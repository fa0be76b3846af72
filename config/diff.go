package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/clooster/clooster/internal/logtext"
	"github.com/clooster/clooster/notify"
)

// Change is one setting on which a newly loaded configuration differs from
// the running one, as a reload would take it.
type Change struct {
	// Key is the key path: "peer_timeout", "notify[1]",
	// "records[www.example.com A].values[srv2.example.com]".
	Key string
	// Old and New are the two values as an operator reads them: strings
	// quoted, a secret "***" (never its text), "" for none.
	Old, New string
	// Live: a reload applies it at once. Otherwise it waits for a
	// restart, and the running node goes on with the old value.
	Live bool
	// Note adds what else the operator must know, "" for nothing.
	Note string
}

// Shown is the value of a secret as a Change shows it.
const Shown = "***"

// String is the change as a log line or `clooster check -diff` says it:
// `peer_timeout: "2.5s" -> "3s" (live)`.
func (c Change) String() string {
	when := "live"
	if !c.Live {
		when = "waits for a restart"
	}
	if c.Note != "" {
		when += "; " + c.Note
	}
	return fmt.Sprintf("%s: %s -> %s (%s)", c.Key, orNone(c.Old), orNone(c.New), when)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Diff lists what a reload from running to next, both as Load returns
// them (the environment applied), would change, in a fixed order: the
// link, timings, the record set, the channels, the checks, the rest.
//
// Live are the timings and flags of the decision code, health.*,
// peer_check.*, hooks.*, the channels (notify, pushbullet), the record set
// (records, and the cloudflare block's record keys), log.level and
// status.token. The rest waits for a restart: what the link is (the key,
// the names, the role, the addresses and ports, tls.*), status.address,
// log.format and dry_run, the cluster block and state_dir, and how the
// DNS providers are reached
// (cloudflare's credentials and api_url, the rfc2136 block but its zone).
// A credential swapped while a write may be under way is not worth the
// risk: a token that turns out wrong would leave a node that cannot write
// the record at the moment it must, and say so only then; a restart tries
// it at once, with the start-up read.
//
// A change of the members (cluster.nodes) carries MembershipNote: the
// members of a running cluster are what its members agreed on, kept in
// their state_dir, and change by a command of their own, not by a reload.
//
// Secrets (the key, status.token, cloudflare.token and .key,
// pushbullet.key, rfc2136.tsig_secret, notify URLs and hook commands) are
// compared in constant time and shown as Shown.
func Diff(running, next *Config) []Change {
	d := &differ{}
	a, b := running, next

	// The link: waits for a restart.
	d.secret("key", a.Key, b.Key, false)
	d.str("this_server", a.ThisServer, b.ThisServer, false)
	d.str("other_server", a.OtherServer, b.OtherServer, false)
	d.str("role", a.Role, b.Role, false)
	sa, sb := orZero(a.Server), orZero(b.Server)
	d.str("server.address", sa.Address, sb.Address, false)
	d.num("server.port", sa.Port, sb.Port, false)
	d.str("server.peer_address", sa.PeerAddress, sb.PeerAddress, false)
	ca, cb := orZero(a.Client), orZero(b.Client)
	d.str("client.address", ca.Address, cb.Address, false)
	d.num("client.port", ca.Port, cb.Port, false)
	d.str("tls.cert", a.TLS.Cert, b.TLS.Cert, false)
	d.str("tls.key", a.TLS.Key, b.TLS.Key, false)
	d.str("tls.ca", a.TLS.CA, b.TLS.CA, false)
	d.str("tls.fingerprint", a.TLS.Fingerprint, b.TLS.Fingerprint, false)

	// The cluster: waits for a restart, and its members for more.
	d.cluster(orZero(a.Cluster), orZero(b.Cluster))
	d.str("state_dir", a.StateDirectory, b.StateDirectory, false)

	// Timings and flags of the decision code: live.
	d.str("keepalive_interval", a.KeepaliveInterval.String(), b.KeepaliveInterval.String(), true)
	d.str("peer_timeout", a.PeerTimeout.String(), b.PeerTimeout.String(), true)
	d.str("failback_delay", a.FailbackDelay.String(), b.FailbackDelay.String(), true)
	d.str("drift_check_interval", a.DriftCheckInterval.String(), b.DriftCheckInterval.String(), true)
	d.str("handover_on_stop", strconv.FormatBool(a.Handover()), strconv.FormatBool(b.Handover()), true)
	d.str("restart_grace", a.RestartGrace.String(), b.RestartGrace.String(), true)

	// How the providers are reached: waits for a restart.
	d.secret("cloudflare.token", a.Cloudflare.Token, b.Cloudflare.Token, false)
	d.secret("cloudflare.key", a.Cloudflare.Key, b.Cloudflare.Key, false)
	d.str("cloudflare.mail", a.Cloudflare.Mail, b.Cloudflare.Mail, false)
	d.str("cloudflare.api_url", a.Cloudflare.APIURL, b.Cloudflare.APIURL, false)
	xa, xb := orZero(a.RFC2136), orZero(b.RFC2136)
	d.str("rfc2136.server", xa.Server, xb.Server, false)
	d.str("rfc2136.tsig_name", xa.TSIGName, xb.TSIGName, false)
	d.secret("rfc2136.tsig_secret", xa.TSIGSecret, xb.TSIGSecret, false)
	d.str("rfc2136.tsig_algorithm", xa.TSIGAlgorithm, xb.TSIGAlgorithm, false)
	d.str("rfc2136.transport", xa.Transport, xb.Transport, false)

	// The record set: live.
	if !sameName(xa.Zone, xb.Zone) {
		d.str("rfc2136.zone", xa.Zone, xb.Zone, true)
	}
	fa, fb := a.Cloudflare, b.Cloudflare
	if !sameName(fa.Zone, fb.Zone) {
		d.str("cloudflare.zone", fa.Zone, fb.Zone, true)
	}
	d.str("cloudflare.zone_id", fa.ZoneID, fb.ZoneID, true)
	d.str("cloudflare.record", fa.Record, fb.Record, true)
	d.str("cloudflare.type", fa.Type, fb.Type, true)
	d.str("cloudflare.preferred_value", fa.PreferredValue, fb.PreferredValue, true)
	d.str("cloudflare.this_value", fa.ThisValue, fb.ThisValue, true)
	d.str("cloudflare.other_value", fa.OtherValue, fb.OtherValue, true)
	d.records(a, b)

	// The channels: live.
	pa, pb := orZero(a.Pushbullet), orZero(b.Pushbullet)
	d.secret("pushbullet.key", pa.Key, pb.Key, true)
	d.str("pushbullet.api_url", pa.APIURL, pb.APIURL, true)
	d.str("pushbullet.target.device_iden", pa.Target.DeviceIden, pb.Target.DeviceIden, true)
	d.str("pushbullet.target.email", pa.Target.Email, pb.Target.Email, true)
	d.str("pushbullet.target.channel_tag", pa.Target.ChannelTag, pb.Target.ChannelTag, true)
	d.str("pushbullet.target.client_iden", pa.Target.ClientIden, pb.Target.ClientIden, true)
	d.notify(a.Notify, b.Notify)

	// The checks and the hooks: live.
	ha, hb := a.Health, b.Health
	d.str("health.url", logtext.RedactURL(ha.URL), logtext.RedactURL(hb.URL), true)
	d.str("health.tcp", ha.TCP, hb.TCP, true)
	d.str("health.command", ha.Command, hb.Command, true)
	d.str("health.interval", ha.Interval.String(), hb.Interval.String(), true)
	d.str("health.timeout", ha.Timeout.String(), hb.Timeout.String(), true)
	d.num("health.fall", ha.Fall, hb.Fall, true)
	d.num("health.rise", ha.Rise, hb.Rise, true)
	d.str("peer_check.url", logtext.RedactURL(a.PeerCheck.URL), logtext.RedactURL(b.PeerCheck.URL), true)
	d.str("peer_check.tcp", a.PeerCheck.TCP, b.PeerCheck.TCP, true)
	d.str("peer_check.timeout", a.PeerCheck.Timeout.String(), b.PeerCheck.Timeout.String(), true)
	// A hook's command is never shown: it may hold a credential.
	d.secret("hooks.on_active", a.Hooks.OnActive, b.Hooks.OnActive, true)
	d.secret("hooks.on_standby", a.Hooks.OnStandby, b.Hooks.OnStandby, true)
	d.secret("hooks.on_peer_down", a.Hooks.OnPeerDown, b.Hooks.OnPeerDown, true)
	d.secret("hooks.on_peer_up", a.Hooks.OnPeerUp, b.Hooks.OnPeerUp, true)
	d.str("hooks.timeout", a.Hooks.Timeout.String(), b.Hooks.Timeout.String(), true)

	// The rest.
	d.str("log.level", a.Log.Level, b.Log.Level, true)
	// The token guards the address: with another address, it waits for it.
	d.secret("status.token", a.Status.Token, b.Status.Token, a.StatusAddr() == b.StatusAddr())
	d.str("log.format", a.Log.Format, b.Log.Format, false)
	d.str("status.address", a.StatusAddr(), b.StatusAddr(), false)
	d.str("dry_run", strconv.FormatBool(a.DryRun), strconv.FormatBool(b.DryRun), false)
	return d.out
}

// Live reports whether every change of cs applies live: a reload leaves
// nothing waiting for a restart.
func Live(cs []Change) bool {
	return !slices.ContainsFunc(cs, func(c Change) bool { return !c.Live })
}

// Pending lists the keys of the changes of cs that wait for a restart.
func Pending(cs []Change) []string {
	var keys []string
	for _, c := range cs {
		if !c.Live {
			keys = append(keys, c.Key)
		}
	}
	return keys
}

// Applied is what a node runs after a reload from running to next: next,
// but for what waits for a restart (Diff lists it), which stays running's.
// A record that running's credentials cannot reach (an rfc2136 record
// without a running rfc2136 block, a Cloudflare record without running
// Cloudflare credentials) waits too: the running version of it stays, if
// there is one.
func Applied(running, next *Config) *Config {
	c := *next
	c.Key, c.ThisServer, c.OtherServer, c.Role = running.Key, running.ThisServer, running.OtherServer, running.Role
	c.Server, c.Client, c.TLS = running.Server, running.Client, running.TLS
	c.Cluster, c.StateDirectory = running.Cluster, running.StateDirectory
	if running.StatusAddr() != next.StatusAddr() {
		c.Status = running.Status
	}
	c.Log.Format, c.DryRun = running.Log.Format, running.DryRun
	cf := &c.Cloudflare
	cf.Token, cf.Key, cf.Mail, cf.APIURL = running.Cloudflare.Token, running.Cloudflare.Key, running.Cloudflare.Mail, running.Cloudflare.APIURL
	switch {
	case running.RFC2136 == nil || next.RFC2136 == nil:
		c.RFC2136 = running.RFC2136
	default:
		x := *running.RFC2136
		x.Zone = next.RFC2136.Zone
		c.RFC2136 = &x
	}
	if len(next.Records) > 0 {
		old := map[string]Record{}
		for _, r := range running.Records {
			old[recordKey(r)] = r
		}
		var rs []Record
		for _, r := range next.Records {
			if o, ok := old[recordKey(r)]; !reachable(running, r) && ok {
				r = o
			}
			if reachable(running, r) {
				rs = append(rs, r)
			}
		}
		c.Records = rs
		if len(rs) == 0 {
			// Nothing of the new set is reachable yet: the running set
			// stays, whole.
			c.Records, c.Cloudflare = running.Records, running.Cloudflare
		}
	}
	c.Warnings = nil
	return &c
}

// reachable reports whether running's provider blocks reach r.
func reachable(running *Config, r Record) bool {
	if r.Provider == ProviderRFC2136 {
		return running.RFC2136 != nil
	}
	return running.Cloudflare.Token != "" || running.Cloudflare.Key != ""
}

// recordKey names a record of a records block: its name and type.
func recordKey(r Record) string {
	return strings.ToLower(strings.TrimSuffix(r.Name, ".")) + " " + r.Type
}

// differ collects changes.
type differ struct{ out []Change }

func (d *differ) add(key, a, b string, live bool) {
	d.out = append(d.out, Change{Key: key, Old: a, New: b, Live: live})
}

// str compares two plain values, shown quoted.
func (d *differ) str(key, a, b string, live bool) {
	if a != b {
		d.add(key, show(a), show(b), live)
	}
}

func (d *differ) num(key string, a, b int, live bool) {
	if a != b {
		d.add(key, strconv.Itoa(a), strconv.Itoa(b), live)
	}
}

// secret compares two secrets in constant time; each is shown as Shown,
// or "" if empty.
func (d *differ) secret(key, a, b string, live bool) {
	if !sameKey(a, b) {
		d.add(key, hidden(a), hidden(b), live)
	}
}

func show(s string) string {
	if s == "" {
		return ""
	}
	return quote(s)
}

func hidden(s string) string {
	if s == "" {
		return ""
	}
	return Shown
}

// notify compares the channels of the notify lists, index by index: a
// URL holds secrets, so it is compared in constant time and shown
// redacted.
func (d *differ) notify(a, b []Notify) {
	for i := range max(len(a), len(b)) {
		key := fmt.Sprintf("notify[%d]", i)
		var x, y Notify
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if !sameKey(x.URL, y.URL) {
			d.add(key, redacted(x.URL), redacted(y.URL), true)
			continue
		}
		if !slices.Equal(x.Events, y.Events) {
			d.add(key+".events", events(x.Events), events(y.Events), true)
		}
	}
}

// redacted is a notify URL as a change shows it: without its secrets.
func redacted(u string) string {
	if u == "" {
		return ""
	}
	return quote(notify.Redact(u))
}

func events(es []string) string {
	if es == nil {
		return "all"
	}
	return "[" + strings.Join(es, ", ") + "]"
}

// MembershipNote is the Note of a change of the members.
const MembershipNote = "the members of a running cluster change by a membership command, not by a reload"

// cluster compares two cluster blocks, a member known by its name.
func (d *differ) cluster(a, b Cluster) {
	d.str("cluster.preset", a.Preset, b.Preset, false)
	d.str("cluster.listen", a.Listen, b.Listen, false)
	n := len(d.out)
	theirs := map[string]ClusterNode{}
	for _, m := range b.Nodes {
		theirs[m.Name] = m
	}
	mine := map[string]bool{}
	for _, m := range a.Nodes {
		mine[m.Name] = true
		p := "cluster.nodes[" + m.Name + "]"
		o, ok := theirs[m.Name]
		if !ok {
			d.add(p, memberSummary(m), "", false)
			continue
		}
		d.str(p+".address", m.Address, o.Address, false)
		d.num(p+".priority", m.Priority, o.Priority, false)
		d.str(p+".role", m.Role, o.Role, false)
	}
	for _, m := range b.Nodes {
		if !mine[m.Name] {
			d.add("cluster.nodes["+m.Name+"]", "", memberSummary(m), false)
		}
	}
	for i := n; i < len(d.out); i++ {
		d.out[i].Note = MembershipNote
	}
}

// memberSummary is a member as a change shows it whole.
func memberSummary(m ClusterNode) string {
	return quote(fmt.Sprintf("%s, priority %d, %s", m.Address, m.Priority, m.Role))
}

// records compares two records blocks record by record, a record known
// by its name and type: one added, one removed, and the fields of one in
// both. A record the running credentials cannot reach waits for a
// restart.
func (d *differ) records(running, next *Config) {
	a, b := running.Records, next.Records
	theirs := map[string]Record{}
	for _, r := range b {
		theirs[recordKey(r)] = r
	}
	mine := map[string]bool{}
	for _, r := range a {
		mine[recordKey(r)] = true
		p := "records[" + r.Label() + "]"
		s, ok := theirs[recordKey(r)]
		if !ok {
			d.add(p, summary(r), "", true)
			continue
		}
		live := reachable(running, s)
		d.str(p+".provider", r.Provider, s.Provider, live)
		if !sameName(r.Zone, s.Zone) {
			d.str(p+".zone", r.Zone, s.Zone, live)
		}
		d.str(p+".zone_id", r.ZoneID, s.ZoneID, live)
		for _, node := range nodes(r.Values, s.Values) {
			d.str(fmt.Sprintf("%s.values[%s]", p, quote(node)), r.Values[node], s.Values[node], live)
		}
		d.str(p+".preferred", r.Preferred, s.Preferred, live)
	}
	for _, r := range b {
		if !mine[recordKey(r)] {
			d.add("records["+r.Label()+"]", "", summary(r), reachable(running, r))
		}
	}
}

// summary is a record as a change shows it whole: "srv1: x, srv2: y".
func summary(r Record) string {
	var parts []string
	for _, node := range nodes(r.Values, nil) {
		parts = append(parts, node+" "+r.Values[node])
	}
	return quote(strings.Join(parts, ", "))
}

// nodes are the keys of a and b, sorted.
func nodes(a, b map[string]string) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// orZero is *p, or T's zero value for a nil p.
func orZero[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}
