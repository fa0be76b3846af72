// Package procgroup runs a command as the leader of its own process group,
// so that a timeout or a cancellation kills everything it started: health
// check commands and hooks use it. It has no state and starts no goroutine.
package procgroup
