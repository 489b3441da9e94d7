package resolve

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/appconfig"
	"github.com/ipckeys/ipckeys/internal/inputfile"
	"github.com/ipckeys/ipckeys/ipcscan"
)

// View is where files are looked at: this host (the zero View), another
// root directory (--root), or a process's mount namespace (--pid).
type View struct {
	PID  int    // > 0: the files as process PID sees them
	Root string // the root the files are under
	Proc string // the procfs tree (default /proc)
}

// FileRoot is the directory files are resolved in, "" for the host's.
func (v View) FileRoot() string {
	switch {
	case v.PID > 0:
		proc := v.Proc
		if proc == "" {
			proc = ipcscan.DefaultRoot
		}
		return fmt.Sprintf("%s/%d/root", proc, v.PID)
	case v.Root != "":
		return v.Root
	}
	return ""
}

// Inspect resolves a key file in the view. With a PID it also returns the
// host's view of the same path when it is a different file: its key
// differs.
func (v View) Inspect(path string) (file ipcscan.KeyFile, host *ipcscan.KeyFile, err error) {
	root := v.FileRoot()
	if root == "" {
		file, err = ipcscan.InspectKeyFile(path)
		return file, nil, err
	}
	file, err = ipcscan.ResolveIn(root, path)
	if err != nil || v.PID == 0 {
		return file, nil, err
	}
	if h, herr := ipcscan.InspectKeyFile(path); herr == nil && (h.Dev != file.Dev || h.Ino != file.Ino) {
		return file, &h, nil
	} else if errors.Is(herr, fs.ErrNotExist) {
		h := ipcscan.KeyFile{Path: path}
		return file, &h, nil // only the container has it
	}
	return file, nil, nil
}

// Expand returns the files arg names in the view, as ipcscan.Expand does
// on the host: the argument itself when it has no glob characters or
// exists as written, otherwise the sorted matches, named as the view sees
// them (/etc/app/a.conf, not /srv/h07/etc/app/a.conf).
func (v View) Expand(arg string) ([]string, error) {
	root := v.FileRoot()
	if root == "" {
		return ipcscan.Expand(arg)
	}
	if !ipcscan.HasMeta(arg) {
		return []string{arg}, nil
	}
	if _, err := ipcscan.ResolveIn(root, arg); err == nil {
		return []string{arg}, nil
	}
	matches, err := ipcscan.Expand(filepath.Join(root, arg))
	if err != nil {
		return nil, err
	}
	return v.unroot(root, arg, matches), nil
}

// unroot names host paths under root as the view sees them.
func (v View) unroot(root, arg string, matches []string) []string {
	prefix := filepath.Clean(root)
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		rel := strings.TrimPrefix(m, prefix)
		if !filepath.IsAbs(arg) {
			rel = strings.TrimPrefix(rel, "/")
		} else if rel == "" {
			rel = "/"
		}
		out = append(out, rel)
	}
	return out
}

// keyFiles stats key files: a batch in parallel through one Inspector
// (one stat per path, statfs once per filesystem, directory checks once
// per directory), or one path at a time through the view (--pid, --root).
type keyFiles struct {
	view View
	in   *ipcscan.Inspector
}

type keyFile struct {
	file ipcscan.KeyFile
	host *ipcscan.KeyFile
	err  error
}

// inspectAll stats paths and returns what stat said of each, in order.
func (k *keyFiles) inspectAll(paths []string) []keyFile {
	out := make([]keyFile, len(paths))
	if k.view.FileRoot() == "" {
		k.in.InspectAll(paths, func(i int, f ipcscan.KeyFile, err error) { out[i] = keyFile{file: f, err: err} })
		return out
	}
	for i, p := range paths {
		out[i].file, out[i].host, out[i].err = k.view.Inspect(p)
	}
	return out
}

// statPath stats one path in the view.
func (k *keyFiles) statPath(path string) (ipcscan.KeyFile, error) {
	f, _, err := k.view.Inspect(path)
	return f, err
}

// expandOnly returns the files arg names in the view, without looking at
// them (--static).
func (k *keyFiles) expandOnly(arg string) ([]string, error) {
	return k.view.Expand(arg)
}

// expand returns the files arg names (as ipcscan.Expand does), each
// stat'ed: hosts[i] is the host's view of paths[i] where it differs (nil
// when none does). A batch on the host is matched and stat'ed at once.
func (k *keyFiles) expand(arg string) (paths []string, found []ipcscan.Inspected, hosts []*ipcscan.KeyFile, err error) {
	if k.view.FileRoot() == "" {
		found, err = k.in.ExpandInspect(arg)
		paths = make([]string, len(found))
		for i := range found {
			paths[i] = found[i].Path
		}
		return paths, found, nil, err
	}
	if paths, err = k.view.Expand(arg); err != nil {
		return nil, nil, nil, err
	}
	found, hosts = make([]ipcscan.Inspected, len(paths)), make([]*ipcscan.KeyFile, len(paths))
	for i, p := range paths {
		found[i].KeyFile, hosts[i], found[i].Err = k.view.Inspect(p)
	}
	return paths, found, hosts, nil
}

// viewFS reads configs and the files they include as the view sees them:
// on the host, or under its root with every link resolved inside the root
// (openat2 RESOLVE_IN_ROOT), so an absolute link in a container's tree
// names the container's file, not the host's.
type viewFS struct{ view View }

// ReadFile reads at most appconfig.MaxSize+1 bytes of the regular file
// name; anything else is refused without being opened for reading.
func (v viewFS) ReadFile(name string) ([]byte, error) {
	f, err := v.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, appconfig.MaxSize+1))
}

// Glob expands pattern in the view.
func (v viewFS) Glob(pattern string) ([]string, error) {
	root := v.view.FileRoot()
	if root == "" {
		return filepath.Glob(pattern)
	}
	m, err := filepath.Glob(filepath.Join(root, pattern))
	if err != nil {
		return nil, err
	}
	return v.view.unroot(root, pattern, m), nil
}

// open opens the regular file name in the view.
func (v viewFS) open(name string) (*os.File, error) {
	root := v.view.FileRoot()
	if root == "" {
		return inputfile.Open(name)
	}
	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err == unix.ENOSYS {
		// Kernels before 5.6: joined, links inside may point out.
		return inputfile.Open(filepath.Join(root, name))
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	return inputfile.OpenPath(fd, name)
}
