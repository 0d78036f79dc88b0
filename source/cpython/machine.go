package cpython

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// defaultInterval is CPython's default switch interval (5 ms,
// sys.getswitchinterval()), used until the process's own is read.
const defaultInterval = 5_000_000

// machine turns the probe hits of the traced processes, in time order,
// into the event protocol of package tracer.
//
// Events are kept per thread until finish, which creates the recorder's
// threads (named by then) and emits them: a thread's name and the
// ThreadID of a drop request's holder are known only later than its first
// events.
type machine struct {
	// mu is held by whoever uses the machine: the recording loop
	// handling events, the reading goroutine preparing them.
	mu sync.Mutex

	rec *tracer.Recorder
	in  *interp
	// intervalsRead: the sampler's goroutine reads the processes' switch
	// intervals (evInterval), not the probes' path (noteInterval).
	intervalsRead bool
	// execs: by process, its last exec (execed).
	execs map[int]*execAt
	// root is the program started or the process attached to (0 if not
	// known): the process named after the workload, whichever process's
	// event comes first (a multiprocessing pool's worker may).
	root int
	// inlined are the probes on inlined copies of the probed functions,
	// by event name (link-time optimised builds).
	inlined map[string]*inlineProbe
	// live is the provisional recording (tracer.LiveSource), or nil: every
	// table row rec gets, live gets too, in the same order (so the IDs of
	// strings, frames, stacks and processes are the same in both); locks
	// and threads have IDs of their own there (liveGIL, liveID, live).
	live       *tracer.Recorder
	liveBroken bool   // an ID differed, or live could not follow (liveStop): live gets nothing more
	liveStop   string // why live stopped (stopLive), at liveStopAt
	liveStopAt int64
	// liveStopBuf: the live buffer cut off at liveStopAt (tracer's Cut)
	liveStopBuf *tracer.Buffer
	// liveHorizon: every hit before it (trace time) is handled, set by
	// the recording loop before publishLive (0: not known); a thread
	// blocked in a call emitted provisionally emits nothing before it
	// (tracer.Buffer.Quiet).
	liveHorizon int64
	liveLocks   map[[2]uint64]tracer.LockID  // the newest live guest lock by process and address
	liveOwner   map[tracer.LockID]*guestLock // the guest lock of each live guest lock, once it has one
	strs        map[tracer.StringID]string   // rec's strings interned (I/O kinds), for live
	fa          frameArgs
	maxDepth    int
	workload    string
	mem         memReader

	procs   map[int]*proc
	pidMu   sync.Mutex // guards pids
	pids    []int      // the keys of procs, in order
	threads map[int]*thread
	order   []*thread
	stacks  map[[2]uint32]tracer.StackID
	stackOf map[tracer.StackID]tracer.Stack // each stack's parent and innermost frame
	// nativeWaits counts the GIL-releasing calls of extension modules
	// shown as I/O ioNativeWait: their thread was found asleep, or their
	// site's read calls were (nwsite.go).
	nativeWaits int
	// sites: the call sites of extension modules' GIL-releasing calls,
	// with the evidence of their read calls (nwsite.go); inferredWaits:
	// the calls without evidence of their own shown as native-wait by
	// their site's.
	sites         map[siteKey]*nwSite
	inferredWaits int
	// names and nameTries: per task, its Python name once read.
	names     map[int]string
	nameTries map[int]int
	syms      map[string]*symbolize

	repairs   int // inconsistencies mended (missed events)
	lateDrops int // drop requests placed at the release they caused (lateDrop)
	// unexplainedDrops: releases on the eval breaker with a waiter but
	// none that could have asked in time (lateDrop): left without a request.
	unexplainedDrops int
	inferredNative   int  // native calls keeping the GIL, inferred
	heldSamples      int  // stacks read during long holds and used (sampledHold)
	lockTimeouts     int  // lock waits shown as I/O "lock-timeout"
	crossReleases    int  // guest locks released by another thread than their holder
	unmatchedLocks   int  // guest-lock acquires and releases left out of the trace
	lockHolds        bool // guest-lock acquires' outcomes and releases are probed
	glocks           []*guestLock
	windowFrames     int // callers read from the data-stack window of a hit
	// existed: the tasks of the process attached to when tracing began
	// (until each is started).
	existed map[int]bool
	now     int64 // the latest probe hit handled
	// forkedFrom: the process each traced process was forked from
	// (task_newtask), by pid.
	forkedFrom map[int]int
}

// layoutIPs bounds the probe addresses kept per process (proc.ips).
const layoutIPs = 4

// memReader gives a traced process's memory and map; tests replace it.
type memReader interface {
	memory(pid int) *memory
	mapping(pid int, addr uint64) (path string, vaddr uint64, ok bool)
	interval(pid int) (int64, bool)
	holder(pid int) (ts, switches uint64, ok bool) // the GIL's holder now, if locked, and its changes of holder
	codeType(pid int) (uint64, bool)               // PyCode_Type's address in process pid, if known
	// forget drops what is known of process pid's address space: it
	// exec'd.
	forget(pid int)
}

type proc struct {
	pid int
	// exited: its main thread exited (sched_process_exit), so the
	// sampler no longer reads it (tracedPIDs), until a probe hit of the
	// same pid (an exec into the interpreter, a reused pid) says it runs
	// Python again.
	exited bool
	// nsOther: in another PID namespace than giltrace (otherNS, read
	// once: nsRead).
	nsOther, nsRead bool
	id              tracer.ProcID
	gil             tracer.LockID // NoLock: free-threaded
	liveGIL         tracer.LockID // gil in the live recording
	threads         []*thread
	locks           map[uint64]*guestLock // by address: the lock now at it
	lockGen         map[uint64]int        // by address: locks freed there
	codes           map[uint64]*code
	ra              map[uint64]blocking
	// prefetched: the blocking calls' return addresses prefetch
	// classified (ra holds those it could).
	prefetched map[uint64]bool
	// ips: the probe addresses of its first hits, by event (at most
	// layoutIPs): where its interpreter is mapped, to tell a forked
	// child that still has its parent's layout (sameLayoutParent).
	ips map[string]uint64

	holder          *thread
	holderSince     int64
	lastChange      int64 // last acquire or release of the GIL
	lastReleaseDrop bool  // the last release was on a drop request...
	lastReleaser    *thread
	dropSent        bool  // a drop request was inferred for the current hold
	dropAt          int64 // when

	interval     int64 // switch interval, ns
	intervalRead bool  // read from the process
	intervalAt   int64
	intervals    []intervalChange // each value read, from when it was first read (the first from the start)
}

// intervalChange is a switch interval read from a process (ns), and when
// it was first read: sys.setswitchinterval takes effect at once, and is
// seen at the next reading, at most refreshEvery later.
type intervalChange struct{ at, ns int64 }

// refreshEvery is how often a process's switch interval is read again,
// in trace time, at its threads' probe hits.
const refreshEvery = 100_000_000

// thread is the state of one traced thread.
type thread struct {
	tid  int
	p    *proc
	name string
	// ioAsleep counts the readings that found the thread asleep in an I/O
	// call on a descriptor (a read, write, recv, send, a poll of one),
	// ownIO those of them waiting on a pipe or loopback connection whose
	// other end its process holds (ownio.go); traced: its thread in the
	// trace, once finish made it (NoThread before).
	ioAsleep, ownIO int
	// ioReads counts every reading of the thread in an I/O call, ioAwake
	// those that found it running or runnable: CPU in the call (the
	// kernel copying a file read from the page cache), or a wake-up
	// waiting for a core (QA: a pool of 16 on one core, its file reads
	// 17 ms with one worker and 340 ms with 16; diagnosis.CoreIO).
	ioReads, ioAwake int
	// unread: its I/O calls on a file descriptor (disk, blocking: a
	// pipe's read or write) that no reading reached, by index in events; ownAt: by innermost
	// frame, its calls that the readings found asleep on a descriptor,
	// and of them those on its own pipes (I/O "own-io"). At finish an
	// unread call made where nine in ten such calls were "own-io" is too
	// (finish).
	unread []int32 // 4 bytes an I/O call
	ownAt  map[tracer.FrameID][2]int32
	traced tracer.ThreadID
	events []pending
	live   *tracer.Buffer // in the live recording, once it has an event
	liveN  int            // events emitted into live
	prov   *provisional   // a blocking call emitted into live before its end
	lst    liveState      // what its events in live left it in

	started, ended bool
	skip           bool // seen first inside a blocking call (attach): wait for take_gil
	holds          bool
	// unexplained: the time of the thread's release taken for the eval
	// breaker's while no other thread waited for the GIL (none asked for
	// it), 0 for none; its end right after it (end) is at that release.
	unexplained int64
	inTake      bool
	takeStart   int64
	waiting     bool
	waitStart   int64
	sec         *section
	ending      bool
	park        uint64 // a lock about to be waited for (3.13 parking lot)
	parkTimeout int64  // park's timeout in ns, or <= 0: none
	acq         lockCall
	held        []*guestLock // guest locks shown held, in order of acquire
	owed        []*guestLock // of held: released, shown released once it has the GIL back
	last        int64

	stack     tracer.StackID
	frames    []tracer.FrameID // outermost first
	top       tracer.Frame     // innermost frame of its stack
	nameFrom  []tracer.Frame   // the stack that named it
	nameTries int              // stacks looked at for a better nameFrom

	ts      uint64       // its thread state (take_gil's argument)
	samples []heldSample // its stack read from memory during the hold that goes on
}

// pending is an event kept until finish.
type pending struct {
	t    int64
	kind tracer.Kind
	st   tracer.StackID
	arg  uint64
	peer *thread    // a drop request's holder
	lock *guestLock // a guest-lock event's lock: arg is its code
}

// section is a blocking call: PyEval_SaveThread to PyEval_RestoreThread.
type section struct {
	start, drop int64
	dropped     bool
	ra          uint64 // return address of PyEval_SaveThread: its caller
	lock        uint64
	hasLock     bool
	observed    bool  // the lock's acquire is probed: its outcome is known
	timed       bool  // the lock's acquire has a timeout (it may end without the lock)
	timeout     int64 // that timeout in ns (timed)
	failed      bool  // the acquire returned without the lock
	// watched: a call of an extension module (native by classify), whose
	// thread's scheduler states read during it (taskState) tell whether
	// it waited; asleep and awake count the readings that found the
	// thread sleeping (S, D) and running or runnable (R), woke the times
	// of those running since the last asleep (at most maxWoke, the
	// latest: section.readings).
	watched       bool
	asleep, awake int
	woke          []int64
	// listen and onFD count, for an I/O call, the readings that found its
	// thread asleep waiting for a connection (accept, a poll of a
	// listening socket) and those that found it asleep on another
	// descriptor: a call most of whose readings were the first is I/O
	// "listen" (ioListen). own counts those of onFD that found it on a
	// pipe or loopback connection whose other end its process holds: a
	// call most of whose readings were so is I/O "own-io" (ioOwn). reads
	// counts every reading of an I/O call, whatever it found.
	listen, onFD, own, reads int
}

func newMachine(rec *tracer.Recorder, in *interp, fa frameArgs, maxDepth int, workload string, mem memReader) *machine {
	m := &machine{rec: rec, in: in, fa: fa, maxDepth: maxDepth, workload: workload, mem: mem,
		procs: map[int]*proc{}, threads: map[int]*thread{}, stacks: map[[2]uint32]tracer.StackID{}, stackOf: map[tracer.StackID]tracer.Stack{}, names: map[int]string{}, nameTries: map[int]int{}, syms: map[string]*symbolize{}, forkedFrom: map[int]int{},
		liveLocks: map[[2]uint64]tracer.LockID{}, liveOwner: map[tracer.LockID]*guestLock{}}
	if in != nil && len(in.inlined) > 0 {
		m.inlined = map[string]*inlineProbe{}
		for i := range in.inlined {
			m.inlined[in.inlined[i].name] = &in.inlined[i]
		}
	}
	return m
}

func (m *machine) proc(pid int) *proc {
	if p, ok := m.procs[pid]; ok {
		if p.exited {
			p.exited = false
			m.pidMu.Lock()
			m.pids = append(m.pids, pid)
			m.pidMu.Unlock()
		}
		return p
	}
	name := m.workload
	if m.root > 0 && pid != m.root || m.root <= 0 && len(m.procs) > 0 {
		name = fmt.Sprintf("%s child %d", m.workload, pid)
	}
	p := &proc{pid: pid, id: m.rec.AddProcess(name, pid), gil: tracer.NoLock, liveGIL: tracer.NoLock, locks: map[uint64]*guestLock{},
		codes: map[uint64]*code{}, ra: map[uint64]blocking{}, ips: map[string]uint64{}, interval: defaultInterval, intervalAt: -1 << 62}
	if !m.in.NoGIL {
		p.gil = m.rec.AddLock("GIL", p.id, true)
	}
	if m.live != nil {
		m.liveSame(int(p.id), int(m.live.AddProcess(name, pid)))
		if !m.in.NoGIL {
			p.liveGIL = m.live.AddLock("GIL", p.id, true)
		}
	}
	m.procs[pid] = p
	m.pidMu.Lock()
	m.pids = append(m.pids, pid)
	m.pidMu.Unlock()
	return p
}

// statePIDs is the processes whose threads' scheduler states the sampler
// reads (taskStates): those traced so far and the one started or
// attached to, known before the machine handles its first event.
func (m *machine) statePIDs() []int {
	pids := m.tracedPIDs()
	if m.root > 0 && !slices.Contains(pids, m.root) {
		pids = append(pids, m.root)
	}
	return pids
}

// watchSection marks th's blocking call s (it released the GIL) for the
// readings of its thread's scheduler state when the call is an extension
// module's (classify: native work): whether the thread then slept or ran
// tells a C call that waited (a database driver on its socket, ctypes)
// from one that computed. The sampler reads every live thread's state,
// whatever it is doing: the machine handles the probe hits some
// milliseconds after they happen (tens at the start), so readings begun
// at its notice would miss a call's start, or all of a short one; a
// reading counts against the call it falls in (taskState), as events are
// handled in time order.
func (m *machine) watchSection(th *thread, s *section) {
	s.watched = !s.hasLock && !m.blocking(th.p, s.ra).io
}

// taskState counts a reading of a task's scheduler state (evTaskState at
// t, the end of the read, "asleep" 1 or 0) against its thread's watched
// blocking call, if the reading fell inside it: the read began ("window"
// ns before t) after the call's release. A read that began before it may
// have found the thread as it was before the call (asleep waiting for the
// GIL, or in the call before), and is not counted.
func (m *machine) taskState(e *rawEvent, t int64) {
	th, ok := m.threads[e.tid]
	if !ok || th.ended {
		return
	}
	s := th.sec
	if s == nil || !s.dropped || s.hasLock || t-int64(e.val("window")) < s.drop {
		return
	}
	if !s.watched {
		s.reads++
		th.ioReads++
		if e.val("asleep") == 0 {
			th.ioAwake++
		}
		// An I/O call: a reading that found the thread asleep on a
		// descriptor, and whether one whose other end is its own
		// process's (ownio.go). Not the readings of other waits (a
		// sleep): idle heartbeat threads took a ping-pong's share from
		// 97 % to 13 % (QA).
		if e.val("asleep") != 0 && e.val("listen") != 0 {
			s.listen++
		} else if e.val("asleep") != 0 && e.val("fd") != 0 {
			s.onFD++
			th.ioAsleep++
			if e.val("own") != 0 {
				th.ownIO++
				s.own++
			}
		}
		return
	}
	if e.val("asleep") != 0 {
		s.asleep++
		s.woke = s.woke[:0]
		return
	}
	s.awake++
	if len(s.woke) == maxWoke {
		s.woke = append(s.woke[:0], s.woke[1:]...)
	}
	s.woke = append(s.woke, t)
}

// tracedPIDs is the processes traced so far, for the sampler (which does
// not take mu).
func (m *machine) tracedPIDs() []int {
	m.pidMu.Lock()
	defer m.pidMu.Unlock()
	return append([]int(nil), m.pids...)
}

func (m *machine) thread(tid, tgid int) *thread {
	if th, ok := m.threads[tid]; ok && !th.ended {
		return th
	}
	if tgid <= 0 {
		tgid = tid
	}
	p := m.proc(tgid)
	th := &thread{tid: tid, p: p, last: -1, traced: tracer.NoThread}
	if tid == tgid {
		th.name = "MainThread"
	}
	if old, ok := m.threads[tid]; ok && old.ended {
		delete(m.names, tid) // a new thread with the id of an ended one
		delete(m.nameTries, tid)
	}
	m.threads[tid] = th
	m.order = append(m.order, th)
	p.threads = append(p.threads, th)
	return th
}

// execAt is a traced process's exec of another program (os.execv): when,
// into what, and whether a probe hit from the process came after it (the
// probed interpreter again: the program re-executed itself, and goes on
// being traced).
type execAt struct {
	t       int64
	path    string
	settled bool
}

// execed handles the exec of a traced process (sched_process_exec, at t):
// its exec'ing thread (the event's old_pid: a thread that is not the
// main one takes the process's id at the exec) ends there, as its other
// threads did (execve ended them: sched_process_exit). The program it
// became is a new one: when it is the probed interpreter again (a program
// re-executing itself), its probe hits come from new threads; when it is
// not, none come, and the trace says so (untracedExecs; QA: a program
// that exec'd /bin/sleep 1 showed the sleep as its main thread running
// Python with the GIL, 1.09 s, a busy machine and a verdict of its own;
// review: the same from a thread that was not the main one).
func (m *machine) execed(e *rawEvent, t int64) {
	tid := int(int32(e.val("old_pid")))
	if tid <= 0 {
		tid = e.tid
	}
	th, ok := m.threads[tid]
	if !ok || th.ended || th.p == nil {
		return
	}
	p := th.p
	pid := p.pid
	path, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if m.execs == nil {
		m.execs = map[int]*execAt{}
	}
	m.execs[pid] = &execAt{t: t, path: path}
	if th.sec != nil {
		m.closeSection(th, t, true)
	}
	m.end(th, t, tracer.ReleaseThreadEnd)
	// What was read of its address space from here is another program's:
	// the call sites' kinds, the code objects, the probe addresses (its
	// map and the interpreter's load address: prepare).
	clear(p.ra)
	clear(p.prefetched)
	clear(p.codes)
	clear(p.ips)
}

// untracedExecs describes the execs into programs the probes do not see,
// for the trace's metadata ("pid 123 exec'd /usr/bin/sleep at 1.05s").
func (m *machine) untracedExecs() string {
	var out []string
	for pid, x := range m.execs {
		if !x.settled {
			out = append(out, fmt.Sprintf("pid %d exec'd %s at %v", pid, cmp.Or(x.path, "another program"), time.Duration(x.t).Round(time.Millisecond)))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// emit keeps an event of th at t or, if t is not after its last event,
// just after it; it returns the time kept.
func (m *machine) emit(th *thread, t int64, k tracer.Kind, arg uint64) int64 {
	return m.emitStack(th, t, k, th.stack, arg)
}

func (m *machine) emitStack(th *thread, t int64, k tracer.Kind, st tracer.StackID, arg uint64) int64 {
	if t <= th.last {
		t = th.last + 1
	}
	th.last = t
	th.events = append(th.events, pending{t: t, kind: k, st: st, arg: arg})
	return t
}

// unalias names a hit of a probe on an inlined copy (drop_gil_i3) by the
// event of the function copied (drop_gil), keeping the probe in e.inl.
func (m *machine) unalias(e *rawEvent) {
	if p, ok := m.inlined[e.event]; ok {
		e.event, e.inl = p.event, p
	}
}

// step handles one probe hit at run time t (ns).
func (m *machine) step(e *rawEvent, t int64) {
	m.now = max(m.now, t)
	m.inferDrops(t)
	if e.event == evExec {
		m.execed(e, t)
		return
	}
	if e.event == evExit {
		if th, ok := m.threads[e.tid]; ok {
			m.end(th, t, tracer.ReleaseThreadEnd)
			if p := th.p; p != nil && th.tid == p.pid && !p.exited {
				// The process is gone: the sampler stops reading it
				// (every tick, for the rest of the run: a pool's workers
				// come and go).
				p.exited = true
				m.pidMu.Lock()
				m.pids = slices.DeleteFunc(m.pids, func(pid int) bool { return pid == p.pid })
				m.pidMu.Unlock()
			}
		}
		return
	}
	if e.event == evSample {
		m.sample(e, t)
		return
	}
	if e.event == evInterval {
		m.intervalsRead = true
		if p, ok := m.procs[e.tgid]; ok {
			m.noteInterval(p, int64(e.val("interval")), t)
		}
		return
	}
	if e.event == evTaskState {
		m.taskState(e, t)
		return
	}
	if x, ok := m.execs[e.tgid]; ok && !x.settled {
		x.settled = true // a probe hit after the exec: the probed interpreter again
	}
	th := m.thread(e.tid, e.tgid)
	if p := th.p; len(p.ips) < layoutIPs {
		if _, ok := p.ips[e.event]; !ok {
			if ip := e.val("__probe_ip"); ip != 0 {
				p.ips[e.event] = ip
			}
		}
	}
	m.refreshInterval(th.p, t)
	m.unalias(e)
	if p := e.inl; p != nil { // a hit of a probe on an inlined copy
		switch e.event {
		case evDropGIL:
			if p.alsoSave {
				m.saveThread(th, t, e.val("__probe_ip"), false)
			}
		case evSave: // the blocking call is the function holding the copy, or a clone's caller
			m.saveThread(th, t, saveSite(e), false)
			return
		case evPark: // a clone of the parking lot, its timeout located or constant
			th.park, th.parkTimeout = e.val("lock"), int64(e.val("timeout"))
			if p.usConst {
				th.parkTimeout = p.us
			}
			return
		case evLock:
			us := int64(e.val("us"))
			if p.usConst {
				us = p.us
			}
			m.lockEntry(th, e.val("lock"), us)
			return
		}
	}
	switch e.event {
	case evTakeGIL:
		th.ts = e.val("ts")
		m.takeGIL(th, t)
	case evTakeGILRet:
		m.takeGILReturn(th, t)
	case evDropGIL:
		m.dropGIL(th, t, e)
	case evSave:
		m.saveThread(th, t, e.val("ra"), false)
	case evRestore, evAttach:
		if !th.skip && th.sec != nil {
			m.closeSection(th, t, false)
		}
	case evLock:
		m.lockEntry(th, e.val("lock"), int64(e.val("us")))
	case evLockRet:
		m.lockReturn(th, t, int64(e.val("ret")))
	case evUnlock:
		m.lockRelease(th, t, e.val("lock"))
	case evFreeLock:
		m.lockFreed(th.p, e.val("lock"))
	case evPark:
		// 3.13: the parking lot parks before it detaches the thread.
		th.park, th.parkTimeout = e.val("lock"), int64(e.val("timeout"))
	case evDetach:
		switch m.caller(th.p, e.val("ra")) {
		case "PyEval_SaveThread": // its own probe opened the section
		case "_PyThreadState_Detach": // a clone of detach_thread it calls: its own probe saw the detach, with its caller
		case "_Py_HandlePending": // the eval breaker: a drop request
		default: // the parking lot (a lock wait when it parked on one), or another detach
			if th.sec == nil {
				m.saveThread(th, t, e.val("ra"), true)
			}
		}
	case evThreadEnd:
		if th.started || m.startHolding(th, t) {
			th.ending = true
		}
	}
}

// start begins th at t: a thread of the process attached to that existed
// then (and not one that reused its task ID) begins as ThreadExisted.
func (m *machine) start(th *thread, t int64) {
	th.started, th.skip = true, false
	var arg uint64
	if m.existed[th.tid] {
		arg = tracer.ThreadExisted
		delete(m.existed, th.tid)
	}
	m.emit(th, t, tracer.KindThreadStart, arg)
}

// startHolding begins a thread first seen holding the GIL (attach, or a
// missed take_gil): ThreadStart and an acquire just before t. It reports
// false for a thread first seen inside a blocking call.
func (m *machine) startHolding(th *thread, t int64) bool {
	if th.skip {
		return false
	}
	m.start(th, t-2)
	m.acquire(th, t-1, tracer.AcquireUncontended)
	return true
}

// takeGIL: take_gil entered; a wait if another thread holds the GIL.
func (m *machine) takeGIL(th *thread, t int64) {
	if !th.started {
		m.start(th, t)
	}
	if th.sec != nil {
		m.closeSection(th, t, false)
	}
	if th.holds { // a release was missed
		m.repairs++
		m.release(th, t, tracer.ReleaseDropRequest)
	}
	th.inTake, th.takeStart, th.park = true, t, 0
	if p := th.p; p.holder != nil && p.holder != th {
		m.wait(th, t)
	}
}

func (m *machine) wait(th *thread, t int64) {
	if th.p.gil == tracer.NoLock || th.waiting {
		return
	}
	th.waitStart = m.emit(th, t, tracer.KindLockWait, tracer.LockArg(th.p.gil, 0))
	th.waiting = true
}

// takeGILReturn: take_gil returned; the thread holds the GIL.
func (m *machine) takeGILReturn(th *thread, t int64) {
	p := th.p
	if !th.started {
		if th.skip {
			return
		}
		m.start(th, t-1)
		th.inTake, th.takeStart = true, t-1
	}
	if th.holds {
		m.repairs++
		return
	}
	forced := p.lastReleaseDrop && p.lastReleaser != nil && p.lastReleaser != th
	if th.inTake && !th.waiting && (p.lastChange > th.takeStart || forced) {
		m.wait(th, th.takeStart)
	}
	how, at := tracer.AcquireUncontended, t
	if th.waiting {
		how = tracer.AcquireAfterWait
		if forced {
			how = tracer.AcquireForced
		}
	} else if th.inTake {
		// Uncontended: the GIL was free when the thread asked for it and
		// no thread took it or let it go since. Its time in take_gil is
		// the probes' own (a few microseconds a call, more than the rest
		// of the call), not a wait for the GIL: the acquire is shown
		// where the thread came to take it, just after its own last event
		// and the GIL's last change.
		at = min(t, max(th.last, p.lastChange+1))
	}
	m.acquire(th, at, how)
	for _, o := range p.threads {
		if o != th && o.inTake && !o.waiting && !o.ended {
			m.wait(o, max(o.takeStart, p.holderSince)) // from its take, or th's acquire
		}
	}
}

// acquire gives th the GIL at t, first releasing it from a holder whose
// release was missed, and ending a blocking call of th whose end was
// missed (its take_gil entry lost).
func (m *machine) acquire(th *thread, t int64, how tracer.Acquire) {
	p := th.p
	if th.sec != nil && th.sec.dropped {
		m.repairs++
		m.closeSection(th, t, false)
	}
	if p.holder != nil && p.holder != th {
		m.repairs++
		t = max(t, m.release(p.holder, t-1, tracer.ReleaseDropRequest)+1)
	}
	if p.gil != tracer.NoLock {
		if how == tracer.AcquireUncontended && th.waiting {
			how = tracer.AcquireAfterWait
		}
		t = m.emit(th, t, tracer.KindLockAcquire, tracer.LockArg(p.gil, uint8(how)))
	}
	p.holder, p.holderSince, p.lastChange, p.dropSent, p.lastReleaseDrop = th, t, t, false, false
	th.samples = nil // a hold that ended unseen leaves none to this one
	th.holds, th.inTake, th.waiting = true, false, false
	m.payOwed(th, t+1)
}

// release lets th's GIL go at t and returns the time recorded.
func (m *machine) release(th *thread, t int64, why tracer.Release) int64 {
	p := th.p
	if p.gil != tracer.NoLock {
		t = m.emit(th, t, tracer.KindLockRelease, tracer.LockArg(p.gil, uint8(why)))
	}
	if p.holder == th {
		p.holder = nil
	}
	p.lastChange = t
	p.lastReleaseDrop, p.lastReleaser = why == tracer.ReleaseDropRequest, th
	th.holds = false
	return t
}

// dropGIL: drop_gil entered with the thread's stack.
func (m *machine) dropGIL(th *thread, t int64, e *rawEvent) {
	if !th.started && !m.startHolding(th, t) {
		return
	}
	if !th.holds {
		m.repairs++
		m.acquire(th, t-1, tracer.AcquireUncontended)
	}
	frames := m.frames(th, e)
	if th.ending && len(frames) == 0 && len(th.samples) == 0 {
		// A thread ending has no frame left (3.12: no thread state), and
		// nothing read during its hold says where it ran: unknown, not
		// no code at all.
		frames = []tracer.Frame{unknownFrame}
	}
	if len(th.samples) > 0 {
		m.sampledHold(th, t, frames, false)
	} else {
		// The hold ran in the release's stack: the eval breaker releases
		// within a few instructions of where the thread was.
		m.setStack(th, frames)
		m.nativeHolding(th, t)
	}
	if th.name == "" {
		th.name = m.names[th.tid]
	}
	p := th.p
	switch {
	case th.sec != nil && !th.sec.dropped: // a blocking call: emitted at its end
		th.sec.dropped, th.sec.drop = true, t
		m.watchSection(th, th.sec)
		if p.holder == th {
			p.holder = nil
		}
		p.lastChange, p.lastReleaseDrop, p.lastReleaser = t, false, th
		th.holds = false
	case th.ending:
		m.release(th, t, tracer.ReleaseThreadEnd)
		m.releaseHeld(th, t, tracer.ReleaseThreadEnd)
		m.emit(th, t, tracer.KindThreadEnd, 0)
		th.ended = true
	default: // the eval breaker, on a drop request
		th.park = 0
		m.lateDrop(th, t)
		waited := p.dropSent
		for _, w := range p.threads {
			waited = waited || w != th && w.waiting && !w.ended
		}
		rt := m.release(th, t, tracer.ReleaseDropRequest)
		if !waited {
			th.unexplained = rt
		}
	}
}

// lateDrop emits, before th's release at t on a drop request, the drop
// request that inferDrops did not infer in time: the eval breaker drops
// the GIL only when a waiter asked, so the request came during this hold.
// inferDrops places a waiter's request by its wait's start; a waiter that
// a release woke but that lost the GIL to another thread began a new
// timed wait then, which the probes do not see, and its request came one
// interval after that, earlier than inferred (dropAfter). The request is
// put when the first waiter's timed wait of one interval, begun in this
// hold or at its switch, ended; a release that comes before any waiter
// could have waited that long gets none (unexplainedDrops). Without it the
// trace held forced switches that no drop request preceded (QA: 354
// forced switches against 202 drop requests, CPython 3.12). A release
// with no thread waiting keeps no request: its cause is unseen.
func (m *machine) lateDrop(th *thread, t int64) {
	p := th.p
	if p.holder != th || p.dropSent || p.gil == tracer.NoLock {
		return
	}
	var first *thread
	var at int64
	for _, w := range p.threads {
		if !w.waiting || w.ended || w == th {
			continue
		}
		d := dropAfter(w.waitStart, p.holderSince, p.interval)
		if w.waitStart <= p.holderSince {
			// Waiting at the last switch: perhaps woken by it, its timed
			// wait began again then.
			d = min(d, p.holderSince+p.interval)
		}
		if first == nil || d < at {
			first, at = w, d
		}
	}
	if first == nil {
		return
	}
	if at >= t {
		// No waiter could have waited a whole interval in this hold: the
		// release's cause is unseen (an interval changed since it was
		// read, or a release taken for the eval breaker's); no request
		// is invented, and the release is counted.
		m.unexplainedDrops++
		return
	}
	at = max(at, first.last+1, p.holderSince+1)
	if at >= t {
		m.unexplainedDrops++
		return // no room before the release
	}
	m.requestDrop(p, first, at)
	m.lateDrops++
}

// maxNameReads bounds the reads of a thread's name at its hits: a thread
// without a threading.Thread (C code's, _thread.start_new_thread's) stops
// costing them.
const maxNameReads = 6

// readName reads the Python name (threading.Thread._name) of thread tid
// of process p from its thread state ts, when its first releases of the
// GIL are read (not handled: the thread may have ended by then).
func (m *machine) readName(p *proc, tid int, ts uint64) {
	l := m.in.layout
	if tid == p.pid || m.names[tid] != "" || m.nameTries[tid] >= maxNameReads || l.objErr != nil || ts == 0 {
		return
	}
	m.nameTries[tid]++
	codes := func(addr uint64) *code { return m.code(p, addr) }
	check := tid
	if p.otherNS() {
		check = -1 // its threads' _native_id are IDs in its namespace
	}
	m.names[tid] = pythonThreadName(m.mem.memory(p.pid), l, codes, ts, check)
}

// otherNS reports whether the process is in another PID namespace than
// giltrace (a container), read once.
func (p *proc) otherNS() bool {
	if p.nsRead {
		return p.nsOther
	}
	p.nsRead, p.nsOther = true, otherPIDNamespace(p.pid)
	return p.nsOther
}

// nativeHoldingAfter is how long after a drop request the holder may take
// to release the GIL before the recorder infers that it was inside one
// long C call that keeps the GIL: one switch interval. The eval breaker
// is checked every few bytecodes, so a pure-Python holder releases within
// microseconds; only a single long instruction (a C function such as
// sum(range(...)), a regex match, a C extension) delays it this long.
func nativeHoldingAfter(p *proc) int64 { return p.interval }

// nativeHolding emits, for a holder that releases the GIL at t long after
// a drop request, a native call keeping the GIL from the drop request to
// the release (its start is not observed: it began before the request).
func (m *machine) nativeHolding(th *thread, t int64) {
	m.nativeHoldingAfter(th, t, th.last)
}

// nativeHoldingAfter is nativeHolding for a thread whose events after
// floor are only the stack changes that put it in the call's stack: the
// call begins just after them if they pass the drop request.
func (m *machine) nativeHoldingAfter(th *thread, t, floor int64) {
	p := th.p
	if !m.keptPastDrop(th, t) {
		return
	}
	end := t - 1
	if th.sec != nil && !th.sec.dropped {
		end = th.sec.start - 1
	}
	begin := max(p.dropAt, th.last+1)
	if end-begin < 2 || p.dropAt <= floor {
		return
	}
	m.emit(th, begin, tracer.KindNativeBegin, tracer.NativeArg(false))
	m.emit(th, end, tracer.KindNativeEnd, 0)
	m.inferredNative++
}

// keptPastDrop reports whether th, releasing the GIL at t, kept it so long
// after a drop request that it was inside a C call keeping the GIL.
func (m *machine) keptPastDrop(th *thread, t int64) bool {
	p := th.p
	return p.dropSent && p.holder == th && t-p.dropAt > nativeHoldingAfter(p)
}

// heldSample is a holder's stack read from memory at t during its hold.
type heldSample struct {
	t      int64
	frames []tracer.Frame
}

// maxHeldSamples bounds the samples kept for one hold (100 s at one per
// 10 ms); later ones are dropped, the last stack kept going on.
const maxHeldSamples = 10_000

// sample handles a reading of process e.tgid's GIL holder and its stack
// (sampler): kept for the hold that goes on, if the machine's
// holder is the thread read. The stacks at acquire and release alone
// charged a long hold to the release's stack: a single thread's 445 ms
// loop to the os.stat after it, or, on 3.11+, a C call keeping the GIL to
// the instruction after it (a time.sleep after b'x' * 400_000_000).
func (m *machine) sample(e *rawEvent, t int64) {
	p, ok := m.procs[e.tgid]
	if !ok {
		return
	}
	if e.nameTID > 0 && e.nameTID != p.pid && m.names[e.nameTID] == "" {
		if o, ok := m.threads[e.nameTID]; !ok || o.p == p {
			m.names[e.nameTID] = e.name
		}
	}
	if p.holder == nil {
		return
	}
	th := p.holder
	if !th.holds || th.ts == 0 || th.ts != e.val("ts") || t-int64(e.val("since")) <= p.holderSince || len(th.samples) >= maxHeldSamples {
		return
	}
	if th.sec != nil && !th.sec.dropped {
		return // entering a blocking call: its release is coming
	}
	raw, codes := e.frames, e.codes
	if len(raw) == 0 {
		return
	}
	more := len(raw) > m.maxDepth
	if more {
		raw, codes = raw[:m.maxDepth-1], codes[:m.maxDepth-1]
	}
	fs := m.resolve(p, raw, codes)
	if more {
		fs = append(fs, moreFrames)
	}
	m.noteStack(th, fs)
	th.samples = append(th.samples, heldSample{t: t, frames: fs})
}

// sampledHold emits the stacks of a hold read during it, ending at t in
// the release's stack: the hold runs in the first sample's stack from its
// start, in each next one from its time, and in the release's from just
// before the release. A C call keeping the GIL (keptPastDrop) is shown in
// the first stack read after the drop request, from the request.
func (m *machine) sampledHold(th *thread, t int64, release []tracer.Frame, ending bool) {
	p := th.p
	native := m.keptPastDrop(th, t)
	m.heldSamples += len(th.samples)
	first := true
	var inCall []tracer.Frame
	for _, s := range th.samples {
		if native && s.t > p.dropAt {
			if inCall == nil {
				inCall = s.frames
			}
			continue
		}
		at := s.t
		if first {
			at = th.last + 1
		}
		first = false
		m.setStackAt(th, s.frames, at)
	}
	if native {
		floor := th.last
		if inCall != nil {
			at := p.dropAt - 1
			if first {
				at = th.last + 1
			}
			m.setStackAt(th, inCall, at)
		}
		m.nativeHoldingAfter(th, t, floor)
	}
	if release != nil || !ending {
		at := t - 1
		if th.sec != nil && !th.sec.dropped {
			at = th.sec.start - 1 // the blocking call's own events begin there
		}
		m.setStackAt(th, release, at)
	}
	th.samples = nil
}

// saveThread: PyEval_SaveThread (or, 3.13, a detach elsewhere) entered, by
// the C function at ra; parked: the parking lot's detach, a wait for the
// lock it parked on if any.
func (m *machine) saveThread(th *thread, t int64, ra uint64, parked bool) {
	if !th.started && !m.startHolding(th, t) {
		return
	}
	if th.sec != nil {
		m.closeSection(th, t, false)
	}
	if th.holds {
		th.sec = &section{start: t, ra: ra}
		if parked && th.park != 0 {
			th.sec.lock, th.sec.hasLock = th.park, true
			if th.parkTimeout > 0 {
				th.sec.timed, th.sec.timeout = true, th.parkTimeout
			}
		}
	}
	th.park = 0
}

// closeSection emits the blocking call of th, ending at t unless the
// thread ended inside it.
func (m *machine) closeSection(th *thread, t int64, ended bool) {
	s := th.sec
	th.sec = nil
	if !s.dropped {
		return
	}
	p := th.p
	gilRel := func(why tracer.Release) {
		if p.gil != tracer.NoLock {
			m.emit(th, s.drop, tracer.KindLockRelease, tracer.LockArg(p.gil, uint8(why)))
		}
	}
	if s.hasLock {
		g := m.lock(p, s.lock)
		switch {
		case g.holder == th:
		case ended: // the thread ended waiting
			nameWait(g, th)
			m.emitLock(th, s.start, tracer.KindLockWait, g, 0)
			gilRel(tracer.ReleaseLockWait)
			return
		case !s.observed && lockFree(g) && !ranOut(th, s, t):
			// The acquire is not probed (3.13's parking lot, or lock
			// holds off): shown at the wait's end, the lock held until
			// the waiter has the GIL back.
			nameWait(g, th)
			m.emitLock(th, s.start, tracer.KindLockWait, g, 0)
			gilRel(tracer.ReleaseLockWait)
			m.take(th, g, t, tracer.AcquireAfterWait)
			th.owed = append(th.owed, g)
			return
		}
	}
	b, site := m.judgeWatched(th, s, t, ended, m.blocking(p, s.ra))
	if b.kind == ioNativeWait {
		m.nativeWaits++
	}
	if s.hasLock {
		// The wait returned without the lock (a timeout), or, not
		// probed, another thread is shown holding it.
		b = blocking{io: true, kind: ioLockTimeout}
		m.lockTimeouts++
	}
	if b.io && !s.hasLock && s.listen > 0 && s.listen >= s.onFD {
		// Waiting for a connection: a server's accept loop, idle (QA: an
		// in-process server's serve_forever, polling its listening
		// socket until shutdown, was the limit "faster I/O would help").
		b.kind = ioListen
	}
	if b.io && !s.hasLock && b.kind != ioListen && s.own > 0 && 2*s.own >= s.onFD {
		// Waiting for another thread of its process, at the other end of
		// its pipe or loopback connection: a ThreadPool's worker handler
		// until the pool is closed, a message passed between threads
		// (ownio.go): a wait until that thread writes, not work.
		b.kind = ioOwn
	}
	// The I/O or the native call begins where the GIL is let go (s.drop),
	// not at PyEval_SaveThread's entry (s.start): the few microseconds in
	// between the thread still holds the GIL (QA: a GIL hold longer than
	// the holder's running time, and waits blamed on a holder in I/O).
	if site != nil { // a call without evidence of its own, judged by its site's
		m.noteJudged(site, th, s, len(th.events), t-s.drop, b.io, p.gil != tracer.NoLock, !ended)
	}
	if b.io {
		switch {
		case s.onFD > 0:
			if th.ownAt == nil {
				th.ownAt = map[tracer.FrameID][2]int32{}
			}
			at := m.leaf(th.stack)
			c := th.ownAt[at]
			c[1]++
			if b.kind == ioOwn {
				c[0]++
			}
			th.ownAt[at] = c
		case s.reads == 0 && (b.kind == ioDisk || b.kind == ioOther):
			// Not a socket's or a select's (network): an event loop's one
			// line of epoll waits on its self-pipe and on its connections
			// alike, the short ones never read (review: 1695 of 1712 made
			// own-io beside a local HTTP server).
			// Not read at all: a reading that found it running, or asleep
			// in another call (select on a child's pipe, a file's read),
			// says it was no wait on its own pipes (review).
			th.unread = append(th.unread, int32(len(th.events)))
		}
		m.emit(th, s.drop, tracer.KindIOBegin, uint64(m.intern(b.kind)))
		gilRel(tracer.ReleaseIO)
		if !ended {
			m.emit(th, t, tracer.KindIOEnd, 0)
		}
		return
	}
	m.emit(th, s.drop, tracer.KindNativeBegin, tracer.NativeArg(true))
	gilRel(tracer.ReleaseNative)
	if !ended {
		m.emit(th, t, tracer.KindNativeEnd, 0)
	}
}

// blocking classifies the blocking call made from return address ra.
func (m *machine) blocking(p *proc, ra uint64) blocking {
	if b, ok := p.ra[ra]; ok {
		return b
	}
	path, fn := m.symbol(p, ra)
	if path == "" {
		// The process's map could not be read (it has exited). A
		// forked child with its parent's layout still is classified, by
		// its parent's map (a child of some tens of milliseconds, whose
		// events were handled after its exit: its time.sleep was shown
		// as a blocking call of unknown kind).
		pp := m.sameLayoutParent(p)
		if pp == nil {
			return blocking{io: true, kind: ioOther} // unknown, not cached
		}
		if b, ok := pp.ra[ra]; ok {
			return b
		}
		if path, fn = m.symbol(pp, ra); path == "" {
			return blocking{io: true, kind: ioOther}
		}
	}
	b := classify(path, fn)
	p.ra[ra] = b
	return b
}

// sameLayoutParent is the traced process p was forked from, if p's
// interpreter is where its parent's is: each probe address p hit is its
// parent's for the same probe, and there is one at least. A child that
// exec'd (a new interpreter, mapped elsewhere) is not its parent's.
func (m *machine) sameLayoutParent(p *proc) *proc {
	pp := m.procs[m.forkedFrom[p.pid]]
	if pp == nil || pp == p {
		return nil
	}
	same := 0
	for ev, ip := range p.ips {
		if pip, ok := pp.ips[ev]; ok {
			if pip != ip {
				return nil
			}
			same++
		}
	}
	if same == 0 {
		return nil
	}
	return pp
}

// caller is the function containing return address ra, or "".
func (m *machine) caller(p *proc, ra uint64) string {
	_, fn := m.symbol(p, ra)
	return fn
}

func (m *machine) symbol(p *proc, addr uint64) (path, fn string) {
	path, vaddr, ok := m.mem.mapping(p.pid, addr)
	if !ok {
		return "", ""
	}
	s, ok := m.syms[path]
	if !ok {
		s = newSymbolize(path)
		m.syms[path] = s
	}
	return path, s.lookup(vaddr)
}

// end ends th at t: whatever it holds is released for why.
func (m *machine) end(th *thread, t int64, why tracer.Release) {
	if th.ended {
		return
	}
	th.ended = true
	if !th.started {
		return
	}
	if why == tracer.ReleaseThreadEnd && !th.holds && th.sec == nil && th.unexplained != 0 && th.unexplained == th.last {
		// Its last event is a release that no waiter asked for (3.12's
		// and 3.13's last release of a one-thread program, in the
		// interpreter's finalization): the thread was not waiting for the
		// GIL after it, as a release on a request implies, it was ending
		// (QA: every one-thread program showed a GIL wait of up to 1.3 ms
		// at its exit, the report's "longest GIL wait").
		t = th.last + 1
	}
	if th.sec != nil {
		m.closeSection(th, t, true)
	}
	if th.holds {
		if len(th.samples) > 0 {
			// A hold ended without a drop_gil (the process exited, the
			// run was cut off): it ran in the stacks read during it, and
			// stays in the last one.
			m.sampledHold(th, t, nil, true)
		}
		m.release(th, t, why)
	}
	m.releaseHeld(th, t, why)
	m.emit(th, t, tracer.KindThreadEnd, 0)
	th.waiting, th.inTake = false, false
}

// inferDrops emits the drop requests that waiters made before now: a
// waiter that has waited one switch interval since it began waiting or
// since the holder took the GIL, whichever is later, while the holder kept
// it, sets the drop request (take_gil's timed wait in ceval_gil.c).
func (m *machine) inferDrops(now int64) {
	for _, p := range m.procs {
		if p.holder == nil || p.dropSent {
			continue
		}
		var first *thread
		var at int64
		for _, w := range p.threads {
			if !w.waiting || w.ended {
				continue
			}
			d := dropAfter(w.waitStart, p.holderSince, p.interval)
			if d < now && (first == nil || d < at) {
				first, at = w, d
			}
		}
		if first != nil {
			m.requestDrop(p, first, at)
		}
	}
}

// requestDrop emits waiter w's drop request to p's holder at at (after
// w's last event), for the rest of the hold.
func (m *machine) requestDrop(p *proc, w *thread, at int64) {
	t := max(at, w.last+1)
	w.events = append(w.events, pending{t: t, kind: tracer.KindDropRequest, st: w.stack, arg: uint64(p.gil), peer: p.holder})
	w.last = t
	p.dropSent, p.dropAt = true, at
}

// dropAfter is when a waiter whose wait began at start sets the drop
// request on a holder that took the GIL at since, as take_gil does: its
// timed waits of one interval follow one another from start, and only a
// wait that began after the switch (switch_number unchanged at its
// expiry) sets the request. So a waiter that was already waiting when the
// holder took the GIL sets it at the end of its first wait begun after
// that, not one interval after the switch: 67.3 ms, not 62.3, for a wait
// begun at 57.28 ms and a switch at 57.34 ms (the holder, released at
// 67.45 ms, was shown ignoring the request for 5 ms in a C call keeping
// the GIL). A waiter the release woke but that lost the GIL to another
// thread begins again at the release, which this does not see: its
// request is later here than in CPython, never earlier.
func dropAfter(start, since, interval int64) int64 {
	if interval > 0 && start < since {
		start += (since - start + interval - 1) / interval * interval
	}
	return max(start, since) + interval
}

func (m *machine) refreshInterval(p *proc, t int64) {
	if t-p.intervalAt < refreshEvery || m.intervalsRead && p.intervalRead {
		return
	}
	p.intervalAt = t
	if v, ok := m.mem.interval(p.pid); ok {
		m.noteInterval(p, v, t)
	}
}

// noteInterval takes v, process p's switch interval read at t: the
// first reading is its interval from the start, the others its changes.
// The sampler's goroutine reads it every refreshEvery of real time
// (evInterval, m.intervalsRead) and dates it then; the probes' path, which
// reads it when it handles an event, only before the first such reading:
// a recorder behind its events (a loaded machine, -race) read the
// program's interval of now and dated it at an old event (review:
// TestSwitchIntervalChanged, 1 ms, set after 0.6 s of 20 ms, dated 129
// ms, and taken for the run's interval).
func (m *machine) noteInterval(p *proc, v, t int64) {
	if v <= 0 {
		return
	}
	switch {
	case !p.intervalRead:
		p.intervals = append(p.intervals, intervalChange{0, v})
	case v != p.interval:
		at := t
		if n := len(p.intervals); n > 0 {
			at = max(at, p.intervals[n-1].at) // in order, whoever read it
		}
		p.intervals = append(p.intervals, intervalChange{at, v})
	}
	p.interval, p.intervalRead = v, true
}

// mainInterval is the switch interval in effect for the longest time in
// all of process p's run up to end (the one set first on a tie), and
// whether it changed.
func (p *proc) mainInterval(end int64) (int64, bool) {
	total := map[int64]int64{}
	for i, c := range p.intervals {
		until := end
		if i+1 < len(p.intervals) {
			until = p.intervals[i+1].at
		}
		total[c.ns] += until - c.at
	}
	best, bestFor := p.interval, int64(-1)
	for _, c := range p.intervals { // in the order set: the first wins a tie
		if total[c.ns] > bestFor {
			best, bestFor = c.ns, total[c.ns]
		}
	}
	return best, len(p.intervals) > 1
}

// intervalsText says when p's switch interval changed: "20ms from the
// start, 1ms from 1.05s".
func (p *proc) intervalsText() string {
	var parts []string
	for _, c := range p.intervals {
		from := "from the start"
		if c.at > 0 {
			from = "from " + time.Duration(c.at).Round(time.Millisecond).String()
		}
		parts = append(parts, time.Duration(c.ns).String()+" "+from)
	}
	return strings.Join(parts, ", ")
}

// finish ends every thread still running at t (why: ReleaseInterrupt
// when the run was stopped) and emits every kept event into the recorder.
func (m *machine) finish(t int64, why tracer.Release) {
	for _, th := range m.order {
		if th.sec != nil && !th.ended {
			m.closeSection(th, t, true)
		}
		m.end(th, t, why)
	}
	m.publishLive()
	m.settleSites()
	m.assignLocks()
	seen := map[string]int{}
	bufs := map[*thread]*tracer.Buffer{}
	for _, th := range m.order {
		if len(th.events) == 0 {
			continue
		}
		name := th.name
		if name == "" {
			name = threadName(th.nameFrom, th.tid)
		}
		// The second thread of a name is "name #2", the third "name #3"
		// (QA: every one after the first was "#2", counted by the name
		// with its suffix), skipping a name a thread already has.
		base := name
		key := fmt.Sprint(th.p.pid, base)
		for n := seen[key]; seen[fmt.Sprint(th.p.pid, name)] > 0; n++ {
			name = fmt.Sprintf("%s #%d", base, n+1)
		}
		seen[key]++
		if name != base {
			seen[fmt.Sprint(th.p.pid, name)]++
		}
		bufs[th] = m.rec.NewThread(name, th.p.id)
		th.traced = bufs[th].Thread()
	}
	for _, th := range m.order {
		// A call that no reading reached, made at the line (the innermost
		// frame) where nine in ten of the thread's calls that the
		// readings found asleep on a descriptor were on its own pipes,
		// waited on them too, most likely: I/O "own-io" (QA: a ping-pong
		// over os.pipe, 27 us a wait, had 40 ms of its 3.9 s of waits
		// caught by the readings, every 2 ms). Not the thread's other
		// calls (review: an event loop's thread, nine in ten of its
		// readings in epoll on its self-pipe, had its imports' file reads
		// made waits too), nor at a line whose read calls waited on other
		// descriptors too (an event loop's select with a server's
		// sockets). The line, not the whole stack: asyncio.run waits for
		// its shutdown thread from another caller than for its tasks.
		if len(th.ownAt) == 0 {
			continue
		}
		own := uint64(m.intern(ioOwn))
		for _, i := range th.unread {
			if c := th.ownAt[m.leaf(th.events[i].st)]; c[0] > 0 && 10*c[0] >= 9*c[1] {
				th.events[i].arg = own
			}
		}
	}
	for _, th := range m.order {
		b := bufs[th]
		for _, e := range th.events {
			if e.lock != nil && !e.lock.kept() {
				continue
			}
			arg := e.arg
			switch {
			case e.peer != nil:
				arg = tracer.DropArg(tracer.LockID(e.arg), bufs[e.peer].Thread())
			case e.lock != nil:
				arg = tracer.LockArg(e.lock.id, uint8(e.arg))
			}
			b.Emit(e.t, e.kind, e.st, arg)
		}
	}
}

// threadName names a thread from its stack (outermost first): the target
// of threading.Thread.run, or the run method of a Thread subclass, with
// its thread id.
func threadName(frames []tracer.Frame, tid int) string {
	if target := threadTarget(frames); target != "" {
		return fmt.Sprintf("%s (tid %d)", target, tid)
	}
	return fmt.Sprintf("thread %d", tid)
}

// threadTarget is the function a thread's stack (outermost first) runs
// under Thread._bootstrap_inner: the target of threading.Thread.run, or
// the run method of a Thread subclass; "" if the stack shows none (one
// seen in the thread's start-up, or its teardown: Thread._delete is no
// target).
func threadTarget(frames []tracer.Frame) string {
	for i, f := range frames {
		if !strings.HasSuffix(f.Func, "_bootstrap_inner") || i+1 >= len(frames) {
			continue
		}
		next := frames[i+1]
		if filepath.Base(next.File) != "threading.py" {
			return next.Func // a Thread subclass's run, in the program's file
		}
		if (next.Func == "Thread.run" || next.Func == "run") && i+2 < len(frames) {
			return frames[i+2].Func
		}
		return "" // threading's own: _delete, _set_ident, ...
	}
	return ""
}

// intern is rec.Intern, remembering the string for the live recording
// (where a provisional I/O interns its kind first: its IDs differ).
func (m *machine) intern(str string) tracer.StringID {
	id := m.rec.Intern(str)
	if m.live != nil {
		if m.strs == nil {
			m.strs = map[tracer.StringID]string{}
		}
		m.strs[id] = str
	}
	return id
}
