package cpython

import (
	"encoding/binary"
	"os"
	"runtime"
	"testing"
)

// TestBootstrapThreadTagged: on 3.14+ a frame's code object and its
// locals are _PyStackRefs whose tag bits may be set: the Thread that is
// self in Thread._bootstrap_inner is found through a tagged code pointer,
// and returned without its tag. Before 3.14 the words are plain pointers.
func TestBootstrapThreadTagged(t *testing.T) {
	for _, minor := range []int{13, 14} {
		l := &layout{minor: minor, tstateFrame: 0, cframeFrame: -1, frameCode: 0, framePrev: 8}
		l.obj.localsplus = 16
		var tag uint64
		if minor >= 14 {
			l.refTags, tag = 3, 1
		}
		// On the heap (escapeSink), where nothing moves them: a stack may
		// be moved when it grows (under -race it did).
		heap := func(n int) []byte { b := make([]byte, n); escapeSink = append(escapeSink, b); return b }
		self := heap(64) // the Thread object: only its address is read
		word := func(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
		boot, inner := heap(24), heap(24) // frames: code, previous, self
		codes := map[uint64]*code{}
		bootCode, innerCode := heap(8), heap(8)
		codes[uint64(sliceAddr(bootCode))] = &code{name: "Thread._bootstrap_inner"}
		codes[uint64(sliceAddr(innerCode))] = &code{name: "run"}
		word(inner, 0, uint64(sliceAddr(innerCode))|tag)
		word(inner, 8, uint64(sliceAddr(boot)))
		word(boot, 0, uint64(sliceAddr(bootCode))|tag)
		word(boot, 16, uint64(sliceAddr(self))|tag)
		ts := heap(8)
		word(ts, 0, uint64(sliceAddr(inner)))
		m := openMemory(os.Getpid())
		got := bootstrapThread(m, l, func(a uint64) *code { return codes[a] }, uint64(sliceAddr(ts)))
		m.close()
		if want := uint64(sliceAddr(self)); got != want {
			t.Errorf("3.%d: self %#x, want %#x", minor, got, want)
		}
		runtime.KeepAlive([][]byte{self, boot, inner, bootCode, innerCode, ts})
	}
	escapeSink = nil
}

// escapeSink keeps test memory on the heap.
var escapeSink [][]byte
