package cpython

import (
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
