package main

import (
	"math"
	"runtime"
	"runtime/debug"
)

// holdCollector stops the garbage collector until release is called, or
// until the process has grown by budget bytes: then the memory limit
// starts it, so input that makes garbage cannot grow memory without
// bound. For a phase whose allocations live on (a scan's paths, stat
// results and entries live until the report is written) a collection
// frees little and costs much: the collector's write barriers read the
// fresh pages the phase is about to write, and every page then faults
// twice.
func holdCollector(budget uint64) (release func()) {
	// The memory the runtime holds from the system, as the limit counts
	// it (read here rather than through runtime/metrics, whose package
	// initialisation every run of the tool would pay).
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := debug.SetMemoryLimit(-1)
	percent := debug.SetGCPercent(-1)
	grown := ms.Sys + budget
	if grown < uint64(limit) && grown < math.MaxInt64 {
		debug.SetMemoryLimit(int64(grown))
	}
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
