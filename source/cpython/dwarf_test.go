package cpython

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

var pyenvVersions = []string{"3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"}

func pyenvInterp(t *testing.T, v string) *interp {
	t.Helper()
	exe := pyenv(v)
	if _, err := os.Stat(exe); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no %s: %v", exe, err)
		}
		t.Skipf("no %s: %v", exe, err)
	}
	in, err := interpOfExecutable(exe)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestLayout checks the offsets read from each pyenv build's DWARF. The
// 3.11 ones were checked by hand (DESIGN.md: gdb's ptype /o and uprobe
// fetch-args that printed qualnames); the others are what the DWARF says,
// kept so that a change in the reading shows.
func TestLayout(t *testing.T) {
	type want struct {
		tstateFrame, cframeFrame, frameCode, framePrev, frameInstr, frameOwner int64
		codeName, codeQualname, codeFirstLine, codeLineTable, codeCode         int64
		asciiSize, compactSize                                                 int64
		takeGIL, dropGIL                                                       int
	}
	wants := map[string]want{
		"3.9.18":  {24, -1, 32, 24, 104, -1, 112, -1, 40, 120, -1, 48, 72, 0, 2},
		"3.10.13": {24, -1, 32, 24, 96, -1, 112, -1, 40, 120, -1, 48, 72, 0, 2},
		"3.11.7":  {56, 8, 32, 48, 56, 69, 120, 128, 72, 136, 184, 48, 72, 0, 2},
		"3.12.1":  {56, 0, 0, 8, 56, 70, 120, 128, 68, 136, 192, 40, 56, 0, 1},
		"3.13.0":  {72, -1, 0, 8, 56, 70, 120, 128, 68, 136, 200, 40, 56, 0, 1},
	}
	for _, v := range pyenvVersions {
		t.Run(v, func(t *testing.T) {
			in := pyenvInterp(t, v)
			l := in.layout
			got := want{l.tstateFrame, l.cframeFrame, l.frameCode, l.framePrev, l.frameInstr, l.frameOwner,
				l.codeName, l.codeQualname, l.codeFirstLine, l.codeLineTable, l.codeCode,
				l.asciiSize, l.compactSize, l.takeGILTstate, l.dropGILTstate}
			if got != wants[v] {
				t.Errorf("layout\n got %+v\nwant %+v", got, wants[v])
			}
			// struct _gil_runtime_state: interval, last_holder, locked,
			// switch_number on every version (the sampler reads the last
			// three).
			if l.gilPath == nil || l.gilHolder != 8 || l.gilLocked != 16 || l.gilSwitches != 24 {
				t.Errorf("GIL state at %v: last_holder +%d, locked +%d, switch_number +%d; want +8, +16, +24", l.gilPath, l.gilHolder, l.gilLocked, l.gilSwitches)
			}
			if len(l.intervalPath) == 0 || l.objErr != nil || l.freeThreaded {
				t.Errorf("interval path %v, object layout error %v, free-threaded %v", l.intervalPath, l.objErr, l.freeThreaded)
			}
			if !strings.HasPrefix(in.Version, v[:4]) {
				t.Errorf("version %q, want %s", in.Version, v)
			}
		})
	}
}

// TestFrameArgs checks the drop_gil fetch-args of 3.11 against the chain
// verified by hand: tstate->cframe (+56) -> current_frame (+8), then
// previous (+48); each frame's words from f_code (+32).
func TestFrameArgs(t *testing.T) {
	in := pyenvInterp(t, "3.11.7")
	fa := buildFrameArgs(in.layout, "%dx", 32, false)
	if fa.frames != 8 || fa.lo != 32 || fa.words != 5 {
		t.Fatalf("frames %d lo %d words %d, want 8 frames of 5 words from +32", fa.frames, fa.lo, fa.words)
	}
	if got, want := fa.exprs[0], "+32(+8(+56(%dx))):x64[5]"; got != want {
		t.Errorf("frame 0: %s, want %s", got, want)
	}
	if got, want := fa.exprs[2], "+32(+48(+48(+8(+56(%dx))))):x64[5]"; got != want {
		t.Errorf("frame 2: %s, want %s", got, want)
	}
	for _, e := range fa.exprs {
		if len(e) > maxArgLen {
			t.Errorf("%s: longer than %d", e, maxArgLen)
		}
	}
}

func TestStrippedInterpreter(t *testing.T) {
	const exe = "/usr/bin/python3.11"
	if _, err := os.Stat(exe); err != nil {
		t.Skipf("no %s", exe)
	}
	// Its debug file, if installed, is not looked for (TestInlinedProbed probes it).
	old := debugRoot
	debugRoot = t.TempDir()
	defer func() { debugRoot = old }()
	_, err := interpOfExecutable(exe)
	if !errors.Is(err, ErrNoSymbols) {
		t.Fatalf("error %v, want ErrNoSymbols", err)
	}
	for _, s := range []string{"take_gil", "python3.11-dbg", "pyenv"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestNotCPython(t *testing.T) {
	for _, argv := range [][]string{{"/bin/true"}, {"true"}} {
		_, err := findCommandInterp(argv)
		if !errors.Is(err, ErrNotCPython) {
			t.Errorf("%v: error %v, want ErrNotCPython", argv, err)
		}
	}
	if _, err := findCommandInterp([]string{"/no/such/python"}); err == nil {
		t.Error("a missing program: no error")
	}
}

// TestDWARFMappedIsRead: the interpreter's DWARF mapped, its functions
// looked for in the unit of their code (openInterp), gives what it gave
// read and walked from the start: every pyenv build, and Debian's
// python3.11 (its DWARF in a debug file, built with link-time
// optimisation, its copies of the probed functions planned). The mapping
// is gone when openInterp returns: the comparison, which reads all that
// the interpreter's description holds, would fault on a byte of it kept.
func TestDWARFMappedIsRead(t *testing.T) {
	exes := []string{}
	for _, v := range pyenvVersions {
		exes = append(exes, pyenvInterp(t, v).Path)
	}
	t.Run("debian", func(t *testing.T) { exes = append(exes, debianPython(t)) })
	for _, exe := range exes {
		fast, err := openInterp(exe)
		if err != nil {
			t.Fatalf("%s: %v", exe, err)
		}
		slowDWARF = true
		slow, err := openInterp(exe)
		slowDWARF = false
		if err != nil {
			t.Fatalf("%s, read: %v", exe, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: mapped\n%+v\nread\n%+v", exe, fast.layout, slow.layout)
		}
		if fast.DebugFile == "" && len(fast.syms) < 100 {
			t.Errorf("%s: %d symbols", exe, len(fast.syms))
		}
	}
	if len(exes) < len(pyenvVersions) {
		t.Fatalf("%d interpreters", len(exes))
	}
}
