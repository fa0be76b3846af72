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

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/clooster/clooster/internal/browsertest"
	"github.com/clooster/clooster/watchdog"
)

func browser(t *testing.T) context.Context { return browsertest.Start(t, time.Minute) }

// live is a source whose state the test changes.
type live struct {
	mu sync.Mutex
	f  *fixed
}

func (l *live) Status() watchdog.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Status()
}

func (l *live) Events() []watchdog.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Events()
}

func (l *live) change(f func(*fixed)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.f)
}

// The page follows the node without a reload; screenshots at desktop and
// phone widths go to the test's artifacts (go test -artifacts).
func TestBrowserLive(t *testing.T) {
	ctx := browser(t)
	src := &live{f: standby()}
	srv := httptest.NewServer(Handler(src, Options{API: http.NotFoundHandler()}))
	t.Cleanup(srv.Close)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-verdict="standby"]`)),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.notReloaded = "yes"`)); err != nil {
		t.Fatal(err)
	}
	// srv1 dies: srv2 takes the record.
	changed := time.Now()
	src.change(func(f *fixed) {
		f.st.Peer.State, f.st.Peer.Healthy, f.st.Peer.Reason, f.st.Peer.Since = watchdog.PeerDown, nil, "peer closed the link", time.Now()
		f.st.Records[0].Content, f.st.Records[0].PointsTo, f.st.Records[0].Preferred = "srv2.example.com", "srv2.example.com", false
		f.evs = append([]watchdog.Event{{At: time.Now(), Name: "peer_down", Level: "WARN", Msg: "peer is down"}}, f.evs...)
	})
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx,
		chromedp.WaitVisible(chromedp.CSS(`[data-verdict="active"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-peer-state="down"]`)),
	); err != nil {
		t.Fatalf("the page did not show the failover within 2 s: %v", err)
	}
	t.Logf("the page showed the failover %v after it happened", time.Since(changed).Round(time.Millisecond))
	if marker, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.notReloaded || "reloaded"`)); err != nil || marker != "yes" {
		t.Errorf("the page was reloaded (%q, %v): want it updated in place", marker, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Active: the records point here", "peer is down", "link lost: peer closed the link"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	dir := t.ArtifactDir()
	for _, s := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"status-desktop.png", 1280, 900, false}, {"status-phone.png", 390, 844, true}} {
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
		// The page fits the width: nothing scrolls sideways.
		if overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || overflow {
			t.Errorf("%s: the page is wider than the screen (%v)", s.name, err)
		}
	}
	t.Logf("screenshots in %s", dir)
}

// Without JavaScript the page still says everything.
func TestBrowserWithoutScript(t *testing.T) {
	ctx := browser(t)
	srv := httptest.NewServer(Handler(standby(), Options{API: http.NotFoundHandler()}))
	t.Cleanup(srv.Close)
	if err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.Navigate(srv.URL+"/"),
	); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Without JavaScript this page reloads every 10 seconds.") {
		t.Errorf("without script, the page does not say how it updates: %q", text)
	}
	for _, want := range []string{"Standby: the records point to srv1.example.com", "www.example.com", "srv1.example.com", "link_up"} {
		if !strings.Contains(text, want) {
			t.Errorf("without script, the page lacks %q", want)
		}
	}
}

// The token's form opens the page.
func TestBrowserLogin(t *testing.T) {
	ctx := browser(t)
	srv := httptest.NewServer(Handler(standby(), Options{Token: token, API: http.NotFoundHandler()}))
	t.Cleanup(srv.Close)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(`[data-verdict="standby"]`)),
	); err != nil {
		t.Fatalf("login: %v", err)
	}
}
