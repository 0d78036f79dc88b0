package cpython

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The probes' hits are read through perf events bound to the traced
// tasks, not through a tracefs instance. A uprobe enabled in tracefs is
// armed in every process that maps the probed file (the kernel's uprobe
// filter lets every mm through for tracefs), so that every other CPython
// process using the same libpython took the breakpoint's trap at each GIL
// and lock operation (QA: a program doing little else ran 7-47 times
// slower while giltrace traced another). A uprobe event opened with
// perf_event_open for a task is armed only in the memory of the tasks
// its events are bound to (trace_uprobe.c, uprobe_perf_filter): the
// processes giltrace was asked to trace, and those they create (inherit).
// Closing the descriptors, even by a kill -9 of giltrace, disarms them.
//
// Each event is opened once per traced task and CPU (a per-task event
// that follows the task's children must be per CPU to be mapped), and
// every event of a CPU writes into one ring (PERF_EVENT_IOC_SET_OUTPUT):
// as many rings as CPUs, read without a system call. A sample is the
// tracepoint's raw record (PERF_SAMPLE_RAW), the same bytes, at the same
// offsets (the event's format file), as a tracefs ring buffer's event,
// with its CLOCK_MONOTONIC time (PERF_SAMPLE_TIME, use_clockid).
// Documentation: perf_event_open(2), tools/perf's ring buffer reader.

// perfEvent is one tracepoint of the recording: a uprobe of its group or
// a scheduler tracepoint.
type perfEvent struct {
	name   string // group/event
	id     uint64 // its tracepoint id (the format file's ID)
	filter string // its event filter, or ""
}

// perfRing is one CPU's ring: the mapping of its first event.
type perfRing struct {
	cpu  int
	fd   int
	mem  unsafe.Pointer // the mapping: a metadata page, then the data
	size uintptr        // of the mapping
	data []byte         // the data pages, a power of two
}

func (rg *perfRing) meta() *unix.PerfEventMmapPage { return (*unix.PerfEventMmapPage)(rg.mem) }

// rawReader reads the samples of the recording's events for the traced
// tasks, on every CPU, without blocking.
type rawReader struct {
	formats map[uint16]*eventFormat
	events  []perfEvent
	cpus    []int
	rings   map[int]*perfRing // by CPU
	order   []*perfRing       // in CPU order
	fds     []int             // every event's descriptor
	tasks   map[int]bool      // the tasks with events of their own
	enabled bool
	// late: the tasks whose events were opened once the others' were on
	// (attach's followNewTasks), with their events' ids. One created
	// meanwhile by a task already traced has its creator's events too,
	// inherited: each hit then comes twice, each copy tagged (copyKind)
	// for dropOwnCopies.
	late map[int]map[uint64]bool
	// lostFormat: the events count their lost samples (PERF_FORMAT_LOST,
	// Linux 6.0): lostSamples reads them.
	lostFormat bool
	ringLen    int // data bytes per ring
	// maxRead bounds the bytes read from one ring at a time, so that the
	// reading goroutine, which prepares what it read, sees a stop soon.
	maxRead uint64
	lost    uint64
	err     error
	scratch []byte
	// safe is a time before which every event has been read: the
	// earliest start of the last drain of a CPU's ring.
	safe int64
	// markers: the markers of the tasks traced from the start
	// (openMarker), open until the end: their inherited copies are
	// closed with them.
	markers []int
	// keepers: by process forked during the run, its keepers
	// (keepArmed), until it exits.
	keepers map[int][]int
	// plainMarker: the markers are not inherited (openMarker), and each
	// process forked gets keepers.
	plainMarker bool
	// unkept: the processes whose keepers could not be opened.
	unkept []unkept
}

// perfRingBytes is the data of each CPU's ring: 32 MiB, as the tracefs
// buffers were (about 100 000 events, seconds of the busiest program); halved down to minRingBytes while the kernel
// refuses the mapping (locked memory).
const (
	perfRingBytes = 32 << 20
	minRingBytes  = 256 << 10
)

// testRingBytes (tests), when set, is the size of the rings.
var testRingBytes int

// openRawReader reads the formats and ids of the events in names
// (group/event or system/event) with their filters; the events are opened
// for tasks by addTasks.
func openRawReader(names []string, filters map[string]string) (*rawReader, error) {
	r := &rawReader{formats: map[uint16]*eventFormat{}, rings: map[int]*perfRing{}, tasks: map[int]bool{},
		late: map[int]map[uint64]bool{}, keepers: map[int][]int{}, lostFormat: true, ringLen: perfRingBytes, maxRead: 4 << 20}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(tracefsRoot, "events", n, "format"))
		if err != nil {
			return nil, fmt.Errorf("reading the format of event %s: %w", n, err)
		}
		f, err := parseFormat(filepath.Base(n), string(b))
		if err != nil {
			return nil, err
		}
		r.formats[f.id] = f
		r.events = append(r.events, perfEvent{name: n, id: uint64(f.id), filter: filters[n]})
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	r.cpus = cpus
	if testRingBytes > 0 {
		r.ringLen = testRingBytes
	}
	return r, nil
}

// onlineCPUs lists the CPUs a task may run on.
func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("listing the CPUs: %w", err)
	}
	cpus, err := parseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("listing the CPUs: /sys/devices/system/cpu/online: %w", err)
	}
	return cpus, nil
}

// parseCPUList parses a kernel CPU list ("0-3,5").
func parseCPUList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bad CPU list %q", s)
	}
	return out, nil
}

// addTasks opens every event for each task not yet traced, following the
// tasks it creates from then on. A task that has exited is passed over;
// it returns how many were added.
func (r *rawReader) addTasks(tids []int) (int, error) {
	added := 0
	for _, tid := range tids {
		if r.tasks[tid] {
			continue
		}
		fds, err := r.openTask(tid)
		if errors.Is(err, syscall.EMFILE) {
			var lim unix.Rlimit
			_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
			need := (len(r.tasks) + len(tids) - added) * (len(r.events)*len(r.cpus) + 1)
			return added, fmt.Errorf("%w: about %d needed (%d tasks x (%d events x %d CPUs + a marker)), the limit is %d", err, need, len(r.tasks)+len(tids)-added, len(r.events), len(r.cpus), lim.Cur)
		}
		if err != nil {
			return added, err
		}
		if fds == nil {
			continue // gone
		}
		r.tasks[tid] = true
		added++
		if r.enabled {
			ids := map[uint64]bool{}
			for _, fd := range fds {
				var id uint64
				if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.PERF_EVENT_IOC_ID), uintptr(unsafe.Pointer(&id))); e != 0 {
					return added, fmt.Errorf("reading the id of an event of task %d: %w", tid, e)
				}
				ids[id] = true
			}
			r.late[tid] = ids
		}
	}
	return added, nil
}

// openTask opens the events of one task and returns their descriptors;
// none if it has exited (or is exiting: the kernel then refuses its events,
// with ESRCH or ENODEV).
func (r *rawReader) openTask(tid int) ([]int, error) {
	// Its marker first: the scheduler never swaps the copies of its events
	// that the tasks it creates run with (openMarker), those it creates
	// while its events are opened included (review).
	marker, gone, err := r.openMarker(tid)
	if err != nil || gone {
		return nil, err
	}
	var mine []int
	var rings []*perfRing // mapped for this task's events
	undo := func() {
		for _, fd := range marker {
			perfFiles.closeFD(fd)
		}
		// A task that exits while its events are opened: its rings too
		// (a later task's events must not be sent to a closed one).
		for _, rg := range rings {
			perfFiles.unmap(rg.mem, rg.size)
			delete(r.rings, rg.cpu)
			r.order = slices.DeleteFunc(r.order, func(o *perfRing) bool { return o == rg })
		}
		for _, fd := range mine {
			perfFiles.closeFD(fd)
		}
		r.fds = r.fds[:len(r.fds)-len(mine)]
	}
	for _, cpu := range r.cpus {
		// Not a group: a sibling joining a group whose task creates
		// threads meanwhile was refused (ENODEV, EINVAL; QA: attaches
		// to a program whose threads come and go failed), and a group
		// cost no less within the noise.
		for _, ev := range r.events {
			attr := unix.PerfEventAttr{
				Type:        unix.PERF_TYPE_TRACEPOINT,
				Size:        uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
				Config:      ev.id,
				Sample:      1, // every hit
				Sample_type: unix.PERF_SAMPLE_IDENTIFIER | unix.PERF_SAMPLE_TIME | unix.PERF_SAMPLE_RAW,
				Bits:        unix.PerfBitInherit | unix.PerfBitUseClockID | unix.PerfBitWatermark,
				Clockid:     unix.CLOCK_MONOTONIC,
				Wakeup:      uint32(r.ringLen / 2), // nobody waits: the reader polls
			}
			if !r.enabled {
				attr.Bits |= unix.PerfBitDisabled
			}
			if r.lostFormat {
				attr.Read_format = unix.PERF_FORMAT_LOST
			}
			fd, err := perfEventOpen(&attr, tid, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
			if err != nil && errors.Is(err, syscall.EINVAL) && r.lostFormat && len(r.fds) == 0 && !taskGone(tid) {
				// A kernel before 6.0: no count of lost samples per event.
				r.lostFormat = false
				attr.Read_format = 0
				fd, err = perfEventOpen(&attr, tid, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
			}
			if err != nil {
				undo()
				if (errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENODEV)) && taskGone(tid) {
					return nil, nil
				}
				return nil, perfError(fmt.Errorf("opening event %s for task %d on CPU %d (perf_event_open): %w", ev.name, tid, cpu, err))
			}
			perfFiles.addFD(fd)
			r.fds = append(r.fds, fd)
			mine = append(mine, fd)
			if ev.filter != "" {
				if err := setFilter(fd, ev.filter); err != nil {
					undo()
					return nil, fmt.Errorf("setting the filter %q of event %s: %w", ev.filter, ev.name, err)
				}
			}
			if rg := r.rings[cpu]; rg != nil {
				if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_OUTPUT, rg.fd); err != nil {
					undo()
					return nil, fmt.Errorf("sending event %s of task %d to CPU %d's ring: %w", ev.name, tid, cpu, err)
				}
				continue
			}
			rg, err := r.mapRing(fd, cpu)
			if err != nil {
				undo()
				return nil, err
			}
			r.rings[cpu] = rg
			rings = append(rings, rg)
			r.order = append(r.order, rg)
			sort.Slice(r.order, func(i, j int) bool { return r.order[i].cpu < r.order[j].cpu })
		}
	}
	r.markers = append(r.markers, marker...)
	return mine, nil
}

// taskGone tells whether task tid has exited or is exiting (a zombie, or
// dead), looking again after a moment if it still runs: the kernel
// refuses events for a task on its way out before /proc shows it.
func taskGone(tid int) bool {
	for i := range 2 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", tid))
		if err != nil {
			return true
		}
		if f := statFields(string(b)); len(f) == 0 || f[0] == "Z" || f[0] == "X" || f[0] == "x" {
			return true
		}
		if i == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return false
}

// perfEventOpen is unix.PerfEventOpen (tests make it fail).
var perfEventOpen = unix.PerfEventOpen

// perfError names the likely cause of a refused perf_event_open.
func perfError(err error) error {
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		b, _ := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
		return fmt.Errorf("%w (%w: giltrace needs CAP_PERFMON or CAP_SYS_ADMIN for per-task tracepoint events; kernel.perf_event_paranoid is %s)", err, ErrPermission, strings.TrimSpace(string(b)))
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOSYS):
		return fmt.Errorf("%w (%w: the kernel needs CONFIG_PERF_EVENTS)", err, ErrNoTracing)
	case errors.Is(err, syscall.EMFILE):
		return fmt.Errorf("%w (one descriptor per traced task, event and CPU, and a marker per task: raise the open file limit, ulimit -n)", err)
	}
	return err
}

// setFilter sets a tracepoint event's filter (the tracefs filter syntax).
func setFilter(fd int, filter string) error {
	p, err := unix.BytePtrFromString(filter)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.PERF_EVENT_IOC_SET_FILTER), uintptr(unsafe.Pointer(p))); e != 0 {
		return e
	}
	return nil
}

// mapRing maps the ring of a CPU's first event, smaller while the kernel
// refuses (locked memory).
func (r *rawReader) mapRing(fd, cpu int) (*perfRing, error) {
	page := os.Getpagesize()
	for {
		size := uintptr(page + r.ringLen)
		mem, err := unix.MmapPtr(fd, 0, nil, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err == nil {
			rg := &perfRing{cpu: cpu, fd: fd, mem: mem, size: size}
			rg.data = unsafe.Slice((*byte)(unsafe.Add(mem, page)), r.ringLen)
			perfFiles.addMap(mem, size)
			return rg, nil
		}
		if (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOMEM)) && r.ringLen/2 >= minRingBytes && len(r.rings) == 0 {
			r.ringLen /= 2
			continue
		}
		return nil, fmt.Errorf("mapping CPU %d's ring of %d KiB: %w (locked memory: ulimit -l, kernel.perf_event_mlock_kb)", cpu, r.ringLen>>10, err)
	}
}

// Keeping the probes armed in every traced process.
//
// The kernel keeps a uprobe's breakpoints in a process only while some
// event of the probe is bound to a live task of that process
// (trace_uprobe.c, __uprobe_perf_filter: on each hit, and whenever an
// event is closed), and an inherited event does not always stay with its
// task: the scheduler swaps two tasks' event contexts when one is an
// unchanged copy of the other or both are copies of the same
// (perf_event_context_sched_out), so that a forked child may run with its
// sibling's or its parent's events, bound to them, while its own copies
// run in that task and end with it. A child that outlived its parent then
// lost every probe hit from its parent's exit (TestRecordPythonOrphan:
// 3 runs of 16), children forked one after another lost theirs as their
// siblings exited (about half of 8, every run), and a forked child whose
// thread ended lost its own (TestForkedProcessesKeepTheirProbes).
//
// Each task traced from the start gets a marker (openTask): a disabled
// event of one probe, inherited, that asks for PERF_SAMPLE_READ. A
// context holding such an event is never swapped (the kernel's
// nr_no_switch_fast, Linux 6.12), and every process and thread the task
// creates inherits it. A kernel that refuses the combination gets a
// marker that is not inherited (the contexts copied from its task are
// then no copies, the kernel's inherited_all: its children never swap),
// and each process forked during the run its keepers (keepArmed), once
// its fork is read, a few milliseconds after it: its own threads'
// contexts may swap until then, and a hit the probes lost meanwhile is
// not recovered, but the keepers arm them again and stop the swaps.

// testPlainMarker (tests) makes openTask use the markers of a kernel that
// refuses inherited PERF_SAMPLE_READ.
var testPlainMarker bool

// openMarker opens task tid's marker: none, and gone, if it has exited.
func (r *rawReader) openMarker(tid int) (fds []int, gone bool, err error) {
	if r.plainMarker || testPlainMarker {
		r.plainMarker = true
		return r.openKeeper(tid, false)
	}
	for _, ev := range r.events {
		if !ev.probe() {
			continue
		}
		attr := ev.disabled()
		attr.Sample = 1
		attr.Sample_type = unix.PERF_SAMPLE_READ | unix.PERF_SAMPLE_TID // TID: the kernel asks for it with inherit
		attr.Bits |= unix.PerfBitInherit
		fd, err := perfEventOpen(&attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		switch {
		case err == nil:
			perfFiles.addFD(fd)
			return []int{fd}, false, nil
		case (errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENODEV)) && taskGone(tid):
			return nil, true, nil
		case errors.Is(err, syscall.EINVAL):
			r.plainMarker = true
			return r.openKeeper(tid, false)
		}
		return nil, false, perfError(fmt.Errorf("opening the marker of task %d (perf_event_open): %w", tid, err))
	}
	return nil, false, nil
}

// keepArmed opens the keepers of process pid, forked during the run, if
// the tasks' markers are not inherited: a disabled event of each probe,
// bound to pid alone (not inherited, never sampled: it writes nothing).
// One that cannot be opened (the open file limit) is noted in unkept.
func (r *rawReader) keepArmed(pid int) {
	if !r.plainMarker {
		return
	}
	if _, ok := r.keepers[pid]; ok {
		return
	}
	fds, gone, err := r.openKeeper(pid, true)
	if err != nil {
		r.unkept = append(r.unkept, unkept{pid, err})
	}
	if err != nil || gone {
		return
	}
	r.keepers[pid] = fds
}

// unkept is a process whose keepers could not be opened, and why.
type unkept struct {
	pid int
	err error
}

// openKeeper opens a disabled event, bound to task tid alone, of every
// probe (all) or of the first. None, and gone, if tid has exited.
func (r *rawReader) openKeeper(tid int, all bool) (fds []int, gone bool, err error) {
	for _, ev := range r.events {
		if !ev.probe() {
			continue
		}
		attr := ev.disabled()
		fd, err := perfEventOpen(&attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			for _, fd := range fds {
				perfFiles.closeFD(fd)
			}
			if (errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENODEV)) && taskGone(tid) {
				return nil, true, nil
			}
			return nil, false, perfError(fmt.Errorf("opening a disabled event of probe %s for task %d, to keep the probes armed (perf_event_open): %w", ev.name, tid, err))
		}
		perfFiles.addFD(fd)
		fds = append(fds, fd)
		if !all {
			break
		}
	}
	return fds, false, nil
}

// disabled is a disabled, counting event of ev, for a marker or a keeper.
func (ev perfEvent) disabled() unix.PerfEventAttr {
	return unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_TRACEPOINT,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Config: ev.id,
		Bits:   unix.PerfBitDisabled,
	}
}

// probe tells whether the event is a uprobe (not a scheduler tracepoint).
func (ev perfEvent) probe() bool {
	g, _, _ := strings.Cut(ev.name, "/")
	return g != "sched" && g != "task"
}

// letGo closes process pid's keepers, once it has exited.
func (r *rawReader) letGo(pid int) {
	for _, fd := range r.keepers[pid] {
		perfFiles.closeFD(fd)
	}
	delete(r.keepers, pid)
}

// enable turns on every event: the probes are armed from here.
func (r *rawReader) enable() error {
	for _, fd := range r.fds {
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			return fmt.Errorf("enabling the probes: %w", err)
		}
	}
	r.enabled = true
	return nil
}

// disable turns every event off (the probes stay defined until close).
func (r *rawReader) disable() {
	for _, fd := range r.fds {
		_ = unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_DISABLE, 0)
	}
}

// Sample layout (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TIME |
// PERF_SAMPLE_RAW): the 8-byte record header, the event's id (its
// parent's, for an inherited event), the time, the raw record's size and
// its bytes.
const (
	recHeader     = 8
	sampleIDOff   = recHeader
	sampleTimeOff = sampleIDOff + 8
	sampleRawOff  = sampleTimeOff + 8
)

// read returns the events every CPU's ring has ready.
func (r *rawReader) read() []rawEvent {
	var out []rawEvent
	r.safe = 1<<63 - 1
	for _, rg := range r.order {
		r.safe = min(r.safe, monoNow())
		n := len(out)
		var more bool
		out, more = r.readRing(rg, out)
		if more && len(out) > n {
			// Not drained: what follows in this ring is no earlier than
			// its last event read (a CPU's samples are in time order).
			r.safe = min(r.safe, out[len(out)-1].mono)
		} else if more {
			r.safe = min(r.safe, 0)
		}
	}
	return out
}

// readRing appends the events of one ring, up to maxRead bytes of it (all
// if 0), and tells whether it left some.
func (r *rawReader) readRing(rg *perfRing, out []rawEvent) ([]rawEvent, bool) {
	m := rg.meta()
	head := atomic.LoadUint64(&m.Data_head)
	tail := atomic.LoadUint64(&m.Data_tail)
	n := uint64(len(rg.data))
	if n == 0 || head <= tail {
		return out, false
	}
	if head-tail > n { // cannot happen: the kernel does not pass the tail
		r.setErr(fmt.Errorf("CPU %d's ring: head %d is %d bytes past the tail", rg.cpu, head, head-tail))
		atomic.StoreUint64(&m.Data_tail, head)
		return out, false
	}
	more := false
	if r.maxRead > 0 && head-tail > r.maxRead {
		more = true
	}
	start := tail
	for tail+recHeader <= head {
		if more && tail-start >= r.maxRead {
			break
		}
		off := tail % n
		var hdr [recHeader]byte
		copyRing(hdr[:], rg.data, off)
		typ := binary.LittleEndian.Uint32(hdr[:])
		size := uint64(binary.LittleEndian.Uint16(hdr[6:]))
		if size < recHeader || tail+size > head {
			r.setErr(fmt.Errorf("CPU %d's ring: a record of %d bytes at %d (head %d)", rg.cpu, size, tail, head))
			tail = head
			break
		}
		var rec []byte
		if off+size <= n {
			rec = rg.data[off : off+size : off+size]
		} else { // wraps around the end
			if cap(r.scratch) < int(size) {
				r.scratch = make([]byte, size)
			}
			rec = r.scratch[:size]
			copyRing(rec, rg.data, off)
		}
		switch typ {
		case unix.PERF_RECORD_SAMPLE:
			out = r.sample(rec, out)
		case unix.PERF_RECORD_LOST:
			if len(rec) >= 24 {
				r.lost += binary.LittleEndian.Uint64(rec[16:])
			}
		}
		tail += size
	}
	atomic.StoreUint64(&m.Data_tail, tail)
	return out, tail < head
}

// sample appends the event of one PERF_RECORD_SAMPLE.
func (r *rawReader) sample(rec []byte, out []rawEvent) []rawEvent {
	if len(rec) < sampleRawOff+4 {
		return out
	}
	id := binary.LittleEndian.Uint64(rec[sampleIDOff:])
	mono := binary.LittleEndian.Uint64(rec[sampleTimeOff:])
	rawLen := int(binary.LittleEndian.Uint32(rec[sampleRawOff:]))
	raw := rec[sampleRawOff+4:]
	if rawLen < 8 || rawLen > len(raw) {
		return out
	}
	raw = raw[:rawLen]
	f := r.formats[binary.LittleEndian.Uint16(raw)]
	if f == nil {
		return out
	}
	tid := int(int32(binary.LittleEndian.Uint32(raw[4:])))
	e := rawEvent{mono: int64(mono), tid: tid, event: f.name}
	if own := r.late[tid]; own != nil {
		e.copy = copyInherited
		if own[id] {
			e.copy = copyOwn
		}
	}
	f.decode(raw, &e)
	return append(out, e)
}

// copyKind tells, for a task whose events were opened once the others'
// were on (attach), whether a hit came through its own events or through
// those it inherited from its creator: a task created during the set-up by
// a task already traced has both, and each of its hits comes twice.
type copyKind uint8

const (
	copyNone      copyKind = iota // not a late task
	copyOwn                       // its own events'
	copyInherited                 // its creator's, inherited
)

// dupWindow: two copies of one hit are timed apart by the writing of the
// first, a microsecond or two; a thread takes longer between two hits of
// one probe (each a breakpoint trap, with others between).
const dupWindow = 50_000 // ns

// dropOwnCopies removes from evs (sorted by time) each hit of a late
// task's own events that its inherited events also reported (the same
// task and event within dupWindow). Done on the events held for the
// reorder window, where both copies are, whichever was written first and
// however the reads split them (QA: a check at read time let a copy
// through when a read fell between the two, as a thread "N #2").
func dropOwnCopies(evs []rawEvent) []rawEvent {
	twin := func(i int) bool {
		e := &evs[i]
		for j := i - 1; j >= 0 && e.mono-evs[j].mono < dupWindow; j-- {
			if o := &evs[j]; o.copy == copyInherited && o.tid == e.tid && o.event == e.event {
				return true
			}
		}
		for j := i + 1; j < len(evs) && evs[j].mono-e.mono < dupWindow; j++ {
			if o := &evs[j]; o.copy == copyInherited && o.tid == e.tid && o.event == e.event {
				return true
			}
		}
		return false
	}
	first := slices.IndexFunc(evs, func(e rawEvent) bool { return e.copy == copyOwn })
	if first < 0 {
		return evs // no late task's own copy: every record, most attaches
	}
	out := evs[:first]
	for i := first; i < len(evs); i++ {
		if evs[i].copy == copyOwn && twin(i) {
			continue
		}
		out = append(out, evs[i])
	}
	return out
}

// lostSamples sums the samples each event could not write into its full
// ring (PERF_FORMAT_LOST), those its ring never reported among them: the
// kernel reports a loss in the ring only before the next sample that fits.
// Zero without the count (a kernel before 6.0).
func (r *rawReader) lostSamples() uint64 {
	if !r.lostFormat {
		return 0
	}
	var n uint64
	var b [16]byte // value, lost
	for _, fd := range r.fds {
		if k, err := syscall.Read(fd, b[:]); err == nil && k == len(b) {
			n += binary.LittleEndian.Uint64(b[8:])
		}
	}
	return n
}

// copyRing copies len(dst) bytes of the ring from off, wrapping.
func copyRing(dst, ring []byte, off uint64) {
	n := copy(dst, ring[off:])
	copy(dst[n:], ring)
}

func (r *rawReader) setErr(err error) {
	if r.err == nil {
		r.err = err
	}
}

// close unmaps the rings and closes every event: the probes are disarmed.
func (r *rawReader) close() {
	for _, rg := range r.order {
		perfFiles.unmap(rg.mem, rg.size)
	}
	for _, fd := range r.fds {
		perfFiles.closeFD(fd)
	}
	for pid := range r.keepers {
		r.letGo(pid)
	}
	for _, fd := range r.markers {
		perfFiles.closeFD(fd)
	}
	r.fds, r.order, r.markers = nil, nil, nil
	clear(r.rings)
}

// perfFiles is the perf descriptors and ring mappings open in this
// process, so that a forced exit (RemoveAtExit) can let go of them while
// a reader may still be reading: a probe stays armed as long as its
// event is open, and a mapping holds its event open. Each is released
// once, by whichever of the reader and the forced exit comes first, so
// that a number or an address the system gives again is never released.
var perfFiles = perfSet{fds: map[int]bool{}, maps: map[unsafe.Pointer]uintptr{}}

type perfSet struct {
	mu   sync.Mutex
	fds  map[int]bool
	maps map[unsafe.Pointer]uintptr
}

func (p *perfSet) addFD(fd int) {
	p.mu.Lock()
	p.fds[fd] = true
	p.mu.Unlock()
}

func (p *perfSet) addMap(mem unsafe.Pointer, size uintptr) {
	p.mu.Lock()
	p.maps[mem] = size
	p.mu.Unlock()
}

// closeFD closes fd if it is still open here.
func (p *perfSet) closeFD(fd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fds[fd] {
		delete(p.fds, fd)
		_ = syscall.Close(fd)
	}
}

// unmap unmaps a ring if it is still mapped here.
func (p *perfSet) unmap(mem unsafe.Pointer, size uintptr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.maps[mem]; ok {
		delete(p.maps, mem)
		_ = unix.MunmapPtr(mem, size)
	}
}

// closeAll lets go of every event still open: each ring is replaced in
// place by zeroed anonymous memory (a reader still reading it finds it
// empty, never a fault), then the descriptors are made copies of
// /dev/null (dup2), so that their numbers stay taken: a reader never
// touches a file opened since under the same number (review).
func (p *perfSet) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for mem, size := range p.maps {
		_, err := unix.MmapPtr(-1, 0, mem, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED)
		if err != nil {
			// Not replaced: stays mapped (and its event open) until
			// the process exits, which a forced exit is about to do.
			continue
		}
	}
	clear(p.maps)
	null, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for fd := range p.fds {
		if err != nil || unix.Dup2(null, fd) != nil {
			_ = syscall.Close(fd)
		}
	}
	if err == nil {
		_ = syscall.Close(null)
	}
	clear(p.fds)
}
