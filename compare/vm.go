package compare

import (
	"context"
	"errors"
	"fmt"

	"github.com/giltrace/giltrace/internal/cpus"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// VMOptions configure the VM runs of a comparison.
type VMOptions struct {
	// Clock is virtual (the default, ""): every variant is simulated, so
	// the table and the charts are the same on every machine; or real, to
	// measure this machine.
	Clock workload.ClockMode
	// Cores is the simulated machine of virtual time; 0 is this machine's
	// (internal/cpus). Real time rejects it.
	Cores int
	// Seed, if set, replaces the workload's seed.
	Seed *int64
	// LoopsPerMS is the calibration of real time, shared by every variant
	// so that their compute is the same number of interpreter loops (0
	// measures it once, now); in virtual time, the compute rate (0 is
	// vm.VirtualLoopsPerMS).
	LoopsPerMS float64
	Version    string // the giltrace version, recorded in the traces
}

// VMRunner runs the variants of workload w on the VM in virtual time (see
// NewVMRunner). loopsPerMS is the compute rate (0: the default).
func VMRunner(w *workload.Workload, loopsPerMS float64, version string) Runner {
	return NewVMRunner(w, VMOptions{LoopsPerMS: loopsPerMS, Version: version})
}

// NewVMRunner runs the variants of workload w on the VM. Threads and
// processes keep the workload's GIL mode (cpython if it is none);
// free-threaded runs with mode none.
func NewVMRunner(w *workload.Workload, o VMOptions) Runner {
	clock := o.Clock
	if clock == "" {
		clock = workload.ClockVirtual
	}
	lpm := o.LoopsPerMS
	if clock == workload.ClockReal && lpm <= 0 {
		lpm = vm.Calibrate()
	}
	return func(ctx context.Context, v Variant) (*tracer.Trace, error) {
		return vm.Run(ctx, w, o.variant(w, v, lpm))
	}
}

// variant is the VM's options for variant v of workload w, with the
// compute rate lpm.
func (o VMOptions) variant(w *workload.Workload, v Variant, lpm float64) vm.Options {
	clock, cores := o.Clock, o.Cores
	if clock == "" {
		clock = workload.ClockVirtual
	}
	if clock == workload.ClockVirtual && cores == 0 {
		// The workload's cores:, as record simulates them (QA: compare
		// ran a workload of cores: 3 on this machine's 2), else this
		// machine's (the CPUs giltrace can use at once, within its
		// cgroup's limit: internal/cpus).
		cores = w.Cores
		if cores == 0 {
			cores = cpus.Usable()
		}
	}
	gil := w.GIL.Mode
	if gil == tracer.GILNone || gil == "" {
		gil = tracer.GILCPython
	}
	vo := vm.Options{Mode: gil, SwitchInterval: v.SwitchInterval, Threads: v.Threads, Processes: 1, LoopsPerMS: lpm, Version: o.Version,
		ClockMode: clock, Cores: cores, Seed: o.Seed}
	switch v.Mode {
	case Processes:
		vo.Threads, vo.Processes = 1, v.Threads
	case FreeThreaded:
		vo.Mode, vo.SwitchInterval = tracer.GILNone, 0
	}
	return vo
}

// CheckVM checks every variant of c against the VM's limits (threads in
// all, processes, cores) for workload w, before any of them runs: a
// comparison that would fail at its eighth variant fails before its first.
// The error names the first variant refused.
func CheckVM(w *workload.Workload, o VMOptions, c Options) error {
	for _, g := range w.Threads {
		if g.Process != 0 {
			// Its variants put every thread group in one process (threads)
			// or each in processes of its own: a group pinned to process K
			// fits neither.
			return fmt.Errorf("thread group %q runs in process %d (process:): %w; compare the recorded run instead (giltrace compare RUN.giltrace), or remove the process: keys", g.Name, g.Process, ErrPinnedProcesses)
		}
	}
	vs, err := c.Variants()
	if err != nil {
		return err
	}
	for _, v := range vs {
		// Real time's calibration (LoopsPerMS 0) is not needed for this.
		if _, err := vm.NewSource(w, o.variant(w, v, o.LoopsPerMS)); err != nil {
			if errors.Is(err, vm.ErrTooManyProcesses) {
				// QA: --threads 1,128 stopped with the processes row's
				// error, where threads and free-threaded run 128 well.
				return fmt.Errorf("%s: %w: leave processes out (--modes threads,free-threaded) or keep --threads at %d or fewer", v.Name(), err, workload.MaxProcesses)
			}
			return fmt.Errorf("%s: %w", v.Name(), err)
		}
	}
	return nil
}

// ErrPinnedProcesses: a workload whose thread groups are pinned to
// processes (process:) has no variants to compare.
var ErrPinnedProcesses = errors.New("compare scales a workload's thread groups as threads of one process or as processes of their own, which a workload of pinned processes (a model of a multiprocessing program) does not allow")

// CallsPerThread is how many times one thread of each group that scales
// calls its run function, summed over those groups: the unit of a
// comparison's calls and throughput. A group that starts others keeps its
// count at every size (vm.Options.Threads) and is not counted: with it,
// a run of main starting N workers counted N calls of main (QA); the
// speedups, ratios of like runs, are the same either way. A valid
// workload has a group that scales: a started group's starter is another
// group, and the starts make no cycle (the loader's checkStarts). Daemon
// groups are not counted either, unless every group that scales is one:
// a daemon is stopped when the others end, its calls not all made (QA: a
// heartbeat daemon of repeat 100000, stopped after about 10 beats, made
// a run of two 50 ms workers 1992827 calls/s).
func CallsPerThread(w *workload.Workload) int {
	n, daemons := 0, 0
	for _, g := range w.Threads {
		switch {
		case w.StartsOthers(g):
		case g.Daemon:
			daemons += max(g.Repeat, 1)
		default:
			n += max(g.Repeat, 1)
		}
	}
	if n == 0 {
		return daemons
	}
	return n
}
