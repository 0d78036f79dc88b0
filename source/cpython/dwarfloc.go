package cpython

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// Where a parameter of an inlined copy is at the copy's first instruction,
// from the DWARF location of the parameter: a register, a word in memory
// at a register plus an offset, or a constant the compiler propagated.
// Anything else (the value computed from several places, an entry value,
// a location that does not cover the address) is not located, and the
// copy is not probed with that parameter.

// paramLoc is a parameter's value at an address.
type paramLoc struct {
	fetch   string // a tracefs fetch argument without its type: "%bx", "+16(%bp)"; "" if constant or not located
	konst   int64  // the value, if isConst
	isConst bool
}

// located reports whether the value can be had at the probe.
func (l paramLoc) located() bool { return l.fetch != "" || l.isConst }

// dwarfRegs are the DWARF register numbers 0-15 of x86-64 (System V psABI)
// as tracefs names them.
var dwarfRegs = [...]string{"%ax", "%dx", "%cx", "%bx", "%si", "%di", "%bp", "%sp",
	"%r8", "%r9", "%r10", "%r11", "%r12", "%r13", "%r14", "%r15"}

// DWARF expression operations read here.
const (
	opAddr       = 0x03
	opConst1u    = 0x08
	opConst1s    = 0x09
	opConst2u    = 0x0a
	opConst2s    = 0x0b
	opConst4u    = 0x0c
	opConst4s    = 0x0d
	opConst8u    = 0x0e
	opConst8s    = 0x0f
	opConstu     = 0x10
	opConsts     = 0x11
	opLit0       = 0x30
	opLit31      = 0x4f
	opReg0       = 0x50
	opReg31      = 0x6f
	opBreg0      = 0x70
	opBreg31     = 0x8f
	opRegx       = 0x90
	opBregx      = 0x92
	opStackValue = 0x9f
)

// evalLoc turns location expression expr into a paramLoc, or reports false
// for an expression it does not read.
func evalLoc(expr []byte) (paramLoc, bool) {
	if len(expr) == 0 {
		return paramLoc{}, false
	}
	i := 0
	reg := func(n uint64) (string, bool) {
		if n >= uint64(len(dwarfRegs)) {
			return "", false
		}
		return dwarfRegs[n], true
	}
	stackValue := func() bool { return i == len(expr)-1 && expr[i] == opStackValue }
	op := expr[0]
	i++
	switch {
	case op >= opReg0 && op <= opReg31, op == opRegx: // in a register
		n := uint64(op - opReg0)
		if op == opRegx {
			var ok bool
			if n, ok = uleb128(expr, &i); !ok {
				return paramLoc{}, false
			}
		}
		r, ok := reg(n)
		if !ok || i != len(expr) {
			return paramLoc{}, false
		}
		return paramLoc{fetch: r}, true
	case op >= opBreg0 && op <= opBreg31, op == opBregx: // at register + offset
		n := uint64(op - opBreg0)
		if op == opBregx {
			var ok bool
			if n, ok = uleb128(expr, &i); !ok {
				return paramLoc{}, false
			}
		}
		off, ok := sleb128(expr, &i)
		if !ok {
			return paramLoc{}, false
		}
		r, ok := reg(n)
		if !ok {
			return paramLoc{}, false
		}
		switch {
		case i == len(expr): // the value is in memory there
			return paramLoc{fetch: fmt.Sprintf("%+d(%s)", off, r)}, true
		case stackValue() && off == 0: // the register's value itself
			return paramLoc{fetch: r}, true
		}
		return paramLoc{}, false
	}
	// A constant: the operation that pushes it, then DW_OP_stack_value.
	var v int64
	switch {
	case op >= opLit0 && op <= opLit31:
		v = int64(op - opLit0)
	case op >= opConst1u && op <= opConst8s:
		size := 1 << ((op - opConst1u) / 2)
		if i+size > len(expr) {
			return paramLoc{}, false
		}
		b := expr[i : i+size]
		i += size
		signed := (op-opConst1u)%2 == 1
		switch size {
		case 1:
			v = int64(b[0])
			if signed {
				v = int64(int8(b[0]))
			}
		case 2:
			v = int64(binary.LittleEndian.Uint16(b))
			if signed {
				v = int64(int16(v))
			}
		case 4:
			v = int64(binary.LittleEndian.Uint32(b))
			if signed {
				v = int64(int32(v))
			}
		case 8:
			v = int64(binary.LittleEndian.Uint64(b))
		}
	case op == opConstu:
		u, ok := uleb128(expr, &i)
		if !ok {
			return paramLoc{}, false
		}
		v = int64(u)
	case op == opConsts:
		s, ok := sleb128(expr, &i)
		if !ok {
			return paramLoc{}, false
		}
		v = s
	default:
		return paramLoc{}, false
	}
	if !stackValue() {
		return paramLoc{}, false
	}
	return paramLoc{konst: v, isConst: true}, true
}

func uleb128(b []byte, i *int) (uint64, bool) {
	var v uint64
	for shift := uint(0); *i < len(b) && shift < 64; shift += 7 {
		c := b[*i]
		*i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, true
		}
	}
	return 0, false
}

func sleb128(b []byte, i *int) (int64, bool) {
	var v int64
	shift := uint(0)
	for *i < len(b) && shift < 64 {
		c := b[*i]
		*i++
		v |= int64(c&0x7f) << shift
		shift += 7
		if c < 0x80 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, true
		}
	}
	return 0, false
}

// locLists reads location lists: DWARF 5's .debug_loclists, else DWARF 4's
// .debug_loc, of one ELF file.
type locLists struct {
	v5   bool
	data []byte
}

func newLocLists(f *elf.File) *locLists {
	for _, s := range []struct {
		name string
		v5   bool
	}{{".debug_loclists", true}, {".debug_loc", false}} {
		if sec := f.Section(s.name); sec != nil {
			if b, err := sec.Data(); err == nil {
				return &locLists{v5: s.v5, data: b}
			}
		}
	}
	return nil
}

// at returns the expression of the list at off that holds at address pc,
// in a unit whose base address is base; false if none does or the list
// cannot be read.
func (l *locLists) at(off int64, base, pc uint64) ([]byte, bool) {
	if l == nil || off < 0 || off >= int64(len(l.data)) {
		return nil, false
	}
	b := l.data
	i := int(off)
	addr := func() (uint64, bool) {
		if i+8 > len(b) {
			return 0, false
		}
		v := binary.LittleEndian.Uint64(b[i:])
		i += 8
		return v, true
	}
	if !l.v5 {
		for {
			lo, ok1 := addr()
			hi, ok2 := addr()
			if !ok1 || !ok2 {
				return nil, false
			}
			switch {
			case lo == 0 && hi == 0:
				return nil, false
			case lo == ^uint64(0):
				base = hi
				continue
			}
			if i+2 > len(b) {
				return nil, false
			}
			n := int(binary.LittleEndian.Uint16(b[i:]))
			i += 2
			if i+n > len(b) {
				return nil, false
			}
			if pc >= base+lo && pc < base+hi {
				return b[i : i+n], true
			}
			i += n
		}
	}
	expr := func() ([]byte, bool) {
		n, ok := uleb128(b, &i)
		if !ok || uint64(len(b)-i) < n {
			return nil, false
		}
		e := b[i : i+int(n)]
		i += int(n)
		return e, true
	}
	var dflt []byte // DW_LLE_default_location: where no bounded entry holds
	for i < len(b) {
		kind := b[i]
		i++
		var lo, hi uint64
		var ok bool
		switch kind {
		case 0x00: // DW_LLE_end_of_list
			return dflt, dflt != nil
		case 0x04: // DW_LLE_offset_pair
			var a, z uint64
			a, ok = uleb128(b, &i)
			if ok {
				z, ok = uleb128(b, &i)
			}
			lo, hi = base+a, base+z
		case 0x05: // DW_LLE_default_location
			if dflt, ok = expr(); !ok {
				return nil, false
			}
			continue
		case 0x06: // DW_LLE_base_address
			if base, ok = addr(); !ok {
				return nil, false
			}
			continue
		case 0x07: // DW_LLE_start_end
			lo, ok = addr()
			if ok {
				hi, ok = addr()
			}
		case 0x08: // DW_LLE_start_length
			lo, ok = addr()
			if ok {
				var n uint64
				n, ok = uleb128(b, &i)
				hi = lo + n
			}
		default: // the indexed forms need .debug_addr: not read
			return nil, false
		}
		if !ok {
			return nil, false
		}
		e, ok := expr()
		if !ok {
			return nil, false
		}
		if pc >= lo && pc < hi {
			return e, true
		}
	}
	return nil, false
}

// paramAt returns where the parameter of entry e (a DW_TAG_formal_parameter
// of an inlined copy) is at address pc.
func paramAt(e *dwarf.Entry, ll *locLists, base, pc uint64) (paramLoc, bool) {
	f := e.AttrField(dwarf.AttrLocation)
	if f == nil {
		if c := e.AttrField(dwarf.AttrConstValue); c != nil {
			if v, ok := c.Val.(int64); ok {
				return paramLoc{konst: v, isConst: true}, true
			}
		}
		return paramLoc{}, false
	}
	switch f.Class {
	case dwarf.ClassExprLoc:
		if b, ok := f.Val.([]byte); ok {
			return evalLoc(b)
		}
	case dwarf.ClassLocListPtr:
		if off, ok := f.Val.(int64); ok {
			if expr, ok := ll.at(off, base, pc); ok {
				return evalLoc(expr)
			}
		}
	}
	return paramLoc{}, false
}
