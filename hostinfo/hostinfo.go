// Package hostinfo names the machine a report comes from, so that reports
// from many hosts can be merged and told apart: the hostname, the machine
// id (/etc/machine-id, stable across boots), the boot id (new at every
// boot: a report from before a reboot is not the state now) and the IPC
// namespace the scan looked at.
package hostinfo

import (
	"os"
	"path/filepath"
	"strings"
)

// Host identifies where and when a report was made.
type Host struct {
	Label     string `json:"label,omitempty"` // the inventory's name for it, when given
	Hostname  string `json:"hostname"`
	MachineID string `json:"machine_id,omitempty"`
	BootID    string `json:"boot_id,omitempty"`
	Time      string `json:"time"` // RFC 3339, when the scan ran
	// IPCNamespace is the namespace the live checks looked at; 0 when
	// they did not run.
	IPCNamespace uint64 `json:"ipc_namespace,omitempty"`
}

// Name is what a fleet view calls the host: its label, else its hostname.
func (h Host) Name() string {
	if h.Label != "" {
		return h.Label
	}
	return h.Hostname
}

// Read reads the host's identity; proc is the procfs root (the boot id is
// in proc/sys/kernel/random/boot_id) and etc the directory holding
// machine-id. What cannot be read is left empty.
func Read(proc, etc string) Host {
	var h Host
	h.Hostname, _ = os.Hostname()
	h.MachineID = firstLine(filepath.Join(etc, "machine-id"))
	if h.MachineID == "" {
		h.MachineID = firstLine("/var/lib/dbus/machine-id")
	}
	h.BootID = firstLine(filepath.Join(proc, "sys", "kernel", "random", "boot_id"))
	return h
}

// firstLine reads a small identity file's first line; "" on any error.
func firstLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	buf := make([]byte, 256)
	n, _ := f.Read(buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	return strings.TrimSpace(line)
}
