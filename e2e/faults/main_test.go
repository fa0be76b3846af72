//go:build faults && linux

package faults

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/clooster/clooster/internal/pairtest"
)

var (
	flagLong     = flag.Bool("long", false, "long profile: 10-minute loss soaks and repeated trials (also CLOOSTER_FAULTS_LONG=1)")
	flagTradeoff = flag.Bool("tradeoff", false, "run TestDetectorTradeoff (also selected by -run TestDetectorTradeoff)")
	flagSettings = flag.String("settings", "1s/5s,500ms/3s,500ms/2.5s,250ms/2s", "TestDetectorTradeoff: keepalive_interval/peer_timeout pairs, comma-separated")
	flagTrials   = flag.Int("trials", 0, "repeated trials per measurement (default 20 in the long profile, 10 in TestDetectorTradeoff)")
	flagMinutes  = flag.Float64("minutes", 2, "TestDetectorTradeoff: minutes of each loss soak")
	flagReport   = flag.String("report", "", "also write the tables, in markdown, to this file")
	flagLogs     = flag.Bool("logs", false, "log the nodes' output, record writes and pushes of every pair, not only of failed ones")
)

// long reports whether the long profile was asked for.
func long() bool { return *flagLong || os.Getenv("CLOOSTER_FAULTS_LONG") == "1" }

// bin is the clooster executable, built once by requireEnv; binary reads
// it.
var bin struct {
	sync.Mutex
	b *pairtest.Binary
}

func binary() *pairtest.Binary {
	bin.Lock()
	defer bin.Unlock()
	return bin.b
}

func TestMain(m *testing.M) {
	flag.Parse()
	// Scenarios mostly wait on timers in other processes: run them all at
	// once unless -parallel says otherwise.
	if !flagSet("test.parallel") {
		flag.Set("test.parallel", "64")
	}
	stop := cleanupOnSignal()
	code := m.Run()
	stop()
	removeOwnLabs() // a safety net: every lab removes itself
	removeOwnClusterLabs()
	removeBinary()
	os.Exit(code)
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

var (
	setupOnce sync.Once
	setupErr  error
)

// requireEnv skips t if a prerequisite is missing, and otherwise builds the
// binary and sweeps stale labs, once per run.
func requireEnv(t *testing.T) {
	t.Helper()
	if msg := missingPrerequisite(); msg != "" {
		t.Skip(msg)
	}
	setupOnce.Do(func() {
		removeStaleLabs()
		removeStaleClusterLabs()
		setupErr = build()
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func missingPrerequisite() string {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing = append(missing, "ip (package iproute2)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		missing = append(missing, "nft (package nftables)")
	}
	if len(missing) == 0 {
		return ""
	}
	return "fault suite needs " + strings.Join(missing, ", ") + "; in CI: apt-get install -y iproute2 nftables, and run as root"
}

// build compiles the module's main package with the go command that runs
// the tests.
func build() error {
	b, err := pairtest.Build()
	if err != nil {
		return err
	}
	bin.Lock()
	bin.b = b
	bin.Unlock()
	return nil
}

// removeBinary removes the binary; it may run on the signal handler's
// goroutine.
func removeBinary() {
	if b := binary(); b != nil {
		b.Remove()
	}
}

// cleanupOnSignal removes every lab and kills every node of this run if the
// test binary is interrupted, so that an interrupted run leaks nothing.
func cleanupOnSignal() (stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-c:
			fmt.Fprintf(os.Stderr, "faults: %v: removing the labs\n", sig)
			pairtest.KillAll()
			removeOwnLabs()
			removeOwnClusterLabs()
			removeBinary()
			os.Exit(2)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(c)
		close(done)
	}
}
