// Package cbuild compiles the small C programs the tests use as outside
// references (the C library's ftok, a process that holds IPC objects), once
// per test binary.
package cbuild

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// ErrNoCompiler is returned when no C compiler is on PATH.
var ErrNoCompiler = errors.New("no C compiler (gcc or cc) on PATH")

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// Source returns the path of a C file under the repository's testdata.
func Source(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", rel)
}

// Build compiles the C file at src (once) and returns the binary's path.
func Build(src string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if bin, ok := built[src]; ok {
		return bin, nil
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			return "", ErrNoCompiler
		}
	}
	dir, err := os.MkdirTemp("", "ipckeys-cbuild")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c"))
	if msg, err := exec.Command(cc, "-O2", "-Wall", "-o", bin, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("compile %s: %v: %s", src, err, msg)
	}
	built[src] = bin
	return bin, nil
}
