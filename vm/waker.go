package vm

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
