package cpython

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
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

// inlineHarmless are functions that may hold an inlined copy without
// harm: APIs that a program does not call while it runs threads.
// 3.13's PyEval_ReleaseLock (deprecated since 3.2) inlines drop_gil in
// pyenv's build.
var inlineHarmless = map[string]bool{"PyEval_ReleaseLock": true}

// inlineSite is an inlined copy of a probed function: its address and the
// function that holds it.
type inlineSite struct {
	fn, in string
	addr   uint64
}

// checkInlined returns an error wrapping ErrInlined if the interpreter's
// DWARF (from file f, which has the symbols) shows inlined copies of the
// probed functions that a running program would call.
func checkInlined(f *elf.File, in *interp) error {
	d, err := f.DWARF()
	if err != nil {
		return nil // readLayout has already needed the DWARF
	}
	sites := inlinedSites(d, inlineChecked)
	if len(sites) == 0 {
		return nil
	}
	funcs := funcSymbols(f)
	var bad []inlineSite
	for _, s := range sites {
		s.in = funcs.lookup(s.addr)
		if !inlineHarmless[s.in] {
			bad = append(bad, s)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return inlinedError(in, bad)
}

// inlinedError names, for each function inlined, where its copies are.
func inlinedError(in *interp, bad []inlineSite) error {
	where := map[string][]string{}
	var fns []string
	for _, s := range bad {
		if _, ok := where[s.fn]; !ok {
			fns = append(fns, s.fn)
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
		parts = append(parts, fmt.Sprintf("%s into %s", fn, list))
	}
	return fmt.Errorf("interpreter %s (Python %s): %w: its build copied %s (inlining, as link-time optimisation does: "+
		"Debian's and Ubuntu's python3 are built that way). A uprobe on a function's entry misses the calls made through "+
		"its copies, so the trace would miss GIL releases or lock waits; giltrace refuses rather than record a wrong trace. "+
		"Use a CPython built without link-time optimisation, such as pyenv's default build or one configured without --with-lto%s",
		in.Path, in.Version, ErrInlined, strings.Join(parts, "; "), pyenvHint())
}

// pyenvHint names the pyenv builds of supported versions installed here,
// if any: "; installed here: /root/.pyenv/versions/3.11.7/bin/python3.11".
func pyenvHint() string {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		root = filepath.Join(home, ".pyenv")
	}
	var found []string
	for minor := 13; minor >= 9 && len(found) < 2; minor-- {
		m, _ := filepath.Glob(filepath.Join(root, "versions", fmt.Sprintf("3.%d.*", minor), "bin", fmt.Sprintf("python3.%d", minor)))
		if len(m) > 0 {
			slices.Sort(m)
			found = append(found, m[len(m)-1])
		}
	}
	if len(found) == 0 {
		return ""
	}
	return "; installed here: " + strings.Join(found, ", ")
}

// inlinedSites returns the inlined copies of the named functions that the
// DWARF in d describes, in the order found. Without link-time
// optimisation a function can be inlined only in its own source file, so
// only the compile units of the files that define these functions are
// read, and the link-time units (named "<artificial>" by GCC).
func inlinedSites(d *dwarf.Data, names []string) []inlineSite {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	type site struct {
		origin dwarf.Offset
		addr   uint64
	}
	var sites []site
	origins := map[dwarf.Offset]string{} // subprograms named in names
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			name, _ := e.Val(dwarf.AttrName).(string)
			if !inlineUnit(name) {
				r.SkipChildren()
			}
		case dwarf.TagSubprogram:
			if n, _ := e.Val(dwarf.AttrName).(string); want[n] {
				origins[e.Offset] = n
			}
		case dwarf.TagInlinedSubroutine:
			o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			if !ok {
				continue
			}
			addr, _ := e.Val(dwarf.AttrEntrypc).(uint64)
			if addr == 0 {
				addr, _ = e.Val(dwarf.AttrLowpc).(uint64)
			}
			if addr == 0 {
				if rs, err := d.Ranges(e); err == nil && len(rs) > 0 {
					addr = rs[0][0]
				}
			}
			if addr != 0 {
				sites = append(sites, site{o, addr})
			}
		}
	}
	var out []inlineSite
	for _, s := range sites {
		n, ok := origins[s.origin]
		if !ok {
			// An abstract instance in a unit not read: look it up.
			rr := d.Reader()
			rr.Seek(s.origin)
			if e, err := rr.Next(); err == nil && e != nil && e.Tag == dwarf.TagSubprogram {
				n, _ = e.Val(dwarf.AttrName).(string)
				// An out-of-line instance of an abstract one names it by origin.
				if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok && n == "" {
					n = origins[o]
				}
			}
			origins[s.origin] = n
		}
		if want[n] {
			out = append(out, inlineSite{fn: n, addr: s.addr})
		}
	}
	return out
}

// inlineUnit reports whether a compile unit named name can hold an inlined
// copy of a probed function: the files that define them (ceval_gil.h is
// included by ceval.c before 3.12), and GCC's link-time units.
func inlineUnit(name string) bool {
	switch path.Base(name) {
	case "ceval.c", "ceval_gil.c", "thread.c", "pystate.c", "<artificial>":
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
