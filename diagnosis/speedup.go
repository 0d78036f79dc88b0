package diagnosis

import (
	"cmp"
	"fmt"
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
	a.r.IOWorkNS, a.r.ListenWorkNS = a.io, a.listenWork
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
//     It is not capped at the CPU time the run obtained (on a busy
//     machine, less): the overlap is what the GIL and the locks let the
//     threads do, which the verdicts judge, and a busy machine is flagged
//     beside it (machine), so that the verdicts do not move with the
//     machine's load.
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
//  4. Without a GIL: the wall can be no shorter than the limits of the
//     run's flow (flow.go): each thread's earliest end (its earliest start,
//     from what started it, its own work and the threads it joined), the
//     CPU work spread over the cores from when it could begin (coresBound),
//     and the critical sections of each shared guest lock, a mutex, one at
//     a time (lockBound); and no longer than the run's wall:
//     T1 / the largest of these (noGILLimit names it). As processes: the
//     same. A shared lock guards shared data, which processes would still
//     share (a multiprocessing.Lock, a manager), one holder at a time:
//     what the what-if models too (docs/what-if.md). WithoutLocks is the
//     estimate with no lock serialising: each thread with its own data, as
//     `giltrace compare`'s processes mode runs a workload, each process
//     with its own copy of its locks.
func (a *analysis) speedup() {
	r := a.r
	sp := &r.Speedup
	sp.Cores = cores(&a.t.Meta)
	for _, p := range r.Procs {
		sp.Threads += p.Threads
	}
	cpu := r.Work.CPUNS
	var io, longest int64
	for i := range r.Threads {
		io += a.io[i]
		longest = max(longest, a.threadWork(i))
	}
	if wc, wi, ok := a.wantedWork(); ok {
		// Virtual time: the trace's running, native and I/O time hold the
		// threads' waits for a simulated core (CoreWait); the work is the
		// VM's count (QA: 8 threads of I/O and compute on 2 cores
		// "overlapped 7.78x" for a run 5.33x as fast as one thread).
		a.vmWork = &vmWork{cpuWait: max(cpu-wc, 0), ioWait: max(io-wi, 0), cpu: min(cpu, wc), io: min(io, wi)}
		sp.CoreWaitNS = a.vmWork.cpuWait + a.vmWork.ioWait
		cpu, io = a.vmWork.cpu, a.vmWork.io
	}
	if limit := int64(sp.Cores) * a.wallNS; cpu > limit {
		cpu, sp.CPUCapped = limit, true
	}
	sp.SerialEquivNS, sp.cpuNS = cpu+io, cpu
	sp.Achieved = round3(textfmt.Share(sp.SerialEquivNS, a.wallNS))
	sp.AmdahlCeiling = round3(a.amdahl())
	sp.AmdahlLaw = sp.AmdahlCeiling
	sp.GILCeiling = round3(a.gilCeiling(longest))
	all := func(int) bool { return true }
	// The run did its work in its wall with the GIL; without it, on the
	// same cores, it is no slower (a trace that says otherwise counts a
	// thread waiting for a core as running).
	lim := a.noGILLimit(all, 0, max(a.wallNS, 1), true)
	sp.WithoutGIL = round3(textfmt.Share(sp.SerialEquivNS, lim.NS))
	sp.AsProcesses = sp.WithoutGIL
	sp.Limit = lim
	if lim.Kind == LimitLock {
		free := a.noGILLimit(all, 0, max(a.wallNS, 1), false)
		sp.WithoutLocks = round3(textfmt.Share(sp.SerialEquivNS, free.NS))
	}
}

// vmWork is a virtual run's work as the VM counted it (cpu, io: each at
// most the trace's figure) and the waits for a simulated core that the
// trace's running and native time (cpuWait) and I/O (ioWait) hold.
type vmWork struct{ cpu, io, cpuWait, ioWait int64 }

// Limit is what bounds an estimate without a GIL (or as processes): the
// least wall the flow allows, and what sets it.
type Limit struct {
	// Kind: LimitThread (a thread's earliest end: its start, its own work
	// and the threads it joined), LimitCores (CPU work over the cores),
	// LimitLock (a shared lock's critical sections, one at a time) or
	// LimitWall (the run's own wall: no slower than it ran).
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"` // the thread or the lock
	NS   int64  `json:"ns"`             // the wall it allows, from the start of the time counted
	// WorkNS: the thread's own work, the CPU work counted, or the lock's
	// critical sections' work; FromNS: when that work can begin at the
	// earliest (the thread's start, the time before which the CPU work
	// counted cannot begin, the first critical section's).
	WorkNS int64 `json:"work_ns"`
	FromNS int64 `json:"from_ns"`
	// AfterNS (the cores): the least work that follows the CPU work
	// counted (a thread's I/O after its last compute, a joiner's work).
	AfterNS int64 `json:"after_ns,omitempty"`
	// OutsideNS (the cores): the CPU work counted is the CPU time the
	// run's processes obtained (Machine.CPUNS), of which this much ran
	// outside the traced threads (Machine.OutsideCPUNS).
	OutsideNS int64 `json:"outside_ns,omitempty"`
	// Approx (a thread): the flow took some wait for a notification as
	// long as it was recorded, where without the GIL its notifier may come
	// sooner: the end is an estimate, not the earliest (QA: "175ms at the
	// earliest" for a pipeline that ran in 171ms without a GIL).
	Approx bool `json:"approx,omitempty"`
	// ListenNS (a thread): the part of WorkNS that waited for connections
	// (I/O "listen": a server's accept loop, its handlers' waits for
	// their clients' requests), which its clients decide (QA: "bounded by
	// MainThread, which ... has 6.02s of its own work", 6.01 s of it in
	// accept).
	ListenNS int64 `json:"listen_ns,omitempty"`
	// Process (a thread): its process, when a thread of another process
	// has the same name (every process has a MainThread: QA, "bounded by
	// MainThread" was a web scraper's site in its child process).
	Process string `json:"process,omitempty"`
	Text    string `json:"text"`
}

// who is the thread or lock a Limit names, with its process when the name
// alone is ambiguous.
func (l Limit) who() string { return qualified(l.Name, l.Process) }

// qualified is a thread's name, followed by its process when process is
// not "" (nameInOtherProcess).
func qualified(name, process string) string {
	if process != "" {
		return name + " (" + process + ")"
	}
	return name
}

// Kinds of Limit.
const (
	LimitThread = "thread"
	LimitCores  = "cores"
	LimitLock   = "lock"
	LimitWall   = "wall"
)

// exitStopped are the threads that the program's own end stopped where
// they were (tracer.Spans.Stopped: daemons), when it ended by itself: a
// real program that exited, not stopped by giltrace; a VM run that was not
// interrupted. None otherwise: an interrupted run's threads were all
// stopped, and an attach's end stops the ones still running.
func (a *analysis) exitStopped() map[tracer.ThreadID]bool {
	if a.stopped != nil {
		return a.stopped
	}
	a.stopped = map[tracer.ThreadID]bool{}
	x := a.t.Meta.Extra
	// Nor when the trace lost its end: a virtual run stopped at the
	// recorder's bound left its threads mid-work, daemons or not (QA:
	// 1000 threads on 8 cores, all taken for daemons, "as processes
	// 264.52x on 8 cores").
	if !a.t.Status().Complete() || x["stopped_at_bound"] == "true" || x["stopped"] != "" || x["source"] == "cpython" && x["exit_status"] == "" {
		return a.stopped
	}
	a.stopped = a.s.Stopped()
	return a.stopped
}

// noGILLimit is the largest of the flow's limits on the work of the
// threads sel selects, from time `from`, no longer than wall; with locks,
// the mutexes' critical sections of those threads count.
func (a *analysis) noGILLimit(sel func(int) bool, from, wall int64, locks bool) Limit {
	f := a.flowOf()
	// The tails (what the run does after a point) are the whole run's:
	// for some of its threads, their own work after it.
	tails := true
	for i := range a.r.Threads {
		tails = tails && sel(i)
	}
	cores := max(a.r.Speedup.Cores, 1)
	best := Limit{Kind: LimitWall}
	// Threads the program's exit stopped (daemons) bound nothing: they
	// would have been stopped sooner (QA: two CPU-bound daemons beside an
	// I/O thread on 1 core, "neither a free-threaded Python nor processes
	// is estimated faster (1.15x)", bounded by their CPU work over the
	// core; as processes the program ran 4.2x as fast, and compare
	// predicted 4.69x).
	stopped := a.exitStopped()
	live := func(i int) bool { return sel(i) && !stopped[tracer.ThreadID(i)] }
	for i := range a.r.Threads {
		if !live(i) {
			continue
		}
		v, w := f.end(i)
		if ns := v - from; ns > best.NS {
			best = Limit{Kind: LimitThread, Name: a.r.Threads[i].Name, NS: ns, WorkNS: w - f.w[f.off[i]], FromNS: max(f.begin(i)-from, 0), Approx: f.recordedWaits}
			if a.nameInOtherProcess(i) {
				best.Process = a.r.Threads[i].Process
			}
			if i < len(a.listenWork) {
				best.ListenNS = min(a.listenWork[i], best.WorkNS)
			}
		}
	}
	if ns, at, work, after := f.coresBound(live, from, cores, tails); ns > best.NS {
		best = Limit{Kind: LimitCores, NS: ns, WorkNS: work, FromNS: at, AfterNS: after}
	}
	if locks {
		for i, l := range a.t.Locks {
			if i >= len(a.mutex) || !a.mutex[i] || joinLockName(l.Name) {
				// A thread's join lock is held for its life: not a
				// critical section (QA: "bounded by lock 0x...
				// (Thread.join)'s critical sections", --lock-holds).
				continue
			}
			if ns, work, first := f.lockBound(tracer.LockID(i), sel, from, tails); ns > best.NS {
				best = Limit{Kind: LimitLock, Name: l.Name, NS: ns, WorkNS: work, FromNS: first}
			}
		}
	}
	if best.NS > wall || best.NS <= 0 {
		best = Limit{Kind: LimitWall, NS: wall}
	}
	best.Text = best.text(cores)
	return best
}

// threadText is a LimitThread's text: the thread's earliest end, or, when
// the flow took a notification's wait as long as it was recorded (Approx),
// its end "about" then.
func (l Limit) threadText() string {
	end := textfmt.Dur(l.NS) + " at the earliest"
	if l.Approx {
		end = "about " + textfmt.Dur(l.NS) + " (a wait for a notification counted as long as it was recorded: without the GIL its notifier may come sooner)"
	}
	own := textfmt.Dur(l.WorkNS) + " of its own work"
	listening := l.ListenNS > 0 && 2*l.ListenNS >= l.WorkNS
	listen := ""
	if listening {
		listen = textfmt.Dur(l.ListenNS) + " of it waiting for connections or requests (I/O listen: its clients decide when it ends, not its work)"
		own = fmt.Sprintf("%s of its own time, %s", textfmt.Dur(l.WorkNS), listen)
	}
	if l.FromNS > 0 && l.NS > l.FromNS+l.WorkNS+l.NS/100 {
		// The sum does not make the end: it waits for other threads
		// (QA: "15.9ms ... 159ms of its own work: it ends at 389ms").
		return fmt.Sprintf("%s, which cannot start before %s, has %s and waits for other threads: it ends at %s", l.who(), textfmt.Dur(l.FromNS), own, end)
	}
	if l.FromNS > 0 {
		return fmt.Sprintf("%s, which cannot start before %s and has %s: it ends at %s", l.who(), textfmt.Dur(l.FromNS), own, end)
	}
	if textfmt.Dur(l.NS) != textfmt.Dur(l.WorkNS) {
		if listening {
			return fmt.Sprintf("%s, whose %s of own time (%s) and the threads it waits for end at %s", l.who(), textfmt.Dur(l.WorkNS), listen, end)
		}
		return fmt.Sprintf("%s, whose %s of own work and the threads it waits for end at %s", l.who(), textfmt.Dur(l.WorkNS), end)
	}
	if listening {
		return fmt.Sprintf("%s's own time, %s, %s", l.who(), textfmt.Dur(l.NS), listen)
	}
	return fmt.Sprintf("%s's own work, %s", l.who(), textfmt.Dur(l.NS))
}

// text names the limit with its figures.
func (l Limit) text(cores int) string {
	switch l.Kind {
	case LimitThread:
		return l.threadText()
	case LimitCores:
		what := fmt.Sprintf("%s of CPU work", textfmt.Dur(l.WorkNS))
		if l.OutsideNS > 0 {
			what = fmt.Sprintf("%s of CPU time obtained, %s of it outside the traced threads,", textfmt.Dur(l.WorkNS), textfmt.Dur(l.OutsideNS))
		}
		if l.FromNS > 0 {
			what += " that cannot begin before " + textfmt.Dur(l.FromNS)
		}
		what += " over " + textfmt.Plural(cores, "core")
		if l.AfterNS > 0 {
			return fmt.Sprintf("the cores: %s, and at least %s of work after it: %s at the earliest", what, textfmt.Dur(l.AfterNS), textfmt.Dur(l.NS))
		}
		if l.FromNS > 0 {
			return fmt.Sprintf("the cores: %s: %s at the earliest", what, textfmt.Dur(l.NS))
		}
		return fmt.Sprintf("the cores: %s, %s", what, textfmt.Dur(l.NS))
	case LimitLock:
		if textfmt.Dur(l.NS) != textfmt.Dur(l.WorkNS) {
			// Their order matters: the bound takes the best.
			return fmt.Sprintf("%s's critical sections (%s of work, one thread at a time, the first at %s at the earliest) and the work after them: %s, in their best order", l.Name, textfmt.Dur(l.WorkNS), textfmt.Dur(l.FromNS), textfmt.Dur(l.NS))
		}
		return fmt.Sprintf("%s's critical sections, %s of work, one thread at a time", l.Name, textfmt.Dur(l.WorkNS))
	}
	return fmt.Sprintf("the run's own wall, %s (no slower than it ran)", textfmt.Dur(l.NS))
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

// outsideBound bounds the estimates without a GIL and as processes by the
// CPU time the run's processes obtained when some of it ran outside the
// traced threads (Machine.OutsideCPUNS): the same work, that CPU time
// included, needs at least that CPU time over the cores, whoever runs it
// (QA: `sh -c` loops in children that 4 threads waited for, on 2 cores,
// were estimated 3.33x; a one-thread program whose numpy.dot ran on
// OpenBLAS's 2 threads was estimated to gain from splitting). Never below
// what the run achieved: no slower than it ran.
func (a *analysis) outsideBound() {
	m, sp := a.r.Machine, &a.r.Speedup
	if m == nil || m.OutsideCPUNS <= 0 || sp.Cores <= 0 || sp.SerialEquivNS <= 0 {
		return
	}
	ns := m.CPUNS / int64(sp.Cores)
	if ns <= sp.Limit.NS || ns <= 0 {
		return
	}
	bound := max(textfmt.Share(sp.SerialEquivNS, ns), sp.Achieved)
	if bound >= sp.WithoutGIL {
		return
	}
	sp.WithoutGIL, sp.AsProcesses = round3(bound), round3(bound)
	if sp.WithoutLocks > 0 {
		sp.WithoutLocks = round3(min(sp.WithoutLocks, bound))
	}
	sp.Limit = Limit{Kind: LimitCores, NS: ns, WorkNS: m.CPUNS, OutsideNS: m.OutsideCPUNS}
	sp.Limit.Text = sp.Limit.text(sp.Cores)
}

// nameInOtherProcess reports whether a thread of another process than
// thread i's has its name.
func (a *analysis) nameInOtherProcess(i int) bool {
	th := &a.r.Threads[i]
	for j := range a.r.Threads {
		if o := &a.r.Threads[j]; j != i && o.Name == th.Name && o.Process != th.Process {
			return true
		}
	}
	return false
}
