package vm

import (
	"github.com/giltrace/giltrace/tracer"
)

// A join (the workload's `join: GROUP`) is CPython's Thread.join: wait,
// with the GIL released, until the joined thread has ended, whether or
// not it has started yet.
//
// CPython implements it with the thread's state lock: the thread holds it
// from its start to its end, and join acquires it (blocking with the GIL
// released) and releases it. The VM does the same with a guest lock per
// joined thread, named "join THREAD", so that the trace shows a join as
// CPython's recorder does, a lock wait, and the diagnosis blames the
// joined thread for it:
//
//   - the joined thread takes its join lock uncontended right after it
//     first takes the GIL (the event protocol wants the GIL first), and
//     releases it when it ends (ReleaseThreadEnd, or ReleaseInterrupt);
//   - the joiner, unless the thread has ended already (then join returns
//     at once and records nothing), emits LockWait on the join lock,
//     releases the GIL (ReleaseLockWait), waits until the thread has
//     ended, acquires the join lock after the wait, takes the GIL back and
//     releases the join lock (ReleaseUnlock).
//
// The joiner waits for the thread's end, not for the lock: a thread that
// has not started yet (start_after, or not yet scheduled) has not taken
// its lock, and the join still waits for it. Only threads that some thread
// joins have a join lock, so a workload without joins runs as before.
type joinLock struct {
	l     *lock
	home  int  // the joined thread's workload process (thread.home)
	ended bool // the thread has ended (guarded by l.mu)
}

// addJoinLock gives th, the thread named thread of group gi of process p,
// its join lock.
func (r *runner) addJoinLock(p *process, gi int, th *thread, thread string) {
	if p.joinLocks == nil {
		p.joinLocks = make([][]*joinLock, len(r.w.Threads))
	}
	name := "join " + thread
	j := &joinLock{l: newLock(r.rec.AddLock(name, p.id, false), r.clock, uint64(r.s.seed)+uint64(p.id)), home: th.home}
	p.joinLocks[gi] = append(p.joinLocks[gi], j)
	th.joinLock = j
}

// holdJoinLock takes the thread's join lock at its start, holding the GIL.
func (th *thread) holdJoinLock() {
	th.sync()
	if !th.joinLock.l.tryAcquire(th) {
		panic("vm: a thread's join lock is held at its start")
	}
}

// end marks the thread ended. Called before the thread releases its locks:
// the release of the join lock wakes a joiner, which then sees the end. A
// thread that never took its lock (stopped before it started) wakes every
// joiner itself.
func (j *joinLock) end() {
	l := j.l
	l.mu.Lock()
	defer l.unlock()
	j.ended = true
	if !l.locked {
		for _, w := range l.waiters {
			w.signal()
		}
	}
}

// joinGroups joins every thread of the groups gs of the thread's process,
// in order.
func (th *thread) joinGroups(gs []int) error {
	for _, gi := range gs {
		for _, j := range th.proc.joinLocks[gi] {
			if j.home != th.home {
				continue // another workload process's (Options.OneProcess)
			}
			if err := th.join(j); err != nil {
				return err
			}
		}
	}
	return nil
}

// join waits until j's thread has ended (see joinLock).
func (th *thread) join(j *joinLock) error {
	l := j.l
	l.mu.Lock()
	if j.ended && !l.locked {
		l.unlock()
		return nil // ended already: Thread.join returns at once
	}
	if err := th.beginLockWait(l); err != nil {
		return err
	}
	return th.endLockWait(l, func() bool { return j.ended })
}

// beginLockWait records th's wait on lock l, whose mu it holds and
// unlocks, and releases the GIL for it.
func (th *thread) beginLockWait(l *lock) error {
	l.stamp(th, tracer.KindLockWait, tracer.LockArg(l.id, 0))
	l.unlock()
	return th.gil.release(th, tracer.ReleaseLockWait)
}

// endLockWait ends a wait begun by beginLockWait: once ready (nil: at
// once) and the lock free, th takes it, takes the GIL back and releases
// the lock.
func (th *thread) endLockWait(l *lock, ready func() bool) error {
	l.mu.Lock()
	for ready != nil && !ready() || l.locked {
		if l.park(th, 0) == WakeStop {
			l.unlock()
			return errStopped
		}
	}
	l.take(th, tracer.AcquireAfterWait)
	l.unlock()
	th.resume() // the re-acquire and what runs after belong to the next operation's line
	if err := th.gil.acquire(th); err != nil {
		return err
	}
	return l.release(th, tracer.ReleaseUnlock)
}

// wait is a wait for a notification on a guest lock (the workload's
// `wait:`): CPython's Condition.wait, Event.wait or a queue's get blocks
// acquiring a waiter lock, which the notifier releases. The VM records it
// as CPython's recorder does, a wait on the lock: the thread emits
// LockWait, releases the GIL (ReleaseLockWait), waits for the wait's
// duration, then takes the lock (after whoever holds it releases it),
// takes the GIL back and releases the lock. This is the wait of a
// duration only: it keeps its length whatever the other threads do; a
// wait until: notify, ended by a notify: operation, is waitNotice
// (vm/notify.go).
func (th *thread) wait(op *ioOp) error {
	l := th.proc.locks[op.lock]
	l.mu.Lock()
	if err := th.beginLockWait(l); err != nil {
		return err
	}
	if !th.clock.Sleep(th.ctx, th.wake, op.d) {
		return errStopped
	}
	return th.endLockWait(l, nil)
}
