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
	interval time.Duration // > 0: timed waits and drop requests (cpython GIL)
	breaker  *breaker      // the process's eval breaker, for drop requests

	mu       kmutex
	locked   bool
	holder   *thread
	last     *thread        // the last holder (CPython's last_holder)
	switches uint64         // changes of holder (CPython's switch_number)
	lastT    int64          // recorded time of the latest event about the lock
	relWhy   tracer.Release // why it was released
	waiters  []*thread      // unordered
	nwait    atomic.Int32   // len(waiters), readable without mu
	switcher *thread        // a releasing thread waiting for the switch
	pick     *rand.Rand     // picks the waiter a release wakes (virtual time)
	// oldestFirst: a release wakes the waiter whose current wait began
	// first (real time, as glibc); else one picked at random.
	oldestFirst bool
	parks       uint64     // waits begun, numbering them (thread.parkSeq)
	wakes       [2]*thread // threads to wake once mu is unlocked
	nwakes      int
}

// wakeLater wakes th once mu is unlocked (unlock): a thread woken while
// the waker still holds mu would find it taken, and sleep on it again
// (glibc's condition variable signals a waiter that takes the mutex back
// only after the signaller released it; a semaphore's post is its last
// step). Called with mu held.
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
	ws, n := l.wakes, l.nwakes
	l.wakes, l.nwakes = [2]*thread{}, 0
	l.mu.Unlock()
	for _, th := range ws[:n] {
		th.signal()
	}
}

func newLock(id tracer.LockID, c Clock, seed uint64) *lock {
	_, real := c.(*realClock)
	return &lock{id: id, clock: c, pick: rand.New(rand.NewPCG(seed, uint64(id))), oldestFirst: real}
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
		w := l.park(th, l.interval)
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
	th.widx = len(l.waiters)
	l.waiters = append(l.waiters, th)
	l.nwait.Store(int32(len(l.waiters)))
	l.unlock()
	w := l.clock.Park(th.ctx, th.wake, timeout)
	l.mu.Lock()
	l.removeWaiter(th)
	return w
}

func (l *lock) removeWaiter(th *thread) {
	i := th.widx
	if i >= len(l.waiters) || l.waiters[i] != th {
		i = -1
		for j, w := range l.waiters {
			if w == th {
				i = j
				break
			}
		}
		if i < 0 {
			return
		}
	}
	last := len(l.waiters) - 1
	moved := l.waiters[last]
	l.waiters[i] = moved
	moved.widx = i
	l.waiters[last] = nil
	l.waiters = l.waiters[:last]
	l.nwait.Store(int32(last))
}

// take makes th the holder. Called with mu held.
func (l *lock) take(th *thread, how tracer.Acquire) {
	l.locked = true
	l.holder = th
	if l.last != th {
		l.last = th
		l.switches++
		if l.switcher != nil {
			l.wakeLater(l.switcher)
			l.switcher = nil
		}
	}
	if l.breaker != nil {
		l.breaker.clear(bitDrop)
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
	t := max(l.clock.Now(), l.lastT+1)
	l.lastT = th.buf.Emit(t, k, th.stack, arg)
}

// release lets the lock go and wakes one waiter. If a drop request is
// pending and the thread may run again (not ending), it then waits until
// another thread has taken the lock; it returns errStopped if the run is
// stopped meanwhile (the lock is released all the same).
func (l *lock) release(th *thread, why tracer.Release) error {
	l.mu.Lock()
	defer l.unlock()
	l.releaseLocked(th, why)
	if why == tracer.ReleaseDropRequest {
		l.stamp(th, tracer.KindLockWait, tracer.LockArg(l.id, 0))
	}
	ending := why == tracer.ReleaseThreadEnd || why == tracer.ReleaseInterrupt
	if ending || l.breaker == nil || !l.breaker.has(bitDrop) {
		return nil
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
	l.stamp(th, tracer.KindLockRelease, tracer.LockArg(l.id, uint8(why)))
	l.relWhy = why
	l.locked = false
	l.holder = nil
	th.released(l)
	if n := len(l.waiters); n > 0 {
		var w *thread
		if l.oldestFirst {
			w = l.waiters[0]
			for _, x := range l.waiters[1:] {
				if x.parkSeq < w.parkSeq {
					w = x
				}
			}
		} else {
			w = l.waiters[l.pick.IntN(n)]
		}
		l.removeWaiter(w)
		l.wakeLater(w)
	}
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
		w := l.clock.Park(th.ctx, th.wake, 0)
		l.mu.Lock()
		if v := th.vt; v != nil && v.wait == l {
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
	}
	return nil
}
