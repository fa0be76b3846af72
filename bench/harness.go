//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/fakecf"
	"github.com/clooster/clooster/internal/pairtest"
)

// bench owns the binary; what a measurement starts belongs to the
// pairtest.T it runs with.
type bench struct {
	root  string // the module's directory
	goCmd string
	bin   *pairtest.Binary
}

func newBench() (*bench, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is not on PATH: %w", err)
	}
	out, err := exec.Command(goCmd, "env", "GOMOD").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return nil, errors.New("run bench from within the clooster module: go run ./bench")
	}
	return &bench{root: filepath.Dir(gomod), goCmd: goCmd}, nil
}

// cleanup removes the binary.
func (b *bench) cleanup() {
	if b.bin != nil {
		b.bin.Remove()
	}
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// build compiles the binary as it is shipped: static, stripped.
func (b *bench) build(t pairtest.T) {
	b.progress("building the binary")
	bin, err := pairtest.BuildShipped()
	if err != nil {
		t.Fatalf("%v", err)
	}
	b.bin = bin
}

// scope runs f with a T of its own: what f starts is stopped when f
// returns, and its failure, after what unless it is "", is t's.
func scope(t pairtest.T, what string, f func(t pairtest.T)) {
	t.Helper()
	err := pairtest.Run(t.Context(), f)
	switch {
	case err != nil && what == "":
		t.Fatalf("%v", err)
	case err != nil:
		t.Fatalf("%s: %v", what, err)
	}
}

// The pair's names, as pairtest's pairs have them.
const (
	srv1 = pairtest.Srv1 // the server, and the preferred value
	srv2 = pairtest.Srv2 // the client
)

var (
	defaults = pairtest.Timing{} // keepalive_interval 500ms, peer_timeout 2.5s, failback_delay 30s, drift_check_interval 5m
	fastest  = pairtest.Timing{Keepalive: 100 * time.Millisecond, PeerTimeout: 800 * time.Millisecond}
)

// newPair makes a pair with stand-ins of its own at timings tm, logging at
// info level. fakecf ignores what precedes /zones, so each node's
// Cloudflare API base has the node's label as a prefix, and every request
// tells which node made it.
func newPair(t pairtest.T, tm pairtest.Timing) *pairtest.Pair {
	t.Helper()
	p := pairtest.NewPair(t, tm)
	for _, n := range []*pairtest.Node{&p.Srv1, &p.Srv2} {
		n.CloudflareURL = p.F.URL("") + "/" + n.Label + "/client/v4"
		n.LogLevel = "info"
	}
	return p
}

// requestsBy counts the requests of the node label in reqs.
func requestsBy(reqs []fakecf.Request, label string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/"+label+"/") {
			n++
		}
	}
	return n
}

// requestsBetween returns the requests that arrived in [from, to].
func requestsBetween(f *pairtest.Fakes, from, to time.Time) []fakecf.Request {
	var out []fakecf.Request
	for _, r := range f.CF.Requests() {
		if !r.At.Before(from) && !r.At.After(to) {
			out = append(out, r)
		}
	}
	return out
}

// waitWrite waits until a write of content arrives at or after since, and
// returns it.
func waitWrite(t pairtest.T, f *pairtest.Fakes, content string, since time.Time, limit time.Duration) fakecf.Write {
	t.Helper()
	var found fakecf.Write
	pairtest.WaitEvery(t, time.Millisecond, limit, "a write of "+content, func() bool {
		for _, w := range f.CF.Writes() {
			if w.Content == content && !w.At.Before(since) {
				found = w
				return true
			}
		}
		return false
	})
	return found
}

// readiness is how long one start took: the server until its status
// listener answered; the client, started once the server was ready, until
// its status listener answered and until it was linked.
type readiness struct {
	serverHealthz, clientHealthz, clientLinked time.Duration
}

// startNode runs `clooster FILE` for n, with env as its whole environment.
func (b *bench) startNode(t pairtest.T, n pairtest.Node, env ...string) *pairtest.Proc {
	t.Helper()
	return b.bin.Start(t, pairtest.Cmd{Label: n.Label, Args: []string{n.WriteConfig(t)}, Env: env, Status: n.Status})
}

// start starts srv1, waits for its status listener, starts srv2 and waits
// until both are linked and have read the record. env is each process's
// whole environment.
func (b *bench) start(t pairtest.T, p *pairtest.Pair, env ...string) (a, c *pairtest.Proc, r readiness) {
	t.Helper()
	a = b.startNode(t, p.Srv1, env...)
	r.serverHealthz = waitHealthz(t, a)
	c = b.startNode(t, p.Srv2, env...)
	r.clientHealthz = waitHealthz(t, c)
	pairtest.WaitEvery(t, time.Millisecond, 10*time.Second, "srv2 linked", func() bool { return pairtest.Linked(c) }, a, c)
	r.clientLinked = time.Since(c.Started)
	pairtest.WaitLinked(t, 10*time.Second, a, c)
	return a, c, r
}

// waitHealthz polls GET /healthz every millisecond from the process's
// start and returns how long after the start it first answered ok.
func waitHealthz(t pairtest.T, p *pairtest.Proc) time.Duration {
	t.Helper()
	pairtest.WaitEvery(t, time.Millisecond, 10*time.Second, p.Label+" /healthz", func() bool {
		body, err := p.Get("/healthz")
		return err == nil && strings.TrimSpace(body) == "ok"
	}, p)
	return time.Since(p.Started)
}
