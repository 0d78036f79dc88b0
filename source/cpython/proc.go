package cpython

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procMem reads the traced processes' memory and maps (memReader).
type procMem struct {
	in    *interp
	mems  map[int]*memory
	maps  map[int][]mapping
	progs map[string][]elf.ProgHeader
	// bases caches the interpreter's load address by pid: the sampler
	// needs it every 2 ms, and finding it resolves symlinks.
	bases map[int]uint64
	// misses counts the failed searches by pid: a process that has exited
	// (a pool's worker) is searched no more after maxBaseMisses.
	misses map[int]int
	gens   map[int]int // memory.gen when the caches above were last cleared
	// real caches filepath.EvalSymlinks by path: findBase resolves every
	// mapped file of a new process until it finds the interpreter's, often
	// last (a shared libpython, mapped first, at the highest address),
	// each a few lstat calls a path component (QA: a pool's 150 workers
	// cost the recorder 10 % of its CPU in them).
	real map[string]string
}

const maxBaseMisses = 50

type mapping struct {
	start, end, off uint64
	path            string
}

func newProcMem(in *interp) *procMem {
	return &procMem{in: in, mems: map[int]*memory{}, maps: map[int][]mapping{}, progs: map[string][]elf.ProgHeader{}, bases: map[int]uint64{}, misses: map[int]int{}, gens: map[int]int{}, real: map[string]string{}}
}

func (pm *procMem) memory(pid int) *memory {
	m, ok := pm.mems[pid]
	if !ok {
		m = openMemory(pid)
		pm.mems[pid] = m
	}
	pm.fresh(pid)
	return m
}

// fresh forgets what pm knew of process pid's address space if it has
// exec'd since (memory.read reopened its memory): its maps and the
// interpreter's load address. Called before each use of them.
func (pm *procMem) fresh(pid int) {
	if m, ok := pm.mems[pid]; ok && m.gen != pm.gens[pid] {
		delete(pm.maps, pid)
		delete(pm.bases, pid)
		delete(pm.misses, pid)
		pm.gens[pid] = m.gen
	}
}

// forget drops what pm knew of process pid's address space (memReader):
// it exec'd. Its maps were read again only when an address missed them,
// and an address of the new program that an old mapping covered found
// the wrong file (QA: a spawned pool worker's time.sleep was a blocking
// call of unknown kind, in about half of the runs, unless ASLR was off).
func (pm *procMem) forget(pid int) {
	if m, ok := pm.mems[pid]; ok {
		m.close()
		delete(pm.mems, pid)
	}
	delete(pm.maps, pid)
	delete(pm.bases, pid)
	delete(pm.misses, pid)
	delete(pm.gens, pid)
}

func (pm *procMem) close() {
	for _, m := range pm.mems {
		m.close()
	}
}

func readMaps(pid int) []mapping {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil
	}
	var out []mapping
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[5], "/") {
			continue
		}
		a, b, _ := strings.Cut(f[0], "-")
		s, _ := strconv.ParseUint(a, 16, 64)
		e, _ := strconv.ParseUint(b, 16, 64)
		o, _ := strconv.ParseUint(f[2], 16, 64)
		out = append(out, mapping{start: s, end: e, off: o, path: f[5]})
	}
	return out
}

func (pm *procMem) lookupMap(pid int, addr uint64) (mapping, bool) {
	pm.fresh(pid)
	for range 2 {
		for _, mp := range pm.maps[pid] {
			if addr >= mp.start && addr < mp.end {
				return mp, true
			}
		}
		ms := readMaps(pid) // a library loaded since: read again
		if ms == nil {
			break // exited: what was read stays
		}
		pm.maps[pid] = ms
	}
	return mapping{}, false
}

func (pm *procMem) loads(path string) []elf.ProgHeader {
	if p, ok := pm.progs[path]; ok {
		return p
	}
	var out []elf.ProgHeader
	if f, err := elf.Open(path); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD {
				out = append(out, p.ProgHeader)
			}
		}
		f.Close()
	}
	pm.progs[path] = out
	return out
}

// mapping returns the file mapped at addr in process pid and the virtual
// address of addr in that ELF file.
func (pm *procMem) mapping(pid int, addr uint64) (string, uint64, bool) {
	mp, ok := pm.lookupMap(pid, addr)
	if !ok {
		return "", 0, false
	}
	off := addr - mp.start + mp.off
	for _, p := range pm.loads(mp.path) {
		if off >= p.Off && off < p.Off+p.Filesz {
			return mp.path, off - p.Off + p.Vaddr, true
		}
	}
	return "", 0, false
}

// base returns the load bias of the interpreter's file in process pid.
func (pm *procMem) base(pid int) (uint64, bool) {
	pm.fresh(pid)
	if b, ok := pm.bases[pid]; ok {
		return b, true
	}
	if pm.misses[pid] >= maxBaseMisses {
		return 0, false
	}
	b, ok := pm.findBase(pid)
	if ok {
		pm.bases[pid] = b
	} else {
		pm.misses[pid]++
	}
	return b, ok
}

func (pm *procMem) findBase(pid int) (uint64, bool) {
	want := pm.realPath(pm.in.Path)
	for range 2 {
		for _, mp := range pm.maps[pid] {
			if pm.realPath(mp.path) != want {
				continue
			}
			for _, ph := range pm.loads(mp.path) {
				if mp.off >= ph.Off && mp.off < ph.Off+ph.Filesz {
					return mp.start - (ph.Vaddr + mp.off - ph.Off), true
				}
			}
		}
		pm.maps[pid] = readMaps(pid)
	}
	return 0, false
}

// realPath is path with its symbolic links resolved ("" if it cannot
// be), resolved once while the cache holds it (symbolic links changed
// during the run are not seen again).
func (pm *procMem) realPath(path string) string {
	if p, ok := pm.real[path]; ok {
		return p
	}
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		// Not kept: a deleted file's path (multiprocessing's named
		// semaphores, one per lock) is never asked again, and would grow
		// the cache for as long as the program makes them.
		return ""
	}
	if len(pm.real) >= maxRealPaths {
		clear(pm.real)
	}
	pm.real[path] = p
	return p
}

// maxRealPaths bounds procMem.real: a program that maps ever new files
// (it writes and loads modules) empties it now and then.
const maxRealPaths = 4096

// codeType is the address of PyCode_Type in process pid, if known: the
// type of every code object (but in a free-threaded build, whose objects
// have another header).
func (pm *procMem) codeType(pid int) (uint64, bool) {
	sym, ok := pm.in.syms["PyCode_Type"]
	if !ok || sym.Value == 0 || pm.in.NoGIL {
		return 0, false
	}
	b, ok := pm.base(pid)
	return b + sym.Value, ok
}

// interval reads the switch interval of process pid from its runtime
// state (ns).
func (pm *procMem) interval(pid int) (int64, bool) {
	addr, m, ok := pm.runtimeAddr(pid, pm.in.layout.intervalPath)
	if !ok {
		return 0, false
	}
	raw, ok := m.read(addr, 8)
	if !ok {
		return 0, false
	}
	us := binary.LittleEndian.Uint64(raw)
	if us == 0 || us > 10_000_000 {
		return 0, false
	}
	return int64(us) * 1000, true
}

// runtimeAddr follows path from _PyRuntime in process pid: path[0] is an
// offset in it, each next offset applies after following a pointer.
func (pm *procMem) runtimeAddr(pid int, path []int64) (uint64, *memory, bool) {
	if len(path) == 0 {
		return 0, nil, false
	}
	b, ok := pm.base(pid)
	if !ok {
		return 0, nil, false
	}
	addr := b + pm.in.syms["_PyRuntime"].Value
	m := pm.memory(pid)
	for i, off := range path {
		addr += uint64(off)
		if i == len(path)-1 {
			break
		}
		v, ok := m.u64(addr)
		if !ok || v == 0 {
			return 0, nil, false
		}
		addr = v
	}
	return addr, m, true
}

// holder reads the thread state holding the GIL of process pid now, if
// the GIL is locked, and the GIL's count of changes of holder (0 if not
// known), in one read of the three fields.
func (pm *procMem) holder(pid int) (ts, switches uint64, ok bool) {
	l := pm.in.layout
	gil, m, ok := pm.runtimeAddr(pid, l.gilPath)
	if !ok {
		return 0, 0, false
	}
	lo, hi := min(l.gilLocked, l.gilHolder), max(l.gilLocked+4, l.gilHolder+8)
	if l.gilSwitches >= 0 {
		lo, hi = min(lo, l.gilSwitches), max(hi, l.gilSwitches+8)
	}
	b, ok := m.read(gil+uint64(lo), int(hi-lo))
	if !ok || binary.LittleEndian.Uint32(b[l.gilLocked-lo:]) == 0 {
		return 0, 0, false
	}
	ts = binary.LittleEndian.Uint64(b[l.gilHolder-lo:])
	if l.gilSwitches >= 0 {
		switches = binary.LittleEndian.Uint64(b[l.gilSwitches-lo:])
	}
	return ts, switches, ts != 0
}

// ignoresSignal reports whether process pid ignores signal sig (SigIgn in
// /proc/PID/status): a program that ignores SIGINT is not stopped by the
// one giltrace sends it. (It ignores it also when it inherits that: a
// program started by a process that ignores SIGINT and has no handler of
// its own for it, as a test binary started in the background by a shell
// script; giltrace's own handler makes its programs start with the
// default.)
func ignoresSignal(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	return sigIgnored(string(b), sig)
}

// sigIgnored reads the SigIgn mask of a /proc/PID/status text.
func sigIgnored(status string, sig syscall.Signal) bool {
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && sig >= 1 && sig <= 64 && mask&(1<<(sig-1)) != 0
		}
	}
	return false
}

// procCPU is the CPU time process pid has had, user and system, its
// threads' and its waited-for children's (/proc/PID/stat: utime, stime,
// cutime, cstime, in USER_HZ ticks of 10 ms on Linux), and the system
// part; ok false if it cannot be read (the process is gone).
func procCPU(pid int) (cpu, sys time.Duration, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads the CPU times of a /proc/PID/stat line (statFields:
// stat's fields from the third).
func parseStatCPU(stat string) (cpu, sys time.Duration, ok bool) {
	f := statFields(stat)
	const utime, stime, cutime, cstime = 14 - 3, 15 - 3, 16 - 3, 17 - 3
	if len(f) <= cstime {
		return 0, 0, false
	}
	var ticks [4]int64
	for k, idx := range []int{utime, stime, cutime, cstime} {
		n, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		ticks[k] = n
	}
	const tick = 10 * time.Millisecond // USER_HZ: 100 on every Linux ABI
	return time.Duration(ticks[0]+ticks[1]+ticks[2]+ticks[3]) * tick, time.Duration(ticks[1]+ticks[3]) * tick, true
}
