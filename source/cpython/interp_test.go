package cpython

import (
	"debug/elf"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFileOffset(t *testing.T) {
	// A typical non-PIE executable: the data segment's address is not its
	// offset plus the text segment's bias.
	progs := []elf.ProgHeader{
		{Type: elf.PT_LOAD, Off: 0, Vaddr: 0x400000, Filesz: 0x1000, Memsz: 0x1000},
		{Type: elf.PT_LOAD, Off: 0x1000, Vaddr: 0x401000, Filesz: 0x5000, Memsz: 0x5000},
		{Type: elf.PT_LOAD, Off: 0x6e10, Vaddr: 0x407e10, Filesz: 0x200, Memsz: 0x800},
	}
	tests := []struct {
		addr, want uint64
		err        bool
	}{
		{0x401000, 0x1000, false},
		{0x4023a0, 0x23a0, false},
		{0x407e20, 0x6e20, false},
		{0x408100, 0, true}, // .bss: no file bytes
		{0x300000, 0, true},
	}
	for _, tc := range tests {
		got, err := fileOffset(progs, tc.addr)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("fileOffset(%#x) = %#x, %v; want %#x, error %v", tc.addr, got, err, tc.want, tc.err)
		}
	}
}

func TestSymbolOffset(t *testing.T) {
	in := pyenvInterp(t, "3.11.7")
	// pyenv's libpython maps its text at its file offset (DESIGN.md).
	off, err := in.symbolOffset("take_gil")
	if err != nil || off != in.syms["take_gil"].Value {
		t.Fatalf("take_gil at %#x (%v), symbol %#x", off, err, in.syms["take_gil"].Value)
	}
	if _, err := in.symbolOffset("no_such_function"); err == nil {
		t.Error("a missing symbol: no error")
	}
}

func TestShebang(t *testing.T) {
	in := pyenvInterp(t, "3.12.1")
	dir := t.TempDir()
	script := filepath.Join(dir, "app")
	if err := os.WriteFile(script, []byte("#!"+pyenv("3.12.1")+" -u\nprint(1)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := findCommandInterp([]string{script})
	if err != nil || got.Path != in.Path {
		t.Fatalf("interpreter of a #! script: %v, %v; want %s", got, err, in.Path)
	}
	prog, args, ok, err := Shebang(script)
	if err != nil || !ok || prog != pyenv("3.12.1") || !slices.Equal(args, []string{"-u"}) {
		t.Errorf("Shebang(%s) = %q %q %v %v", script, prog, args, ok, err)
	}
	// A script run by a shell script: the error names both.
	shim := filepath.Join(dir, "python3")
	if err := os.WriteFile(shim, []byte("#!/bin/sh\nexec python3 \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("#!"+shim+"\nprint(1)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = findCommandInterp([]string{script})
	if !errors.Is(err, ErrNotCPython) || !strings.Contains(err.Error(), script+" runs "+shim+", which runs /bin/sh") {
		t.Errorf("a script run by a shell script: %v", err)
	}
}

func TestWorkloadName(t *testing.T) {
	tests := []struct {
		argv       []string
		name, file string
	}{
		{[]string{"python3", "app.py", "-v"}, "app", "app.py"},
		{[]string{"python3", "-u", "-X", "dev", "dir/job.py"}, "job", "dir/job.py"},
		{[]string{"python3", "-m", "http.server"}, "http.server", ""},
		{[]string{"python3", "--check-hash-based-pycs", "never", "-c", "pass"}, "python3", ""},
		{[]string{"python3", "--check-hash-based-pycs", "never", "app.py"}, "app", "app.py"},
		{[]string{"/usr/local/bin/tool"}, "tool", ""},
		// Grouped and joined short options (review: -mhttp.server 8000
		// took 8000 for the script, which record then refused).
		{[]string{"python3", "-mhttp.server", "8000"}, "http.server", ""},
		{[]string{"python3", "-Bm", "pkg.mod", "x"}, "pkg.mod", ""},
		{[]string{"python3", "-cimport sys", "arg"}, "python3", ""},
		{[]string{"python3", "-uc", "pass", "arg"}, "python3", ""},
		{[]string{"python3", "-Xdev", "-Wignore", "app.py"}, "app", "app.py"},
		{[]string{"python3", "-uX", "dev", "app.py"}, "app", "app.py"},
		{[]string{"python3", "-", "arg"}, "python3", "-"},
		{[]string{"python3", "--version"}, "python3", ""},
		// QA: names of no run.
		{[]string{"python3", ".py"}, "python3", ".py"},
		{[]string{"python3", "..py"}, "python3", "..py"},
		{[]string{"python3", "a\nb.py"}, "a_b", "a\nb.py"},
		{[]string{""}, "", ""},
	}
	for _, tc := range tests {
		n, f := workloadName(tc.argv)
		if n != tc.name || f != tc.file {
			t.Errorf("workloadName(%q) = %q, %q; want %q, %q", tc.argv, n, f, tc.name, tc.file)
		}
	}
}

func TestClassify(t *testing.T) {
	lib := "/x/lib/libpython3.11.so.1.0"
	tests := []struct {
		path, fn string
		io       bool
		kind     string
	}{
		{lib, "pysleep", true, ioSleep},
		{lib, "_Py_read", true, ioDisk},
		{lib, "os_waitpid_impl", true, ioWait},
		{"/x/lib-dynload/_socket.cpython-311-x86_64-linux-gnu.so", "sock_recv_impl", true, ioNetwork},
		{"/x/lib-dynload/select.cpython-311-x86_64-linux-gnu.so", "select_poll_poll_impl", true, ioNetwork},
		{"/x/lib-dynload/_multiprocessing.cpython-312-x86_64-linux-gnu.so", "_multiprocessing_SemLock_acquire_impl", true, ioSemaphore},
		{"/x/lib-dynload/_hashlib.cpython-311-x86_64-linux-gnu.so", "EVP_hash", false, ""},
		{"/x/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so", "zlib_compress_impl", false, ""},
		{lib, "posix_do_stat", true, ioDisk},  // os.stat on a build that does not inline it
		{lib, "internal_close", true, ioDisk}, // FileIO.close
		{lib, "portable_lseek", true, ioDisk}, // open()'s seek, Debian's 3.11
		{lib, "some_unknown_function", true, ioOther},
		// Debian's python3.11 links zlib and _blake2 into its executable
		// (QA: shown as I/O "blocking").
		{"/usr/bin/python3.11", "zlib_Compress_compress.lto_priv.0", false, ""},
		{"/usr/bin/python3.11", "zlib_compress_impl", false, ""},
		{"/usr/bin/python3.11", "_blake2_blake2b_update.lto_priv.0", false, ""},
		{"/usr/bin/python3.11", "SHA256Type_update", false, ""},
		{"/usr/bin/python3.11", "os_read_impl.lto_priv.0", true, ioDisk},
	}
	for _, tc := range tests {
		b := classify(tc.path, tc.fn)
		if b.io != tc.io || b.kind != tc.kind {
			t.Errorf("classify(%s, %s) = %+v; want io %v kind %q", filepath.Base(tc.path), tc.fn, b, tc.io, tc.kind)
		}
	}
}

// TestDebugFile finds a stripped copy's symbols and DWARF in a separate
// debug file by build ID, as a distribution's debug package installs it.
func TestDebugFile(t *testing.T) {
	in := pyenvInterp(t, "3.12.1")
	if _, err := exec.LookPath("objcopy"); err != nil {
		t.Skip("no objcopy")
	}
	dir := t.TempDir()
	stripped := filepath.Join(dir, "libpython3.12.so.1.0")
	if out, err := exec.Command("objcopy", "--strip-all", in.Path, stripped).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v %s", err, out)
	}
	old := debugRoot
	debugRoot = filepath.Join(dir, "debug")
	defer func() { debugRoot = old }()
	if _, err := openInterp(stripped); !errors.Is(err, ErrNoSymbols) {
		t.Fatalf("stripped, no debug file: %v, want ErrNoSymbols", err)
	}
	f, err := elf.Open(in.Path)
	if err != nil {
		t.Fatal(err)
	}
	id := buildID(f)
	f.Close()
	if len(id) == 0 {
		t.Skip("no build ID")
	}
	h := hex.EncodeToString(id)
	dbg := filepath.Join(debugRoot, ".build-id", h[:2], h[2:]+".debug")
	os.MkdirAll(filepath.Dir(dbg), 0o755)
	if out, err := exec.Command("objcopy", "--only-keep-debug", in.Path, dbg).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v %s", err, out)
	}
	got, err := openInterp(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if got.DebugFile != dbg || got.layout.tstateFrame != in.layout.tstateFrame || got.layout.codeQualname != in.layout.codeQualname {
		t.Errorf("debug file %q, layout %+v", got.DebugFile, got.layout)
	}
	off1, _ := got.symbolOffset("take_gil")
	off2, _ := in.symbolOffset("take_gil")
	if off1 != off2 {
		t.Errorf("take_gil at %#x in the stripped copy, %#x in the original", off1, off2)
	}
	// Return addresses in the stripped copy are named from the debug file
	// too: time.sleep's static function classifies a blocking call.
	sleep, ok := in.syms["time_sleep"]
	if !ok {
		t.Fatal("no time_sleep in pyenv's 3.12 library")
	}
	if fn := newSymbolize(stripped).lookup(sleep.Value + 4); fn != "time_sleep" {
		t.Errorf("an address in time_sleep of the stripped copy is named %q", fn)
	}
}

// TestUnsupportedVersion: an interpreter outside 3.9 to 3.15 is refused
// for its version (docs/cpython.md), not as stripped: 3.8 lacks
// _PyThreadState_DeleteCurrent and 2.7 take_gil, which the symbol check
// used to report first. 3.6 and 3.7 link libpython3.Xm (an ABI flag).
// In CI (CI=true) a missing pyenv build fails, as pyenvInterp's do.
func TestUnsupportedVersion(t *testing.T) {
	for _, tc := range []struct{ dir, exe, version string }{
		{"3.8.18", "python3.8", "3.8.18"},
		{"2.7.18", "python2.7", "2.7.18"},
		{"3.7.16", "python3.7", "3.7.16"},
		{"3.6.15", "python3.6", "3.6.15"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			exe := "/root/.pyenv/versions/" + tc.dir + "/bin/" + tc.exe
			if _, err := os.Stat(exe); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("no %s: %v", exe, err)
				}
				t.Skipf("no %s: %v", exe, err)
			}
			_, err := interpOfExecutable(exe)
			want := "unsupported CPython version " + tc.version + " (3.9 to 3.15 are supported)"
			if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNoSymbols) || !strings.Contains(err.Error(), want) {
				t.Fatalf("interpOfExecutable(%s) = %v; want ErrUnsupported with %q", exe, err, want)
			}
		})
	}
}

func TestLibpythonName(t *testing.T) {
	for name, want := range map[string]bool{
		"libpython3.11.so.1.0": true, "libpython3.13t.so.1.0": true, "libpython3.13td.so": true,
		"libpython3.7m.so.1.0": true, "libpython3.6dm.so.1.0": true, "libpython2.7.so.1.0": true,
		"libpythonic.so": false, "libpython3.so": false,
	} {
		if got := libpythonRe.MatchString(name); got != want {
			t.Errorf("libpythonRe.MatchString(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestMappedHere: the interpreter a process maps is probed only when its
// path names the same file (device and inode) here as in the process's
// own root; another file there, or none here, is a process in another
// mount namespace, said so (QA: a bind-mounted libpython got probes on
// the host's file and no event). A root that cannot be read tells
// nothing. This process's own root is this one.
func TestMappedHere(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(t.TempDir(), "lib", "libpython3.12.so.1.0")
	for _, d := range []string{filepath.Dir(p), filepath.Join(root, filepath.Dir(p))} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p, []byte("here"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mappedHere(os.Getpid(), p); err != nil {
		t.Errorf("this process's own file: %v", err)
	}
	if err := mappedUnder(42, p, filepath.Join(root, "none")); err != nil {
		t.Errorf("a root that cannot be read: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, p), []byte("there"), 0o644); err != nil {
		t.Fatal(err)
	}
	gone := p + ".gone"
	if err := os.WriteFile(filepath.Join(root, gone), []byte("there"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{p: "which names another file here", gone: "which names no file here"} {
		err := mappedUnder(42, path, root)
		if !errors.Is(err, ErrOtherNamespace) || !strings.Contains(err.Error(), "process 42 maps its interpreter "+path+", "+want) {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// TestCheckClones: a function present only as clones must be probed at
// each of them, and a 3.13+ build needs a probe of the detach.
func TestCheckClones(t *testing.T) {
	sym := func(v uint64) elf.Symbol { return elf.Symbol{Value: v} }
	in := &interp{Path: "/x/python3.14", Version: "3.14.10", Minor: 14, syms: map[string]elf.Symbol{
		"drop_gil.constprop.0": sym(0x10), "drop_gil.constprop.1": sym(0x20), "drop_gil.constprop.0.cold": sym(0x30),
		"_PyThreadState_Detach": sym(0x40),
	}}
	probed := func(addr uint64) inlineProbe {
		return inlineProbe{event: evDropGIL, site: inlineSite{fn: "drop_gil", addr: addr, clone: true}}
	}
	in.inlined = []inlineProbe{probed(0x10)}
	if err := in.checkClones([]string{"drop_gil"}); !errors.Is(err, ErrInlined) || !strings.Contains(err.Error(), "drop_gil.constprop.1") {
		t.Errorf("one of two clones probed: %v; want ErrInlined naming drop_gil.constprop.1", err)
	}
	in.inlined = append(in.inlined, probed(0x20))
	if err := in.checkClones([]string{"drop_gil"}); err != nil {
		t.Errorf("both clones probed: %v", err)
	}
	delete(in.syms, "_PyThreadState_Detach")
	if err := in.checkClones(nil); !errors.Is(err, ErrInlined) || !strings.Contains(err.Error(), "parking lot") {
		t.Errorf("3.14 without a detach probe: %v; want ErrInlined", err)
	}
	in.inlined = append(in.inlined, inlineProbe{event: evDetach, site: inlineSite{fn: "detach_thread", clone: true}})
	if err := in.checkClones(nil); err != nil {
		t.Errorf("3.14 with a detach_thread clone probed: %v", err)
	}
	in.Minor, in.inlined = 12, nil
	if err := in.checkClones(nil); err != nil {
		t.Errorf("3.12 (no parking lot): %v", err)
	}
}
