// Command clooster keeps a DNS record pointed at whichever of two servers is
// alive. See README.md and SPEC.md for the command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/clooster/clooster/watchdog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a runtime failure
	exitUsage   = 2 // a usage error or an invalid configuration
	// exitRestart: the daemon stopped to be started again (SIGUSR2);
	// systemd's RestartForceExitStatus and a container's restart policy
	// start it again (EX_TEMPFAIL).
	exitRestart = 75
)

// usageError is a bad command line or configuration: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const usage = `usage:
  clooster [-config FILE] [-dry-run] [FILE]   run the daemon
  clooster check [-config FILE] [FILE]        validate and print the effective configuration
  clooster check FILE FILE                    compare the two nodes' files (CLOOSTER_* variables not applied)
  clooster check -diff NEWFILE [FILE]         print what a reload to NEWFILE would change, live or at a restart
  clooster status [-addr HOST:PORT] [-json] [-token-file FILE]
                                              show the state of a running daemon
  clooster notify-test [-config FILE] [FILE]  send a test message to every notification channel
  clooster cluster add NAME HOST:PORT [-config FILE]
                                              ask the cluster's leader to add a voter
  clooster cluster remove NAME [-config FILE] ask the cluster's leader to remove a member
  clooster cluster recover -force [-config FILE]
                                              make this stopped member the only voter (last resort)
  clooster secret                             print a fresh random key
  clooster demo                               failover and failback on loopback, no account needed
  clooster version
`

func main() {
	oneProcessor()
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext ends at the first SIGTERM or SIGINT (a stop), or SIGUSR2
// (a restart: its cause is watchdog.ErrRestart). Later signals are
// caught and ignored until stop is called: the node is already stopping.
func signalContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGUSR2 {
				cancel(watchdog.ErrRestart)
			} else {
				cancel(context.Canceled)
			}
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// run dispatches a command line and chooses the exit status, in one place.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cmd, rest := "run", args
	if len(args) > 0 {
		switch args[0] {
		case "run", "check", "status", "cluster", "secret", "demo", "version", "notify-test", "help":
			cmd, rest = args[0], args[1:]
		case "-h", "-help", "--help":
			cmd, rest = "help", nil
		}
	}
	var err error
	switch cmd {
	case "run":
		err = cmdRun(ctx, rest, environ, stderr)
	case "check":
		err = cmdCheck(rest, environ, stdout, stderr)
	case "status":
		err = cmdStatus(ctx, rest, environ, stdout)
	case "cluster":
		err = cmdCluster(ctx, rest, environ, stdout)
	case "secret":
		err = cmdSecret(rest, stdout)
	case "demo":
		err = cmdDemo(ctx, rest, stdout)
	case "notify-test":
		err = cmdNotifyTest(ctx, rest, environ, stdout, stderr)
	case "version", "help":
		if len(rest) > 0 {
			err = usagef("%w: %s takes no arguments (got %q)", errFlags, cmd, rest[0])
		} else if cmd == "version" {
			fmt.Fprintf(stdout, "clooster %s\n", buildVersion())
		} else {
			fmt.Fprint(stdout, usage)
		}
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if err == nil {
		if cmd == "run" && errors.Is(context.Cause(ctx), watchdog.ErrRestart) {
			return exitRestart
		}
		return exitOK
	}
	fmt.Fprintf(stderr, "clooster: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		if errors.Is(err, errFlags) {
			fmt.Fprint(stderr, usage)
		}
		return exitUsage
	}
	return exitFailure
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
