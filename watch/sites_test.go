package watch_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/ipckeys/ipckeys/internal/nstest"
	"github.com/ipckeys/ipckeys/internal/reftool"
	"github.com/ipckeys/ipckeys/watch"
)

const (
	glibcPath   = "/lib/x86_64-linux-gnu/libc.so.6"
	muslPath    = "/lib/x86_64-linux-musl/libc.so" // Debian's musl; /lib/ld-musl-x86_64.so.1 links to it
	unistdPath  = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
	elfBase     = 0x400000 // the virtual address of file offset 0 in the libraries built here
	elfText     = 0x200    // the file offset of their first function
	elfSlotSize = 0x40     // bytes per function
)

// elfSlot is the address of the i-th function of a library built here; its
// file offset is elfSlot(i) - elfBase.
func elfSlot(i int) uint64 { return elfBase + elfText + uint64(i)*elfSlotSize }

// elfSym is a dynamic symbol of a library built here, on the code in its
// slot.
type elfSym struct {
	name  string
	slot  int
	code  []byte // the slot's code; nil for another symbol on the same slot
	info  byte   // 0: a global function
	size  int    // 0: the code's length; -1: none
	value uint64 // 0: the slot's address
	undef bool
}

// buildELF writes a minimal x86-64 shared library: one executable
// PT_LOAD segment mapping the file at elfBase, and a dynamic symbol
// table.
func buildELF(machine elf.Machine, syms []elfSym) []byte {
	n := 0
	for _, s := range syms {
		n = max(n, (s.slot+1)*elfSlotSize, s.slot*elfSlotSize+len(s.code))
	}
	text := bytes.Repeat([]byte{0xcc}, n)
	sizes := map[int]int{}
	for _, s := range syms {
		if s.code != nil {
			copy(text[s.slot*elfSlotSize:], s.code)
			sizes[s.slot] = len(s.code)
		}
	}
	dynstr := []byte{0}
	dynsym := make([]elf.Sym64, 1, len(syms)+1)
	for _, s := range syms {
		sym := elf.Sym64{Name: uint32(len(dynstr)), Info: s.info, Shndx: 1, Value: elfSlot(s.slot), Size: uint64(sizes[s.slot])}
		dynstr = append(append(dynstr, s.name...), 0)
		if sym.Info == 0 {
			sym.Info = elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC)
		}
		if s.size != 0 {
			sym.Size = uint64(max(s.size, 0))
		}
		if s.value != 0 {
			sym.Value = s.value
		}
		if s.undef {
			sym.Shndx, sym.Value, sym.Size = uint16(elf.SHN_UNDEF), 0, 0
		}
		dynsym = append(dynsym, sym)
	}
	shstr := []byte("\x00.text\x00.dynsym\x00.dynstr\x00.shstrtab\x00")
	symOff := uint64(elfText + len(text))
	strOff := symOff + uint64(len(dynsym)*elf.Sym64Size)
	shstrOff := strOff + uint64(len(dynstr))
	shOff := (shstrOff + uint64(len(shstr)) + 7) &^ 7

	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := elf.Header64{Type: uint16(elf.ET_DYN), Machine: uint16(machine), Version: 1, Phoff: 64, Shoff: shOff,
		Ehsize: 64, Phentsize: 56, Phnum: 1, Shentsize: 64, Shnum: 5, Shstrndx: 4}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&b, le, hdr)
	binary.Write(&b, le, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Vaddr: elfBase, Paddr: elfBase,
		Filesz: symOff, Memsz: symOff, Align: 0x1000})
	b.Write(make([]byte, elfText-b.Len()))
	b.Write(text)
	binary.Write(&b, le, dynsym)
	b.Write(dynstr)
	b.Write(shstr)
	b.Write(make([]byte, int(shOff)-b.Len()))
	for _, sh := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC | elf.SHF_EXECINSTR), Addr: elfBase + elfText, Off: elfText, Size: uint64(len(text)), Addralign: 16},
		{Name: 7, Type: uint32(elf.SHT_DYNSYM), Flags: uint64(elf.SHF_ALLOC), Off: symOff, Size: uint64(len(dynsym) * elf.Sym64Size), Link: 3, Info: 1, Addralign: 8, Entsize: elf.Sym64Size},
		{Name: 15, Type: uint32(elf.SHT_STRTAB), Flags: uint64(elf.SHF_ALLOC), Off: strOff, Size: uint64(len(dynstr)), Addralign: 1},
		{Name: 23, Type: uint32(elf.SHT_STRTAB), Off: shstrOff, Size: uint64(len(shstr)), Addralign: 1},
	} {
		binary.Write(&b, le, sh)
	}
	return b.Bytes()
}

// x86code is machine code written out from the instruction set reference,
// its parts concatenated.
func x86code(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// le32 is a little-endian 32-bit immediate or displacement.
func le32(v int64) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

// rel32 is the displacement of a 5-byte jmp or call at from to to.
func rel32(from, to uint64) []byte { return le32(int64(to) - int64(from+5)) }

var (
	movEAX    = func(n int64) []byte { return x86code([]byte{0xb8}, le32(n)) }             // mov $n,%eax
	movRAX    = func(n int64) []byte { return x86code([]byte{0x48, 0xc7, 0xc0}, le32(n)) } // mov $n,%rax
	movEDI    = func(n int64) []byte { return x86code([]byte{0xbf}, le32(n)) }             // mov $n,%edi
	opSyscall = []byte{0x0f, 0x05}                                                         // syscall
	opRet     = []byte{0xc3}                                                               // ret
	endbr64   = []byte{0xf3, 0x0f, 0x1e, 0xfa}                                             // endbr64
	movRCXR10 = []byte{0x49, 0x89, 0xca}                                                   // mov %rcx,%r10
)

// siteText is a report, one line a site or a missing wrapper; the
// wrappers a library does not define at all are left out unless all.
func siteText(rep watch.SiteReport, all bool) string {
	var lines []string
	for _, s := range rep.Sites {
		lines = append(lines, fmt.Sprintf("site %s %d %#x %#x", s.Func, s.Nr, s.Addr, s.Offset))
	}
	for _, m := range rep.Missing {
		if m.Addr != 0 || all {
			lines = append(lines, fmt.Sprintf("missing %s %#x via=%s: %s", m.Func, m.Addr, m.Via, m.Reason))
		}
	}
	return strings.Join(lines, "\n")
}

// wantSite is the line of a site at addr in a library built here.
func wantSite(fn string, nr int, addr uint64) string {
	return fmt.Sprintf("site %s %d %#x %#x", fn, nr, addr, addr-elfBase)
}

func wantMissing(fn string, addr uint64, via, reason string) string {
	return fmt.Sprintf("missing %s %#x via=%s: %s", fn, addr, via, reason)
}

// Each case is a library of hand-assembled wrappers; where each site is
// (the address after its 2-byte syscall) is counted from the encodings.
func TestFindSyscallSitesCases(t *testing.T) {
	helper := elfSym{name: "__syscall_cancel", slot: 9, code: opRet}
	for _, c := range []struct {
		name string
		syms []elfSym
		want []string
	}{{
		name: "the number in eax or rax",
		syms: []elfSym{
			{name: "shmget", slot: 0, code: x86code(movEAX(29), opSyscall, opRet)},
			{name: "shmat", slot: 1, code: x86code(movRAX(30), opSyscall, opRet)},
		},
		want: []string{wantSite("shmget", 29, elfSlot(0)+7), wantSite("shmat", 30, elfSlot(1)+9)},
	}, {
		name: "0f 05 inside an immediate is not a syscall",
		syms: []elfSym{
			{name: "semget", slot: 0, code: x86code([]byte{0xb9}, le32(0x050f), movEAX(64), opSyscall, opRet)}, // mov $0x50f,%ecx
			{name: "shmdt", slot: 1, code: x86code(movEAX(0x050f), opRet)},
		},
		want: []string{wantSite("semget", 64, elfSlot(0)+12),
			wantMissing("shmdt", elfSlot(1), "", "no system call instruction in the function")},
	}, {
		name: "other system calls are not watched",
		syms: []elfSym{
			{name: "msgget", slot: 0, code: x86code(movEAX(39), opSyscall, []byte{0x31, 0xc0}, opSyscall, movEAX(68), opSyscall, opRet)}, // getpid, read
		},
		want: []string{wantSite("msgget", 68, elfSlot(0)+18)},
	}, {
		name: "the number must be loaded in the syscall's basic block",
		syms: []elfSym{
			// test %edi,%edi; je to the syscall: a path that skips the load.
			{name: "shmdt", slot: 0, code: x86code([]byte{0x85, 0xff, 0x74, 0x05}, movEAX(67), opSyscall, opRet)},
			{name: "shmget", slot: 1, code: x86code(movEAX(29), []byte{0x89, 0xf8}, opSyscall, opRet)},                            // mov %edi,%eax
			{name: "msgget", slot: 2, code: x86code([]byte{0x66, 0xb8, 0x44, 0x00}, opSyscall, opRet)},                            // mov $68,%ax
			{name: "msgctl", slot: 3, code: x86code(movEAX(71), []byte{0xe8}, rel32(elfSlot(3)+5, elfSlot(9)), opSyscall, opRet)}, // a call between
			helper,
		},
		want: []string{
			wantMissing("shmget", elfSlot(1), "", fmt.Sprintf("the number of the system call at %#x is not known from its basic block", elfSlot(1)+7)),
			wantMissing("shmdt", elfSlot(0), "", fmt.Sprintf("the number of the system call at %#x is not known from its basic block", elfSlot(0)+9)),
			wantMissing("msgget", elfSlot(2), "", fmt.Sprintf("the number of the system call at %#x is not known from its basic block", elfSlot(2)+4)),
			wantMissing("msgctl", elfSlot(3), "", fmt.Sprintf("the number of the system call at %#x is not known from its basic block", elfSlot(3)+10)),
		},
	}, {
		name: "another wrapper's system call",
		syms: []elfSym{{name: "shmctl", slot: 0, code: x86code(movEAX(29), opSyscall, opRet)}},
		want: []string{wantMissing("shmctl", elfSlot(0), "", fmt.Sprintf("the system call at %#x is shmget's (29)", elfSlot(0)+5))},
	}, {
		name: "semop going on in semtimedop, or making it itself",
		syms: []elfSym{
			{name: "semtimedop", slot: 0, code: x86code(movRCXR10, movEAX(220), opSyscall, opRet)},
			{name: "semop", slot: 1, code: x86code([]byte{0x31, 0xc9, 0xe9}, rel32(elfSlot(1)+2, elfSlot(0)))}, // xor %ecx,%ecx; jmp semtimedop
			{name: "semctl", slot: 2, code: x86code([]byte{0x45, 0x31, 0xd2}, movEAX(66), opSyscall, opRet)},
		},
		want: []string{wantSite("semtimedop", 220, elfSlot(0)+10), wantSite("semctl", 66, elfSlot(2)+10),
			wantMissing("semop", elfSlot(1), "semtimedop", fmt.Sprintf("no system call instruction in the function: it goes on in semtimedop (%#x), whose sites see its calls", elfSlot(0)))},
	}, {
		name: "semop making semtimedop's call",
		syms: []elfSym{{name: "semop", slot: 0, code: x86code([]byte{0x45, 0x31, 0xd2}, movEAX(220), opSyscall, opRet)}}, // xor %r10d,%r10d
		want: []string{wantSite("semop", 220, elfSlot(0)+10)},
	}, {
		name: "overlapping functions",
		syms: []elfSym{
			{name: "semop", slot: 0, code: x86code([]byte{0x45, 0x31, 0xd2}, movEAX(220), opSyscall, opRet)},
			{name: "semtimedop", slot: 0, value: elfSlot(0) + 3, size: 8},
		},
		want: []string{wantSite("semop", 220, elfSlot(0)+10),
			wantMissing("semtimedop", elfSlot(0)+3, "semop", "its system call instructions are in semop too (the functions overlap), whose sites see its calls")},
	}, {
		name: "the call made by a shared helper",
		syms: []elfSym{
			// glibc 2.41: a syscall when single-threaded, else
			// __syscall_cancel(..., 69): test; je +8; mov; syscall; ret;
			// push $69; call; pop %rcx; ret.
			{name: "msgsnd", slot: 0, code: x86code([]byte{0x85, 0xff, 0x74, 0x08}, movEAX(69), opSyscall, opRet,
				[]byte{0x6a, 0x45, 0xe8}, rel32(elfSlot(0)+14, elfSlot(9)), []byte{0x59}, opRet)},
			// musl: __syscall_cp(70, ...).
			{name: "msgrcv", slot: 1, code: x86code(movEDI(70), []byte{0xe8}, rel32(elfSlot(1)+5, elfSlot(9)), opRet)},
			{name: "msgctl", slot: 2, code: x86code([]byte{0xe8}, rel32(elfSlot(2), elfSlot(9)), opRet)},
			helper,
		},
		want: []string{
			wantMissing("msgsnd", elfSlot(0), "", fmt.Sprintf("its system call instructions do not see all its calls: it passes its system call number (69) to other code at %#x, which makes the call there", elfSlot(0)+14)),
			wantMissing("msgrcv", elfSlot(1), "", fmt.Sprintf("no system call instruction in the function: it passes its system call number (70) to other code at %#x, which makes the call there", elfSlot(1)+5)),
			wantMissing("msgctl", elfSlot(2), "", fmt.Sprintf("no system call instruction in the function: it calls other code (%#x), so a shared system-call helper makes the call", elfSlot(9))),
		},
	}, {
		name: "CET landing pads",
		syms: []elfSym{{name: "msgctl", slot: 0, code: x86code(endbr64, movEAX(71), opSyscall, opRet)}},
		want: []string{wantSite("msgctl", 71, elfSlot(0)+11)},
	}, {
		name: "code that cannot be decoded or trusted",
		syms: []elfSym{
			{name: "shmget", slot: 0, code: x86code([]byte{0x06}, movEAX(29), opSyscall, opRet)},       // push %es: not in 64-bit mode
			{name: "shmat", slot: 1, code: x86code(movEAX(30), opSyscall)},                             // nothing after the syscall
			{name: "semctl", slot: 2, code: x86code(movEAX(66), opSyscall, []byte{0xff, 0xe0}, opRet)}, // jmp *%rax
			{name: "semget", slot: 3, code: x86code(movEAX(64), []byte{0x0f})},                         // cut short
			// jmp into the immediate of a mov, where mov $29,%eax hides.
			{name: "shmdt", slot: 4, code: x86code([]byte{0xeb, 0x01, 0x48, 0xb9, 0xb8, 0x1d, 0, 0, 0, 0x90, 0x90, 0x90}, movEAX(67), opSyscall, opRet)},
		},
		want: []string{
			wantMissing("shmget", elfSlot(0), "", fmt.Sprintf("cannot decode the instruction at %#x (06 b8 1d 00 00 00 0f 05 c3)", elfSlot(0))),
			wantMissing("shmat", elfSlot(1), "", fmt.Sprintf("the system call at %#x is the function's last instruction", elfSlot(1)+5)),
			wantMissing("shmdt", elfSlot(4), "", fmt.Sprintf("the jump at %#x goes into the middle of an instruction (%#x): the function cannot be decoded in one pass", elfSlot(4), elfSlot(4)+3)),
			wantMissing("semget", elfSlot(3), "", fmt.Sprintf("cannot decode the instruction at %#x (0f)", elfSlot(3)+5)),
			wantMissing("semctl", elfSlot(2), "", fmt.Sprintf("the indirect jump at %#x may enter a block past the load of its system call number", elfSlot(2)+7)),
		},
	}, {
		name: "symbols",
		syms: []elfSym{
			{name: "shmget", slot: 0, code: x86code(movEAX(29), opSyscall, opRet)},
			{name: "shmget", slot: 0},        // a second version at the same address
			{name: "__libc_shmget", slot: 0}, // an alias
			{name: "shmdt", slot: 1, undef: true},
			{name: "msgget", slot: 2, code: opRet, info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_GNU_IFUNC)},
			{name: "msgsnd", slot: 3, code: opRet, info: elf.ST_INFO(elf.STB_WEAK, elf.STT_NOTYPE)},
			{name: "msgrcv", slot: 4, code: opRet, size: -1},
			{name: "msgctl", slot: 5, code: opRet, value: elfBase + 0x100000},
			{name: "shmctl", slot: 6, code: opRet, size: 70000},
			{name: "semop", slot: 7, code: x86code(movEAX(65), opSyscall, opRet), info: elf.ST_INFO(elf.STB_WEAK, elf.STT_FUNC)},
			{name: "semget", slot: 8, code: opRet, size: 0x41}, // past the segment's end
		},
		want: []string{
			wantSite("shmget", 29, elfSlot(0)+7), wantSite("semop", 65, elfSlot(7)+7),
			wantMissing("shmctl", elfSlot(6), "", "the function is 70000 bytes, more than the 65536 this decodes"),
			wantMissing("semget", elfSlot(8), "", fmt.Sprintf("its code (%#x, 65 bytes) is not in an executable segment of the file", elfSlot(8))),
			wantMissing("msgget", elfSlot(2), "", "an indirect function: its symbol is the resolver that picks the code, not the code"),
			wantMissing("msgsnd", elfSlot(3), "", "its symbol is not a function (STT_NOTYPE)"),
			wantMissing("msgrcv", elfSlot(4), "", "its symbol has no size, so where the function ends is not known"),
			wantMissing("msgctl", elfBase+0x100000, "", "its code (0x500000, 1 bytes) is not in an executable segment of the file"),
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := watch.FindSyscallSites(bytes.NewReader(buildELF(elf.EM_X86_64, c.syms)))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := siteText(rep, false), strings.Join(c.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// Every wrapper is reported, the undefined ones too; a definition past
// the 16th is not read.
func TestFindSyscallSitesCounts(t *testing.T) {
	var syms []elfSym
	var want []string
	for i := 0; i < 17; i++ {
		syms = append(syms, elfSym{name: "shmdt", slot: i, code: x86code(movEAX(67), opSyscall, opRet)})
		if i < 16 {
			want = append(want, wantSite("shmdt", 67, elfSlot(i)+7))
		}
	}
	want = append(want, wantMissing("shmget", 0, "", "not defined in the library's dynamic symbol table"),
		wantMissing("shmat", 0, "", "not defined in the library's dynamic symbol table"),
		wantMissing("shmdt", elfSlot(16), "", "more than 16 definitions of the symbol: the rest are not read"))
	for _, name := range []string{"shmctl", "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl"} {
		want = append(want, wantMissing(name, 0, "", "not defined in the library's dynamic symbol table"))
	}
	rep, err := watch.FindSyscallSites(bytes.NewReader(buildELF(elf.EM_X86_64, syms)))
	if err != nil {
		t.Fatal(err)
	}
	if got := siteText(rep, true); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if got := rep.Missing[0].String(); got != "shmget: not defined in the library's dynamic symbol table" {
		t.Errorf("String() = %q", got)
	}
}

// worstELF is a library with the most code FindSyscallSites decodes: each
// wrapper defined 17 times on 64 KiB of one-byte NOPs, all overlapping.
func worstELF() []byte {
	var syms []elfSym
	for _, n := range wrapperNames {
		for i := 0; i < 17; i++ {
			syms = append(syms, elfSym{name: n, value: elfSlot(0) + uint64(i), size: 65536 - 16})
		}
	}
	syms[0].code = bytes.Repeat([]byte{0x90}, 65536)
	return buildELF(elf.EM_X86_64, syms)
}

// The work is bounded: 16 definitions of a wrapper, 1 MiB of code in all.
func TestFindSyscallSitesBounds(t *testing.T) {
	rep, err := watch.FindSyscallSites(bytes.NewReader(worstELF()))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, m := range rep.Missing {
		count[m.Reason]++
	}
	want := map[string]int{
		"no system call instruction in the function":                                                    16, // shmget's, 16 × 65520 bytes
		"more than 16 definitions of the symbol: the rest are not read":                                 12,
		"its 65520 bytes of code would take the wrappers' past the 1048576 this decodes in one library": 11 * 16,
	}
	if len(rep.Sites) != 0 || fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("%d sites, reasons %v; want none and %v", len(rep.Sites), count, want)
	}
}

func BenchmarkFindSyscallSitesWorst(b *testing.B) {
	lib := worstELF()
	for b.Loop() {
		if _, err := watch.FindSyscallSites(bytes.NewReader(lib)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFindSyscallSitesGlibc(b *testing.B) {
	lib, err := os.ReadFile(glibcPath)
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := watch.FindSyscallSites(bytes.NewReader(lib)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFindSyscallSitesErrors(t *testing.T) {
	_, err := watch.FindSyscallSites(bytes.NewReader(buildELF(elf.EM_AARCH64, []elfSym{{name: "shmget", code: opRet}})))
	if want := "not an x86-64 ELF file (ELFCLASS64, EM_AARCH64): only x86-64 system call sites are known"; err == nil || err.Error() != want {
		t.Errorf("aarch64: %v, want %s", err, want)
	}
	if _, err := watch.FindSyscallSites(strings.NewReader("#!/bin/sh\n")); err == nil {
		t.Error("a script: no error")
	}
}

func FuzzFindSyscallSites(f *testing.F) {
	f.Add(buildELF(elf.EM_X86_64, []elfSym{
		{name: "shmget", slot: 0, code: x86code(endbr64, movEAX(29), opSyscall, opRet)},
		{name: "semop", slot: 1, code: x86code([]byte{0x31, 0xc9, 0xe9}, rel32(elfSlot(1)+2, elfSlot(2)))},
		{name: "semtimedop", slot: 2, code: x86code(movRCXR10, movEAX(220), opSyscall, opRet)},
		{name: "msgsnd", slot: 3, code: x86code([]byte{0x6a, 0x45, 0xe8}, rel32(elfSlot(3)+2, elfSlot(0)), opRet)},
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := watch.FindSyscallSites(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i, s := range rep.Sites {
			if i > 0 && s.Addr <= rep.Sites[i-1].Addr {
				t.Fatalf("sites not in order, or twice: %+v", rep.Sites)
			}
			if s.Offset < 2 || s.Offset > uint64(len(b)) {
				t.Fatalf("site %+v: its offset is not after a syscall in the %d-byte file", s, len(b))
			}
			if b[s.Offset-2] != 0x0f || b[s.Offset-1] != 0x05 {
				t.Fatalf("site %+v: % x before it is not a syscall", s, b[s.Offset-2:s.Offset])
			}
		}
		for _, m := range rep.Missing {
			if m.Reason == "" {
				t.Fatalf("%s at %#x missing with no reason", m.Func, m.Addr)
			}
		}
	})
}

// FuzzSyscallSiteCode decodes arbitrary machine code as the wrappers of
// a library: four of them on the code, from different starts.
func FuzzSyscallSiteCode(f *testing.F) {
	f.Add(x86code(endbr64, movEAX(29), opSyscall, opRet, []byte{0x31, 0xc9, 0xe9}, le32(-15), movRCXR10, movEAX(220), opSyscall, opRet))
	f.Add(x86code([]byte{0x85, 0xff, 0x74, 0x08}, movEAX(69), opSyscall, opRet, []byte{0x6a, 0x45, 0xe8}, le32(-19), []byte{0x59}, opRet))
	f.Fuzz(func(t *testing.T, code []byte) {
		if len(code) == 0 || len(code) > 4096 {
			return
		}
		var syms []elfSym
		for i, name := range []string{"shmget", "semop", "semtimedop", "msgsnd"} {
			at := i * len(code) / 4
			syms = append(syms, elfSym{name: name, value: elfSlot(0) + uint64(at), size: len(code) - at})
		}
		syms[0].code = code
		lib := buildELF(elf.EM_X86_64, syms)
		rep, err := watch.FindSyscallSites(bytes.NewReader(lib))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rep.Sites {
			if s.Addr-s.Offset != elfBase || s.Offset < elfText+2 || s.Offset >= elfText+uint64(len(code)) {
				t.Fatalf("site %+v outside the code", s)
			}
			if lib[s.Offset-2] != 0x0f || lib[s.Offset-1] != 0x05 {
				t.Fatalf("site %+v: % x before it is not a syscall", s, lib[s.Offset-2:s.Offset])
			}
		}
		reported := map[string]bool{}
		for _, s := range rep.Sites {
			reported[s.Func] = true
		}
		for _, m := range rep.Missing {
			reported[m.Func] = true
		}
		if len(reported) != len(wrapperNames) {
			t.Fatalf("not every wrapper is reported: %+v", rep)
		}
	})
}

// needFile returns path, a file the Debian package pkg provides; without
// it the test skips, or fails when reftool.RequireEnv is set.
func needFile(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if reftool.Required() {
			t.Fatalf("%s is not installed: apt-get install %s (%s is set)", path, pkg, reftool.RequireEnv)
		}
		t.Skipf("%s is not installed (apt-get install %s): not compared", path, pkg)
	}
	return path
}

// syscallNumbers reads the x86-64 system call numbers from the kernel's
// UAPI header.
func syscallNumbers(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile(needFile(t, unistdPath, "linux-libc-dev"))
	if err != nil {
		t.Fatal(err)
	}
	nrs := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define __NR_(\w+) (\d+)$`).FindAllSubmatch(b, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		nrs[string(m[1])] = n
	}
	return nrs
}

var wrapperNames = []string{"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl"}

// refFunc is a wrapper's function as binutils sees it.
type refFunc struct {
	name       string
	addr, size uint64
}

// readelfFuncs lists the defined wrapper functions of lib, once per name
// and address, from readelf's dynamic symbol table.
func readelfFuncs(t *testing.T, lib string) []refFunc {
	t.Helper()
	out := toolOutput(t, "readelf", "-W", "--dyn-syms", lib)
	wanted := map[string]bool{}
	for _, n := range wrapperNames {
		wanted[n] = true
	}
	var funcs []refFunc
	defer func() { sort.SliceStable(funcs, func(i, j int) bool { return funcs[i].addr < funcs[j].addr }) }()
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		// Num: Value Size Type Bind Vis Ndx Name
		if len(f) < 8 || !strings.HasSuffix(f[0], ":") || f[3] != "FUNC" || f[6] == "UND" {
			continue
		}
		name, _, _ := strings.Cut(f[7], "@")
		addr, err1 := strconv.ParseUint(f[1], 16, 64)
		size, err2 := strconv.ParseUint(f[2], 0, 64)
		if !wanted[name] || err1 != nil || err2 != nil || seen[name+f[1]] {
			continue
		}
		seen[name+f[1]] = true
		funcs = append(funcs, refFunc{name, addr, size})
	}
	return funcs
}

// readelfOffset maps a virtual address to its file offset through the
// executable PT_LOAD segments readelf lists.
func readelfOffset(t *testing.T, lib string) func(uint64) uint64 {
	t.Helper()
	type seg struct{ off, vaddr, filesz uint64 }
	var segs []seg
	for _, line := range strings.Split(toolOutput(t, "readelf", "-W", "-l", lib), "\n") {
		f := strings.Fields(line)
		// LOAD Offset VirtAddr PhysAddr FileSiz MemSiz Flg... Align
		if len(f) < 8 || f[0] != "LOAD" || !strings.Contains(strings.Join(f[6:len(f)-1], ""), "E") {
			continue
		}
		var s seg
		for i, p := range []*uint64{&s.off, &s.vaddr, nil, &s.filesz} {
			v, err := strconv.ParseUint(f[1+i], 0, 64)
			if err != nil {
				t.Fatalf("readelf -l: %q: %v", line, err)
			}
			if p != nil {
				*p = v
			}
		}
		segs = append(segs, s)
	}
	return func(addr uint64) uint64 {
		for _, s := range segs {
			if addr >= s.vaddr && addr < s.vaddr+s.filesz {
				return addr - s.vaddr + s.off
			}
		}
		t.Fatalf("%#x is in no executable segment of %s", addr, lib)
		return 0
	}
}

var (
	objdumpInst = regexp.MustCompile(`^\s*([0-9a-f]+):\t(.*)$`)
	objdumpMov  = regexp.MustCompile(`^mov\s+\$0x([0-9a-f]+),%[er]ax$`)
	objdumpJump = regexp.MustCompile(`^(?:jmp|call)\s+([0-9a-f]+) <`)
)

// objdumpReport is what binutils says FindSyscallSites should report:
// for each wrapper function readelf lists, each syscall objdump shows in
// it, the address of the instruction after it and the last number moved
// into eax before it; a function with none is missing, and goes on in the
// wrapper with sites it jumps to, if any.
func objdumpReport(t *testing.T, lib string) string {
	t.Helper()
	nrs := syscallNumbers(t)
	offset := readelfOffset(t, lib)
	funcs := readelfFuncs(t, lib)
	type found struct {
		sites []string
		jumps []uint64
	}
	var results []found
	withSites := map[uint64]string{}
	for _, fn := range funcs {
		var r found
		var insts [][]string
		out := toolOutput(t, "objdump", "-d", "-w", "--no-show-raw-insn",
			fmt.Sprintf("--start-address=%#x", fn.addr), fmt.Sprintf("--stop-address=%#x", fn.addr+fn.size), lib)
		for _, line := range strings.Split(out, "\n") {
			if m := objdumpInst.FindStringSubmatch(line); m != nil {
				insts = append(insts, []string{m[1], strings.TrimSpace(m[2])})
			}
		}
		nr := -1
		for i, in := range insts {
			if m := objdumpMov.FindStringSubmatch(in[1]); m != nil {
				n, _ := strconv.ParseUint(m[1], 16, 32)
				nr = int(n)
			}
			if m := objdumpJump.FindStringSubmatch(in[1]); m != nil {
				a, _ := strconv.ParseUint(m[1], 16, 64)
				r.jumps = append(r.jumps, a)
			}
			if in[1] != "syscall" {
				continue
			}
			if i+1 == len(insts) {
				t.Fatalf("%s: the syscall at %s ends %s", lib, in[0], fn.name)
			}
			if nr != nrs[fn.name] && !(fn.name == "semop" && nr == nrs["semtimedop"]) {
				t.Fatalf("%s: the syscall at %s in %s makes %d", lib, in[0], fn.name, nr)
			}
			after, _ := strconv.ParseUint(insts[i+1][0], 16, 64)
			r.sites = append(r.sites, fmt.Sprintf("site %s %d %#x %#x", fn.name, nr, after, offset(after)))
		}
		if len(r.sites) > 0 {
			withSites[fn.addr] = fn.name
		}
		results = append(results, r)
	}
	var sites, missing []string
	for _, name := range wrapperNames {
		defined := false
		for i, fn := range funcs {
			if fn.name != name {
				continue
			}
			defined = true
			if r := results[i]; len(r.sites) > 0 {
				sites = append(sites, r.sites...)
				continue
			}
			via := ""
			for _, j := range results[i].jumps {
				if withSites[j] != "" && withSites[j] != name {
					via = withSites[j]
					break
				}
			}
			missing = append(missing, fmt.Sprintf("missing %s %#x via=%s", name, fn.addr, via))
		}
		if !defined {
			missing = append(missing, fmt.Sprintf("missing %s 0x0 via=", name))
		}
	}
	sortByAddr(sites)
	return strings.Join(append(sites, missing...), "\n")
}

// sortByAddr sorts site lines by their address, the third field.
func sortByAddr(lines []string) {
	addr := func(s string) uint64 {
		v, _ := strconv.ParseUint(strings.Fields(s)[3][2:], 16, 64)
		return v
	}
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && addr(lines[j]) < addr(lines[j-1]); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
}

func toolOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(reftool.Need(t, name, "binutils"), args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// findSites runs FindSyscallSites on the file at path.
func findSites(t *testing.T, path string) watch.SiteReport {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := watch.FindSyscallSites(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rep
}

// The sites found in this machine's glibc and musl, and in a library
// built with two versions of shmctl, are those binutils' objdump shows.
func TestFindSyscallSitesMatchesObjdump(t *testing.T) {
	for _, c := range []struct {
		name string
		lib  func(t *testing.T) string
	}{
		{"glibc", func(t *testing.T) string { return needFile(t, glibcPath, "libc6") }},
		{"musl", func(t *testing.T) string { return needFile(t, muslPath, "musl") }},
		{"versioned", buildSiteLib},
	} {
		t.Run(c.name, func(t *testing.T) {
			lib := c.lib(t)
			rep := findSites(t, lib)
			var lines []string
			for _, s := range rep.Sites {
				lines = append(lines, fmt.Sprintf("site %s %d %#x %#x", s.Func, s.Nr, s.Addr, s.Offset))
			}
			for _, m := range rep.Missing {
				lines = append(lines, fmt.Sprintf("missing %s %#x via=%s", m.Func, m.Addr, m.Via))
			}
			got, want := strings.Join(lines, "\n"), objdumpReport(t, lib)
			if got != want {
				t.Fatalf("%s:\n%s\nobjdump:\n%s", lib, got, want)
			}
			if !strings.Contains(got, "site ") {
				t.Fatalf("%s: no site found", lib)
			}
			t.Logf("%s:\n%s", lib, siteText(rep, true))
		})
	}
}

// buildSiteLib compiles testdata/sitelib.c into a shared library whose
// shmctl has two versions.
func buildSiteLib(t *testing.T) string {
	gcc := reftool.Need(t, "gcc", "gcc")
	lib := filepath.Join(t.TempDir(), "libsite.so")
	cmd := exec.Command(gcc, "-O2", "-fPIC", "-shared", "-fcf-protection=full", "-Wall",
		"-Wl,--version-script=testdata/sitelib.map", "-o", lib, "testdata/sitelib.c")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	out := toolOutput(t, "readelf", "-W", "--dyn-syms", lib)
	if !strings.Contains(out, " shmctl@SITE_1") || !strings.Contains(out, " shmctl@@SITE_2") {
		t.Fatalf("the library does not have two versions of shmctl:\n%s", out)
	}
	return lib
}

// siteEvent is what the uprobe program records at a site.
type siteEvent struct {
	TGID, Cookie, AX, DI, SI, DX, R10, R8 uint64
}

// ptRegs are the offsets of registers in x86-64's struct pt_regs, a
// uprobe program's context.
var ptRegs = []struct {
	name string
	off  int16
}{{"ax", 80}, {"di", 112}, {"si", 104}, {"dx", 96}, {"r10", 56}, {"r8", 72}}

// siteProgram is a uprobe program that pushes a siteEvent to queue.
func siteProgram(t *testing.T, queue *ebpf.Map) *ebpf.Program {
	t.Helper()
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, -64, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnGetAttachCookie.Call(),
		asm.StoreMem(asm.RFP, -56, asm.R0, asm.DWord),
	}
	for i, r := range ptRegs {
		insns = append(insns, asm.LoadMem(asm.R0, asm.R6, r.off, asm.DWord), asm.StoreMem(asm.RFP, -48+8*int16(i), asm.R0, asm.DWord))
	}
	insns = append(insns,
		asm.LoadMapPtr(asm.R1, queue.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -64),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnMapPushElem.Call(),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "site", Type: ebpf.Kprobe, Instructions: insns, License: "GPL"})
	if err != nil {
		t.Fatalf("load the uprobe program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// probeSites attaches a uprobe at the file offset of each site of lib,
// with the site's index and number as its cookie, runs bin in a private
// IPC namespace, and returns its output and what the sites saw of it.
func probeSites(t *testing.T, lib string, sites []watch.SyscallSite, bin string) (string, []siteEvent) {
	t.Helper()
	queue, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Queue, ValueSize: 64, MaxEntries: 4096})
	if err != nil {
		t.Fatalf("create the queue: %v", err)
	}
	defer queue.Close()
	prog := siteProgram(t, queue)
	ex, err := link.OpenExecutable(lib)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sites {
		up, err := ex.Uprobe("", prog, &link.UprobeOptions{Address: s.Offset, Cookie: uint64(i)<<32 | uint64(s.Nr)})
		if err != nil {
			t.Fatalf("uprobe on %s at %#x (%s): %v", lib, s.Offset, s.Func, err)
		}
		defer up.Close()
	}
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	var events []siteEvent
	for {
		var raw [64]byte
		if err := queue.LookupAndDelete(nil, &raw); errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var e siteEvent
		binary.Read(bytes.NewReader(raw[:]), binary.LittleEndian, &e)
		if e.TGID == uint64(cmd.Process.Pid) {
			events = append(events, e)
		}
	}
	return string(out), events
}

// A uprobe at each site fires once per call, with the kernel's result in
// rax and the arguments the program passed still in rdi, rsi, rdx, r10
// and r8: the program, which prints what it passed and got, is the
// reference. Calls of a wrapper with no site of its own are seen at the
// sites of the wrapper it goes on in, or not at all.
func TestSyscallSitesUprobes(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv(nstest.RequireEnv) != "" {
			t.Fatal("needs root to load a BPF program and attach uprobes")
		}
		t.Skip("needs root to load a BPF program and attach uprobes")
	}
	nrs := syscallNumbers(t)
	for _, c := range []struct{ name, lib, cc, pkg, libPkg string }{
		{"glibc", glibcPath, "gcc", "gcc", "libc6"},
		{"musl", muslPath, "musl-gcc", "musl-tools", "musl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lib := needFile(t, c.lib, c.libPkg)
			cc := reftool.Need(t, c.cc, c.pkg)
			bin := filepath.Join(t.TempDir(), "sitecalls")
			if out, err := exec.Command(cc, "-O2", "-Wall", "-o", bin, "testdata/sitecalls.c").CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", cc, err, out)
			}
			rep := findSites(t, lib)
			out, events := probeSites(t, lib, rep.Sites, bin)
			checkSiteEvents(t, rep, nrs, out, events)
		})
	}
}

func checkSiteEvents(t *testing.T, rep watch.SiteReport, nrs map[string]int, out string, events []siteEvent) {
	t.Helper()
	hasSite := map[string]bool{}
	for _, s := range rep.Sites {
		hasSite[s.Func] = true
	}
	via := map[string]string{}
	for _, m := range rep.Missing {
		via[m.Func] = m.Via
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n, unseen := 0, 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		name := f[0]
		at := name
		if !hasSite[name] {
			if at = via[name]; at == "" {
				unseen++ // no hook for it: the report says why
				continue
			}
		}
		if n == len(events) {
			t.Fatalf("no event for %q (%d events)", sc.Text(), len(events))
		}
		e := events[n]
		n++
		s := rep.Sites[e.Cookie>>32]
		nr := int(uint32(e.Cookie))
		if s.Func != at || s.Nr != nr {
			t.Errorf("%q seen at %+v (cookie nr %d), want a site of %s", sc.Text(), s, nr, at)
		}
		if nr != nrs[name] && !(name == "semop" && nr == nrs["semtimedop"] && e.R10 == 0) {
			t.Errorf("%q seen as system call %d (r10 %#x)", sc.Text(), nr, e.R10)
		}
		result, _ := strconv.ParseInt(f[1], 10, 64)
		if errno, _ := strconv.ParseInt(f[2], 10, 64); errno != 0 {
			result = -errno
		}
		if int64(e.AX) != result {
			t.Errorf("%q: rax %d, want %d", sc.Text(), int64(e.AX), result)
		}
		regs := map[string]uint64{"di": e.DI, "si": e.SI, "dx": e.DX, "r10": e.R10, "r8": e.R8}
		for _, arg := range f[3:] {
			reg, val, _ := strings.Cut(arg, "=")
			v, bits, _ := strings.Cut(val, "/")
			want, err1 := strconv.ParseUint(v, 10, 64)
			nb, err2 := strconv.Atoi(bits)
			if err1 != nil || err2 != nil {
				t.Fatalf("%q: %q", sc.Text(), arg)
			}
			mask := ^uint64(0) >> (64 - nb)
			if regs[reg]&mask != want&mask {
				t.Errorf("%q: %s %#x, want %#x in the low %d bits", sc.Text(), reg, regs[reg], want, nb)
			}
		}
	}
	if n != len(events) {
		t.Errorf("%d events for %d calls with sites", len(events), n)
	}
	if n < 15 {
		t.Errorf("only %d calls seen:\n%s", n, out)
	}
	t.Logf("%d calls seen at their sites, %d with no site (%d events)", n, unseen, len(events))
}
