package pairtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Binary is a clooster executable in a temporary directory of its own.
type Binary struct {
	Path string

	mu  sync.Mutex
	dir string // "" once removed
}

// Build compiles the module's main package with the go command on PATH, as
// go build does by default, into a new temporary directory. The current
// directory is within the module, as a test's is.
func Build() (*Binary, error) { return build(false) }

// BuildShipped compiles it as it is shipped: static (CGO_ENABLED=0),
// stripped, with -trimpath.
func BuildShipped() (*Binary, error) { return build(true) }

func build(shipped bool) (*Binary, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("build clooster: the go command is not on PATH: %w", err)
	}
	dir, err := os.MkdirTemp("", "clooster-bin-")
	if err != nil {
		return nil, fmt.Errorf("build clooster: %w", err)
	}
	b := &Binary{Path: filepath.Join(dir, "clooster"), dir: dir}
	args := []string{"build", "-o", b.Path}
	if shipped {
		args = append(args, "-trimpath", "-ldflags", "-s -w")
	}
	cmd := exec.Command(goCmd, append(args, "github.com/clooster/clooster")...)
	if shipped {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		b.Remove()
		return nil, fmt.Errorf("build clooster: %w\n%s", err, out.Bytes())
	}
	return b, nil
}

// Remove deletes the binary and its directory. It may be called more than
// once, from any goroutine (a signal handler's).
func (b *Binary) Remove() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		os.RemoveAll(b.dir)
		b.dir = ""
	}
}

// RunCLI runs a short command of the binary (check, version, ...) in dir,
// with env as its whole environment, and returns its output and exit
// status. It fails t if the command is still running after 10 s.
func (b *Binary) RunCLI(t T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(b.Path, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("clooster %s: %v", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		cmd.Process.Kill()
		<-done
		t.Fatalf("clooster %s: still running after 10 s", strings.Join(args, " "))
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}
