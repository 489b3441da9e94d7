package watch

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ipckeys/ipckeys/fdscan"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// procCache describes callers from /proc, once per process and command
// (an exec changes the command, and with it what is cached).
type procCache struct {
	proc string
	mu   sync.Mutex
	seen map[procID]Process
}

type procID struct {
	pid  int
	comm string
}

func newProcCache(proc string) *procCache {
	return &procCache{proc: proc, seen: map[procID]Process{}}
}

// maxCached bounds the cache over a long watch: past it, it starts over.
const maxCached = 4096

func (c *procCache) describe(pid int, comm string, uid uint32) Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := procID{pid, comm}
	if p, ok := c.seen[id]; ok && p.Unreadable == "" {
		return p
	}
	p := Describe(c.proc, pid)
	p.User = ipcscan.UserName(uid)
	if len(c.seen) >= maxCached {
		clear(c.seen)
	}
	c.seen[id] = p
	return p
}

// Describe reads what /proc says of a process: its executable, cgroup,
// systemd unit or container, and IPC namespace. What cannot be read (the
// process ended) is left empty and named in Unreadable.
func Describe(proc string, pid int) Process {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	var p Process
	var missing []string
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.Exe = strings.TrimSuffix(exe, " (deleted)")
	} else {
		missing = append(missing, "exe")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		p.Cgroup = ParseCgroupPath(b)
		p.Unit = fdscan.ParseCgroupUnit(b)
		p.Container = ContainerID(p.Cgroup)
	} else {
		missing = append(missing, "cgroup")
	}
	if ns, err := os.Readlink(filepath.Join(dir, "ns", "ipc")); err == nil {
		p.IPCNSLink = ns
	} else {
		missing = append(missing, "ns/ipc")
	}
	p.Unreadable = strings.Join(missing, ",")
	return p
}

// ParseCgroupPath returns the unified hierarchy's path ("0::PATH") of a
// /proc/PID/cgroup, or "" when there is none.
func ParseCgroupPath(b []byte) string {
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(bytes.TrimSuffix(line, []byte("\n")), []byte("0::")); ok {
			return string(rest)
		}
	}
	return ""
}

// containerScopes are the scope names container runtimes give a
// container under systemd: PREFIX-ID.scope.
var containerScopes = []string{"docker-", "cri-containerd-", "crio-", "libpod-"}

// ContainerID returns the container a cgroup path names, as its runtime
// writes it ("docker-0123abcd…", "docker/0123abcd…"), or "" for none. An
// id is 12 to 128 lower-case hex digits.
func ContainerID(path string) string {
	elems := strings.Split(path, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		elem := elems[i]
		if id, ok := strings.CutSuffix(elem, ".scope"); ok {
			for _, prefix := range containerScopes {
				if rest, ok := strings.CutPrefix(id, prefix); ok && isHexID(rest) {
					return id
				}
			}
			continue
		}
		if i > 0 && (elems[i-1] == "docker" || elems[i-1] == "kubepods" || strings.HasPrefix(elems[i-1], "pod")) && isHexID(elem) {
			return elems[i-1] + "/" + elem
		}
	}
	return ""
}

func isHexID(s string) bool {
	if len(s) < 12 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
