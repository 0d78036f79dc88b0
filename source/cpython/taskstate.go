package cpython

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
)

// stateEvery is how many sampler ticks apart the scheduler states of the
// traced processes' threads are read (machine.statePIDs), stateReads of
// them each time, in turn: every 2 ms, each of 8 threads; each of 80
// every 20 ms. The threads are listed from /proc/PID/task every
// listEvery readings (the machine learns of a thread only when it handles
// its first probe hit, tens of milliseconds late at the start).
// A GIL-releasing call of an extension module that no reading reaches (a
// call shorter than that) stays native work (machine.watchSection).
// Each read is about 4 us of the recorder's CPU: at most 4000 a second,
// 1.6 % of a core.
const (
	stateEvery = 4
	stateReads = 8
	listEvery  = 5
)

// taskStates reads the scheduler state of tasks from
// /proc/PID/task/TID/stat, keeping each file open while its task lives (a
// read at offset 0 gives the state anew).
type taskStates struct {
	files  map[int]*os.File // by tid
	buf    []byte
	next   int      // the first thread id to read next time
	tasks  [][2]int // [tid, pid] by tid, as last listed
	rounds int
}

func newTaskStates() *taskStates {
	return &taskStates{files: map[int]*os.File{}, buf: make([]byte, 512)}
}

// read appends to evs an evTaskState event for each of the next
// stateReads threads of processes pids whose state it could read.
func (ts *taskStates) read(pids []int, evs []rawEvent) []rawEvent {
	if ts.rounds%listEvery == 0 {
		ts.list(pids)
	}
	ts.rounds++
	tasks := ts.tasks
	if len(tasks) == 0 {
		return evs
	}
	first, _ := slices.BinarySearchFunc(tasks, ts.next, func(tp [2]int, tid int) int { return cmp.Compare(tp[0], tid) })
	for k := range min(stateReads, len(tasks)) {
		tp := tasks[(first+k)%len(tasks)]
		tid, pid := tp[0], tp[1]
		ts.next = tid + 1
		f, ok := ts.files[tid]
		if !ok {
			var err error
			if f, err = os.Open(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid)); err != nil {
				continue // it has ended
			}
			ts.files[tid] = f
		}
		n, err := f.ReadAt(ts.buf, 0)
		if n == 0 && err != nil {
			// The task has ended: its file is closed, so that a new
			// thread given the same id is read from a file of its own
			// (review).
			f.Close()
			delete(ts.files, tid)
			continue
		}
		asleep, ok := statAsleep(ts.buf[:n])
		if !ok {
			continue
		}
		var v uint64
		if asleep {
			v = 1
		}
		evs = append(evs, rawEvent{mono: monoNow(), tid: tid, tgid: pid, event: evTaskState,
			args: []arg{{name: "asleep", vals: []uint64{v}}}, resolved: true})
	}
	return evs
}

// list lists the threads of processes pids, and closes the files of the
// threads gone.
func (ts *taskStates) list(pids []int) {
	ts.tasks = ts.tasks[:0]
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
}

// close closes every file.
func (ts *taskStates) close() {
	for tid, f := range ts.files {
		f.Close()
		delete(ts.files, tid)
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
