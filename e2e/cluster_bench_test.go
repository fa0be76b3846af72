//go:build unix

package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
)

// BenchmarkClusterIdle: a cluster of two nodes and a witness on loopback,
// the binary as shipped,
// left idle once the first node leads with its record, for a minute (at
// most, -benchtime sets it: 1x is a minute); reported is each member's
// CPU (utime+stime from /proc/PID/stat over the window, % of one core) and
// its resident memory at the end. The leader asks every member its status
// twice a heartbeat timeout, on one kept connection each.
//
//	go test ./e2e -run '^$' -bench BenchmarkClusterIdle -benchtime 1x
func BenchmarkClusterIdle(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end benchmark: runs the built binary as processes")
	}
	// The binary as shipped: static, stripped (its pages are most of the
	// resident memory).
	shipped, err := pairtest.BuildShipped()
	if err != nil {
		b.Fatal(err)
	}
	defer shipped.Remove()
	test := bin
	bin = shipped
	defer func() { bin = test }()
	for range b.N {
		c := newCluster(b, "node", "node", "witness")
		for _, m := range c.members {
			quiet(b, m.path)
		}
		for i := range c.members {
			c.start(b, i)
		}
		deadline := time.Now().Add(time.Minute)
		for !c.settled(0) {
			if time.Now().After(deadline) {
				b.Fatal("n1 does not lead with its record within a minute")
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(clusterFailback + 2*time.Second)
		window := time.Minute
		before := make([]time.Duration, len(c.members))
		for i, m := range c.members {
			before[i] = procCPU(b, m.proc.Pid())
		}
		time.Sleep(window)
		for i, m := range c.members {
			cpu := procCPU(b, m.proc.Pid()) - before[i]
			pct := 100 * cpu.Seconds() / window.Seconds()
			rss, anon := procRSS(b, m.proc.Pid(), "VmRSS:"), procRSS(b, m.proc.Pid(), "RssAnon:")
			label := strings.SplitN(m.name, ".", 2)[0]
			b.Logf("%s (%s): CPU %.3f %% of a core over %s, RSS %.1f MB (anonymous %.1f MB)", m.name, m.role, pct, window, float64(rss)/1e6, float64(anon)/1e6)
			b.ReportMetric(pct, label+"-cpu-%")
			b.ReportMetric(float64(rss)/1e6, label+"-rss-MB")
		}
		if w := c.writes(); len(w) != 1 {
			b.Errorf("record writes %v, want the first node's one", w)
		}
	}
}

// quiet sets a member's log level to info: the tests' debug lines are not
// what an idle member writes.
func quiet(b *testing.B, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	s := strings.Replace(string(data), `"level": "debug"`, `"level": "info"`, 1)
	if s == string(data) {
		b.Fatalf("%s: no debug log level to replace", path)
	}
	writeFile(b, path, s)
}

// procCPU is utime+stime of process pid, in USER_HZ (100 Hz) ticks.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return time.Duration(u+st) * 10 * time.Millisecond
}

// procRSS is the figure key (VmRSS:, RssAnon:) of /proc/PID/status, in
// bytes.
func procRSS(b *testing.B, pid int, key string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == key {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb * 1024
		}
	}
	b.Fatalf("/proc/%d/status: no %s", pid, key)
	return 0
}
