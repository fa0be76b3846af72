//go:build unix

package e2e

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
)

// TestSystemdNotify: run as a Type=notify unit would (NOTIFY_SOCKET and
// WATCHDOG_USEC set), the daemon says READY=1 once it runs, a STATUS= line
// naming the peer and the record, WATCHDOG=1 at half the watchdog period, and
// STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	e2eTest(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	p := pairtest.NewPair(t, fastTiming)
	a := bin.StartNode(t, p.Srv1, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	b := bin.StartNode(t, p.Srv2)
	pairtest.WaitLinked(t, 10*time.Second, a, b)

	seen := map[string]string{}
	deadline := time.After(5 * time.Second)
	// The record shows once the start-up lookup has answered, which may
	// be after the link is up.
	for seen["READY"] == "" || seen["WATCHDOG"] == "" || !strings.Contains(seen["STATUS"], "peer "+srv2+" up") ||
		!strings.Contains(seen["STATUS"], pairtest.Record+" -> "+srv1) {
		select {
		case m := <-msgs:
			for _, line := range strings.Split(m, "\n") {
				k, v, _ := strings.Cut(line, "=")
				seen[k] = v
			}
		case <-deadline:
			t.Fatalf("notifications so far: %q; want READY=1, WATCHDOG=1 and a STATUS naming the linked peer", seen)
		}
	}
	if !strings.Contains(seen["STATUS"], "ACTIVE") || !strings.Contains(seen["STATUS"], pairtest.Record) {
		t.Errorf("STATUS=%s: want the record and that it points here", seen["STATUS"])
	}
	sent := a.Signal(t, syscall.SIGTERM)
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, "STOPPING=1") {
				a.WaitExit(5*time.Second, sent)
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no STOPPING=1 after SIGTERM")
		}
	}
}

// TestHandoverOnStop: SIGTERM on the node the record points to makes the
// linked peer take the record before the process exits: there is no moment
// with the record on a stopped node.
func TestHandoverOnStop(t *testing.T) {
	e2eTest(t)
	p := pairtest.NewPair(t, fastTiming)
	a, _ := bin.StartPair(t, p)
	time.Sleep(500 * time.Millisecond) // both know the record is on srv1
	sent := a.Signal(t, syscall.SIGTERM)
	took, code, ok := a.WaitExit(10*time.Second, sent)
	if !ok || code != 0 {
		t.Fatalf("srv1 after SIGTERM: exited %v, status %d", ok, code)
	}
	writes := p.F.CF.Writes()
	if len(writes) != 1 || writes[0].Content != srv2 {
		t.Fatalf("writes: %q, want one to %s", p.F.WriteContents(), srv2)
	}
	if !writes[0].At.Before(a.ExitAt()) {
		t.Errorf("record written at %s, after srv1 exited at %s: the record pointed at a stopped node", writes[0].At, a.ExitAt())
	}
	t.Logf("handover: record on %s %d ms after SIGTERM; srv1 exited after %d ms",
		srv2, writes[0].At.Sub(sent).Milliseconds(), took.Milliseconds())
	if took > 5*time.Second {
		t.Errorf("srv1 took %s to exit, want within 5s", took)
	}
}
