package vm

import (
	"os"
	"runtime"
	"sync"
)

// Processors for real-time runs. Each guest thread runs on an
// operating-system thread, which runs Go code only while it holds one of
// Go's GOMAXPROCS processors. With as many processors as cores, more
// runnable guest threads than cores would queue for a processor in Go's
// scheduler (which preempts after 10 ms); CPython's threads are shared
// among the cores by the kernel. So a real-time run raises
// GOMAXPROCS to its threads plus one for its duration: every guest thread
// can hold a processor, and the kernel shares the cores among them. The
// trace records the GOMAXPROCS from before (the cores the run may use).
// An explicit GOMAXPROCS in the environment is respected.
var procs struct {
	mu     sync.Mutex
	active int // real-time runs in progress
	orig   int // GOMAXPROCS before the first of them
	want   []int
}

// raiseProcs raises GOMAXPROCS to at least n while the run lasts and
// returns the GOMAXPROCS the run is recorded with and the function that
// ends the raise.
func raiseProcs(n int) (recorded int, done func()) {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if procs.active == 0 {
		procs.orig = runtime.GOMAXPROCS(0)
	}
	procs.active++
	recorded = procs.orig
	if os.Getenv("GOMAXPROCS") == "" && n > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
	return recorded, func() {
		procs.mu.Lock()
		defer procs.mu.Unlock()
		procs.active--
		if procs.active == 0 && runtime.GOMAXPROCS(0) != procs.orig {
			runtime.GOMAXPROCS(procs.orig)
		}
	}
}
