package cpython

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
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
	sites, _ := inlinedSites(d, newLocLists(f), inlineChecked, nil)
	for _, s := range sites {
		found = append(found, s.fn+" in "+funcs.lookup(s.addr))
	}
	if len(found) != 1 || found[0] != "drop_gil in PyEval_ReleaseLock" {
		t.Errorf("inlined copies of the checked functions: %q; want [drop_gil in PyEval_ReleaseLock]", found)
	}
	// Mapped (openInterp), the same copies as read.
	file, err := os.Open(in.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	dd, err := loadDWARF(file, f)
	if err != nil {
		t.Fatal(err)
	}
	defer dd.release()
	mapped, _ := inlinedSites(dd.d, dd.loc, inlineChecked, nil)
	if !reflect.DeepEqual(mapped, sites) {
		t.Errorf("the mapped DWARF's inlined copies differ:\n%+v\nread:\n%+v", mapped, sites)
	}
	if err := checkInlined(f, dd, in); err != nil {
		t.Error(err)
	}
}

// debianPython returns Debian's python3.11 (link-time optimised, stripped,
// its symbols and DWARF in python3.11-dbg), or skips: test.sh installs
// python3.11-dbg, and in CI (CI=true) a missing debug file fails.
func debianPython(t *testing.T) string {
	t.Helper()
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
	return exe
}

// TestInlinedProbed: Debian's python3.11 copies drop_gil into
// PyEval_SaveThread and the os and io modules' calls, and
// PyEval_SaveThread into those calls, where probes on the functions'
// entries miss them (it used to be traced with 880 mended
// inconsistencies, then refused). Each copy is probed where it begins,
// drop_gil's thread state read where the DWARF says it is at that
// address; the tries that never block (a constant timeout of 0) are not
// probed, PyThread_acquire_lock is probed at its own entry; --lock-holds,
// which needs the returns of the copies, is refused.
func TestInlinedProbed(t *testing.T) {
	exe := debianPython(t)
	in, err := interpOfExecutable(exe)
	if err != nil {
		t.Fatalf("interpOfExecutable(%s): %v", exe, err)
	}
	by := map[string][]inlineProbe{}
	for _, p := range in.inlined {
		by[p.site.fn] = append(by[p.site.fn], p)
		if p.event == evDropGIL && !strings.HasPrefix(p.reg, "%") && !strings.Contains(p.reg, "(%") {
			t.Errorf("drop_gil in %s: tstate at %q", p.site.in, p.reg)
		}
		if p.event == evLock && p.usConst && p.us == 0 {
			t.Errorf("a try that never blocks is probed: %+v", p)
		}
	}
	has := func(fn, in string) bool {
		return slices.ContainsFunc(by[fn], func(p inlineProbe) bool { return p.site.in == in })
	}
	for _, w := range [][2]string{{"drop_gil", "PyEval_SaveThread"}, {"drop_gil", "os_stat"}, {"PyEval_SaveThread", "os_stat"}, {"PyEval_SaveThread", "_Py_read"}} {
		if !has(w[0], w[1]) {
			t.Errorf("no probe on the copy of %s in %s: %+v", w[0], w[1], in.inlined)
		}
	}
	if !slices.ContainsFunc(by["PyThread_acquire_lock_timed"], func(p inlineProbe) bool { return p.sym == "PyThread_acquire_lock" && p.filter == "wf != 0" }) {
		t.Errorf("PyThread_acquire_lock's entry is not probed: %+v", by["PyThread_acquire_lock_timed"])
	}
	// GCC duplicated the start of tracemalloc_free's copy on another path,
	// which jumps past the copy's first instruction: found in the machine
	// code, and left unprobed.
	if !slices.Contains(in.unprobedLocks, "tracemalloc_free") || has("PyThread_acquire_lock_timed", "tracemalloc_free") {
		t.Errorf("tracemalloc_free's bypassed copy: unprobed %q", in.unprobedLocks)
	}
	probes, _, err := buildProbes(in, DefaultExactFrames, false, false)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range probes {
		if names[p.name] {
			t.Errorf("two probes named %s", p.name)
		}
		names[p.name] = true
	}
	for _, p := range in.inlined {
		if !names[p.name] {
			t.Errorf("probe %s not built", p.name)
		}
	}
	if _, _, err := buildProbes(in, DefaultExactFrames, false, true); !errors.Is(err, ErrInlined) || !strings.Contains(err.Error(), "--lock-holds") {
		t.Errorf("--lock-holds: %v; want ErrInlined naming --lock-holds", err)
	}
	// From 3.14 on, whatever the build: threading.Lock is a PyMutex.
	in14 := *in
	in14.Minor, in14.inlinedLocks = 14, false
	if _, _, err := buildProbes(&in14, DefaultExactFrames, false, true); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "PyMutex") {
		t.Errorf("--lock-holds on 3.14: %v; want ErrUnsupported naming PyMutex", err)
	}
}

// TestPlanInlined: which copies are probed, how, and which are refused.
func TestPlanInlined(t *testing.T) {
	reg := func(r string) paramLoc { return paramLoc{fetch: r} }
	konst := func(v int64) paramLoc { return paramLoc{konst: v, isConst: true} }
	site := func(fn, in string, addr uint64, entry bool, params map[string]paramLoc) inlineSite {
		return inlineSite{fn: fn, in: in, addr: addr, entry: entry, params: params}
	}
	clone := func(fn, in string, addr uint64, params map[string]paramLoc) inlineSite {
		return inlineSite{fn: fn, in: in, addr: addr, entry: true, params: params, clone: true}
	}
	withParams := func(s inlineSite, names ...string) inlineSite {
		s.paramNames = names
		return s
	}
	in := &interp{Path: "/usr/bin/python3.11", Version: "3.11.2"}
	err := in.planInlined([]inlineSite{
		site("drop_gil", "PyEval_SaveThread", 0x10, true, map[string]paramLoc{"tstate": reg("%bx")}),
		site("drop_gil", "PyEval_SaveThread", 0x10, true, map[string]paramLoc{"tstate": reg("%bx")}), // the same copy twice
		site("drop_gil", "PyEval_ReleaseLock", 0x18, true, nil),                                      // harmless
		site("drop_gil", "take_gil.lto_priv.0.cold", 0x1c, false, nil),                               // take_gil's exit path (3.14): harmless
		site("PyEval_SaveThread", "os_stat", 0x20, true, nil),
		site("drop_gil", "os_stat", 0x20, true, map[string]paramLoc{"tstate": reg("+8(%bp)")}), // at the same address
		site("PyThread_acquire_lock_timed", "lock_PyThread_acquire_lock", 0x30, true, map[string]paramLoc{"lock": reg("%r12"), "microseconds": konst(0)}),
		site("PyThread_acquire_lock_timed", "tracemalloc_free", 0x40, true, map[string]paramLoc{"lock": reg("%bx"), "microseconds": konst(-1)}),
		site("PyThread_acquire_lock_timed", "acquire_timed", 0x48, true, map[string]paramLoc{"lock": reg("%bx"), "microseconds": reg("%r13")}),
		site("PyThread_acquire_lock_timed", "PyThread_acquire_lock", 0x50, false, nil),
		site("PyThread_acquire_lock_timed", "PyThread_acquire_lock", 0x58, false, nil),
		site("PyThread_acquire_lock_timed", "_PyTraceMalloc_NewReference", 0x60, false, nil),
		clone("drop_gil", "drop_gil.constprop.0", 0x70, map[string]paramLoc{"tstate": reg("%si")}),
		clone("PyEval_SaveThread", "PyEval_SaveThread.isra.0", 0x78, nil),
		clone("_PyParkingLot_Park", "_PyParkingLot_Park.constprop.0", 0x80, map[string]paramLoc{"addr": reg("%di"), "timeout_ns": reg("%dx")}),
		clone("_PyParkingLot_Park", "_PyParkingLot_Park.constprop.1", 0x88, map[string]paramLoc{"addr": reg("%di"), "timeout_ns": konst(-1)}),
		clone("_PyParkingLot_Park", "_PyParkingLot_Park.constprop.2", 0x90, map[string]paramLoc{"timeout_ns": konst(-1)}), // its lock not located
		withParams(clone("detach_thread", "detach_thread.constprop.0", 0x98, nil), "tstate", "detached_state"),            // pystate.c's
		withParams(clone("detach_thread", "detach_thread.isra.0", 0xa0, nil), "self"),                                     // _threadmodule.c's: not probed
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range in.inlined {
		got = append(got, fmt.Sprintf("%s %s in %s %s %q %q %q us=%d/%v save=%v", p.name, p.site.fn, p.site.in, p.sym, p.reg, p.args, p.filter, p.us, p.usConst, p.alsoSave))
	}
	want := []string{
		`drop_gil_i0 drop_gil in PyEval_SaveThread  "%bx" "" "" us=0/false save=false`,
		`drop_gil_i1 drop_gil in os_stat  "+8(%bp)" "" "" us=0/false save=true`,
		`lock_acquire_i2 PyThread_acquire_lock_timed in tracemalloc_free  "" "lock=%bx:x64" "" us=-1/true save=false`,
		`lock_acquire_i3 PyThread_acquire_lock_timed in acquire_timed  "" "lock=%bx:x64 us=%r13:s64" "us != 0" us=0/false save=false`,
		`lock_acquire_i4 PyThread_acquire_lock_timed in PyThread_acquire_lock PyThread_acquire_lock "" "lock=%di:x64 wf=%si:s32" "wf != 0" us=-1/true save=false`,
		`drop_gil_i5 drop_gil in drop_gil.constprop.0  "%si" "" "" us=0/false save=false`,
		`save_thread_i6 PyEval_SaveThread in PyEval_SaveThread.isra.0  "" "ra=$stack0:x64" "" us=0/false save=false`,
		`park_i7 _PyParkingLot_Park in _PyParkingLot_Park.constprop.0  "" "lock=%di:x64 timeout=%dx:s64" "" us=0/false save=false`,
		`park_i8 _PyParkingLot_Park in _PyParkingLot_Park.constprop.1  "" "lock=%di:x64" "" us=-1/true save=false`,
		`detach_i9 detach_thread in detach_thread.constprop.0  "" "ra=$stack0:x64" "" us=0/false save=false`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("probes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Beside _PyThreadState_Detach too: Debian's 3.14 calls the clone
	// directly as well.
	withDetach := &interp{syms: map[string]elf.Symbol{"_PyThreadState_Detach": {Value: 0x100}}}
	if err := withDetach.planInlined([]inlineSite{withParams(clone("detach_thread", "detach_thread.constprop.0", 0x98, nil), "tstate")}); err != nil || len(withDetach.inlined) != 1 {
		t.Errorf("a clone of detach_thread beside _PyThreadState_Detach: %v, probes %+v; want it probed", err, withDetach.inlined)
	}
	// A PyEval_SaveThread clone whose first instruction is a drop_gil
	// copy's keeps its own probe: its call site is its caller.
	merged := &interp{}
	if err := merged.planInlined([]inlineSite{
		clone("PyEval_SaveThread", "PyEval_SaveThread.isra.0", 0xb0, nil),
		site("drop_gil", "PyEval_SaveThread.isra.0", 0xb0, true, map[string]paramLoc{"tstate": reg("%bx")}),
	}); err != nil || len(merged.inlined) != 2 || merged.inlined[1].alsoSave {
		t.Errorf("a drop_gil copy at a PyEval_SaveThread clone's entry: %v, %+v; want two probes, not merged", err, merged.inlined)
	}
	if !slices.Equal(in.unprobedLocks, []string{"_PyTraceMalloc_NewReference", "_PyParkingLot_Park.constprop.2"}) || !in.inlinedLocks {
		t.Errorf("unprobed lock copies %q, inlined locks %v", in.unprobedLocks, in.inlinedLocks)
	}
	for _, bad := range []struct {
		site inlineSite
		want string
	}{
		{site("take_gil", "PyEval_RestoreThread", 0x10, true, nil), "take_gil into PyEval_RestoreThread (its return is the acquire"},
		{inlineSite{fn: "take_gil", in: "take_gil.constprop.0", addr: 0x10, entry: true, clone: true}, "take_gil into take_gil.constprop.0 (a clone of take_gil is not probed"},
		{site("drop_gil", "PyEval_SaveThread", 0x10, true, nil), "drop_gil into PyEval_SaveThread (the DWARF does not say"},
		{site("drop_gil", "take_gil_wrapper", 0x10, true, nil), "drop_gil into take_gil_wrapper (the DWARF does not say"},
		{site("drop_gil", "PyEval_SaveThread", 0x10, false, map[string]paramLoc{"tstate": reg("%bx")}), "drop_gil into PyEval_SaveThread"},
		{site("drop_gil", "PyEval_SaveThread", 0x10, true, map[string]paramLoc{"tstate": konst(0)}), "drop_gil into PyEval_SaveThread"},
		{site("PyEval_SaveThread", "os_stat", 0x10, false, nil), "PyEval_SaveThread into os_stat"},
		{inlineSite{fn: "drop_gil", in: "os_stat", addr: 0x10, entry: true, params: map[string]paramLoc{"tstate": reg("%bx")}, bypassed: true}, "drop_gil into os_stat (the machine code can run part of a copy"},
		{inlineSite{fn: "PyEval_SaveThread", in: "os_stat", addr: 0x10, entry: true, bypassed: true}, "PyEval_SaveThread into os_stat (the machine code"},
	} {
		err := in.planInlined([]inlineSite{bad.site})
		if !errors.Is(err, ErrInlined) || !strings.Contains(err.Error(), bad.want) || in.inlined != nil {
			t.Errorf("%+v: %v, %d probes; want ErrInlined with %q", bad.site, err, len(in.inlined), bad.want)
		}
	}
}

// TestEvalLoc: the DWARF location expressions read, and those not.
func TestEvalLoc(t *testing.T) {
	for _, c := range []struct {
		expr []byte
		want paramLoc
		ok   bool
	}{
		{[]byte{0x53}, paramLoc{fetch: "%bx"}, true},                         // DW_OP_reg3
		{[]byte{0x5c}, paramLoc{fetch: "%r12"}, true},                        // DW_OP_reg12
		{[]byte{0x90, 0x0f}, paramLoc{fetch: "%r15"}, true},                  // DW_OP_regx 15
		{[]byte{0x90, 0x11}, paramLoc{}, false},                              // DW_OP_regx 17: an xmm register
		{[]byte{0x76, 0x10}, paramLoc{fetch: "+16(%bp)"}, true},              // DW_OP_breg6 16: in memory
		{[]byte{0x77, 0x78}, paramLoc{fetch: "-8(%sp)"}, true},               // DW_OP_breg7 -8
		{[]byte{0x92, 0x03, 0x00}, paramLoc{fetch: "+0(%bx)"}, true},         // DW_OP_bregx 3 0
		{[]byte{0x73, 0x00, 0x9f}, paramLoc{fetch: "%bx"}, true},             // DW_OP_breg3 0; DW_OP_stack_value
		{[]byte{0x76, 0xe0, 0x00, 0x9f}, paramLoc{}, false},                  // DW_OP_breg6 96; stack_value: a sum
		{[]byte{0x30, 0x9f}, paramLoc{konst: 0, isConst: true}, true},        // DW_OP_lit0; stack_value
		{[]byte{0x09, 0xff, 0x9f}, paramLoc{konst: -1, isConst: true}, true}, // DW_OP_const1s -1
		{[]byte{0x0a, 0xe8, 0x03, 0x9f}, paramLoc{konst: 1000, isConst: true}, true},
		{[]byte{0x11, 0x7f, 0x9f}, paramLoc{konst: -1, isConst: true}, true}, // DW_OP_consts -1
		{[]byte{0x30}, paramLoc{}, false},                                    // a literal as an address
		{[]byte{0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0x06}, paramLoc{}, false},      // DW_OP_addr; deref
		{[]byte{0xa3, 0x01, 0x55, 0x9f}, paramLoc{}, false},                  // DW_OP_entry_value(reg5)
		{[]byte{0x53, 0x93, 0x08}, paramLoc{}, false},                        // a piece
		{nil, paramLoc{}, false},
		{[]byte{0x90}, paramLoc{}, false}, // cut short
		{[]byte{0x0e, 1, 2}, paramLoc{}, false},
	} {
		got, ok := evalLoc(c.expr)
		if got != c.want || ok != c.ok {
			t.Errorf("evalLoc(% x) = %+v, %v; want %+v, %v", c.expr, got, ok, c.want, c.ok)
		}
	}
}

// TestLocLists: DWARF 5's and DWARF 4's location lists, the entry that
// holds at an address.
func TestLocLists(t *testing.T) {
	le := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	var v5 []byte
	v5 = append(v5, 0x06) // DW_LLE_base_address 0x1000
	v5 = append(v5, le(0x1000)...)
	v5 = append(v5, 0x04, 0x00, 0x10, 0x01, 0x55) // offset_pair [0x1000, 0x1010): reg5
	v5 = append(v5, 0x04, 0x10, 0x20, 0x01, 0x53) // [0x1010, 0x1020): reg3
	v5 = append(v5, 0x07)                         // start_end [0x2000, 0x2008): lit0
	v5 = append(v5, le(0x2000)...)
	v5 = append(v5, le(0x2008)...)
	v5 = append(v5, 0x02, 0x30, 0x9f)
	v5 = append(v5, 0x08) // start_length [0x3000, +4)
	v5 = append(v5, le(0x3000)...)
	v5 = append(v5, 0x04, 0x01, 0x5c, 0x00) // reg12; end
	l := &locLists{v5: true, data: v5}
	for _, c := range []struct {
		pc   uint64
		want []byte
	}{{0x1000, []byte{0x55}}, {0x100f, []byte{0x55}}, {0x1010, []byte{0x53}}, {0x1020, nil}, {0x2004, []byte{0x30, 0x9f}}, {0x3003, []byte{0x5c}}, {0x3004, nil}, {0x10, nil}} {
		got, ok := l.at(0, 0, c.pc)
		if ok != (c.want != nil) || string(got) != string(c.want) {
			t.Errorf("v5 at %#x: % x, %v; want % x", c.pc, got, ok, c.want)
		}
	}
	if _, ok := l.at(int64(len(v5)), 0, 0x1000); ok {
		t.Error("an offset past the section is read")
	}
	if _, ok := (&locLists{v5: true, data: v5[:5]}).at(0, 0, 0x1000); ok {
		t.Error("a list cut short is read")
	}
	var v4 []byte
	v4 = append(v4, le(0x10)...) // [base+0x10, base+0x20): reg3
	v4 = append(v4, le(0x20)...)
	v4 = append(v4, 0x01, 0x00, 0x53)
	v4 = append(v4, le(^uint64(0))...) // base selection: 0x5000
	v4 = append(v4, le(0x5000)...)
	v4 = append(v4, le(0x0)...) // [0x5000, 0x5008): reg6
	v4 = append(v4, le(0x8)...)
	v4 = append(v4, 0x01, 0x00, 0x56)
	v4 = append(v4, make([]byte, 16)...) // end
	l = &locLists{data: v4}
	for _, c := range []struct {
		pc   uint64
		want []byte
	}{{0x1010, []byte{0x53}}, {0x1020, nil}, {0x5004, []byte{0x56}}, {0x5008, nil}} {
		got, ok := l.at(0, 0x1000, c.pc)
		if ok != (c.want != nil) || string(got) != string(c.want) {
			t.Errorf("v4 at %#x: % x, %v; want % x", c.pc, got, ok, c.want)
		}
	}
	// A default location holds only where no bounded entry does.
	dl := []byte{0x05, 0x01, 0x50, 0x07}
	dl = append(dl, le(0x1000)...)
	dl = append(dl, le(0x1010)...)
	dl = append(dl, 0x01, 0x53, 0x00)
	l = &locLists{v5: true, data: dl}
	for pc, want := range map[uint64]byte{0x1004: 0x53, 0x2000: 0x50} {
		if got, ok := l.at(0, 0, pc); !ok || len(got) != 1 || got[0] != want {
			t.Errorf("default location, at %#x: % x, %v; want %x", pc, got, ok, want)
		}
	}
	if _, ok := (*locLists)(nil).at(0, 0, 0); ok {
		t.Error("no lists: read")
	}
}

// TestPyenvHint: the refusal names the newest pyenv build of the refused
// interpreter's version, then of each of the two newest supported
// versions installed, and nothing when there is none.
func TestPyenvHint(t *testing.T) {
	root := t.TempDir()
	t.Setenv("PYENV_ROOT", root)
	if h := pyenvHint(11, ""); h != "" {
		t.Errorf("no pyenv build: hint %q", h)
	}
	for _, v := range []string{"3.8.18/bin/python3.8", "3.11.2/bin/python3.11", "3.11.7/bin/python3.11", "3.12.1/bin/python3.12", "3.9.18/bin/python3.9"} {
		p := filepath.Join(root, "versions", v)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o755)
	}
	want := "; installed here: " + filepath.Join(root, "versions/3.12.1/bin/python3.12") + ", " + filepath.Join(root, "versions/3.11.7/bin/python3.11")
	if h := pyenvHint(0, ""); h != want {
		t.Errorf("hint %q, want %q", h, want)
	}
	want = "; installed here: " + filepath.Join(root, "versions/3.9.18/bin/python3.9") + ", " + filepath.Join(root, "versions/3.12.1/bin/python3.12") + ", " + filepath.Join(root, "versions/3.11.7/bin/python3.11")
	if h := pyenvHint(9, ""); h != want {
		t.Errorf("a 3.9 refused: hint %q, want %q", h, want)
	}
	want = "; installed here: " + filepath.Join(root, "versions/3.11.7/bin/python3.11") + ", " + filepath.Join(root, "versions/3.12.1/bin/python3.12") + ", " + filepath.Join(root, "versions/3.9.18/bin/python3.9")
	if h := pyenvHint(11, ""); h != want {
		t.Errorf("a 3.11 refused: hint %q, want %q", h, want)
	}
	// The refused build itself is not named, and 3.11.10 is newer than
	// 3.11.7 (review).
	p := filepath.Join(root, "versions", "3.11.10/bin/python3.11")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, nil, 0o755)
	want = "; installed here: " + filepath.Join(root, "versions/3.11.7/bin/python3.11") + ", " + filepath.Join(root, "versions/3.12.1/bin/python3.12") + ", " + filepath.Join(root, "versions/3.9.18/bin/python3.9")
	if h := pyenvHint(11, filepath.Join(root, "versions/3.11.10/lib/libpython3.11.so.1.0")); h != want {
		t.Errorf("3.11.10 refused: hint %q, want %q", h, want)
	}
	want = "; installed here: " + filepath.Join(root, "versions/3.11.10/bin/python3.11") + ", " + filepath.Join(root, "versions/3.12.1/bin/python3.12") + ", " + filepath.Join(root, "versions/3.9.18/bin/python3.9")
	if h := pyenvHint(11, "/usr/bin/python3.11"); h != want {
		t.Errorf("Debian's 3.11 refused: hint %q, want %q", h, want)
	}
}

// FuzzEvalLoc: any location expression is read or not, never a panic, and
// what is read is a fetch argument tracefs takes or a constant.
func FuzzEvalLoc(f *testing.F) {
	for _, e := range [][]byte{{0x53}, {0x76, 0x10}, {0x30, 0x9f}, {0x09, 0xff, 0x9f}, {0x92, 0x03, 0x00}, {0x90}, {0x11, 0x80}} {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, expr []byte) {
		loc, ok := evalLoc(expr)
		if !ok {
			if loc != (paramLoc{}) {
				t.Errorf("not read, yet %+v", loc)
			}
			return
		}
		if loc.isConst == (loc.fetch != "") || len(loc.fetch) > maxArgLen/2 {
			t.Errorf("%+v", loc)
		}
	})
}

// FuzzLocLists: any bytes as a location list section, at any offset and
// address, never a panic.
func FuzzLocLists(f *testing.F) {
	f.Add([]byte{0x06, 0, 0x10, 0, 0, 0, 0, 0, 0, 0x04, 0x00, 0x10, 0x01, 0x55, 0x00}, true, int64(0), uint64(0x1000))
	f.Add(make([]byte, 40), false, int64(0), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, v5 bool, off int64, pc uint64) {
		l := &locLists{v5: v5, data: data}
		if e, ok := l.at(off, 0, pc); ok && len(e) > len(data) {
			t.Errorf("an expression longer than the section")
		}
	})
}

// TestDebianUnstablePlans: the probes planned for Debian unstable's 3.14
// and 3.15 (scripts/install-debian-python.sh), by function, not by GCC's
// numbering of its clones: drop_gil only at its clone, tstate in a
// register; the parking lot's clone with its own timeout register;
// pystate.c's detach_thread clone and not _threadmodule.c's (no tstate);
// and no probe of 3.14's _PyThreadState_Detach, a jump to that clone.
func TestDebianUnstablePlans(t *testing.T) {
	for _, minor := range []int{14, 15} {
		t.Run(fmt.Sprintf("3.%d", minor), func(t *testing.T) {
			in, err := openInterp(debianUnstablePython(t, minor))
			if err != nil {
				t.Fatal(err)
			}
			probes, _, err := buildProbes(in, DefaultExactFrames, false, false)
			if err != nil {
				t.Fatal(err)
			}
			by := map[string][]string{} // by the function copied: "in args"
			for _, p := range in.inlined {
				if p.site.clone {
					by[p.site.fn] = append(by[p.site.fn], p.site.in+" "+p.args+p.reg)
				}
			}
			t.Logf("clones probed: %v", by)
			if c := by["drop_gil"]; len(c) != 1 || !strings.HasPrefix(c[0], "drop_gil.constprop.") || !strings.HasSuffix(c[0], "%si") {
				t.Errorf("drop_gil's clones %q, want one, tstate in %%si", c)
			}
			if c := by["_PyParkingLot_Park"]; len(c) != 1 || !strings.Contains(c[0], "timeout=%dx") {
				t.Errorf("the parking lot's clones %q, want one, its timeout in %%dx", c)
			}
			if c := by["detach_thread"]; len(c) != 1 || strings.Contains(c[0], ".isra.") {
				t.Errorf("detach_thread's clones %q, want pystate.c's alone", c)
			}
			for _, p := range probes {
				if p.name == evDetach {
					t.Errorf("_PyThreadState_Detach probed (%#x): on 3.%d it has no code of its own", p.offset, minor)
				}
			}
		})
	}
}
