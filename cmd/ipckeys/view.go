package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/ipckeys/ipckeys/ipcscan"
	"github.com/ipckeys/ipckeys/resolve"
)

// view is where a command looks: this host as ipckeys sees it, a process's
// namespaces (--pid), another root for the key files (--root), or every
// IPC namespace (--all-namespaces).
type view struct {
	pid  int
	root string
	all  bool
	proc string

	pidSet bool     // --pid was given (0 is not "unset" then)
	notes  []string // what snapshots could not see, for the reports
	fl     *pflag.FlagSet
}

const viewUsage = `      --pid PID           look as process PID sees the host: its IPC namespace
                          (needs CAP_SYS_ADMIN) and its mount namespace for the
                          key files (resolved under /proc/PID/root)
      --root DIR          resolve the key files under DIR (IPC unchanged)
      --proc DIR          read this procfs tree instead of /proc
`

func addViewFlags(fl *pflag.FlagSet, withAll bool) *view {
	v := &view{fl: fl}
	fl.IntVar(&v.pid, "pid", 0, "")
	fl.StringVar(&v.root, "root", "", "")
	fl.StringVar(&v.proc, "proc", ipcscan.DefaultRoot, "")
	if withAll {
		fl.BoolVar(&v.all, "all-namespaces", false, "")
	}
	return v
}

// check validates the combination of view flags.
func (v *view) check() error {
	v.pidSet = v.fl.Changed("pid")
	switch {
	case v.pidSet && v.pid <= 0:
		return usagef("--pid %d: give the id of a running process (1 or more)", v.pid)
	case v.pid < 0:
		return usagef("--pid %d: give a process id", v.pid)
	case v.pid > 0 && v.root != "":
		return usagef("--pid and --root both say where the key files are: give one")
	case v.pid > 0 && v.all:
		return usagef("--pid and --all-namespaces contradict each other: give one")
	case v.root != "":
		if st, err := os.Stat(v.root); err != nil || !st.IsDir() {
			return usagef("--root %s: not a directory: name the root the key files are under", v.root)
		}
	case v.pid > 0:
		if _, err := os.Stat(fmt.Sprintf("%s/%d", v.proc, v.pid)); err != nil {
			return usagef("--pid %d: no such process", v.pid)
		}
	}
	return nil
}

// resolveView is where package resolve looks at files for this view.
func (v *view) resolveView() resolve.View {
	return resolve.View{PID: v.pid, Root: v.root, Proc: v.proc}
}

// snapshots reads the live state of the view: one snapshot, or one per
// IPC namespace with --all-namespaces.
func (v *view) snapshots() ([]*ipcscan.Snapshot, []ipcscan.Namespace, error) {
	p := ipcscan.NewFS(v.proc)
	switch {
	case v.pid > 0:
		s, err := p.SnapshotOf(v.pid, nil)
		if err != nil {
			return nil, nil, err
		}
		return []*ipcscan.Snapshot{s}, nil, nil
	case v.all:
		if !ipcscan.HasSysAdmin() {
			return nil, nil, fmt.Errorf("--all-namespaces: %w of other processes without CAP_SYS_ADMIN: run as root, or drop --all-namespaces to read this namespace only", ipcscan.ErrNamespace)
		}
		spaces, hidden, err := p.Namespaces()
		if err != nil {
			return nil, nil, err
		}
		if hidden > 0 {
			v.notes = append(v.notes, fmt.Sprintf("the IPC namespace of %d %s could not be read (a sandbox or security module hides it): objects in namespaces only they use are not shown",
				hidden, pluralWord(hidden, "process", "processes")))
		}
		attach, _ := p.Attachments()
		var snaps []*ipcscan.Snapshot
		for _, ns := range spaces {
			s, err := p.SnapshotOf(ns.PID, attach)
			if err != nil {
				return nil, nil, fmt.Errorf("IPC namespace ipc:[%d] (pid %s): %w", ns.Inode, strconv.Itoa(ns.PID), err)
			}
			snaps = append(snaps, s)
		}
		return snaps, spaces, nil
	}
	s, err := p.Snapshot()
	if err != nil {
		return nil, nil, err
	}
	return []*ipcscan.Snapshot{s}, nil, nil
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
