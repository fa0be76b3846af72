package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/quorum"
)

// readmeSection is the README's text from the heading start to the next
// heading of the same level.
func readmeSection(t *testing.T, start string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+start+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q", start)
	}
	s = s[i+len(start)+2:]
	level := start[:strings.IndexByte(start, ' ')+1]
	if j := strings.Index(s, "\n"+level); j >= 0 {
		s = s[:j]
	}
	return s
}

// fenced returns the README's code blocks of language lang in s.
func fenced(s, lang string) []string {
	re := regexp.MustCompile("(?s)```" + lang + "\n(.*?)\n *```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// The files the README's quorum section shows are valid, and the members'
// files agree; its console shows what check prints.
func TestReadmeQuorumExamples(t *testing.T) {
	sec := readmeSection(t, "## Quorum mode")
	blocks := fenced(sec, "json")
	if len(blocks) != 3 {
		t.Fatalf("got %d json blocks in the section, want 3 (3 nodes, 2 nodes and a witness, the witness)", len(blocks))
	}
	dir := t.TempDir()
	var cfgs []*config.Config
	for i, b := range blocks {
		path := filepath.Join(dir, strconv.Itoa(i)+".json")
		if err := os.WriteFile(path, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		var env []string // the token, as from CLOOSTER_CLOUDFLARE_TOKEN_FILE
		if strings.Contains(b, `"cloudflare"`) {
			env = []string{"CLOOSTER_CLOUDFLARE_TOKEN=cf-token-for-tests"}
		}
		cfg, err := config.Load(path, env)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if !cfg.ClusterMode() {
			t.Errorf("block %d: not a cluster member's file", i)
		}
		cfgs = append(cfgs, cfg)
	}
	if n := len(cfgs[0].Members()); n != 3 || cfgs[0].Witness() {
		t.Errorf("three nodes: got %d members, witness %v", n, cfgs[0].Witness())
	}
	if !cfgs[2].Witness() {
		t.Errorf("the witness's file: not a witness")
	}
	if d := config.CompareCluster(cfgs[1], cfgs[2]); len(d) != 0 {
		t.Errorf("the node's and the witness's files disagree: %+v", d)
	}

	// The console: check of the witness's file, as the README shows it.
	consoles := fenced(sec, "console")
	if len(consoles) != 1 {
		t.Fatalf("got %d console blocks, want 1", len(consoles))
	}
	if err := os.WriteFile(filepath.Join(dir, "witness.json"), []byte(blocks[2]), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, _, stderr := runCLI(t, context.Background(), nil, "check", "witness.json")
	lines := strings.Split(consoles[0], "\n")
	if code != 0 || lines[0] != "$ clooster check witness.json >/dev/null" {
		t.Fatalf("exit %d, console %q", code, lines[0])
	}
	if got, want := strings.TrimSpace(stderr), strings.Join(lines[1:], "\n"); got != want {
		t.Errorf("check prints\n%s\nthe README shows\n%s", got, want)
	}
}

// The README's preset table holds quorum.Preset's figures.
func TestReadmePresets(t *testing.T) {
	sec := readmeSection(t, "## Quorum mode")
	text := func(d time.Duration) string {
		if d < time.Second {
			return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
		}
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
	}
	for _, name := range []string{"lan", "wan"} {
		p, err := quorum.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		row := "| `" + name + "` | " + strings.Join([]string{text(p.HeartbeatTimeout), text(p.ElectionTimeout),
			text(p.LeaderLeaseTimeout), text(p.CommitTimeout), text(p.Lease()), text(p.API)}, " | ") + " |"
		if !strings.Contains(sec, "\n"+row+"\n") {
			t.Errorf("the README lacks the row %q", row)
		}
	}
}

// The shipped witness file is valid, and the unit gives it its state_dir.
func TestDeployWitness(t *testing.T) {
	cfg, err := config.Load("deploy/witness.json", []string{"CLOOSTER_KEY=0123456789abcdef0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Witness() || cfg.StateDir() != config.DefaultStateDir {
		t.Errorf("deploy/witness.json: witness %v, state_dir %q; want a witness in %s", cfg.Witness(), cfg.StateDir(), config.DefaultStateDir)
	}
	unit, err := os.ReadFile("deploy/clooster.service")
	if err != nil {
		t.Fatal(err)
	}
	if want := "\nStateDirectory=" + filepath.Base(config.DefaultStateDir) + "\n"; !strings.Contains(string(unit), want) {
		t.Errorf("the unit lacks %q: the service could not write %s", strings.TrimSpace(want), config.DefaultStateDir)
	}
}
