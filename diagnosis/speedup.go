package diagnosis

import (
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// work splits the threads' work into the serial part (needs the GIL:
// running and native calls that keep it, in processes with a GIL) and the
// parallel part (I/O and GIL-releasing native calls, and all work of
// free-threaded processes).
//
// The I/O counted is a.io's (ioWork): a real program's waits for its other
// processes are not work.
func (a *analysis) work() {
	w := &a.r.Work
	a.io = a.ioWork()
	for i := range a.r.Threads {
		th := &a.r.Threads[i]
		w.CPUNS += threadCPU(th)
		if a.gilOf(a.procOf[i]) != tracer.NoLock {
			w.SerialNS += th.RunningNS + th.NativeHoldingNS
			w.ParallelNS += a.io[i] + th.NativeNS
		} else {
			w.ParallelNS += threadCPU(th) + a.io[i]
		}
	}
	w.TotalNS = w.SerialNS + w.ParallelNS
	w.SerialShare = round3(textfmt.Share(w.SerialNS, w.TotalNS))
	w.ParallelShare = round3(textfmt.Share(w.ParallelNS, w.TotalNS))
}

// cores is the parallelism the run had: the recording machine's cores,
// bounded by GOMAXPROCS when it is known; at least 1.
func cores(m *tracer.Meta) int {
	n := m.Cores
	if m.GOMAXPROCS > 0 && (n <= 0 || m.GOMAXPROCS < n) {
		n = m.GOMAXPROCS
	}
	return max(n, 1)
}

// speedup fills the speedup arithmetic.
//
//  1. Serial-equivalent time T1: the time one thread would need for the
//     same work, back to back: CPU time (running + native + native
//     holding) plus I/O time, without any waiting. CPU time above
//     cores × wall cannot have been real CPU work (the threads were
//     descheduled by the OS while "running"), so it is capped there.
//  2. Achieved speedup: T1 / wall.
//  3. Amdahl ceiling: per process, the serial work S_p runs one thread at
//     a time and the parallel work P_p spreads over its N_p threads:
//     T_p = S_p + P_p / N_p; the ceiling is W / max_p T_p (for one process,
//     1 / (s + p/N)). It ignores the cores. Amdahl's law assumes the serial
//     part runs alone; threads overlap one thread's GIL-holding part with
//     other threads' I/O, so they can beat it. The GIL ceiling is the tight
//     bound: the wall is at least each process's GIL-held work S_p, its work
//     spread over its threads W_p / N_p, and the longest thread's work:
//     W / the largest of these.
//  4. Without a GIL: the wall can be no shorter than the longest thread's
//     own work, the CPU work spread over the cores, and the hold time of
//     each shared guest lock, a mutex (its critical sections still run one
//     at a time):
//     T1 / max of these. As processes: the same without the guest-lock
//     bound, since each process has its own locks.
func (a *analysis) speedup() {
	r := a.r
	sp := &r.Speedup
	sp.Cores = cores(&a.t.Meta)
	for _, p := range r.Procs {
		sp.Threads += p.Threads
	}
	cpu := r.Work.CPUNS
	if limit := int64(sp.Cores) * a.wallNS; cpu > limit {
		cpu, sp.CPUCapped = limit, true
	}
	// longest is the most work one thread did; path the latest any thread
	// could finish doing its own work from when it started: without a GIL
	// or as processes the run cannot end before either (a real program's
	// workers start after its main thread's imports and set-up). A thread
	// that existed before the trace (attach) has no start in it: first
	// seen late, it was blocked until then, not started then.
	var io, longest, path int64
	for i := range r.Threads {
		io += a.io[i]
		w := a.threadWork(i)
		longest = max(longest, w)
		path = max(path, w)
		if i < len(a.s.Threads) && !a.s.Threads[i].Existed {
			path = max(path, a.s.Threads[i].Start+w)
		}
	}
	sp.SerialEquivNS = cpu + io
	sp.Achieved = round3(textfmt.Share(sp.SerialEquivNS, a.wallNS))
	sp.AmdahlCeiling = round3(a.amdahl())
	sp.AmdahlLaw = sp.AmdahlCeiling
	sp.GILCeiling = round3(a.gilCeiling(longest))
	bound := max(path, cpu/int64(sp.Cores))
	sp.AsProcesses = round3(textfmt.Share(sp.SerialEquivNS, bound))
	for _, l := range r.Locks {
		if l.Shared { // a mutex; a join lock, held by its thread for its life, serialises nothing
			bound = max(bound, l.HoldNS)
		}
	}
	sp.WithoutGIL = round3(textfmt.Share(sp.SerialEquivNS, bound))
}

// processWork is the work of each process's threads: serial (needs the
// GIL), parallel (I/O, GIL-releasing native calls, or anything without a
// GIL) and all of it, indexed by process.
func (a *analysis) processWork() (serial, parallel, work []float64) {
	n := len(a.t.Procs)
	serial, parallel, work = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range a.r.Threads {
		p := a.procOf[i]
		if p >= n {
			continue
		}
		th := &a.r.Threads[i]
		work[p] += float64(a.threadWork(i))
		if a.gilOf(p) != tracer.NoLock {
			serial[p] += float64(th.RunningNS + th.NativeHoldingNS)
			parallel[p] += float64(a.io[i] + th.NativeNS)
		} else {
			parallel[p] += float64(a.threadWork(i))
		}
	}
	return serial, parallel, work
}

// amdahl is W / max_p (S_p + P_p/N_p).
func (a *analysis) amdahl() float64 {
	serial, parallel, _ := a.processWork()
	var worst float64
	for p := range serial {
		if k := a.r.Procs[p].Threads; k > 0 {
			worst = max(worst, serial[p]+parallel[p]/float64(k))
		}
	}
	return ratio(float64(a.r.Work.TotalNS), worst)
}

// gilCeiling is W / max(max_p S_p, max_p W_p/N_p, longest thread work).
func (a *analysis) gilCeiling(longest int64) float64 {
	serial, _, work := a.processWork()
	bound := float64(longest)
	for p := range serial {
		if k := a.r.Procs[p].Threads; k > 0 {
			bound = max(bound, serial[p], work[p]/float64(k))
		}
	}
	return ratio(float64(a.r.Work.TotalNS), bound)
}

// threadWork is thread i's work in the speedup arithmetic: its CPU time and
// the I/O that counts as work (a.io).
func (a *analysis) threadWork(i int) int64 {
	return threadCPU(&a.r.Threads[i]) + a.io[i]
}
