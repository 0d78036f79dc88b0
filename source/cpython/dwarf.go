package cpython

import (
	"debug/dwarf"
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
	// refTags are the tag bits of a _PyStackRef (3.14+: a frame's
	// f_executable and its locals), cleared to get the object's address:
	// 3, which covers Py_TAG_BITS (1 on 3.14, 3 on 3.15; objects are
	// 8-byte aligned). 0 before 3.14, whose frames hold plain object
	// pointers.
	refTags uint64

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

// dwarfIndex finds the named types and functions of a DWARF tree: the
// first full definition of each, in the tree's order. It walks the tree
// only as far as the names asked for so far need (lookup), indexing every
// wanted name it passes: the names a version has are found long before
// the end (libpython3.13's walk was 55 ms of a 130 ms openInterp), and
// a name asked for that the tree lacks walks it to its end, as the whole
// walk did. What it finds is what the whole walk found.
type dwarfIndex struct {
	d            *dwarf.Data
	r            *dwarf.Reader // where the walk is; nil once it is over
	want, wantFn map[string]bool
	addrs        map[string]uint64       // of the functions in wantFn, where known
	structs      map[string]dwarf.Offset // struct tag or typedef name -> type entry
	params       map[string][]string     // function -> parameter names
}

func indexDWARF(d *dwarf.Data, wantStructs, wantFuncs map[string]bool) *dwarfIndex {
	return &dwarfIndex{d: d, r: d.Reader(), want: wantStructs, wantFn: wantFuncs, structs: map[string]dwarf.Offset{}, params: map[string][]string{}}
}

// lookup walks on until found reports the name found, or the tree ends.
func (ix *dwarfIndex) lookup(found func() bool) {
	r := ix.r
	for r != nil && !found() {
		e, err := r.Next()
		if err != nil || e == nil {
			ix.r = nil
			return
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			continue
		case dwarf.TagStructType, dwarf.TagTypedef:
			name, _ := e.Val(dwarf.AttrName).(string)
			decl, _ := e.Val(dwarf.AttrDeclaration).(bool)
			if ix.want[name] && !decl {
				if _, ok := ix.structs[name]; !ok {
					ix.structs[name] = e.Offset
				}
			}
		case dwarf.TagSubprogram:
			name, _ := e.Val(dwarf.AttrName).(string)
			if ix.wantFn[name] && e.Children {
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
}

// funcParams is the parameter names of function name, false if the tree
// has no definition of it. A function whose address is known (addrs) is
// looked for first in the unit whose code holds it: take_gil's, half of
// libpython's units away from the start (36 ms of the walk); a build
// with link-time optimisation may define it elsewhere, and the walk
// finds it then.
func (ix *dwarfIndex) funcParams(name string) ([]string, bool) {
	if _, ok := ix.params[name]; !ok && ix.addrs[name] != 0 && !slowDWARF {
		if ps, ok := ix.unitParams(name, ix.addrs[name]); ok {
			ix.params[name] = ps
		}
	}
	ix.lookup(func() bool { _, ok := ix.params[name]; return ok })
	ps, ok := ix.params[name]
	return ps, ok
}

// unitParams is funcParams in the unit whose code holds pc.
func (ix *dwarfIndex) unitParams(name string, pc uint64) ([]string, bool) {
	r := ix.d.Reader()
	if _, err := r.SeekPC(pc); err != nil {
		return nil, false
	}
	for {
		e, err := r.Next()
		if err != nil || e == nil || e.Tag == 0 || e.Tag == dwarf.TagCompileUnit {
			return nil, false
		}
		if e.Tag == dwarf.TagSubprogram && e.Children {
			if n, _ := e.Val(dwarf.AttrName).(string); n == name {
				return readParams(r), true
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
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
	ix.lookup(func() bool { _, ok := ix.structs[name]; return ok })
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

// readLayout reads the layout of CPython 3.minor from its DWARF d, and
// the addresses of its functions addrs (layoutFuncs', where known).
func readLayout(d *dwarf.Data, minor int, addrs map[string]uint64) (*layout, error) {
	ix := indexDWARF(d, layoutStructs, layoutFuncs)
	ix.addrs = addrs
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
	if f := field(fr, "f_executable"); f != nil {
		if u, ok := stripTypedef(f.Type).(*dwarf.StructType); ok && u.Kind == "union" {
			l.refTags = 3 // _PyStackRef
		}
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
		ps, ok := ix.funcParams(fn)
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
