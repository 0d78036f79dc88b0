package cpython

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ErrNoSymbols is wrapped by the error of an interpreter whose symbol table
// lacks a function or variable the recorder probes or reads.
var ErrNoSymbols = errors.New("interpreter has no symbols")

// ErrNotCPython is wrapped by the error of a command or process that does
// not run CPython.
var ErrNotCPython = errors.New("not a CPython interpreter")

// ErrUnsupported is wrapped by the error of a CPython version the recorder
// does not know how to read.
var ErrUnsupported = errors.New("unsupported CPython version")

// interp is the ELF file holding the interpreter: a libpython shared
// library, or a python executable linked statically.
type interp struct {
	Path    string // the ELF file that holds take_gil
	Major   int    // 3
	Minor   int    // 9 to 15
	Version string // "3.11.7" when readable, else "3.11"
	NoGIL   bool   // a free-threaded build (Py_GIL_DISABLED)
	// DebugFile is the separate debug file that gave the symbols and the
	// DWARF of a stripped interpreter, or "".
	DebugFile string
	syms      map[string]elf.Symbol
	// copies are the link-time-optimised copies of static functions
	// (take_gil.lto_priv.0), by the function's name; a name with exactly
	// one copy and no symbol of its own is in syms under its name.
	copies map[string][]string
	progs  []elf.ProgHeader // PT_LOAD segments
	layout *layout
	// inlined are the probes on the inlined copies of probed functions
	// (a build with link-time optimisation: checkInlined).
	inlined []inlineProbe
	// unprobedLocks are the functions holding a copy of
	// PyThread_acquire_lock_timed whose lock is not located: a blocking
	// acquire there is not known to be a lock wait.
	unprobedLocks []string
	// inlinedLocks: PyThread_acquire_lock_timed has copies (whose
	// returns, --lock-holds' acquires, cannot be probed).
	inlinedLocks bool
}

// requiredSymbols are the functions the recorder probes and the variable it
// reads; each must be in the interpreter's symbol table.
var requiredSymbols = []string{
	"take_gil", "drop_gil", "PyEval_SaveThread", "PyEval_RestoreThread",
	"PyThread_acquire_lock_timed", "_PyThreadState_DeleteCurrent", "_PyRuntime",
}

var libpythonRe = regexp.MustCompile(`^libpython(\d+)\.(\d+)[a-z]*\.so`) // ABI flags: t, d, and m or u before 3.8

// findCommandInterp resolves the interpreter that running argv would load:
// argv[0] on $PATH, through a "#!" line if it is a script, then the
// executable itself or the libpython it links. An error names the scripts
// it went through.
func findCommandInterp(argv []string) (*interp, error) {
	if len(argv) == 0 {
		return nil, errors.New("finding the interpreter: empty command")
	}
	exe, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("finding the interpreter of %q: %w", argv[0], err)
	}
	var chain []string // the scripts run, each through the next
	for range 4 {      // follow up to 4 "#!" lines
		next, _, ok, err := Shebang(exe)
		if err != nil {
			return nil, fmt.Errorf("finding the interpreter of %s: %w", exe, err)
		}
		if !ok {
			break
		}
		chain = append(chain, exe)
		exe = next
	}
	in, err := interpOfExecutable(exe)
	if err != nil && len(chain) > 0 {
		// "app.py runs python3, which runs /bin/sh (#! lines)"
		how := chain[0]
		for i, p := range append(chain[1:], exe) {
			how += map[bool]string{true: " runs ", false: ", which runs "}[i == 0] + p
		}
		return nil, fmt.Errorf("%s (#! lines): %w", how, err)
	}
	return in, err
}

// Shebang returns the program named by the "#!" line of script path and
// the arguments the line gives it ("/usr/bin/env NAME" resolved through
// $PATH, NAME's arguments after it), and whether path has such a line.
func Shebang(path string) (prog string, args []string, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, false, err
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	if !strings.HasPrefix(line, "#!") {
		return "", nil, false, nil
	}
	fields := strings.Fields(line[2:])
	if len(fields) == 0 {
		return "", nil, false, fmt.Errorf("empty #! line")
	}
	if filepath.Base(fields[0]) == "env" {
		for i, a := range fields[1:] {
			if !strings.HasPrefix(a, "-") {
				p, err := exec.LookPath(a)
				return p, fields[2+i:], err == nil, err
			}
		}
		return "", nil, false, fmt.Errorf("#! line %q names no program", strings.TrimSpace(line))
	}
	return fields[0], fields[1:], true, nil
}

// interpOfExecutable returns the interpreter of executable exe: exe itself
// if it holds the interpreter, else the libpython it links.
func interpOfExecutable(exe string) (*interp, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%w)", exe, ErrNotCPython, err)
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, l := range libs {
		if libpythonRe.MatchString(l) {
			p, err := resolveLibrary(f, exe, l)
			if err != nil {
				return nil, fmt.Errorf("%s links %s: %w", exe, l, err)
			}
			return openInterp(p)
		}
	}
	if !isPython(f) {
		return nil, fmt.Errorf("%s: %w: it neither links libpython nor exports the Python C API", exe, ErrNotCPython)
	}
	return openInterp(exe)
}

// isPython reports whether f exports CPython's C API.
func isPython(f *elf.File) bool {
	for _, load := range []func() ([]elf.Symbol, error){f.DynamicSymbols, f.Symbols} {
		syms, _ := load()
		for _, s := range syms {
			if s.Name == "Py_Initialize" || s.Name == "PyEval_SaveThread" {
				return true
			}
		}
	}
	return false
}

// resolveLibrary finds the file the dynamic linker would load for lib
// needed by f, in the loader's order (ld.so(8)): its RPATH if it has no
// RUNPATH, LD_LIBRARY_PATH (an empty entry the working directory), its
// RUNPATH ($ORIGIN expanded; not $LIB or $PLATFORM), the ldconfig cache,
// then the default directories. (QA: RUNPATH searched before
// LD_LIBRARY_PATH probed pyenv's libpython while the program ran another
// copy, untraced.)
func resolveLibrary(f *elf.File, exe, lib string) (string, error) {
	dirsOf := func(tag elf.DynTag) []string {
		var dirs []string
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", "$ORIGIN"), "$ORIGIN", filepath.Dir(exe))
				dirs = append(dirs, d)
			}
		}
		return dirs
	}
	runpath := dirsOf(elf.DT_RUNPATH)
	var dirs []string
	if len(runpath) == 0 {
		dirs = dirsOf(elf.DT_RPATH)
	}
	for _, d := range strings.Split(os.Getenv("LD_LIBRARY_PATH"), ":") {
		if d == "" && os.Getenv("LD_LIBRARY_PATH") != "" {
			// An empty entry is the working directory, to the loader
			// (QA: "/opt/lib:" left out the directory the program ran in).
			d, _ = os.Getwd()
		}
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, runpath...)
	for _, d := range dirs {
		if p := filepath.Join(d, lib); d != "" && fileExists(p) {
			return p, nil
		}
	}
	if out, err := exec.Command("ldconfig", "-p").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), lib+" ") {
				if i := strings.Index(line, "=> "); i >= 0 {
					dirs = append(dirs, filepath.Dir(strings.TrimSpace(line[i+3:])))
				}
			}
		}
	}
	dirs = append(dirs, "/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib", "/usr/lib/x86_64-linux-gnu")
	for _, d := range dirs {
		p := filepath.Join(d, lib)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("library not found in %s", strings.Join(dirs, ":"))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// findPIDInterp finds the interpreter mapped by process pid: a libpython
// in its maps, else its executable.
func findPIDInterp(pid int) (*interp, error) {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the memory map of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 6 && libpythonRe.MatchString(filepath.Base(fields[5])) {
			if err := mappedHere(pid, fields[5]); err != nil {
				return nil, err
			}
			return openInterp(fields[5])
		}
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the executable of process %d: %w", pid, err)
	}
	if err := mappedHere(pid, exe); err != nil {
		return nil, err
	}
	return interpOfExecutable(exe)
}

// ErrOtherNamespace: the process maps its interpreter from a path that
// names another file here, or none: it runs in another mount namespace
// (a container), whose files giltrace does not probe.
var ErrOtherNamespace = errors.New("the process runs in another mount namespace")

// mappedHere checks that path, which process pid maps as its
// interpreter, names the same file here as in the process's own root
// (/proc/PID/root: its mount namespace), by device and inode: a
// container's file at a path the host also has is another file (QA: a
// python whose libpython was bind-mounted in a mount namespace of its own
// got probes on the host's file at the same path, no event, and "each was
// blocked or ran alone"). Both are looked up through the same mounts when
// the process shares giltrace's (an overlay's inode and device alike). Its
// root that cannot be read (no permission) tells nothing: taken as here.
func mappedHere(pid int, path string) error {
	return mappedUnder(pid, path, fmt.Sprintf("/proc/%d/root", pid))
}

// mappedUnder is mappedHere with the process's root at root.
func mappedUnder(pid int, path, root string) error {
	var there syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, path), &there); err != nil {
		return nil // cannot be told
	}
	var here syscall.Stat_t
	what := "another file here"
	if err := syscall.Stat(path, &here); err != nil {
		what = "no file here"
	} else if here.Dev == there.Dev && here.Ino == there.Ino {
		return nil
	}
	return fmt.Errorf("process %d maps its interpreter %s, which names %s: %w (a container?), and giltrace probes the files of its own: run giltrace where the process's files are (inside its container)",
		pid, path, what, ErrOtherNamespace)
}

// openInterp reads the symbols, version and struct layout of the
// interpreter in ELF file path.
func openInterp(path string) (*interp, error) {
	f, file, err := openELF(path)
	if err != nil {
		return nil, fmt.Errorf("opening the interpreter %s: %w", path, err)
	}
	defer file.Close()
	in := &interp{Path: path, syms: map[string]elf.Symbol{}}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			in.progs = append(in.progs, p.ProgHeader)
		}
	}
	in.addSymbols(f)
	// A stripped interpreter may have its symbols and DWARF in a separate
	// debug file (the distribution's debug symbols package).
	debug, debugOS := f, file
	if _, ok := in.syms["take_gil"]; !ok {
		if p := debugFile(f, path); p != "" {
			if d, dfile, err := openELF(p); err == nil {
				defer dfile.Close()
				in.addSymbols(d)
				in.DebugFile, debug, debugOS = p, d, dfile
			}
		}
	}
	if err := in.readVersion(f); err != nil {
		return nil, err
	}
	// Before the symbols: an old or new CPython misses some of them (3.8
	// has no _PyThreadState_DeleteCurrent, 2.7 no take_gil), which is not
	// a stripped binary.
	if in.Major != 3 || in.Minor < 9 || in.Minor > 15 {
		return nil, fmt.Errorf("interpreter %s: %w %s (3.9 to 3.15 are supported)", path, ErrUnsupported, in.Version)
	}
	var cloned []string // required functions present only as clones
	for _, name := range requiredSymbols {
		if _, ok := in.syms[name]; !ok {
			if !in.hasClone(name) {
				return nil, in.missingSymbol(name)
			}
			cloned = append(cloned, name)
		}
	}
	debugPath := path
	if in.DebugFile != "" {
		debugPath = in.DebugFile
	}
	dd, err := loadDWARF(debugOS, debug)
	if err != nil {
		return nil, fmt.Errorf("reading struct offsets from the DWARF of %s: no DWARF debug information (%w); install the interpreter's debug symbols", path, err)
	}
	defer dd.release()
	err = readMapped(debugPath, dd.mem, func() error {
		addrs := map[string]uint64{}
		for name := range layoutFuncs {
			if s, ok := in.syms[name]; ok {
				addrs[name] = s.Value
			}
		}
		l, err := readLayout(dd.d, in.Minor, addrs)
		if err != nil {
			return fmt.Errorf("reading struct offsets from the DWARF of %s: %w", path, err)
		}
		in.layout = l
		in.NoGIL = l.freeThreaded
		return checkInlined(debug, dd, in)
	})
	if err != nil {
		return nil, err
	}
	if err := in.checkClones(cloned); err != nil {
		return nil, err
	}
	return in, nil
}

// checkClones refuses an interpreter whose probes would miss releases or
// blocking calls: a required function present only as clones (cloned)
// of which a clone is not probed, the DWARF not locating its arguments
// (a lock function's unprobed clones are listed instead, in
// unprobedLocks, as its copies are); and, from 3.13 on, a build with no
// probe of the thread state's detach, where a thread blocked in the
// parking lot (Thread.join, threading.Lock) would be shown waiting for
// the GIL.
func (in *interp) checkClones(cloned []string) error {
	for _, name := range cloned {
		if name == "PyThread_acquire_lock_timed" {
			continue
		}
		clones := in.cloneNames(name)
		for _, c := range clones {
			at := in.syms[c].Value
			if !slices.ContainsFunc(in.inlined, func(p inlineProbe) bool { return p.site.clone && p.site.fn == name && p.site.addr == at }) {
				return fmt.Errorf("interpreter %s (Python %s): %w: %s is present only as clones (%s), and the DWARF does not locate %s's "+
					"arguments at its entry, so its calls cannot be probed; use a CPython built without link-time optimisation%s",
					in.Path, in.Version, ErrInlined, name, strings.Join(clones, ", "), c, pyenvHint(in.Minor, in.Path))
			}
		}
	}
	if _, ok := in.syms["_PyThreadState_Detach"]; in.Minor >= 13 && !ok && !in.inlinedEvent(evDetach) {
		return fmt.Errorf("interpreter %s (Python %s): %w: _PyThreadState_Detach has no symbol of its own and no clone of detach_thread "+
			"is located, so a thread that blocks in the parking lot (Thread.join, threading.Lock) would be shown waiting for the GIL; "+
			"use a CPython built without link-time optimisation%s", in.Path, in.Version, ErrInlined, pyenvHint(in.Minor, in.Path))
	}
	return nil
}

// cloneNames are the symbols of the clones of function name, sorted.
func (in *interp) cloneNames(name string) []string {
	var out []string
	for s := range in.syms {
		if base, ok := cloneOf(s); ok && base == name {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// cloneOf is the function that symbol sym is a clone of: NAME of
// NAME.constprop.N or NAME.isra.N (not their cold parts).
func cloneOf(sym string) (string, bool) {
	base, rest, _ := strings.Cut(sym, ".")
	return base, (strings.HasPrefix(rest, "constprop.") || strings.HasPrefix(rest, "isra.")) && !strings.HasSuffix(rest, ".cold")
}

// inlinedEvent reports whether a probe of event ev is planned on an
// inlined copy or a clone.
func (in *interp) inlinedEvent(ev string) bool {
	return slices.ContainsFunc(in.inlined, func(p inlineProbe) bool { return p.event == ev })
}

// hasClone reports whether function name has a clone in the symbol
// table (NAME.constprop.N, NAME.isra.N: inlineSite.clone), which the
// DWARF may locate in place of the function's own symbol.
func (in *interp) hasClone(name string) bool {
	return slices.Contains(inlineChecked, name) && name != "take_gil" && len(in.cloneNames(name)) > 0
}

// openELF opens the ELF file at path: the file (for mapDWARF, which maps
// the very file the headers were read from) and its ELF view.
func openELF(path string) (*elf.File, *os.File, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := elf.NewFile(file)
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return f, file, nil
}

// addSymbols adds the symbols of f not yet known. A static function that
// a build with link-time optimisation (Debian's and Ubuntu's python3)
// renamed NAME.lto_priv.N is known by NAME too when it has one such copy:
// the rename keeps its arguments, unlike GCC's other clones (.isra,
// .constprop, .part), which may drop or reorder them and are not taken.
func (in *interp) addSymbols(f *elf.File) {
	syms, _ := f.Symbols()
	dyn, _ := f.DynamicSymbols()
	in.addSymbolList(append(syms, dyn...))
}

func (in *interp) addSymbolList(syms []elf.Symbol) {
	var renamed []elf.Symbol
	for _, s := range syms {
		if s.Value == 0 || s.Section == elf.SHN_UNDEF {
			continue
		}
		if _, ok := in.syms[s.Name]; !ok {
			in.syms[s.Name] = s
		}
		if base, ok := ltoBase(s); ok {
			renamed = append(renamed, s)
			if in.copies == nil {
				in.copies = map[string][]string{}
			}
			if !slices.Contains(in.copies[base], s.Name) {
				in.copies[base] = append(in.copies[base], s.Name)
			}
		}
	}
	for _, s := range renamed {
		base, _ := ltoBase(s)
		if _, ok := in.syms[base]; !ok && len(in.copies[base]) == 1 {
			s.Name = base
			in.syms[base] = s
		}
	}
}

// ltoBase returns NAME for a function symbol NAME.lto_priv.N.
func ltoBase(s elf.Symbol) (string, bool) {
	if elf.ST_TYPE(s.Info) != elf.STT_FUNC {
		return "", false
	}
	base, n, ok := strings.Cut(s.Name, ".lto_priv.")
	if !ok || base == "" || n == "" || strings.Trim(n, "0123456789") != "" {
		return "", false
	}
	return base, true
}

// missingSymbol explains why function or variable name is not in the
// interpreter's symbol table.
func (in *interp) missingSymbol(name string) error {
	if c := in.copies[name]; len(c) > 1 {
		return fmt.Errorf("interpreter %s (Python %s): %w: %s has %d copies (%s), and giltrace probes one function per name",
			in.Path, in.Version, ErrNoSymbols, name, len(c), strings.Join(c, ", "))
	}
	return fmt.Errorf("interpreter %s (Python %s): %w: %s is missing (the binary is stripped, and no debug file was found for it under %s); "+
		"use a pyenv or python.org build, which keep their symbol table, or install the distribution's debug symbols "+
		"(e.g. python%d.%d-dbg on Debian/Ubuntu, python3-debuginfo on Fedora), with which it finds the GIL's functions, "+
		"and the copies a link-time optimised build inlined (docs/cpython.md)", in.Path, in.Version, ErrNoSymbols, name, debugRoot, in.Major, in.Minor)
}

// debugRoot is where distributions install separate debug files.
var debugRoot = "/usr/lib/debug"

// debugFile finds the separate debug file of ELF file f at path, as gdb
// does: by build ID (debugRoot/.build-id/xx/yyyy.debug), then by the
// .gnu_debuglink name next to it, in its .debug directory, or under
// debugRoot. It returns "" if there is none.
func debugFile(f *elf.File, path string) string {
	var cands []string
	if id := buildID(f); len(id) > 1 {
		h := hex.EncodeToString(id)
		cands = append(cands, filepath.Join(debugRoot, ".build-id", h[:2], h[2:]+".debug"))
	}
	if sec := f.Section(".gnu_debuglink"); sec != nil {
		if b, err := sec.Data(); err == nil {
			if i := bytes.IndexByte(b, 0); i > 0 {
				name, dir := string(b[:i]), filepath.Dir(path)
				cands = append(cands, filepath.Join(dir, name), filepath.Join(dir, ".debug", name), filepath.Join(debugRoot, dir, name))
			}
		}
	}
	for _, c := range cands {
		if c != path && fileExists(c) {
			return c
		}
	}
	return ""
}

// buildID returns the GNU build ID of f, or nil.
func buildID(f *elf.File) []byte {
	sec := f.Section(".note.gnu.build-id")
	if sec == nil {
		return nil
	}
	b, err := sec.Data()
	if err != nil || len(b) < 16 {
		return nil
	}
	namesz, descsz := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	off := 12 + (namesz+3)&^3
	if uint64(off)+uint64(descsz) > uint64(len(b)) {
		return nil
	}
	return b[off : off+descsz]
}

var versionRe = regexp.MustCompile(`(?:^|/)(?:lib)?python(\d+)\.(\d+)`)

// readVersion reads the version: Py_Version (3.11+) from the file's data,
// else the "python3.X" in the file's name, else the version string in
// its read-only data.
func (in *interp) readVersion(f *elf.File) error {
	if s, ok := in.syms["Py_Version"]; ok {
		if b, err := readSymbol(f, s, 4); err == nil {
			v := binary.LittleEndian.Uint32(b)
			in.Major, in.Minor = int(v>>24), int(v>>16&0xff)
			in.Version = fmt.Sprintf("%d.%d.%d", in.Major, in.Minor, v>>8&0xff)
			return nil
		}
	}
	if m := versionRe.FindStringSubmatch(in.Path); m != nil {
		in.Major, _ = strconv.Atoi(m[1])
		in.Minor, _ = strconv.Atoi(m[2])
		in.Version = m[1] + "." + m[2]
		if m := regexp.MustCompile(`/(\d+\.\d+\.\d+)/`).FindStringSubmatch(in.Path); m != nil && strings.HasPrefix(m[1], in.Version+".") {
			in.Version = m[1]
		}
		return nil
	}
	if sec := f.Section(".rodata"); sec != nil {
		data, _ := sec.Data()
		if m := regexp.MustCompile(`\x00(3)\.(\d+)\.(\d+)[a-z0-9+]* \(`).FindSubmatch(data); m != nil {
			in.Major, _ = strconv.Atoi(string(m[1]))
			in.Minor, _ = strconv.Atoi(string(m[2]))
			in.Version = fmt.Sprintf("%s.%s.%s", m[1], m[2], m[3])
			return nil
		}
	}
	return fmt.Errorf("interpreter %s: %w: cannot read its version", in.Path, ErrUnsupported)
}

// readSymbol reads n bytes of initialised data at symbol s.
func readSymbol(f *elf.File, s elf.Symbol, n int) ([]byte, error) {
	for _, sec := range f.Sections {
		if sec.Type == elf.SHT_PROGBITS && s.Value >= sec.Addr && s.Value+uint64(n) <= sec.Addr+sec.Size {
			b := make([]byte, n)
			_, err := sec.ReadAt(b, int64(s.Value-sec.Addr))
			return b, err
		}
	}
	return nil, fmt.Errorf("symbol %s is not in initialised data", s.Name)
}

// fileOffset converts virtual address addr of the interpreter's file to
// the file offset that a uprobe takes, through the PT_LOAD segment that
// maps it.
func fileOffset(progs []elf.ProgHeader, addr uint64) (uint64, error) {
	for _, p := range progs {
		if addr >= p.Vaddr && addr < p.Vaddr+p.Memsz {
			if addr >= p.Vaddr+p.Filesz {
				return 0, fmt.Errorf("address %#x is in the zero-filled part of a segment", addr)
			}
			return addr - p.Vaddr + p.Off, nil
		}
	}
	return 0, fmt.Errorf("address %#x is in no loadable segment", addr)
}

// symbolOffset is the file offset of function name.
func (in *interp) symbolOffset(name string) (uint64, error) {
	s, ok := in.syms[name]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrNoSymbols, name)
	}
	off, err := fileOffset(in.progs, s.Value)
	if err != nil {
		return 0, fmt.Errorf("symbol %s of %s: %w", name, in.Path, err)
	}
	return off, nil
}

// symbolize maps addresses of one ELF file to the function containing them.
type symbolize struct {
	funcs []elf.Symbol // sorted by Value
}

// newSymbolize reads the function symbols of the ELF file at path and, if
// it is stripped (no .symtab: its static functions, time.sleep's among
// them, are missing), those of its separate debug file too.
func newSymbolize(path string) *symbolize {
	f, err := elf.Open(path)
	if err != nil {
		return &symbolize{}
	}
	defer f.Close()
	s := funcSymbols(f)
	if f.Section(".symtab") == nil {
		if p := debugFile(f, path); p != "" {
			if d, err := elf.Open(p); err == nil {
				s.funcs = append(s.funcs, funcSymbols(d).funcs...)
				sortSymbols(s.funcs)
				d.Close()
			}
		}
	}
	return s
}

// lookup returns the function containing virtual address addr, or "".
func (s *symbolize) lookup(addr uint64) string {
	if f, ok := s.find(addr); ok {
		return f.Name
	}
	return ""
}

// find returns the last function symbol at or before addr, if addr is
// within it (or its size is not known).
func (s *symbolize) find(addr uint64) (elf.Symbol, bool) {
	lo, hi := 0, len(s.funcs)
	for lo < hi {
		m := (lo + hi) / 2
		if s.funcs[m].Value <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return elf.Symbol{}, false
	}
	f := s.funcs[lo-1]
	if f.Size != 0 && addr >= f.Value+f.Size {
		return elf.Symbol{}, false
	}
	return f, true
}

func sortSymbols(s []elf.Symbol) {
	sort.Slice(s, func(i, j int) bool { return s[i].Value < s[j].Value })
}
