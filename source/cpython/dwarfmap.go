package cpython

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The interpreter's DWARF, mapped instead of read. elf.File.DWARF reads
// every debug section into the heap (25 MB for libpython3.13, growing
// each buffer as it reads), and the garbage collector then scans them:
// 69-233 ms for 3.11-3.13 on these machines, and openInterp read it
// twice (the layout, then the inlined copies), before the program could
// start (docs/cpython.md, "Overhead"). Mapped, the sections cost nothing
// until read, and the walks read only the units they look at.

// dwarfData is a file's DWARF and location lists, and how to let go of
// them: after release nothing read from them may be used but what
// debug/dwarf copies (names, types, offsets); an expression's bytes
// (locLists, an attribute of block form) point into the mapping.
type dwarfData struct {
	d       *dwarf.Data
	loc     *locLists
	mem     []byte // the mapping, nil if read
	release func()
}

// loadDWARF is the DWARF of f, the ELF view of file: its sections mapped
// where they can be (mapDWARF), else the sections used read (readDWARF);
// a file whose relocations apply to its DWARF, as elf.File.DWARF reads
// it (it applies them).
func loadDWARF(file *os.File, f *elf.File) (*dwarfData, error) {
	if !slowDWARF && !dwarfRelocated(f) {
		if dd, ok := mapDWARF(file, f); ok {
			return dd, nil
		}
		return readDWARF(f)
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, err
	}
	return &dwarfData{d: d, loc: newLocLists(f), release: func() {}}, nil
}

// dwarfRelocated reports whether relocations apply to a DWARF section of
// f, which elf.File.DWARF applies (a relocatable file's).
func dwarfRelocated(f *elf.File) bool {
	if f.Type == elf.ET_EXEC {
		return false // elf.File.DWARF applies none
	}
	for _, r := range f.Sections {
		if (r.Type == elf.SHT_RELA || r.Type == elf.SHT_REL) && int(r.Info) < len(f.Sections) && dwarfSuffix(f.Sections[r.Info]) != "" {
			return true
		}
	}
	return false
}

// dwarfUsed are the DWARF sections openInterp reads (by suffix): not the
// line tables, address ranges by unit or call frames, which
// elf.File.DWARF also reads, and inflates when they are compressed.
var dwarfUsed = map[string]bool{
	"abbrev": true, "info": true, "str": true, "ranges": true, "types": true,
	"addr": true, "line_str": true, "rnglists": true, "str_offsets": true,
	"loclists": true, "loc": true,
}

// readDWARF is the DWARF of f read into memory, for a file whose sections
// cannot be mapped (mapDWARF): a debug file of a distribution, its
// sections compressed. Only the sections used are read, each inflated on
// a goroutine of its own: Debian's python3.11 debug file (9.6 MB, 22 MB
// inflated) took 350 ms to load through elf.File.DWARF, which inflates
// its 3.4 MB of line tables too, and its location lists were inflated a
// second time for locLists.
func readDWARF(f *elf.File) (*dwarfData, error) {
	var secs []*elf.Section
	for _, s := range f.Sections {
		if dwarfUsed[dwarfSuffix(s)] {
			secs = append(secs, s)
		}
	}
	data := make([][]byte, len(secs))
	errs := make([]error, len(secs))
	var wg sync.WaitGroup
	for i, s := range secs {
		wg.Go(func() {
			b, err := s.Data()
			if err != nil && uint64(len(b)) < s.Size {
				errs[i] = fmt.Errorf("reading %s: %w", s.Name, err)
			}
			data[i] = b
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d, loc, err := newDWARF(secs, data)
	if err != nil {
		return nil, err
	}
	return &dwarfData{d: d, loc: loc, release: func() {}}, nil
}

// newDWARF is the DWARF made of the sections secs, whose contents are
// data, as elf.File.DWARF makes it, and their location lists.
func newDWARF(secs []*elf.Section, data [][]byte) (*dwarf.Data, *locLists, error) {
	base := map[string][]byte{"abbrev": nil, "info": nil, "str": nil, "line": nil, "ranges": nil}
	for i, s := range secs {
		if suffix := dwarfSuffix(s); suffix != "" {
			if _, ok := base[suffix]; ok {
				base[suffix] = data[i]
			}
		}
	}
	d, err := dwarf.New(base["abbrev"], nil, nil, base["info"], base["line"], nil, base["ranges"], base["str"])
	if err != nil {
		return nil, nil, err
	}
	var loc *locLists
	for i, s := range secs {
		suffix := dwarfSuffix(s)
		if _, ok := base[suffix]; ok {
			continue
		}
		switch suffix {
		case "loclists", "loc":
			if loc == nil || suffix == "loclists" {
				loc = &locLists{v5: suffix == "loclists", data: data[i]}
			}
		case "types":
			err = d.AddTypes(fmt.Sprintf("types-%d", i), data[i])
		default:
			err = d.AddSection(".debug_"+suffix, data[i])
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return d, loc, nil
}

// slowDWARF (tests) reads the DWARF as elf.File.DWARF does, and finds
// every function by the walk from the tree's start (dwarfIndex): as
// openInterp did before 2026-12-05.
var slowDWARF bool

// dwarfSuffix is the DWARF section name's suffix ("info" for .debug_info),
// or "" if s is not a DWARF section.
func dwarfSuffix(s *elf.Section) string {
	switch {
	case strings.HasPrefix(s.Name, ".debug_"):
		return s.Name[len(".debug_"):]
	case strings.HasPrefix(s.Name, ".zdebug_"):
		return s.Name[len(".zdebug_"):]
	}
	return ""
}

// mapDWARF maps file and gives its ELF view f's DWARF sections, which no
// relocation applies to (loadDWARF), as slices of the mapping, as
// elf.File.DWARF would give them read; false (nothing mapped) where that
// would differ: a compressed section (which must be inflated), a section
// past the file's end, or a file that cannot be mapped.
func mapDWARF(file *os.File, f *elf.File) (*dwarfData, bool) {
	var secs []*elf.Section
	for _, s := range f.Sections {
		if dwarfSuffix(s) == "" {
			continue
		}
		if s.Flags&elf.SHF_COMPRESSED != 0 || strings.HasPrefix(s.Name, ".zdebug_") || s.Type == elf.SHT_NOBITS || s.FileSize != s.Size {
			return nil, false
		}
		secs = append(secs, s)
	}
	st, err := file.Stat()
	if err != nil || st.Size() <= 0 || st.Size() != int64(int(st.Size())) {
		return nil, false
	}
	size := uint64(st.Size())
	for _, s := range secs {
		if s.Offset > size || s.Size > size-s.Offset {
			return nil, false
		}
	}
	mem, err := unix.Mmap(int(file.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, false
	}
	release := func() { _ = unix.Munmap(mem) }
	data := make([][]byte, len(secs))
	for i, s := range secs {
		data[i] = mem[s.Offset : s.Offset+s.Size : s.Offset+s.Size]
	}
	dd := &dwarfData{mem: mem, release: release}
	err = readMapped(file.Name(), mem, func() (err error) { // dwarf.New reads the units' headers
		dd.d, dd.loc, err = newDWARF(secs, data)
		return err
	})
	if err != nil {
		release()
		return nil, false // read again, by elf.File.DWARF, which says why
	}
	return dd, true
}

// readMapped runs read, which reads mem, a mapping of the file at path,
// and returns its error, or an error naming the file if reading mem
// faulted: the file was truncated meanwhile (SIGBUS), which would
// otherwise crash giltrace. Any other panic, a fault elsewhere included,
// goes on.
func readMapped(path string, mem []byte, read func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(interface{ Addr() uintptr })
			if !ok || len(mem) == 0 || f.Addr() < uintptr(unsafe.Pointer(&mem[0])) || f.Addr()-uintptr(unsafe.Pointer(&mem[0])) >= uintptr(len(mem)) {
				panic(r)
			}
			err = fmt.Errorf("reading %s: the file changed while it was read (%v)", path, r)
		}
	}()
	return read()
}
