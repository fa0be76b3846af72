//go:build !unix

package hooks

import "os/exec"

// setProcessGroup leaves cmd as it is: without process groups, cancellation
// kills the process alone.
func setProcessGroup(cmd *exec.Cmd) {}

// killProcessGroup does nothing without process groups.
func killProcessGroup(cmd *exec.Cmd) error { return nil }
