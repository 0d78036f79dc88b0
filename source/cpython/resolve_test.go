package cpython

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

// TestResolveLibraryOrder: the libpython found for an interpreter is the
// one the dynamic linker loads: LD_LIBRARY_PATH (an empty entry the
// working directory) before the binary's RUNPATH (QA: the RUNPATH's copy
// was probed while the program ran the LD_LIBRARY_PATH's, untraced), the
// RUNPATH without it.
func TestResolveLibraryOrder(t *testing.T) {
	exe := "/root/.pyenv/versions/3.12.1/bin/python3.12"
	const lib = "libpython3.12.so.1.0"
	runpathLib := "/root/.pyenv/versions/3.12.1/lib/" + lib
	if _, err := os.Stat(runpathLib); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no pyenv CPython 3.12.1: %v", err)
		}
		t.Skipf("no pyenv CPython 3.12.1: %v", err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if rp, _ := f.DynString(elf.DT_RUNPATH); len(rp) == 0 {
		t.Fatalf("%s has no RUNPATH: the test needs one", exe)
	}
	other := t.TempDir()
	if err := os.Symlink(runpathLib, filepath.Join(other, lib)); err != nil {
		t.Fatal(err)
	}
	// An empty entry is the working directory (QA: "/opt/lib:" left it out).
	t.Chdir(other)
	for _, tc := range []struct {
		ldPath, want string
	}{
		{"", runpathLib},
		{"/nonexistent:" + other, filepath.Join(other, lib)},
		{"/nonexistent:", filepath.Join(other, lib)},
	} {
		t.Setenv("LD_LIBRARY_PATH", tc.ldPath)
		got, err := resolveLibrary(f, exe, lib)
		if err != nil || got != tc.want {
			t.Errorf("LD_LIBRARY_PATH=%q: %q, %v; want %q", tc.ldPath, got, err, tc.want)
		}
	}
}
