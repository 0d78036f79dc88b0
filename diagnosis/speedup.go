package diagnosis

import (
	"cmp"
	"iter"
	"math"
	"slices"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// work splits the threads' work into the serial part (needs the GIL:
// running and native calls that keep it, in processes with a GIL) and the
// parallel part (I/O and GIL-releasing native calls, and all work of
// free-threaded processes).
//
// The I/O counted is a.io's (ioWork): a real program's waits for its other
// processes are not work. A thread of an attach first seen late adds the
// time before then that counts as a blocking call (blockedBeforeSeen), as
// the model writes it.
func (a *analysis) work() {
	w := &a.r.Work
	a.io = a.ioWork()
	a.blocked, a.blockFrom = a.blockedBeforeSeen()
	for i, b := range a.blocked {
		a.io[i] += b
	}
	w.BlockedBefore = a.blockedBefore()
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
//     holding) plus I/O time (a.io: with the time before the trace first
//     saw a thread of an attach that counts as a blocking call,
//     blockedBeforeSeen), without any waiting. CPU time above
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
//     own work, the CPU work spread over the cores, what the threads'
//     earliest starts leave (startBound, reachableStarts), and the hold
//     time of each shared guest lock, a mutex, less the GIL waits inside
//     it (its critical sections still run one at a time), and no longer
//     than the run's wall:
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
	// longest is the most work one thread did. Without a GIL or as
	// processes the run cannot end before its threads' earliest starts
	// allow (startBound, reachableStarts: a real program's workers start
	// after its main thread's imports and set-up).
	var io, longest int64
	reach := a.reachableStarts()
	starts := make([]startWork, 0, len(r.Threads))
	for i := range r.Threads {
		io += a.io[i]
		w := a.threadWork(i)
		longest = max(longest, w)
		starts = append(starts, startWork{start: reach[i], work: w, cpu: threadCPU(&r.Threads[i])})
	}
	sp.SerialEquivNS = cpu + io
	sp.Achieved = round3(textfmt.Share(sp.SerialEquivNS, a.wallNS))
	sp.AmdahlCeiling = round3(a.amdahl())
	sp.AmdahlLaw = sp.AmdahlCeiling
	sp.GILCeiling = round3(a.gilCeiling(longest))
	// The run did its work in its wall with the GIL; without it, on the
	// same cores, it is no slower (a trace that says otherwise counts a
	// thread waiting for a core as running: its CPU time is capped).
	bound := min(max(startBound(starts, 0, sp.Cores), cpu/int64(sp.Cores)), max(a.wallNS, 1))
	sp.AsProcesses = round3(textfmt.Share(sp.SerialEquivNS, bound))
	for _, l := range r.Locks {
		if l.Shared { // a mutex; a join lock, held by its thread for its life, serialises nothing
			// Its critical sections' own time: the GIL waits inside
			// them go with the GIL.
			bound = max(bound, l.WorkNS)
		}
	}
	sp.WithoutGIL = round3(textfmt.Share(sp.SerialEquivNS, bound))
}

// startWork is a thread's earliest start without a GIL (reachableStarts),
// its work and the CPU part of its work.
type startWork struct{ start, work, cpu int64 }

// startBound is the least time from `from` in which threads that cannot
// start before their starts can do their work on cores cores, with no GIL
// and no lock: none ends before its start plus its own work, and the CPU
// work of the threads that cannot start before a time T takes at least
// that work over the cores after T (a real program's workers start after
// its main thread's imports and set-up: four workers of 50 ms started
// after 200 ms of the main thread's work end at 300 ms at best on 2
// cores, not 250).
func startBound(ts []startWork, from int64, cores int) int64 {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(x, y startWork) int { return cmp.Compare(y.start, x.start) }) // latest first
	var bound, suffix int64
	for k, t := range ts {
		at := max(t.start-from, 0)
		bound = max(bound, at+t.work)
		suffix += t.cpu
		if k+1 < len(ts) && ts[k+1].start == t.start {
			continue // the bound at a time counts every thread that starts then
		}
		bound = max(bound, at+suffix/int64(max(cores, 1)))
	}
	return bound
}

// reachableStarts is, per thread, the earliest it could start without a
// GIL: its recorded start less the time before it during which some
// thread waited for the GIL. What leads to a start (the thread that
// starts it, and the threads that one waited for or was started by, back
// to the run's start) was at each moment running, in I/O or waiting: for
// the GIL, which goes, or for a lock or a join, which passes the question
// to the thread it waited for; so it reached the start no sooner than by
// the GIL waits that overlap it, all of which are in that union (the
// delays of a chain of starts add up, each link's waits its own thread's:
// the most any one thread waited is not enough). 0 for a thread that
// existed before the trace (attach): first seen late, it was blocked until
// then, not started then.
func (a *analysis) reachableStarts() []int64 {
	if a.reach != nil {
		return a.reach
	}
	out := make([]int64, len(a.r.Threads))
	a.reach = out
	type query struct {
		t int64
		i int
	}
	var qs []query
	for i := range out {
		if i < len(a.s.Threads) && !a.s.Threads[i].Existed {
			qs = append(qs, query{max(a.s.Threads[i].Start, 0), i})
		}
	}
	if len(qs) == 0 {
		return out
	}
	slices.SortFunc(qs, func(x, y query) int { return cmp.Compare(x.t, y.t) })
	ts := make([]int64, len(qs))
	for j, q := range qs {
		ts[j] = q.t
	}
	waited := unionBefore(func(yield func(start, end int64) bool) {
		for _, wi := range a.gilWaits() {
			if !yield(a.s.Waits[wi].Start, a.s.Waits[wi].End) {
				return
			}
		}
	}, ts)
	for j, q := range qs {
		out[q.i] = max(q.t-waited[j], 0)
	}
	return out
}

// unionBefore is, for each time of ts (sorted), how much of [0, t) the
// union of the intervals covers; intervals yields them in the order they
// begin. One pass, nothing allocated but the answer: the union is merged
// as it goes, and a time is answered once no interval left can begin
// before it (the GIL waits of a 1.9 M-event run: a 10 MB copy, sorted and
// merged, before).
func unionBefore(intervals iter.Seq2[int64, int64], ts []int64) []int64 {
	out := make([]int64, len(ts))
	var before int64 // the union's length before cur
	var lo, hi int64 // cur: the merged interval being built
	started := false // cur holds an interval
	j := 0
	answer := func(upTo int64, all bool) {
		for ; j < len(ts) && (all || ts[j] <= upTo); j++ {
			w := before
			if started && ts[j] > lo {
				w += min(hi, ts[j]) - lo
			}
			out[j] = w
		}
	}
	for start, end := range intervals {
		answer(start, false) // no interval left begins before these
		switch {
		case !started:
			lo, hi, started = start, end, true
		case start <= hi:
			hi = max(hi, end)
		default:
			before += hi - lo
			lo, hi = start, end
		}
	}
	answer(0, true)
	return out
}

// gilWaits is the waits for a GIL that lasted, as indexes into Spans.Waits,
// in the order they began (Derive appends them so; sorted here if a trace
// says otherwise).
func (a *analysis) gilWaits() []int32 {
	if a.gilWaitList != nil {
		return a.gilWaitList
	}
	gil := make([]bool, len(a.t.Locks))
	for i, l := range a.t.Locks {
		gil[i] = l.GIL
	}
	// Sized to every wait at once: appended to, it grew by copies, the
	// largest share of the diagnosis's page faults (a 1.9 M-event run).
	out := make([]int32, 0, len(a.s.Waits))
	sorted, last := true, int64(math.MinInt64)
	for i := range a.s.Waits {
		if w := &a.s.Waits[i]; w.End > w.Start && int(w.Lock) < len(gil) && gil[w.Lock] {
			out = append(out, int32(i))
			sorted = sorted && w.Start >= last
			last = w.Start
		}
	}
	if !sorted {
		slices.SortStableFunc(out, func(x, y int32) int { return cmp.Compare(a.s.Waits[x].Start, a.s.Waits[y].Start) })
	}
	a.gilWaitList = out
	return out
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
