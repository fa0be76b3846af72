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
func TestFreeHeld(t *testing.T) {
	sample := []metrics.Sample{{Name: heapFree}}
	for i := range 64 {
		sink = append(sink, make([]byte, 64<<10))
		sink[i][0] = 1
	}
	sink = nil
	runtime.GC()
	if got := freeHeld(sample); got < trimAbove {
		t.Fatalf("after freeing 4 MiB the runtime holds %d bytes free, want over %d", got, trimAbove)
	}
	debug.FreeOSMemory()
	if got := freeHeld(sample); got >= trimAbove {
		t.Errorf("after FreeOSMemory the runtime still holds %d bytes free", got)
	}
}
