//go:build !unix

package procgroup

import "os/exec"

// Set leaves cmd as it is: without process groups, cancellation
// kills the process alone.
func Set(cmd *exec.Cmd) {}

// Kill does nothing without process groups.
func Kill(cmd *exec.Cmd) error { return nil }
