package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// builtBinary builds ipckeys into dir and returns its path: the real
// binary, for runs under limits that the race-instrumented test binary,
// with its shadow memory, would not fit.
func builtBinary(t *testing.T, dir string) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build ipckeys with")
	}
	bin := filepath.Join(dir, "ipckeys")
	if out, err := exec.Command(gocmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// sparseFile makes a file of 2 GiB in dir that costs no disk: head, then
// zeros.
func sparseFile(t *testing.T, dir, name, head string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 2<<30); err != nil {
		t.Fatal(err)
	}
	return p
}
