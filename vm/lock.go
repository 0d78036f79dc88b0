package vm

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// lock is a mutual-exclusion lock of the guest with the structure of
// CPython's GIL (Python/ceval_gil.c): a boolean guarded by a mutex, waiters
// parked until a release wakes one of them. It serves as the GIL of the
// cpython and legacy modes and as every guest threading.Lock.
//
// With interval > 0 (the cpython GIL) a waiter parks for at most one switch
// interval; when that expires and no switch happened meanwhile it sets the
// drop request in the process's eval breaker. A release while a drop request
// is pending waits until another thread has taken the lock (CPython's
// FORCE_SWITCHING).
//
// There is no queue: a release wakes one waiter, and a thread that arrives
// while the lock is free takes it at once, before any woken waiter has run.
// Whoever gets there first wins. Which waiter a release wakes: POSIX leaves
// pthread_cond_signal's choice unspecified; glibc's condition variable
// (2.25 and later) wakes the waiters of its older group first and the
// kernel wakes a futex's sleepers in arrival order, so in practice the
// waiter whose current wait began first, a waiter that timed out and
// waits again going to the back. Real time does the same (oldestFirst);
// virtual time picks at random with the run's seeded generator (issue 11;
// docs/vm.md).
//
// Every event about the lock is emitted under mu (see stamp).
type lock struct {
	id       tracer.LockID
	clock    Clock
	vc       *vclock       // clock, if virtual
	interval time.Duration // > 0: timed waits and drop requests (cpython GIL)
	// timedWait is a timed wait's length: the interval, and in virtual
	// time the timer latency after it (DefaultTimerLatency; real time has
	// the machine's own). Set with interval (newGIL).
	timedWait time.Duration
	breaker   *breaker // the process's eval breaker, for drop requests

	mu       kmutex
	locked   bool
	holder   *thread
	last     *thread        // the last holder (CPython's last_holder)
	switches uint64         // changes of holder (CPython's switch_number)
	lastT    int64          // recorded time of the latest event about the lock
	relWhy   tracer.Release // why it was released
	waiters  []*thread      // unordered
	nwait    int32          // len(waiters), readable without mu (waiting)
	switcher *thread        // a releasing thread waiting for the switch
	// swMu is CPython's switch_mutex in real time (dropSwitch): last,
	// switches and switcher are written under it as well as mu, and the
	// dropper waits for the switch under it alone.
	swMu kmutex
	pick *rand.Rand // picks the waiter a release wakes (virtual time)
	// oldestFirst: a release wakes a waiter as glibc's condition variable
	// does (real time; signal): the one whose current wait began first,
	// unless the drop requester catches the wake-up; else one picked at
	// random.
	oldestFirst bool
	parks       uint64     // waits begun, numbering them (thread.parkSeq)
	g1end       uint64     // glibc's G1: the waits numbered up to g1end (signal)
	requester   *thread    // the waiter that set the pending drop request
	reqSeq      uint64     // the number of the wait it began right after
	late        []*thread  // waiters whose timeout is late (parkLate)
	switchAt    int64      // the time of the latest change of holder (countExpiry)
	wakes       [4]*thread // threads to wake once mu is unlocked
	nwakes      int
	// lazy: the cpython GIL in virtual time with a core for every
	// thread: its waiters' timed waits are computed, not queued
	// (virtual_timers.go); rep is the waiter whose next expiry that
	// matters is queued, nil if none matters.
	lazy bool
	rep  *vthread
	minV *vthread // the waiter whose next expiry (fire) comes first, nil if not known
	// ring is the waiters whose timed wait began (armed), in the order
	// of their expiries within a timed wait: by phase, then thread ID
	// (virtual_timers.go, virtual_ring.go). The passes of rearm walk it
	// from a time's phase and stop at the first expiry that nothing
	// after can beat.
	ring      ring
	ringOn    bool  // the ring is kept (ringFrom)
	narmed    int   // waiters whose timed wait began (armed)
	phaseBase int64 // a multiple of timedWait near the times asked about lately (phaseOf)
	// vwaiters is waiters' schedulers, in the same order (lazy): the
	// pass over them (rearm without the ring) reads one struct a
	// waiter, not two.
	vwaiters []*vthread
}

// wakeLater wakes th once mu is unlocked (unlock): a thread woken while
// the waker still holds mu would find it taken, and sleep on it again
// (a semaphore's post is its last step). Guest locks and virtual time use
// it; the cpython GIL in real time does not: CPython's drop_gil signals
// the GIL's condition while it holds the GIL's mutex, and a waiter that
// catches the signal awake then waits for that mutex, as on CPython, where
// bpftrace counted the mutex contended at nearly every switch at 0.2 ms
// (releaseLocked, dropSwitch; docs/fidelity.md). Called with mu held.
func (l *lock) wakeLater(th *thread) {
	if l.mu.goMu != nil || l.nwakes == len(l.wakes) { // the legacy GIL: as before (kmutex_linux.go)
		th.signal()
		return
	}
	l.wakes[l.nwakes] = th
	l.nwakes++
}

// unlock unlocks mu, then wakes the threads wakeLater named.
func (l *lock) unlock() {
	n := l.nwakes
	if n == 0 {
		l.mu.Unlock()
		return
	}
	// Copied out under mu, and only the named ones cleared: clearing the
	// whole array was a bulk write barrier while the collector marked,
	// 4.5 % of a legacy GIL's simulation (docs/performance.md,
	// "Seventeenth pass").
	var ws [len(l.wakes)]*thread
	for i := range n {
		ws[i], l.wakes[i] = l.wakes[i], nil
	}
	l.nwakes = 0
	l.mu.Unlock()
	for _, th := range ws[:n] {
		th.signal()
	}
}

func newLock(id tracer.LockID, c Clock, seed uint64) *lock {
	_, real := c.(*realClock)
	l := &lock{id: id, clock: c, pick: rand.New(rand.NewPCG(seed, uint64(id))), oldestFirst: real}
	l.vc, l.mu.off = c.(*vclock) // coroutines, one at a time (kmutex)
	return l
}

// now is the clock's time: in virtual time the running thread's, read
// without the interface's call (a few per switch).
func (l *lock) now() int64 {
	if l.vc != nil {
		return l.vc.cur.now()
	}
	return l.clock.Now()
}

// waiting is len(waiters), read without mu.
func (l *lock) waiting() int32 { return atomic.LoadInt32(&l.nwait) }

// setWaiting sets waiting's count, under mu. In virtual time, a plain
// store: the threads are coroutines that run one at a time, and an atomic
// store (an exchange on x86) was 78 % of removeWaiter's time, 6 % of a
// simulation's (docs/performance.md, "Fifth round: locked instructions").
func (l *lock) setWaiting(n int) {
	if l.mu.off {
		l.nwait = int32(n)
		return
	}
	atomic.StoreInt32(&l.nwait, int32(n))
}

// tryAcquire takes the lock if it is free, emitting an uncontended
// acquire; else it emits the LockWait of the wait that follows.
func (l *lock) tryAcquire(th *thread) bool {
	l.mu.Lock()
	defer l.unlock()
	if l.locked {
		l.stamp(th, tracer.KindLockWait, tracer.LockArg(l.id, 0))
		return false
	}
	l.take(th, tracer.AcquireUncontended)
	return true
}

// acquire takes the lock, waiting while another thread holds it. waiting
// says the caller already emitted the LockWait. It returns errStopped,
// without the lock, when the run is stopped during the wait.
//
//  1. Free: take it (uncontended, or after the wait already announced).
//  2. Held: emit LockWait; park until woken, timed out or stopped.
//  3. Timed out with the same holder all along: set the drop request.
//  4. Loop while held; then take it (forced if the holder dropped it on a
//     drop request).
func (l *lock) acquire(th *thread, waiting bool) error {
	l.mu.Lock()
	defer l.unlock()
	if !l.locked {
		how := tracer.AcquireUncontended
		if waiting {
			how = l.afterWait()
		}
		l.take(th, how)
		return nil
	}
	if !waiting {
		l.stamp(th, tracer.KindLockWait, tracer.LockArg(l.id, 0))
	}
	return l.waitAndTake(th)
}

// waitAndTake is acquire's wait: park while the lock is held, then take
// it. Called with mu held.
func (l *lock) waitAndTake(th *thread) error {
	for l.locked {
		saved := l.switches
		if v := th.vt; v != nil {
			v.wait, v.saved = l, saved
		}
		var deadline int64
		if countExpiry != nil {
			deadline = l.clock.Now() + int64(l.timedWait)
		}
		w := l.park(th, l.timedWait)
		if countExpiry != nil && w == WakeTimeout && l.interval > 0 {
			// Late: the lock changed hands after the deadline, before
			// the thread ran (lateChance's definition).
			countExpiry(l.switches != saved, l.switches != saved && l.switchAt > deadline)
		}
		for w == WakeTimeout && l.lateTimeout(th, saved) {
			w = l.parkLate(th)
		}
		if err := l.woken(th, w, saved); err != nil {
			return err
		}
	}
	l.take(th, l.afterWait())
	return nil
}

// woken ends one of acquire's waits, begun with switch number saved: on a
// stop it returns errStopped; a timeout with the same holder all along
// sets the drop request. Called with mu held.
func (l *lock) woken(th *thread, w Wake, saved uint64) error {
	if v := th.vt; v != nil {
		// The scheduler may have re-armed the wait without resuming the
		// thread (vclock.rewait): the switch number is that of the wait
		// that ended.
		saved, v.wait = v.saved, nil
	}
	if w == WakeStop {
		return errStopped
	}
	if w == WakeTimeout && l.locked && l.switches == saved && l.breaker != nil {
		if l.breaker.set(bitDrop) {
			// It waits again at once, under mu: that wait is parks+1.
			l.requester, l.reqSeq = th, l.parks+1
			l.stamp(th, tracer.KindDropRequest, tracer.DropArg(l.id, l.holder.id))
		}
	}
	return nil
}

func (l *lock) afterWait() tracer.Acquire {
	if l.relWhy == tracer.ReleaseDropRequest {
		return tracer.AcquireForced
	}
	return tracer.AcquireAfterWait
}

// park registers th as a waiter, releases mu while parked and takes it
// back. Called with mu held.
func (l *lock) park(th *thread, timeout time.Duration) Wake {
	th.drainWake()
	l.parks++
	th.parkSeq = l.parks
	l.addWaiter(th)
	l.unlock()
	th.parkedOn = l
	w := l.clock.Park(th.ctx, th.wake, timeout)
	th.parkedOn = nil
	l.mu.Lock()
	l.removeWaiter(th)
	return w
}

// addWaiter puts th last in the waiter list.
func (l *lock) addWaiter(th *thread) {
	if l.lazy && th.vt.armed {
		// Defensive: a thread is armed only while in the list (arm after
		// addWaiter, unarm in removeWaiter), so none is armed here.
		l.disarm(th.vt)
		th.vt.armed = false
	}
	th.widx = len(l.waiters)
	l.waiters = append(l.waiters, th)
	if l.lazy {
		l.vwaiters = append(l.vwaiters, th.vt)
	}
	l.setWaiting(len(l.waiters))
}

func (l *lock) removeWaiter(th *thread) { l.leave(th, true) }

// leave takes th out of the waiter list, as removeWaiter, and on a lazy
// lock ends its timed wait (unarm): with rearm false, a queued expiry of
// th's is taken out without computing the next one, which the caller's
// own rearm, with nothing queued in between, computes (a contended
// switch's pass over the waiters, 7 % of a 100 us interval's run, was
// one of three at a switch whose waiter's timed wait expired).
func (l *lock) leave(th *thread, rearm bool) {
	i := th.widx
	if i < 0 || i >= len(l.waiters) || l.waiters[i] != th {
		return // not a waiter of l: a waiter's index is kept right
	}
	last := len(l.waiters) - 1
	moved := l.waiters[last]
	l.waiters[i] = moved
	moved.widx = i
	l.waiters[last] = nil
	l.waiters = l.waiters[:last]
	if l.lazy {
		l.vwaiters[i] = l.vwaiters[last]
		l.vwaiters[last] = nil
		l.vwaiters = l.vwaiters[:last]
	}
	l.setWaiting(last)
	if l.lazy {
		l.unarm(th.vt, rearm)
	}
}

// take makes th the holder. Called with mu held.
func (l *lock) take(th *thread, how tracer.Acquire) {
	l.locked = true
	l.holder = th
	l.requester = nil
	realGIL := l.realGIL()
	if realGIL {
		l.swMu.Lock() // take_gil: the holder changes under switch_mutex (dropSwitch)
	}
	if l.last != th {
		l.last = th
		l.switches++
		l.switchAt = l.now()
		if l.switcher != nil {
			if realGIL {
				l.switcher.signal() // switch_cond, under switch_mutex
			} else {
				l.wakeLater(l.switcher)
			}
			l.switcher = nil
		}
	}
	if realGIL {
		l.swMu.Unlock()
	}
	if l.breaker != nil {
		l.breaker.clear(bitDrop)
	}
	if l.lazy {
		l.rearm()
	}
	l.stamp(th, tracer.KindLockAcquire, tracer.LockArg(l.id, uint8(how)))
	th.took(l)
}

// stamp emits an event of th about the lock. Called with mu held: the
// lock's events get strictly increasing times in the order they happen, so
// that an acquire is never recorded before the release that enabled it,
// nor a drop request before the acquire of the holder it targets, even when
// a thread's own clock is pushed forward (Buffer.Emit's last+1).
func (l *lock) stamp(th *thread, k tracer.Kind, arg uint64) {
	if v := th.vt; v != nil && v.lost && !v.c.halted(v) {
		// Virtual time: a thread acts on a lock only with a core
		// (vclock.sync, thread.atBreaker settle what it owes first).
		panic("vm: a lock event of a thread without its core (virtual time)")
	}
	t := max(l.now(), l.lastT+1)
	l.lastT = th.buf.Emit(t, k, th.stack, arg)
}

// release lets the lock go and wakes one waiter. If a drop request is
// pending and the thread may run again (not ending), it then waits until
// another thread has taken the lock; it returns errStopped if the run is
// stopped meanwhile (the lock is released all the same).
func (l *lock) release(th *thread, why tracer.Release) error {
	l.mu.Lock()
	unlocked := false // dropSwitch let mu go
	defer func() {
		if !unlocked {
			l.unlock()
		}
	}()
	l.releaseLocked(th, why)
	if why == tracer.ReleaseDropRequest {
		l.stamp(th, tracer.KindLockWait, tracer.LockArg(l.id, 0))
	}
	ending := why == tracer.ReleaseThreadEnd || why == tracer.ReleaseInterrupt
	if ending || l.breaker == nil || !l.breaker.has(bitDrop) {
		return nil
	}
	if l.realGIL() {
		unlocked = true
		return l.dropSwitch(th)
	}
	v := th.vt
	if v != nil && why == tracer.ReleaseDropRequest {
		v.switching = l // cpythonGIL.drop: it waits for the lock after the switch
	}
	err := l.awaitSwitch(th)
	if v != nil {
		v.switching = nil
	}
	return err
}

func (l *lock) releaseLocked(th *thread, why tracer.Release) {
	if l.holder != th {
		panic("vm: release of a lock by a thread that does not hold it")
	}
	// The I/O or native call it releases the GIL for (releaseFor), at the
	// release's time: a lock's events may be stamped ahead of the clock
	// (stamp), and the release with them.
	th.emitBegin(l.lastT + 1)
	l.stamp(th, tracer.KindLockRelease, tracer.LockArg(l.id, uint8(why)))
	l.relWhy = why
	l.locked = false
	l.holder = nil
	th.released(l)
	if n := len(l.waiters); n > 0 {
		var w *thread
		if l.oldestFirst {
			w = l.signal(why)
		} else {
			w = l.waiters[l.pick.IntN(n)]
		}
		armed := l.lazy && w.vt.armed // parked, its timed wait begun (not still syncing in Park)
		l.leave(w, false)             // the release's rearm, below
		if armed {
			l.keepExpiry(w.vt)
		}
		if l.realGIL() {
			w.signal() // drop_gil's COND_SIGNAL, under the mutex (dropSwitch)
		} else {
			l.wakeLater(w)
		}
	}
	// The holder's processor is free: the late waiters run (parkLate).
	for _, x := range l.late {
		if x.widx < len(l.waiters) && l.waiters[x.widx] == x {
			l.leave(x, false) // the release's rearm, below
			l.wakeLater(x)
		}
	}
	l.late = l.late[:0]
	if l.lazy {
		l.rearm() // free: every expiry from now on matters
	}
}

// realGIL reports whether the lock is the cpython GIL in real time, which
// locks as CPython's drop_gil and take_gil do (dropSwitch).
func (l *lock) realGIL() bool { return l.oldestFirst && l.interval > 0 }

// dropSwitch is the end of CPython's drop_gil in real time: the GIL's
// mutex is let go at once after the release's signal (which
// releaseLocked sent under it, as drop_gil's COND_SIGNAL), and
// FORCE_SWITCHING waits for another thread to take the GIL under the
// switch mutex alone (swMu), on which take signals it. Before, the dropper
// set up that wait under the GIL's mutex, and the release's signal came
// after the unlock: on CPython (bpftrace, 2 threads at 0.2 ms) the GIL's
// mutex is contended at nearly every switch, and the VM switched 12-16 %
// more often (docs/fidelity.md). Called with mu held; returns with it
// unlocked.
func (l *lock) dropSwitch(th *thread) error {
	l.unlock()
	l.swMu.Lock()
	defer l.swMu.Unlock()
	if l.last != th {
		return nil
	}
	l.breaker.clear(bitDrop)
	for l.last == th {
		th.drainWake()
		l.switcher = th
		l.swMu.Unlock()
		w := l.clock.Park(th.ctx, th.wake, 0)
		l.swMu.Lock()
		if l.switcher == th {
			l.switcher = nil
		}
		if w == WakeStop {
			return errStopped
		}
	}
	return nil
}

// awaitSwitch is FORCE_SWITCHING: after dropping the lock with a drop
// request pending, wait until another thread has taken it, so that the
// dropper cannot take it straight back. Called with mu held.
func (l *lock) awaitSwitch(th *thread) error {
	if l.last != th {
		return nil
	}
	l.breaker.clear(bitDrop)
	for l.last == th {
		th.drainWake()
		l.switcher = th
		l.unlock()
		v := th.vt
		if v != nil && v.switching == l {
			// cpythonGIL.drop's, at an eval breaker check: eval goes on at
			// its frame's pc, where the scheduler may run its turns in
			// place if that is a countdown loop's head (vclock.turn).
			v.dormant = true
		}
		w := l.clock.Park(th.ctx, th.wake, 0)
		if v != nil {
			v.dormant = false
		}
		l.mu.Lock()
		if v != nil && v.wait == l {
			// Virtual time: once the switch happened, the scheduler made
			// this the wait of the acquire that follows the drop
			// (cpythonGIL.drop, vclock.switched); w ends that wait.
			l.removeWaiter(th)
			if err := l.woken(th, w, 0); err != nil {
				return err
			}
			return l.waitAndTake(th)
		}
		if l.switcher == th {
			l.switcher = nil
		}
		if w == WakeStop {
			return errStopped
		}
		if l.holder == th {
			// Virtual time: the scheduler ran its turns in place while
			// it was parked here (vclock.turn); it holds the GIL at a
			// check, and eval goes on.
			return nil
		}
	}
	return nil
}

// signal picks the waiter a release wakes in real time, as glibc's
// pthread_cond_signal (2.25 and later, nptl/pthread_cond_wait.c) and the
// kernel's futex do. The waiters form two groups: G1, the waiters there
// were at the last group switch, still waiting, and G2, the waits begun
// since (a waiter that timed out and waits again is a new wait, in G2). A
// signal goes to G1 and the kernel wakes the G1 waiter that went to sleep
// first; when G1 is empty, the signal first makes every waiter G1.
//
// A signal is a count that any G1 waiter awake to see it consumes, not
// only the one the kernel woke. The waiter whose timeout set the drop
// request is awake: it has just registered its next wait (CPython's
// take_gil loops into COND_TIMED_WAIT) and checks for a signal before it
// sleeps, while the holder, seeing the request at its next instruction,
// drops the GIL and signals within microseconds; the sleeper the kernel
// wakes needs a CPU first and finds the signal gone. So when this
// release answers a drop request and G1 was empty (the requester is then
// in G1), the requester takes the wake-up: it is the thread that held the
// GIL before the holder (the first whose timed wait began after the
// switch), and the GIL goes back and forth between two threads while the
// others time out and wait again (docs/fidelity.md, 4 threads at 5 ms).
// Called with mu held and waiters not empty.
func (l *lock) signal(why tracer.Release) *thread {
	oldest, newest := l.waiters[0], uint64(0)
	for _, x := range l.waiters {
		if x.parkSeq < oldest.parkSeq {
			oldest = x
		}
		newest = max(newest, x.parkSeq)
	}
	if oldest.parkSeq <= l.g1end { // G1 has a waiter: the oldest
		return oldest
	}
	l.g1end = newest // the group switch
	if r := l.requester; r != nil && why == tracer.ReleaseDropRequest && r.parkSeq == l.reqSeq &&
		r.widx < len(l.waiters) && l.waiters[r.widx] == r {
		return r
	}
	return oldest
}

// lateChance is the share of the timeouts that are late in real time
// (lateTimeout). Measured on CPython 3.11 (4 CPU-bound threads, 2-core
// Linux 6.18 machine, perf on the futex calls; docs/fidelity.md), the
// timed waits of the GIL whose timer fired and that were signalled before
// the thread had run are 4-6 % of the expired waits at 5 ms (7-8 % of
// those that set no drop request), 6-15 % at 1 ms and 16 % at 0.2 ms
// (26 %): later in the hold, more of the late threads have been moved to
// the idle processor before the release. 0.15 is within that range; the
// VM's fairness at 5 ms moved little between 0.08 and 0.25.
//
// Only at switch intervals of lateFrom or more: at short intervals the
// kernel makes the VM's threads late as it does CPython's. Counted with
// lateChance 0 (4 CPU-bound threads, 1 s each, 2026-12-02, three runs of
// TestLateExpiries, the last with the guest threads locked to their OS
// threads again, lockGuestThread): late 2.0-3.7 % of the expiries that set
// no drop request at 5 ms (CPython: 7-8 %), 19.8-21.2 % at 1 ms and
// 29.3-34.7 % at 0.2 ms (CPython: about 20 % and 26 %). Drawn on top of
// those, lateness had the 4 threads at 0.2 ms switch 0.81-0.90 as often as
// CPython's in every run (docs/fidelity.md).
const (
	lateChance = 0.15
	lateFrom   = 2 * time.Millisecond
)

// lateTimeout says whether a timeout that ended th's wait, in real time,
// is late: the kernel queued th's wake-up on the busy holder's processor,
// where th does not run before the holder blocks, though the other
// processor is idle (measured on CPython with perf: the wake-up of a
// waiter whose timer fired during a hold waited there about a
// millisecond, up to 5 ms). Until it runs, th is still in its wait: in its
// place in the futex's queue and in glibc's G1 if it was there, so the
// next release wakes it (signal), and the drop requester cannot catch
// that wake-up. The VM's threads, Go threads on the same kernel, were
// seldom late (at 5 ms G1 was not empty at 3 of 113 releases for a drop
// request, against about 1 in 7 on CPython), so the lock draws lateness
// at lateChance, at intervals of lateFrom or more. Only a waiter whose
// timeout would just begin another wait (the lock changed hands during
// this one) is made late: one that would
// set the drop request is not, so that handoffs between two threads are
// unchanged. Called with mu held, th not in waiters.
func (l *lock) lateTimeout(th *thread, saved uint64) bool {
	return l.oldestFirst && l.interval >= lateFrom && l.locked && l.switches != saved && !th.wake.pending() && l.pick.Float64() < lateDraw
}

// lateDraw is lateChance; TestLateExpiries turns the draw off to count
// the lateness the kernel gives the VM's threads by itself.
var lateDraw = lateChance

// countExpiry, if set (TestLateExpiries), is told of every timed wait of
// the GIL that expired: whether the lock had changed hands during it (it
// sets no drop request) and whether that was after its deadline (late).
var countExpiry func(noop, late bool)

// parkLate puts th back in its wait, with its wait's number (same place,
// same group), until a release: the release may wake it as any waiter;
// else, the holder having blocked, th runs and its wait ends as a timeout
// would (releaseLocked wakes it; it waits again at the back). Called with
// mu held.
func (l *lock) parkLate(th *thread) Wake {
	l.addWaiter(th)
	l.late = append(l.late, th)
	l.unlock()
	w := l.clock.Park(th.ctx, th.wake, 0)
	l.mu.Lock()
	l.removeWaiter(th)
	for i, x := range l.late {
		if x == th {
			l.late = append(l.late[:i], l.late[i+1:]...)
			break
		}
	}
	return w
}
