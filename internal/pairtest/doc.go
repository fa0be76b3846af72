// Package pairtest runs clooster as its operators do, for the end-to-end
// tests, the fault suite and the bench: it builds the binary, stands in for
// the Cloudflare and Pushbullet APIs (internal/fakecf, internal/fakepb) on
// addresses the caller chooses, writes a node's configuration, starts the
// binary as a process with an explicit whole environment, and reads what the
// process's status listener says.
//
// Everything that must be stopped is registered with T.Cleanup: servers,
// processes, temporary directories. *testing.T and *testing.B are a T; a
// program that is not a test runs its steps with Run, which makes a T of its
// own, turns Fatalf into an error and runs the cleanups when the step ends.
//
// Concurrency: whatever takes a T may end its caller with Fatalf, so it is
// called, as testing requires, from the goroutine that runs the test or the
// step. The rest (KillAll, Within, and the methods of Fakes, Proc and Binary
// that take no T) may be called from any goroutine. The package's own
// state, the ports it handed out and the processes it runs, is safe to
// share between parallel tests. Nodes and Pairs are plain values: the
// caller changes them before it starts their processes.
package pairtest
