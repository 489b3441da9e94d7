package ftok_test

import (
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/ftok"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name     string
		dev, ino uint64
		proj     int
		want     uint32
	}{
		// The incident: inodes 0x1E64001 and 0x1EC4001 on sda1 (8:1) agree in
		// their low 16 bits, so both files give 0x6c014001 for proj 'l'.
		{"incident B", 0x0801, 0x1E64001, 'l', 0x6c014001},
		{"incident C", 0x0801, 0x1EC4001, 'l', 0x6c014001},
		// Linux st_dev: minor low byte | major << 8 | (minor &^ 0xff) << 12.
		// nvme0n1p1 is 259:1, encoded 0x10301; dm-1 is 253:1 (0xfd01).
		{"nvme 259:1", 0x10301, 0x20, 1, 0x01010020},
		{"dm 253:1", 0xfd01, 0x20, 1, 0x01010020},
		{"minor 0x1234", 0x123_0034 | 42<<8, 7, 1, 0x01340007},
		{"proj truncated 257", 0x801, 0x1234, 257, 0x01011234},
		{"proj 0x1ff", 0x801, 0x1234, 0x1ff, 0xff011234},
		{"proj -1", 0x801, 0x1234, -1, 0xff011234},
		{"proj 128 negative key", 0x801, 0x1234, 128, 0x80011234},
		{"IPC_PRIVATE", 0x100, 0x10000, 0, 0},
		{"error value", 0x8ff, 0xffff, 255, 0xffffffff},
		{"64-bit inode", 0xff, 0xdeadbeef_cafe0001, 'x', 0x78ff0001},
	}
	for _, tc := range tests {
		got := ftok.Key(tc.dev, tc.ino, tc.proj)
		if uint32(got) != tc.want {
			t.Errorf("%s: Key(%#x, %#x, %d) = %#08x, want %#08x", tc.name, tc.dev, tc.ino, tc.proj, uint32(got), tc.want)
		}
		if fp := ftok.FingerprintOf(tc.dev, tc.ino); uint32(fp.Key(tc.proj)) != tc.want {
			t.Errorf("%s: FingerprintOf(...).Key(%d) = %#08x, want %#08x", tc.name, tc.proj, uint32(fp.Key(tc.proj)), tc.want)
		}
	}
	if got := ftok.Key(0x801, 0x1234, 128); got >= 0 {
		t.Errorf("proj 128 gave key %d: key_t is signed, want negative", got)
	}
}

func TestDecode(t *testing.T) {
	p := ftok.Decode(ftok.Key(0x801, 0x1E64001, 'l'))
	if p != (ftok.Parts{Proj: 'l', DevByte: 1, InoBits: 0x4001}) {
		t.Errorf("Decode = %+v", p)
	}
	if got := p.Fingerprint().String(); got != "0x014001" {
		t.Errorf("fingerprint string = %q, want 0x014001", got)
	}
	if got := ftok.Hex(-559038737); got != "0xdeadbeef" {
		t.Errorf("Hex(-559038737) = %q, want 0xdeadbeef", got)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"0x6c014001", 0x6c014001, true},
		{"0X6C014001", 0x6c014001, true},
		{"0xdeadbeef", 0xdeadbeef, true},
		{"-559038737", 0xdeadbeef, true},
		{"3735928559", 0, false}, // decimal keys are signed, as /proc/sysvipc prints them
		{"4294967295", 0, false},
		{"2147483647", 0x7fffffff, true},
		{"-2147483648", 0x80000000, true},
		{"0xffffffff", 0xffffffff, true},
		{"0x00000001", 1, true},
		{"0x00000000000000001", 0, false}, // more than eight hex digits
		{"010", 0, false},                 // octal to C
		{"+5", 0, false},
		{"0", 0, true},
		{"-1", 0xffffffff, true},
		{" 0x1 ", 0, false},
		{" 0x1", 0, false},
		{"0x", 0, false},
		{"0x123456789", 0, false},
		{"4294967296", 0, false},
		{"-2147483649", 0, false},
		{"key", 0, false},
		{"", 0, false},
		{"0x-1", 0, false},
	}
	for _, tc := range tests {
		got, err := ftok.ParseKey(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseKey(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && uint32(got) != tc.want {
			t.Errorf("ParseKey(%q) = %#x, want %#x", tc.in, uint32(got), tc.want)
		}
	}
}

func TestParseProj(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"l", 108, true},
		{"'1'", 0x31, true},
		{"' '", 0x20, true},
		{"1", 1, true},
		{"108", 108, true},
		{"0x6c", 108, true},
		{"0X6C", 108, true},
		{"0", 0, true},
		{"255", 255, true},
		{"256", 256, true},
		{"0x1ff", 0x1ff, true},
		{"-1", -1, true},
		{"9504", 9504, true},
		{"010", 0, false},
		{"ll", 0, false},
		{"", 0, false},
		{"'ab'", 0, false},
		{"0x", 0, false},
		{"0xg", 0, false},
		{"99999999999", 0, false},
		{"2147483647", 2147483647, true},
		{"-2147483648", -2147483648, true},
		{"0x7fffffff", 0x7fffffff, true},
		{"-0x1", -1, true},
		{"2147483648", 0, false},
		{"0x80000000", 0, false},
		{"0xffffffff", 0, false},
		{"-2147483649", 0, false},
		{"0x000000001", 0, false},
		{" ", 0, false},
		{"\x01", 0, false},
		{"é", 0, false},
		{"1.5", 0, false},
	}
	for _, tc := range tests {
		got, err := ftok.ParseProj(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseProj(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && got != tc.want {
			t.Errorf("ParseProj(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"0x6c014001", "-559038737", "4294967295", "0x", "", "-", "0xffffffff", "+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ftok.ParseKey(s)
		if err != nil {
			return
		}
		// Whatever parses must round-trip through both printed forms and
		// through its decoded parts.
		if k2, err := ftok.ParseKey(ftok.Hex(k)); err != nil || k2 != k {
			t.Fatalf("ParseKey(Hex(%d)) = %d, %v", k, k2, err)
		}
		p := ftok.Decode(k)
		if got := p.Fingerprint().Key(int(p.Proj)); got != k {
			t.Fatalf("Decode(%#x) reassembles to %#x", uint32(k), uint32(got))
		}
	})
}

func FuzzParseProj(f *testing.F) {
	for _, s := range []string{"l", "'1'", "108", "0x6c", "-1", "010", "", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ftok.ParseProj(s)
		if err != nil {
			return
		}
		if p < -(1<<31) || p > 1<<32-1 {
			t.Fatalf("ParseProj(%q) = %d, out of C int range", s, p)
		}
	})
}

func BenchmarkKey(b *testing.B) {
	var sink int32
	for i := 0; b.Loop(); i++ {
		sink ^= ftok.Key(uint64(i), uint64(i)*2654435761, i)
	}
	_ = sink
}

// TestOutOfRange holds proj ids and keys to one rule: a value too large is
// "out of range", in decimal and in hex alike, never "not a number".
func TestOutOfRange(t *testing.T) {
	for _, s := range []string{"2147483648", "-2147483649", "0x80000000", "0xffffffff", "99999999999999999999", "0x123456789"} {
		if _, err := ftok.ParseProj(s); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("ParseProj(%q): %v, want an out-of-range error", s, err)
		}
	}
	for _, s := range []string{"2147483648", "4294967295", "-2147483649", "0x123456789", "0x00000000000000001", "99999999999999999999"} {
		if _, err := ftok.ParseKey(s); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("ParseKey(%q): %v, want an out-of-range error", s, err)
		}
	}
}
