package reftool

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that keeps what a helper did instead of doing it.
type recorder struct {
	testing.TB
	logs, fatals []string
	skipped      bool
}

func (r *recorder) Helper() {}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}
func (r *recorder) SkipNow() { r.skipped = true }

func TestLookup(t *testing.T) {
	const missing = "ipckeys-no-such-program"
	if p := Lookup(t, "sh", "dash"); p == "" {
		t.Fatal("Lookup(sh) found nothing")
	}

	t.Setenv(RequireEnv, "")
	r := &recorder{}
	if p := Need(r, missing, "pkg"); p != "" || !r.skipped || len(r.fatals) != 0 {
		t.Errorf("not required: Need = %q, skipped %v, fatals %q; want a skip", p, r.skipped, r.fatals)
	}
	if want := []string{missing + " is not installed (apt-get install pkg): not compared"}; fmt.Sprint(r.logs) != fmt.Sprint(want) {
		t.Errorf("logs %q, want %q", r.logs, want)
	}

	t.Setenv(RequireEnv, "1")
	r = &recorder{}
	Lookup(r, missing, "pkg")
	if want := []string{missing + " is not installed: apt-get install pkg (IPCKEYS_REQUIRE_TOOLS is set)"}; fmt.Sprint(r.fatals) != fmt.Sprint(want) {
		t.Errorf("required: fatals %q, want %q", r.fatals, want)
	}
}
