//go:build unix

package e2e

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/pairtest"
)

// bin is the clooster executable TestMain built.
var bin *pairtest.Binary

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	// The tests mostly wait on timers in other processes: unless -parallel
	// says otherwise, run more of them at once than there are CPUs.
	if !flagSet("test.parallel") {
		flag.Set("test.parallel", strconv.Itoa(max(minParallel, runtime.GOMAXPROCS(0))))
	}
	var err error
	if bin, err = pairtest.Build(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	bin.Remove()
	os.Exit(code)
}

// minParallel is how many tests run at once at least, unless -parallel is
// given.
const minParallel = 16

// flagSet reports whether the flag name was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// e2eTest marks a test parallel, and skips it under -short.
func e2eTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: runs the built binary as processes")
	}
	t.Parallel()
}

// The pair's names, as pairtest's pairs have them.
const (
	srv1 = pairtest.Srv1 // the server, and the preferred value
	srv2 = pairtest.Srv2 // the client
)

// fastTiming is shorter than the defaults (250 ms, 2 s, 30 s), for tests whose
// subject is not the timings themselves: a pair links, fails over and
// fails back in a few seconds.
var fastTiming = pairtest.Timing{
	Keepalive:     250 * time.Millisecond,
	PeerTimeout:   1500 * time.Millisecond,
	FailbackDelay: 3 * time.Second,
}

// noFailback is fastTiming with the default failback_delay, for tests in
// which the failback check (one record read, failback_delay after the link
// comes up) would get in the way: it never comes within the test.
var noFailback = pairtest.Timing{
	Keepalive:     fastTiming.Keepalive,
	PeerTimeout:   fastTiming.PeerTimeout,
	FailbackDelay: 30 * time.Second,
}
