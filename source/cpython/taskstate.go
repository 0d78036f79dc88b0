package cpython

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// stateEvery is how often the scheduler states of the traced processes'
// threads are read (machine.statePIDs), stateReads of them each time, in
// turn: every 2 ms, each of 8 threads; each of 80 every 20 ms (the
// sampler's ticks come late on a busy machine: a round is due at the
// first tick stateEvery after the last, not every so many ticks). The
// threads are listed from /proc/PID/task when a process's number of
// threads changed (the directory's link count, a stat of about 2 us),
// else every listEvery (a thread ending and another starting between two
// rounds): the machine learns of a thread only when it handles its first
// probe hit, tens of milliseconds late at the start, and a listing every
// 10 ms missed the first calls of new threads (QA), and cost 8 to 56 us
// (a few threads, 100).
// A thread listed for the first time is read in the same round, beside
// the others. A GIL-releasing call of an extension module that no reading
// reaches (a call shorter than the interval between its thread's
// readings) is judged by its site's read calls (nwsite.go). Each read is
// about 4 us of the recorder's CPU: at most 4000 a second, 1.6 % of a
// core, and up to stateReads more a round for new threads.
const (
	stateEvery = 2 * time.Millisecond
	stateReads = 8
	listEvery  = 100 * time.Millisecond
)

// taskStates reads the scheduler state of tasks from
// /proc/PID/task/TID/stat, keeping each file open while its task lives (a
// read at offset 0 gives the state anew).
type taskStates struct {
	files    map[int]*os.File // by tid
	sys      map[int]*os.File // by tid: /proc/PID/task/TID/syscall, read when asleep (ownio.go)
	own      *ownFDs
	mem      func(pid int) *memory // a process's memory (a poll's descriptor), or nil
	pids     []int                 // the processes read this round (read)
	buf      []byte
	next     int      // the first thread id to read next time
	tasks    [][2]int // [tid, pid] by tid, as last listed
	fresh    [][2]int // [tid, pid] of the tasks the last listing found new
	nlink    map[int]uint64
	listedAt int64 // CLOCK_MONOTONIC, ns
	listed   bool
}

func newTaskStates() *taskStates {
	return &taskStates{files: map[int]*os.File{}, sys: map[int]*os.File{}, own: newOwnFDs(), buf: make([]byte, 512), nlink: map[int]uint64{}}
}

// read appends to evs an evTaskState event for each task new since the
// last listing and each of the next stateReads threads of processes pids
// whose state it could read, at mono (CLOCK_MONOTONIC).
func (ts *taskStates) read(pids []int, mono int64, evs []rawEvent) []rawEvent {
	ts.pids = pids
	if ts.changed(pids) || !ts.listed || mono-ts.listedAt >= int64(listEvery) {
		ts.list(pids)
		ts.listed, ts.listedAt = true, mono
	}
	fresh := ts.fresh[:min(stateReads, len(ts.fresh))]
	for _, tp := range fresh {
		evs = ts.readOne(tp[0], tp[1], evs)
	}
	ts.fresh = ts.fresh[:0]
	tasks := ts.tasks
	if len(tasks) == 0 {
		return evs
	}
	first, _ := slices.BinarySearchFunc(tasks, ts.next, func(tp [2]int, tid int) int { return cmp.Compare(tp[0], tid) })
	for k := range min(stateReads, len(tasks)) {
		tp := tasks[(first+k)%len(tasks)]
		ts.next = tp[0] + 1
		if slices.ContainsFunc(fresh, func(f [2]int) bool { return f[0] == tp[0] }) {
			// Read above, this round: a second reading microseconds
			// later would count twice (two readings running are evidence
			// of work; review).
			continue
		}
		evs = ts.readOne(tp[0], tp[1], evs)
	}
	return evs
}

// changed reports whether the number of threads of one of processes pids
// changed since it was last looked at (the link count of /proc/PID/task is
// 2 and the number of its threads), or one of them is new.
func (ts *taskStates) changed(pids []int) bool {
	changed := false
	var st syscall.Stat_t
	for _, pid := range pids {
		var n uint64
		if syscall.Stat(fmt.Sprintf("/proc/%d/task", pid), &st) == nil {
			n = uint64(st.Nlink)
		}
		if old, ok := ts.nlink[pid]; !ok || old != n {
			ts.nlink[pid] = n
			changed = true
		}
	}
	if len(ts.nlink) > 2*len(pids)+8 { // forget processes gone
		for pid := range ts.nlink {
			if !slices.Contains(pids, pid) {
				delete(ts.nlink, pid)
			}
		}
	}
	return changed
}

// readOne appends to evs an evTaskState event of task tid of process pid
// if its state could be read: at the end of the read, with the time the
// read took ("window", ns), for the machine to count it only against a
// call that had begun before the read did (taskState).
func (ts *taskStates) readOne(tid, pid int, evs []rawEvent) []rawEvent {
	f, ok := ts.files[tid]
	if !ok {
		var err error
		if f, err = os.Open(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid)); err != nil {
			return evs // it has ended
		}
		ts.files[tid] = f
	}
	t0 := monoNow()
	n, _ := preadRawAt(f, ts.buf, 0) // 0 on an error: the task has ended
	t1 := monoNow()
	window := time.Duration(t1 - t0) // the read's, from before it to t1
	if n == 0 {
		// The task has ended: its file is closed, so that a new thread
		// given the same id is read from a file of its own (review).
		f.Close()
		delete(ts.files, tid)
		ts.closeSys(tid)
		return evs
	}
	asleep, ok := statAsleep(ts.buf[:n])
	if !ok {
		return evs
	}
	var v, onFD, own, listen uint64
	if asleep {
		v = 1
		w := ts.ownWait(tid, pid, t1)
		onFD, own, listen = b2u(w.fd), b2u(w.own), b2u(w.listen)
	}
	return append(evs, rawEvent{mono: t1, tid: tid, tgid: pid, event: evTaskState,
		args: []arg{{name: "asleep", vals: []uint64{v}}, {name: "window", vals: []uint64{uint64(window)}},
			{name: "fd", vals: []uint64{onFD}}, {name: "own", vals: []uint64{own}}, {name: "listen", vals: []uint64{listen}}}, resolved: true})
}

// fdWait is what a task found asleep waits on (taskStates.ownWait).
type fdWait struct {
	fd     bool // a read or write (or a poll of one descriptor) on a descriptor
	own    bool // whose other end is its own process's (ownio.go)
	listen bool // for a connection: in accept, or polling a listening socket
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// ownWait says what task tid of process pid, found asleep, waits on
// (fdWait).
func (ts *taskStates) ownWait(tid, pid int, mono int64) fdWait {
	if fdSyscalls == nil {
		return fdWait{}
	}
	f, ok := ts.sys[tid]
	if !ok {
		var err error
		if f, err = os.Open(fmt.Sprintf("/proc/%d/task/%d/syscall", pid, tid)); err != nil {
			ts.sys[tid] = nil // not readable: not tried again
			return fdWait{}
		}
		ts.sys[tid] = f
	}
	if f == nil {
		return fdWait{}
	}
	n, _ := preadRawAt(f, ts.buf, 0)
	nr, a0, a1, ok := parseSyscall(ts.buf[:n])
	if !ok {
		return fdWait{}
	}
	var fds []int
	switch {
	case acceptSyscalls[nr]:
		return fdWait{listen: true}
	case fdSyscalls[nr]:
		fds = []int{int(int32(a0))}
	case pollSyscalls[nr] && a1 >= 1 && a1 <= maxWatched && ts.mem != nil:
		// struct pollfd (8 bytes) begins with the descriptor (a socket
		// with a timeout polls it alone before its recv or send; a
		// selectors.PollSelector, several).
		if m := ts.mem(pid); m != nil {
			if b, ok := m.read(a0, int(a1)*8); ok {
				for i := range int(a1) {
					fds = append(fds, int(int32(binary.LittleEndian.Uint32(b[8*i:]))))
				}
			}
		}
	case epollSyscalls[nr]:
		// An event loop: what its epoll instance watches (asyncio's
		// self-pipe alone, while run_in_executor's workers compute).
		fds = epollWatched(fmt.Sprintf("/proc/%d", pid), int(int32(a0)))
	}
	if len(fds) == 0 {
		return fdWait{}
	}
	// Its own when every descriptor it waits on is; for a connection
	// when one is a listening socket.
	w := fdWait{own: true}
	for _, d := range fds {
		if d < 0 {
			continue // a pollfd left out (negative descriptor)
		}
		own, listen := ts.own.isOwn(pid, d, mono, ts.pids)
		w.fd = true
		w.own = w.own && own
		w.listen = w.listen || listen
	}
	if !w.fd || w.listen {
		w.own = false
	}
	return w
}

func (ts *taskStates) closeSys(tid int) {
	if f := ts.sys[tid]; f != nil {
		f.Close()
	}
	delete(ts.sys, tid)
}

// list lists the threads of processes pids, noting those new since the
// last listing (fresh), and closes the files of the threads gone.
func (ts *taskStates) list(pids []int) {
	before := ts.tasks
	ts.tasks = nil
	keep := map[int]bool{}
	for _, pid := range pids {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			continue // it has ended
		}
		for _, e := range ents {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				ts.tasks = append(ts.tasks, [2]int{tid, pid})
				keep[tid] = true
				if _, seen := slices.BinarySearchFunc(before, tid, func(a [2]int, tid int) int { return cmp.Compare(a[0], tid) }); !seen && ts.listed {
					ts.fresh = append(ts.fresh, [2]int{tid, pid})
				}
			}
		}
	}
	slices.SortFunc(ts.tasks, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	for tid, f := range ts.files {
		if !keep[tid] {
			f.Close()
			delete(ts.files, tid)
		}
	}
	for tid := range ts.sys {
		if !keep[tid] {
			ts.closeSys(tid)
		}
	}
}

// close closes every file.
func (ts *taskStates) close() {
	for tid, f := range ts.files {
		f.Close()
		delete(ts.files, tid)
	}
	for tid := range ts.sys {
		ts.closeSys(tid)
	}
}

// statAsleep reads the state of a task from its stat line ("TID (COMM) S
// ..."; COMM may hold spaces and parentheses, so the state follows the
// last ')'): asleep for S (interruptible) and D (uninterruptible); awake
// for R (running or runnable); ok false for any other state (stopped,
// zombie) or a line it cannot read.
func statAsleep(line []byte) (asleep, ok bool) {
	i := bytes.LastIndexByte(line, ')')
	if i < 0 || i+2 >= len(line) || line[i+1] != ' ' {
		return false, false
	}
	switch line[i+2] {
	case 'S', 'D':
		return true, true
	case 'R':
		return false, true
	}
	return false, false
}

// preadRawAt reads f at off into buf as a raw system call: reads of /proc
// files and of a process's memory take microseconds and never wait for
// another party, and the scheduler's part of each, thousands a second,
// cost more than the read. 0 and the error on an error.
func preadRawAt(f *os.File, buf []byte, off int64) (int, syscall.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	defer runtime.KeepAlive(f)
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_PREAD64, f.Fd(), uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), uintptr(off), 0, 0)
		switch e {
		case 0:
			return int(n), 0
		case syscall.EINTR: // retried, as os.File's reads are
		default:
			return 0, e
		}
	}
}
