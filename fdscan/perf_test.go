package fdscan_test

import (
	"io"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/fdscan"
)

// TestLiveAgainstSS times the whole holder picture against ss -tanp, which
// walks every /proc/PID/fd the same way after its sock_diag dump, on
// 1,000 processes with 20 descriptors each (FDSCAN_PERF_KIND: tcp, the
// default, unix or file), alternating the two so both see the same load.
// It starts 1,000 processes, so it runs only with FDSCAN_PERF=1.
func TestLiveAgainstSS(t *testing.T) {
	if os.Getenv("FDSCAN_PERF") == "" {
		t.Skip("set FDSCAN_PERF=1 to time Snapshot against ss -tanp on 1,000 processes")
	}
	if !inPrivateNamespaces(t) {
		return
	}
	kind := os.Getenv("FDSCAN_PERF_KIND")
	if kind == "" {
		kind = "tcp"
	}
	h := startHolder(t, nil, fdholderPath(t), "many", "1000", "20", kind)
	h.expect(t, "ready")

	fs := fdscan.NewFS("/proc")
	const rounds = 9
	var ssTimes, ourTimes, ssCPU, ourCPU []time.Duration
	var ssRSS int64
	var alloc uint64
	var snap *fdscan.Snapshot
	for range rounds {
		cmd := exec.Command("ss", "-tanp")
		cmd.Stdout = io.Discard
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		ssTimes = append(ssTimes, time.Since(t0))
		ssCPU = append(ssCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		ssRSS = max(ssRSS, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)

		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c0 := cpuTime(t)
		t0 = time.Now()
		var err error
		if snap, err = fs.Snapshot(); err != nil {
			t.Fatal(err)
		}
		ourTimes = append(ourTimes, time.Since(t0))
		ourCPU = append(ourCPU, cpuTime(t)-c0)
		runtime.ReadMemStats(&m1)
		alloc = max(alloc, m1.TotalAlloc-m0.TotalAlloc)
	}
	for _, d := range [][]time.Duration{ssTimes, ourTimes, ssCPU, ourCPU} {
		slices.Sort(d)
	}
	holders := 0
	for _, hs := range snap.Holders {
		holders += len(hs)
	}
	t.Logf("%d processes, %d sockets, %d socket descriptors (%s), %d rounds", len(snap.Processes), len(snap.Sockets), holders, kind, rounds)
	t.Logf("ss -tanp: wall min %v median %v, cpu median %v, max RSS %d KiB", ssTimes[0], ssTimes[rounds/2], ssCPU[rounds/2], ssRSS)
	t.Logf("Snapshot: wall min %v median %v, cpu median %v, allocated %d KiB per scan, GOMAXPROCS %d",
		ourTimes[0], ourTimes[rounds/2], ourCPU[rounds/2], alloc>>10, runtime.GOMAXPROCS(0))
	if ourTimes[rounds/2] > ssTimes[rounds/2] {
		t.Errorf("Snapshot's median %v is slower than ss -tanp's %v", ourTimes[rounds/2], ssTimes[rounds/2])
	}
	// The same picture: every tcp socket ss lists, held by the same
	// descriptors.
	for _, r := range parseSS(t, run(t, "ss", "-tanpe")) {
		if r.Inode == 0 {
			continue
		}
		if got := pidFDs(snap.Holders[r.Inode]); !reflect.DeepEqual(got, r.holders()) {
			t.Fatalf("inode %d: holders %v, ss says %v", r.Inode, got, r.holders())
		}
	}
}

// cpuTime is the user and system time this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
