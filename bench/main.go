//go:build linux

// Command bench measures clooster as operators run it: the stripped static
// binary, as real processes on loopback, against the local stand-ins for
// the Cloudflare and Pushbullet APIs (internal/fakecf, internal/fakepb),
// which it hosts itself, all through internal/pairtest, as the end-to-end
// tests do. It prints a markdown report and, with -out, writes it to a file
// (docs/BENCHMARKS.md holds the last full run).
//
//	go run ./bench [-trials 20] [-out docs/BENCHMARKS.md] [-quick]
//	go run ./bench -sets [-trials 20]     # record-set failovers only
//
// It reads /proc for memory and CPU figures, so it runs on Linux only.
// Every process it starts is killed before it exits, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	trials     int           // trials per timing figure
	reconnects int           // link cuts for the memory figure
	cpuWindow  time.Duration // idle CPU is measured over this
	apiWindow  time.Duration // steady-state API calls are counted over this
	settle     time.Duration // before each RSS figure of the reconnect test
	quick      bool
	out        string
	goBench    bool
	idleOnly   pairtest.Timing // with idle: only the idle figures, at these timings
	idle       bool
	notify     bool // with idle: the nodes also have notification channels
	sets       bool
	command    string // as typed, for the report
}

func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	trials := fs.Int("trials", 20, "trials per timing figure (-quick: 5)")
	reconnects := fs.Int("reconnects", 1000, "link cuts for the memory-after-reconnects figure (-quick: 100)")
	out := fs.String("out", "", "also write the report to this file")
	quick := fs.Bool("quick", false, "fewer trials and shorter windows: a smoke test, not figures to quote")
	goBench := fs.Bool("gobench", true, "also run the Go micro-benchmarks of ./watchdog")
	settle := fs.Duration("settle", 135*time.Second, "wait before each RSS figure of the reconnect test (-quick: 10s)")
	sets := fs.Bool("sets", false, "measure only record-set failovers (1, 2, 10 and 50 records) and print that section")
	idle := fs.Bool("idle", false, "measure only an idle linked pair's CPU and RSS (over 60s, -quick: 30s) and print them")
	ka := fs.Duration("keepalive", 0, "with -idle: keepalive_interval (0: the default)")
	pt := fs.Duration("peer-timeout", 0, "with -idle: peer_timeout (0: the default)")
	notify := fs.Bool("notify", false, "with -idle: give each node four notification channels beside the pushbullet block (smtp, two ntfy, a webhook, on loopback; none is used while idle)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o := options{trials: *trials, reconnects: *reconnects, out: *out, quick: *quick, goBench: *goBench,
		cpuWindow: 60 * time.Second, apiWindow: 20 * time.Second, settle: *settle,
		idle: *idle, idleOnly: pairtest.Timing{Keepalive: *ka, PeerTimeout: *pt}, notify: *notify, sets: *sets}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["trials"] {
			o.trials = 5
		}
		if !set["reconnects"] {
			o.reconnects = 100
		}
		o.cpuWindow, o.apiWindow = 30*time.Second, 10*time.Second
		if !set["settle"] {
			o.settle = 10 * time.Second
		}
	}
	if o.trials < 1 || o.reconnects < 4 {
		return options{}, errors.New("-trials must be at least 1 and -reconnects at least 4")
	}
	o.command = strings.Join(append([]string{"go run ./bench"}, args...), " ")
	return o, nil
}

func run(ctx context.Context, args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	b, err := newBench()
	if err != nil {
		return err
	}
	defer b.cleanup()
	return pairtest.Run(ctx, func(t pairtest.T) {
		switch {
		case o.idle:
			b.idleOnly(t, o)
		case o.sets:
			fmt.Print(b.setsOnly(t, o))
		default:
			text := b.all(t, o).markdown()
			fmt.Print(text)
			if o.out != "" {
				if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
					t.Fatalf("%v", err)
				}
				b.progress("report written to %s", o.out)
			}
		}
	})
}
