package vm

import "runtime"

// A Waker is how a parked guest thread is woken: the GIL's and the guest
// locks' waits park the thread on its Waker (Clock.Park) and a release
// signals it. A signal that arrives while the thread is not parked is kept
// (one, not counted) for its next Park, as a condition variable's waiter
// re-checks its predicate.
//
// On Linux the thread blocks in the kernel on a futex of its own, with the
// timed wait's timeout, as CPython's threads block in
// pthread_cond_timedwait (waker_linux.go); elsewhere on a channel and a Go
// timer (waker_other.go).
type Waker struct{ waker }

// NewWaker returns a Waker with no signal pending.
func NewWaker() *Waker {
	w := &Waker{}
	w.init()
	return w
}

// lockGuestThread locks a real-time guest thread to its operating-system
// thread and returns what unlocks it, as each of CPython's threads is one
// pthread for its life. The kernel then keeps each thread where it ran, as
// it keeps CPython's, and wakes it there. Unlocked (2026-12-01 to
// 2026-12-02, on Linux), a guest thread could move to another operating
// system thread: 2 threads of 20 x (2 ms compute + 2 ms sleep) overlapped
// 1.55-1.75x (medians of 5 rounds, six runs; CPython 1.68-1.93x), against
// 1.63-1.91x locked, 1.77x or more in five of six (scripts/fidelity.sh,
// docs/vm.md "Where the model differs from CPython"). Elsewhere than
// Linux the waits go through Go's scheduler (a channel and a Go timer),
// and a woken thread would otherwise run at once on the waker's processor
// instead of being scheduled by the kernel.
func lockGuestThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
