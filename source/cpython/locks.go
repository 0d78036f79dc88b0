package cpython

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/giltrace/giltrace/tracer"
)

// Guest locks: the PyThread locks of the traced program (threading.Lock,
// the lock under an RLock, a Condition's waiter locks, a thread's join
// lock, and the interpreter's own: the import lock, buffered I/O's).
//
// With lock holds observed (Options.LockHolds), every acquire's outcome
// (PyThread_acquire_lock_timed's return value) and every release
// (PyThread_release_lock) is a probe hit, and a hold is shown from the
// acquire's return to the release's entry. The trace must stay valid when
// the program does what a mutex may not: a lock released by a thread that
// did not acquire it (a Condition's waiter lock, released by the notifier),
// a lock acquired and never released (freed while held, or released while
// the holder had no GIL to show it). The rules:
//
//  1. A hold is shown only where the protocol allows it: an acquire
//     without a wait by a thread holding the GIL outside a blocking call;
//     an acquire after a wait at the end of the blocking call that waited.
//     Any other acquire (C code taking a lock without the GIL) is left out,
//     and so is its release.
//  2. A thread that waits for a lock it is shown holding (a Condition's
//     waiter lock) lets it go when it begins to wait.
//  3. A release by another thread than the one shown holding the lock ends
//     that thread's hold (cross_thread_releases): at once if it holds the
//     GIL outside a blocking call, else when it next takes the GIL (a
//     release needs the GIL in the trace). A release of a lock shown free
//     is left out (unmatched_lock_events).
//  4. An acquire of a lock that the trace still shows held by another
//     thread (its release not yet shown, see 3) goes to a new lock of the
//     same name and address: the old one keeps its holder until then.
//  5. A thread that ends lets go of what it holds (thread-end).
//
// Without observed holds, a lock wait's acquire is inferred at its end and
// the lock shown held until the waiter has the GIL back (ReleaseUnlock).

// lockAcquired is PY_LOCK_ACQUIRED, PyThread_acquire_lock_timed's return
// value for success (PY_LOCK_FAILURE is 0, PY_LOCK_INTR 2).
const lockAcquired = 1

// guestLock is one lock of a process as the trace shows it. Its LockID is
// given at finish, once its name is known: a lock is named when first
// waited for, and often held before.
type guestLock struct {
	addr   uint64
	gen    int // how many locks at addr were freed before this one was made
	name   string
	named  bool    // named by its first wait
	holder *thread // shown holding it, or nil
	proc   *proc
	id     tracer.LockID
	liveID tracer.LockID // in the live recording (NoLock until its first event there)

	first  *thread // its first holder
	shared bool    // held by two threads at least
	waited bool    // waited for
}

// lockCall is a PyThread_acquire_lock_timed call whose return is awaited.
type lockCall struct {
	addr     uint64
	blocking bool // microseconds != 0
	pending  bool
}

// lock returns the guest lock at addr, named "lock 0x..." after its
// address.
func (m *machine) lock(p *proc, addr uint64) *guestLock {
	if g, ok := p.locks[addr]; ok {
		return g
	}
	g := m.newLock(p, addr, fmt.Sprintf("lock %#x", addr))
	g.gen = p.lockGen[addr]
	return g
}

func (m *machine) newLock(p *proc, addr uint64, name string) *guestLock {
	g := &guestLock{addr: addr, name: name, proc: p, id: tracer.NoLock, liveID: tracer.NoLock}
	p.locks[addr] = g
	m.glocks = append(m.glocks, g)
	return g
}

// nameWait names g after its first waiter: " (Thread.join)" when it
// waited in Thread.join, for the lock that a thread holds until it ends.
func nameWait(g *guestLock, waiter *thread) {
	if g.named {
		return
	}
	g.named = true
	if joinWaiter(waiter) {
		g.name += " (Thread.join)"
	}
}

// joinWaiter reports whether th waits in Thread.join, by its top frame.
func joinWaiter(th *thread) bool {
	return filepath.Base(th.top.File) == "threading.py" &&
		(strings.HasSuffix(th.top.Func, "_wait_for_tstate_lock") || strings.HasSuffix(th.top.Func, "join"))
}

// emitLock keeps a guest-lock event of th: arg is the acquire or release
// code, packed with the lock's ID at finish.
func (m *machine) emitLock(th *thread, t int64, k tracer.Kind, g *guestLock, code uint8) int64 {
	t = m.emit(th, t, k, uint64(code))
	th.events[len(th.events)-1].lock = g
	g.waited = g.waited || k == tracer.KindLockWait
	return t
}

// take shows th holding g from t.
func (m *machine) take(th *thread, g *guestLock, t int64, how tracer.Acquire) int64 {
	t = m.emitLock(th, t, tracer.KindLockAcquire, g, uint8(how))
	g.holder = th
	th.held = append(th.held, g)
	if g.first == nil {
		g.first = th
	}
	g.shared = g.shared || g.first != th
	return t
}

// unlock shows th letting g go at t.
func (m *machine) unlock(th *thread, g *guestLock, t int64, why tracer.Release) int64 {
	t = m.emitLock(th, t, tracer.KindLockRelease, g, uint8(why))
	if g.holder == th {
		g.holder = nil
	}
	th.held = slices.DeleteFunc(th.held, func(h *guestLock) bool { return h == g })
	th.owed = slices.DeleteFunc(th.owed, func(h *guestLock) bool { return h == g })
	return t
}

// canUnlock reports whether th may be shown letting a lock go now: it
// holds the GIL outside a blocking call.
func canUnlock(th *thread) bool {
	return th.started && !th.ended && th.holds && th.sec == nil
}

// letGo ends th's hold of g at t (rule 3): at once if th can, else when
// it next takes the GIL. It returns the time of the release, or -1 if it
// is owed.
func (m *machine) letGo(th *thread, g *guestLock, t int64) int64 {
	if canUnlock(th) {
		return m.unlock(th, g, t, tracer.ReleaseUnlock)
	}
	if !slices.Contains(th.owed, g) {
		th.owed = append(th.owed, g)
	}
	return -1
}

// payOwed lets go, at t, of the locks th released while it could not be
// shown doing so.
func (m *machine) payOwed(th *thread, t int64) {
	for len(th.owed) > 0 {
		t = m.unlock(th, th.owed[0], t, tracer.ReleaseUnlock) + 1
	}
}

// releaseHeld lets go of every lock th holds, at t, for why (its end).
func (m *machine) releaseHeld(th *thread, t int64, why tracer.Release) {
	for len(th.held) > 0 {
		t = m.unlock(th, th.held[0], t, why) + 1
	}
	th.owed = nil
}

// free makes g free for th to take at t (rule 4) and returns the lock to
// take and the earliest time to take it.
func (m *machine) free(p *proc, g *guestLock, th *thread, t int64) (*guestLock, int64) {
	h := g.holder
	if h == nil || h == th {
		return g, t
	}
	if h.ended {
		g.holder = nil
		return g, t
	}
	if !slices.Contains(h.owed, g) {
		m.unmatchedLocks++ // its release was not seen
	}
	if rt := m.letGo(h, g, t); rt >= 0 {
		return g, max(t, rt+1)
	}
	n := m.newLock(p, g.addr, g.name)
	n.named, n.gen = g.named, g.gen
	return n, t
}

// lockEntry: PyThread_acquire_lock_timed entered. A blocking acquire
// inside a blocking call (after Py_BEGIN_ALLOW_THREADS) is a lock wait.
func (m *machine) lockEntry(th *thread, addr uint64, us int64) {
	if m.lockHolds {
		th.acq = lockCall{addr: addr, blocking: us != 0, pending: true}
	}
	if s := th.sec; us != 0 && s != nil && s.dropped && !s.hasLock {
		s.lock, s.hasLock, s.observed, s.timed = addr, true, m.lockHolds, us > 0
		if us > 0 {
			s.timeout = us * 1000
		}
	}
}

// ranOut reports whether th's wait s on a lock, not probed for its
// outcome, ended at t by running out of time: it lasted its whole
// timeout (a wait's timeout is counted from its acquire's entry, after s
// began, and the kernel wakes a timed-out waiter no sooner). Such a wait
// ended without its lock, and is shown as I/O "lock-timeout", as with its
// outcome probed: a Condition.wait(0.1), an Event.wait(0.1), a queue's
// get(timeout=0.1) or a Lock.acquire(timeout=0.1) given up is no
// notification and no acquire (QA: without this a timed-out wait was
// shown acquired, and the report could not tell it from a notified one:
// a ThreadPoolExecutor awaited with concurrent.futures.wait was "0.99x as
// processes", measured 1.6x). A timed Thread.join is left a wait for its
// join lock: the diagnosis tells a timed join that ran out by the next
// join (flow.joinedUnseen).
func ranOut(th *thread, s *section, t int64) bool {
	return s.timed && s.timeout > 0 && t-s.start >= s.timeout && !joinWaiter(th)
}

// lockReturn: PyThread_acquire_lock_timed returned status at t.
func (m *machine) lockReturn(th *thread, t int64, status int64) {
	c := th.acq
	th.acq = lockCall{}
	if !c.pending || !th.started || th.ended {
		return
	}
	p := th.p
	s := th.sec
	waited := c.blocking && s != nil && s.dropped && s.hasLock && s.observed && s.lock == c.addr
	if status != lockAcquired {
		if waited {
			s.failed = true
		}
		return
	}
	g := m.lock(p, c.addr)
	switch {
	case waited:
		nameWait(g, th)
		start := s.start
		if g.holder == th { // rule 2
			start = m.unlock(th, g, start, tracer.ReleaseUnlock) + 1
		}
		g, t = m.free(p, g, th, t)
		m.emitLock(th, start, tracer.KindLockWait, g, 0)
		if p.gil != tracer.NoLock {
			m.emit(th, s.drop, tracer.KindLockRelease, tracer.LockArg(p.gil, uint8(tracer.ReleaseLockWait)))
		}
		m.take(th, g, t, tracer.AcquireAfterWait)
		th.sec = nil
	case th.holds && s == nil && g.holder != th:
		g, t = m.free(p, g, th, t)
		m.take(th, g, t, tracer.AcquireUncontended)
	default:
		m.unmatchedLocks++
	}
}

// lockRelease: PyThread_release_lock entered by th at t.
func (m *machine) lockRelease(th *thread, t int64, addr uint64) {
	g, ok := th.p.locks[addr]
	switch {
	case !ok || g.holder == nil || g.holder.ended:
		m.unmatchedLocks++
	case g.holder == th:
		m.letGo(th, g, t)
	default:
		m.crossReleases++
		m.letGo(g.holder, g, t)
	}
}

// lockFreed: PyThread_free_lock entered for the lock at addr. The next
// lock allocated at that address is another lock, named apart ("lock
// 0x... #2"): the interpreter's start-up frees many short-lived locks, and
// a program's threading.Lock made later at one of their addresses was
// shown with their holds (30 of 54 acquires by a MainThread that never
// took it). assignLocks numbers the kept locks of one name.
func (m *machine) lockFreed(p *proc, addr uint64) {
	if _, ok := p.locks[addr]; !ok {
		return
	}
	delete(p.locks, addr)
	if p.lockGen == nil {
		p.lockGen = map[uint64]int{}
	}
	p.lockGen[addr]++
}

// lockFree reports whether guest lock g is free for th to be shown
// acquiring it after an inferred wait.
func lockFree(g *guestLock) bool {
	return g.holder == nil || g.holder.ended
}

// kept reports whether g is in the trace: a lock that only one thread
// held and none waited for (a thread's own join lock, most of the
// interpreter's locks: the import lock, a file's buffer lock) says
// nothing about the threads, and its holds are left out.
func (g *guestLock) kept() bool { return g.shared || g.waited }

// assignLocks gives every kept guest lock its LockID, in order of first
// sight.
func (m *machine) assignLocks() {
	type key struct {
		p    *proc
		addr uint64
	}
	gens := map[key][]int{} // the generations of an address's kept locks, in order
	for _, g := range m.glocks {
		if !g.kept() {
			continue
		}
		k := key{g.proc, g.addr}
		i := slices.Index(gens[k], g.gen)
		if i < 0 {
			gens[k] = append(gens[k], g.gen)
			i = len(gens[k]) - 1
		}
		if i > 0 {
			g.name += fmt.Sprintf(" #%d", i+1)
		}
		g.id = m.rec.AddLock(g.name, g.proc.id, false)
	}
}
