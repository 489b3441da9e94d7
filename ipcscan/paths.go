// Package ipcscan reads what ipckeys checks from the system: the key files
// programs pass to ftok (their device, inode and filesystem) and, through an
// FS rooted at /proc, the live System V IPC tables.
package ipcscan

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/ftok"
)

// KeyFile is a path programs pass to ftok, as this host sees it.
type KeyFile struct {
	Path string
	ftok.File
	FSType string // filesystem name from its statfs magic ("ext4", "tmpfs", …)
	// Unstable says why keys from this file may change across reboot,
	// remount, copy-up or host; empty when its filesystem keeps them.
	Unstable string
	// Ctime is the file's status change time (seconds): when this inode
	// was made or last renamed into place.
	Ctime int64
	// DirMode is the mode of the directory holding the file (after
	// symbolic links); 0 when it could not be read.
	DirMode uint32
	Dir     string
	// Regular and Size say whether the file is a regular file and how
	// large: what decides whether it may be an application config to read.
	Regular bool
	Size    int64
}

// Major and Minor are the device number's parts.
func (k KeyFile) Major() uint32 { return unix.Major(k.Dev) }
func (k KeyFile) Minor() uint32 { return unix.Minor(k.Dev) }

// InspectKeyFile stats path as ftok does (following symbolic links) and
// looks up its filesystem. The error is the one stat returned, for which ftok
// would return -1. To inspect many paths, use one Inspector for all of them.
func InspectKeyFile(path string) (KeyFile, error) {
	return NewInspector().Inspect(path)
}

type fsInfo struct {
	name     string
	unstable string
}

const (
	whyMemory  = "it lives in memory: the file and its inode number are new after every boot or remount, so the key changes"
	whyNetwork = "its device number is handed out at mount time and its inode numbers come from the server: keys differ across hosts and remounts"
	whyAnon    = "its device number is anonymous (major 0), handed out when the filesystem is mounted, so the key's device byte can change at the next boot or remount"
	whyDevices = "it lives in memory and the kernel makes its device nodes anew at every boot: the file and its inode number are new after every boot, so the key changes"
)

// filesystems maps statfs magic numbers (linux/magic.h) to a name and, for
// those where ftok keys do not survive reboot, remount, copy-up or a move to
// another host, the reason.
var filesystems = map[int64]fsInfo{
	0xef53:     {"ext4", ""}, // also ext2 and ext3
	0x58465342: {"xfs", ""},
	0xf2f52010: {"f2fs", ""},
	0x3153464a: {"jfs", ""},
	0x52654973: {"reiserfs", ""},
	0x4d44:     {"vfat", ""},
	0x5346544e: {"ntfs", ""},
	0x01021994: {"tmpfs", whyMemory}, // and devtmpfs: see fsOf
	0x858458f6: {"ramfs", whyMemory},
	0x794c7630: {"overlayfs", "device and inode numbers come from the lower or the upper layer and change when the file is copied up: a container and the host, or two containers, compute different keys for the same file"},
	0x6969:     {"nfs", whyNetwork},
	0xff534d42: {"cifs", whyNetwork},
	0xfe534d42: {"smb2", whyNetwork},
	0x00c36400: {"ceph", whyNetwork},
	0x01021997: {"9p", whyNetwork},
	0x6a656a63: {"virtiofs", whyNetwork},
	0x65735546: {"fuse", "it is a FUSE filesystem: the device number is handed out at mount time and inode numbers are whatever the daemon reports"},
	0x9123683e: {"btrfs", "every btrfs subvolume has an anonymous device number handed out at mount time, and snapshots repeat inode numbers, so keys change across remounts and collide across snapshots"},
	0x2fc12fc1: {"zfs", whyAnon},
	0x73717368: {"squashfs", "its device is a loop or anonymous device whose number depends on the order of mounts: keys change across boots"},
	0x9fa0:     {"proc", "procfs inode numbers are made up on the fly and differ between boots and namespaces"},
	0x62656572: {"sysfs", "sysfs inode numbers are made up on the fly and differ between boots"},
	0x63677270: {"cgroup2", whyMemory},
	0x27e0eb:   {"cgroup", whyMemory},
	0x1373:     {"devfs", whyDevices}, // the devfs of Linux 2.4 and 2.6
	0x61756673: {"aufs", "device and inode numbers come from the branch that holds the file and can change when the file is copied up"},
}

func lookupFS(magic int64) fsInfo {
	if fs, ok := filesystems[magic]; ok {
		return fs
	}
	return fsInfo{name: fmt.Sprintf("0x%x", magic)}
}

// ErrNoMatch is the error of a glob that matched no file.
var ErrNoMatch = errors.New("pattern matches no file")

// errRecursive refuses **, which shells with globstar read as "any depth"
// but filepath.Match as a plain *: the two would match different files.
var errRecursive = fmt.Errorf("%w: ** (any depth) is not supported; each * matches within one path element: list the directories, or let the shell expand it", filepath.ErrBadPattern)

// HasMeta reports whether path holds glob metacharacters.
func HasMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }

// Expand returns the files a command-line argument names: the argument
// itself when it has no glob metacharacters or exists as written, otherwise
// the sorted matches of the pattern. Patterns are filepath.Match's: *, ?,
// [class] and \ escapes, each within one path element. A pattern that matches nothing returns
// ErrNoMatch; a malformed one returns filepath.ErrBadPattern.
func Expand(arg string) ([]string, error) {
	literal, err := expandLiteral(arg)
	switch {
	case err != nil:
		return nil, err
	case literal:
		return []string{arg}, nil
	}
	matches, err := glob(arg)
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, ErrNoMatch
	}
	return matches, nil
}

// expandLiteral reports whether arg names itself: it has no
// metacharacters, or a file of that very name exists. A pattern it cannot
// take (**) is an error.
func expandLiteral(arg string) (bool, error) {
	if !HasMeta(arg) {
		return true, nil
	}
	var st unix.Stat_t
	if unix.Lstat(arg, &st) == nil {
		return true, nil
	}
	if strings.Contains(arg, "**") {
		return false, errRecursive
	}
	return false, nil
}
