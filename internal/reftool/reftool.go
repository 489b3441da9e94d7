// Package reftool finds the outside programs the tests compare against:
// lsof, ss, promtool, strace, findmnt, prlimit, groff. A test that cannot
// find one skips (or, where the comparison is one check among several,
// goes on without it and says so), unless RequireEnv is set: then the
// missing program is a failure naming the Debian package that provides it.
// scripts/test installs those packages and sets RequireEnv, so there no
// comparison is dropped silently.
package reftool

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv makes a missing reference program a test failure.
const RequireEnv = "IPCKEYS_REQUIRE_TOOLS"

// Required reports whether a missing reference program must fail the test.
func Required() bool { return os.Getenv(RequireEnv) != "" }

// Lookup returns the path of the program name, which the Debian package pkg
// provides. Without it, Lookup fails the test under RequireEnv; otherwise
// it logs that the comparison is not made and returns "".
func Lookup(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if Required() {
		t.Fatalf("%s is not installed: apt-get install %s (%s is set)", name, pkg, RequireEnv)
	}
	t.Logf("%s is not installed (apt-get install %s): not compared", name, pkg)
	return ""
}

// Need is Lookup for a test that is the comparison: without the program it
// skips, or fails under RequireEnv.
func Need(t testing.TB, name, pkg string) string {
	t.Helper()
	p := Lookup(t, name, pkg)
	if p == "" {
		t.SkipNow()
	}
	return p
}
