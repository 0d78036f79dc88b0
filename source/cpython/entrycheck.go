package cpython

import (
	"debug/elf"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// A probe on an inlined copy's first instruction (DW_AT_entry_pc) sees
// every run of the copy only if no path runs the copy's code without
// passing that instruction. The compiler may break that: GCC duplicates
// the start of a copy on another path and jumps into the middle of it
// (Debian 12's python3.11 does so for a copy of
// PyThread_acquire_lock_timed in tracemalloc_free). bypassed checks it on
// the machine code of the functions that hold the copy.

// codeAt reads machine code of an ELF file by virtual address.
type codeAt struct {
	progs []*elf.Prog // PT_LOAD segments
}

func (c codeAt) read(lo, hi uint64) ([]byte, bool) {
	for _, p := range c.progs {
		if lo >= p.Vaddr && hi <= p.Vaddr+p.Filesz && hi > lo {
			b := make([]byte, hi-lo)
			if _, err := p.ReadAt(b, int64(lo-p.Vaddr)); err != nil {
				return nil, false
			}
			return b, true
		}
	}
	return nil, false
}

// symbolAt returns the function symbol of known size containing addr.
func (s *symbolize) symbolAt(addr uint64) (elf.Symbol, bool) {
	f, ok := s.find(addr)
	return f, ok && f.Size > 0
}

// insn is a decoded instruction: where control goes after it.
type insn struct {
	next   []uint64 // the instructions that may follow it
	leaves bool     // it may leave the functions decoded (a return, a jump elsewhere, an indirect jump)
}

// bypassed reports whether inlined copy s, whose ranges are ranges and
// whose probe is at s.addr, can run part of its code and then leave the
// function without passing s.addr: some instruction of the copy is
// reachable from the function's entry without passing s.addr, and can
// reach a return (or a jump out) without passing it either. Instructions
// of the copy placed before its entry that always lead to it (the
// compiler's scheduling) are not a bypass. The functions holding the copy
// (the hot part and its .cold parts) are decoded; an error means the code
// could not be read or decoded, and the copy is taken as bypassed.
//
// A call to a function that never returns (named in noreturn, from the
// DWARF, or a fatal error or abort by its name) is not followed by the
// code after it, which the compiler fills with other paths.
func bypassed(code codeAt, funcs *symbolize, noreturn map[string]bool, s inlineSite, ranges [][2]uint64) (bool, error) {
	holder, ok := funcs.symbolAt(s.addr)
	if !ok {
		return true, fmt.Errorf("no function symbol holds %#x", s.addr)
	}
	// The extents to decode: the function holding the entry, and those
	// holding each range (its .cold part).
	extents := [][2]uint64{{holder.Value, holder.Value + holder.Size}}
	for _, r := range ranges {
		if r[1] <= r[0] {
			continue
		}
		f, ok := funcs.symbolAt(r[0])
		if !ok {
			return true, fmt.Errorf("no function symbol holds the copy's range %#x-%#x", r[0], r[1])
		}
		e := [2]uint64{f.Value, f.Value + f.Size}
		if !slices.Contains(extents, e) {
			extents = append(extents, e)
		}
	}
	in := func(a uint64, rs [][2]uint64) bool {
		return slices.ContainsFunc(rs, func(r [2]uint64) bool { return a >= r[0] && a < r[1] })
	}
	insns := map[uint64]*insn{}
	for _, e := range extents {
		b, ok := code.read(e[0], e[1])
		if !ok {
			return true, fmt.Errorf("reading the code at %#x-%#x", e[0], e[1])
		}
		for off := 0; off < len(b); {
			a := e[0] + uint64(off)
			ins, err := x86asm.Decode(b[off:], 64)
			if err != nil || ins.Len == 0 {
				insns[a] = &insn{leaves: true} // not decoded: anything may follow
				off++
				continue
			}
			end := a + uint64(ins.Len)
			n := &insn{}
			// add makes t follow a: an address outside the functions
			// decoded is their leaving.
			add := func(t uint64) {
				if in(t, extents) {
					n.next = append(n.next, t)
				} else {
					n.leaves = true
				}
			}
			target, direct := uint64(0), false
			if rel, ok := ins.Args[0].(x86asm.Rel); ok {
				target, direct = uint64(int64(end)+int64(rel)), true
			}
			switch ins.Op {
			case x86asm.RET, x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ:
				n.leaves = true
			case x86asm.JMP:
				if direct {
					add(target)
				} else {
					n.leaves = true // an indirect jump: a tail call or a jump table
				}
			case x86asm.UD1, x86asm.UD2, x86asm.HLT:
			case x86asm.CALL:
				// Calls return, except to a function that never does;
				// their targets are other functions.
				if !direct || !neverReturns(funcs.lookup(target), noreturn) {
					add(end)
				}
			default:
				add(end)
				if direct { // a conditional jump
					add(target)
				}
			}
			insns[a] = n
			off += ins.Len
		}
	}
	// Forward from the function's entry, never through the probe.
	reach := map[uint64]bool{}
	stack := []uint64{holder.Value}
	for len(stack) > 0 {
		a := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if a == s.addr || reach[a] {
			continue
		}
		reach[a] = true
		n, ok := insns[a]
		if !ok { // a jump into the middle of an instruction as decoded
			return true, fmt.Errorf("a jump to %#x, not an instruction boundary as decoded", a)
		}
		stack = append(stack, n.next...)
	}
	if !reach[holder.Value] {
		return false, nil // the probe is the function's entry
	}
	// Backward from the exits, never through the probe: the instructions
	// that can leave without passing it.
	preds := map[uint64][]uint64{}
	var exits []uint64
	for a, n := range insns {
		if a == s.addr {
			continue
		}
		if n.leaves {
			exits = append(exits, a)
		}
		for _, t := range n.next {
			preds[t] = append(preds[t], a)
		}
	}
	leave := map[uint64]bool{}
	stack = exits
	for len(stack) > 0 {
		a := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if a == s.addr || leave[a] {
			continue
		}
		leave[a] = true
		stack = append(stack, preds[a]...)
	}
	for a := range reach {
		if leave[a] && in(a, ranges) {
			return true, nil
		}
	}
	return false, nil
}

// neverReturns reports whether the function named fn never returns: so
// marked in the DWARF, or a fatal error or an abort by its name.
func neverReturns(fn string, noreturn map[string]bool) bool {
	if fn == "" {
		return false
	}
	base, _, _ := strings.Cut(fn, ".") // a clone: Py_FatalError.cold, f.isra.0
	switch {
	case noreturn[fn], noreturn[base], strings.Contains(base, "Fatal"):
		return true
	}
	switch base {
	case "abort", "exit", "_exit", "__assert_fail", "__stack_chk_fail", "Py_Exit", "pthread_exit":
		return true
	}
	return false
}
