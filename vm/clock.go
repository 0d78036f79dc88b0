package vm

import (
	"context"
	"time"
)

// Clock is the VM's only source of time and its only way to block a thread.
// The interpreter, the GIL and the guest locks go through it, so that a
// deterministic virtual-time scheduler can replace the real one without
// touching them or the tracer.
//
// Every method may be called concurrently by different threads; a thread
// calls them only for itself.
type Clock interface {
	// Now is the time in nanoseconds since the run's start. It is
	// monotonic.
	Now() int64
	// Sleep blocks the calling thread, whose Waker is w, for d (blocking
	// I/O). A signal of w meanwhile does not end it. It returns false if
	// ctx was done before d elapsed.
	Sleep(ctx context.Context, w *Waker, d time.Duration) bool
	// Burn keeps the calling thread busy on a CPU for d of work (a native
	// call): in real time d of the thread's own CPU time.
	// It returns false if ctx was done before d elapsed.
	Burn(ctx context.Context, d time.Duration) bool
	// Park blocks the calling thread until w is signalled, the timeout
	// elapses (never when timeout <= 0), or ctx is done.
	Park(ctx context.Context, w *Waker, timeout time.Duration) Wake
}

// Wake says why Clock.Park returned.
type Wake uint8

// Reasons for Park to return.
const (
	WakeSignal  Wake = iota // the thread's Waker was signalled
	WakeTimeout             // the timeout elapsed
	WakeStop                // the context was done
)

// realClock is the Clock of a real run: monotonic wall time, threads
// blocking on their Waker (a futex on Linux, waker_linux.go),
// native work burnt as the thread's own CPU time (cputime_linux.go).
type realClock struct {
	start time.Time // carries Go's monotonic reading
}

func (c *realClock) Now() int64 { return int64(time.Since(c.start)) }

// Sleep blocks the thread on its Waker until d has passed: on Linux a
// futex wait with the timeout, woken by the kernel's timer as CPython's
// time.sleep (clock_nanosleep) is (waker_linux.go).
func (c *realClock) Sleep(ctx context.Context, w *Waker, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	return w.Sleep(ctx, d)
}

// burnCheckEvery is how many clock reads a Burn makes between looks at the
// context: about 64 x 25-300 ns, so a stop is seen within a few to a few
// tens of microseconds.
const burnCheckEvery = 64

// Burn is CPU work: it spins until the calling thread has consumed d of
// CPU time (on Linux the thread's own CPU clock, CLOCK_THREAD_CPUTIME_ID,
// with the goroutine locked to its operating-system thread; see
// cputime_linux.go), so that a native call descheduled by an oversubscribed
// machine takes longer in wall time, as CPython's C code does. Where the
// thread's CPU clock cannot be read it spins on the wall clock instead.
func (c *realClock) Burn(ctx context.Context, d time.Duration) bool {
	if ok, done := burnCPU(ctx, d); ok {
		return done
	}
	return c.burnWall(ctx, d)
}

// burnWall spins until the wall clock has advanced by d.
func (c *realClock) burnWall(ctx context.Context, d time.Duration) bool {
	end := c.Now() + int64(d)
	done := ctx.Done()
	for i := 1; c.Now() < end; i++ {
		if i%burnCheckEvery == 0 {
			select {
			case <-done:
				return false
			default:
			}
		}
	}
	return true
}

// Park parks the thread on its Waker: on Linux a futex with the timeout,
// as CPython's pthread_cond_timedwait (waker_linux.go).
func (c *realClock) Park(ctx context.Context, w *Waker, timeout time.Duration) Wake {
	return w.Park(ctx, timeout)
}
