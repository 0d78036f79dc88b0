package compare

import (
	"context"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// VMRunner runs the variants of workload w on the VM. Every variant uses
// the same calibration, loopsPerMS (0 measures it once now), so that their
// compute is the same number of interpreter loops. Threads and processes
// keep the workload's GIL mode (cpython if it is none); free-threaded runs
// with mode none.
func VMRunner(w *workload.Workload, loopsPerMS float64, version string) Runner {
	if loopsPerMS <= 0 {
		loopsPerMS = vm.Calibrate()
	}
	gil := w.GIL.Mode
	if gil == tracer.GILNone || gil == "" {
		gil = tracer.GILCPython
	}
	return func(ctx context.Context, v Variant) (*tracer.Trace, error) {
		o := vm.Options{Mode: gil, SwitchInterval: v.SwitchInterval, Threads: v.Threads, Processes: 1, LoopsPerMS: loopsPerMS, Version: version}
		switch v.Mode {
		case Processes:
			o.Threads, o.Processes = 1, v.Threads
		case FreeThreaded:
			o.Mode, o.SwitchInterval = tracer.GILNone, 0
		}
		return vm.Run(ctx, w, o)
	}
}

// CallsPerThread is how many times one thread of each group calls its run
// function, summed over the groups: the unit of a comparison's throughput.
func CallsPerThread(w *workload.Workload) int {
	n := 0
	for _, g := range w.Threads {
		n += max(g.Repeat, 1)
	}
	return n
}
