package cpython

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadMappedFault: a mapped file truncated while it is read (SIGBUS)
// is an error naming the file, not a crash; other panics pass through.
func TestReadMappedFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "libpython.so")
	if err := os.WriteFile(path, make([]byte, 3*os.Getpagesize()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 3*os.Getpagesize(), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	var b byte
	err = readMapped(path, mem, func() error {
		b = mem[2*os.Getpagesize()]
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("reading a truncated mapping: %v (read %d)", err, b)
	}
	for _, c := range []struct {
		name string
		read func() error
	}{
		{"a panic", func() error { panic("not a fault") }},
		{"a fault outside the mapping", func() error {
			var p *[1 << 20]byte
			b = p[4096]
			return nil
		}},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: recovered by readMapped", c.name)
				}
			}()
			err := readMapped(path, mem, c.read)
			t.Errorf("%s: returned %v", c.name, err)
		}()
	}
}
