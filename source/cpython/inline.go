package cpython

import (
	"cmp"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrInlined is wrapped by the error of an interpreter whose build copied a
// function the recorder probes into other functions (inlining): a uprobe
// on the function's entry does not see the calls made through those
// copies, so the trace would miss GIL releases, acquisitions or lock waits.
var ErrInlined = errors.New("a probed function is inlined")

// inlineChecked are the probed functions whose inlined copies would make
// the trace wrong: a missed take_gil or drop_gil loses an acquisition or a
// release; a missed PyEval_SaveThread or PyThread_acquire_lock_timed
// loses what a blocking call was.
var inlineChecked = []string{"take_gil", "drop_gil", "PyEval_SaveThread", "PyThread_acquire_lock_timed"}

// cloneChecked are probed functions whose clones (inlineSite.clone), not
// their inlined copies, are probed too: a clone of the parking lot
// (3.13+) names the lock a detach waits for. An inlined copy of it is not
// probed: that detach is a blocking call of unknown kind, as before. And
// pystate.c's detach_thread, which _PyThreadState_Detach calls: its
// clones are probed as that function (a detach, its caller at the return
// address). Debian's 3.15 inlined _PyThreadState_Detach everywhere; its
// 3.14 calls the clone directly beside it. An inlined copy of
// detach_thread is not probed (3.15's in _PyThreadState_Swap: a
// PyThreadState_Swap's detach is then not seen, its release shown as a
// drop request's).
var cloneChecked = []string{"_PyParkingLot_Park", "detach_thread"}

// inlineHarmless are functions that may hold an inlined copy without
// harm: APIs that a program does not call while it runs threads.
// 3.13's PyEval_ReleaseLock (deprecated since 3.2) inlines drop_gil in
// pyenv's build.
var inlineHarmless = map[string]bool{"PyEval_ReleaseLock": true}

// harmlessCopy reports whether inlined copy s needs no probe: it is in a
// function of inlineHarmless, or it is take_gil's own copy of drop_gil
// (3.14 with link-time optimisation). take_gil calls drop_gil only when
// the thread must exit because the interpreter is finalizing, after it
// took the GIL, and then never returns (it ends or hangs the thread): its
// return, the acquire the trace records, never comes, so neither does
// the release.
func harmlessCopy(s *inlineSite) bool {
	return inlineHarmless[s.in] || s.fn == "drop_gil" && baseName(s.in) == "take_gil"
}

// baseName is the name of the function that symbol name is a part or a
// copy of: take_gil for take_gil.lto_priv.0.cold (GCC's suffixes: .cold,
// .lto_priv.N, .constprop.N, .isra.N, .part.N).
func baseName(name string) string {
	base, _, _ := strings.Cut(name, ".")
	return base
}

// inlineSite is an inlined copy of a probed function: its address (the
// copy's first instruction), the function that holds it, and where its
// parameters are at that address (those located).
type inlineSite struct {
	fn, in string
	addr   uint64
	entry  bool // addr is the copy's DW_AT_entry_pc (or its only range's start)
	params map[string]paramLoc
	ranges [][2]uint64 // the copy's code
	// bypassed: part of the copy can run without passing addr (bypassed),
	// or that could not be checked.
	bypassed bool
	// clone: not inlined, but an out-of-line copy of the function with
	// code of its own, entered at addr (GCC's NAME.constprop.N, whose
	// constant parameters it dropped, which moves the others: Debian's
	// 3.14 has drop_gil only as drop_gil.constprop.0, and the parking
	// lot's timeout in %dx instead of %cx). Its parameters are located
	// at its entry as an inlined copy's.
	clone bool
	// paramNames are the names of every parameter the DWARF lists for
	// the copy, located or not: two static functions may share a name
	// (pystate.c's detach_thread(tstate, ...) and _threadmodule.c's
	// detach_thread(self)), told apart by them.
	paramNames []string
}

// inlineProbe is a probe on an inlined copy: a hit is handled as the
// probe event of the function copied (event), named name_iN.
type inlineProbe struct {
	site   inlineSite
	event  string // evDropGIL, evSave or evLock
	name   string // the probe's event name
	sym    string // probe this function's entry rather than site.addr
	args   string // fetch arguments, drop_gil's frames excluded
	reg    string // drop_gil: where tstate is
	filter string
	// evLock: the timeout when the copy's is a constant (usConst), or -1
	// for PyThread_acquire_lock's blocking acquires.
	us      int64
	usConst bool
	// alsoSave: a drop_gil copy at the address of a PyEval_SaveThread
	// copy: one probe for both, the blocking call first.
	alsoSave bool
}

// checkInlined looks for inlined copies of the probed functions in the
// DWARF of f (the interpreter's, or its debug file) and plans a probe on
// each that a running program would go through (in.inlined). It returns an
// error wrapping ErrInlined if a copy cannot be probed: take_gil (its
// return is what is recorded, and a copy has no return to probe), or a
// copy whose address or thread state the DWARF does not give. A copy of
// PyThread_acquire_lock_timed whose lock is not located is left unprobed
// (in.unprobedLocks): a wait for a lock there is shown as a blocking call.
func checkInlined(f *elf.File, dd *dwarfData, in *interp) error {
	funcs := funcSymbols(f)
	names := append(slices.Clip(inlineChecked), cloneChecked...)
	sites, noreturn := inlinedSites(dd.d, dd.loc, names, in.cloneSyms(names))
	// A clone at the address of the function's own symbol is the
	// function (its concrete instance, which LTO describes as a copy of
	// the abstract one): its probe is the function's.
	sites = slices.DeleteFunc(sites, func(s inlineSite) bool {
		sym, ok := in.syms[s.fn]
		return s.clone && ok && sym.Value == s.addr || !s.clone && slices.Contains(cloneChecked, s.fn)
	})
	if len(sites) == 0 {
		return nil
	}
	var code codeAt
	exe, err := elf.Open(in.Path) // the code (f may be the debug file, which has none)
	if err == nil {
		defer exe.Close()
		for _, p := range exe.Progs {
			if p.Type == elf.PT_LOAD {
				code.progs = append(code.progs, p)
			}
		}
	}
	for i := range sites {
		s := &sites[i]
		s.in = funcs.lookup(s.addr)
		if harmlessCopy(s) || s.clone {
			continue // a clone is a function: entered at its entry
		}
		var err error
		if s.bypassed, err = bypassed(code, funcs, noreturn, *s, s.ranges); err != nil {
			s.bypassed = true
		}
	}
	return in.planInlined(sites)
}

// planInlined plans the probes on inlined copies sites (each named with
// the function holding it) into in.inlined, in.unprobedLocks and
// in.inlinedLocks, or returns the error of checkInlined.
func (in *interp) planInlined(sites []inlineSite) error {
	var bad []badSite
	in.inlined, in.unprobedLocks, in.inlinedLocks = nil, nil, false
	acquireWrapped := false
	seen := map[string]bool{}
	for _, s := range sites {
		if harmlessCopy(&s) {
			continue
		}
		key := fmt.Sprintf("%s@%#x", s.fn, s.addr)
		if seen[key] {
			continue
		}
		seen[key] = true
		p := inlineProbe{site: s}
		switch s.fn {
		case "take_gil":
			if s.clone {
				bad = append(bad, badSite{s, "a clone of take_gil is not probed: giltrace probes the return of take_gil's own symbol"})
				continue
			}
			bad = append(bad, badSite{s, "its return is the acquire, and a copy has no return to probe"})
			continue
		case "drop_gil":
			ts := s.params["tstate"]
			if s.bypassed {
				bad = append(bad, badSite{s, "the machine code can run part of a copy without passing its first instruction"})
				continue
			}
			if !s.entry || ts.fetch == "" {
				bad = append(bad, badSite{s, "the DWARF does not say where the copy begins or where its tstate is"})
				continue
			}
			p.event, p.reg = evDropGIL, ts.fetch
		case "PyEval_SaveThread":
			if s.bypassed {
				bad = append(bad, badSite{s, "the machine code can run part of a copy without passing its first instruction"})
				continue
			}
			if !s.entry {
				bad = append(bad, badSite{s, "the DWARF does not say where the copy begins"})
				continue
			}
			p.event = evSave
			if s.clone {
				p.args = "ra=$stack0:x64" // the caller is the blocking call, as at PyEval_SaveThread's own probe
			}
		case "detach_thread": // a clone (cloneChecked)
			if !slices.Contains(s.paramNames, "tstate") {
				continue // _threadmodule.c's detach_thread(self), which detaches an OS thread
			}
			// Probed beside _PyThreadState_Detach, where that has a
			// symbol: Debian's 3.14 calls the clone directly too
			// (PyThreadState_Swap, the fork child, an interpreter's
			// deletion). Where _PyThreadState_Detach is only a jump to
			// the clone, it is not probed itself (buildProbes,
			// jumpsToProbed); where it calls it, the clone's hit from it
			// is the call its own probe saw (machine.step).
			p.event, p.args = evDetach, "ra=$stack0:x64"
		case "_PyParkingLot_Park": // a clone (cloneChecked)
			addr, timeout := s.params["addr"], s.params["timeout_ns"]
			if addr.fetch == "" || !timeout.located() {
				// Its detaches are blocking calls of unknown kind.
				if !slices.Contains(in.unprobedLocks, s.in) {
					in.unprobedLocks = append(in.unprobedLocks, s.in)
				}
				continue
			}
			p.event, p.args = evPark, "lock="+addr.fetch+":x64"
			if timeout.isConst {
				p.us, p.usConst = timeout.konst, true
			} else {
				p.args += " timeout=" + timeout.fetch + ":s64"
			}
		case "PyThread_acquire_lock_timed":
			in.inlinedLocks = true
			us, lock := s.params["microseconds"], s.params["lock"]
			switch {
			case us.isConst && us.konst == 0:
				continue // a try that never blocks: no event needed (lock holds aside)
			case s.entry && !s.bypassed && lock.fetch != "" && us.located():
				p.event, p.args = evLock, "lock="+lock.fetch+":x64"
				if us.isConst {
					p.us, p.usConst = us.konst, true
				} else {
					p.args += " us=" + us.fetch + ":s64"
					p.filter = "us != 0"
				}
			case s.in == "PyThread_acquire_lock":
				// The API's whole body: PyThread_acquire_lock(lock,
				// waitflag) is PyThread_acquire_lock_timed(lock, waitflag
				// ? -1 : 0, 0); its entry is probed with its own arguments.
				if acquireWrapped {
					continue
				}
				acquireWrapped = true
				p.event, p.sym, p.us, p.usConst = evLock, "PyThread_acquire_lock", -1, true
				p.args, p.filter = "lock=%di:x64 wf=%si:s32", "wf != 0"
			default:
				if !slices.Contains(in.unprobedLocks, s.in) {
					in.unprobedLocks = append(in.unprobedLocks, s.in)
				}
				continue
			}
		default:
			continue
		}
		in.inlined = append(in.inlined, p)
	}
	if len(bad) > 0 {
		in.inlined = nil
		return inlinedError(in, bad)
	}
	// A drop_gil copy at a PyEval_SaveThread copy's address: one probe.
	drops := map[uint64]bool{} // addresses of drop_gil copies
	for _, p := range in.inlined {
		if p.event == evDropGIL {
			drops[p.site.addr] = true
		}
	}
	saves := map[uint64]bool{} // addresses of PyEval_SaveThread copies (not clones: their call site is their caller)
	for _, p := range in.inlined {
		if p.event == evSave && !p.site.clone {
			saves[p.site.addr] = true
		}
	}
	planned := in.inlined
	in.inlined = nil
	for _, p := range planned {
		switch {
		case p.event == evSave && !p.site.clone && drops[p.site.addr]:
			continue // the drop_gil copy's probe does both
		case p.event == evDropGIL && saves[p.site.addr]:
			p.alsoSave = true
		}
		p.name = fmt.Sprintf("%s_i%d", p.event, len(in.inlined))
		in.inlined = append(in.inlined, p)
	}
	return nil
}

// badSite is an inlined copy that cannot be probed, and why.
type badSite struct {
	inlineSite
	why string
}

// inlinedError names, for each function whose copies cannot be probed,
// where they are and why.
func inlinedError(in *interp, bad []badSite) error {
	where := map[string][]string{}
	why := map[string]string{}
	var fns []string
	for _, s := range bad {
		if _, ok := where[s.fn]; !ok {
			fns = append(fns, s.fn)
			why[s.fn] = s.why
		}
		name := s.in
		if name == "" {
			name = fmt.Sprintf("%#x", s.addr)
		}
		if !slices.Contains(where[s.fn], name) {
			where[s.fn] = append(where[s.fn], name)
		}
	}
	var parts []string
	for _, fn := range fns {
		w := where[fn]
		list := strings.Join(w[:min(len(w), 4)], ", ")
		if len(w) > 4 {
			list += fmt.Sprintf(" and %d more", len(w)-4)
		}
		parts = append(parts, fmt.Sprintf("%s into %s (%s)", fn, list, why[fn]))
	}
	return fmt.Errorf("interpreter %s (Python %s): %w: its build copied %s (inlining, as link-time optimisation does). "+
		"giltrace probes the copies it can locate, but not these, so the trace would miss GIL acquisitions or releases; "+
		"it refuses rather than record a wrong trace. Use a CPython built without link-time optimisation, such as pyenv's "+
		"default build or one configured without --with-lto%s",
		in.Path, in.Version, ErrInlined, strings.Join(parts, "; "), pyenvHint(in.Minor, in.Path))
}

// pyenvHint names the pyenv builds of supported versions installed here,
// if any: "; installed here: /root/.pyenv/versions/3.11.7/bin/python3.11".
// The newest build of minor version same (the refused interpreter's,
// 0 for none) comes first, then those of the two newest versions (QA: a
// refused 3.11 was shown 3.13 and 3.12 alone, where a 3.11 build was
// installed). The refused interpreter's own build (refused, the path of
// its executable or library) is never named (review).
func pyenvHint(same int, refused string) string {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		root = filepath.Join(home, ".pyenv")
	}
	// The refused build's directory (versions/3.11.7): its executable
	// and its library are both below it.
	refusedDir := ""
	if rel, err := filepath.Rel(filepath.Join(root, "versions"), refused); err == nil && filepath.IsLocal(rel) {
		refusedDir = strings.Split(filepath.ToSlash(rel), "/")[0]
	}
	newest := func(minor int) string {
		m, _ := filepath.Glob(filepath.Join(root, "versions", fmt.Sprintf("3.%d.*", minor), "bin", fmt.Sprintf("python3.%d", minor)))
		m = slices.DeleteFunc(m, func(p string) bool {
			return refusedDir != "" && filepath.Base(filepath.Dir(filepath.Dir(p))) == refusedDir
		})
		if len(m) == 0 {
			return ""
		}
		// By the micro version as a number: 3.11.10 after 3.11.7.
		slices.SortFunc(m, func(a, b string) int { return cmp.Compare(microOf(a), microOf(b)) })
		return m[len(m)-1]
	}
	var found []string
	if same >= 9 && same <= 15 {
		if p := newest(same); p != "" {
			found = append(found, p)
		}
	}
	for minor, others := 15, 0; minor >= 9 && others < 2; minor-- {
		if p := newest(minor); p != "" && minor != same {
			found = append(found, p)
			others++
		}
	}
	if len(found) == 0 {
		return ""
	}
	return "; installed here: " + strings.Join(found, ", ")
}

// microOf is the micro version of a pyenv build's executable path
// (.../versions/3.11.7/bin/python3.11: 7), -1 if it has none (3.11.7t,
// 3.11-dev).
func microOf(path string) int {
	v := filepath.Base(filepath.Dir(filepath.Dir(path)))
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return -1
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return -1
	}
	return n
}

// inlinedSites returns the inlined copies of the named functions that the
// DWARF in d describes, in the order found, each with the parameters
// located at its address (from the location lists ll). Without link-time
// optimisation a function can be inlined only in its own source file, so
// only the compile units of the files that define these functions are
// read, and the link-time units (named "<artificial>" by GCC).
//
// It also returns the functions the DWARF says never return
// (DW_AT_noreturn) among those it reads.
func inlinedSites(d *dwarf.Data, ll *locLists, names []string, clones *cloneSyms) ([]inlineSite, map[string]bool) {
	noreturn := map[string]bool{}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	type param struct {
		origin dwarf.Offset
		e      *dwarf.Entry
	}
	type site struct {
		inlineSite
		origin dwarf.Offset
		base   uint64  // the unit's base address
		params []param // its formal parameters, by abstract origin
		// e is an inlined copy's entry, whose address and ranges are
		// read once its origin is known to be wanted: every copy's
		// were a tenth of a link-time optimised build's reading.
		e *dwarf.Entry
	}
	var sites []*site
	origins := map[dwarf.Offset]string{} // subprograms named in names
	var open []*site                     // per open entry with children: the site it is, or nil
	var base uint64
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == 0 {
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
			continue
		}
		var cur *site
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			name, _ := e.Val(dwarf.AttrName).(string)
			if !inlineUnit(name) {
				r.SkipChildren()
				continue
			}
			base, _ = e.Val(dwarf.AttrLowpc).(uint64)
			open = open[:0]
		case dwarf.TagSubprogram:
			n, _ := e.Val(dwarf.AttrName).(string)
			if want[n] {
				origins[e.Offset] = n
			}
			if nr, _ := e.Val(dwarf.AttrNoreturn).(bool); nr && n != "" {
				noreturn[n] = true
			}
			// A concrete out-of-line instance of an abstract function:
			// a clone, or the function itself (checkInlined tells).
			// Its code is at DW_AT_low_pc, or in DW_AT_ranges when GCC
			// split it into a hot and a cold part: its entry is the start
			// of the one at a clone's symbol (cloneSyms.entry).
			if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok && clones != nil {
				addr, _ := e.Val(dwarf.AttrLowpc).(uint64)
				var rs [][2]uint64
				if addr == 0 && e.AttrField(dwarf.AttrRanges) != nil {
					rs, _ = d.Ranges(e)
					addr = clones.entry(rs)
				} else if !clones.addrs[addr] {
					addr = 0
				}
				if addr != 0 {
					cur = &site{inlineSite: inlineSite{addr: addr, entry: true, clone: true, ranges: rs}, origin: o, base: base}
					sites = append(sites, cur)
				}
			}
		case dwarf.TagInlinedSubroutine:
			o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			if !ok {
				break
			}
			cur = &site{origin: o, base: base, e: e}
			sites = append(sites, cur)
		case dwarf.TagFormalParameter:
			if n := len(open); n > 0 && open[n-1] != nil {
				if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
					open[n-1].params = append(open[n-1].params, param{o, e})
				}
			}
		}
		if e.Children {
			open = append(open, cur)
		}
	}
	name := func(o dwarf.Offset) string {
		rr := d.Reader()
		rr.Seek(o)
		e, err := rr.Next()
		if err != nil || e == nil {
			return ""
		}
		n, _ := e.Val(dwarf.AttrName).(string)
		// An out-of-line instance of an abstract one names it by origin.
		if ao, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok && n == "" {
			if n = origins[ao]; n == "" {
				rr.Seek(ao)
				if e, err := rr.Next(); err == nil && e != nil {
					n, _ = e.Val(dwarf.AttrName).(string)
				}
			}
		}
		return n
	}
	var out []inlineSite
	for _, s := range sites {
		n, ok := origins[s.origin]
		if !ok {
			n = name(s.origin) // an abstract instance in a unit not read
			origins[s.origin] = n
		}
		if !want[n] {
			continue
		}
		s.fn = n
		if s.e != nil { // an inlined copy
			if s.addr, s.entry = siteEntry(d, s.e); s.addr == 0 {
				continue
			}
			s.ranges, _ = d.Ranges(s.e)
		}
		s.inlineSite.params = map[string]paramLoc{}
		for _, p := range s.params {
			pn := name(p.origin)
			s.paramNames = append(s.paramNames, pn)
			if loc, ok := paramAt(p.e, ll, s.base, s.addr); ok {
				s.inlineSite.params[pn] = loc
			}
		}
		out = append(out, s.inlineSite)
	}
	return out, noreturn
}

// cloneSyms are the addresses of the function symbols that may be the
// entry of a clone of a function of names: NAME.constprop.N, NAME.isra.N
// (not their cold parts), and the functions' own symbols, whose concrete
// instance the DWARF describes as a clone's. inlinedSites reads the
// parameters of the subprograms that begin there, and of no other: an LTO
// build has thousands of concrete instances.
type cloneSyms struct{ addrs map[uint64]bool }

func (in *interp) cloneSyms(names []string) *cloneSyms {
	c := &cloneSyms{addrs: map[uint64]bool{}}
	for name, s := range in.syms {
		base, ok := cloneOf(name)
		if !ok {
			base, ok = ltoBase(s)
		}
		if !ok {
			base = name // the function's own symbol
		}
		if slices.Contains(names, base) {
			c.addrs[s.Value] = true
		}
	}
	return c
}

// entry is the entry of a clone whose code is in ranges rs (GCC split it
// into a hot and a cold part): the start of the range at one of the
// addresses; 0 if none.
func (c *cloneSyms) entry(rs [][2]uint64) uint64 {
	for _, r := range rs {
		if c.addrs[r[0]] {
			return r[0]
		}
	}
	return 0
}

// siteEntry returns the address of the first instruction of inlined copy
// e, and whether the DWARF says so: a DW_AT_entry_pc (an address, or a
// DWARF 5 offset from the copy's DW_AT_low_pc) inside one of the copy's
// non-empty ranges, or the start of a copy of one range. The start of the
// first of several ranges need not be where every call enters.
func siteEntry(d *dwarf.Data, e *dwarf.Entry) (uint64, bool) {
	low, hasLow := e.Val(dwarf.AttrLowpc).(uint64)
	rs, _ := d.Ranges(e)
	inside := func(a uint64) bool {
		return slices.ContainsFunc(rs, func(r [2]uint64) bool { return a >= r[0] && a < r[1] })
	}
	switch v := e.Val(dwarf.AttrEntrypc).(type) {
	case uint64:
		if v != 0 {
			return v, inside(v)
		}
	case int64:
		if hasLow {
			return low + uint64(v), inside(low + uint64(v))
		}
	}
	if hasLow && low != 0 {
		return low, len(rs) == 1 && rs[0][1] > rs[0][0]
	}
	if len(rs) > 0 {
		return rs[0][0], len(rs) == 1 && rs[0][1] > rs[0][0]
	}
	return 0, false
}

// inlineUnit reports whether a compile unit named name can hold an inlined
// copy of a probed function: the files that define them (ceval_gil.h is
// included by ceval.c before 3.12), and GCC's link-time units.
func inlineUnit(name string) bool {
	switch path.Base(name) {
	case "ceval.c", "ceval_gil.c", "thread.c", "pystate.c", "parking_lot.c", "<artificial>":
		return true
	}
	return false
}

// funcSymbols is the function symbols of f, to name the function an
// address is in.
func funcSymbols(f *elf.File) *symbolize {
	s := &symbolize{}
	syms, _ := f.Symbols()
	dyn, _ := f.DynamicSymbols()
	for _, sy := range append(syms, dyn...) {
		if elf.ST_TYPE(sy.Info) == elf.STT_FUNC && sy.Value != 0 {
			if base, ok := ltoBase(sy); ok {
				sy.Name = base
			}
			s.funcs = append(s.funcs, sy)
		}
	}
	sortSymbols(s.funcs)
	return s
}
