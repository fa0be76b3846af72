//go:build faults && linux

package faults

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The lab's names and addresses. Every address is in the benchmarking range
// 198.18.0.0/15; the link's are private to each lab's namespaces, the API
// path's are in the root namespace and differ per slot.
const (
	nsPrefix = "clst-"
	linkIf   = "link0"      // the veth between A and B, in both namespaces
	apiIf    = "api0"       // the veth to the root namespace, in each namespace
	linkA    = "198.18.0.1" // A's end of the link; A listens here
	linkB    = "198.18.0.2"
	maxSlots = 256
	ruleSet  = "clst_fault" // the nftables table that holds the current fault
)

// lab is two namespaces, A and B, joined by a link, each with a veth to the
// root namespace for the API path. Create it with newLab; it removes itself
// when its test ends.
type lab struct {
	slot         int
	nsA, nsB     string
	vethA, vethB string // root-side ends of the API veths
	apiA, apiB   string // namespace-side API addresses: the nodes' status listeners
	hostA, hostB string // root-side API addresses: where the fakes listen
}

var labs struct {
	sync.Mutex
	slots map[int]*lab
}

// newLab builds a lab in a free slot and removes it when t ends.
func newLab(t testing.TB) *lab {
	t.Helper()
	l, err := allocLab()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, err := range l.remove() {
			t.Error(err)
		}
		labs.Lock()
		delete(labs.slots, l.slot)
		labs.Unlock()
	})
	if err := l.build(); err != nil {
		t.Fatalf("lab %d: %v", l.slot, err)
	}
	return l
}

// allocLab picks a slot no lab of this run holds and whose root-side
// addresses no interface of the root namespace has, under a file lock so
// that concurrent runs of the suite on one host pick different slots.
func allocLab() (*lab, error) {
	unlock, err := lockFile(filepath.Join(os.TempDir(), "clooster-faults.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	inUse, err := rootAddrs()
	if err != nil {
		return nil, err
	}
	labs.Lock()
	defer labs.Unlock()
	if labs.slots == nil {
		labs.slots = make(map[int]*lab)
	}
	pid := os.Getpid()
	for s := range maxSlots {
		if labs.slots[s] != nil || inUse[s] {
			continue
		}
		l := &lab{
			slot:  s,
			nsA:   fmt.Sprintf("%sa-%d-%d", nsPrefix, pid, s),
			nsB:   fmt.Sprintf("%sb-%d-%d", nsPrefix, pid, s),
			vethA: fmt.Sprintf("cl%da%d", pid, s), // at most 2+7+1+3 = 13 characters
			vethB: fmt.Sprintf("cl%db%d", pid, s),
			apiA:  fmt.Sprintf("198.19.%d.1", s),
			hostA: fmt.Sprintf("198.19.%d.2", s),
			apiB:  fmt.Sprintf("198.19.%d.5", s),
			hostB: fmt.Sprintf("198.19.%d.6", s),
		}
		// The root-side addresses are added under the file lock, so that
		// another run sees this slot as taken.
		if err := l.buildRoot(); err != nil {
			l.remove()
			return nil, err
		}
		labs.slots[s] = l
		return l, nil
	}
	return nil, fmt.Errorf("lab: all %d slots of 198.19.0.0/16 are in use", maxSlots)
}

// rootAddrs returns the slots whose /24 in 198.19.0.0/16 has an address in
// the root namespace.
func rootAddrs() (map[int]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("lab: list addresses: %w", err)
	}
	used := make(map[int]bool)
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil || !p.Addr().Is4() {
			continue
		}
		b := p.Addr().As4()
		if b[0] == 198 && b[1] == 19 {
			used[int(b[2])] = true
		}
	}
	return used, nil
}

func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// buildRoot creates the namespaces and the API veths with their root-side
// addresses.
func (l *lab) buildRoot() error {
	cmds := [][]string{
		{"netns", "add", l.nsA},
		{"netns", "add", l.nsB},
		{"link", "add", apiIf, "netns", l.nsA, "type", "veth", "peer", "name", l.vethA},
		{"link", "add", apiIf, "netns", l.nsB, "type", "veth", "peer", "name", l.vethB},
		{"addr", "add", l.hostA + "/30", "dev", l.vethA},
		{"addr", "add", l.hostB + "/30", "dev", l.vethB},
		{"link", "set", l.vethA, "up"},
		{"link", "set", l.vethB, "up"},
	}
	for _, c := range cmds {
		if err := ip(c...); err != nil {
			return err
		}
	}
	return nil
}

// build adds the link and the namespace-side addresses.
func (l *lab) build() error {
	cmds := [][]string{
		{"link", "add", linkIf, "netns", l.nsA, "type", "veth", "peer", "name", linkIf, "netns", l.nsB},
		{"-n", l.nsA, "addr", "add", linkA + "/30", "dev", linkIf},
		{"-n", l.nsB, "addr", "add", linkB + "/30", "dev", linkIf},
		{"-n", l.nsA, "addr", "add", l.apiA + "/30", "dev", apiIf},
		{"-n", l.nsB, "addr", "add", l.apiB + "/30", "dev", apiIf},
	}
	for _, ns := range []string{l.nsA, l.nsB} {
		for _, dev := range []string{"lo", linkIf, apiIf} {
			cmds = append(cmds, []string{"-n", ns, "link", "set", dev, "up"})
		}
	}
	for _, c := range cmds {
		if err := ip(c...); err != nil {
			return err
		}
	}
	// Wait for the link to carry traffic: veths come up at once, but the
	// addresses may still be tentative for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := exec.Command("ip", "-n", l.nsA, "-4", "addr", "show", "dev", linkIf).CombinedOutput()
		if err == nil && strings.Contains(string(out), linkA) && !strings.Contains(string(out), "tentative") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("link not ready: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// remove deletes the lab: the processes still in its namespaces (there
// should be none), the root-side veths, the namespaces. It returns what
// could not be removed: a leak.
func (l *lab) remove() []error {
	for _, ns := range []string{l.nsA, l.nsB} {
		killNamespace(ns)
	}
	for _, dev := range []string{l.vethA, l.vethB} {
		if linkExists(dev) {
			ip("link", "del", dev)
		}
	}
	for _, ns := range []string{l.nsA, l.nsB} {
		if nsExists(ns) {
			ip("netns", "del", ns)
		}
	}
	var errs []error
	for _, ns := range []string{l.nsA, l.nsB} {
		if nsExists(ns) {
			errs = append(errs, fmt.Errorf("leaked namespace %s", ns))
		}
	}
	for _, dev := range []string{l.vethA, l.vethB} {
		if linkExists(dev) {
			errs = append(errs, fmt.Errorf("leaked interface %s", dev))
		}
	}
	return errs
}

// fault replaces the lab's current fault with rules, nftables statements for
// the input and output hooks of namespace A (which only ever name link0).
func (l *lab) fault(in, out []string) error {
	script := fmt.Sprintf("table inet %s\ndelete table inet %s\ntable inet %s {\n"+
		"\tchain in {\n\t\ttype filter hook input priority filter; policy accept;\n%s\t}\n"+
		"\tchain out {\n\t\ttype filter hook output priority filter; policy accept;\n%s\t}\n}\n",
		ruleSet, ruleSet, ruleSet, stmts(in), stmts(out))
	cmd := exec.Command("ip", "netns", "exec", l.nsA, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s\n%s", err, out, script)
	}
	return nil
}

func stmts(s []string) string {
	var b strings.Builder
	for _, x := range s {
		b.WriteString("\t\t" + x + "\n")
	}
	return b.String()
}

// The faults, all on link0 of namespace A.
func (l *lab) blackhole() error {
	return l.fault([]string{`iifname "link0" drop`}, []string{`oifname "link0" drop`})
}

// dropAtoB drops what A sends to B; B's packets still reach A.
func (l *lab) dropAtoB() error { return l.fault(nil, []string{`oifname "link0" drop`}) }

// dropBtoA drops what B sends to A; A's packets still reach B.
func (l *lab) dropBtoA() error { return l.fault([]string{`iifname "link0" drop`}, nil) }

// loss drops pct % of the packets, at random, each way.
func (l *lab) loss(pct int) error {
	r := fmt.Sprintf("numgen random mod 100 < %d drop", pct)
	return l.fault([]string{`iifname "link0" ` + r}, []string{`oifname "link0" ` + r})
}

// resets answers every TCP segment on the link, either way, with a reset:
// both ends of the established connection are reset the next time they
// send, and new connections are refused. The resets themselves pass.
func (l *lab) resets() error {
	return l.fault(
		[]string{`iifname "link0" tcp flags & rst == rst accept`, `iifname "link0" meta l4proto tcp reject with tcp reset`},
		[]string{`oifname "link0" tcp flags & rst == rst accept`, `oifname "link0" meta l4proto tcp reject with tcp reset`})
}

// cut makes a partition of the given kind: "blackhole", "a-to-b",
// "b-to-a" or "reset".
func (l *lab) cut(kind string) error {
	switch kind {
	case "blackhole":
		return l.blackhole()
	case "a-to-b":
		return l.dropAtoB()
	case "b-to-a":
		return l.dropBtoA()
	case "reset":
		return l.resets()
	}
	return fmt.Errorf("unknown cut %q", kind)
}

// heal removes the fault.
func (l *lab) heal() error {
	cmd := exec.Command("ip", "netns", "exec", l.nsA, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("table inet %s\ndelete table inet %s\n", ruleSet, ruleSet))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, out)
	}
	return nil
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func nsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return err == nil
}

func linkExists(dev string) bool {
	_, err := net.InterfaceByName(dev)
	return err == nil
}

// killNamespace kills the processes left in a namespace of this suite: the
// nodes of a run that could not clean up.
func killNamespace(ns string) {
	if !nsExists(ns) {
		return
	}
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			pids = append(pids, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, pid := range pids {
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// removeStaleLabs removes the labs of runs of the suite that no longer
// exist: namespaces clst-a-<pid>-<slot> and clst-b-<pid>-<slot> whose pid
// is gone or is not a test binary of this package. Their root-side veths go
// with them.
func removeStaleLabs() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		name := e.Name()
		pid, ok := labPID(name)
		if !ok || pid == os.Getpid() || runningSuite(pid) {
			continue
		}
		killNamespace(name)
		ip("netns", "del", name)
	}
}

// removeOwnLabs removes what is left of this run's labs.
func removeOwnLabs() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if pid, ok := labPID(e.Name()); ok && pid == os.Getpid() {
			killNamespace(e.Name())
			ip("netns", "del", e.Name())
		}
	}
	prefix := fmt.Sprintf("cl%d", os.Getpid())
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if rest, ok := strings.CutPrefix(i.Name, prefix); ok && len(rest) > 1 && (rest[0] == 'a' || rest[0] == 'b') {
			if _, err := strconv.Atoi(rest[1:]); err == nil {
				ip("link", "del", i.Name)
			}
		}
	}
}

// labPID parses clst-a-<pid>-<slot> or clst-b-<pid>-<slot>.
func labPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, nsPrefix)
	if !ok || len(rest) < 2 || (rest[0] != 'a' && rest[0] != 'b') || rest[1] != '-' {
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

// runningSuite reports whether pid is a live test binary of this package.
func runningSuite(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return false
	}
	self, _ := os.ReadFile("/proc/self/comm")
	return strings.TrimSpace(string(comm)) == strings.TrimSpace(string(self))
}
