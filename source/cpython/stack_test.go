package cpython

import (
	"encoding/binary"
	"os"
	"testing"
)

// TestReadGarbage reads code objects and strings at addresses of this
// process's memory that hold no Python objects: nothing panics.
func TestReadGarbage(t *testing.T) {
	in := pyenvInterp(t, "3.11.7")
	m := openMemory(os.Getpid())
	defer m.close()
	buf := make([]byte, 1<<16)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	base := uint64(sliceAddr(buf))
	for off := uint64(0); off < 1<<15; off += 40 {
		readCode(m, in.layout, base+off)
		readString(m, in.layout, base+off)
		readBytes(m, in.layout, base+off)
	}
}

// TestReadStringRefusesGarbledText: a str whose flags say ASCII but whose
// bytes are not, or whose text has control characters, is memory that
// changed under the reader (a frame read while the interpreter builds it):
// readString gives "" for it, and the text of a real identifier as is.
func TestReadStringRefusesGarbledText(t *testing.T) {
	in := pyenvInterp(t, "3.11.7")
	l := in.layout
	m := openMemory(os.Getpid())
	defer m.close()
	obj := func(text []byte, kind int, ascii bool) []byte { return strObject(l, text, kind, ascii) }
	for _, tc := range []struct {
		name string
		obj  []byte
		want string
	}{
		{"an identifier", obj([]byte("Pool._handle_tasks"), 1, true), "Pool._handle_tasks"},
		{"latin-1", obj([]byte("caf\xe9"), 1, false), "café"},
		{"ASCII flag, bytes above 0x7f", obj([]byte("\x90\xa0fC\xff"), 1, true), ""},
		{"a control character", obj([]byte("main\x01"), 1, true), ""},
		{"a C1 control", obj([]byte("ab\x85"), 1, false), ""},
		{"a lone surrogate", obj([]byte{0x00, 0xd8, 'a', 0}, 2, false), ""},
	} {
		if got := readString(m, l, uint64(sliceAddr(tc.obj))); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// strObject is a compact str object holding text (kind bytes a character).
func strObject(l *layout, text []byte, kind int, ascii bool) []byte {
	b := make([]byte, int(l.compactSize)+len(text)+8)
	binary.LittleEndian.PutUint64(b[16:], uint64(len(text)/kind))
	state := uint32(1)<<l.compactShift | uint32(kind)<<l.kindShift
	if ascii {
		state |= 1 << l.asciiShift
	}
	binary.LittleEndian.PutUint32(b[l.stateOff:], state)
	off := l.compactSize
	if ascii {
		off = l.asciiSize
	}
	copy(b[off:], text)
	return b
}

// TestReadCodeRefusesAbsurdFirstLine: a "code object" whose names read as
// strs but whose first line is half a pointer is memory that changed under
// the reader (a model of a 3.11 run had a function __all__ in file stat
// at line 1204561984): it is not a code object; a plausible one is.
func TestReadCodeRefusesAbsurdFirstLine(t *testing.T) {
	in := pyenvInterp(t, "3.11.7")
	l := in.layout
	m := openMemory(os.Getpid())
	defer m.close()
	name, file := strObject(l, []byte("__all__"), 1, true), strObject(l, []byte("stat"), 1, true)
	codeObj := func(first uint32) []byte {
		b := make([]byte, int(l.codeLineTable)+64)
		for _, off := range []int64{l.codeName, l.codeQualname} {
			if off >= 0 {
				binary.LittleEndian.PutUint64(b[off:], uint64(sliceAddr(name)))
			}
		}
		binary.LittleEndian.PutUint64(b[l.codeFilename:], uint64(sliceAddr(file)))
		binary.LittleEndian.PutUint32(b[l.codeFirstLine:], first)
		return b
	}
	for _, tc := range []struct {
		first uint32
		ok    bool
	}{{12, true}, {maxFirstLine, true}, {1204561984, false}, {1 << 31, false}} {
		obj := codeObj(tc.first)
		c, ok := readCode(m, l, uint64(sliceAddr(obj)))
		if ok != tc.ok || ok && (c.name != "__all__" || c.file != "stat") {
			t.Errorf("first line %d: read %v (%+v), want %v", tc.first, ok, c, tc.ok)
		}
	}
}
