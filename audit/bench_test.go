package audit_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/manifest"
)

// directoryEntries makes n paths of one directory on one ext4 filesystem,
// each with proj 'l', whose inode numbers are spread as ext4 spreads them
// over a large directory: more files than 65,536 inode bit patterns, so
// keys collide by pigeonhole, as in the benchmark of bench/scale.sh.
func directoryEntries(n int) []audit.Entry {
	r := rand.New(rand.NewPCG(1, 2))
	entries := make([]audit.Entry, n)
	for i := range entries {
		path := fmt.Sprintf("/srv/keys/f%d", i)
		ino := uint64(1<<20 + r.IntN(1<<24))
		entries[i] = audit.Entry{Path: path, Proj: 'l', HasProj: true,
			File: ipcscan.KeyFile{Path: path, File: ftok.File{Dev: 0xfe00, Ino: ino}, FSType: "ext4", Dir: "/srv/keys", DirMode: 0o40755}}
	}
	return entries
}

// manifestEntries makes n channels over n/250 files whose fingerprints
// all differ, each file used with proj ids 1 to 250: a million distinct
// channels and keys, as the manifest of bench/scale.sh.
func manifestEntries(n int) []audit.Entry {
	files := max(1, n/250)
	entries := make([]audit.Entry, n)
	for i := range entries {
		path := fmt.Sprintf("/srv/keys/f%d", i%files)
		f := ipcscan.KeyFile{Path: path, File: ftok.File{Dev: 0xfe00, Ino: uint64(1<<20 + i%files)}, FSType: "ext4", Dir: "/srv/keys", DirMode: 0o40755}
		proj := 1 + i/files
		c := &manifest.Channel{Name: fmt.Sprintf("ch%07d", i), Path: path, Proj: proj, File: "/etc/ipckeys/app.manifest", Line: i + 1}
		entries[i] = audit.Entry{Channel: c, Path: path, Proj: proj, HasProj: true, File: f}
	}
	return entries
}

// BenchmarkCheck100k is audit.Check on the 100,000 paths of one directory
// (about 8,000 key collisions).
func BenchmarkCheck100k(b *testing.B) {
	entries := directoryEntries(100_000)
	b.ReportAllocs()
	defer cpuTime(b)()
	for b.Loop() {
		if len(audit.Check(entries)) == 0 {
			b.Fatal("no findings: the benchmark measures nothing")
		}
	}
}

// BenchmarkCheckSuggest100k adds the suggested proj ids for every
// collision, as scan does.
func BenchmarkCheckSuggest100k(b *testing.B) {
	entries := directoryEntries(100_000)
	b.ReportAllocs()
	defer cpuTime(b)()
	for b.Loop() {
		audit.Suggest(audit.Check(entries), entries, nil)
	}
}

// BenchmarkCheckManifest1M is audit.Check on a million
// manifest channels that do not collide.
func BenchmarkCheckManifest1M(b *testing.B) {
	entries := manifestEntries(1_000_000)
	b.ReportAllocs()
	defer cpuTime(b)()
	for b.Loop() {
		if f := audit.Check(entries); len(f) != 0 {
			b.Fatalf("%d findings, want none", len(f))
		}
	}
}

// cpuTime reports the CPU time per operation (user and system, all
// threads, the garbage collector's included) next to the wall time: on a
// shared machine the wall time also counts other tenants' work.
func cpuTime(b *testing.B) func() {
	start := rusage()
	return func() {
		b.ReportMetric(float64(rusage()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func rusage() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
