//go:build faults && linux

package faults

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A cluster lab: three member namespaces and a hub namespace that holds a
// bridge. A bridge, not a triangle of veth pairs: each member then has one
// address on one interface, the address the others reach it at in
// cluster.nodes, as a host on a LAN has, with no host routes to keep; and a
// fault between two members only is an nft rule on that one interface
// naming the other's address. The hub holds the bridge so that the root
// namespace sees none of the cluster's traffic.
const (
	qnsPrefix = "clsq-"
	clusterIf = "clu0" // each member's port on the bridge, in its namespace
	bridgeIf  = "br0"  // in the hub
	qmembers  = 3
)

// clab is one cluster lab. Member i has clusterAddr(i) on clu0, and a veth
// api0 to the root namespace: api[i] in its namespace (its status
// listener), host[i] in the root namespace (where the fakes listen).
type clab struct {
	slot int
	hub  string
	ns   [qmembers]string
	veth [qmembers]string // root-side ends of the api veths
	api  [qmembers]string
	host [qmembers]string
}

// clusterAddr is member i's address on the bridge: 198.18.0.1, .2, .3.
func clusterAddr(i int) string { return fmt.Sprintf("198.18.0.%d", i+1) }

var clabs struct {
	sync.Mutex
	slots map[int]*clab
}

// newClusterLab builds a cluster lab in a free slot and removes it when t
// ends; a namespace or interface left after that fails t.
func newClusterLab(t testing.TB) *clab {
	t.Helper()
	l, err := allocClusterLab()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, err := range l.remove() {
			t.Error(err)
		}
		clabs.Lock()
		delete(clabs.slots, l.slot)
		clabs.Unlock()
	})
	if err := l.build(); err != nil {
		t.Fatalf("cluster lab %d: %v", l.slot, err)
	}
	return l
}

// allocClusterLab takes a slot of 198.19.0.0/16 as allocLab does, under
// the same file lock and by the same test (no root-side address in the
// slot's /24), so that pair labs and cluster labs, of this run or another,
// never share one.
func allocClusterLab() (*clab, error) {
	unlock, err := lockFile(filepath.Join(os.TempDir(), "clooster-faults.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	inUse, err := rootAddrs()
	if err != nil {
		return nil, err
	}
	clabs.Lock()
	defer clabs.Unlock()
	if clabs.slots == nil {
		clabs.slots = make(map[int]*clab)
	}
	labs.Lock()
	pairSlots := make(map[int]bool, len(labs.slots))
	for s := range labs.slots {
		pairSlots[s] = true
	}
	labs.Unlock()
	pid := os.Getpid()
	for s := range maxSlots {
		if clabs.slots[s] != nil || pairSlots[s] || inUse[s] {
			continue
		}
		l := &clab{slot: s, hub: fmt.Sprintf("%sh-%d-%d", qnsPrefix, pid, s)}
		for i := range qmembers {
			l.ns[i] = fmt.Sprintf("%s%d-%d-%d", qnsPrefix, i+1, pid, s)
			l.veth[i] = fmt.Sprintf("cq%d%c%d", pid, 'a'+i, s) // at most 2+7+1+3 = 13 characters
			l.api[i] = fmt.Sprintf("198.19.%d.%d", s, 4*i+1)
			l.host[i] = fmt.Sprintf("198.19.%d.%d", s, 4*i+2)
		}
		if err := l.buildRoot(); err != nil {
			l.remove()
			return nil, err
		}
		clabs.slots[s] = l
		return l, nil
	}
	return nil, fmt.Errorf("cluster lab: all %d slots of 198.19.0.0/16 are in use", maxSlots)
}

// buildRoot creates the namespaces and the api veths with their root-side
// addresses.
func (l *clab) buildRoot() error {
	cmds := [][]string{{"netns", "add", l.hub}}
	for i := range qmembers {
		cmds = append(cmds,
			[]string{"netns", "add", l.ns[i]},
			[]string{"link", "add", apiIf, "netns", l.ns[i], "type", "veth", "peer", "name", l.veth[i]},
			[]string{"addr", "add", l.host[i] + "/30", "dev", l.veth[i]},
			[]string{"link", "set", l.veth[i], "up"})
	}
	for _, c := range cmds {
		if err := ip(c...); err != nil {
			return err
		}
	}
	return nil
}

// build adds the bridge, each member's port on it and the namespace-side
// addresses.
func (l *clab) build() error {
	cmds := [][]string{
		{"-n", l.hub, "link", "add", bridgeIf, "type", "bridge"},
		{"-n", l.hub, "link", "set", bridgeIf, "up"},
		{"-n", l.hub, "link", "set", "lo", "up"},
	}
	for i := range qmembers {
		port := fmt.Sprintf("p%d", i+1)
		cmds = append(cmds,
			[]string{"link", "add", clusterIf, "netns", l.ns[i], "type", "veth", "peer", "name", port, "netns", l.hub},
			[]string{"-n", l.hub, "link", "set", port, "master", bridgeIf},
			[]string{"-n", l.hub, "link", "set", port, "up"},
			[]string{"-n", l.ns[i], "addr", "add", clusterAddr(i) + "/24", "dev", clusterIf},
			[]string{"-n", l.ns[i], "addr", "add", l.api[i] + "/30", "dev", apiIf})
		for _, dev := range []string{"lo", clusterIf, apiIf} {
			cmds = append(cmds, []string{"-n", l.ns[i], "link", "set", dev, "up"})
		}
	}
	for _, c := range cmds {
		if err := ip(c...); err != nil {
			return err
		}
	}
	// Wait for each member's port to carry traffic: veths come up at
	// once, but the addresses may be tentative for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for i := range qmembers {
		for {
			out, err := exec.Command("ip", "-n", l.ns[i], "-4", "addr", "show", "dev", clusterIf).CombinedOutput()
			if err == nil && strings.Contains(string(out), clusterAddr(i)) && !strings.Contains(string(out), "tentative") {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("member %d: port not ready: %s", i+1, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// remove deletes the lab: the processes left in its namespaces, the
// root-side veths, the namespaces (the bridge and the members' ports go
// with them). It returns what could not be removed: a leak.
func (l *clab) remove() []error {
	all := append([]string{l.hub}, l.ns[:]...)
	for _, ns := range all {
		killNamespace(ns)
	}
	for _, dev := range l.veth {
		if linkExists(dev) {
			ip("link", "del", dev)
		}
	}
	for _, ns := range all {
		if nsExists(ns) {
			ip("netns", "del", ns)
		}
	}
	var errs []error
	for _, ns := range all {
		if nsExists(ns) {
			errs = append(errs, fmt.Errorf("leaked namespace %s", ns))
		}
	}
	for _, dev := range l.veth {
		if linkExists(dev) {
			errs = append(errs, fmt.Errorf("leaked interface %s", dev))
		}
	}
	return errs
}

// faultOn replaces member i's fault with rules for its input and output
// hooks; every rule names clu0, so the api path is never touched.
func (l *clab) faultOn(i int, in, out []string) error {
	script := fmt.Sprintf("table inet %s\ndelete table inet %s\ntable inet %s {\n"+
		"\tchain in {\n\t\ttype filter hook input priority filter; policy accept;\n%s\t}\n"+
		"\tchain out {\n\t\ttype filter hook output priority filter; policy accept;\n%s\t}\n}\n",
		ruleSet, ruleSet, ruleSet, stmts(in), stmts(out))
	cmd := exec.Command("ip", "netns", "exec", l.ns[i], "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in member %d: %v: %s\n%s", i+1, err, out, script)
	}
	return nil
}

// isolate cuts member i off from the others, both ways.
func (l *clab) isolate(i int) error {
	return l.faultOn(i, []string{`iifname "clu0" drop`}, []string{`oifname "clu0" drop`})
}

// dropOut drops what member i sends to the others; theirs still reach it.
func (l *clab) dropOut(i int) error { return l.faultOn(i, nil, []string{`oifname "clu0" drop`}) }

// dropIn drops what the others send to member i; its own still reach them.
func (l *clab) dropIn(i int) error { return l.faultOn(i, []string{`iifname "clu0" drop`}, nil) }

// cutPath cuts the path between members i and j only, both ways: each
// still reaches the third.
func (l *clab) cutPath(i, j int) error {
	return l.faultOn(i,
		[]string{fmt.Sprintf(`iifname "clu0" ip saddr %s drop`, clusterAddr(j))},
		[]string{fmt.Sprintf(`oifname "clu0" ip daddr %s drop`, clusterAddr(j))})
}

// loss drops pct % of the packets every member sends on the bridge, at
// random: each packet crosses one member's output hook, so every path,
// either way, loses pct %.
func (l *clab) loss(pct int) error {
	for i := range qmembers {
		if err := l.faultOn(i, nil, []string{fmt.Sprintf(`oifname "clu0" numgen random mod 100 < %d drop`, pct)}); err != nil {
			return err
		}
	}
	return nil
}

// heal removes every member's fault.
func (l *clab) heal() error {
	for i := range qmembers {
		cmd := exec.Command("ip", "netns", "exec", l.ns[i], "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(fmt.Sprintf("table inet %s\ndelete table inet %s\n", ruleSet, ruleSet))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft in member %d: %v: %s", i+1, err, out)
		}
	}
	return nil
}

// clusterLabPID parses clsq-<1|2|3|h>-<pid>-<slot>.
func clusterLabPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, qnsPrefix)
	if !ok || len(rest) < 2 || !strings.ContainsRune("123h", rune(rest[0])) || rest[1] != '-' {
		return 0, false
	}
	f := strings.Split(rest[2:], "-")
	if len(f) != 2 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(f[0])
	_, err2 := strconv.Atoi(f[1])
	return pid, err1 == nil && err2 == nil
}

// removeStaleClusterLabs removes the cluster labs of runs of the suite that
// no longer exist; their root-side veths go with their namespaces.
func removeStaleClusterLabs() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		pid, ok := clusterLabPID(e.Name())
		if !ok || pid == os.Getpid() || runningSuite(pid) {
			continue
		}
		killNamespace(e.Name())
		ip("netns", "del", e.Name())
	}
}

// removeOwnClusterLabs removes what is left of this run's cluster labs.
func removeOwnClusterLabs() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if pid, ok := clusterLabPID(e.Name()); ok && pid == os.Getpid() {
			killNamespace(e.Name())
			ip("netns", "del", e.Name())
		}
	}
	prefix := fmt.Sprintf("cq%d", os.Getpid())
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if rest, ok := strings.CutPrefix(i.Name, prefix); ok && len(rest) > 1 && rest[0] >= 'a' && rest[0] <= 'c' {
			if _, err := strconv.Atoi(rest[1:]); err == nil {
				ip("link", "del", i.Name)
			}
		}
	}
}
