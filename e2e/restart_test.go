//go:build unix

package e2e

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
)

// TestAnnouncedRestart: SIGUSR2 on the node the record points to, its
// binary replaced while it is down, as an upgrade does: it exits at once
// with status 75, hands nothing over, and its peer keeps the record on it
// until it is back: no write, no alert. A node that does not come back
// within its restart_grace costs that grace, then a takeover.
func TestAnnouncedRestart(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, fastTiming)
	for _, n := range []*pairtest.Node{&p.Srv1, &p.Srv2} {
		n.Extra = append(n.Extra, pairtest.Member{Key: "restart_grace", Val: "4s"})
	}
	a, b := bin.StartPair(t, p)
	time.Sleep(500 * time.Millisecond) // both know the record is on srv1

	// The upgrade: a new binary in place of the old one.
	upgraded := &pairtest.Binary{Path: filepath.Join(t.TempDir(), "clooster")}
	copyFile(t, bin.Path, upgraded.Path)

	sent := a.Signal(t, syscall.SIGUSR2)
	took, code, ok := a.WaitExit(5*time.Second, sent)
	if !ok || code != 75 {
		t.Fatalf("srv1 after SIGUSR2: exited %v after %v, status %d; want status 75", ok, took, code)
	}
	if took > 2*time.Second {
		t.Errorf("srv1 took %v to exit after SIGUSR2, want within 2s", took)
	}
	time.Sleep(time.Second) // systemd's RestartSec
	again := p.Srv1
	again.Label = "srv1 (upgraded)"
	a2 := upgraded.StartNode(t, again)
	pairtest.WaitLinked(t, 10*time.Second, a2, b)
	back := time.Since(sent)
	time.Sleep(fastTiming.FailbackDelay + 2*fastTiming.PeerTimeout) // room for a failback or a stray write
	if got := p.F.WriteContents(); len(got) != 0 {
		t.Errorf("record writes across the restart: %q, want none", got)
	}
	if got := p.F.PushTitles(); len(got) != 0 {
		t.Errorf("pushes across the restart: %q, want none", got)
	}
	if log := b.Log(); !strings.Contains(log, "event=peer_restarting") || strings.Contains(log, "event=peer_down") {
		t.Errorf("srv2's log does not say that the peer restarts, or says it is down:\n%s", log)
	}
	t.Logf("SIGUSR2 of the active node → exit status 75 in %d ms; upgraded node linked %d ms after the signal; 0 writes",
		took.Milliseconds(), back.Milliseconds())

	// Not back: srv2 waits the grace, then takes the record.
	sent = a2.Signal(t, syscall.SIGUSR2)
	if _, code, ok := a2.WaitExit(5*time.Second, sent); !ok || code != 75 {
		t.Fatalf("srv1 after the second SIGUSR2: exited %v, status %d", ok, code)
	}
	pairtest.WaitFor(t, 10*time.Second, "record repointed to srv2", func() bool { return p.F.Content() == srv2 })
	at := p.F.CF.Writes()[0].At.Sub(sent)
	t.Logf("not back: record on %s %d ms after SIGUSR2 (restart_grace 4s)", srv2, at.Milliseconds())
	if at < 4*time.Second || at > 4*time.Second+2*fastTiming.PeerTimeout {
		t.Errorf("record repointed %v after SIGUSR2, want just after the 4s grace", at.Round(time.Millisecond))
	}
	pairtest.WaitFor(t, 5*time.Second, "a push that says srv1 is not back", func() bool {
		return strings.Contains(strings.Join(p.F.PushTitles(), "\n"), "not back within the 4s")
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
