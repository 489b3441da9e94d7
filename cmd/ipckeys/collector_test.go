package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// TestHoldCollector: while held, GOGC is off and the memory limit is the
// process's memory plus the budget, so garbage made over the budget is
// still collected; on release, GOGC and the memory limit are what they
// were. How tightly the runtime's soft limit holds the peak depends on the
// machine's load: BenchmarkHoldCollector measures it, no test asserts it.
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
	var gcs runtime.MemStats
	runtime.ReadMemStats(&gcs)
	before := gcs.NumGC
	makeGarbage(1024, nil)
	runtime.ReadMemStats(&gcs)
	if gcs.NumGC == before {
		t.Errorf("no collection while 1 GiB of garbage was made over a %d MiB budget", budget>>20)
	}
	release()
	if got := debug.SetGCPercent(percent); got != percent {
		t.Errorf("released: GOGC %d, want %d", got, percent)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("released: memory limit %d, want %d", got, limit)
	}
}

// makeGarbage allocates and drops n MiB in 1 MiB pieces, calling each
// after every piece.
func makeGarbage(n int, each func()) {
	var sink []byte
	for range n {
		sink = make([]byte, 1<<20)
		sink[0] = 1
		if each != nil {
			each()
		}
	}
	_ = sink
}

// BenchmarkHoldCollector reports how far over the held limit the process
// grows while 1 GiB of garbage is made with a 64 MiB budget (over-MiB),
// the figure that depends on how busy the machine is.
func BenchmarkHoldCollector(b *testing.B) {
	const budget = 64 << 20
	total := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	var over float64
	for b.Loop() {
		runtime.GC()
		release := holdCollector(budget)
		held := debug.SetMemoryLimit(-1)
		peak := uint64(0)
		makeGarbage(1024, func() {
			metrics.Read(total)
			peak = max(peak, total[0].Value.Uint64())
		})
		release()
		if peak > uint64(held) {
			over = max(over, float64(peak-uint64(held))/(1<<20))
		}
	}
	b.ReportMetric(over, "over-MiB")
}
