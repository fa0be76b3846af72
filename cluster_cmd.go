package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/quorum"
	"github.com/clooster/clooster/watchdog"
)

// askTimeout bounds the request to one member: the leader answers a
// membership change once a majority has it, within the control
// protocol's 10 s.
const askTimeout = 12 * time.Second

// recoverRisk is what cluster recover says before it runs, and why it
// wants -force.
const recoverRisk = `cluster recover makes this member the cluster's only voter, offline, so that it leads
alone once started: the last resort when no quorum can form again because the other
members are lost for good. Stop this member first. Every other member must then stay
stopped: one started with its old state still counts the old members, and two leaders
could write DNS at once. To rebuild the cluster, stop every member, empty every
state_dir (this one's too) and start them all: they start afresh from cluster.nodes.`

// cmdCluster runs `clooster cluster add|remove|recover`.
func cmdCluster(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("%w: cluster needs add, remove or recover", errFlags)
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("cluster " + sub)
	configPath := fs.String("config", "", "configuration file")
	var force *bool
	var want int
	switch sub {
	case "add":
		want = 2
	case "remove":
		want = 1
	case "recover":
		force = fs.Bool("force", false, "make this member the only voter")
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	default:
		return usagef("%w: cluster %s: unknown (want add, remove or recover)", errFlags, sub)
	}
	pos, err := parseInterleaved(fs, rest)
	if err != nil {
		return err
	}
	if len(pos) != want {
		switch sub {
		case "add":
			return usagef("%w: cluster add takes NAME HOST:PORT (got %d arguments)", errFlags, len(pos))
		case "remove":
			return usagef("%w: cluster remove takes NAME (got %d arguments)", errFlags, len(pos))
		}
		return usagef("%w: cluster recover takes no arguments (got %q)", errFlags, pos[0])
	}
	if sub == "add" {
		if err := checkMemberArgs(pos[0], pos[1]); err != nil {
			return err
		}
	} else if sub == "remove" {
		if err := checkMemberArgs(pos[0], ""); err != nil {
			return err
		}
	}
	cfg, _, err := loadConfig(*configPath, nil, environ)
	if sub == "recover" && !*force {
		// A member that runs is said first: the risk is for later.
		if err == nil && cfg.ClusterMode() && !cfg.Witness() {
			if err := notRunning(cfg.Self().Name, cfg.StateDir()); err != nil {
				return err
			}
		}
		return usageError{fmt.Errorf("cluster recover: refused without -force\n\n%s\n\nRun it again with -force to go ahead", recoverRisk)}
	}
	if err != nil {
		return err
	}
	if !cfg.ClusterMode() {
		return usagef("cluster %s: this configuration has no cluster block (a pair's): nothing to change", sub)
	}
	switch sub {
	case "add":
		return clusterChange(ctx, cfg, stdout, pos[0], pos[1])
	case "remove":
		return clusterChange(ctx, cfg, stdout, pos[0], "")
	}
	return clusterRecover(cfg, stdout)
}

// parseInterleaved parses fs's flags wherever they stand among the
// arguments (NAME -config FILE HOST:PORT) and returns the others.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for range len(args) + 1 {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	return pos, nil
}

// checkMemberArgs checks a member's name, and its address if not "", as
// the configuration checks them.
func checkMemberArgs(name, address string) error {
	if name == "" || len(name) > 253 || strings.IndexFunc(name, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return usagef("%w: NAME: want 1 to 253 bytes of printable ASCII without spaces (got %q)", errFlags, name)
	}
	if address == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(address)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return usagef("%w: HOST:PORT: want a host and a port from 1 to 65535 (got %q)", errFlags, address)
	}
	return nil
}

// clusterChange asks each member in turn to add (address not "") or
// remove the member name until one, the leader, does it.
func clusterChange(ctx context.Context, cfg *config.Config, stdout io.Writer, name, address string) error {
	tc, err := watchdog.ClientTLS("", cfg.TLS.CA, cfg.TLS.Fingerprint)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	members := cfg.Members()
	c, err := quorum.NewClient(quorum.ClientConfig{Self: cfg.ThisServer, Members: members, Key: []byte(cfg.Key), TLS: tc})
	if err != nil {
		return err
	}
	verb := "remove " + name
	if address != "" {
		verb = "add " + name + " at " + address
	}
	var tried []string
	notLeader := 0
	for _, m := range members {
		actx, cancel := context.WithTimeout(ctx, askTimeout)
		if address != "" {
			err = c.AddVoter(actx, m, name, address)
		} else {
			err = c.RemoveServer(actx, m, name)
		}
		cancel()
		if err == nil {
			listed := slices.ContainsFunc(members, func(o quorum.Member) bool { return o.Name == name })
			if address != "" {
				fmt.Fprintf(stdout, "clooster: %s, the leader, added %s at %s as a voter\n", m.Name, name, address)
				if !listed {
					fmt.Fprintf(stdout, "  hint: %s is not in this file's cluster.nodes: list it in every member's file, with its role and priority, and restart them one at a time\n", name)
				}
			} else {
				fmt.Fprintf(stdout, "clooster: %s, the leader, removed %s\n", m.Name, name)
				if listed {
					fmt.Fprintf(stdout, "  hint: stop %s for good, take it out of cluster.nodes in every member's file and restart them one at a time\n", name)
				}
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, quorum.ErrNotLeader) {
			notLeader++
		}
		tried = append(tried, fmt.Sprintf("  %s (%s): %v", m.Name, m.Address, err))
	}
	msg := fmt.Sprintf("cluster: no member would %s:\n%s", verb, strings.Join(tried, "\n"))
	if notLeader == len(members) {
		msg += "\n  hint: no member leads now (an election, or no quorum): see the status page, and try again once it shows a leader"
	}
	return errors.New(msg)
}

// clusterRecover runs quorum.Recover on this member's state_dir, which no
// running member may hold: it holds the state_dir's lock meanwhile, as a
// daemon does. Raft's own log is left out: what matters comes back as an
// error.
func clusterRecover(cfg *config.Config, stdout io.Writer) error {
	self := cfg.Self()
	if self.Role == quorum.RoleWitness {
		return usagef("cluster recover: %s is a witness, which never writes DNS: recover a node instead", self.Name)
	}
	timings, err := quorum.Preset(cfg.Cluster.Preset)
	if err != nil {
		return usageError{err}
	}
	dir := cfg.StateDir()
	if err := notRunning(self.Name, dir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cluster recover: no raft state in %s: nothing to recover (is state_dir right?)", dir)
	}
	release, err := lockStateDir(dir)
	if err != nil {
		// A daemon started since.
		return fmt.Errorf("cluster recover: %w", err)
	}
	defer release()
	st, err := quorum.OpenStores(dir, nil)
	if err != nil {
		return fmt.Errorf("cluster recover: %w", err)
	}
	err = quorum.Recover(self, timings, st)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close state: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("cluster recover: %w", err)
	}
	fmt.Fprintf(stdout, "clooster: %s is now the only voter in %s; start it, and keep every other member stopped until the cluster is rebuilt\n", self.Name, dir)
	return nil
}

// notRunning checks that no daemon runs member name on the state_dir
// dir: one holds its lock file and its raft.db locked. It changes nothing
// in dir, and an absent dir or file is not in use.
func notRunning(name, dir string) error {
	for _, f := range []string{"lock", "raft.db"} {
		path := filepath.Join(dir, f)
		err := lockFree(path)
		switch {
		case err == nil || errors.Is(err, fs.ErrNotExist):
		case errors.Is(err, syscall.EWOULDBLOCK):
			return fmt.Errorf("cluster recover: %s is running: a clooster holds its state_dir %s (%s is locked).\n"+
				"Stop it first (systemctl stop clooster), then run recover again; nothing was changed", name, dir, path)
		default:
			return fmt.Errorf("cluster recover: %w", err)
		}
	}
	return nil
}

// lockFree checks that no process holds the lock of the file at path: it
// takes it and gives it back at once.
func lockFree(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
