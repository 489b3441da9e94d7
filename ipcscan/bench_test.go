package ipcscan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// shmTable makes a /proc/sysvipc/shm text of n rows in the kernel's format.
func shmTable(n int) []byte {
	var b bytes.Buffer
	b.WriteString("       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n")
	for i := range n {
		fmt.Fprintf(&b, "%10d %10d %5o %21d %5d %5d %6d %5d %5d %5d %5d %10d %10d %10d %21d %21d\n",
			int32(0x10000+i*7919), i, 0o600, 4096, 1000+i, 1000+i, i%3, 0, 0, 0, 0, 1795276637, 0, 1795276637, 4096, 0)
	}
	return b.Bytes()
}

func BenchmarkParseShm4000(b *testing.B) {
	data := shmTable(4000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		segs, err := ParseShm(bytes.NewReader(data))
		if err != nil || len(segs) != 4000 {
			b.Fatal(len(segs), err)
		}
	}
}

// mapsFile is a realistic maps file of a process attached to 10 segments.
func mapsFile() []byte {
	var b bytes.Buffer
	for i := range 40 {
		fmt.Fprintf(&b, "55ec34c%02x000-55ec34c%02x000 r--p 00000000 fe:00 247278                     /usr/lib/x86_64-linux-gnu/libc.so.6\n", i, i+1)
	}
	for i := range 10 {
		fmt.Fprintf(&b, "7fc73d4%02x000-7fc73d4%02x000 rw-s 00000000 00:01 %-26d /SYSV%08x (deleted)\n", i, i+1, i, 0x10000+i)
	}
	b.WriteString("7ffef279f000-7ffef27c0000 rw-p 00000000 00:00 0                          [stack]\n")
	return b.Bytes()
}

func BenchmarkParseMaps(b *testing.B) {
	data := mapsFile()
	keys, count := map[int]int32{}, map[int]int{}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		clear(keys)
		clear(count)
		if !parseMaps(data, keys, count) || len(count) != 10 {
			b.Fatal(count)
		}
	}
}

func BenchmarkAttachmentsFixture(b *testing.B) {
	fs := NewFS("../testdata/proc/linux-6.18")
	for b.Loop() {
		if _, err := fs.Attachments(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInspectAll stats 20,000 files of one directory as a scan does,
// on every CPU.
func BenchmarkInspectAll(b *testing.B) {
	dir := b.TempDir()
	paths := make([]string, 20_000)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(paths[i], nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		NewInspector().InspectAll(paths, func(int, KeyFile, error) {})
	}
}

// BenchmarkExpand globs a directory of 20,000 files.
func BenchmarkExpand(b *testing.B) {
	dir := b.TempDir()
	for i := range 20_000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if m, err := Expand(dir + "/*"); err != nil || len(m) != 20_000 {
			b.Fatal(len(m), err)
		}
	}
}
