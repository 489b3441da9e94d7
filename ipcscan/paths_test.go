package ipcscan_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/ipckeys/ipckeys/ipcscan"
)

func TestInspectKeyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(p, &sfs); err != nil {
		t.Fatal(err)
	}
	k, err := ipcscan.InspectKeyFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if k.Dev != st.Dev || k.Ino != st.Ino {
		t.Errorf("dev/ino = %d/%d, stat says %d/%d", k.Dev, k.Ino, st.Dev, st.Ino)
	}
	if k.Major() != uint32((st.Dev>>8)&0xfff) || k.Minor() != uint32((st.Dev&0xff)|((st.Dev>>12)&0xfff00)) {
		t.Errorf("major:minor %d:%d do not decode st_dev %#x", k.Major(), k.Minor(), st.Dev)
	}
	if sfs.Type == 0xef53 && (k.FSType != "ext4" || k.Unstable != "") {
		t.Errorf("ext4 temp dir: got %q, unstable %q", k.FSType, k.Unstable)
	}
	if _, err := ipcscan.InspectKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestInspectKeyFileTmpfs(t *testing.T) {
	var sfs syscall.Statfs_t
	if syscall.Statfs("/dev/shm", &sfs) != nil || sfs.Type != 0x01021994 {
		t.Skip("/dev/shm is not tmpfs here")
	}
	k, err := ipcscan.InspectKeyFile("/dev/shm")
	if err != nil {
		t.Fatal(err)
	}
	if k.FSType != "tmpfs" || k.Unstable == "" {
		t.Errorf("/dev/shm: fs %q unstable %q, want tmpfs and a reason", k.FSType, k.Unstable)
	}
	if k.Major() != 0 {
		t.Errorf("tmpfs major %d, want 0 (anonymous device)", k.Major())
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.conf", "a.conf", "c.txt", "odd[1].conf"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		arg  string
		want []string
		err  error
	}{
		{j("*.conf"), []string{j("a.conf"), j("b.conf"), j("odd[1].conf")}, nil},
		{j("?.conf"), []string{j("a.conf"), j("b.conf")}, nil},
		{j("a.conf"), []string{j("a.conf")}, nil},
		{j("missing"), []string{j("missing")}, nil}, // no metacharacters: stat reports it
		{j("odd[1].conf"), []string{j("odd[1].conf")}, nil},
		{j("*.none"), nil, ipcscan.ErrNoMatch},
		{j("[.conf"), nil, filepath.ErrBadPattern},
	}
	for _, tc := range tests {
		got, err := ipcscan.Expand(tc.arg)
		if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Expand(%q) = %q, %v; want %q, %v", tc.arg, got, err, tc.want, tc.err)
		}
	}
}
