package cpython

import (
	"debug/elf"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// untracedWatch looks, every untracedTick, for processes descended from the
// program (or the process attached to) that run another interpreter than
// the probed one (a program that starts python3.12 beside its own 3.11):
// the probes are on one ELF file, so those are not traced, and the trace
// would not say so (QA). It is a poll: a child that lives less than a
// tick may be missed.
type untracedWatch struct {
	root   int
	probed string // r.in.Path
	dev    uint64
	ino    uint64

	mu      sync.Mutex
	seen    map[int]string  // pid -> its executable when last looked at
	found   []string        // "pid N (PATH)", in the order found
	pending map[int]bool    // pids whose interpreter was not settled yet (otherInterpreter)
	shared  map[string]bool // interpreter executable -> whether it loads a libpython
	quit    chan struct{}
	done    chan struct{}
}

const untracedTick = 100 * time.Millisecond

// pythonFile matches the file name of a CPython interpreter or library:
// python3.12, python3.12d, libpython3.12.so.1.0, python3.13t.
var pythonFile = regexp.MustCompile(`^(lib)?python\d+(\.\d+)?[a-z]*(\.so.*)?$`)

func startUntracedWatch(root int, probed string) *untracedWatch {
	u := &untracedWatch{root: root, probed: probed, seen: map[int]string{}, pending: map[int]bool{}, shared: map[string]bool{},
		quit: make(chan struct{}), done: make(chan struct{})}
	var st syscall.Stat_t
	if syscall.Stat(probed, &st) == nil {
		u.dev, u.ino = uint64(st.Dev), uint64(st.Ino)
	}
	go func() {
		defer close(u.done)
		t := time.NewTicker(untracedTick)
		defer t.Stop()
		for {
			u.scan()
			select {
			case <-u.quit:
				return
			case <-t.C:
			}
		}
	}()
	return u
}

// scan notes the descendants of root that map another interpreter.
func (u *untracedWatch) scan() {
	procs, ok := descendants(u.root)
	if !ok { // no children files (a kernel without CONFIG_PROC_CHILDREN)
		procs = map[int]bool{}
		for _, p := range processTree(u.root) {
			procs[p] = true
		}
	}
	for p := range procs {
		// Looked at again when it has exec'd since (a shell, or pyenv's
		// shim, then the interpreter, under the same pid; review).
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
		u.mu.Lock()
		last, seen := u.seen[p]
		u.seen[p] = exe
		u.mu.Unlock()
		if seen && last == exe {
			continue
		}
		u.look(p)
	}
}

// look decides whether process p runs another interpreter, and notes it
// if so; one that has not loaded its interpreter's library yet is left
// pending, looked at again at the next scan.
func (u *untracedWatch) look(p int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", p))
	path, settled := "", true
	if err == nil {
		path, settled = u.otherInterpreter(p, string(b))
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !settled {
		delete(u.seen, p) // looked at again
		u.pending[p] = true
		return
	}
	delete(u.pending, p)
	if path != "" {
		u.found = append(u.found, fmt.Sprintf("pid %d (%s)", p, path))
	}
}

// otherInterpreter is the CPython interpreter file process pid maps (maps
// is its /proc/PID/maps) if it is not the probed one, else "". It is not
// settled when the process maps only the executable of a shared build
// whose libpython is not mapped yet: a process that has just exec'd, whose
// loader has not loaded the library, which may be the probed one (QA: the
// program's own python3.11 child was named untraced so, on a busy machine).
func (u *untracedWatch) otherInterpreter(pid int, maps string) (string, bool) {
	var other string
	lib := false
	for _, line := range strings.Split(maps, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasPrefix(f[5], "/") || !pythonFile.MatchString(filepath.Base(f[5])) {
			continue
		}
		path := f[5]
		if path == u.probed {
			return "", true // the probed interpreter (its executable, or its library beside another's)
		}
		if u.sameFile(pid, f) {
			return "", true // the same file under another name (a link, a bind mount)
		}
		lib = lib || strings.HasPrefix(filepath.Base(path), "lib")
		if other == "" {
			other = path
		}
	}
	if other != "" && !lib && u.loadsLibpython(other) {
		return other, false
	}
	return other, true
}

// loadsLibpython reports whether the interpreter executable at path is a
// shared build's: it needs a libpython, which the loader maps after it.
func (u *untracedWatch) loadsLibpython(path string) bool {
	u.mu.Lock()
	v, ok := u.shared[path]
	u.mu.Unlock()
	if ok {
		return v
	}
	if f, err := elf.Open(path); err == nil {
		libs, _ := f.ImportedLibraries()
		f.Close()
		v = slices.ContainsFunc(libs, func(l string) bool { return strings.HasPrefix(l, "libpython") })
	}
	u.mu.Lock()
	u.shared[path] = v
	u.mu.Unlock()
	return v
}

// sameFile reports whether the mapping of process pid described by f (a
// line of its maps, split into fields) is of the probed interpreter: by
// the mapping's own file (/proc/PID/map_files), else, when that cannot be
// stat'd (the process exited or exec'd since its maps were read: the
// program's own python3.11 child was once named untraced so), by the
// device and inode the maps line gives, which need no permission and name
// the file the process mapped, whatever the tracer's mount namespace.
func (u *untracedWatch) sameFile(pid int, f []string) bool {
	if u.ino == 0 || len(f) < 6 {
		return false
	}
	// map_files names a range without the maps line's zero padding
	// (00400000-0048c000 there, 400000-48c000 here: a non-PIE program).
	lo, hi, _ := strings.Cut(f[0], "-")
	a, errA := strconv.ParseUint(lo, 16, 64)
	b, errB := strconv.ParseUint(hi, 16, 64)
	var st syscall.Stat_t
	if errA == nil && errB == nil && syscall.Stat(fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, a, b), &st) == nil {
		return uint64(st.Dev) == u.dev && uint64(st.Ino) == u.ino
	}
	major, minor, ok := strings.Cut(f[3], ":")
	ma, err1 := strconv.ParseUint(major, 16, 32)
	mi, err2 := strconv.ParseUint(minor, 16, 32)
	ino, err3 := strconv.ParseUint(f[4], 10, 64)
	return ok && err1 == nil && err2 == nil && err3 == nil && ino == u.ino &&
		uint32(ma) == unix.Major(u.dev) && uint32(mi) == unix.Minor(u.dev)
}

// stop ends the watch after one last scan and returns what it found.
func (u *untracedWatch) stop() []string {
	close(u.quit)
	<-u.done
	u.scan()
	// A process still loading its interpreter is given a moment to; one
	// that never maps a libpython (exiting, or stuck) runs no Python.
	for range 10 {
		u.mu.Lock()
		pending := slices.Collect(maps.Keys(u.pending))
		u.mu.Unlock()
		if len(pending) == 0 {
			break
		}
		time.Sleep(untracedTick / 5)
		for _, p := range pending {
			u.look(p)
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.found)
}

// descendants is the processes descended from root, found through the
// children files of their tasks (/proc/PID/task/TID/children): a walk of
// the program's tree, where processTree reads every process's stat (5 ms
// for 64 processes here, every untracedTick: a twentieth of a core taken
// from the traced program). ok is false when the kernel has no children
// files.
func descendants(root int) (procs map[int]bool, ok bool) {
	procs = map[int]bool{}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d/children", root, root)); err != nil {
		// Gone with its process (nothing to walk), or not there at all
		// (the caller falls back), or another error (so does it).
		return procs, os.IsNotExist(err) && !processAlive(root)
	}
	todo := []int{root}
	for len(todo) > 0 {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*", p))
		for _, t := range tasks {
			b, err := os.ReadFile(filepath.Join(t, "children"))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil && !procs[c] && c != root {
					procs[c] = true
					todo = append(todo, c)
				}
			}
		}
	}
	return procs, true
}
