package cpython

import (
	"encoding/binary"
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/giltrace/giltrace/tracer"
)

// shimFrame reports whether a frame of owner is a shim that the C stack
// or the interpreter pushes around an entry into the interpreter, no
// Python function: FRAME_OWNED_BY_CSTACK (3) on 3.12 and 3.13; on 3.14,
// which inserted FRAME_OWNED_BY_INTERPRETER before it, that (3) and
// FRAME_OWNED_BY_CSTACK (4).
func (l *layout) shimFrame(owner uint8) bool {
	switch {
	case l.minor >= 14:
		return owner == 3 || owner == 4
	case l.minor >= 12:
		return owner == 3
	}
	return false
}

// memory reads a traced process's memory through /proc/PID/mem.
type memory struct {
	f   *os.File
	pid int
	// gen counts the reopenings after an exec (read): the process's
	// other caches (its maps, the interpreter's load address) are stale
	// then (procMem.memory).
	gen int
}

func openMemory(pid int) *memory {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return &memory{pid: pid}
	}
	return &memory{f: f, pid: pid}
}

func (m *memory) read(addr uint64, n int) ([]byte, bool) {
	if m.f == nil || addr == 0 || n <= 0 || n > 1<<20 {
		return nil, false
	}
	b := make([]byte, n)
	k, e := preadRawAt(m.f, b, int64(addr))
	if k == 0 && e == 0 && m.pid > 0 {
		// The address space the file was opened on is gone: the process
		// exec'd (a program that re-executes itself, os.execv), or
		// exited. An address the process does not map fails with EIO,
		// not end of file. Open the new one once (QA: after an exec into
		// the same interpreter every stack read "?").
		m.f.Close()
		m.f = nil
		f, oerr := os.Open(fmt.Sprintf("/proc/%d/mem", m.pid))
		if oerr != nil {
			return nil, false
		}
		k, e = preadRawAt(f, b, int64(addr))
		if k == 0 && e == 0 {
			f.Close() // exited (a zombie has no address space): read no more
			return nil, false
		}
		m.f = f
		m.gen++
	}
	return b, e == 0 && k == n
}

func (m *memory) u64(addr uint64) (uint64, bool) {
	b, ok := m.read(addr, 8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

func (m *memory) close() {
	if m.f != nil {
		m.f.Close()
	}
}

// code is what the recorder keeps of a code object.
type code struct {
	id         [5]uint64 // see codeHeader
	name, file string
	first      int
	table      []byte
	start      uint64 // address of the first instruction (3.11+)
}

// rawFrame is a frame as fetched: its code object and where it is.
type rawFrame struct {
	code  uint64
	instr uint64 // an instruction pointer (3.11+) or f_lasti (3.9, 3.10)
	owner uint8
}

// decodeFrames splits the words fetched per frame into frames, and returns
// the address of the frame below the last one (0 if the stack ended).
func decodeFrames(l *layout, fa frameArgs, args [][]uint64) ([]rawFrame, uint64) {
	var out []rawFrame
	var next uint64
	for _, w := range args {
		if len(w) < fa.words {
			break
		}
		word := func(off int64) uint64 { return w[(off-fa.lo)/8] }
		byteAt := func(off int64) uint8 { return uint8(w[(off-fa.lo)/8] >> (8 * ((off - fa.lo) % 8))) }
		f := rawFrame{code: word(l.frameCode&^7) &^ l.refTags}
		if f.code == 0 {
			return out, 0
		}
		f.instr = word(l.frameInstr &^ 7)
		if l.frameInstrIsIndex {
			f.instr >>= 8 * uint(l.frameInstr%8)
			f.instr &= 0xffffffff
		}
		if l.frameOwner >= 0 {
			f.owner = byteAt(l.frameOwner)
		}
		out = append(out, f)
		next = word(l.framePrev)
		if next == 0 {
			return out, 0
		}
	}
	return out, next
}

// readFrames reads frames from memory starting at frame address addr, at
// most n of them, and returns them with the address of the next frame.
func readFrames(m *memory, l *layout, fa frameArgs, addr uint64, n int) ([]rawFrame, uint64) {
	var words [][]uint64
	for k := 0; k < n && addr != 0; k++ {
		b, ok := m.read(addr+uint64(fa.lo), fa.words*8)
		if !ok {
			break
		}
		w := make([]uint64, fa.words)
		for i := range w {
			w[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		words = append(words, w)
		addr = w[(l.framePrev-fa.lo)/8]
	}
	fr, next := decodeFrames(l, fa, words)
	return fr, next
}

// codeHeader reads the header of code object addr and its identity: the
// addresses of its name, qualified name, file name and line table and its
// first line. A code object freed and another allocated at its address
// (a module's code after the import, exec'd code) has another identity.
func codeHeader(m *memory, l *layout, addr uint64) ([]byte, [5]uint64, bool) {
	hdr, ok := m.read(addr, int(l.codeLineTable)+8)
	if !ok {
		return nil, [5]uint64{}, false
	}
	ptr := func(off int64) uint64 {
		if off < 0 {
			return 0
		}
		return binary.LittleEndian.Uint64(hdr[off:])
	}
	id := [5]uint64{ptr(l.codeName), ptr(l.codeQualname), ptr(l.codeFilename), ptr(l.codeLineTable),
		uint64(binary.LittleEndian.Uint32(hdr[l.codeFirstLine:]))}
	return hdr, id, true
}

// maxFirstLine is the last first line a code object read from memory may
// have: no source file is that long, and a frame read while the
// interpreter changes it can point at memory whose names are those of
// other objects and whose "first line" is half a pointer (1204561984 for
// a "function __all__ in file stat", seen on 3.11).
const maxFirstLine = 1 << 22

// readCode reads code object addr; false if it is not one.
func readCode(m *memory, l *layout, addr uint64) (*code, bool) {
	hdr, id, ok := codeHeader(m, l, addr)
	if !ok {
		return nil, false
	}
	ptr := func(off int64) uint64 { return binary.LittleEndian.Uint64(hdr[off:]) }
	c := &code{id: id, first: int(int32(binary.LittleEndian.Uint32(hdr[l.codeFirstLine:])))}
	if c.first < 0 || c.first > maxFirstLine {
		return nil, false
	}
	nameOff := l.codeName
	if l.codeQualname >= 0 {
		nameOff = l.codeQualname
	}
	c.name = readString(m, l, ptr(nameOff))
	c.file = readString(m, l, ptr(l.codeFilename))
	c.table = readBytes(m, l, ptr(l.codeLineTable))
	if l.codeCode >= 0 {
		c.start = addr + uint64(l.codeCode)
	}
	return c, c.name != ""
}

// line returns the line of frame f of code c.
func (c *code) line(l *layout, f rawFrame) int {
	switch {
	case l.minor == 9:
		return lineLnotab(c.table, c.first, int(f.instr))
	case l.minor == 10:
		return lineTable310(c.table, c.first, 2*int(f.instr))
	}
	if f.instr < c.start {
		return c.first
	}
	return lineNear311(c.table, c.first, int(f.instr-c.start)/2)
}

// readString reads a compact str object (the form of every identifier and
// file name); "" if it is not one, or if it holds a control character: no
// identifier or file name does, and a frame read while the interpreter
// changes it can point at memory that only looks like a str.
func readString(m *memory, l *layout, addr uint64) string {
	s := readStr(m, l, addr)
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r < 0xa0 || r == utf8.RuneError { // string([]rune) made invalid code points RuneError
			return ""
		}
	}
	return s
}

func readStr(m *memory, l *layout, addr uint64) string {
	hdr, ok := m.read(addr, int(l.compactSize))
	if !ok {
		return ""
	}
	n := int(binary.LittleEndian.Uint64(hdr[16:])) // PyASCIIObject.length
	state := binary.LittleEndian.Uint32(hdr[l.stateOff:])
	kind := int(state>>l.kindShift) & (1<<l.kindBits - 1)
	if state>>l.compactShift&1 == 0 || n < 0 || n > 4096 || kind != 1 && kind != 2 && kind != 4 {
		return "" // not a compact str (or not a str: memory that changed under us)
	}
	if state>>l.asciiShift&1 == 1 {
		b, ok := m.read(addr+uint64(l.asciiSize), n)
		if !ok {
			return ""
		}
		for _, c := range b {
			if c >= 0x80 {
				return "" // not ASCII, so not what the flag says
			}
		}
		return string(b)
	}
	b, ok := m.read(addr+uint64(l.compactSize), n*kind)
	if !ok {
		return ""
	}
	rs := make([]rune, n)
	for i := range rs {
		switch kind {
		case 1:
			rs[i] = rune(b[i])
		case 2:
			rs[i] = rune(binary.LittleEndian.Uint16(b[2*i:]))
		default:
			rs[i] = rune(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	return string(rs)
}

// readBytes reads a bytes object's content.
func readBytes(m *memory, l *layout, addr uint64) []byte {
	sz, ok := m.u64(addr + uint64(l.bytesSize))
	if !ok || sz > 1<<20 {
		return nil
	}
	b, _ := m.read(addr+uint64(l.bytesData), int(sz))
	return b
}

// moreFrames is the frame that marks a stack cut at the maximum depth.
var moreFrames = tracer.Frame{Func: "...more frames"}
