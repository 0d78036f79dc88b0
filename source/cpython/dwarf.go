package cpython

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"strings"
)

// layout is what the recorder needs to know of the interpreter's structs,
// read from its DWARF: offsets in bytes, registers of parameters.
type layout struct {
	minor int

	// Thread state to the innermost frame: tstateFrame, then, if
	// cframeFrame >= 0, that pointer is a _PyCFrame and the frame is at
	// cframeFrame in it (3.11, 3.12).
	tstateFrame int64
	cframeFrame int64
	// tstateID is the offset of the thread state's id (unique in the
	// process: a thread state at a freed one's address has another), -1
	// if unknown.
	tstateID int64

	frameCode, framePrev, frameInstr int64 // in the frame struct
	frameInstrIsIndex                bool  // f_lasti (int) rather than an instruction pointer
	frameOwner                       int64 // -1 if absent

	codeFilename, codeName, codeQualname, codeFirstLine, codeLineTable, codeCode int64 // codeQualname, codeCode: -1 if absent

	asciiSize, compactSize int64 // sizeof PyASCIIObject, PyCompactUnicodeObject
	stateOff               int64 // offset of the state bitfield word
	kindShift, kindBits    uint  // of state.kind in that 32-bit word
	compactShift           uint
	asciiShift             uint
	bytesSize, bytesData   int64 // ob_size of a PyVarObject, ob_sval of a PyBytesObject

	// The switch interval (microseconds, an unsigned long) from _PyRuntime:
	// intervalPath[0] is the offset of the first field; each next offset
	// applies after following a pointer.
	intervalPath []int64
	// The GIL's state, reached as intervalPath reaches the interval:
	// gilPath leads to the struct _gil_runtime_state, in which gilLocked
	// (an int) and gilHolder (the thread state of its last holder) are,
	// and gilSwitches (an unsigned long counting the changes of holder;
	// -1 if not known). gilPath is nil if the first two are not known.
	gilPath                           []int64
	gilLocked, gilHolder, gilSwitches int64

	takeGILTstate, dropGILTstate int // parameter index of tstate: 0 = %di

	obj    objLayout // for thread names; objErr says why not
	objErr error

	freeThreaded bool
}

// dwarfIndex holds the named types and functions of a DWARF tree.
type dwarfIndex struct {
	d       *dwarf.Data
	structs map[string]dwarf.Offset // struct tag or typedef name -> type entry
	params  map[string][]string     // function -> parameter names
}

func indexDWARF(d *dwarf.Data, wantStructs, wantFuncs map[string]bool) *dwarfIndex {
	ix := &dwarfIndex{d: d, structs: map[string]dwarf.Offset{}, params: map[string][]string{}}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			continue
		case dwarf.TagStructType, dwarf.TagTypedef:
			name, _ := e.Val(dwarf.AttrName).(string)
			decl, _ := e.Val(dwarf.AttrDeclaration).(bool)
			if wantStructs[name] && !decl {
				if _, ok := ix.structs[name]; !ok {
					ix.structs[name] = e.Offset
				}
			}
		case dwarf.TagSubprogram:
			name, _ := e.Val(dwarf.AttrName).(string)
			if wantFuncs[name] && e.Children {
				if _, ok := ix.params[name]; !ok {
					ix.params[name] = readParams(r)
					continue
				}
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	return ix
}

func readParams(r *dwarf.Reader) []string {
	var names []string
	for {
		e, err := r.Next()
		if err != nil || e == nil || e.Tag == 0 {
			return names
		}
		if e.Tag == dwarf.TagFormalParameter {
			n, _ := e.Val(dwarf.AttrName).(string)
			names = append(names, n)
		}
		if e.Children {
			r.SkipChildren()
		}
	}
}

// structType returns the struct named name (a struct tag or a typedef).
func (ix *dwarfIndex) structType(name string) (*dwarf.StructType, error) {
	off, ok := ix.structs[name]
	if !ok {
		return nil, fmt.Errorf("no struct %s", name)
	}
	t, err := ix.d.Type(off)
	if err != nil {
		return nil, fmt.Errorf("struct %s: %w", name, err)
	}
	for {
		switch tt := t.(type) {
		case *dwarf.TypedefType:
			t = tt.Type
			continue
		case *dwarf.StructType:
			if tt.Incomplete {
				return nil, fmt.Errorf("struct %s is only declared", name)
			}
			return tt, nil
		}
		return nil, fmt.Errorf("%s is a %T, not a struct", name, t)
	}
}

func field(st *dwarf.StructType, name string) *dwarf.StructField {
	for _, f := range st.Field {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// offset returns the offset of field path "a.b.c" in st, through
// embedded structs (not pointers).
func offset(st *dwarf.StructType, path string) (int64, error) {
	var off int64
	var t dwarf.Type = st
	for _, name := range strings.Split(path, ".") {
		s, ok := stripTypedef(t).(*dwarf.StructType)
		if !ok {
			return 0, fmt.Errorf("%s: %s is not a struct", path, name)
		}
		f := field(s, name)
		if f == nil {
			return 0, fmt.Errorf("%s has no field %s", s.StructName, name)
		}
		off += f.ByteOffset
		t = f.Type
	}
	return off, nil
}

func stripTypedef(t dwarf.Type) dwarf.Type {
	for {
		td, ok := t.(*dwarf.TypedefType)
		if !ok {
			return t
		}
		t = td.Type
	}
}

// pointee returns the struct a field of pointer type points to.
func pointee(st *dwarf.StructType, name string) (*dwarf.StructType, error) {
	f := field(st, name)
	if f == nil {
		return nil, fmt.Errorf("%s has no field %s", st.StructName, name)
	}
	p, ok := stripTypedef(f.Type).(*dwarf.PtrType)
	if !ok {
		return nil, fmt.Errorf("%s.%s is not a pointer", st.StructName, name)
	}
	s, ok := stripTypedef(p.Type).(*dwarf.StructType)
	if !ok {
		return nil, fmt.Errorf("%s.%s does not point to a struct", st.StructName, name)
	}
	return s, nil
}

var layoutStructs = map[string]bool{
	"_ts": true, "_PyCFrame": true, "_PyInterpreterFrame": true, "_frame": true,
	"PyCodeObject": true, "PyASCIIObject": true, "PyCompactUnicodeObject": true,
	"PyBytesObject": true, "PyVarObject": true, "_object": true, "pyruntimestate": true,
	"_typeobject": true, "_heaptypeobject": true, "PyDictObject": true, "_dictkeysobject": true,
}

var layoutFuncs = map[string]bool{"take_gil": true, "drop_gil": true}

// readLayout reads the layout of CPython 3.minor from f's DWARF.
func readLayout(f *elf.File, minor int) (*layout, error) {
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("no DWARF debug information (%w); install the interpreter's debug symbols", err)
	}
	ix := indexDWARF(d, layoutStructs, layoutFuncs)
	l := &layout{minor: minor, cframeFrame: -1, frameOwner: -1, codeQualname: -1, codeCode: -1, gilSwitches: -1}
	var errs []error
	try := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	try(l.readFrames(ix))
	try(l.readCode(ix))
	try(l.readStrings(ix))
	try(l.readInterval(ix))
	try(l.readParams(ix))
	l.objErr = l.readObjects(ix)
	if obj, err := ix.structType("_object"); err == nil && field(obj, "ob_tid") != nil {
		l.freeThreaded = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

func (l *layout) readFrames(ix *dwarfIndex) error {
	ts, err := ix.structType("_ts")
	if err != nil {
		return err
	}
	l.tstateID = -1
	if off, err := offset(ts, "id"); err == nil {
		l.tstateID = off
	}
	var fr *dwarf.StructType
	hasCurrent := func() bool {
		cf, err := pointee(ts, "cframe")
		return err == nil && field(cf, "current_frame") != nil
	}
	switch {
	case field(ts, "cframe") != nil && hasCurrent(): // 3.11, 3.12
		cf, err := pointee(ts, "cframe")
		if err != nil {
			return err
		}
		l.tstateFrame, _ = offset(ts, "cframe")
		if l.cframeFrame, err = offset(cf, "current_frame"); err != nil {
			return err
		}
		fr, err = ix.structType("_PyInterpreterFrame")
		if err != nil {
			return err
		}
	case field(ts, "current_frame") != nil: // 3.13
		l.tstateFrame, _ = offset(ts, "current_frame")
		if fr, err = ix.structType("_PyInterpreterFrame"); err != nil {
			return err
		}
	case field(ts, "frame") != nil: // 3.9, 3.10
		l.tstateFrame, _ = offset(ts, "frame")
		if fr, err = ix.structType("_frame"); err != nil {
			return err
		}
		l.frameInstrIsIndex = true
	default:
		return errors.New("struct _ts has no frame, cframe or current_frame")
	}
	pick := func(names ...string) (int64, error) {
		for _, n := range names {
			if f := field(fr, n); f != nil {
				return f.ByteOffset, nil
			}
		}
		return 0, fmt.Errorf("frame struct %s has none of %v", fr.StructName, names)
	}
	var e1, e2, e3 error
	l.frameCode, e1 = pick("f_code", "f_executable")
	l.framePrev, e2 = pick("previous", "f_back")
	l.frameInstr, e3 = pick("prev_instr", "instr_ptr", "f_lasti")
	if o, err := pick("owner"); err == nil {
		l.frameOwner = o
	}
	return errors.Join(e1, e2, e3)
}

func (l *layout) readCode(ix *dwarfIndex) error {
	co, err := ix.structType("PyCodeObject")
	if err != nil {
		return err
	}
	var errs []error
	get := func(name string) int64 {
		f := field(co, name)
		if f == nil {
			errs = append(errs, fmt.Errorf("PyCodeObject has no %s", name))
			return -1
		}
		return f.ByteOffset
	}
	l.codeFilename, l.codeName, l.codeFirstLine = get("co_filename"), get("co_name"), get("co_firstlineno")
	if l.minor >= 10 {
		l.codeLineTable = get("co_linetable")
	} else {
		l.codeLineTable = get("co_lnotab")
	}
	if l.minor >= 11 {
		l.codeQualname, l.codeCode = get("co_qualname"), get("co_code_adaptive")
	}
	return errors.Join(errs...)
}

func (l *layout) readStrings(ix *dwarfIndex) error {
	a, err := ix.structType("PyASCIIObject")
	if err != nil {
		return err
	}
	c, err := ix.structType("PyCompactUnicodeObject")
	if err != nil {
		return err
	}
	l.asciiSize, l.compactSize = a.ByteSize, c.ByteSize
	sf := field(a, "state")
	if sf == nil {
		return errors.New("PyASCIIObject has no state")
	}
	l.stateOff = sf.ByteOffset
	st, ok := stripTypedef(sf.Type).(*dwarf.StructType)
	if !ok {
		return errors.New("PyASCIIObject.state is not a struct")
	}
	for _, f := range st.Field {
		bit := uint(f.DataBitOffset)
		if f.DataBitOffset == 0 && f.BitOffset != 0 { // DWARF 2/3 big-endian style
			bit = uint(f.ByteSize*8 - f.BitOffset - f.BitSize)
		}
		switch f.Name {
		case "kind":
			l.kindShift, l.kindBits = bit, uint(f.BitSize)
		case "compact":
			l.compactShift = bit
		case "ascii":
			l.asciiShift = bit
		}
	}
	if l.kindBits == 0 {
		return errors.New("PyASCIIObject.state has no kind bitfield")
	}
	b, err := ix.structType("PyBytesObject")
	if err != nil {
		return err
	}
	if l.bytesData, err = offset(b, "ob_sval"); err != nil {
		return err
	}
	l.bytesSize, err = offset(b, "ob_base.ob_size")
	return err
}

func (l *layout) readInterval(ix *dwarfIndex) error {
	rt, err := ix.structType("pyruntimestate")
	if err != nil {
		return err
	}
	if o, err := offset(rt, "ceval.gil.interval"); err == nil { // 3.9 to 3.11
		l.intervalPath = []int64{o}
		if g, err := offset(rt, "ceval.gil"); err == nil {
			cs := field(rt, "ceval")
			if gf := field(stripTypedef(cs.Type).(*dwarf.StructType), "gil"); gf != nil {
				if gs, ok := stripTypedef(gf.Type).(*dwarf.StructType); ok {
					l.readGILState(gs, []int64{g})
				}
			}
		}
		return nil
	}
	// 3.12+: the main interpreter's ceval.gil points to its GIL.
	o, err := offset(rt, "_main_interpreter.ceval.gil")
	if err != nil {
		return fmt.Errorf("switch interval: %w", err)
	}
	ceval, err := offset(rt, "_main_interpreter.ceval")
	if err != nil {
		return err
	}
	_ = ceval
	is := field(rt, "_main_interpreter")
	cs := field(stripTypedef(is.Type).(*dwarf.StructType), "ceval")
	gs, err := pointee(stripTypedef(cs.Type).(*dwarf.StructType), "gil")
	if err != nil {
		return err
	}
	io, err := offset(gs, "interval")
	if err != nil {
		return err
	}
	l.intervalPath = []int64{o, io}
	l.readGILState(gs, []int64{o, 0})
	return nil
}

// readGILState notes where the GIL's locked flag and last holder are, in
// struct gs reached by path; without them the holder is not sampled.
func (l *layout) readGILState(gs *dwarf.StructType, path []int64) {
	locked, err1 := offset(gs, "locked")
	holder, err2 := offset(gs, "last_holder")
	if err1 == nil && err2 == nil {
		l.gilPath, l.gilLocked, l.gilHolder = path, locked, holder
	}
	l.gilSwitches = -1
	if sw, err := offset(gs, "switch_number"); err == nil {
		l.gilSwitches = sw
	}
}

func (l *layout) readParams(ix *dwarfIndex) error {
	idx := func(fn string) (int, error) {
		ps, ok := ix.params[fn]
		if !ok {
			return 0, fmt.Errorf("no DWARF for function %s", fn)
		}
		for i, p := range ps {
			if p == "tstate" {
				if i > 5 {
					break
				}
				return i, nil
			}
		}
		return 0, fmt.Errorf("%s(%s) has no tstate parameter in a register", fn, strings.Join(ps, ", "))
	}
	var e1, e2 error
	l.takeGILTstate, e1 = idx("take_gil")
	l.dropGILTstate, e2 = idx("drop_gil")
	return errors.Join(e1, e2)
}

// argRegs are the x86-64 System V registers of the first six integer
// parameters, as tracefs names them.
var argRegs = [...]string{"%di", "%si", "%dx", "%cx", "%r8", "%r9"}
