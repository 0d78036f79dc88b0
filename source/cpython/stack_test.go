package cpython

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
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

// TestMemoryAfterExec: a process that execs gets a new address space,
// which a /proc/PID/mem opened before no longer reads (end of file): the
// memory is opened again, counts it (gen), and procMem forgets the
// process's maps (QA: after os.execv into the same interpreter every
// stack read "?").
func TestMemoryAfterExec(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command(sh, "-c", "read _; exec sleep 5")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	first := func() uint64 {
		for range 100 {
			if ms := readMaps(pid); len(ms) > 0 {
				return ms[0].start
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no maps")
		return 0
	}
	pm := newProcMem(&interp{})
	m := pm.memory(pid)
	if _, ok := m.read(first(), 8); !ok {
		t.Skipf("cannot read /proc/%d/mem here", pid)
	}
	pm.maps[pid] = readMaps(pid)
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	in.Write([]byte("\n"))
	for range 200 { // until sleep has replaced sh
		if now, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); now != exe && now != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if _, ok := m.read(first(), 8); !ok || m.gen != 1 {
		t.Fatalf("after the exec: read %v, gen %d; want the new address space read, gen 1", ok, m.gen)
	}
	if pm.memory(pid); pm.maps[pid] != nil {
		t.Error("the maps from before the exec are still kept")
	}
}

// selfMem is fakeMem reading this process's memory: frames and code
// objects built in Go slices.
type selfMem struct{ fakeMem }

func (selfMem) memory(int) *memory { return openMemory(os.Getpid()) }

// TestChainCutAtAForeignFrame: a caller read after the hit whose "code
// object" is none (the thread moved on and its frame was reused, or the
// process is gone) ends the stack with one unknown caller: what the chain
// reads through it is as wrong (QA, 3.12: imports had 30 "?" callers,
// each a read of a stray address, and the reads of them put the recorder
// so far behind that forked children had exited before their stacks were
// read, every frame "?"). A shim frame (3.12+: owned by the C stack; 3.14:
// by the C stack, 4, or the interpreter, 3) is skipped, not a cut. On 3.14
// a frame's code object is a _PyStackRef, whose tag bit is set for a
// deferred or immortal reference: the code pointers are tagged there.
func TestChainCutAtAForeignFrame(t *testing.T) {
	for _, minor := range []int{11, 12, 14} {
		in := pyenvInterp(t, "3.11.7")
		l := *in.layout
		l.minor, l.frameCode, l.framePrev, l.frameInstr, l.frameOwner = minor, 0, 8, 16, 24
		var tag uint64
		if minor >= 14 {
			l.refTags, tag = 3, 1
		}
		m := newMachine(tracer.NewRecorder(tracer.Config{}), &interp{layout: &l}, frameArgs{lo: 0, words: 4, frames: 1}, 32, "test", selfMem{})
		codeObj := func(name string) []byte {
			b := make([]byte, int(l.codeLineTable)+64)
			s := strObject(&l, []byte(name), 1, true)
			for _, off := range []int64{l.codeName, l.codeQualname, l.codeFilename} {
				if off >= 0 {
					binary.LittleEndian.PutUint64(b[off:], uint64(sliceAddr(s)))
				}
			}
			binary.LittleEndian.PutUint32(b[l.codeFirstLine:], 7)
			return b
		}
		keep := [][]byte{}
		frame := func(code []byte, prev []byte, owner uint64) []byte {
			b := make([]byte, 32)
			if code != nil {
				binary.LittleEndian.PutUint64(b, uint64(sliceAddr(code))|tag)
			}
			if prev != nil {
				binary.LittleEndian.PutUint64(b[8:], uint64(sliceAddr(prev)))
			}
			binary.LittleEndian.PutUint64(b[24:], owner)
			keep = append(keep, code, prev)
			return b
		}
		foreign := make([]byte, 256) // an object that is no code object: its name cannot be read
		last := frame(codeObj("bottom"), nil, 0)
		stray := frame(foreign, last, 0)
		shim := frame(codeObj("<shim>"), stray, 3)
		if minor >= 14 {
			shim = frame(codeObj("<shim>"), frame(codeObj("<cstack>"), stray, 4), 3)
		}
		caller := frame(codeObj("caller"), shim, 0)
		top := codeObj("top")
		e := rawEvent{tid: testThread, tgid: testThread, event: evDropGIL,
			args: []arg{{name: "f0", vals: []uint64{uint64(sliceAddr(top)) | tag, uint64(sliceAddr(caller)), 0, 0}}}}
		m.prefetch(&e)
		var got []string
		for _, f := range m.resolve(m.proc(testThread), e.frames, e.codes) {
			got = append(got, f.Func)
		}
		want := []string{"top", "caller", "<shim>", "?"}
		if minor >= 12 {
			want = []string{"top", "caller", "?"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("3.%d: stack %q, want %q", minor, got, want)
		}
		runtime.KeepAlive(keep)
	}
}
