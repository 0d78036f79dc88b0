//go:build linux

package vm

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the calling operating-system thread's CPU time in ns, or
// false if it cannot be read.
func threadCPU() (int64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}

// burnCPU spins until the calling thread has used d of CPU time. The
// goroutine is locked to its operating-system thread meanwhile, so that
// the thread's CPU clock is the goroutine's: time the thread spends
// descheduled (the machine has fewer free cores than busy threads) is not
// work done. ok is false if the clock cannot be read (nothing was burnt);
// done is false if ctx was done first.
func burnCPU(ctx context.Context, d time.Duration) (ok, done bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	if !ok {
		return false, false
	}
	end := start + int64(d)
	stop := ctx.Done()
	for i := 1; ; i++ {
		now, _ := threadCPU()
		if now >= end {
			return true, true
		}
		if i%burnCheckEvery == 0 {
			select {
			case <-stop:
				return true, false
			default:
			}
		}
	}
}
