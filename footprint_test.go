package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

var sink [][]byte

// TestFreeHeld checks that the metric trimMemory reads exists and moves:
// memory freed by a collection shows as held, and FreeOSMemory returns it.
// Other tests of the package run alongside, so it compares amounts well
// apart rather than exact figures.
func TestFreeHeld(t *testing.T) {
	const freed = 8 << 20
	sample := []metrics.Sample{{Name: heapFree}}
	for i := range freed / (64 << 10) {
		sink = append(sink, make([]byte, 64<<10))
		sink[i][0] = 1
	}
	sink = nil
	runtime.GC()
	before := freeHeld(sample)
	if before < freed/2 {
		t.Fatalf("after freeing %d MiB the runtime holds %d bytes free, want at least half of it", freed>>20, before)
	}
	debug.FreeOSMemory()
	if after := freeHeld(sample); after > before-freed/2 {
		t.Errorf("FreeOSMemory returned too little: %d bytes free before, %d after", before, after)
	}
}

func TestOneProcessor(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })

	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "3")
	oneProcessor()
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("with GOMAXPROCS=3 set: GOMAXPROCS(0) = %d, want it left at 4 (the runtime read the variable at start)", got)
	}

	t.Setenv("GOMAXPROCS", "")
	oneProcessor()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("without GOMAXPROCS: GOMAXPROCS(0) = %d, want 1", got)
	}
}
