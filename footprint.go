package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory the runtime holds free but has not handed back is returned once
// it passes trimAbove, checked every trimEvery. The Go runtime returns it
// by itself only down to about 10 % over its heap goal (4 MB at least),
// and slowly: after a burst of reconnects a node would sit megabytes above
// its idle size. A check is one metrics read; a trim is one collection of a
// heap under 1 MB.
const (
	trimEvery = time.Minute
	trimAbove = 512 << 10
)

const heapFree = "/memory/classes/heap/free:bytes"

// trimMemory runs until ctx ends.
func trimMemory(ctx context.Context) {
	t := time.NewTicker(trimEvery)
	defer t.Stop()
	sample := []metrics.Sample{{Name: heapFree}}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if freeHeld(sample) > trimAbove {
			debug.FreeOSMemory()
		}
	}
}

// freeHeld is the heap memory that is free and still backed by physical
// memory.
func freeHeld(sample []metrics.Sample) uint64 {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// oneProcessor runs Go code on one processor unless GOMAXPROCS is set. A
// node's work is a few small events a second, and an idle node then wakes
// fewer threads for each one: idle CPU 0.15 to 0.11 % of a core on the
// server, 0.20 to 0.17 % on the client (go run ./bench -idle, two runs each).
func oneProcessor() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
