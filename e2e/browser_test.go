//go:build unix

package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/clooster/clooster/internal/browsertest"
	"github.com/clooster/clooster/internal/pairtest"
)

// statusPNG, when set, is where TestStatusPageFailover also writes its
// desktop screenshot (the README's: -args -status-png ../docs/status-page.png).
var statusPNG = flag.String("status-png", "", "write the status page's screenshot after a failover to this file")

// TestStatusPageFailover: the status page of the standby node, open in a
// real browser, shows the failover within 2 s of the kill of the active
// node, without a reload.
func TestStatusPageFailover(t *testing.T) {
	e2eTest(t)
	ctx := browsertest.Start(t, 2*time.Minute)
	p := pairtest.NewPair(t, fastTiming)
	a, b := bin.StartPair(t, p)
	if err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+b.Addr+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-verdict="standby"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-peer-state="up"]`)),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.notReloaded = "yes"`)); err != nil {
		t.Fatal(err)
	}

	killed := a.Kill(t)
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`[data-verdict="active"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-peer-state="down"]`)),
	); err != nil {
		t.Fatal(err)
	}
	took := time.Since(killed)
	t.Logf("kill -9 of srv1 → srv2's page shows the failover in %v", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("the page showed the failover %v after the kill, want within 2s", took.Round(time.Millisecond))
	}
	if marker, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.notReloaded || "reloaded"`)); err != nil || marker != "yes" {
		t.Errorf("the page was reloaded (%q, %v): want it updated in place", marker, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Active: the records point here", "peer_down", "record_updated", srv2} {
		if !strings.Contains(text, want) {
			t.Errorf("the page lacks %q:\n%s", want, text)
		}
	}

	// Screenshots, once the transitions are in.
	time.Sleep(1500 * time.Millisecond)
	for _, s := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"failover-desktop.png", 1100, 900, false}, {"failover-phone.png", 390, 844, true}} {
		if err := chromedp.Do(ctx,
			chromedp.EmulateViewport(s.width, s.height, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
				p.Mobile = s.mobile
			}),
			chromedp.Sleep(200*time.Millisecond),
		); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), s.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if *statusPNG != "" && !s.mobile {
			if err := os.WriteFile(*statusPNG, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
