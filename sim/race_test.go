//go:build race

package sim_test

// raceEnabled: the race detector slows a run tenfold.
const raceEnabled = true
