//go:build faults && linux

package faults

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// setting is one detector configuration to measure.
type setting struct {
	keepalive, peerTimeout time.Duration
}

func (s setting) String() string { return s.keepalive.String() + "/" + s.peerTimeout.String() }

// parseSettings reads "1s/5s,500ms/3s": keepalive_interval/peer_timeout
// pairs.
func parseSettings(s string) ([]setting, error) {
	var out []setting
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ka, pt, ok := strings.Cut(f, "/")
		if !ok {
			return nil, fmt.Errorf("-settings: %q: want keepalive_interval/peer_timeout, like 1s/5s", f)
		}
		k, err1 := time.ParseDuration(ka)
		p, err2 := time.ParseDuration(pt)
		if err1 != nil || err2 != nil || k <= 0 || p <= k {
			return nil, fmt.Errorf("-settings: %q: want two durations, peer_timeout > keepalive_interval", f)
		}
		out = append(out, setting{k, p})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-settings: empty")
	}
	return out, nil
}

// tradeoffRequested reports whether TestDetectorTradeoff was asked for: it
// is a report that takes minutes, not part of the profiles.
func tradeoffRequested() bool {
	if *flagTradeoff || os.Getenv("CLOOSTER_FAULTS_TRADEOFF") == "1" {
		return true
	}
	f := flag.Lookup("test.run")
	return f != nil && strings.Contains(f.Value.String(), "Tradeoff")
}

// TestDetectorTradeoff measures, for each (keepalive_interval, peer_timeout)
// setting, how fast a hung peer (SIGSTOP) is repointed, over -trials trials,
// and how often random loss at 0, 10, 20 and 30 % makes a false failover,
// over -minutes minutes per level, and prints a markdown table. Every
// measurement of a setting runs on its own pair, all in parallel. A hang
// repointed later than peer_timeout + 1 s fails the test; false failovers
// are reported, not judged: they are the price the table shows.
func TestDetectorTradeoff(t *testing.T) {
	if !tradeoffRequested() {
		t.Skip("report mode, minutes long: go test -tags faults -run TestDetectorTradeoff ./e2e/faults/ [-args -settings 1s/5s,500ms/3s -trials 10 -minutes 2]")
	}
	requireEnv(t)
	settings, err := parseSettings(*flagSettings)
	if err != nil {
		t.Fatal(err)
	}
	trials := *flagTrials
	if trials <= 0 {
		trials = 10
	}
	d := time.Duration(*flagMinutes * float64(time.Minute))
	levels := []int{0, 10, 20, 30}

	type result struct {
		hang  []*trial
		soaks map[int]*soakResult
	}
	results := make([]*result, len(settings))
	t.Run("setting", func(t *testing.T) {
		for i, s := range settings {
			res := &result{soaks: make(map[int]*soakResult)}
			for _, pct := range levels {
				res.soaks[pct] = &soakResult{}
			}
			results[i] = res
			opt := pairOpts{keepalive: s.keepalive, peerTimeout: s.peerTimeout}
			name := strings.ReplaceAll(s.String(), "/", "-")
			t.Run(name+"-hang", func(t *testing.T) {
				t.Parallel()
				res.hang = hangTrials(t, "sigstop", opt, trials)
			})
			for _, pct := range levels {
				t.Run(fmt.Sprintf("%s-loss-%d", name, pct), func(t *testing.T) {
					t.Parallel()
					soak(t, opt, pct, d, res.soaks[pct])
				})
			}
		}
	})

	var b strings.Builder
	fmt.Fprintf(&b, "\n## Detector trade-off\n\n")
	fmt.Fprintf(&b, "Hang: A stopped (SIGSTOP), %d trials per setting, time from the stop to B's record write. "+
		"False failovers: record takeovers by B with both nodes alive, over %.1f min of random loss each way on the link (link drops in brackets).\n\n", trials, d.Minutes())
	fmt.Fprintf(&b, "| keepalive_interval | peer_timeout | hang→repointed median | p99 | max | detected median | over peer_timeout+%s |", secs(slack))
	for _, pct := range levels {
		fmt.Fprintf(&b, " false failovers %d %% |", pct)
	}
	fmt.Fprintf(&b, "\n|---:|---:|---:|---:|---:|---:|---:|")
	for range levels {
		fmt.Fprintf(&b, "---:|")
	}
	fmt.Fprintln(&b)
	for i, s := range settings {
		res := results[i]
		sum := summarize(res.hang)
		over := fmt.Sprint(sum.over)
		if sum.missed > 0 {
			over += fmt.Sprintf(" (+%d missed)", sum.missed)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |", s.keepalive, s.peerTimeout, ms(sum.median), ms(sum.p99), ms(sum.max), ms(sum.detect), over)
		for _, pct := range levels {
			sr := res.soaks[pct]
			if sr.dur == 0 {
				fmt.Fprintf(&b, " — |")
				continue
			}
			fmt.Fprintf(&b, " %d (%d) |", sr.failovers, sr.drops)
		}
		fmt.Fprintln(&b)
	}
	emit(t, b.String())
}
