//go:build linux

package vm

import (
	"context"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux Waker is a futex word, the mechanism under glibc's condition
// variables: the parked thread sleeps in futex(FUTEX_WAIT) with the
// relative timeout, the signal is an atomic store and, if the thread
// sleeps, futex(FUTEX_WAKE). The kernel wakes the thread itself, on the
// hrtimer of the timeout (with the thread's timer slack, 50 us by default,
// as CPython's timed wait gets) or on the waker's call: no goroutine of
// Go's scheduler or network poller stands between them. A guest thread is
// locked to its operating-system thread and a real-time run has a
// processor for each (procs.go), so a thread blocked in the system call
// keeps its processor and runs on as soon as the kernel schedules it
// (docs/vm.md, "Timed waits and sleeps").
type waker struct {
	state atomic.Uint32 // wakeIdle, wakeSignalled or wakeParked
}

const (
	wakeIdle      = iota // no signal pending, not parked
	wakeSignalled        // a signal is pending
	wakeParked           // the thread sleeps (or is about to) in FUTEX_WAIT
)

const (
	futexWait        = 0
	futexWake        = 1
	futexPrivateFlag = 128
)

func (w *waker) init() {}

// Signal wakes the parked thread, or leaves a signal for its next Park.
func (w *Waker) Signal() {
	if w.state.Swap(wakeSignalled) == wakeParked {
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&w.state)), futexWake|futexPrivateFlag, 1, 0, 0, 0)
	}
}

// Drain forgets a pending signal.
func (w *Waker) Drain() { w.state.CompareAndSwap(wakeSignalled, wakeIdle) }

// Park blocks until a signal (WakeSignal), the timeout (WakeTimeout; never
// when timeout <= 0), or ctx is done (WakeStop; whoever cancels ctx must
// then Signal the parked threads: Run does).
func (w *Waker) Park(ctx context.Context, timeout time.Duration) Wake {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if ctx.Err() != nil {
			return WakeStop
		}
		if w.state.CompareAndSwap(wakeSignalled, wakeIdle) {
			return WakeSignal
		}
		var ts *unix.Timespec
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return WakeTimeout
			}
			t := unix.NsecToTimespec(int64(left))
			ts = &t
		}
		if !w.state.CompareAndSwap(wakeIdle, wakeParked) {
			continue // signalled meanwhile
		}
		// Syscall6, not RawSyscall6: the runtime knows the thread is in a
		// system call (a garbage collection does not wait for it).
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&w.state)), futexWait|futexPrivateFlag, wakeParked, uintptr(unsafe.Pointer(ts)), 0, 0)
		// Woken by a signal (the state is wakeSignalled), or by the
		// timeout, an interrupted call or a spurious wake-up.
		w.state.CompareAndSwap(wakeParked, wakeIdle)
	}
}

// Sleep blocks until d has passed (true) or ctx is done (false); a signal
// meanwhile is stale (the thread is in no wait that a release ends) and is
// consumed.
func (w *Waker) Sleep(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		// Park takes a timeout <= 0 for none: a thread descheduled past
		// its deadline (a loaded machine) must not park at all.
		left := time.Until(deadline)
		if left <= 0 {
			return ctx.Err() == nil
		}
		switch w.Park(ctx, left) {
		case WakeStop:
			return false
		case WakeTimeout:
			return true
		}
	}
}

// pending reports whether a signal is pending (tests).
func (w *Waker) pending() bool { return w.state.Load() == wakeSignalled }
