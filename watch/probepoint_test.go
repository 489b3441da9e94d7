package watch

import (
	"bytes"
	"testing"
)

// Each case is a function at 0x1000 written out from the instruction set
// reference, with the site right after its syscall (at 0x1007).
func TestEmulatedAfter(t *testing.T) {
	var (
		prelude = []byte{0xb8, 0x1d, 0, 0, 0, 0x0f, 0x05}    // mov $29,%eax; syscall
		cmpRAX  = []byte{0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff} // cmp $-4096,%rax
		testRAX = []byte{0x48, 0x85, 0xc0}                   // test %rax,%rax
		ja1     = []byte{0x77, 0x01}                         // ja .+3
		jne32   = []byte{0x0f, 0x85, 1, 0, 0, 0}             // jne .+7
		call    = []byte{0xe8, 0, 0, 0, 0}                   // call .+5
		ret     = []byte{0xc3}
	)
	code := func(parts ...[]byte) []byte { return bytes.Join(append([][]byte{prelude}, parts...), nil) }
	for _, c := range []struct {
		name string
		code []byte
		want uint64 // 0: the site stays
	}{
		{"glibc: cmp, ja", code(cmpRAX, ja1, ret, ret), 0x100d},
		{"test, jne rel32", code(testRAX, jne32, ret, ret), 0x100a},
		{"the site is a branch", code(ja1, ret, ret), 0},
		{"glibc's semctl: mov %eax,%edx writes an argument", code([]byte{0x89, 0xc2}, cmpRAX, ja1, ret, ret), 0},
		{"musl: mov %rax,%rdi writes an argument", code([]byte{0x48, 0x89, 0xc7}, call, ret), 0},
		{"a jump lands on the branch", code(cmpRAX, ja1, ret, ret, []byte{0xeb, 0xfa}), 0}, // jmp back to the ja
		{"a jump lands between", code(cmpRAX, cmpRAX, ja1, ret, ret, []byte{0xeb, 0xf4}), 0},
		{"an indirect jump", code(cmpRAX, ja1, ret, ret, []byte{0xff, 0xe0}), 0}, // jmp *%rax
		{"a prefixed branch", code(cmpRAX, []byte{0x3e, 0x77, 0x01}, ret, ret), 0},
		{"undecodable", code(cmpRAX, ja1, ret, []byte{0x06}), 0},
		{"nothing after", code(cmpRAX), 0},
	} {
		got, ok := emulatedAfter(c.code, 0x1000, 0x1007)
		if !ok {
			got = 0
		}
		if got != c.want {
			t.Errorf("%s: %#x, %v; want %#x", c.name, got, ok, c.want)
		}
	}
}
