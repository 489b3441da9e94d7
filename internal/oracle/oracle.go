// Package oracle builds and runs a tiny C program that calls the C library's
// own ftok(3), so tests can hold ipckeys' key arithmetic against the real
// thing instead of against itself.
package oracle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/internal/cbuild"
)

// Result is one ftok call's outcome: the key as key_t and errno (0 on success).
type Result struct {
	Key   int32
	Errno int
}

// ErrUnavailable is returned when the oracle cannot be built here.
var ErrUnavailable = errors.New("the C library ftok oracle is unavailable")

func build() (string, error) {
	bin, err := cbuild.Build(cbuild.Source("oracle/ftok.c"))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return bin, nil
}

// Required reports whether a missing oracle must fail the tests rather than
// skip them: CI sets IPCKEYS_REQUIRE_ORACLE so the oracle never silently goes
// missing there.
func Required() bool { return os.Getenv("IPCKEYS_REQUIRE_ORACLE") != "" }

// Run calls the C library's ftok for every path and proj, in that order
// (path-major), and returns the results.
func Run(projs []int, paths []string) ([]Result, error) {
	bin, err := build()
	if err != nil {
		return nil, err
	}
	list := make([]string, len(projs))
	for i, p := range projs {
		list[i] = strconv.Itoa(p)
	}
	var results []Result
	// Batch the paths: a command line has a length limit.
	const batch = 200
	for start := 0; start < len(paths); start += batch {
		end := min(start+batch, len(paths))
		args := append([]string{strings.Join(list, ",")}, paths[start:end]...)
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			return nil, fmt.Errorf("run oracle: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				return nil, fmt.Errorf("oracle printed %q", sc.Text())
			}
			k, err1 := strconv.ParseInt(f[0], 10, 32)
			e, err2 := strconv.Atoi(f[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("oracle printed %q", sc.Text())
			}
			results = append(results, Result{Key: int32(k), Errno: e})
		}
	}
	if want := len(projs) * len(paths); len(results) != want {
		return nil, fmt.Errorf("oracle gave %d results, want %d", len(results), want)
	}
	return results, nil
}

// Keys is Run for tests: it skips when the oracle cannot be built, or
// fails when Required, and fails on any other error.
func Keys(t testing.TB, projs []int, paths []string) []Result {
	t.Helper()
	r, err := Run(projs, paths)
	switch {
	case errors.Is(err, ErrUnavailable) && !Required():
		t.Skipf("%v (install gcc)", err)
	case err != nil:
		t.Fatal(err)
	}
	return r
}
