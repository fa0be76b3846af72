//go:build race

package quorum_test

// raceEnabled: the race detector slows a run tenfold.
const raceEnabled = true
