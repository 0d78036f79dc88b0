package vm

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// cpuSpeeds times the same spin loop on each processor this process may
// run on, the thread pinned there, one after another: on this project's
// virtual machine one vCPU is at times 1.5-2.7x slower than the other for
// minutes (a pinned C loop: 0.080 s against 0.029 s, 2026-12-02 04:50
// UTC), and a speedup measured then depends on which vCPU each thread
// happened to run on (docs/fidelity.md). nil where the affinity cannot be
// read or set.
func cpuSpeeds() []time.Duration {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for c := range 1024 {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	out := make([]time.Duration, 0, len(cpus))
	for _, c := range cpus {
		d := make(chan time.Duration)
		go func() {
			// Locked and not unlocked: the thread, pinned, ends with the
			// goroutine instead of going back to the runtime's pool.
			runtime.LockOSThread()
			var one unix.CPUSet
			one.Set(c)
			if unix.SchedSetaffinity(0, &one) != nil {
				d <- -1
				return
			}
			d <- spinTime()
		}()
		if t := <-d; t > 0 {
			out = append(out, t)
		} else {
			return nil
		}
	}
	return out
}
