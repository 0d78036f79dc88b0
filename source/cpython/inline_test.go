package cpython

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLTOCopies: a static function renamed by link-time optimisation
// (take_gil.lto_priv.0) is known by its name when it has one such copy and
// no symbol of its own; two copies, or only another kind of clone, leave
// the name missing, with an error that says why.
func TestLTOCopies(t *testing.T) {
	fn := func(name string, v uint64) elf.Symbol {
		return elf.Symbol{Name: name, Value: v, Info: elf.ST_INFO(elf.STB_LOCAL, elf.STT_FUNC), Section: 14}
	}
	in := &interp{Path: "/usr/bin/python3.11", Version: "3.11.2", Major: 3, Minor: 11, syms: map[string]elf.Symbol{}}
	in.addSymbolList([]elf.Symbol{
		fn("take_gil.lto_priv.0", 0x100),
		fn("take_gil.lto_priv.0.cold", 0x900), // a cold part is not the entry
		fn("drop_gil.lto_priv.0", 0x200),
		fn("drop_gil.lto_priv.1", 0x300),
		fn("PyEval_SaveThread", 0x400),
		fn("PyEval_SaveThread.lto_priv.0", 0x500), // the symbol of its own wins
		fn("PyThread_acquire_lock_timed.isra.0", 0x600),
		{Name: "_PyRuntime.lto_priv.0", Value: 0x700, Info: elf.ST_INFO(elf.STB_LOCAL, elf.STT_OBJECT), Section: 20},
	})
	for name, want := range map[string]uint64{"take_gil": 0x100, "PyEval_SaveThread": 0x400} {
		if s, ok := in.syms[name]; !ok || s.Value != want {
			t.Errorf("%s = %#x, %v; want %#x", name, s.Value, ok, want)
		}
	}
	for _, name := range []string{"drop_gil", "PyThread_acquire_lock_timed", "_PyRuntime"} {
		if _, ok := in.syms[name]; ok {
			t.Errorf("%s is known; want it missing", name)
		}
	}
	err := in.missingSymbol("drop_gil")
	if !errors.Is(err, ErrNoSymbols) || !strings.Contains(err.Error(), "drop_gil has 2 copies (drop_gil.lto_priv.0, drop_gil.lto_priv.1)") {
		t.Errorf("two copies: %v", err)
	}
	if err := in.missingSymbol("PyThread_acquire_lock_timed"); !strings.Contains(err.Error(), "is missing") {
		t.Errorf("a clone only: %v", err)
	}
}

// TestInlinedHarmless: pyenv's 3.13.0 inlines drop_gil into the deprecated
// PyEval_ReleaseLock, which a running program does not call: the scan
// finds that copy (the DWARF is read) and the interpreter is accepted.
// No other pyenv build inlines a checked function (TestLayout opens each).
func TestInlinedHarmless(t *testing.T) {
	in := pyenvInterp(t, "3.13.0")
	f, err := elf.Open(in.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	funcs := funcSymbols(f)
	var found []string
	for _, s := range inlinedSites(d, inlineChecked) {
		found = append(found, s.fn+" in "+funcs.lookup(s.addr))
	}
	if len(found) != 1 || found[0] != "drop_gil in PyEval_ReleaseLock" {
		t.Errorf("inlined copies of the checked functions: %q; want [drop_gil in PyEval_ReleaseLock]", found)
	}
	if err := checkInlined(f, in); err != nil {
		t.Error(err)
	}
}

// TestInlinedRefused: Debian's python3.11 (link-time optimised, stripped,
// its symbols and DWARF in python3.11-dbg) copies drop_gil into
// PyEval_SaveThread and the os module's calls, so probes on the functions'
// entries would miss most releases: it is refused, naming the copies,
// where it used to be traced with 880 mended inconsistencies (a main
// thread in Thread.join shown waiting for the GIL). test.sh installs
// python3.11-dbg; in CI (CI=true) a missing debug file fails.
func TestInlinedRefused(t *testing.T) {
	const exe = "/usr/bin/python3.11"
	if _, err := os.Stat(exe); err != nil {
		t.Skipf("no %s (not a Debian machine): %v", exe, err)
	}
	if out, err := exec.Command("dpkg", "-S", exe).Output(); err != nil || !strings.HasPrefix(string(out), "python3.11-minimal") {
		t.Skipf("%s is not Debian's python3.11-minimal", exe)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	dbg := debugFile(f, exe)
	f.Close()
	if dbg == "" {
		msg := "no debug file for " + exe + " under " + filepath.Join(debugRoot, ".build-id") + " (apt-get install python3.11-dbg)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	_, err = interpOfExecutable(exe)
	if !errors.Is(err, ErrInlined) {
		t.Fatalf("interpOfExecutable(%s) = %v; want ErrInlined", exe, err)
	}
	for _, want := range []string{"drop_gil into PyEval_SaveThread, os_stat", "PyEval_SaveThread into os_stat", "giltrace refuses rather than record a wrong trace"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestPyenvHint: the refusal names the newest pyenv build of each of the
// two newest supported versions installed, and nothing when there is none.
func TestPyenvHint(t *testing.T) {
	root := t.TempDir()
	t.Setenv("PYENV_ROOT", root)
	if h := pyenvHint(); h != "" {
		t.Errorf("no pyenv build: hint %q", h)
	}
	for _, v := range []string{"3.8.18/bin/python3.8", "3.11.2/bin/python3.11", "3.11.7/bin/python3.11", "3.12.1/bin/python3.12", "3.9.18/bin/python3.9"} {
		p := filepath.Join(root, "versions", v)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o755)
	}
	want := "; installed here: " + filepath.Join(root, "versions/3.12.1/bin/python3.12") + ", " + filepath.Join(root, "versions/3.11.7/bin/python3.11")
	if h := pyenvHint(); h != want {
		t.Errorf("hint %q, want %q", h, want)
	}
}
