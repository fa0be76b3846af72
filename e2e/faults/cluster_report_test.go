//go:build faults && linux

package faults

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// qreport collects what TestClusterFaults measured and prints it at the
// end, in the pair report's form.
type qreport struct {
	mu     sync.Mutex
	rows   []*qrow
	trials map[string][]*trial
}

func (r *qreport) add(x *qrow) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, x)
}

func (r *qreport) addTrials(kind string, ts []*trial) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trials == nil {
		r.trials = make(map[string][]*trial)
	}
	r.trials[kind] = ts
}

// print writes the tables to stdout and, with -report, to the file.
func (r *qreport) print(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	profile := "short"
	if long() {
		profile = "long"
	}
	fmt.Fprintf(&b, "\n## clooster fault suite, quorum mode, %s profile\n\n", profile)
	fmt.Fprintf(&b, "Three members on a bridge, preset lan (heartbeat timeout %s). Times are from the fault's injection "+
		"unless the notes say otherwise; writes and pushes are counted from the steady state (srv1 leading, the record on srv1). "+
		"Limit of a leader's replacement, record written: %s.\n", secs(lanHeartbeat), secs(qlimit))
	if len(r.rows) > 0 {
		fmt.Fprintf(&b, "\n| scenario | shape | expected | got | seconds | writes | pushes | verdict |\n")
		fmt.Fprintf(&b, "|---|---|---|---|---:|---:|---:|---|\n")
		slices.SortFunc(r.rows, func(a, b *qrow) int { return a.order - b.order })
		pass := 0
		for _, x := range r.rows {
			got := x.got
			if got == "" {
				got = "—"
			}
			if len(x.notes) > 0 {
				got += " (" + strings.Join(x.notes, "; ") + ")"
			}
			s := "—"
			if !math.IsNaN(x.secs) {
				s = fmt.Sprintf("%.3f", x.secs)
			}
			if x.verdict == "PASS" {
				pass++
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %d | %s |\n", x.scenario, x.shape, x.expected, got, s, x.writes, x.pushes, x.verdict)
		}
		fmt.Fprintf(&b, "\n%d of %d scenarios passed.\n", pass, len(r.rows))
	}
	if len(r.trials) > 0 {
		fmt.Fprintf(&b, "\n| trials | n | srv2 written p50 | p99 | max | srv2 learned the new leader p50 | limit | over limit | missed |\n")
		fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		kinds := make([]string, 0, len(r.trials))
		for k := range r.trials {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			s := summarize(r.trials[k])
			fmt.Fprintf(&b, "| %s → srv2 written | %d | %s | %s | %s | %s | %s | %d | %d |\n",
				k, s.n, ms(s.median), ms(s.p99), ms(s.max), ms(s.detect), secs(s.limit), s.over, s.missed)
		}
	}
	emit(t, b.String())
}
