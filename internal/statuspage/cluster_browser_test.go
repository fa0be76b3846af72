package statuspage

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/clooster/clooster/quorum"
)

// The cluster page follows the member without a reload: the leader loses
// its quorum, and the page says so within 2 s; screenshots at desktop and
// phone widths go to the test's artifacts (go test -artifacts).
func TestBrowserCluster(t *testing.T) {
	ctx := browser(t)
	var mu sync.Mutex
	st := leading()
	status := func() quorum.Status { mu.Lock(); defer mu.Unlock(); return st }
	srv := httptest.NewServer(ClusterHandler(status, Options{API: http.NotFoundHandler()}))
	t.Cleanup(srv.Close)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-verdict="leader"]`)),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.notReloaded = "yes"`)); err != nil {
		t.Fatal(err)
	}
	// srv2 and the witness are cut off: srv1 steps down.
	mu.Lock()
	st.Quorum, st.State, st.Leader = false, "Follower", ""
	st.Members[0].Reachable, st.Members[2].Reachable = false, false
	mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`[data-quorum="lost"]`))); err != nil {
		t.Fatalf("the page did not show the lost quorum within 2 s: %v", err)
	}
	if marker, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.notReloaded || "reloaded"`)); err != nil || marker != "yes" {
		t.Errorf("the page was reloaded (%q, %v): want it updated in place", marker, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NO QUORUM: no write from this member", "A member without a quorum never writes"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	dir := t.ArtifactDir()
	for _, s := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"cluster-desktop.png", 1280, 900, false}, {"cluster-phone.png", 390, 844, true}} {
		if err := chromedp.Do(ctx,
			chromedp.EmulateViewport(s.width, s.height, chromedp.EmulateScale(2), func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
				p.Mobile = s.mobile
			}),
			chromedp.Sleep(100*time.Millisecond), // one layout
		); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || overflow {
			t.Errorf("%s: the page is wider than the screen (%v)", s.name, err)
		}
	}
	t.Logf("screenshots in %s", dir)
}
