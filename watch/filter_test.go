package watch_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/watch"
)

// The namespace of this test, as the kernel names it in /proc/self/ns/ipc,
// is the reference for each way of writing it.
func TestParseIPCNamespace(t *testing.T) {
	link, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		t.Skipf("no /proc/self/ns/ipc: %v", err)
	}
	want, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "ipc:["), "]"), 10, 32)
	if err != nil {
		t.Fatalf("readlink gave %q", link)
	}
	for _, in := range []string{link, strconv.FormatUint(want, 10), "/proc/self/ns/ipc"} {
		got, err := watch.ParseIPCNamespace(in)
		if err != nil || uint64(got) != want {
			t.Errorf("ParseIPCNamespace(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "ipc:[]", "ipc:[x]", "ipc:[12", "net:[4026531840]", "/etc/passwd", "/proc/self/ns/nonexistent", "/proc/self/ns/net", "/dev/null", "99999999999"} {
		if got, err := watch.ParseIPCNamespace(in); err == nil {
			t.Errorf("ParseIPCNamespace(%q) = %d, want an error", in, got)
		}
	}
}

func TestFilterByIPCNamespace(t *testing.T) {
	e := &watch.Event{IPCNS: 4026531839}
	if !(watch.Filter{IPCNS: 4026531839}).Match(e) || (watch.Filter{IPCNS: 4026532000}).Match(e) || !(watch.Filter{}).Match(e) {
		t.Error("the IPC namespace filter selects the wrong events")
	}
}
