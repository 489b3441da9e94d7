package fdscan_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ipckeys/ipckeys/fdscan"
)

// synthTree writes a procfs-shaped tree of procs processes with fds
// descriptors each, every other one a socket when sockets is set (else
// all regular files), and the tcp table listing those sockets. It is
// what the scan reads, not how the kernel produces it: the benchmarks on
// it measure fdscan's own cost and memory, BenchmarkSnapshotLive the
// kernel's too.
func synthTree(b *testing.B, procs, fds int, sockets bool) string {
	b.Helper()
	root := b.TempDir()
	var tcp bytes.Buffer
	tcp.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	ino := 100000
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	limits := "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 4096                 files     \n"
	for p := 1; p <= procs; p++ {
		dir := filepath.Join(root, strconv.Itoa(p))
		for _, d := range []string{"fd", "fdinfo", "ns"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		write(filepath.Join(dir, "stat"), fmt.Sprintf("%d (worker %d) S 1 %d %d 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 %d 5 6\n", p, p, p, p, 1000+p))
		write(filepath.Join(dir, "cmdline"), fmt.Sprintf("/usr/sbin/worker\x00--id\x00%d\x00", p))
		write(filepath.Join(dir, "cgroup"), "0::/system.slice/worker.service\n")
		write(filepath.Join(dir, "limits"), limits)
		write(filepath.Join(dir, "environ"), "PATH=/usr/bin\x00HOME=/\x00")
		if err := os.Symlink("/usr/sbin/worker", filepath.Join(dir, "exe")); err != nil {
			b.Fatal(err)
		}
		if err := os.Symlink("net:[4026531840]", filepath.Join(dir, "ns", "net")); err != nil {
			b.Fatal(err)
		}
		for fd := range fds {
			target, flags := "/var/lib/worker/data", "0100002"
			if sockets && fd%2 == 1 {
				ino++
				target, flags = fmt.Sprintf("socket:[%d]", ino), "02000002"
				fmt.Fprintf(&tcp, "%4d: 0100007F:%04X 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 20 0 0 10 -1\n",
					ino-100000, 1024+ino%50000, ino)
			}
			name := strconv.Itoa(fd)
			if err := os.Symlink(target, filepath.Join(dir, "fd", name)); err != nil {
				b.Fatal(err)
			}
			write(filepath.Join(dir, "fdinfo", name), "pos:\t0\nflags:\t"+flags+"\nmnt_id:\t24\nino:\t"+strconv.Itoa(ino)+"\n")
		}
	}
	net := filepath.Join(root, "1", "net")
	if err := os.MkdirAll(net, 0o755); err != nil {
		b.Fatal(err)
	}
	write(filepath.Join(net, "tcp"), tcp.String())
	write(filepath.Join(net, "unix"), "Num       RefCount Protocol Flags    Type St Inode Path\n")
	for _, t := range []string{"tcp6", "udp", "udp6"} {
		write(filepath.Join(net, t), "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	}
	if err := os.Symlink("1", filepath.Join(root, "self")); err != nil {
		b.Fatal(err)
	}
	return root
}

func benchSnapshot(b *testing.B, root string, procs, holders int) {
	fs := fdscan.NewFS(root)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		snap, err := fs.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, hs := range snap.Holders {
			n += len(hs)
		}
		if len(snap.Processes) != procs || n != holders {
			b.Fatalf("%d processes, %d holders; want %d, %d", len(snap.Processes), n, procs, holders)
		}
	}
}

// 1,000 processes with 20 descriptors, half of them sockets.
func BenchmarkSnapshotSynthetic1000x20Sockets(b *testing.B) {
	benchSnapshot(b, synthTree(b, 1000, 20, true), 1000, 10000)
}

// The same with files only, then ten times the descriptors: bytes per
// scan stay flat in the number of descriptors that are not sockets.
func BenchmarkSnapshotSynthetic1000x20Files(b *testing.B) {
	benchSnapshot(b, synthTree(b, 1000, 20, false), 1000, 0)
}

func BenchmarkSnapshotSynthetic1000x200Files(b *testing.B) {
	benchSnapshot(b, synthTree(b, 1000, 200, false), 1000, 0)
}

// BenchmarkSnapshotLive scans this machine's /proc.
func BenchmarkSnapshotLive(b *testing.B) {
	fs := fdscan.NewFS("/proc")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fs.Snapshot(); err != nil {
			b.Fatal(err)
		}
	}
}

func tcpTable(rows int) []byte {
	var b bytes.Buffer
	b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	for i := range rows {
		fmt.Fprintf(&b, "%4d: 0100007F:%04X 0100007F:1770 01 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 20 0 0 10 -1\n",
			i, 1024+i%60000, 200000+i)
	}
	return b.Bytes()
}

func BenchmarkParseNetTCP20000(b *testing.B) {
	data := tcpTable(20000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		socks, err := fdscan.ParseNetTCP(bytes.NewReader(data), "tcp")
		if err != nil || len(socks) != 20000 {
			b.Fatal(len(socks), err)
		}
	}
}

func BenchmarkParseNetUnix20000(b *testing.B) {
	var data bytes.Buffer
	data.WriteString("Num       RefCount Protocol Flags    Type St Inode Path\n")
	for i := range 20000 {
		fmt.Fprintf(&data, "%016x: 00000003 00000000 00000000 0001 03 %5d", i, 300000+i)
		if i%4 == 0 {
			fmt.Fprintf(&data, " /run/app/%d.sock", i)
		}
		data.WriteByte('\n')
	}
	b.SetBytes(int64(data.Len()))
	b.ReportAllocs()
	for b.Loop() {
		socks, err := fdscan.ParseNetUnix(bytes.NewReader(data.Bytes()))
		if err != nil || len(socks) != 20000 {
			b.Fatal(len(socks), err)
		}
	}
}
