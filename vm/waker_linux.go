//go:build linux

package vm

import (
	"context"
	"runtime"
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
// Go's scheduler or network poller stands between them. A goroutine in a
// system call stays on its operating-system thread, and a real-time run has
// a processor for each guest thread (procs.go), so a thread blocked in the
// system call runs on as soon as the kernel schedules it (docs/vm.md,
// "Timed waits and sleeps").
type waker struct {
	state    atomic.Uint32 // wakeIdle, wakeSignalled or wakeParked
	lastPass int64         // monoNow at the thread's last pass through Go's scheduler
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
	var deadline int64 // monoNow
	if timeout > 0 {
		deadline = monoNow() + int64(timeout)
	}
	for {
		if ctx.Err() != nil {
			return WakeStop
		}
		if w.state.CompareAndSwap(wakeSignalled, wakeIdle) {
			return WakeSignal
		}
		// From one clock read: the time left, and whether the sleep may
		// end passEvery or more after the last pass through Go's scheduler
		// (see passScheduler; a wait without a timeout is taken for half
		// of passEvery: a pass before each lock wait would cost one more
		// wake-up a handoff, and a wait that lasts longer may still lose
		// its processor to the system monitor, once). After a pass, the
		// time left again.
		now := monoNow()
		left, expect := deadline-now, int64(passEvery/2)
		if timeout > 0 {
			if left <= 0 {
				return WakeTimeout
			}
			expect = left
		}
		if now+expect-w.lastPass >= int64(passEvery) {
			passScheduler()
			w.lastPass = now
			if left = deadline - monoNow(); timeout > 0 && left <= 0 {
				return WakeTimeout
			}
		}
		var ts *unix.Timespec
		if timeout > 0 {
			t := unix.NsecToTimespec(left)
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

// passScheduler passes the calling goroutine through Go's scheduler, which
// runs it on at once when nothing else waits for a processor. A guest
// thread sleeps in the futex system call, never in Go's scheduler, so
// without it the processor (P) it runs on would count no scheduling for as
// long as the thread lives, and Go's system monitor treats a P that has not
// scheduled for 10 ms as running a goroutine to preempt: it signals the
// thread and, if it is in a system call, takes its P away, and every P so
// taken makes the monitor poll again every 20 us. Measured with 8 threads
// of 100 x (2 ms compute + 2 ms sleep) on 2 cores
// (scripts/runtime-preemption.sh): 13-15 k wake-ups of the monitor and
// 530-570 preemption signals in a 2 s run, about 5 times the context switches
// of CPython running the same program, and each 2 ms compute 10-20 %
// slower than with one thread, where CPython's is not. A pass costs
// more than it seems: it wakes an idle P's thread to look for work
// (runtime.wakep), which spins on another core; before every sleep, it made
// the GIL's handoff (BenchmarkHandoff) 15 us instead of 2-7. So a thread
// passes before a sleep only if it could otherwise go passEvery without
// one: 0.7-1.3 k wake-ups of the monitor, 7-10 signals, a third of the
// context switches, each compute 4-8 % slower than with one thread (in one
// process, runs alternating), and a 2 us handoff (docs/vm.md, "Where the
// model differs from CPython"). Those figures are of unlocked threads;
// a guest thread is now locked to its operating-system thread
// (lockGuestThread), so its pass hands its P to another thread and back:
// about twice the context switches (12.6-14.0 k in the same script's run),
// the same handoff (BenchmarkHandoff 1.9-2.0 us either way).
func passScheduler() { runtime.Gosched() }

// passEvery is how long at most a thread goes without passing through Go's
// scheduler, as far as its sleeps' timeouts tell: under the system
// monitor's 10 ms.
const passEvery = 8 * time.Millisecond

var monoStart = time.Now()

// monoNow is the monotonic clock in ns.
func monoNow() int64 { return int64(time.Since(monoStart)) }
