package watch

import (
	"debug/elf"
	"io"

	"golang.org/x/arch/x86/x86asm"
)

// emulatedSites moves each site of the library r, where it can, to the
// first instruction after it that the kernel emulates, so that a uprobe
// there costs a trap and no single step.
//
// A uprobe on most instructions executes a copy of the instruction out of
// line, single-stepped: a second trap, which costs some 15 µs a hit where
// the kernel runs under a hypervisor that intercepts it, against some
// 0.4 µs for an instruction the kernel emulates, as it does direct jumps,
// calls and conditional jumps (since Linux 3.15). glibc checks the result
// right after the syscall (cmp $-4095,%rax; ja error): a probe on the ja
// sees the same registers. A site moves only past instructions that write
// nothing but the flags (cmp, test), to an emulated branch with no prefix
// that no jump of the function lands on, nor on anything between; any
// doubt (an indirect jump, code that does not decode, musl's mov
// %rax,%rdi) leaves the site where it is.
func emulatedSites(r io.ReaderAt, sites []SyscallSite) []SyscallSite {
	f, err := elf.NewFile(r)
	if err != nil {
		return sites
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return sites
	}
	out := make([]SyscallSite, len(sites))
	for i, s := range sites {
		out[i] = s
		fn, ok := functionAround(syms, s)
		if !ok {
			continue
		}
		code, off, problem := functionCode(f, r, fn.Value, fn.Size)
		if problem != "" {
			continue
		}
		if at, ok := emulatedAfter(code, fn.Value, s.Addr); ok {
			out[i].Addr, out[i].Offset = at, off+(at-fn.Value)
		}
	}
	return out
}

// functionAround returns the symbol of the function s is in.
func functionAround(syms []elf.Symbol, s SyscallSite) (elf.Symbol, bool) {
	for _, sym := range syms {
		if sym.Name == s.Func && elf.ST_TYPE(sym.Info) == elf.STT_FUNC && sym.Section != elf.SHN_UNDEF &&
			sym.Size > 0 && sym.Size <= maxSiteFunc && s.Addr > sym.Value && s.Addr-sym.Value < sym.Size {
			return sym, true
		}
	}
	return elf.Symbol{}, false
}

// emulatedAfter returns the address of the emulated branch that the
// instruction at site falls through to, past flag-only instructions, in
// code, a function at start.
func emulatedAfter(code []byte, start, site uint64) (uint64, bool) {
	type inst struct {
		addr uint64
		in   x86asm.Inst
		raw  []byte
	}
	var insts []inst
	landed := map[uint64]bool{} // where a jump of the function goes
	for pc := 0; pc < len(code); {
		at := start + uint64(pc)
		in, raw := x86asm.Inst{Op: x86asm.NOP, Len: 4}, code[pc:]
		if !isEndbr(raw) {
			var err error
			if in, err = x86asm.Decode(raw, 64); err != nil || in.Op == 0 || in.Len <= 0 {
				return 0, false
			}
		}
		for _, a := range in.Args {
			if rel, ok := a.(x86asm.Rel); ok {
				landed[at+uint64(in.Len)+uint64(int64(rel))] = true
			}
		}
		if (in.Op == x86asm.JMP || in.Op == x86asm.LJMP) && !hasRel(in) {
			return 0, false // an indirect jump may land anywhere
		}
		insts = append(insts, inst{at, in, raw[:in.Len]})
		pc += in.Len
	}
	for i, st := range insts {
		if st.addr != site {
			continue
		}
		for _, next := range insts[i:] {
			if next.addr != site && landed[next.addr] {
				return 0, false
			}
			if emulatedBranch(next.raw) {
				return next.addr, next.addr != site
			}
			if next.in.Op != x86asm.CMP && next.in.Op != x86asm.TEST {
				return 0, false
			}
		}
	}
	return 0, false
}

func hasRel(in x86asm.Inst) bool {
	for _, a := range in.Args {
		if _, ok := a.(x86asm.Rel); ok {
			return true
		}
	}
	return false
}

// emulatedBranch reports whether raw is a direct jump, call or
// conditional jump with no prefix, which the kernel's uprobes emulate
// (arch/x86/kernel/uprobes.c, branch_setup_xol_ops).
func emulatedBranch(raw []byte) bool {
	switch {
	case len(raw) == 2 && (raw[0] == 0xeb || raw[0]&0xf0 == 0x70): // jmp, jcc rel8
		return true
	case len(raw) == 5 && (raw[0] == 0xe9 || raw[0] == 0xe8): // jmp, call rel32
		return true
	case len(raw) == 6 && raw[0] == 0x0f && raw[1]&0xf0 == 0x80: // jcc rel32
		return true
	}
	return false
}
