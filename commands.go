package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/demo"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/logtext"
	"github.com/clooster/clooster/notify"
	"github.com/clooster/clooster/quorum"
	"github.com/clooster/clooster/watchdog"
)

// errFlags marks a command line the flag package refused.
var errFlags = errors.New("bad command line")

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp // asking for help is not an error
		}
		return usageError{fmt.Errorf("%w: %v", errFlags, err)}
	}
	return nil
}

// loadConfig finds the configuration: -config or the one argument, else
// ./clooster.json if it exists, else the environment alone.
func loadConfig(flagPath string, args, environ []string) (*config.Config, string, error) {
	path := flagPath
	switch {
	case len(args) > 1:
		return nil, "", usagef("%w: more than one configuration file given", errFlags)
	case len(args) == 1 && path != "" && args[0] != path:
		return nil, "", usagef("%w: both -config %s and %s given", errFlags, path, args[0])
	case len(args) == 1:
		path = args[0]
	}
	if path == "" {
		if _, err := os.Stat("clooster.json"); err == nil {
			path = "clooster.json"
		}
	}
	cfg, err := config.Load(path, environ)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			if path == "" {
				return nil, path, usageError{fmt.Errorf("invalid configuration (no file: ./clooster.json does not exist, so it comes from CLOOSTER_* variables alone):\n%w", err)}
			}
			return nil, path, usageError{fmt.Errorf("invalid configuration:\n%w", err)}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, path, usageError{fmt.Errorf("%w\n  hint: pass the configuration file as an argument, or set CLOOSTER_* variables", err)}
		}
		return nil, path, usageError{err}
	}
	return cfg, path, nil
}

// loadPeerFile loads one of the two files check compares, without the
// environment: CLOOSTER_* variables describe the node they are set on, not
// two. Its errors name the file.
func loadPeerFile(path string) (*config.Config, error) {
	cfg, err := config.Load(path, nil)
	var ce *config.Error
	if errors.As(err, &ce) {
		return nil, fmt.Errorf("%s: invalid configuration:\n%w", path, err)
	}
	return cfg, err // a read error names the file
}

func cmdRun(ctx context.Context, args, environ []string, stderr io.Writer) error {
	// SIGHUP reloads the configuration; taken from the start, so that an
	// early one does not end the process (its default action).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	fs := newFlags("clooster")
	path := fs.String("config", "", "configuration file")
	dryRun := fs.Bool("dry-run", false, "do everything but the record writes, which are logged")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, from, err := loadConfig(*path, fs.Args(), environ)
	if err != nil {
		return err
	}
	if *dryRun {
		cfg.DryRun = true
	}
	return runDaemon(ctx, cfg, stderr, source{path: from, environ: environ, dryRun: *dryRun, hup: hup})
}

func cmdCheck(args, environ []string, stdout, stderr io.Writer) error {
	fs := newFlags("check")
	path := fs.String("config", "", "configuration file")
	next := fs.String("diff", "", "a new configuration file: print what a reload to it would change")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *next != "" {
		return checkDiff(*next, *path, fs.Args(), environ, stdout, stderr)
	}
	files := fs.Args()
	if *path != "" && (len(files) != 1 || files[0] != *path) {
		files = append([]string{*path}, files...)
	}
	switch {
	case len(files) > 2:
		return usagef("%w: check takes one configuration file, or two to compare (got %d)", errFlags, len(files))
	case len(files) == 2:
		return checkPair(files[0], files[1], stdout, stderr)
	}
	cfg, from, err := loadConfig(*path, fs.Args(), environ)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "clooster: warning: %s\n", w)
	}
	if err := printConfig(stdout, cfg); err != nil {
		return err
	}
	if from == "" {
		from = "the environment"
	}
	fmt.Fprintf(stderr, "clooster: configuration from %s is valid (%s)\n", from, describe(cfg))
	if cfg.ClusterMode() {
		printCluster(stderr, cfg)
	}
	return nil
}

// printConfig prints cfg as check shows it: as JSON, its secrets
// redacted, without the keys its mode ignores (a cluster member's file,
// the pair's), the order of the rest kept.
func printConfig(w io.Writer, cfg *config.Config) error {
	// As written, not escaped for HTML: a URL's "&" stays "&".
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cfg.Redacted()); err != nil {
		return err
	}
	kept := &raw
	if ignored := cfg.Ignored(); len(ignored) > 0 {
		kept = new(bytes.Buffer)
		if err := dropKeys(kept, raw.Bytes(), ignored, ""); err != nil {
			return err
		}
	}
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(kept.Bytes()), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// dropKeys writes the JSON value data to buf without the object members
// at paths ("peer_check", "hooks.on_peer_up"), under prefix (the path of
// data and a dot, or "" at the top); the rest keeps its order and bytes.
func dropKeys(buf *bytes.Buffer, data []byte, paths []string, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil {
		return err
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		buf.Write(bytes.TrimSpace(data))
		return nil
	}
	buf.WriteByte('{')
	first := true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return err
		}
		path := prefix + key
		if slices.Contains(paths, path) {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(key); err != nil {
			return err
		}
		buf.WriteByte(':')
		if slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, path+".") }) {
			if err := dropKeys(buf, val, paths, path+"."); err != nil {
				return err
			}
		} else {
			buf.Write(val)
		}
	}
	buf.WriteByte('}')
	return nil
}

// describe is a node as check names it: "srv1, role server" in a pair,
// "srv1, node of 3 members" in a cluster.
func describe(cfg *config.Config) string {
	if cfg.ClusterMode() {
		return fmt.Sprintf("%s, %s of %s", cfg.ThisServer, cfg.Self().Role, logtext.Count(len(cfg.Members()), "member"))
	}
	return fmt.Sprintf("%s, role %s", cfg.ThisServer, cfg.Role)
}

// printCluster prints the cluster block for people: one member a line,
// in the order of leadership, this one marked.
func printCluster(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "clooster: cluster of %s, preset %s, state in %s, listening on %s:\n",
		logtext.Count(len(cfg.Members()), "member"), cfg.Cluster.Preset, cfg.StateDir(), cfg.ClusterListen())
	members := cfg.Members()
	slices.SortStableFunc(members, func(a, b quorum.Member) int {
		if a.Role != b.Role { // the nodes first: they lead
			return strings.Compare(string(a.Role), string(b.Role))
		}
		return a.Priority - b.Priority
	})
	for _, m := range members {
		line := fmt.Sprintf("  %-8s %s at %s", m.Role, m.Name, m.Address)
		if m.Role == quorum.RoleNode {
			line += fmt.Sprintf(", priority %d", m.Priority)
		}
		if m.Name == cfg.ThisServer {
			line += " (this member)"
		}
		fmt.Fprintln(w, line)
	}
}

// checkDiff prints what a reload from the running configuration (found as
// check finds it, the environment applied) to the file next would change,
// one line per change. It fails (exit status 1) if a change would wait
// for a restart, and as for an invalid configuration (2) if next is
// invalid.
func checkDiff(next, flagPath string, args, environ []string, stdout, stderr io.Writer) error {
	running, from, err := loadConfig(flagPath, args, environ)
	if err != nil {
		return err
	}
	cfg, err := config.Load(next, environ)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return usageError{fmt.Errorf("%s: invalid configuration, a reload would keep the running one:\n%w", next, err)}
		}
		return usageError{err}
	}
	for _, w := range cfg.Warnings {
		if !strings.HasPrefix(w, next+" ") { // a warning about the file names it
			w = next + ": " + w
		}
		fmt.Fprintf(stderr, "clooster: warning: %s\n", w)
	}
	if from == "" {
		from = "the environment"
	}
	changes := config.Diff(running, cfg)
	for _, c := range changes {
		fmt.Fprintln(stdout, c)
	}
	pending := config.Pending(changes)
	switch {
	case len(pending) > 0:
		return fmt.Errorf("a reload from %s to %s would leave %d of %d changes waiting for a restart: %s",
			from, next, len(pending), len(changes), strings.Join(pending, ", "))
	case len(changes) == 0:
		fmt.Fprintf(stderr, "clooster: a reload from %s to %s would change nothing\n", from, next)
	default:
		fmt.Fprintf(stderr, "clooster: a reload from %s to %s would apply %s live\n", from, next, logtext.Count(len(changes), "change"))
	}
	return nil
}

// checkPair compares the two nodes' files: each is loaded and validated
// on its own, then every difference between them is printed, one a line.
// Only a difference that keeps the pair from working fails the check.
func checkPair(pathA, pathB string, stdout, stderr io.Writer) error {
	a, errA := loadPeerFile(pathA)
	b, errB := loadPeerFile(pathB)
	if err := errors.Join(errA, errB); err != nil {
		return usageError{err}
	}
	for _, f := range []struct {
		path string
		cfg  *config.Config
	}{{pathA, a}, {pathB, b}} {
		for _, w := range f.cfg.Warnings {
			if !strings.HasPrefix(w, f.path+" ") { // a warning about the file names it
				w = f.path + ": " + w
			}
			fmt.Fprintf(stderr, "clooster: warning: %s\n", w)
		}
	}
	diffs := config.ComparePair(a, b)
	if a.ClusterMode() || b.ClusterMode() {
		diffs = config.CompareCluster(a, b)
	}
	var fatal int
	var minor []string
	for _, d := range diffs {
		fmt.Fprintf(stdout, "differ: %s\n", d)
		if config.Fatal(d) {
			fatal++
		} else {
			minor = append(minor, d.Field)
		}
	}
	pair := fmt.Sprintf("%s (%s) and %s (%s)", pathA, nodeLabel(a), pathB, nodeLabel(b))
	switch {
	case fatal > 0 && len(diffs) == 1:
		return usagef("%s disagree on 1 setting", pair)
	case fatal > 0:
		return usagef("%s disagree on %d settings", pair, len(diffs))
	case len(minor) > 0:
		fmt.Fprintf(stderr, "clooster: %s agree, but for %s, which does not stop them\n", pair, strings.Join(minor, ", "))
	default:
		fmt.Fprintf(stderr, "clooster: %s agree\n", pair)
	}
	return nil
}

// nodeLabel is a node as check names it beside its file: "srv1, server" in a
// pair, "srv1, node" in a cluster.
func nodeLabel(cfg *config.Config) string {
	if cfg.ClusterMode() {
		return fmt.Sprintf("%s, %s", cfg.ThisServer, cfg.Self().Role)
	}
	return fmt.Sprintf("%s, %s", cfg.ThisServer, cfg.Role)
}

func cmdSecret(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("%w: secret takes no arguments", errFlags)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(b))
	return nil
}

func cmdStatus(ctx context.Context, args, environ []string, stdout io.Writer) error {
	fs := newFlags("status")
	addr := fs.String("addr", config.DefaultStatusAddress, "status address of the running daemon")
	raw := fs.Bool("json", false, "print the JSON as the daemon sent it")
	tokenFile := fs.String("token-file", "", "file holding the daemon's status.token (else $CLOOSTER_STATUS_TOKEN)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%w: unexpected argument %q", errFlags, fs.Arg(0))
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil || *addr == "" {
		return usagef("%w: -addr wants HOST:PORT (got %q)", errFlags, *addr)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "http://" + *addr + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usagef("status: %v", err)
	}
	token := envValue(environ, "CLOOSTER_STATUS_TOKEN")
	if *tokenFile != "" {
		data, err := os.ReadFile(*tokenFile)
		if err != nil {
			return usagef("status: -token-file: %v", err)
		}
		token = strings.TrimSpace(string(data))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("status: %w\n  hint: is clooster running, with status.address %s?", err, *addr)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("status: %s answered %s\n  hint: the daemon has a status.token: set CLOOSTER_STATUS_TOKEN, or pass -token-file", url, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status: %s answered %s", url, resp.Status)
	}
	if *raw {
		_, err := stdout.Write(body)
		return err
	}
	var mode struct{ Mode string }
	if err := json.Unmarshal(body, &mode); err == nil && mode.Mode == modeCluster {
		var st clusterStatus
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("status: %s: %w", url, err)
		}
		printClusterStatus(stdout, st, time.Now())
		return nil
	}
	var st watchdog.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("status: %s: %w", url, err)
	}
	printStatus(stdout, st, time.Now())
	return nil
}

func printStatus(w io.Writer, st watchdog.Status, now time.Time) {
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return now.Sub(t).Round(time.Second).String() + " ago"
	}
	fmt.Fprintf(w, "node     %s (%s), clooster %s, up %s\n", st.Node, st.Role, st.Version, now.Sub(st.Started).Round(time.Second))
	peer := fmt.Sprintf("%s: %s since %s", st.Peer.Name, strings.ToUpper(string(st.Peer.State)), ago(st.Peer.Since))
	if st.Peer.Addr != "" {
		peer += " from " + st.Peer.Addr
	}
	if st.Peer.RTTMillis > 0 {
		peer += fmt.Sprintf(", rtt %.1f ms", st.Peer.RTTMillis)
	}
	if st.Peer.Reason != "" && st.Peer.State != watchdog.PeerUp {
		peer += " (" + st.Peer.Reason + ")"
	}
	fmt.Fprintf(w, "peer     %s\n", peer)
	content := st.Record.Content
	if content == "" {
		content = "(not read yet)"
	}
	active := "standby"
	if st.Record.Active {
		active = "ACTIVE: the record points here"
	}
	fmt.Fprintf(w, "record   %s -> %s, %s (checked %s)\n", st.Record.Name, content, active, ago(st.Record.Checked))
	if len(st.Records) > 1 {
		for _, r := range st.Records {
			fmt.Fprintf(w, "         %s\n", recordLine(r, ago))
		}
	} else {
		fmt.Fprintf(w, "         preferred %s, this node writes %s\n", st.Record.Preferred, st.Record.ThisValue)
	}
	for _, p := range st.Link.Problems {
		fmt.Fprintf(w, "problem  %s since %s: %s\n", strings.ToUpper(p.Kind), p.Since.Format(time.RFC3339), p.What)
		if p.Hint != "" {
			fmt.Fprintf(w, "         hint: %s\n", p.Hint)
		}
	}
	if len(st.Link.NoFailback) > 0 {
		fmt.Fprintf(w, "         no failback while the files differ on: %s\n", strings.Join(st.Link.NoFailback, "; "))
	}
	if st.Health.Checked {
		h := "healthy"
		if !st.Health.Healthy {
			h = "UNHEALTHY: " + st.Health.Reason
		}
		fmt.Fprintf(w, "health   own service %s (since %s)", h, ago(st.Health.Since))
		if st.Health.Healthy && strings.HasPrefix(st.Health.LastCheck, "failed") {
			fmt.Fprintf(w, ", last check %s", st.Health.LastCheck)
		}
		if st.Peer.Healthy != nil && !*st.Peer.Healthy {
			fmt.Fprint(w, "; the peer reports its service UNHEALTHY")
		}
		fmt.Fprintln(w)
	}
	if st.Guard.Withholding {
		fmt.Fprintf(w, "guard    WITHHOLDING since %s: %s\n", ago(st.Guard.Since), st.Guard.Reason)
	}
	if st.Guard.PeerCheck != "" {
		fmt.Fprintf(w, "         peer_check: the peer's service is %s\n", st.Guard.PeerCheck)
	}
	if u := st.Update; u != nil {
		fmt.Fprintf(w, "update   %s to %s in progress since %s, %s", u.Purpose, u.Want, ago(u.Since), logtext.Count(u.Failures, "failed attempt"))
		if u.LastErr != "" {
			fmt.Fprintf(w, " (last: %s)", u.LastErr)
		}
		fmt.Fprintln(w)
	}
	if st.DryRun {
		fmt.Fprintln(w, "mode     DRY RUN: record writes are only logged")
	}
	if c := st.Config; c != nil {
		line := fmt.Sprintf("config   loaded %s, %s since start", ago(c.LoadedAt), logtext.Count(c.Reloads, "reload"))
		if c.LastError != "" {
			line += "; the last FAILED, running on the one loaded: " + c.LastError
		}
		fmt.Fprintln(w, line)
		if len(c.PendingRestart) > 0 {
			fmt.Fprintf(w, "         waiting for a restart: %s\n", strings.Join(c.PendingRestart, ", "))
		}
	}
}

func cmdNotifyTest(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := newFlags("notify-test")
	path := fs.String("config", "", "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadConfig(*path, fs.Args(), environ)
	if err != nil {
		return err
	}
	chans, err := channels(cfg)
	if err != nil {
		return usageError{err}
	}
	if len(chans) == 0 {
		return usagef("notify-test: no notification channel in the configuration\n" +
			"  hint: add a notify list (\"notify\": [\"ntfy://ntfy.sh/your-topic\"]), set CLOOSTER_NOTIFY_URLS, or add pushbullet.key")
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	title := fmt.Sprintf("[%s] clooster test", cfg.ThisServer)
	body := fmt.Sprintf("A test message from %s, of the pair %s and %s: notifications for %s work.",
		cfg.ThisServer, cfg.ThisServer, cfg.OtherServer, setValues(cfg).name)
	if cfg.ClusterMode() {
		var names []string
		for _, m := range cfg.Members() {
			names = append(names, m.Name)
		}
		body = fmt.Sprintf("A test message from %s, of the cluster %s: notifications work.", cfg.ThisServer, strings.Join(names, ", "))
	}
	scrub := scrubber(cfg.Secrets())
	failed, tried := 0, 0
	for _, r := range notify.Test(ctx, chans, failover.AlertTest, title, body) {
		line := fmt.Sprintf("%s (%s): ", r.Name, r.Shown)
		switch {
		case r.Skipped:
			line += "skipped: its events leave out " + failover.AlertTest
		case r.Err != nil:
			tried++
			failed++
			line += fmt.Sprintf("FAILED after %s: %v", r.Took.Round(time.Millisecond), r.Err)
		default:
			tried++
			line += fmt.Sprintf("delivered in %s", r.Took.Round(time.Millisecond))
			if r.Detail != "" {
				line += ": " + r.Detail
			}
		}
		fmt.Fprintln(stdout, scrub.Replace(line))
	}
	if failed > 0 {
		return fmt.Errorf("notify-test: %d of %d channels failed", failed, tried)
	}
	return nil
}

// envValue is the value of name in environ, "" if unset.
func envValue(environ []string, name string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// scrubber replaces each secret with "[redacted]".
func scrubber(secrets []string) *strings.Replacer {
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, "[redacted]")
	}
	return strings.NewReplacer(pairs...)
}

func pushbullet(cfg *config.Config) *notify.Pushbullet {
	t := cfg.Pushbullet.Target
	return &notify.Pushbullet{
		BaseURL: cfg.Pushbullet.APIURL,
		Token:   cfg.Pushbullet.Key,
		Target:  notify.Target{DeviceIden: t.DeviceIden, Email: t.Email, ChannelTag: t.ChannelTag, ClientIden: t.ClientIden},
	}
}

func cmdDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("demo")
	verbose := fs.Bool("v", false, "also print the nodes' logs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%w: demo takes no arguments (got %q)", errFlags, fs.Arg(0))
	}
	return demo.Run(ctx, stdout, demo.Options{Verbose: *verbose, Version: buildVersion()})
}

// recordLine is one record of a set: where it points, and its last write.
func recordLine(r watchdog.SetRecordStatus, ago func(time.Time) string) string {
	content := r.Content
	switch {
	case r.Missing:
		content = "(MISSING)"
	case content == "":
		content = "(not read yet)"
	}
	line := fmt.Sprintf("%s %s -> %s", r.Name, r.Type, content)
	switch {
	case r.PointsTo != "" && r.Preferred:
		line += " (" + r.PointsTo + ", preferred)"
	case r.PointsTo != "":
		line += " (" + r.PointsTo + ")"
	case r.Content != "":
		line += " (neither node)"
	}
	if r.WriteError != "" {
		line += ", WRITE FAILED: " + r.WriteError
	} else if !r.LastWrite.IsZero() {
		line += ", written " + ago(r.LastWrite)
	}
	if r.ReadError != "" {
		line += ", READ FAILED: " + r.ReadError
	}
	return line
}
