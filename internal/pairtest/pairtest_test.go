package pairtest_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/pairtest"
)

func TestRun(t *testing.T) {
	cases := []struct {
		name    string
		f       func(t pairtest.T, did *[]string)
		wantErr string
		wantDid []string
	}{
		{"passes", func(t pairtest.T, did *[]string) {
			t.Cleanup(func() { *did = append(*did, "cleanup 1") })
			t.Cleanup(func() { *did = append(*did, "cleanup 2") })
			*did = append(*did, "body")
		}, "", []string{"body", "cleanup 2", "cleanup 1"}},
		{"Errorf goes on", func(t pairtest.T, did *[]string) {
			t.Errorf("first %d", 1)
			t.Errorf("second")
			*did = append(*did, "body")
		}, "first 1\nsecond", []string{"body"}},
		{"Fatalf stops the step, not the cleanups", func(t pairtest.T, did *[]string) {
			t.Cleanup(func() { *did = append(*did, "cleanup") })
			t.Fatalf("stop %s", "here")
			*did = append(*did, "after Fatalf")
		}, "stop here", []string{"cleanup"}},
		{"Fatalf in a cleanup ends only it", func(t pairtest.T, did *[]string) {
			t.Cleanup(func() { *did = append(*did, "older cleanup") })
			t.Cleanup(func() {
				t.Fatalf("cleanup failed")
				*did = append(*did, "after Fatalf")
			})
		}, "cleanup failed", []string{"older cleanup"}},
		{"context done before the cleanups", func(t pairtest.T, did *[]string) {
			t.Cleanup(func() { *did = append(*did, "context: "+t.Context().Err().Error()) })
			if err := t.Context().Err(); err != nil {
				t.Errorf("context done during the step: %v", err)
			}
		}, "", []string{"context: context canceled"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var did []string
			err := pairtest.RunTo(context.Background(), &bytes.Buffer{}, func(pt pairtest.T) { c.f(pt, &did) })
			if got := errString(err); got != c.wantErr {
				t.Errorf("error: got %q, want %q", got, c.wantErr)
			}
			if !slices.Equal(did, c.wantDid) {
				t.Errorf("steps: got %q, want %q", did, c.wantDid)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRunLogf(t *testing.T) {
	cases := []struct {
		name        string
		interrupted bool
		want        string
	}{
		{"running", false, "a line 1\n"},
		{"interrupted", true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.interrupted {
				cancel()
			}
			var log bytes.Buffer
			pairtest.RunTo(ctx, &log, func(t pairtest.T) { t.Logf("a line %d", 1) })
			if got := log.String(); got != c.want {
				t.Errorf("log: got %q, want %q", got, c.want)
			}
		})
	}
}

func TestRunTempDirRemoved(t *testing.T) {
	var dir string
	err := pairtest.RunTo(context.Background(), &bytes.Buffer{}, func(t pairtest.T) {
		dir = t.TempDir()
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("temporary directory: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory after Run: got %v, want it gone", err)
	}
}

func TestWaitFor(t *testing.T) {
	cases := []struct {
		name     string
		holdsAt  int // the poll at which cond first holds; 0 never
		limit    time.Duration
		wantErr  string
		wantTook time.Duration
	}{
		{"at once", 1, time.Second, "", 0},
		{"after polls", 4, time.Second, "", 3 * pairtest.Poll},
		{"never", 0, 100 * time.Millisecond, "the thing: did not happen within 100ms", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				polls := 0
				var took time.Duration
				err := pairtest.RunTo(t.Context(), &bytes.Buffer{}, func(pt pairtest.T) {
					took = pairtest.WaitFor(pt, c.limit, "the thing", func() bool {
						polls++
						return polls == c.holdsAt
					})
				})
				if got := errString(err); got != c.wantErr {
					t.Errorf("error: got %q, want %q", got, c.wantErr)
				}
				if err == nil && took != c.wantTook {
					t.Errorf("took %v, want %v", took, c.wantTook)
				}
			})
		})
	}
}

func TestWaitForInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		err := pairtest.RunTo(ctx, &bytes.Buffer{}, func(pt pairtest.T) {
			pairtest.WaitFor(pt, time.Hour, "the thing", func() bool { return false })
		})
		if got, want := errString(err), "the thing: interrupted"; got != want {
			t.Errorf("error: got %q, want %q", got, want)
		}
		if took := time.Since(start); took != time.Second {
			t.Errorf("interrupted after %v, want 1s", took)
		}
	})
}

func TestFreePort(t *testing.T) {
	seen := make(map[int]bool)
	for range 200 {
		port := pairtest.FreePort(t)
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		if port < 20000 || port >= 32000 {
			t.Errorf("port %d, want in [20000, 32000): below the ephemeral range", port)
		}
		seen[port] = true
	}
}

func TestNewSecret(t *testing.T) {
	a, b := pairtest.NewSecret("cf-token-"), pairtest.NewSecret("cf-token-")
	if a == b || !strings.HasPrefix(a, "cf-token-") || len(a) != len("cf-token-")+32 {
		t.Errorf("NewSecret: got %q and %q, want the prefix and 32 random hex digits", a, b)
	}
}

// TestNodeConfig writes nodes' configurations and reads them back with the
// daemon's own loader.
func TestNodeConfig(t *testing.T) {
	p := pairtest.NewPair(t, pairtest.Timing{Keepalive: 250 * time.Millisecond, PeerTimeout: 1500 * time.Millisecond, FailbackDelay: 3 * time.Second})
	dns := &pairtest.DNSBlock{Server: "127.0.0.1:53", Zone: "example.test", KeyName: "k", Secret: pairtest.NewKey()}
	rfcRecord := map[string]any{"name": "www.example.test", "type": "A", "zone": "example.test", "provider": "rfc2136",
		"values": map[string]any{pairtest.Srv1: "192.0.2.1", pairtest.Srv2: "192.0.2.2"}}
	cfRecord := map[string]any{"name": pairtest.Record, "type": "CNAME", "provider": "cloudflare"}
	cases := []struct {
		name   string
		change func(n *pairtest.Node)
		check  func(t *testing.T, c *config.Config)
	}{
		{"pair's server", nil, func(t *testing.T, c *config.Config) {
			if c.ThisServer != pairtest.Srv1 || c.OtherServer != pairtest.Srv2 || c.Role != "server" || c.ListenAddr() != pairtest.Loopback(p.Srv1.Port) {
				t.Errorf("got %s/%s, role %s on %s; want %s/%s, server on 127.0.0.1:%d",
					c.ThisServer, c.OtherServer, c.Role, c.ListenAddr(), pairtest.Srv1, pairtest.Srv2, p.Srv1.Port)
			}
			if got, want := []time.Duration{c.KeepaliveInterval.D(), c.PeerTimeout.D(), c.FailbackDelay.D()},
				[]time.Duration{250 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}; !slices.Equal(got, want) {
				t.Errorf("timings: got %v, want %v", got, want)
			}
			if c.Cloudflare.Record != pairtest.Record || c.Cloudflare.APIURL != p.F.CloudflareURL() || c.Pushbullet.APIURL != p.F.PushbulletURL() {
				t.Errorf("cloudflare record %q at %q, pushbullet at %q", c.Cloudflare.Record, c.Cloudflare.APIURL, c.Pushbullet.APIURL)
			}
			if c.StatusAddr() != p.Srv1.Status || c.Log.Level != "debug" {
				t.Errorf("status on %q, log level %q; want %q, debug", c.StatusAddr(), c.Log.Level, p.Srv1.Status)
			}
		}},
		{"defaults", func(n *pairtest.Node) { n.Timing = pairtest.Timing{} }, func(t *testing.T, c *config.Config) {
			if c.KeepaliveInterval != config.DefaultKeepaliveInterval || c.PeerTimeout != config.DefaultPeerTimeout {
				t.Errorf("timings: got %v and %v, want the defaults", c.KeepaliveInterval.D(), c.PeerTimeout.D())
			}
		}},
		{"own API bases", func(n *pairtest.Node) {
			n.CloudflareURL = p.F.URL("") + "/srv1/client/v4"
			n.PushbulletURL = p.F.URL("") + "/srv1/v2"
		}, func(t *testing.T, c *config.Config) {
			if c.Cloudflare.APIURL != p.F.URL("")+"/srv1/client/v4" || c.Pushbullet.APIURL != p.F.URL("")+"/srv1/v2" {
				t.Errorf("api_url: cloudflare %q, pushbullet %q", c.Cloudflare.APIURL, c.Pushbullet.APIURL)
			}
		}},
		{"rfc2136 alone", func(n *pairtest.Node) {
			n.DNS, n.Records = dns, []any{rfcRecord}
		}, func(t *testing.T, c *config.Config) {
			if c.RFC2136 == nil || c.RFC2136.TSIGSecret != dns.Secret || c.Cloudflare.Token != "" || len(c.Records) != 1 {
				t.Errorf("rfc2136 %+v, cloudflare token set %v, %d records; want the block, no cloudflare block, 1 record",
					c.RFC2136, c.Cloudflare.Token != "", len(c.Records))
			}
		}},
		{"rfc2136 and cloudflare", func(n *pairtest.Node) {
			n.DNS, n.Records = dns, []any{cfRecord, rfcRecord}
		}, func(t *testing.T, c *config.Config) {
			if c.RFC2136 == nil || c.Cloudflare.Token != p.F.CFToken || c.Cloudflare.Record != "" || len(c.Records) != 2 {
				t.Errorf("rfc2136 %+v, cloudflare token set %v, record %q, %d records; want both blocks, no record key, 2 records",
					c.RFC2136, c.Cloudflare.Token != "", c.Cloudflare.Record, len(c.Records))
			}
		}},
		{"status token", func(n *pairtest.Node) { n.StatusToken = pairtest.NewSecret("status-") }, func(t *testing.T, c *config.Config) {
			if len(c.Status.Token) != len("status-")+32 || c.StatusAddr() != p.Srv1.Status {
				t.Errorf("status: token of %d bytes on %q, want the node's on %q", len(c.Status.Token), c.StatusAddr(), p.Srv1.Status)
			}
		}},
		{"extra members", func(n *pairtest.Node) {
			n.Extra = pairtest.Obj{{Key: "handover_on_stop", Val: false}, {Key: "log", Val: pairtest.Obj{{Key: "level", Val: "warn"}}}}
		}, func(t *testing.T, c *config.Config) {
			if c.Handover() || c.Log.Level != "warn" {
				t.Errorf("handover %v, log level %q; want false, warn (the later member wins)", c.Handover(), c.Log.Level)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := p.Srv1
			if c.change != nil {
				c.change(&n)
			}
			cfg, err := config.Load(n.WriteConfig(t), nil)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			c.check(t, cfg)
			// The node's secrets include every one the daemon scrubs.
			var secrets []string
			for _, s := range n.Secrets() {
				secrets = append(secrets, s.Value)
			}
			for i, s := range cfg.Secrets() {
				if !slices.Contains(secrets, s) {
					t.Errorf("the daemon's secret %d is not among the node's Secrets", i)
				}
			}
		})
	}
}

func TestRelaxedJSON(t *testing.T) {
	got := pairtest.RelaxedJSON("a comment", pairtest.Obj{
		{Key: "a", Val: 1},
		{Key: "b", Val: pairtest.Obj{{Key: "c", Val: "d"}}},
		{Key: "e", Val: []any{true}},
	})
	want := "# a comment\n{\n    \"a\": 1,\n    \"b\": {\n        \"c\": \"d\",\n    },\n    \"e\": [true],\n}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
