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

// BenchmarkOpenInterp: reading an interpreter (its symbols and DWARF,
// the struct offsets, the inlined copies and clones to probe), what
// `GILTRACE_VERBOSE=1 giltrace record` reports as "read in", for each
// build present: pyenv's 3.13.0, Debian's 3.11 and Debian unstable's 3.14
// (docs/performance.md).
func BenchmarkOpenInterp(b *testing.B) {
	for _, tc := range []struct{ name, path string }{
		{"pyenv-3.13", "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0"},
		{"debian-3.11", "/usr/bin/python3.11"},
		{"debian-3.14", "/opt/giltrace-python/3.14/usr/bin/python3.14"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := os.Stat(tc.path); err != nil {
				b.Skip(err)
			}
			for b.Loop() {
				if _, err := openInterp(tc.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
