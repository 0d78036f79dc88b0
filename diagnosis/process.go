package diagnosis

import (
	"cmp"
	"math"
	"slices"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// processes fills the per-process figures and their run-wide totals.
//
//  1. Per process: its wall (first thread start to last thread end), GIL
//     hold time, busy time, handoffs, forced switches, drop requests.
//  2. Re-acquire latencies from each thread's state sequence.
//  3. The longest GIL wait, and fairness among CPU-bound threads.
//  4. Run-wide sums, fractions over the run's wall.
func (a *analysis) processes() {
	t, s, r := a.t, a.s, a.r
	r.Procs = make([]ProcReport, len(t.Procs))
	first := make([]int64, len(t.Procs))
	last := make([]int64, len(t.Procs))
	seen := make([]bool, len(t.Procs))
	for i, p := range t.Procs {
		r.Procs[i] = ProcReport{Name: p.Name, PID: p.PID, HasGIL: p.GIL != tracer.NoLock}
	}
	for i, ts := range s.Threads {
		p := a.procOf[i]
		if p >= len(r.Procs) || !ts.Ended && ts.End == ts.Start {
			continue
		}
		pr := &r.Procs[p]
		pr.Threads++
		pr.busyNS += threadCPU(&r.Threads[i])
		if !seen[p] || ts.Start < first[p] {
			first[p] = ts.Start
		}
		last[p] = max(last[p], ts.End)
		seen[p] = true
	}
	gilProc := map[tracer.LockID]int{}
	for i, p := range t.Procs {
		r.Procs[i].WallNS = last[i] - first[i]
		if p.GIL != tracer.NoLock {
			gilProc[p.GIL] = i
		}
	}
	for _, h := range s.Holds {
		if p, ok := gilProc[h.Lock]; ok {
			r.Procs[p].gilHoldNS += h.End - h.Start
		}
	}
	for _, h := range s.Handoffs {
		if p, ok := gilProc[h.Lock]; ok && h.From != h.To {
			r.Procs[p].Handoffs++
			if h.How == tracer.AcquireForced {
				r.Procs[p].ForcedSwitches++
			}
		}
	}
	for _, d := range s.DropRequests {
		if p, ok := gilProc[d.Lock]; ok {
			r.Procs[p].DropRequests++
		}
	}
	a.reacquires()
	a.longestWaits(gilProc)
	a.fairness()
	a.runTotals()
}

// reacquires collects how long each thread waited for the GIL after
// blocking I/O and after GIL-releasing native calls (the GIL-wait spans
// right after the I/O or native span, 0 if it got the GIL at once), and
// their percentiles per process. The samples (one per I/O: a large share
// of the events) are kept once, in one array, a sorted run per thread and
// kind; a process's and the run's percentiles are selected from the runs
// (latencyOf) instead of from copies of them sorted again.
func (a *analysis) reacquires() {
	n := len(a.r.Threads)
	start := make([]int, 2*n+1) // run th*2+kind is all[start[i]:start[i+1]]
	a.eachReacquire(func(th tracer.ThreadID, kind int, _ int64) {
		start[2*int(th)+kind+1]++
	})
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	all := make([]int64, start[2*n])
	next := slices.Clone(start[:2*n])
	a.eachReacquire(func(th tracer.ThreadID, kind int, lat int64) {
		i := 2*int(th) + kind
		all[next[i]] = lat
		next[i]++
	})
	a.reacquireRuns = make([][]int64, 2*n)
	a.ioReacquire = make([][]int64, n)
	var scratch []int64
	for i := range a.reacquireRuns {
		run := all[start[i]:start[i+1]]
		scratch = sortTimes(run, scratch)
		a.reacquireRuns[i] = run
	}
	for th := range n {
		a.ioReacquire[th] = a.reacquireRuns[2*th]
	}
	for i := range a.r.Procs {
		pr := &a.r.Procs[i]
		pr.ReacquireIO = latencyOf(a.runsOf(i, 0))
		pr.ReacquireNative = latencyOf(a.runsOf(i, 1))
	}
}

// runsOf lists the sorted re-acquire runs (reacquires) of kind (0 after
// I/O, 1 after native calls, -1 both) of process proc's threads, or of
// every thread if proc is -1.
func (a *analysis) runsOf(proc, kind int) [][]int64 {
	var runs [][]int64
	for i, run := range a.reacquireRuns {
		th, k := i/2, i%2
		if len(run) > 0 && (kind < 0 || k == kind) && (proc < 0 || a.procOf[th] == proc) {
			runs = append(runs, run)
		}
	}
	return runs
}

// eachReacquire calls f for every I/O (kind 0) and GIL-releasing native
// call (kind 1) of a thread with a GIL that ended with the thread alive,
// with the GIL-wait time right after it.
func (a *analysis) eachReacquire(f func(th tracer.ThreadID, kind int, lat int64)) {
	st := a.s.States
	for i := 0; i < len(st); i++ {
		sp := st[i]
		kind := -1
		switch sp.State {
		case tracer.StateIO:
			kind = 0
		case tracer.StateNative:
			kind = 1
		}
		if kind < 0 || int(sp.Thread) >= len(a.procOf) || a.gilOf(a.procOf[sp.Thread]) == tracer.NoLock {
			continue
		}
		j := i + 1
		if j < len(st) && st[j].Thread == sp.Thread && st[j].State == sp.State {
			continue // the same I/O or call goes on with another stack or kind
		}
		var lat int64
		for ; j < len(st) && st[j].Thread == sp.Thread && st[j].State == tracer.StateGILWait; j++ {
			lat += st[j].End - st[j].Start
		}
		if j >= len(st) || st[j].Thread != sp.Thread {
			continue // the thread ended (or the trace did) before it got the GIL back
		}
		f(sp.Thread, kind, lat)
	}
}

// longestWaits finds the longest single GIL wait of each process.
func (a *analysis) longestWaits(gilProc map[tracer.LockID]int) {
	best := make([]int, len(a.r.Procs))
	for i := range best {
		best[i] = -1
	}
	for wi, w := range a.s.Waits {
		p, ok := gilProc[w.Lock]
		if !ok {
			continue
		}
		if b := best[p]; b < 0 || w.End-w.Start > a.s.Waits[b].End-a.s.Waits[b].Start {
			best[p] = wi
		}
	}
	for p, wi := range best {
		if wi >= 0 && a.s.Waits[wi].End > a.s.Waits[wi].Start {
			a.r.Procs[p].LongestWait = a.site(&a.s.Waits[wi])
		}
	}
}

// site describes wait w: who waited, in which function, and who held the
// lock for the longest part of it.
func (a *analysis) site(w *tracer.Wait) *Site {
	f := a.frame(w.Stack)
	st := &Site{Thread: a.threadName(w.Thread), Function: f.Func, File: f.File, Line: f.Line, StartNS: w.Start, DurationNS: w.End - w.Start}
	if h := mainHolder(a.s, w); h != tracer.NoThread {
		st.HeldBy = a.threadName(h)
	}
	return st
}

// mainHolder is the thread that held the lock longest during the waits
// ws, or NoThread. Ties go to the lower ThreadID. It walks the waits'
// blame: call it for a few waits, not all.
func mainHolder(s *tracer.Spans, ws ...*tracer.Wait) tracer.ThreadID {
	if hs := mainHolders(s, ws...); len(hs) > 0 {
		return hs[0]
	}
	return tracer.NoThread
}

// mainHolders is the threads that held the lock during the waits ws,
// the one that held it longest first, then those that held it at least a
// third as long as that one (at most three in all): two CPU-bound threads
// taking turns behind an I/O thread are both its convoy's holders.
func mainHolders(s *tracer.Spans, ws ...*tracer.Wait) []tracer.ThreadID {
	held := map[tracer.ThreadID]int64{}
	for _, w := range ws {
		for id, ns := range s.HeldDuring(w) {
			held[id] += ns
		}
	}
	ids := make([]tracer.ThreadID, 0, len(held))
	for id, ns := range held {
		if ns > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(x, y tracer.ThreadID) int {
		if c := cmp.Compare(held[y], held[x]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	out := ids[:0]
	for _, id := range ids {
		if len(out) == 3 || 3*held[id] < held[ids[0]] {
			break
		}
		out = append(out, id)
	}
	return out
}

// fairness compares the GIL acquisitions of the CPU-bound threads that
// competed for the GIL in each process (competingThread), counted while
// at least two of them were alive (competedWindows).
func (a *analysis) fairness() {
	// All acquisitions in those windows, contended or not: a legacy GIL's
	// releasing thread wins it straight back uncontended thousands of
	// times while the other waits, and counting only contended ones hid
	// that. Outside them no other competing thread could have taken it:
	// a main thread's thousand acquisitions during its imports, before it
	// started its workers, are not a sign that the GIL favoured it. A main
	// thread that took the GIL alone and then joined the workers is not
	// among the competing threads at all.
	counts := a.competedAcquisitions()
	for i := range a.r.Threads {
		if !a.competing[i] {
			continue
		}
		th := &a.r.Threads[i]
		n := counts[i]
		f := &a.r.Procs[a.procOf[i]].Fairness
		if f.CPUBoundThreads == 0 || n < f.Fewest {
			f.Fewest, f.FewestThread, f.FewestGILWaitNS, f.FewestThreadAcquisitions = n, th.Name, th.GILWaitNS, th.Acquisitions
		}
		if f.CPUBoundThreads == 0 || n > f.Most {
			f.Most, f.MostThread, f.MostGILWaitNS, f.MostThreadAcquisitions = n, th.Name, th.GILWaitNS, th.Acquisitions
		}
		f.CPUBoundThreads++
		f.Counted += n
		f.Acquisitions += th.Acquisitions
	}
	for i := range a.r.Procs {
		f := &a.r.Procs[i].Fairness
		f.Ratio = round3(ratio(float64(f.Fewest), float64(f.Most)))
	}
}

// competedAcquisitions is, per thread, its acquisitions of its process's
// GIL that another competing thread was waiting for the GIL at (a thread
// acquiring it, no other holds it: another wanting it is waiting); all of
// them in a process where no acquisition had one waiting (its threads ran
// one after another, or it has one). A thread in I/O, a sleep or a lock's
// wait does not want the GIL: the main thread's thousand uncontended
// re-acquires around its imports' I/O, or while its workers block on an
// event, do not count against them.
func (a *analysis) competedAcquisitions() []int {
	counts := make([]int, len(a.r.Threads))
	waits := a.gilWaits() // in start order
	for p := range a.r.Procs {
		gil := a.gilOf(p)
		if gil == tracer.NoLock {
			continue
		}
		holds := a.s.LockHolds(gil)      // in time order
		var latest int64 = math.MinInt64 // the latest end of the waits begun so far
		k, counted := 0, 0
		for _, hi := range holds {
			h := &a.s.Holds[hi]
			for ; k < len(waits) && a.s.Waits[waits[k]].Start <= h.Start; k++ {
				if w := &a.s.Waits[waits[k]]; w.Lock == gil && int(w.Thread) < len(a.competing) && a.competing[w.Thread] {
					latest = max(latest, w.End)
				}
			}
			if int(h.Thread) < len(counts) && a.competing[h.Thread] && latest > h.Start {
				counts[h.Thread]++
				counted++
			}
		}
		if counted == 0 {
			for _, hi := range holds {
				if h := &a.s.Holds[hi]; int(h.Thread) < len(counts) && a.competing[h.Thread] {
					counts[h.Thread]++
				}
			}
		}
	}
	return counts
}

// runTotals fills the per-process fractions and the run-wide figures.
func (a *analysis) runTotals() {
	r := a.r
	var hold, gilWall int64
	for i := range r.Procs {
		pr := &r.Procs[i]
		pr.Parallelism = round3(textfmt.Share(pr.busyNS, pr.WallNS))
		pr.HandoffsPerSec = round3(ratio(float64(pr.Handoffs), float64(pr.WallNS)/1e9))
		if pr.HasGIL {
			pr.GILHeldFraction = round3(textfmt.Share(pr.gilHoldNS, pr.WallNS))
			hold += pr.gilHoldNS
			gilWall += pr.WallNS
		}
		r.Handoffs += pr.Handoffs
		r.DropRequests += pr.DropRequests
		r.ForcedSwitches += pr.ForcedSwitches
		if lw := pr.LongestWait; lw != nil && (r.LongestWait == nil || lw.DurationNS > r.LongestWait.DurationNS) {
			r.LongestWait = lw
		}
	}
	var busy int64
	for i := range r.Threads {
		busy += threadCPU(&r.Threads[i])
	}
	r.GILHeldFraction = round3(textfmt.Share(hold, gilWall))
	r.Parallelism = round3(textfmt.Share(busy, a.wallNS))
	r.HandoffsPerSec = round3(ratio(float64(r.Handoffs), float64(a.wallNS)/1e9))
	r.ReacquireIO = latencyOf(a.runsOf(-1, 0))
	r.ReacquireNative = latencyOf(a.runsOf(-1, 1))
	r.ReacquireLatency = latencyOf(a.runsOf(-1, -1))
}
