//go:build linux

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/pairtest"
)

// setCase is a record set of n records over zones zones: record i is an A
// record h<i> of zone z<i mod zones>.example.net, or, for n == 2, the A and
// AAAA records of one name.
type setCase struct{ n, zones int }

var setCases = []setCase{{1, 1}, {2, 1}, {10, 2}, {50, 5}}

// setResult is one case's figures, per trial.
type setResult struct {
	c        setCase
	last     []float64 // seconds from the crash to the last record's write
	requests []float64 // the survivor's API requests from the crash to then
}

// setsOnly times the failover of record sets of 1, 2, 10 and 50 records
// after a kill -9 of the active node, at the defaults, and counts the
// survivor's API requests.
func (b *bench) setsOnly(t pairtest.T, o options) string {
	b.build(t)
	return b.setTrials(t, o)
}

// setTrials runs o.trials trials of every case and returns the report's
// section.
func (b *bench) setTrials(t pairtest.T, o options) string {
	var results []setResult
	for _, c := range setCases {
		res := setResult{c: c}
		for i := range o.trials {
			b.progress("record set of %d in %d zone(s): trial %d/%d", c.n, c.zones, i+1, o.trials)
			scope(t, fmt.Sprintf("record set of %d, trial %d", c.n, i+1), func(t pairtest.T) {
				last, reqs := b.setTrial(t, c)
				res.last, res.requests = append(res.last, last), append(res.requests, reqs)
			})
		}
		results = append(results, res)
	}
	var w strings.Builder
	fmt.Fprintf(&w, "## Record sets\n\nkill -9 of the active node of a linked pair at the defaults; the survivor moves every record of the set. Times are from the kill to the last record's write as the stand-in API saw it; requests are the survivor's, over the same span. %d trials per row; `%s`.\n\n", o.trials, o.command)
	fmt.Fprintf(&w, "| records | zones | last record written, median | max | API requests, median | max | per zone |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		t, q := summarize(r.last), summarize(r.requests)
		fmt.Fprintf(&w, "| %d | %d | %s | %s | %.0f | %.0f | %.1f |\n", r.c.n, r.c.zones, dur(t.median), dur(t.max), q.median, q.max, q.max/float64(r.c.zones))
	}
	big := summarize(results[len(results)-1].requests)
	perFive := big.max * 4 * 5 // over and back twice a minute, for five minutes
	fmt.Fprintf(&w, "\nCloudflare allows 1,200 requests per 5 minutes. 50 records in 5 zones failing over and back twice a minute cost at most %.0f requests per move, so %.0f per 5 minutes (the failback's job makes the same one read and one write per zone).\n", big.max, perFive)
	return w.String()
}

// setTrial runs one trial of c on a fresh pair.
func (b *bench) setTrial(t pairtest.T, c setCase) (last, requests float64) {
	p := newPair(t, defaults)
	zones := make([]string, c.zones)
	for z := range zones {
		zones[z] = p.F.CF.AddZone(fmt.Sprintf("z%d.example.net", z))
	}
	var records []any
	var ids []string
	var want []string
	for i := range c.n {
		z := i % c.zones
		zone := fmt.Sprintf("z%d.example.net", z)
		name, typ := fmt.Sprintf("h%d.%s", i, zone), "A"
		v1, v2 := fmt.Sprintf("192.0.2.%d", i+1), fmt.Sprintf("198.51.100.%d", i+1)
		if c.n == 2 {
			name = "www." + zone
			if i == 1 {
				typ, v1, v2 = "AAAA", "2001:db8::1", "2001:db8:1::1"
			}
		}
		ids = append(ids, p.F.CF.AddRecord(zones[z], fakecf.Record{Name: name, Type: typ, Content: v1}))
		want = append(want, v2)
		records = append(records, map[string]any{"name": name, "type": typ, "zone": zone,
			"values": map[string]any{srv1: v1, srv2: v2}})
	}
	p.Srv1.Records, p.Srv2.Records = records, records
	a, s, _ := b.start(t, p)
	settle(t, defaults)
	at := a.Kill(t)
	moved := func() bool {
		for i, id := range ids {
			if p.F.CF.Record(id).Content != want[i] {
				return false
			}
		}
		return true
	}
	pairtest.WaitEvery(t, time.Millisecond, 20*time.Second, "every record moved", moved, s)
	var end time.Time
	for _, w := range p.F.CF.Writes() {
		if w.At.After(end) {
			end = w.At
		}
	}
	return end.Sub(at).Seconds(), float64(requestsBy(requestsBetween(p.F, at, end), "srv2"))
}
