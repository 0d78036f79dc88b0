package vm

import "github.com/giltrace/giltrace/tracer"

// Turns in place. A contended switch of the cpython GIL between
// CPU-bound threads used to cost two coroutine switches (one round trip,
// 113-128 ns here, BenchmarkCoroutineRoundTrip) and the code around them
// (Park, yield, sync, the release's and acquire's deferred unlocks,
// atBreaker and check) for the few steps that change the model: the
// release, the pick of a waiter, the acquire and a countdown run to the
// next check that matters (docs/performance.md, "Sixteenth pass").
//
// A thread that dropped the GIL at an eval breaker check (cpythonGIL.drop)
// parks in lock.awaitSwitch with its interpreter state all in the thread
// (its top frame's pc the next instruction eval runs, its instruction
// count, its locals): its coroutine is dormant there. The scheduler may
// then run its turns without resuming it (turn), as it already handles a
// waiter's expiry (expire, rewait) and the end of its switch (switched):
//
//   - woken with the GIL free (a release picked it, or its timed wait
//     expired), at the head of a countdown loop: it takes the GIL, as
//     awaitSwitch and lock.waitAndTake would, and computes (computeInPlace);
//   - computing, at a check that its horizon queued it at (it still holds
//     the GIL: a virtual holder): it drops the GIL if a drop request is
//     set (dropInPlace), as cpythonGIL.drop would, or computes on.
//
// Computing is atBreaker's tail (fastForward) and the loop's iterations,
// each ending in a check, until a check at its horizon queues it, as
// check would before it yields. The same functions change the lock and
// the queue (removeWaiter, woken, take, releaseLocked, stamp, unlock,
// pushEntry) in the same order: only the code between them, which changes
// nothing, is not run. Where the countdown ends its coroutine is resumed, at what it does
// next: awaitSwitch returns as holder (a wake-up of its own, wakeTurn),
// and eval goes on at the same pc. TestTurnsInPlaceAreExact compares
// traces with and without turns in place.

// inPlaceTurns (tests) turns in-place turns off: the reference that they
// must not change.
var inPlaceTurns = true

// wakeTurn is Park's return to a dormant thread whose coroutine resumes
// after turns in place: awaitSwitch then returns with the GIL held. Not a
// signal: Park leaves its pending wake-up alone.
const wakeTurn Wake = WakeStop + 1

// turn runs v's turn in place if it can, v just popped (the running one,
// pop). It reports whether it did (v is queued or parked again); false
// means v's coroutine is to run: either nothing was done, or v's countdown
// ended and v goes on as holder (why wakeTurn).
func (c *vclock) turn(v *vthread) bool {
	th := v.th
	l := th.proc.gilLock
	ahead := v.ahead
	v.ahead = false
	if c.halted(v) {
		// Stopping: its coroutine ends it (Park returns WakeStop).
		return false
	}
	if ahead {
		// A virtual holder at its check (computeInPlace queued it):
		// check's tail and atBreaker. A stop is halted, above; it holds
		// the GIL.
		v.horizon = unknownHorizon
		if th.proc.breaker.load()&bitDrop != 0 {
			c.dropInPlace(v)
			return true
		}
		return c.computeInPlace(v)
	}
	why := v.why
	// A wake-up latency of 0 (not one Run makes) could queue the woken
	// waiter before the thread that drops the GIL in place (dropInPlace).
	if !v.parked || !inPlaceTurns || l == nil || !l.lazy || l.locked || v.wait != l || v.switching != nil ||
		why != WakeSignal && why != WakeTimeout || c.latency <= 0 || v.loopLeft() <= 0 {
		return false
	}
	// Park's return (no core to take: lazy locks have one a thread) and
	// yield's.
	v.parked = false
	if why == WakeSignal {
		v.pending = false
	}
	v.horizon = unknownHorizon
	// awaitSwitch, woken in the acquire that follows the drop
	// (vclock.switched): the wait ends (lock.woken), and the GIL is free.
	l.leave(th, false) // take's rearm
	l.woken(th, why, 0)
	l.take(th, l.afterWait())
	// release's tail, then its deferred unlock: the switch's waiter is
	// signalled. cpythonGIL.drop returns, holding the GIL.
	v.switching = nil
	l.unlock()
	return c.computeInPlace(v)
}

// computeInPlace is a dormant holder's countdown from a check whose
// eval breaker bits it handled: atBreaker's tail (fastForward; the cpython
// GIL has no ticks), then the loop's iterations, each ending in a check,
// until a check at its horizon queues it (true), or the loop ends: its
// coroutine goes on (false), with the horizon it has (keepHorizon).
//
// Its checks before the horizon find no eval breaker bit: only another
// thread, or the scheduler at a queue entry, sets one, and neither runs
// before the horizon; the drop request the take cleared, or the check
// that dropped the GIL handled, is not set again.
func (c *vclock) computeInPlace(v *vthread) bool {
	th := v.th
	for {
		v.fastForward() // its horizon computed (stopAt)
		if v.loopLeft() <= 0 {
			v.why, v.keepHorizon = wakeTurn, true
			return false
		}
		// An iteration, as eval runs it: the test, the decrement and the
		// jump back, to the check.
		f := &th.frames[len(th.frames)-1]
		dec := &f.code.instrs[f.pc+lenTestGT]
		th.locals[f.base+int(dec.a)] -= dec.b
		th.instrs += instrsPerLoop
		th.at(f, f.pc)
		// check: queued at its horizon, where check yields.
		if v.now() >= v.horizon {
			c.pushEntry(v, v.now(), 0, false)
			v.ahead = true
			return true
		}
	}
}

// dropInPlace is cpythonGIL.drop for a dormant holder: the release
// (lock.release) and the wait for the switch (lock.awaitSwitch) up to its
// Park, which parks it. Nothing is queued before it then: what the
// release queues (the wake-up a wake-up latency later, expiries from now
// on, in the queue's order) comes after it, as its sync in Park would
// find.
func (c *vclock) dropInPlace(v *vthread) {
	th := v.th
	l := th.proc.gilLock
	l.releaseLocked(th, tracer.ReleaseDropRequest)
	l.stamp(th, tracer.KindLockWait, tracer.LockArg(l.id, 0))
	v.switching = l
	l.breaker.clear(bitDrop)
	v.pending = false
	l.switcher = th
	l.unlock()
	if c.q.len() > 0 && c.q.first().before(v.now(), v) {
		panic("vm: an entry before a thread dropping the GIL in place (virtual time)")
	}
	v.parked = true
}
