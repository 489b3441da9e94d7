package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// TestHoldCollector: while held, the collector runs only at the memory
// limit, so a phase that makes garbage (configs read and dropped) stays
// within its budget; on release, GOGC and the memory limit are what they
// were.
func TestHoldCollector(t *testing.T) {
	percent := debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(-1)

	const budget = 64 << 20
	release := holdCollector(budget)
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("held: GOGC %d, want off (-1)", got)
	}
	held := debug.SetMemoryLimit(-1)
	if held >= limit || held <= budget {
		t.Errorf("held: memory limit %d, want the process's memory plus %d (the limit was %d)", held, budget, limit)
	}
	var sink []byte
	var gcs runtime.MemStats
	runtime.ReadMemStats(&gcs)
	before := gcs.NumGC
	total := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	peak := uint64(0)
	for range 1024 { // 1 GiB of garbage in 1 MiB pieces
		sink = make([]byte, 1<<20)
		sink[0] = 1
		metrics.Read(total)
		peak = max(peak, total[0].Value.Uint64())
	}
	_ = sink
	runtime.ReadMemStats(&gcs)
	if gcs.NumGC == before {
		t.Errorf("no collection while 1 GiB of garbage was made over a %d MiB budget", budget>>20)
	}
	if peak > uint64(held)+budget {
		t.Errorf("the process grew to %d MiB, over its limit of %d MiB by more than the budget", peak>>20, held>>20)
	}
	release()
	if got := debug.SetGCPercent(percent); got != percent {
		t.Errorf("released: GOGC %d, want %d", got, percent)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("released: memory limit %d, want %d", got, limit)
	}
}
