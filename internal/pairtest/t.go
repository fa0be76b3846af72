package pairtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
)

// T is what the package needs of its caller: testing.TB's methods that
// fail, log, clean up and make temporary directories. *testing.T and
// *testing.B are a T; a program gets one from Run.
type T interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
	TempDir() string
	// Context is done when the test, or the program's step, is to stop:
	// waits end early, failing.
	Context() context.Context
}

// Run runs f as one step of a program that is not a test, with a T of its
// own, and waits for it. As in a test, Fatalf ends f (f runs on a
// goroutine of its own, which Fatalf exits) and Errorf marks the step
// failed; Logf writes to standard error, unless ctx is done: an
// interrupted program needs no diagnosis. When f has returned, the T's
// context is cancelled and the cleanups run, newest first: what f started
// is stopped when Run returns. The error is the messages of Errorf and
// Fatalf, one a line, or nil.
func Run(ctx context.Context, f func(T)) error {
	return run(ctx, os.Stderr, f)
}

func run(ctx context.Context, log io.Writer, f func(T)) error {
	s := &step{parent: ctx, log: log}
	s.ctx, s.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(s)
	}()
	<-done
	s.cancel()
	for {
		s.mu.Lock()
		n := len(s.cleanups)
		if n == 0 {
			s.mu.Unlock()
			break
		}
		c := s.cleanups[n-1]
		s.cleanups = s.cleanups[:n-1]
		s.mu.Unlock()
		// Each cleanup on a goroutine of its own, so that a Fatalf in it
		// ends only it.
		done := make(chan struct{})
		go func() {
			defer close(done)
			c()
		}()
		<-done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(s.errs, "\n"))
}

// step is the T of Run.
type step struct {
	parent context.Context // Run's
	ctx    context.Context
	cancel context.CancelFunc
	log    io.Writer

	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (s *step) Helper() {}

func (s *step) Context() context.Context { return s.ctx }

func (s *step) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *step) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

func (s *step) Fatalf(format string, args ...any) {
	s.Errorf(format, args...)
	runtime.Goexit()
}

func (s *step) Logf(format string, args ...any) {
	if s.parent.Err() == nil {
		fmt.Fprintf(s.log, format+"\n", args...)
	}
}

func (s *step) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.errs) > 0
}

func (s *step) TempDir() string {
	dir, err := os.MkdirTemp("", "clooster-")
	if err != nil {
		s.Fatalf("temporary directory: %v", err)
	}
	s.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
