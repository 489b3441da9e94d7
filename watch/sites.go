package watch

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// SyscallSite is a place in a C library right after a System V IPC system
// call instruction.
type SyscallSite struct {
	Func   string // the wrapper it is in: shmget
	Nr     int    // the x86-64 system call number it makes (glibc's semop makes semtimedop's, 220)
	Offset uint64 // file offset of the instruction after the syscall, as uprobes want it
	Addr   uint64 // its virtual address in the library
}

// MissingSite is a wrapper the library defines with no site of its own,
// or one whose sites would not see all its calls.
type MissingSite struct {
	Func string
	Addr uint64 // its virtual address; 0 when the library does not define it
	// Via names the wrapper whose sites see its calls: the one it jumps
	// to (glibc's semop goes on in semtimedop), or shares its code with.
	// A wrapper with Via needs no other hook.
	Via    string
	Reason string
}

func (m MissingSite) String() string { return m.Func + ": " + m.Reason }

// SiteReport is what FindSyscallSites found in one C library.
type SiteReport struct {
	Sites   []SyscallSite // by address, each once
	Missing []MissingSite // by wrapper, then address
}

// sysvWrappers are the wrappers looked for, in the order reports list
// them, with the system call numbers a site in each may make: some glibc
// versions implement semop as semtimedop with no timeout.
var sysvWrappers = []struct {
	name string
	nrs  []int
}{
	{"shmget", []int{29}}, {"shmat", []int{30}}, {"shmdt", []int{67}}, {"shmctl", []int{31}},
	{"semget", []int{64}}, {"semop", []int{65, 220}}, {"semtimedop", []int{220}}, {"semctl", []int{66}},
	{"msgget", []int{68}}, {"msgsnd", []int{69}}, {"msgrcv", []int{70}}, {"msgctl", []int{71}},
}

// sysvNumbers names every System V IPC system call number.
var sysvNumbers = map[int]string{
	29: "shmget", 30: "shmat", 31: "shmctl", 64: "semget", 65: "semop", 66: "semctl", 67: "shmdt",
	68: "msgget", 69: "msgsnd", 70: "msgrcv", 71: "msgctl", 220: "semtimedop",
}

const (
	maxSiteFunc = 64 << 10 // the longest function decoded
	maxSiteDefs = 16       // definitions (symbol versions) of one wrapper looked at
	maxSiteRuns = 16       // system call instructions in one wrapper (glibc's have up to 2)
	maxSiteCode = 1 << 20  // bytes decoded in one library (glibc's wrappers have 1 KiB)
)

// wrapperDef is one definition of a wrapper: glibc may have several, one
// per symbol version, each a function programs may call.
type wrapperDef struct {
	name    string
	nrs     []int
	addr    uint64
	size    uint64
	problem string // why it cannot be read; empty when it can
	scan    funcScan
}

// FindSyscallSites returns the System V IPC system call sites of an
// x86-64 C library, and each wrapper that has none, with the reason.
//
// A uprobe on the instruction right after a syscall instruction sees the
// kernel's result in rax (a negative errno on failure) and the call's
// arguments still in rdi, rsi, rdx, r10 and r8, as syscall clobbers only
// rcx and r11: one uprobe a site gives a call whole, without tracing every
// system call of the host. The wrappers are found by their dynamic symbols
// (every defined version counts, as programs may be linked to any; aliases
// at one address are one function) and decoded from their first
// instruction to their last. A syscall is a site where the last write to
// eax in its basic block loads the number the wrapper makes. A wrapper
// whose call is made elsewhere (musl's msgsnd hands it to __syscall_cp,
// glibc's semop jumps to semtimedop) is in Missing with the reason, so the
// caller can hook it another way or say why it cannot see it.
func FindSyscallSites(r io.ReaderAt) (SiteReport, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return SiteReport{}, err
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return SiteReport{}, fmt.Errorf("not an x86-64 ELF file (%v, %v): only x86-64 system call sites are known", f.Class, f.Machine)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return SiteReport{}, fmt.Errorf("read the dynamic symbols: %w", err)
	}
	defs := wrapperDefs(syms)
	budget := uint64(maxSiteCode)
	for i := range defs {
		d := &defs[i]
		if d.problem != "" {
			continue
		}
		if d.size > budget {
			d.problem = fmt.Sprintf("its %d bytes of code would take the wrappers' past the %d this decodes in one library", d.size, maxSiteCode)
			continue
		}
		budget -= d.size
		code, off, problem := functionCode(f, r, d.addr, d.size)
		if problem != "" {
			d.problem = problem
			continue
		}
		d.scan = scanFunction(code, d.addr, d.nrs)
		d.scan.fileOff = off
	}
	return siteReport(defs), nil
}

// wrapperDefs lists the defined wrappers among syms, once per name and
// address, and a problem-only entry for each wrapper not defined at all.
func wrapperDefs(syms []elf.Symbol) []wrapperDef {
	var defs []wrapperDef
	for _, w := range sysvWrappers {
		seen := map[uint64]bool{}
		n := 0
		for _, s := range syms {
			if s.Name != w.name || s.Section == elf.SHN_UNDEF || seen[s.Value] {
				continue
			}
			seen[s.Value] = true
			if n++; n > maxSiteDefs {
				defs = append(defs, wrapperDef{name: w.name, addr: s.Value,
					problem: fmt.Sprintf("more than %d definitions of the symbol: the rest are not read", maxSiteDefs)})
				break
			}
			d := wrapperDef{name: w.name, nrs: w.nrs, addr: s.Value, size: s.Size}
			switch typ := elf.ST_TYPE(s.Info); {
			case typ == elf.STT_GNU_IFUNC:
				d.problem = "an indirect function: its symbol is the resolver that picks the code, not the code"
			case typ != elf.STT_FUNC:
				d.problem = fmt.Sprintf("its symbol is not a function (%v)", typ)
			case s.Size == 0:
				d.problem = "its symbol has no size, so where the function ends is not known"
			case s.Size > maxSiteFunc:
				d.problem = fmt.Sprintf("the function is %d bytes, more than the %d this decodes", s.Size, maxSiteFunc)
			}
			defs = append(defs, d)
		}
		if n == 0 {
			defs = append(defs, wrapperDef{name: w.name, problem: "not defined in the library's dynamic symbol table"})
		}
		mine := defs[len(defs)-min(n, maxSiteDefs+1):]
		sort.SliceStable(mine, func(i, j int) bool { return mine[i].addr < mine[j].addr })
	}
	return defs
}

// functionCode reads a function's bytes through the executable PT_LOAD
// segment that holds them, and returns the file offset of its first byte.
func functionCode(f *elf.File, r io.ReaderAt, addr, size uint64) (code []byte, off uint64, problem string) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 || addr < p.Vaddr || addr-p.Vaddr > p.Filesz || size > p.Filesz-(addr-p.Vaddr) {
			continue
		}
		off = p.Off + (addr - p.Vaddr)
		if off < p.Off || off > math.MaxInt64-size || addr > math.MaxUint64-size {
			break // past any file
		}
		code = make([]byte, size)
		if _, err := r.ReadAt(code, int64(off)); err != nil {
			return nil, 0, fmt.Sprintf("cannot read its code at file offset %#x: %v", off, err)
		}
		return code, off, ""
	}
	return nil, 0, fmt.Sprintf("its code (%#x, %d bytes) is not in an executable segment of the file", addr, size)
}

// siteAt is a site found by scanFunction.
type siteAt struct {
	addr uint64 // of the instruction after the syscall
	nr   int
}

// funcScan is what decoding one function found.
type funcScan struct {
	sites   []siteAt
	problem string   // why its sites cannot be trusted; empty when they can
	passes  string   // where it hands its number to other code, which makes the call
	targets []uint64 // direct calls and jumps out of the function, once each
	fileOff uint64   // of its first byte
}

// step is what the scan needs of one instruction.
type step struct {
	addr     uint64
	target   uint64 // where a direct jump, branch or call goes
	direct   bool   // target is set
	transfer bool   // a call or jump
	indirect bool   // a jump to a computed place
	ends     bool   // the next instruction starts a basic block
	syscall  bool
	imm      int // a wanted system call number it holds as an immediate, or -1
	eaxSet   bool
	eaxLost  bool
	eax      int64
}

// scanFunction decodes code, a function at start, and finds its syscall
// instructions that make one of the system calls nrs.
func scanFunction(code []byte, start uint64, nrs []int) funcScan {
	var s funcScan
	steps, err := decodeFunction(code, start, nrs)
	if err != nil {
		s.problem = err.Error()
		return s
	}
	end := start + uint64(len(code))
	leader := make([]bool, len(code)) // by offset in the function
	leader[0] = true
	inst := make([]bool, len(code)) // where an instruction starts
	for _, st := range steps {
		inst[st.addr-start] = true
	}
	indirect := uint64(0)
	for i, st := range steps {
		if st.direct && st.target >= start && st.target < end {
			if !inst[st.target-start] {
				s.problem = fmt.Sprintf("the jump at %#x goes into the middle of an instruction (%#x): the function cannot be decoded in one pass", st.addr, st.target)
				return s
			}
			leader[st.target-start] = true
		} else if st.direct && !containsAddr(s.targets, st.target) {
			s.targets = append(s.targets, st.target)
		}
		if st.ends && i+1 < len(steps) {
			leader[steps[i+1].addr-start] = true
		}
		if st.indirect && indirect == 0 {
			indirect = st.addr
		}
	}
	// Within a basic block: is eax's value known, and has a wanted
	// number been loaded that no syscall has used yet?
	var eax int64
	known := false
	pending := -1
	for i, st := range steps {
		if leader[st.addr-start] {
			known, pending = false, -1
		}
		if st.syscall {
			if problem := s.addSite(steps, i, known, eax, nrs); problem != "" {
				s.problem = problem
				return s
			}
			known, pending = false, -1
			continue
		}
		leaves := st.transfer && (!st.direct || st.target < start || st.target >= end)
		if leaves && pending >= 0 && s.passes == "" {
			s.passes = fmt.Sprintf("it passes its system call number (%d) to other code at %#x, which makes the call there", pending, st.addr)
		}
		if st.imm >= 0 {
			pending = st.imm
		}
		if st.eaxSet {
			eax, known = st.eax, true
		} else if st.eaxLost {
			known = false
		}
	}
	if len(s.sites) > 0 && indirect != 0 {
		s.problem = fmt.Sprintf("the indirect jump at %#x may enter a block past the load of its system call number", indirect)
	}
	return s
}

// addSite records the syscall at steps[i], or says why the function's
// sites cannot be trusted.
func (s *funcScan) addSite(steps []step, i int, known bool, eax int64, nrs []int) string {
	at := steps[i].addr
	if !known {
		return fmt.Sprintf("the number of the system call at %#x is not known from its basic block", at)
	}
	for _, n := range nrs {
		if eax != int64(n) {
			continue
		}
		if i+1 == len(steps) {
			return fmt.Sprintf("the system call at %#x is the function's last instruction", at)
		}
		if len(s.sites) == maxSiteRuns {
			return fmt.Sprintf("more than %d system call instructions: not a wrapper", maxSiteRuns)
		}
		s.sites = append(s.sites, siteAt{addr: steps[i+1].addr, nr: n})
		return ""
	}
	if name, ok := sysvNumbers[int(eax)]; ok && eax >= 0 {
		return fmt.Sprintf("the system call at %#x is %s's (%d)", at, name, eax)
	}
	return "" // another system call: not one to watch
}

// decodeFunction decodes code from its first byte to its last.
func decodeFunction(code []byte, start uint64, nrs []int) ([]step, error) {
	var steps []step
	for pc := 0; pc < len(code); {
		rest := code[pc:]
		at := start + uint64(pc)
		var in x86asm.Inst
		if isEndbr(rest) {
			// x86asm does not know CET's landing pads; they are hint NOPs.
			in = x86asm.Inst{Op: x86asm.NOP, Len: 4, Mode: 64}
		} else {
			var err error
			in, err = x86asm.Decode(rest, 64)
			if err != nil || in.Op == 0 || in.Len <= 0 {
				// Op 0: x86asm returns an unknown or truncated
				// instruction as its first prefix byte alone.
				return nil, fmt.Errorf("cannot decode the instruction at %#x (% x)", at, rest[:min(len(rest), 15)])
			}
		}
		st := step{addr: at, syscall: in.Op == x86asm.SYSCALL, ends: endsBlock(in), imm: -1}
		for _, a := range in.Args {
			if rel, ok := a.(x86asm.Rel); ok {
				st.target, st.direct = at+uint64(in.Len)+uint64(int64(rel)), true
			}
		}
		switch in.Op {
		case x86asm.CALL, x86asm.LCALL:
			st.transfer = true
		case x86asm.JMP, x86asm.LJMP:
			st.transfer, st.indirect = true, !st.direct
		}
		if n, ok := wantedImmediate(in, nrs); ok {
			st.imm = n
		}
		st.eax, st.eaxSet, st.eaxLost = eaxWrite(in)
		steps = append(steps, st)
		pc += in.Len
	}
	return steps, nil
}

// isEndbr reports whether b starts with endbr64 or endbr32.
func isEndbr(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xf3, 0x0f, 0x1e, 0xfa}) || bytes.HasPrefix(b, []byte{0xf3, 0x0f, 0x1e, 0xfb})
}

// endsBlock reports whether the instruction after in starts a new basic
// block: in transfers control (a call returns to the same block).
func endsBlock(in x86asm.Inst) bool {
	switch in.Op {
	case x86asm.JMP, x86asm.LJMP, x86asm.RET, x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ,
		x86asm.UD0, x86asm.UD1, x86asm.UD2, x86asm.HLT:
		return true
	case x86asm.CALL, x86asm.LCALL:
		return false
	}
	_, ok := in.Args[0].(x86asm.Rel) // Jcc, LOOPcc, JRCXZ, XBEGIN
	return ok
}

// wantedImmediate reports whether in holds one of the numbers nrs as an
// immediate: loading the number to pass it on (push $69 before a call).
func wantedImmediate(in x86asm.Inst, nrs []int) (int, bool) {
	for _, a := range in.Args {
		imm, ok := a.(x86asm.Imm)
		if !ok {
			continue
		}
		for _, n := range nrs {
			if int64(imm) == int64(n) {
				return n, true
			}
		}
	}
	return 0, false
}

func isEAXFamily(a x86asm.Arg) bool {
	r, ok := a.(x86asm.Reg)
	return ok && (r == x86asm.AL || r == x86asm.AH || r == x86asm.AX || r == x86asm.EAX || r == x86asm.RAX)
}

// implicitEAX are instructions that write rax without naming it.
var implicitEAX = map[x86asm.Op]bool{
	x86asm.CBW: true, x86asm.CWDE: true, x86asm.CDQE: true, x86asm.MUL: true, x86asm.DIV: true, x86asm.IDIV: true,
	x86asm.CMPXCHG: true, x86asm.CMPXCHG8B: true, x86asm.CMPXCHG16B: true, x86asm.CPUID: true,
	x86asm.RDTSC: true, x86asm.RDTSCP: true, x86asm.RDMSR: true, x86asm.RDPMC: true, x86asm.XGETBV: true,
	x86asm.LAHF: true, x86asm.LODSB: true, x86asm.LODSW: true, x86asm.LODSD: true, x86asm.LODSQ: true,
	x86asm.XLATB: true, x86asm.SYSCALL: true, x86asm.SYSENTER: true, x86asm.CALL: true, x86asm.LCALL: true,
	x86asm.INT: true, x86asm.INTO: true, x86asm.XBEGIN: true,
}

// eaxWrite tells what in does to eax: loads a known value (set), or
// another (clobber), or nothing. Where in doubt it clobbers.
func eaxWrite(in x86asm.Inst) (v int64, set, clobber bool) {
	switch in.Op {
	case x86asm.CMP, x86asm.TEST, x86asm.BT, x86asm.PUSH:
		return 0, false, false
	case x86asm.IMUL:
		if in.Args[1] == nil { // the one-operand form writes rdx:rax
			return 0, false, true
		}
	case x86asm.XCHG, x86asm.XADD:
		if isEAXFamily(in.Args[0]) || isEAXFamily(in.Args[1]) {
			return 0, false, true
		}
	}
	if implicitEAX[in.Op] {
		return 0, false, true
	}
	if !isEAXFamily(in.Args[0]) {
		return 0, false, false
	}
	dst := in.Args[0].(x86asm.Reg)
	if in.Op == x86asm.MOV {
		if imm, ok := in.Args[1].(x86asm.Imm); ok {
			switch dst {
			case x86asm.EAX:
				return int64(uint32(imm)), true, false // zero-extends into rax
			case x86asm.RAX:
				return int64(imm), true, false
			}
		}
	}
	if in.Op == x86asm.XOR && in.Args[1] == dst && (dst == x86asm.EAX || dst == x86asm.RAX) {
		return 0, true, false
	}
	return 0, false, true
}

func containsAddr(list []uint64, a uint64) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// siteReport turns the scanned definitions into the report: sites of the
// wrappers whose sites see all their calls, the others with the reason.
func siteReport(defs []wrapperDef) SiteReport {
	var rep SiteReport
	starts := map[uint64]*wrapperDef{}
	for i := range defs {
		if defs[i].problem == "" && defs[i].scan.problem == "" && defs[i].scan.passes == "" && len(defs[i].scan.sites) > 0 {
			starts[defs[i].addr] = &defs[i]
		}
	}
	owner := map[uint64]string{} // the wrapper a site is reported in
	for _, d := range defs {
		m := MissingSite{Func: d.name, Addr: d.addr, Reason: d.problem}
		switch {
		case d.problem != "":
		case d.scan.problem != "":
			m.Reason = d.scan.problem
		case len(d.scan.sites) == 0:
			m.Via, m.Reason = noSiteReason(d, starts)
		case d.scan.passes != "":
			m.Reason = "its system call instructions do not see all its calls: " + d.scan.passes
		default:
			shared, added := "", false
			for _, st := range d.scan.sites {
				if o, ok := owner[st.addr]; ok {
					shared = o
					continue
				}
				owner[st.addr] = d.name
				rep.Sites = append(rep.Sites, SyscallSite{Func: d.name, Nr: st.nr, Addr: st.addr, Offset: d.scan.fileOff + (st.addr - d.addr)})
				added = true
			}
			if added {
				continue
			}
			// Functions that overlap: one site, reported in the first.
			m.Via, m.Reason = shared, fmt.Sprintf("its system call instructions are in %s too (the functions overlap), whose sites see its calls", shared)
		}
		rep.Missing = append(rep.Missing, m)
	}
	sort.SliceStable(rep.Sites, func(i, j int) bool { return rep.Sites[i].Addr < rep.Sites[j].Addr })
	return rep
}

// noSiteReason says why a function with no syscall instruction of its own
// has no site, and names the wrapper it jumps to whose sites see its calls.
func noSiteReason(d wrapperDef, starts map[uint64]*wrapperDef) (via, reason string) {
	const none = "no system call instruction in the function"
	if d.scan.passes != "" {
		return "", none + ": " + d.scan.passes
	}
	for _, t := range d.scan.targets {
		if w, ok := starts[t]; ok && w.name != d.name {
			return w.name, fmt.Sprintf("%s: it goes on in %s (%#x), whose sites see its calls", none, w.name, t)
		}
	}
	if len(d.scan.targets) == 0 {
		return "", none
	}
	var at []string
	for _, t := range d.scan.targets {
		at = append(at, fmt.Sprintf("%#x", t))
	}
	return "", fmt.Sprintf("%s: it calls other code (%s), so a shared system-call helper makes the call", none, strings.Join(at, ", "))
}
