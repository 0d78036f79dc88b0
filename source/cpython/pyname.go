package cpython

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
)

// objLayout is what reading an attribute of a Python object needs: the
// thread's Python name is Thread._name, read from the Thread object that
// is `self` in the frame of Thread._bootstrap_inner.
type objLayout struct {
	localsplus int64 // first local of a frame (self)

	typeDictOffset, typeBasicSize, typeFlags int64 // in PyTypeObject
	heapCachedKeys                           int64 // ht_cached_keys in PyHeapTypeObject, -1 before 3.11
	dictKeys, dictValues                     int64 // ma_keys, ma_values in PyDictObject

	keysSize      int64 // dk_size (3.9, 3.10) or dk_log2_size (3.11+)
	keysIndexLog2 int64 // dk_log2_index_bytes (3.11+), -1 before
	keysKind      int64 // dk_kind (3.11+), -1 before
	keysNentries  int64
	keysIndices   int64
}

func (l *layout) readObjects(ix *dwarfIndex) error {
	o := &l.obj
	var errs []error
	get := func(st string, path string) int64 {
		s, err := ix.structType(st)
		if err != nil {
			errs = append(errs, err)
			return -1
		}
		v, err := offset(s, path)
		if err != nil {
			errs = append(errs, err)
			return -1
		}
		return v
	}
	opt := func(st string, path string) int64 {
		s, err := ix.structType(st)
		if err != nil {
			return -1
		}
		v, err := offset(s, path)
		if err != nil {
			return -1
		}
		return v
	}
	if l.frameInstrIsIndex {
		o.localsplus = get("_frame", "f_localsplus")
	} else {
		o.localsplus = get("_PyInterpreterFrame", "localsplus")
	}
	o.typeDictOffset = get("_typeobject", "tp_dictoffset")
	o.typeBasicSize = get("_typeobject", "tp_basicsize")
	o.typeFlags = get("_typeobject", "tp_flags")
	o.heapCachedKeys = opt("_heaptypeobject", "ht_cached_keys")
	o.dictKeys = get("PyDictObject", "ma_keys")
	o.dictValues = get("PyDictObject", "ma_values")
	o.keysNentries = get("_dictkeysobject", "dk_nentries")
	o.keysIndices = get("_dictkeysobject", "dk_indices")
	o.keysIndexLog2 = opt("_dictkeysobject", "dk_log2_index_bytes")
	o.keysKind = opt("_dictkeysobject", "dk_kind")
	if o.keysIndexLog2 >= 0 {
		o.keysSize = get("_dictkeysobject", "dk_log2_size")
	} else {
		o.keysSize = get("_dictkeysobject", "dk_size")
	}
	if len(errs) > 0 {
		return fmt.Errorf("object layout (thread names): %w", errors.Join(errs...))
	}
	return nil
}

const (
	tpflagsInlineValues = 1 << 2 // Py_TPFLAGS_INLINE_VALUES (3.13)
	dictKeysGeneral     = 0      // DICT_KEYS_GENERAL: 24-byte entries (hash, key, value)
)

// innermostFrame reads the address of the innermost frame of thread state
// ts: tstateFrame, through the _PyCFrame on 3.11 and 3.12.
func innermostFrame(m *memory, l *layout, ts uint64) (uint64, bool) {
	frame, ok := m.u64(ts + uint64(l.tstateFrame))
	if ok && l.cframeFrame >= 0 {
		frame, ok = m.u64(frame + uint64(l.cframeFrame))
	}
	return frame, ok
}

// pythonThreadName reads the name of the threading.Thread whose
// _bootstrap_inner frame is on the stack of thread state ts; "" if it
// cannot be read.
func pythonThreadName(m *memory, l *layout, codes func(uint64) *code, ts uint64, tid int) string {
	self := bootstrapThread(m, l, codes, ts)
	if self == 0 {
		return ""
	}
	return threadObjectName(m, l, self, tid)
}

// bootstrapThread is the threading.Thread that is self in the frame of
// Thread._bootstrap_inner on the stack of thread state ts, or 0.
func bootstrapThread(m *memory, l *layout, codes func(uint64) *code, ts uint64) uint64 {
	frame, ok := innermostFrame(m, l, ts)
	for depth := 0; ok && frame != 0 && depth < 256; depth++ {
		co, ok1 := m.u64(frame + uint64(l.frameCode))
		if !ok1 {
			return 0
		}
		co &^= l.refTags
		if c := codes(co); c != nil && strings.HasSuffix(c.name, "_bootstrap_inner") {
			self, ok := m.u64(frame + uint64(l.obj.localsplus))
			if !ok {
				return 0
			}
			return self &^ l.refTags
		}
		frame, ok = m.u64(frame + uint64(l.framePrev))
	}
	return 0
}

// threadObjectName is the _name of threading.Thread obj if its
// _native_id is tid: memory read after the thread ended (its thread
// state) may have been reused by another thread, whose Thread it would
// then name (3.12: up to 18 of 60 short threads named after others). A
// negative tid skips the check: in another PID namespace (a container)
// _native_id is the ID there, not the one the trace knows.
func threadObjectName(m *memory, l *layout, obj uint64, tid int) string {
	name, id, ok := threadObject(m, l, obj)
	if tid >= 0 && (!ok || id != int64(tid)) {
		return ""
	}
	return name
}

// threadObject is the _name of threading.Thread obj and its _native_id
// (ok false if that could not be read).
func threadObject(m *memory, l *layout, obj uint64) (name string, nativeID int64, ok bool) {
	typ, ok := m.u64(obj + 8)
	if !ok {
		return "", 0, false
	}
	nativeID, ok = readSmallInt(m, l, attr(m, l, obj, typ, "_native_id"))
	return readAttrString(m, l, obj, "_name"), nativeID, ok
}

// otherPIDNamespace reports whether process pid is in another PID
// namespace than giltrace (a container): its threads' _native_id are IDs
// there.
func otherPIDNamespace(pid int) bool {
	mine, err1 := os.Readlink("/proc/self/ns/pid")
	its, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	return err1 == nil && err2 == nil && mine != its
}

// readSmallInt reads int object v if it is non-negative and below 2**30
// (one digit: a thread ID is below 2**22).
func readSmallInt(m *memory, l *layout, v uint64) (int64, bool) {
	if v == 0 {
		return 0, false
	}
	size, ok1 := m.u64(v + 16) // ob_size (3.9-3.11), lv_tag (3.12+)
	b, ok2 := m.read(v+24, 4)  // ob_digit[0]
	if !ok1 || !ok2 {
		return 0, false
	}
	one := size == 1
	if l.minor >= 12 {
		one = size == 1<<3 // one digit, sign bits 0: positive
	}
	if !one {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint32(b) & (1<<30 - 1)), true
}

// readAttrString reads the str attribute name of instance obj from its
// instance dictionary or inline values.
func readAttrString(m *memory, l *layout, obj uint64, name string) string {
	typ, ok := m.u64(obj + 8)
	if !ok {
		return ""
	}
	v := attr(m, l, obj, typ, name)
	if v == 0 {
		return ""
	}
	return readString(m, l, v)
}

func attr(m *memory, l *layout, obj, typ uint64, name string) uint64 {
	o := &l.obj
	rd := func(a uint64) uint64 { v, _ := m.u64(a); return v }
	switch {
	case l.minor <= 10:
		off := int64(rd(typ + uint64(o.typeDictOffset)))
		if off <= 0 {
			return 0
		}
		return dictLookup(m, l, rd(obj+uint64(off)), name)
	case l.minor == 11:
		if values := rd(obj - 4*8); values != 0 {
			return splitLookup(m, l, rd(typ+uint64(o.heapCachedKeys)), values, name)
		}
		return dictLookup(m, l, rd(obj-3*8), name)
	case l.minor == 12:
		dv := rd(obj - 3*8)
		if dv&1 != 0 {
			return splitLookup(m, l, rd(typ+uint64(o.heapCachedKeys)), dv+1, name)
		}
		return dictLookup(m, l, dv, name)
	default: // 3.13
		if rd(typ+uint64(o.typeFlags))&tpflagsInlineValues != 0 {
			values := obj + rd(typ+uint64(o.typeBasicSize))
			if b, ok := m.read(values, 4); ok && b[3] != 0 { // valid
				return splitLookup(m, l, rd(typ+uint64(o.heapCachedKeys)), values+8, name)
			}
		}
		return dictLookup(m, l, rd(obj-3*8), name)
	}
}

// dictLookup finds str key name in dict d (a linear scan of its entries).
func dictLookup(m *memory, l *layout, d uint64, name string) uint64 {
	if d == 0 {
		return 0
	}
	keys, _ := m.u64(d + uint64(l.obj.dictKeys))
	values, _ := m.u64(d + uint64(l.obj.dictValues))
	if values != 0 {
		if l.minor >= 13 {
			values += 8 // PyDictValues: capacity, size, embedded, valid, padding, then the values
		}
		return splitLookup(m, l, keys, values, name)
	}
	i, entry := keyIndex(m, l, keys, name)
	if i < 0 {
		return 0
	}
	v, _ := m.u64(entry + 8*uint64(entryValueSlot(m, l, keys)))
	return v
}

// splitLookup finds name in shared keys and returns its value from values.
func splitLookup(m *memory, l *layout, keys, values uint64, name string) uint64 {
	i, _ := keyIndex(m, l, keys, name)
	if i < 0 {
		return 0
	}
	v, _ := m.u64(values + 8*uint64(i))
	return v
}

// entryValueSlot is the word of an entry holding its value: 2 in
// (hash, key, value) entries, 1 in the (key, value) entries of 3.11+
// unicode and split tables.
func entryValueSlot(m *memory, l *layout, keys uint64) int {
	if k, ok := entryWords(m, l, keys); ok && k == 2 {
		return 1
	}
	return 2
}

func entryWords(m *memory, l *layout, keys uint64) (int, bool) {
	o := &l.obj
	if o.keysKind < 0 {
		return 3, true
	}
	b, ok := m.read(keys+uint64(o.keysKind), 1)
	if !ok {
		return 0, false
	}
	if b[0] == dictKeysGeneral {
		return 3, true
	}
	return 2, true
}

// keyIndex returns the entry index of str key name in keys, and the
// entry's address.
func keyIndex(m *memory, l *layout, keys uint64, name string) (int, uint64) {
	o := &l.obj
	if keys == 0 {
		return -1, 0
	}
	n, ok := m.u64(keys + uint64(o.keysNentries))
	if !ok || n > 1024 {
		return -1, 0
	}
	var indexBytes uint64
	if o.keysIndexLog2 >= 0 {
		b, ok := m.read(keys+uint64(o.keysIndexLog2), 1)
		if !ok {
			return -1, 0
		}
		indexBytes = 1 << b[0]
	} else {
		size, _ := m.u64(keys + uint64(o.keysSize))
		w := uint64(8)
		switch {
		case size <= 0xff:
			w = 1
		case size <= 0xffff:
			w = 2
		case size <= 0xffffffff:
			w = 4
		}
		indexBytes = size * w
	}
	words, ok := entryWords(m, l, keys)
	if !ok {
		return -1, 0
	}
	entries := keys + uint64(o.keysIndices) + indexBytes
	keySlot := uint64(words - 2) // key after the hash in 3-word entries
	b, ok := m.read(entries, int(n)*words*8)
	if !ok {
		return -1, 0
	}
	for i := 0; i < int(n); i++ {
		k := binary.LittleEndian.Uint64(b[(i*words+int(keySlot))*8:])
		if k != 0 && readString(m, l, k) == name {
			return i, entries + uint64(i*words*8)
		}
	}
	return -1, 0
}
