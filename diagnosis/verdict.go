package diagnosis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// Verdict codes: a fixed vocabulary. One or more may apply to a run; they
// are listed in this order, the most specific cause first.
const (
	SingleThreaded  = "single-threaded"    // one thread: nothing to overlap
	GILHeldInNative = "gil-held-in-native" // a native call keeps the GIL while others wait
	LockBound       = "lock-bound"         // threads queue on a guest lock
	Convoy          = "convoy"             // I/O threads wait for CPU-bound holders after every I/O
	GILBound        = "gil-bound"          // CPU-bound threads take turns on the GIL
	CPUSaturated    = "cpu-saturated"      // more runnable work than cores
	Scales          = "scales"             // the threads overlap: I/O, releasing native, no GIL, processes
)

// Codes lists the verdict vocabulary in report order.
var Codes = []string{SingleThreaded, GILHeldInNative, LockBound, Convoy, GILBound, CPUSaturated, Scales}

// Thresholds of the verdicts. docs/diagnosis.md explains each one.
const (
	// CPUBoundShare: a thread is CPU-bound when at least half of its work
	// (time not waiting) needs a core: running, native, native holding.
	CPUBoundShare = 0.5
	// IOBoundShare: a thread is I/O-bound when at least half of its work is
	// blocking I/O.
	IOBoundShare = 0.5

	// GILBoundWaitShare: CPU-bound threads sharing a GIL spent at least a
	// quarter of their wall time waiting for it. Two CPU-bound threads
	// taking turns wait about 50 %; threads that overlap lose ~1 % to
	// handoffs. A quarter is half-way on a log scale and robust to noise.
	GILBoundWaitShare = 0.25
	// GILBoundComputeShare: and at least half of their work is pure-Python
	// compute (running). When native calls that keep the GIL dominate
	// instead, the waiting is gil-held-in-native's to explain.
	GILBoundComputeShare = 0.5
	// GILBoundHeldFraction: or, for threads of any kind, their process's
	// GIL was held at least 80 % of the wall while they spent at least
	// GILBoundWaitShare waiting for it: the GIL is saturated, and the
	// Python part of their work, which needs it, is what limits them.
	GILBoundHeldFraction = 0.8
	// GILBoundGain: both rules also need the GIL to be what limits the
	// run: the estimated speedup without a GIL is at least 1.25x the GIL
	// ceiling. When the cores (or the threads' own work) limit as much,
	// removing the GIL would not help and the verdict would mislead.
	GILBoundGain = 1.25

	// ConvoyLatencyIntervals: the median re-acquire after I/O is at least
	// half a switch interval. Uncontended, a re-acquire takes microseconds;
	// behind a CPU-bound holder the waiter sits out the whole interval
	// before its drop request is honoured: about one interval.
	ConvoyLatencyIntervals = 0.5
	// ConvoyMinLatency stands in for the switch interval in modes that have
	// none (legacy): 1 ms is 20x an uncontended re-acquire on this VM and
	// far below the I/O durations that make a thread I/O-bound.
	ConvoyMinLatency = time.Millisecond
	// ConvoyMinWaitShare: the re-acquire waits cost the I/O thread at least
	// 10 % of its wall time, so the latency matters to its throughput.
	ConvoyMinWaitShare = 0.10
	// ConvoyMinReacquires: at least 3 re-acquires, so that the median is a
	// median and not one unlucky wait.
	ConvoyMinReacquires = 3
	// ConvoyCPUHolderShare: during the I/O thread's GIL waits, CPU-bound
	// threads held the GIL at least half of the time. I/O threads queueing
	// behind each other's short bursts are a saturated GIL (gil-bound), not
	// a convoy.
	ConvoyCPUHolderShare = 0.5

	// NativeHoldingBlameShare: at least a quarter of all GIL waiting
	// happened while the holder was in a native call keeping the GIL.
	NativeHoldingBlameShare = 0.25
	// NativeHoldingMinWaitShare: and that waiting is at least 5 % of the
	// threads' summed wall time, so that it is worth fixing.
	NativeHoldingMinWaitShare = 0.05

	// LockBoundWaitShare: the threads spent at least a quarter of their
	// summed wall time blocked on guest locks (the same bar as the GIL's).
	LockBoundWaitShare = 0.25

	// CPUSaturatedDemand: on average at least 1.25 threads per core wanted
	// a core (running, in native code, or waiting for the GIL): a quarter
	// more work than the machine can run at once.
	CPUSaturatedDemand = 1.25

	// UnfairRatio: gil-bound mentions unfairness when the CPU-bound threads
	// of a process with the fewest GIL acquisitions got fewer than half as
	// many as the one with the most (the legacy GIL's re-acquire race).
	UnfairRatio = 0.5

	// FairMinAcquisitions: the fairness figures compare the CPU-bound
	// threads' GIL acquisitions only when the one with the most acquired it
	// at least this often while they competed: at 0 against 1 (two loops
	// that slept 1 ms between short computes, QA) the ratio, 0.00, says
	// nothing about the GIL.
	FairMinAcquisitions = 10

	// ScalesMinSpeedup: the threads achieved at least 1.5x the same work
	// on one thread: half of the ideal for two threads.
	ScalesMinSpeedup = 1.5
	// ScalesEfficiency: and at least 75 % of the estimated speedup
	// without a GIL on the recording machine: little is left on the table.
	// The threads must also wait less than GILBoundWaitShare for the GIL.
	ScalesEfficiency = 0.75
)

// Verdict is a diagnosis: a code from the vocabulary, a sentence quoting
// the numbers, and what to do about it.
type Verdict struct {
	Code   string `json:"code"`
	Text   string `json:"text"`
	Advice string `json:"advice"`
	// NearBoundary: one of the measures that decided it is within its
	// threshold's margin (Report.NearBoundary has the figures).
	NearBoundary bool `json:"near_boundary,omitempty"`
}

// diagnose applies every verdict's rule, in vocabulary order; a real
// program that failed before its own code ran gets none (its run is the
// interpreter's start-up: advice on it would be noise).
func diagnose(a *analysis) []Verdict {
	out := []Verdict{}
	if a.r.FailedAtStart {
		return out
	}
	if a.r.Speedup.Threads <= 1 {
		if v, ok := a.singleThreaded(); ok {
			out = append(out, v)
		}
		return out
	}
	rules := []func() (Verdict, bool){a.gilHeldInNative, a.lockBound, a.convoy, a.gilBound, a.cpuSaturated}
	for _, rule := range rules {
		if v, ok := rule(); ok {
			out = append(out, v)
		}
	}
	// A convoy, or native calls keeping the GIL, are the specific
	// diagnoses of a saturated GIL: gil-bound stays beside them only for
	// CPU-bound threads taking turns.
	if (hasCode(out, Convoy) || hasCode(out, GILHeldInNative)) && !a.cpuThreadsTakeTurns {
		out = slices.DeleteFunc(out, func(v Verdict) bool { return v.Code == GILBound })
	}
	problem := false
	for _, v := range out {
		problem = problem || v.Code != CPUSaturated
	}
	if !problem {
		if v, ok := a.scales(); ok {
			out = append(out, v)
		}
	}
	a.r.Idle = a.idle()
	// A rule that fired and was then dropped (gil-bound beside a convoy or
	// native calls keeping the GIL) was not given for its thresholds: its
	// near entries, which say it was given, go (QA: near_boundary had
	// gil-bound "fired" beside verdicts without it).
	a.r.NearBoundary = givenNear(a.r.NearBoundary, out)
	for i := range out {
		if t := a.r.nearText(out[i].Code); t != "" {
			out[i].Text += t
			out[i].NearBoundary = true
		}
	}
	return out
}

// idle is the threads' waits on the locks that several of them took to be
// notified (LockReport.Notify), said when they are LockBoundWaitShare or
// more of all the threads' summed wall, the share at which waits for a
// mutex make a run lock-bound: the report would otherwise show that much
// lock wait and no word of why it is not lock-bound (QA: the idle workers
// of asyncio.to_thread's pool, "72 % of their time blocked on guest
// locks", were called lock-bound).
func (a *analysis) idle() *Idle {
	var longest *LockReport
	names := map[string]bool{}
	for i := range a.r.Locks {
		if l := &a.r.Locks[i]; l.Notify {
			names[l.Name+"\x00"+l.Process] = true
			if longest == nil || l.WaitNS > longest.WaitNS {
				longest = l
			}
		}
	}
	if longest == nil {
		return nil
	}
	waiting := make([]bool, len(a.r.Threads))
	var waitNS int64
	for _, w := range a.s.Waits {
		if int(w.Lock) < len(a.waitsForWork) && a.waitsForWork[w.Lock] && int(w.Thread) < len(waiting) {
			waiting[w.Thread] = true
			waitNS += w.End - w.Start
		}
	}
	// Said when lock-bound would have counted them: that share of all the
	// threads' summed wall.
	if _, all := a.threadSums(func(int) bool { return true }); textfmt.Share(waitNS, all.WallNS) < LockBoundWaitShare {
		return nil
	}
	n, s := a.threadSums(func(i int) bool { return waiting[i] })
	share := textfmt.Share(waitNS, s.WallNS)
	if n == 0 {
		return nil
	}
	where := ""
	if longest.WaitedIn != "" {
		where = ", in " + funcAt(tracer.Frame{Func: longest.WaitedIn, Line: longest.WaitedLine})
	}
	lock := longest.Name
	took := "Several threads took the lock, but each to be notified, as a queue's get or a pool's idle workers do, so it is not counted as lock contention."
	if longest.Holds == 0 && len(names) == 1 {
		took = "No thread held the lock: its waits were for work or a notification that had not come, as a pool's idle workers wait in their queue's get, so it is not counted as lock contention."
	}
	if len(names) > 1 {
		lock = fmt.Sprintf("%s and %s", longest.Name, textfmt.Plural(len(names)-1, "other lock"))
		took = "Several threads took each of these locks, but each to be notified, as a queue's get or a pool's idle workers do, so they are not counted as lock contention."
	}
	return &Idle{
		Threads: n, WaitNS: waitNS, WallNS: s.WallNS, Share: round3(share),
		Lock: longest.Name, WaitedIn: longest.WaitedIn, WaitedLine: longest.WaitedLine,
		Text: fmt.Sprintf("%s that waited for %s spent %s of their time (%s) waiting there for work or a notification from another thread%s: idle, not held up by another thread's critical section. %s",
			upperFirst(threadsPhrase(n)), lock, textfmt.Pct0(share), textfmt.Dur(waitNS), where, took),
	}
}

// threadsPhrase is "the 6 threads", or "the thread".
func threadsPhrase(n int) string {
	if n == 1 {
		return "the thread"
	}
	return fmt.Sprintf("the %d threads", n)
}

// NoVerdictThreadShare is the least share of the run's wall that one
// thread's own work must fill for a report without a verdict to name it
// as what limits the run.
const NoVerdictThreadShare = 0.5

// noVerdict, for a run that got no verdict, names the thread whose own
// work fills NoVerdictThreadShare of the wall or more: its work is done
// on one thread, one piece after another, so the run cannot end before
// it, whatever the other threads do (QA: an asyncio program whose main
// thread ran 2.76s of its 3.78s wall, beside idle to_thread workers, was
// left with "none of the verdicts' thresholds was reached").
func (a *analysis) noVerdict() *NoVerdict {
	best, bestWork := -1, int64(0)
	for i := range a.r.Threads {
		th := &a.r.Threads[i]
		w := threadCPU(th)
		if i < len(a.io) {
			w += a.io[i]
		} else {
			w += th.IONS
		}
		if i < len(a.listenWork) {
			// A server's waits for a connection are not the work of a
			// thread that bounds the run (QA: "Shorten serve_forever's own
			// work", 825 ms of it waiting for clients).
			w = max(w-a.listenWork[i], 0)
		}
		if w > bestWork {
			best, bestWork = i, w
		}
	}
	share := textfmt.Share(bestWork, a.wallNS)
	if best < 0 || share < NoVerdictThreadShare {
		return nil
	}
	th := &a.r.Threads[best]
	name := th.Name // in the texts, with its process if another has a thread so named
	if a.nameInOtherProcess(best) {
		name = qualified(th.Name, th.Process)
	}
	io := bestWork - threadCPU(th)
	var parts []string
	if r := th.RunningNS + th.NativeHoldingNS; r > 0 {
		parts = append(parts, textfmt.Dur(r)+" running Python with the GIL")
	}
	if th.NativeNS > 0 {
		parts = append(parts, textfmt.Dur(th.NativeNS)+" in native calls that release the GIL")
	}
	if io > 0 {
		parts = append(parts, textfmt.Dur(io)+" of I/O and blocking calls")
	}
	most := 1 / max(share, 1e-9)
	sp := a.r.Speedup
	// At most 1/share (QA: "processes ... will not help" beside a what-if
	// of processes 9 % faster, measured 10 %, where the bound was 1.3x).
	advice := fmt.Sprintf("Shorten %s's own work, or split it so that other threads or processes share it; more threads, processes or a free-threaded Python cannot make the run more than %s faster while it stays on one thread.", name, textfmt.X(most))
	if a.r.OwnIO.ThreadWaitsOnItself(tracer.ThreadID(best)) && io*2 >= bestWork {
		// Its blocking calls wait for the program's other threads (QA:
		// a pipe ping-pong was told to shorten its own work, 70 % of it
		// waits for its peer).
		advice = fmt.Sprintf("Most of %s's work is blocking calls, and the program's I/O waits on its own pipes and connections (the warning above): those calls wait for its other threads' work. Fewer round trips between the threads, or the work done in one thread, would help; more threads, processes or a free-threaded Python will not.", name)
	}
	return &NoVerdict{
		Thread: th.Name, WorkNS: bestWork, RunningNS: th.RunningNS + th.NativeHoldingNS, NativeNS: th.NativeNS, IONS: io,
		Share: round3(share), MaxSpeedup: round3(most),
		Text: fmt.Sprintf("%s's own work, %s, fills %s of the run's %s wall: %s. That work runs on one thread, one piece after another, so the run cannot end before it, whatever the other threads do: no other way of running them makes the run more than %s faster without splitting it (estimated %s without a GIL, %s as processes; now %s).",
			name, textfmt.Dur(bestWork), textfmt.Pct0(share), textfmt.Dur(a.wallNS), textfmt.And(parts), textfmt.X(most), textfmt.X(sp.WithoutGIL), textfmt.X(sp.AsProcesses), textfmt.X(sp.Achieved)),
		Advice: advice,
	}
}

// givenNear is near without the entries of rules that fired and whose
// verdict is not in out.
func givenNear(near []Boundary, out []Verdict) []Boundary {
	return slices.DeleteFunc(near, func(b Boundary) bool {
		return b.Fired && !hasCode(out, b.Code)
	})
}

// better reports whether an estimated speedup is worth recommending: more
// than AdviceMinGain times what the run achieved. No advice recommends a
// change that the report's own estimates show to be no faster.
func (a *analysis) better(estimate float64) bool {
	return estimate > AdviceMinGain*a.r.Speedup.Achieved
}

// AdviceMinGain: an option is recommended for speed only if its estimate
// beats the achieved speedup by 10 %, more than the noise of one run.
const AdviceMinGain = 1.1

// PoolIOShare: cpu-saturated advises sizing pools to the cores only for
// threads that spend less than this share of their work in I/O. A thread
// in I/O leaves its core to another, so a pool whose threads wait for I/O
// keeps the cores busy only with more threads than cores (QA: 8 threads,
// each half native code and half I/O, on 2 cores, were told to shrink to
// 2, which `compare` measured 47 % slower than the 8).
const PoolIOShare = 0.1

// poolIOShare is the share of I/O in the work of the threads that make
// up the CPU demand: each thread's share of I/O in its own work (running,
// native calls, I/O that counts as work), weighted by its CPU time, so
// that a thread with little CPU work (a monitor asleep for the whole run)
// weighs little (review: one such thread made a CPU-bound pool "33 % in
// I/O"). cpu-saturated's pool advice and scales' wording read it.
func (a *analysis) poolIOShare() float64 {
	var num, den float64
	for i := range a.r.Threads {
		cpu := threadCPU(&a.r.Threads[i])
		if cpu <= 0 || i >= len(a.io) {
			continue
		}
		num += float64(cpu) * textfmt.Share(a.io[i], cpu+a.io[i])
		den += float64(cpu)
	}
	return ratio(num, den)
}

// ioPoolAdvice is cpu-saturated's advice on the size of the pools when
// the threads that make up the CPU demand spend at least PoolIOShare of
// their work in I/O (poolIOShare): a floor of the cores ÷ the CPU share of
// the work, and no advice to shrink; "" for CPU-bound threads, whose pools
// go to the cores.
func (a *analysis) ioPoolAdvice(cores int) string {
	io := a.poolIOShare()
	// The floor from the share as printed, so that the sentence's
	// division gives it; none when no work is CPU.
	cpuPct := 100 - math.Round(100*io)
	if io < PoolIOShare || cpuPct < 1 || cores <= 0 {
		return ""
	}
	floor := int(math.Ceil(float64(cores) * 100 / cpuPct))
	return fmt.Sprintf("Do not size these pools down to the cores: the threads spent %.0f %% of their work in I/O, during which a core is free for another thread, so it takes at least %d threads (%s ÷ the %.0f %% of their work that is CPU) to keep the cores busy; `giltrace compare FILE --threads ...` measures other sizes.",
		100-cpuPct, floor, textfmt.Plural(cores, "core"), cpuPct)
}

// processesAdvice names the option the estimates favour for moving
// GIL-bound compute, with its expected effect, or says that none of them
// is estimated to be faster.
//
// The advice says "an estimated" speedup: it is the work over the cores
// (speedup), without the GIL handoffs, waits and start-up that the what-if
// (compare.WhatIf) replays; a report that prints both calls the what-if's
// figure "predicted", and the two differ (docs/diagnosis.md).
func (a *analysis) processesAdvice() string {
	sp := a.r.Speedup
	return a.processesAdviceFor(estimates{Achieved: sp.Achieved, AsProcesses: sp.AsProcesses, WithoutGIL: sp.WithoutGIL, Cores: sp.Cores, Limit: sp.Limit})
}

// estimates are the speedup figures an advice weighs: the run's
// (Speedup), or those of some of its threads' own work (speedupOf).
type estimates struct {
	Achieved, GILCeiling, AsProcesses, WithoutGIL float64
	Cores                                         int
	// Of names whose work the figures are of when not the run's ("the 2
	// CPU-bound threads' own work"): the report's Speedup section and the
	// what-if are the run's, and differ.
	Of string
	// workNS is their work, fromNS and toNS the first one's start and the
	// last one's end (speedupOf; 0 for the run's).
	workNS, fromNS, toNS int64
	// Limit is what bounds AsProcesses and WithoutGIL.
	Limit Limit
}

// processesAdviceFor is processesAdvice on the figures e.
func (a *analysis) processesAdviceFor(e estimates) string {
	better := func(estimate float64) bool { return estimate > AdviceMinGain*e.Achieved }
	of, whole := "", ""
	if e.Of != "" {
		// The figures of some threads' own work: the whole program's (the
		// Speedup section's) beside them, so that the advice's first
		// figure is not read for the program's (QA: "an estimated 1.70x"
		// for the CPU-bound threads' own work, 1.16x in the Speedup
		// section: the main thread's serial phase, one of those threads,
		// limits the program).
		sp := a.r.Speedup
		of = " for " + e.Of
		whole = fmt.Sprintf("; the whole program: %s as processes, %s without a GIL, now %s, the Speedup section", textfmt.X(sp.AsProcesses), textfmt.X(sp.WithoutGIL), textfmt.X(sp.Achieved))
		if !a.better(max(sp.AsProcesses, sp.WithoutGIL)) {
			// Theirs would go faster, the program would not end sooner:
			// said, with what bounds it (QA: "2.74x" for a program that
			// a thread started by a timer kept at 1.00x).
			// "Not sooner" only when no estimate beats now; within the
			// advice's margin it is "barely" (QA: "would not end sooner:
			// 2.62x as processes, now 2.53x").
			sooner := "would not end sooner"
			if best := max(sp.AsProcesses, sp.WithoutGIL); textfmt.X(best) != textfmt.X(sp.Achieved) && best > sp.Achieved {
				sooner = fmt.Sprintf("would end barely sooner (%s faster)", textfmt.Pct0(best/sp.Achieved-1))
			}
			whole = fmt.Sprintf("; but the whole program %s: %s as processes, %s without a GIL, now %s, bounded by %s", sooner, textfmt.X(sp.AsProcesses), textfmt.X(sp.WithoutGIL), textfmt.X(sp.Achieved), sp.Limit.Text)
		}
	}
	switch {
	case better(e.AsProcesses) && e.AsProcesses >= e.WithoutGIL:
		s := fmt.Sprintf("Move the compute to processes (multiprocessing, concurrent.futures.ProcessPoolExecutor): as processes, an estimated %s on %s%s (now %s%s)", textfmt.X(e.AsProcesses), textfmt.Plural(e.Cores, "core"), of, textfmt.X(e.Achieved), whole)
		if better(e.WithoutGIL) {
			s += fmt.Sprintf("; or run a free-threaded Python (3.13t): an estimated %s", textfmt.X(e.WithoutGIL))
		}
		if a.callsNumpy() {
			// QA: many small numpy calls were told to vectorise into
			// numpy.
			return s + "; or batch its numpy calls into fewer on larger arrays (numpy, which it already calls, keeps the GIL for small arrays and returns to Python between calls). More threads will not help."
		}
		return s + "; or vectorise the loop into a native library that releases the GIL (numpy). More threads will not help."
	case better(e.WithoutGIL):
		return fmt.Sprintf("Run a free-threaded Python (3.13t): an estimated %s on %s%s (now %s%s), or a native library that releases the GIL. More threads will not help.", textfmt.X(e.WithoutGIL), textfmt.Plural(e.Cores, "core"), of, textfmt.X(e.Achieved), whole)
	}
	return fmt.Sprintf("Neither processes (estimated %s) nor a free-threaded Python (estimated %s) is expected to beat the %s achieved on %s%s%s: the cores or the threads' own work limit the run; shorten the work itself.", textfmt.X(e.AsProcesses), textfmt.X(e.WithoutGIL), textfmt.X(e.Achieved), textfmt.Plural(e.Cores, "core"), of, whole)
}

func hasCode(vs []Verdict, code string) bool {
	return slices.ContainsFunc(vs, func(v Verdict) bool { return v.Code == code })
}

// threadSums is the states summed over the started threads for which keep
// is true.
func (a *analysis) threadSums(keep func(i int) bool) (n int, sum ThreadSummary) {
	for i := range a.r.Threads {
		th := &a.r.Threads[i]
		if th.WallNS == 0 && threadWork(th) == 0 || !keep(i) {
			continue
		}
		n++
		sum.Add(th)
	}
	return n, sum
}

func (a *analysis) singleThreaded() (Verdict, bool) {
	n, s := a.threadSums(func(int) bool { return true })
	if n == 0 {
		return Verdict{}, false
	}
	for _, b := range a.blocked {
		// An attach first seeing the thread late: its call before then
		// is I/O work, as in the Speedup section (blockedBeforeSeen).
		s.IONS += b
	}
	w := threadWork(&s)
	l, real := a.realWork()
	if real && l.work > 0 && textfmt.Share(l.work, l.own) >= EventLoopShare {
		// asyncio: the coroutines overlap inside the one thread, which the
		// probes see only as the loop's waits (QA: 80 concurrent requests
		// were "nothing to overlap", told to use threads or asyncio, or
		// that the run was start-up).
		compute, io := textfmt.Share(l.compute, l.work), textfmt.Share(l.io, l.work)
		how := fmt.Sprintf("Its coroutines overlap their waits inside this thread: of the loop's time, %s was I/O, the loop waiting for whichever coroutine is ready first, "+
			"which the probes cannot split by coroutine, and %s compute", textfmt.Pct0(io), textfmt.Pct0(compute))
		if io < EventLoopWaitShare {
			// QA: "of the loop's time, 0 % was I/O, the loop waiting for
			// whichever coroutine is ready first" for computing coroutines.
			how = fmt.Sprintf("Its coroutines take turns inside this thread, and had little to wait for: of the loop's time, %s was compute and %s I/O, so there was little for them to overlap",
				textfmt.Pct0(compute), textfmt.Pct0(io))
		}
		v := Verdict{
			Code: SingleThreaded,
			Text: fmt.Sprintf("Only one thread ran: an asyncio event loop (%s of the work ran under it; the rest was start-up, imports and code outside the loop). %s; no other thread competed for the GIL.",
				textfmt.Pct0(textfmt.Share(l.work, l.all)), how),
			Advice: "The loop mostly waited: more concurrent coroutines overlap in it at no GIL cost; to go faster, shorten what it waits for, " +
				"or move its compute to processes (loop.run_in_executor with a ProcessPoolExecutor).",
		}
		if compute >= 0.5 {
			v.Advice = fmt.Sprintf("The loop's compute (%s of its time) is what limits it: more coroutines will not help. Move CPU-bound steps off the loop "+
				"to processes (loop.run_in_executor with a ProcessPoolExecutor), or run an event loop in each of several processes to use more cores.", textfmt.Pct0(compute))
		}
		if outside := 1 - textfmt.Share(l.work, l.all); outside > StartupOwnShare {
			// A short script: its imports outweigh its loop.
			v.Advice = fmt.Sprintf("Most of this run (%s) was outside the loop, the interpreter's start-up and imports mostly: a loop that runs longer per process start, or fewer imports, matters more here. ", textfmt.Pct0(outside)) + v.Advice
		}
		return v, true
	}
	compute, io := textfmt.Share(threadCPU(&s), w), textfmt.Share(s.IONS, w)
	text := fmt.Sprintf("Only one thread ran, so there was nothing to overlap: %s of its work was compute, %s I/O.",
		textfmt.Pct0(compute), textfmt.Pct0(io))
	if own := textfmt.Share(l.own, l.all); real && own < StartupOwnShare && !a.attached() {
		// print("hi"): the interpreter's start-up and imports, which
		// splitting the program's own work does not touch.
		return Verdict{
			Code:   SingleThreaded,
			Text:   text + fmt.Sprintf(" Only %s of it ran in the program's own code: the rest was the interpreter's start-up, imports and the standard library.", textfmt.Pct0(own)),
			Advice: "Splitting the program's own work would change little: most of the run is start-up. Import less (or lazily), or do more work per process start.",
		}, true
	}
	return Verdict{
		Code:   SingleThreaded,
		Text:   text,
		Advice: "To go faster, split the work: CPU-bound parts into processes (multiprocessing, ProcessPoolExecutor), I/O into threads or asyncio." + a.splitBound(&s),
	}, true
}

// EventLoopWaitShare: an event loop that spent less than this share of its
// time waiting (I/O) is said to have had little to overlap.
const EventLoopWaitShare = 0.1

// EventLoopShare: a single-threaded real program that ran at least this
// share of its own code's work (its start-up and imports left out) under
// asyncio's event loop is an asyncio program: its coroutines overlap
// inside the thread. (Of all its work, a short script's loop can be less
// than its imports: on a loaded machine, 200 ms of sleeping coroutines
// beside 300 ms of start-up.)
const EventLoopShare = 0.5

// loopWork is a real program's work (running, I/O, native: all), the part
// of it in its own code (own: ownFrame on the stack), and the part under
// asyncio's event loop (work), split into compute and io.
type loopWork struct{ all, own, work, compute, io int64 }

// realWork is, for a real CPython program, its threads' work, the part
// of it with a frame of the program's own code on the stack (ownFrame:
// its files, or python3 -c), and the part done while asyncio's event loop
// ran: from the first to the last work with a frame of the asyncio
// package on the stack (base_events.py's run_forever and _run_once, the
// transports', the streams'), all of it, whatever its stack, since the
// loop holds the thread that runs it (QA: an asyncio server whose loop ran
// 1.05 s of a 1.17 s wall was "30 % under the loop": the probes read a
// stack in the loop's calls only in part, 27 % of the time with no frame
// of asyncio's base_events.py left). False for a VM run, and for a run
// without work.
func (a *analysis) realWork() (loopWork, bool) {
	t := a.t
	var l loopWork
	if t.Meta.Extra["source"] != "cpython" {
		return l, false
	}
	// The loop's own frames (base_events.py's functions, not its
	// module's code run by `import asyncio`).
	inLoop := t.StackMatcher(func(st tracer.Stack) bool {
		if int(st.Frame) >= len(t.Frames) {
			return false
		}
		f := t.Frames[st.Frame]
		return strings.HasSuffix(f.File, "/asyncio/base_events.py") && f.Func != "<module>"
	})
	isOwn := t.StackMatcher(func(st tracer.Stack) bool { return ownFrame(t, st) })
	work := func(st tracer.State) bool {
		switch st {
		case tracer.StateRunning, tracer.StateIO, tracer.StateNative, tracer.StateNativeHolding:
			return true
		}
		return false
	}
	// The loop's runs: from a span with the loop's frames to the last
	// such span before a millisecond or more of work whose stacks were
	// read whole (down to a module's code) without them: code run between
	// two asyncio.run() calls is not the loop's (review), a stack read
	// only in part is (QA: 27 % of a server's time), and the 1 ns spans
	// of a call's exit and entry between two of the loop's calls do not
	// end it.
	var windows [][2]int64
	var outside int64 // whole-stack work outside the loop since its last span
	wholeOf := map[tracer.StackID]bool{}
	whole := func(id tracer.StackID) bool {
		v, ok := wholeOf[id]
		if !ok {
			v = wholeStack(t, id)
			wholeOf[id] = v
		}
		return v
	}
	for _, sp := range a.s.States {
		switch {
		case inLoop(sp.Stack):
			if len(windows) == 0 || outside >= int64(time.Millisecond) {
				windows = append(windows, [2]int64{sp.Start, sp.End})
			}
			windows[len(windows)-1][1] = max(windows[len(windows)-1][1], sp.End)
			outside = 0
		case work(sp.State) && whole(sp.Stack):
			outside += sp.End - sp.Start
		}
	}
	for _, sp := range a.s.States {
		if !work(sp.State) {
			continue
		}
		d := sp.End - sp.Start
		l.all += d
		if isOwn(sp.Stack) {
			l.own += d
		}
		for _, w := range windows {
			in := min(sp.End, w[1]) - max(sp.Start, w[0])
			if in <= 0 {
				continue
			}
			l.work += in
			if sp.State == tracer.StateIO {
				l.io += in
			} else {
				l.compute += in
			}
		}
	}
	return l, l.all > 0
}

// wholeStack reports whether stack id was read down to a module's code
// (its outermost frame "<module>"): not cut, not read only in part.
func wholeStack(t *tracer.Trace, id tracer.StackID) bool {
	for n := 0; id != tracer.NoStack && int(id) < len(t.Stacks) && n < 1<<16; n++ {
		st := t.Stacks[id]
		if st.Parent == tracer.NoStack {
			return int(st.Frame) < len(t.Frames) && t.Frames[st.Frame].Func == "<module>"
		}
		id = st.Parent
	}
	return false
}

// StartupOwnShare: a single-threaded real program whose own code (frames
// of its files, tracer.ProgramFile, or of python3 -c) took less than half
// of its work is mostly the interpreter's start-up: it gets no advice to
// split its work (print("hi") was told it could run 2.13x as fast).
const StartupOwnShare = 0.5

func (a *analysis) gilBound() (Verdict, bool) {
	sp := a.r.Speedup
	gain := cond{measure: "without-GIL estimate / GIL ceiling", value: ratio(sp.WithoutGIL, sp.GILCeiling), threshold: GILBoundGain, margin: GILBoundGainMargin, unit: unitX}
	// (a) CPU-bound threads of processes where at least two of them share the GIL.
	// The CPU-bound threads are those that competed for the GIL
	// (competingThread), the same that fairness counts.
	// With them, the threads a little short of CPU-bound (within the
	// classification's margin), the verdict then at most near its
	// boundary (classEdge). Workers half compute, half file reads, whose
	// reads a loaded machine stretched (the OS's delay counts as the I/O),
	// took turns on the GIL for half their wall and got no verdict.
	// Only in a process where no thread is clearly CPU-bound: beside
	// one that is, a thread half I/O is the convoy's.
	clear := map[int]bool{}
	for i := range a.r.Threads {
		if a.competing[i] {
			clear[a.procOf[i]] = true
		}
	}
	competing := func(i int) bool { return a.competing[i] || !clear[a.procOf[i]] && a.competingNear(i) }
	perProc := map[int]int{}
	for i := range a.r.Threads {
		if competing(i) {
			perProc[a.procOf[i]]++
		}
	}
	cpuThreads := func(i int) bool { return competing(i) && perProc[a.procOf[i]] >= 2 }
	n, s := a.threadSums(cpuThreads)
	waitShare := textfmt.Share(s.GILWaitNS, s.WallNS)
	compute := textfmt.Share(s.RunningNS, threadWork(&s))
	// The gain of these threads' own work: a thread that sleeps through
	// the run (a heartbeat, a poller) makes the run's work look parallel
	// enough that its GIL ceiling meets the without-GIL estimate, while
	// the CPU-bound threads beside it take turns on the GIL.
	own := a.speedupOf(cpuThreads)
	own.Of = fmt.Sprintf("the %d CPU-bound threads' own work", n)
	gainA := cond{measure: "CPU-bound threads' without-GIL estimate / GIL ceiling", value: ratio(own.WithoutGIL, own.GILCeiling), threshold: GILBoundGain, margin: GILBoundGainMargin, unit: unitX}
	ruleA := []cond{gainA,
		{measure: "CPU-bound threads' GIL wait share", value: waitShare, threshold: GILBoundWaitShare, margin: GILBoundWaitMargin, unit: unitShare},
		{measure: "pure-Python compute share", value: compute, threshold: GILBoundComputeShare, margin: ClassifyMargin, unit: unitShare}}
	if c, ok := a.classEdge(cpuThreads); ok {
		ruleA = append(ruleA, c) // calling them CPU-bound was close
	}
	// (b) Threads of any kind behind a saturated GIL.
	saturated := map[int]bool{}
	for i, p := range a.r.Procs {
		saturated[i] = p.HasGIL && p.Threads >= 2 && p.GILHeldFraction >= GILBoundHeldFraction
	}
	nb, sb := a.threadSums(func(i int) bool { return saturated[a.procOf[i]] })
	waitShareB := textfmt.Share(sb.GILWaitNS, sb.WallNS)
	ruleB := []cond{gain,
		{measure: "GIL held fraction", value: a.r.GILHeldFraction, threshold: GILBoundHeldFraction, margin: GILBoundHeldMargin, unit: unitShare},
		{measure: "GIL wait share", value: waitShareB, threshold: GILBoundWaitShare, margin: GILBoundWaitMargin, unit: unitShare}}
	useA := n >= 2 && (all(ruleA) || !all(ruleB) || nb < 2)
	if useA {
		if !a.decide(GILBound, ruleA...) {
			if waitShare < GILBoundWaitShare {
				// Rule (a)'s threads did not wait for the GIL long: they
				// may have waited for each other instead, in a queue,
				// which rule (c) looks for (review: 2 parsers taking
				// turns, each 45 % running, 20 % waiting for the GIL and
				// 35 % for their queue, the GIL held 90 %, got no verdict
				// where more parsers, waiting longer in the queue than
				// they ran, got gil-bound).
				return a.gilFills()
			}
			return Verdict{}, false
		}
		a.cpuThreadsTakeTurns = true
		// The speedup quoted for "the N CPU-bound threads" is theirs: their
		// work over their wall (QA: a main thread's sleep and an I/O
		// thread's waits made it "2.02x" for two threads taking turns).
		text := fmt.Sprintf("The %d CPU-bound threads spent %s of their time waiting for the GIL: %s of their work is pure-Python compute that only one thread per process can run at a time, so together they ran %s as fast as one thread would (GIL ceiling %s).",
			n, textfmt.Pct0(waitShare), textfmt.Pct0(compute), textfmt.X(own.Achieved), textfmt.X(own.GILCeiling))
		if sameFigures(own, sp) {
			// Their figures are the run's, as the Speedup section prints
			// them: the advice's and the measured note's are theirs too.
			return Verdict{Code: GILBound, Text: text + a.unfair() + a.measuredNote(), Advice: a.processesAdvice()}, true
		}
		// Else the run's figures are named as the run's: the Speedup
		// section's achieved, and the measured speedup, which is the run's.
		return Verdict{Code: GILBound, Text: text + a.runBeside(cpuThreads, own) + a.unfair() + a.measuredNoteOf("the run's wall time"), Advice: a.processesAdviceFor(own)}, true
	}
	if nb < 2 || !a.decide(GILBound, ruleB...) {
		if waitShareB >= GILBoundWaitShare {
			// Rule (b)'s waits are there: its gain was not; (c) does not
			// sidestep it.
			return Verdict{}, false
		}
		return a.gilFills()
	}
	// The figures quoted for "the N threads" are theirs, as in rule (a):
	// their GIL's hold, their work's share that needs it, and their own
	// speedup arithmetic (speedupOf); the run's, when they print
	// differently, only as the run's (QA: beside another process, "the 8
	// threads ... they achieved 3.49x", the run's figure, where they
	// achieved 2.98x).
	satThreads := func(i int) bool { return saturated[a.procOf[i]] }
	own = a.speedupOf(satThreads)
	own.Of = fmt.Sprintf("the %d threads' own work", nb)
	var serial, work, held, wall int64
	for i := range a.r.Threads {
		if satThreads(i) {
			th := &a.r.Threads[i]
			serial += th.RunningNS + th.NativeHoldingNS
			work += a.threadWork(i)
		}
	}
	procs := 0
	for i, p := range a.r.Procs {
		if saturated[i] {
			procs++
			held += p.gilHoldNS
			wall += p.WallNS
		}
	}
	heldShare := textfmt.Share(held, wall)
	var who string
	switch {
	case procs == len(a.r.Procs):
		// Every process's: the run's figure, and the sentence as it was.
		who = fmt.Sprintf("The GIL was held %s of the time and the %d threads spent %s of their time waiting for it", textfmt.Pct0(heldShare), nb, textfmt.Pct0(waitShareB))
	case procs == 1:
		for i, p := range a.r.Procs {
			if saturated[i] {
				who = fmt.Sprintf("The GIL of %s (pid %d) was held %s of its wall and its %d threads spent %s of their time waiting for it", p.Name, p.PID, textfmt.Pct0(heldShare), nb, textfmt.Pct0(waitShareB))
			}
		}
	default:
		who = fmt.Sprintf("The GILs of %d processes were held %s of their wall and their %d threads spent %s of their time waiting for them", procs, textfmt.Pct0(heldShare), nb, textfmt.Pct0(waitShareB))
	}
	text := fmt.Sprintf("%s: the %s of their work that needs the GIL (Python code) runs one thread at a time, which caps them at %s where the machine could give %s without a GIL; they achieved %s.",
		who, textfmt.Pct0(textfmt.Share(serial, work)), textfmt.X(own.GILCeiling), textfmt.X(own.WithoutGIL), textfmt.X(own.Achieved))
	advice := "Move the Python compute out of the threads' way: into processes (ProcessPoolExecutor) or a native library that releases the GIL; keep the I/O in threads or asyncio."
	if sameFigures(own, sp) {
		// Their figures are the run's, as the Speedup section prints them.
		if a.better(sp.AsProcesses) {
			advice += fmt.Sprintf(" As processes: an estimated %s on %s (now %s).", textfmt.X(sp.AsProcesses), textfmt.Plural(sp.Cores, "core"), textfmt.X(sp.Achieved))
		}
		return Verdict{Code: GILBound, Text: text + a.measuredNote(), Advice: advice + " More threads will not help."}, true
	}
	// Else the advice weighs theirs and gives the whole program's beside
	// them, and the run's achieved and measured speedups are named so.
	if own.AsProcesses > AdviceMinGain*own.Achieved {
		advice += fmt.Sprintf(" As processes: an estimated %s on %s for %s (now %s; the whole program: %s as processes, %s without a GIL, now %s, the Speedup section).",
			textfmt.X(own.AsProcesses), textfmt.Plural(own.Cores, "core"), own.Of, textfmt.X(own.Achieved), textfmt.X(sp.AsProcesses), textfmt.X(sp.WithoutGIL), textfmt.X(sp.Achieved))
	}
	return Verdict{Code: GILBound, Text: text + a.runBeside(satThreads, own) + a.measuredNoteOf("the run's wall time"), Advice: advice + " More threads will not help."}, true
}

// GILFillsOneThreadShare: rule (c) of gil-bound needs the Python work
// spread over the threads: no one thread ran more than this share of it
// (one thread's Python work filling the wall is that thread's, which
// noVerdict names, not the GIL's).
const GILFillsOneThreadShare = 0.7

// gilFilled is, per process, whether its GIL was held GILBoundHeldFraction
// of its wall or more while it had two threads or more: its serial work
// fills its wall, so that more threads cannot make it faster.
func (a *analysis) gilFilled(i int) bool {
	p := a.r.Procs[i]
	return p.HasGIL && p.Threads >= 2 && p.GILHeldFraction >= GILBoundHeldFraction
}

// gilWork is the GIL-holding work of process pr's threads: their running
// time, its share of it with their native calls keeping the GIL (python),
// and the thread that ran the most, and how long.
func (a *analysis) gilWork(pr int) (running int64, python float64, most int64, mostName string) {
	var holding int64
	for i := range a.r.Threads {
		if a.procOf[i] != pr {
			continue
		}
		th := &a.r.Threads[i]
		running += th.RunningNS
		holding += th.NativeHoldingNS
		if th.RunningNS > most {
			most, mostName = th.RunningNS, th.Name
		}
	}
	return running, textfmt.Share(running, running+holding), most, mostName
}

// gilFilledSpread is gilFilled with rule (c)'s other conditions on the
// work: mostly Python, spread over the process's threads. A process whose
// one thread did the work (a multiprocessing child and its queue's feeder
// thread) is not a pipeline whose threads wait for each other.
func (a *analysis) gilFilledSpread(pr int) bool {
	if !a.gilFilled(pr) {
		return false
	}
	running, python, most, _ := a.gilWork(pr)
	return textfmt.Share(most, running) <= GILFillsOneThreadShare && python >= GILBoundComputeShare
}

// gilFills is gil-bound's rule (c): a process whose GIL was held
// GILBoundHeldFraction of its wall or more, mostly running Python
// (GILBoundComputeShare of the holds' work) spread over its threads
// (GILFillsOneThreadShare), whose threads did not wait for the GIL as long
// as rule (b) asks: they waited for each other instead, in the queues and
// notifications between them, a consumer for an item its producer had not
// had the GIL to make (QA: a queue.Queue pipeline of 1 reader, 4 parsers
// and 1 writer, the GIL held 88 % of the wall, "GIL wait 11 %", was
// "scales, 2.34x": 1, 2 and 4 parsers ran as fast). Their waits, for the
// GIL and for the process's guest locks (joins left out), are
// GILBoundWaitShare of their wall or more.
func (a *analysis) gilFills() (Verdict, bool) {
	best, bestHeld := -1, 0.0
	for i, p := range a.r.Procs {
		if a.gilFilled(i) && p.GILHeldFraction > bestHeld {
			best, bestHeld = i, p.GILHeldFraction
		}
	}
	if best < 0 {
		return Verdict{}, false
	}
	p := a.r.Procs[best]
	running, python, most, mostName := a.gilWork(best)
	if textfmt.Share(most, running) > GILFillsOneThreadShare {
		return Verdict{}, false
	}
	if !a.decide(GILBound,
		cond{measure: "GIL held fraction", value: p.GILHeldFraction, threshold: GILBoundHeldFraction, margin: GILBoundHeldMargin, unit: unitShare},
		cond{measure: "pure-Python share of the GIL-holding work", value: python, threshold: GILBoundComputeShare, margin: ClassifyMargin, unit: unitShare}) {
		return Verdict{}, false
	}
	nb, sb := a.threadSums(func(i int) bool { return a.procOf[i] == best })
	// Their waits for each other: for the guest locks of the process (a
	// queue's, a condition's), not to join a thread, which is waiting for
	// its whole life (QA: an attached program's main thread joining its
	// one worker).
	var queued int64
	for _, l := range a.r.Locks {
		if l.Process == p.Name && !joinLockName(l.Name) {
			queued += l.WaitNS
		}
	}
	waits := cond{measure: "GIL and queue wait share", value: textfmt.Share(sb.GILWaitNS+queued, sb.WallNS), threshold: GILBoundWaitShare, margin: GILBoundWaitMargin, unit: unitShare}
	if !waits.holds() {
		return Verdict{}, false
	}
	sp := a.r.Speedup
	text := fmt.Sprintf("The GIL of %s (pid %d) was held %s of its wall, %s of that running Python spread over its %d threads (the most by one, %s, %s of it): its Python work, which runs one thread at a time, fills its wall, so more threads cannot make it faster. Its threads waited for the GIL only %s of their time because they waited for each other instead, in the queues and notifications between them: a consumer waits for an item that its producer has not had the GIL to make.",
		p.Name, p.PID, textfmt.Pct0(p.GILHeldFraction), textfmt.Pct0(python), nb, mostName, textfmt.Pct0(textfmt.Share(most, running)), textfmt.Pct0(textfmt.Share(sb.GILWaitNS, sb.WallNS)))
	advice := "More threads will not help. Move the Python compute out of the GIL's way: into processes (ProcessPoolExecutor, each taking a stage's or a batch's work) or a native library that releases the GIL; or shorten it."
	if a.better(sp.AsProcesses) {
		advice += fmt.Sprintf(" As processes: an estimated %s on %s (now %s).", textfmt.X(sp.AsProcesses), textfmt.Plural(sp.Cores, "core"), textfmt.X(sp.Achieved))
	} else {
		advice += fmt.Sprintf(" The estimate as processes, %s (now %s), is bounded by %s: it takes the waits between the threads as they were, which without the GIL's queue may be shorter; time a version with processes to tell.", textfmt.X(sp.AsProcesses), textfmt.X(sp.Achieved), sp.Limit.Text)
	}
	return Verdict{Code: GILBound, Text: text + a.measuredNote(), Advice: advice}, true
}

// sameFigures reports whether some threads' own figures e print as the
// run's (the Speedup section's): achieved, GIL ceiling, as processes and
// without a GIL. Two CPU-bound threads alone in their run have the run's
// figures; beside other threads, or with time before them or after them
// in the run's wall, they differ.
func sameFigures(e estimates, sp Speedup) bool {
	return textfmt.X(e.Achieved) == textfmt.X(sp.Achieved) && textfmt.X(e.GILCeiling) == textfmt.X(sp.GILCeiling) &&
		textfmt.X(e.AsProcesses) == textfmt.X(sp.AsProcesses) && textfmt.X(e.WithoutGIL) == textfmt.X(sp.WithoutGIL)
}

// runBeside is the sentence that names the run's achieved speedup (the
// Speedup section's) beside the one of the threads sel selects (own, from
// speedupOf), and says why it differs, by which way it does; "" when the
// two print the same, or when the difference has no cause it can name.
//
// The run's figure is all the threads' work over the run's wall; theirs is
// their work over their wall (from the first one's start to the last
// one's end). The run's is higher only if the other threads did work (a
// sleep or an I/O wait counts as work: one thread would have to do it
// too), more than their rate over the run's wall outside theirs; it is
// lower only if the run's wall has time outside theirs (before they
// started, after they ended), or if its CPU time was capped at the cores.
func (a *analysis) runBeside(sel func(int) bool, own estimates) string {
	sp := a.r.Speedup
	if textfmt.X(own.Achieved) == textfmt.X(sp.Achieved) {
		return ""
	}
	if sp.Achieved > own.Achieved {
		var cpu, io int64
		for i := range a.r.Threads {
			if !sel(i) {
				cpu += threadCPU(&a.r.Threads[i])
				io += a.io[i]
			}
		}
		// The kinds of their work named are those its printed figure
		// shows: 100ns of compute beside 220ms of sleep is "220ms of
		// sleeps and I/O".
		var what string
		switch all := textfmt.Dur(cpu + io); {
		case cpu+io == 0:
			return ""
		case all == textfmt.Dur(io):
			what = fmt.Sprintf("the other threads' %s of sleeps and I/O", all)
		case all == textfmt.Dur(cpu):
			what = fmt.Sprintf("the other threads' %s of compute", all)
		default:
			what = fmt.Sprintf("the other threads' %s of work (%s of it sleeps and I/O)", textfmt.Dur(cpu+io), textfmt.Dur(io))
		}
		return fmt.Sprintf(" The run's %s, in the Speedup section, is higher: it also counts %s as parallel work.", textfmt.X(sp.Achieved), what)
	}
	before, after := own.fromNS, a.wallNS-own.toNS
	other := a.r.Speedup.SerialEquivNS - own.workNS
	if own.toNS <= own.fromNS || sp.CPUCapped || before < 0 || after < 0 || before+after == 0 || other < 0 {
		return "" // the run's CPU time was capped at the cores, or no wall outside theirs: no cause to name
	}
	// The sides named are those its printed figure shows: 30.0ms before
	// them and 100ns after is "30.0ms before they started".
	var outside string
	switch all := textfmt.Dur(before + after); {
	case all == textfmt.Dur(before):
		outside = "before they started"
	case all == textfmt.Dur(after):
		outside = "after they ended"
	default:
		outside = "before they started and after they ended"
	}
	work := "no other work"
	if other > 0 {
		work = fmt.Sprintf("the other threads' %s of work", textfmt.Dur(other))
	}
	// run = (their work + other) / (their wall + before + after): below
	// their rate exactly when other < their rate x (before + after), the
	// two figures the sentence names.
	return fmt.Sprintf(" The run's %s, in the Speedup section, is lower: it is all the threads' work over the run's wall, which adds %s and the %s of the run %s.",
		textfmt.X(sp.Achieved), work, textfmt.Dur(before+after), outside)
}

// speedupOf is the speedup arithmetic (speedup) of the work of the threads
// sel selects alone, over the time from the first one's start (or the
// beginning of the time counted before the trace first saw it, for a
// thread of an attach first seen late) to the last one's end: achieved,
// the GIL ceiling (the longest thread's work and each process's GIL-held
// work), and without a GIL or as processes (the flow's limits on their
// work, noGILLimit: their earliest ends, their CPU work over the cores,
// the critical sections of shared locks they hold; from the earliest any
// of them could start, and no longer than they took).
func (a *analysis) speedupOf(sel func(int) bool) estimates {
	var work, longest int64
	from, to := int64(math.MaxInt64), int64(math.MinInt64)
	serial := map[int]int64{}
	f := a.flowOf()
	earliest := int64(math.MaxInt64)
	for i := range a.r.Threads {
		if !sel(i) {
			continue
		}
		th := &a.r.Threads[i]
		w := a.threadWork(i)
		work += w
		longest = max(longest, w)
		earliest = min(earliest, f.begin(i))
		if p := a.procOf[i]; a.gilOf(p) != tracer.NoLock {
			serial[p] += th.RunningNS + th.NativeHoldingNS
		}
		if i < len(a.s.Threads) {
			from, to = min(from, a.s.Threads[i].Start), max(to, a.s.Threads[i].End)
		}
		if a.blocked != nil && a.blocked[i] > 0 {
			// Its work has time before the trace first saw it
			// (blockedBeforeSeen): their wall begins with it.
			from = min(from, a.blockFrom[i])
		}
	}
	e := estimates{Cores: max(a.r.Speedup.Cores, 1), workNS: work}
	if to <= from {
		return e
	}
	e.fromNS, e.toNS = from, to
	withGIL := longest
	for _, v := range serial {
		withGIL = max(withGIL, v)
	}
	e.GILCeiling = round3(ratio(float64(work), float64(withGIL)))
	// From the earliest any of them could start, and no longer than they
	// took with the GIL.
	earliest = min(earliest, from)
	e.Limit = a.noGILLimit(sel, earliest, to-from, true)
	e.AsProcesses = round3(ratio(float64(work), float64(e.Limit.NS)))
	e.WithoutGIL = e.AsProcesses
	e.Achieved = round3(ratio(float64(work), float64(to-from)))
	return e
}

// allNear reports whether every condition holds or is near its threshold.
func allNear(cs []cond) bool {
	for _, c := range cs {
		if !c.holds() && !c.near() {
			return false
		}
	}
	return true
}

// all reports whether every condition holds.
func all(cs []cond) bool {
	for _, c := range cs {
		if !c.holds() {
			return false
		}
	}
	return true
}

// unfair is a sentence about the least fair process, if its CPU-bound
// threads' acquisitions differ by more than UnfairRatio and the thread
// with the fewest waited longer for the GIL than the one with the most (it
// was starved, not merely holding the GIL longer each time), else "".
func (a *analysis) unfair() string {
	worst := -1
	for i, p := range a.r.Procs {
		f := p.Fairness
		if f.CPUBoundThreads >= 2 && f.Most >= FairMinAcquisitions && f.Ratio < UnfairRatio && f.FewestGILWaitNS > f.MostGILWaitNS && (worst < 0 || f.Ratio < a.r.Procs[worst].Fairness.Ratio) {
			worst = i
		}
	}
	if worst < 0 {
		return ""
	}
	p := a.r.Procs[worst]
	f := p.Fairness
	// The counts are of acquisitions while another of them wanted the GIL;
	// the thread table counts all, and says so when they differ (QA:
	// "acquired it only 0 times" beside a table that showed 1).
	var fewest string
	switch all := f.FewestThreadAcquisitions; {
	case f.Fewest == 0 && all > 0:
		fewest = fmt.Sprintf("never acquired it (its %s in the threads table came when no other of them wanted it)", textfmt.Plural(all, "acquisition"))
	case f.Fewest == 0:
		fewest = "never acquired it"
	case all != f.Fewest:
		fewest = fmt.Sprintf("acquired it only %s (of its %d in the threads table: the others came when no other of them wanted it)", textfmt.Plural(f.Fewest, "time"), all)
	default:
		fewest = "acquired it only " + textfmt.Plural(f.Fewest, "time")
	}
	return fmt.Sprintf(" The GIL was also unfair: while they competed, %s %s and waited %s for it, while %s acquired it %s and waited %s.",
		f.FewestThread, fewest, textfmt.Dur(f.FewestGILWaitNS), f.MostThread, textfmt.Plural(f.Most, "time"), textfmt.Dur(f.MostGILWaitNS))
}

func (a *analysis) convoy() (Verdict, bool) {
	limit := int64(float64(a.t.Meta.SwitchInterval) * ConvoyLatencyIntervals)
	if a.t.Meta.SwitchInterval <= 0 || a.t.Meta.GILMode != "cpython" {
		limit = int64(ConvoyMinLatency)
	}
	worst, worstWait, hit := -1, int64(0), 0
	var worstLat Latency
	var worstConds, nearConds []cond
	windows := map[int][][2]int64{} // per process, while its CPU-bound threads ran (cpuWindows)
	worstAll := 0                   // the worst's re-acquires in all, when only some are counted
	var worstDuring, worstHeld bool // which of them were counted, when only some: those during CPU-bound threads' runs, those that found the GIL held
	// The samples of a thread, those of them kept, and their latencies,
	// in arrays reused from thread to thread: made for each, they were
	// two thirds of the diagnosis's garbage on a real run of 16 I/O
	// threads (2 M events: 52 MB), which a report holds until it ends.
	var bufs struct {
		all, in, held []reacquireSample
		lats, scratch []int64
	}
	for i := range a.r.Threads {
		th := &a.r.Threads[i]
		if !a.ioBound[i] || len(a.ioReacquire[i]) < ConvoyMinReacquires {
			continue
		}
		var total int64
		for _, l := range a.ioReacquire[i] {
			total += l
		}
		pr := a.procOf[i]
		if _, ok := windows[pr]; !ok {
			windows[pr] = a.cpuWindows(pr)
		}
		bufs.all = a.ioReacquireSamples(tracer.ThreadID(i), bufs.all[:0])
		samples := bufs.all
		var during, heldOnly bool
		in := keepSamples(bufs.in[:0], samples, func(s reacquireSample) bool { return inWindows(windows[pr], s.end) })
		bufs.in = in
		if len(in) >= ConvoyMinReacquires && len(in) < len(samples) {
			// The convoy lasts while CPU-bound threads run: its median is
			// of the I/Os that ended then (QA: an I/O thread beside a CPU
			// thread for 0.3 s of its 0.4 s, slowed 2.4x, 54 % of its
			// wall waiting for the GIL, had a median of the whole run's
			// re-acquires below the threshold, and no verdict).
			samples, during = in, true
		}
		held := keepSamples(bufs.held[:0], samples, func(s reacquireSample) bool { return s.held })
		bufs.held = held
		if len(held) >= ConvoyMinReacquires && len(held) < len(samples) {
			// A re-acquire that found the GIL free says nothing of a
			// convoy: the I/O was over before another thread took the
			// GIL (a send, a read already answered). Its median is of
			// those that found it held, as the trace records the acquire
			// (after a wait, or forced), not by their latency: an
			// uncontended re-acquire on real CPython takes the 1-2 us
			// between two probe hits (QA: convoy.py 1.0, whose I/O
			// thread's send and recv re-acquired at once and only its
			// sleep's waited, 5.1 ms each, behind the CPU thread: a third
			// of them, a median of a few microseconds, and no verdict).
			samples, heldOnly = held, true
		}
		// All of them: their latencies are the thread's re-acquire run,
		// sorted already (eachReacquire and ioReacquireSamples pass the
		// same spans the same way).
		lats := a.ioReacquire[i]
		if during || heldOnly || len(lats) != len(samples) {
			lats = bufs.lats[:0]
			for _, s := range samples {
				lats = append(lats, s.lat)
			}
			bufs.lats = lats
			bufs.scratch = sortTimes(lats, bufs.scratch)
		}
		lat := latencyOf([][]int64{lats})
		conds := []cond{
			{measure: "median re-acquire after I/O", value: float64(lat.P50), threshold: float64(limit), margin: ConvoyLatencyMargin, unit: unitNS},
			{measure: "re-acquire wait share", value: textfmt.Share(total, th.WallNS), threshold: ConvoyMinWaitShare, margin: ConvoyWaitMargin, unit: unitShare},
		}
		if !allNear(conds) {
			continue // the holders' share (a pass over the run) cannot change that
		}
		conds = append(conds, cond{measure: "share behind CPU-bound holders running Python", value: a.cpuHolderShare(tracer.ThreadID(i)), threshold: ConvoyCPUHolderShare, unit: unitShare},
			a.classNear(i, false)) // it is I/O-bound: near, when its share was close
		if !all(conds) {
			if nearConds == nil && allNear(conds) {
				nearConds = conds
			}
			continue
		}
		hit++
		if worst < 0 || total > worstWait {
			worst, worstWait, worstLat, worstConds = i, total, lat, conds
			worstAll, worstDuring, worstHeld = 0, false, false
			if len(lats) < len(a.ioReacquire[i]) {
				worstAll, worstDuring, worstHeld = len(a.ioReacquire[i]), during, heldOnly
			}
		}
	}
	if worst < 0 {
		if nearConds != nil {
			a.decide(Convoy, nearConds...) // records the near miss
		}
		return Verdict{}, false
	}
	a.decide(Convoy, worstConds...)
	th := &a.r.Threads[worst]
	hs := a.mainGILHolderIDs(tracer.ThreadID(worst))
	holder, holders := a.holderNames(hs)
	others := ""
	if hit > 1 {
		others = fmt.Sprintf(" (and %s like it)", textfmt.Plural(hit-1, "other I/O thread"))
	}
	interval := "the 1 ms convoy threshold"
	if a.t.Meta.GILMode == "cpython" && a.t.Meta.SwitchInterval > 0 {
		interval = fmt.Sprintf("%.1f switch intervals of %s", float64(worstLat.P50)/float64(a.t.Meta.SwitchInterval), a.t.Meta.SwitchInterval)
	}
	ops := fmt.Sprintf("each of its %d I/O operations", worstLat.Count)
	switch {
	case worstDuring && worstHeld:
		ops = fmt.Sprintf("each of the %d of its %d I/O operations that ended while CPU-bound threads ran and with the GIL held by another thread", worstLat.Count, worstAll)
	case worstHeld:
		ops = fmt.Sprintf("each of the %d of its %d I/O operations that ended with the GIL held by another thread", worstLat.Count, worstAll)
	case worstDuring:
		ops = fmt.Sprintf("each of the %d of its %d I/O operations that ended while CPU-bound threads ran", worstLat.Count, worstAll)
	}
	return Verdict{
		Code: Convoy,
		Text: fmt.Sprintf("%s%s is I/O-bound (%s of its work is I/O) but waited a median %s (p99 %s) for the GIL after %s, %s, while %s held it: %s of its time went to getting the GIL back.",
			th.Name, others, textfmt.Pct0(textfmt.Share(th.IONS, threadWork(th))), textfmt.Dur(worstLat.P50), textfmt.Dur(worstLat.P99), ops,
			interval, holder, textfmt.Pct0(textfmt.Share(worstWait, th.WallNS))),
		Advice: a.convoyAdviceFor(hs, holder, holders, th.Name, worstWait, worstLat.P50),
	}, true
}

// ConvoyMachineryShare: when at least this share of the waiting behind a
// convoy's holders was in a thread pool's own machinery (poolMachinery),
// the advice is about the pool, not about moving compute to processes.
const ConvoyMachineryShare = 0.5

// convoyAdviceFor is convoyAdvice, unless the holders' time holding the
// GIL was mostly a thread pool's own machinery (starting threads, handing
// out and completing tasks): that cannot move to a process (QA: a pool of
// 200 sleeping workers fed 2000 tasks by its main thread, 120x faster
// than one worker untraced, was told to "run MainThread's compute in a
// process", the compute being Thread.start, Condition.wait and
// Future.result).
func (a *analysis) convoyAdviceFor(hs []tracer.ThreadID, holder string, holders int, ioName string, waitNS, medianNS int64) string {
	share := a.machineryShare(hs)
	if share < ConvoyMachineryShare {
		return a.convoyAdvice(holder, holders, ioName, waitNS, medianNS)
	}
	s := fmt.Sprintf("%s's time holding the GIL was mostly the thread pool's own machinery (%s of the waiting behind it: starting threads, handing out and completing tasks, in threading and concurrent.futures), not compute a process could take: submit fewer, larger tasks (several items a task), keep the pool no larger than the calls it has in flight at once, and keep one pool for the program's life rather than starting threads per batch",
		holder, textfmt.Pct0(share))
	if tc := a.r.TracingCost; tc != nil && tc.High {
		s += "; the probes make each thread start and each task dearer (the tracing-cost warning above), so the program untraced waits less behind it"
	}
	return s + a.switchIntervalAdvice()
}

// machineryShare is the share of the GIL waiting behind threads hs, while
// they held the GIL, whose holder's innermost frame was a thread pool's
// machinery (poolMachinery).
func (a *analysis) machineryShare(hs []tracer.ThreadID) float64 {
	if len(hs) == 0 {
		return 0
	}
	var in, all int64
	for _, w := range a.s.WaitedSums() {
		if !isGIL(a.t, w.Lock) || !slices.Contains(hs, w.Holder) {
			continue
		}
		all += w.Waited
		if int(w.Stack) < len(a.t.Stacks) && w.Stack != tracer.NoStack {
			if f := a.t.Stacks[w.Stack].Frame; int(f) < len(a.t.Frames) && poolMachinery(a.t.Frames[f].File) {
				in += w.Waited
			}
		}
	}
	return textfmt.Share(in, all)
}

// poolMachinery reports whether file is the standard library's thread and
// pool machinery: threading, concurrent.futures, queue.
func poolMachinery(file string) bool {
	if !inStdlib(file) {
		return false
	}
	for _, m := range []string{"/threading.py", "/concurrent/futures/thread.py", "/concurrent/futures/_base.py", "/queue.py"} {
		if strings.HasSuffix(file, m) {
			return true
		}
	}
	return false
}

// cpuWindows is when CPU-bound threads of process pr, whose GIL they
// hold, ran: the union of the CPU-bound phases of the threads whose life
// a long wait split (cpuPhases: a thread that slept before it computed,
// the sleep left out) and of the lives of the other threads CPU-bound
// over their life (competing), in time order.
func (a *analysis) cpuWindows(pr int) [][2]int64 {
	var ws [][2]int64
	phases := a.cpuPhases()
	for i := range a.r.Threads {
		if i >= len(a.s.Threads) || a.procOf[i] != pr {
			continue
		}
		switch {
		case phases[i] != nil:
			ws = append(ws, phases[i]...)
		case i < len(a.competing) && a.competing[i]:
			ws = append(ws, [2]int64{a.s.Threads[i].Start, a.s.Threads[i].End})
		}
	}
	slices.SortFunc(ws, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) })
	out := ws[:0]
	for _, w := range ws {
		if n := len(out); n > 0 && w[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], w[1])
			continue
		}
		out = append(out, w)
	}
	if out == nil {
		out = [][2]int64{} // made, and empty
	}
	return out
}

// ConvoyPhaseIntervals: for the convoy, a thread is CPU-bound over the
// part of its life when it computes, not only over its whole wall: its
// life is split at every wait (I/O, a sleep, a guest lock) of this many
// switch intervals or more (of ConvoyMinLatency in modes without one),
// and a stretch between them at least that long whose work is CPU-bound
// (cpuPhaseShare of it CPU, most of that Python, which needs the GIL) is
// a CPU-bound phase: its holds of the GIL are a CPU-bound holder's, and
// the I/Os of other threads that end in it are in the convoy's window.
// QA: a CPU thread that slept 0.7 s before computing 0.6 s beside an I/O
// thread was 45 % running over its wall, not CPU-bound, and the convoy's
// median was taken over nothing; the same threads with the CPU thread
// started 0.7 s later got the convoy verdict. Ten intervals (50 ms at
// CPython's default) is far longer than the pauses of a compute loop and
// than a re-acquire's wait, and a burst shorter than that between an I/O
// thread's long waits is no phase.
const ConvoyPhaseIntervals = 10

// cpuPhases is, per thread, its CPU-bound phases (ConvoyPhaseIntervals),
// in time order: [start, end) from the first to the last span of the
// phase in which it ran, waited for the GIL or was in a native call; nil
// for a thread whose life no long wait split (its life is what classify
// judged), and for one of a process without a GIL. Computed once.
func (a *analysis) cpuPhases() [][][2]int64 {
	if a.phases != nil {
		return a.phases
	}
	gap := int64(a.t.Meta.SwitchInterval)
	if gap <= 0 || a.t.Meta.GILMode != "cpython" {
		gap = int64(ConvoyMinLatency)
	}
	gap *= ConvoyPhaseIntervals
	a.phases = make([][][2]int64, len(a.r.Threads))
	for i := range a.r.Threads {
		if i >= len(a.s.Threads) || a.gilOf(a.procOf[i]) == tracer.NoLock {
			continue
		}
		var (
			start, end  int64 = -1, -1 // the phase's first and last busy span
			cpu, py, io int64          // its CPU time, the part needing the GIL, its I/O
			pendingIO   int64          // I/O since its last busy span
			split       bool           // a wait of gap or more between two busy spans
			phases      [][2]int64
		)
		done := func() {
			if start >= 0 && end-start >= gap && cpu > 0 && float64(cpu) >= cpuPhaseShare*float64(cpu+io) && 2*py >= cpu {
				phases = append(phases, [2]int64{start, end})
			}
			start, end, cpu, py, io, pendingIO = -1, -1, 0, 0, 0, 0
		}
		for _, sp := range a.s.ThreadStates(tracer.ThreadID(i)) {
			d := sp.End - sp.Start
			switch sp.State {
			case tracer.StateIO, tracer.StateLockWait:
				if sp.State == tracer.StateIO {
					pendingIO += d
				}
				continue
			}
			if start >= 0 && sp.Start-end >= gap {
				done()
				split = true
			}
			if start < 0 {
				start = sp.Start
			}
			end = sp.End
			io += pendingIO
			pendingIO = 0
			switch sp.State {
			case tracer.StateRunning, tracer.StateNativeHolding:
				cpu += d
				py += d
			case tracer.StateNative:
				cpu += d
			}
		}
		done()
		if split {
			// A thread with no long wait has only its life, which
			// classify judged (the threads of one function pooled: QA's
			// four identical readers, 50 % compute each, are not to be
			// split into CPU-bound and I/O-bound ones).
			a.phases[i] = append([][2]int64{}, phases...)
		}
	}
	return a.phases
}

// cpuPhaseShare is the CPU share of its work that makes a stretch of a
// thread's life a CPU-bound phase (cpuPhases): CPUBoundShare beyond the
// classification's margin, since a phase is judged alone, not pooled
// with the threads of its function as a life is (classify).
const cpuPhaseShare = CPUBoundShare * (1 + ClassifyMargin)

// cpuHolder reports whether thread th holding the GIL at time t is a
// CPU-bound holder: CPU-bound over its life, or in a CPU-bound phase then.
func (a *analysis) cpuHolder(th tracer.ThreadID, t int64) bool {
	if int(th) >= len(a.cpuBound) {
		return false
	}
	if a.cpuBound[th] {
		return true
	}
	ps := a.cpuPhases()[th]
	k := sort.Search(len(ps), func(k int) bool { return ps[k][1] > t })
	return k < len(ps) && ps[k][0] <= t
}

// reacquireSample is one GIL re-acquire of a thread after an I/O: when
// the I/O ended, how long the thread then waited for the GIL, and whether
// it found the GIL held: its acquire, as the trace records it, was after a
// wait or forced, not uncontended (docs/cpython.md: a take is a wait if
// another thread held the GIL at its start or took it before it). Not by
// its latency: an uncontended re-acquire on real CPython is the gap
// between two probe hits, typically 1.3-1.9 us.
type reacquireSample struct {
	end, lat int64
	held     bool
}

// ioReacquireSamples is thread id's GIL re-acquires after I/O, in time
// order, as eachReacquire counts them (a thread that ended before it got
// the GIL back left out), appended to out.
func (a *analysis) ioReacquireSamples(id tracer.ThreadID, out []reacquireSample) []reacquireSample {
	if int(id) >= len(a.procOf) {
		return out
	}
	gil := a.gilOf(a.procOf[id])
	if gil == tracer.NoLock {
		return out
	}
	hs := a.s.LockHolds(gil)
	st := a.s.ThreadStates(id)
	// The thread's samples are in time order, and so are the holds: each
	// search starts from the previous one's answer (a binary search of all
	// the holds for each was a third of the diagnosis of a real run of 16
	// I/O threads, 2.05 M events). On an invalid trace whose holds of the
	// GIL overlap, the answers, like sort.Search's there, are some hold
	// nearby; the same for the same trace.
	from, fromEnd := 0, 0
	for i := 0; i < len(st); i++ {
		sp := st[i]
		if sp.State != tracer.StateIO {
			continue
		}
		j := i + 1
		if j < len(st) && st[j].State == sp.State {
			continue // the same I/O goes on with another stack or kind
		}
		var lat int64
		for ; j < len(st) && st[j].State == tracer.StateGILWait; j++ {
			lat += st[j].End - st[j].Start
		}
		if j >= len(st) {
			continue
		}
		// The hold that the acquire began: the thread's hold of the GIL
		// starting when it had the GIL back.
		at, held, found := st[j].Start, false, false
		from = a.s.HoldStartingFrom(hs, at, from)
		for k := from; k < len(hs) && a.s.Holds[hs[k]].Start == at; k++ {
			if h := &a.s.Holds[hs[k]]; h.Thread == id {
				held, found = h.How != tracer.AcquireUncontended, true
				break
			}
		}
		if !found {
			// No hold starts there (a trace cut short, mended): another
			// thread's hold of the GIL when the I/O ended says it.
			k := a.s.HoldEndingAfter(hs, sp.End, fromEnd)
			fromEnd = k
			held = k < len(hs) && a.s.Holds[hs[k]].Start <= sp.End && a.s.Holds[hs[k]].Thread != id
		}
		out = append(out, reacquireSample{end: sp.End, lat: lat, held: held})
	}
	return out
}

// keepSamples appends to out the samples for which keep holds.
func keepSamples(out, samples []reacquireSample, keep func(reacquireSample) bool) []reacquireSample {
	for _, s := range samples {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// inWindows reports whether t is within one of windows (cpuWindows: in
// time order, disjoint), their ends included.
func inWindows(windows [][2]int64, t int64) bool {
	k := sort.Search(len(windows), func(k int) bool { return windows[k][1] >= t })
	return k < len(windows) && windows[k][0] <= t
}

// cpuHolderShare is the part of thread id's GIL waits during which a
// CPU-bound thread held the GIL running Python: not inside a native call
// that keeps it, which checks for no drop request, so that no switch
// interval bounds the wait (gil-held-in-native's case, not a convoy's).
func (a *analysis) cpuHolderShare(id tracer.ThreadID) float64 {
	if a.cpuHeld == nil {
		a.cpuHeld, a.anyHeld = a.heldBehind()
		a.nativeHeld = a.nativeBehind()
	}
	return textfmt.Share(a.cpuHeld[id]-a.nativeHeld[id], a.anyHeld[id])
}

// nativeBehind is, per thread, the time of its GIL waits during which a
// CPU-bound thread held the GIL inside a native call that keeps it. Such a
// call is a state span of its own (StateNativeHolding), during which its
// thread holds its process's GIL: per GIL, those spans in time order with
// prefix sums, two searches a wait, as heldBehind. Most runs have few.
func (a *analysis) nativeBehind() []int64 {
	out := make([]int64, len(a.r.Threads))
	type span struct{ start, end int64 }
	byGIL := map[tracer.LockID][]span{}
	for i := range a.s.States {
		sp := &a.s.States[i]
		if sp.State != tracer.StateNativeHolding || sp.End <= sp.Start || !a.cpuHolder(sp.Thread, sp.Start) {
			continue
		}
		if gil := a.gilOf(a.procOf[sp.Thread]); gil != tracer.NoLock {
			byGIL[gil] = append(byGIL[gil], span{sp.Start, sp.End})
		}
	}
	for gil, spans := range byGIL {
		slices.SortFunc(spans, func(x, y span) int { return cmp.Compare(x.start, y.start) })
		ends := make([]int64, len(spans))
		before := make([]int64, len(spans)+1) // native time before spans[k]
		for k, sp := range spans {
			ends[k] = sp.end
			before[k+1] = before[k] + sp.end - sp.start
		}
		first := firstEndAfter(ends)
		upTo := func(t int64, k int) int64 { // native time before t; k: the first span ending after t
			v := before[k]
			if k < len(spans) && spans[k].start < t {
				v += t - spans[k].start
			}
			return v
		}
		a.eachWait(gil, first, func(w *tracer.Wait, ks, ke int) {
			out[w.Thread] += upTo(w.End, ke) - upTo(w.Start, ks)
		})
	}
	return out
}

// eachWait calls f for each wait for lock id, with the indexes (by first,
// a firstEndAfter) of the first entries ending after its start and after
// its end: the waits are in time order, so each search starts from the
// previous wait's.
func (a *analysis) eachWait(id tracer.LockID, first func(t int64, hint int) int, f func(w *tracer.Wait, ks, ke int)) {
	from := 0
	for _, wi := range a.s.LockWaits(id) {
		w := &a.s.Waits[wi]
		if int(w.Thread) >= len(a.r.Threads) {
			continue
		}
		ks := first(w.Start, from)
		ke := first(w.End, ks)
		from = ks
		f(w, ks, ke)
	}
}

// heldBehind is, per thread, the time of its GIL waits during which a
// CPU-bound thread held the GIL, and during which any thread did. With
// prefix sums over each GIL's holds, a wait costs two searches, not a walk
// over every holder it sat behind; the searches start from the previous
// wait's (the waits are in time order), a few steps each.
func (a *analysis) heldBehind() (cpu, any []int64) {
	cpu, any = make([]int64, len(a.r.Threads)), make([]int64, len(a.r.Threads))
	for l := range a.t.Locks {
		id := tracer.LockID(l)
		if !isGIL(a.t, id) {
			continue
		}
		hs := a.s.LockHolds(id)
		// pc[k], pa[k]: time held by CPU-bound threads, by any thread, in
		// the holds before hs[k] (pa is what Spans.Held sums).
		pc, pa := make([]int64, len(hs)+1), make([]int64, len(hs)+1)
		ends := make([]int64, len(hs))
		for k, hi := range hs {
			h := &a.s.Holds[hi]
			ends[k] = h.End
			pc[k+1], pa[k+1] = pc[k], pa[k]+max(h.End-h.Start, 0)
			if a.cpuHolder(h.Thread, h.Start) {
				pc[k+1] += max(h.End-h.Start, 0)
			}
		}
		first := firstEndAfter(ends)
		// upTo is the time held by CPU-bound threads and by any thread
		// before t, with k the first hold ending after t.
		upTo := func(t int64, k int) (cpu, any int64) {
			cpu, any = pc[k], pa[k]
			if k < len(hs) {
				if h := &a.s.Holds[hs[k]]; h.Start < t {
					any += t - h.Start
					if pc[k+1] != pc[k] {
						cpu += t - h.Start
					}
				}
			}
			return cpu, any
		}
		a.eachWait(id, first, func(w *tracer.Wait, ks, ke int) {
			c0, a0 := upTo(w.Start, ks)
			c1, a1 := upTo(w.End, ke)
			cpu[w.Thread] += c1 - c0
			any[w.Thread] += a1 - a0 // Spans.Held(w)
		})
	}
	return cpu, any
}

// firstEndAfter returns a search of the index of the first of ends after
// t (sort.Search's answer), given a hint at or below it: it gallops from
// the hint when ends are in order (the holds of a lock do not overlap),
// else it searches them all, as sort.Search would.
func firstEndAfter(ends []int64) func(t int64, hint int) int {
	if !slices.IsSorted(ends) {
		return func(t int64, _ int) int {
			return sort.Search(len(ends), func(j int) bool { return ends[j] > t })
		}
	}
	return func(t int64, hint int) int {
		lo := min(max(hint, 0), len(ends))
		if lo > 0 && ends[lo-1] > t { // not at or below the answer
			lo = 0
		}
		// ends[lo-1] <= t: gallop to a hi with ends[hi] > t, then search.
		step, hi := 1, lo
		for hi < len(ends) && ends[hi] <= t {
			lo = hi + 1
			hi += step
			step *= 2
		}
		hi = min(hi, len(ends))
		return lo + sort.Search(hi-lo, func(j int) bool { return ends[lo+j] > t })
	}
}

// holderNames names threads hs, the main holders of the GIL while a
// thread waited for it (mainGILHolderIDs), and says how many they are.
func (a *analysis) holderNames(hs []tracer.ThreadID) (string, int) {
	if len(hs) == 0 {
		return "another thread", 1
	}
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = a.threadName(h)
	}
	if len(names) == 1 {
		return names[0], 1
	}
	return textfmt.And(names), len(names)
}

// mainGILHolderIDs is the threads that held the GIL while thread id
// waited for it, mostly (mainHolders).
func (a *analysis) mainGILHolderIDs(id tracer.ThreadID) []tracer.ThreadID {
	var ws []*tracer.Wait
	for i := range a.s.Waits {
		if w := &a.s.Waits[i]; w.Thread == id && isGIL(a.t, w.Lock) {
			ws = append(ws, w)
		}
	}
	return mainHolders(a.s, ws...)
}

func (a *analysis) gilHeldInNative() (Verdict, bool) {
	totalWait, blamed, byFunc := a.gilWaitNS, a.nativeBlamed, a.nativeBlame // from functions' sweep
	_, s := a.threadSums(func(int) bool { return true })
	if !a.decide(GILHeldInNative,
		cond{measure: "GIL wait behind native calls keeping it, share of all GIL wait", value: textfmt.Share(blamed, totalWait), threshold: NativeHoldingBlameShare, margin: NativeHoldingMargin, unit: unitShare},
		cond{measure: "GIL wait behind native calls keeping it, share of the threads' time", value: textfmt.Share(blamed, s.WallNS), threshold: NativeHoldingMinWaitShare, margin: NativeHoldingMargin, unit: unitShare}) {
		return Verdict{}, false
	}
	v := Verdict{
		Code: GILHeldInNative,
		Text: fmt.Sprintf("Other threads waited %s for the GIL (%s of all GIL waiting, %s of the threads' time) while %s.",
			textfmt.Dur(blamed), textfmt.Pct0(textfmt.Share(blamed, totalWait)), textfmt.Pct0(textfmt.Share(blamed, s.WallNS)), nativeHolders(byFunc, blamed)),
		Advice: a.nativeAdvice(nativeOriginOf(byFunc, blamed)),
	}
	if a.r.BusyMachine && a.t.Meta.Extra[ExtraInferredNative] != "" {
		// A real program's native holding is inferred from a holder that
		// let the GIL go long after a drop request, which a holder the
		// operating system descheduled does too: on a busy machine a
		// pure-Python loop got this verdict (QA: 186 ms of a countdown at
		// a load average of 2.7), and the advice to release the GIL in C
		// code would have sent its user after C code it does not have.
		v.Text += " The machine was busy (see the warning above): a holder that the operating system took off its core looks the same to the probes as one inside a native call, so some or all of this may be the machine's."
		v.Advice = "Record again on a quiet machine before acting on this; if the native holding stays: " + lowerFirst(v.Advice)
	}
	return v, true
}

// nativeHolders says who held the GIL in native calls while the others
// waited blamed in all, by function: the one function when it held it for
// nearly all of that (NativeHoldersOne), else each that held it for at
// least NativeHoldersMin of it, with its time, up to three (QA: three
// threads in sorted, re.findall and json.dumps in turn: the whole 4.37 s
// was put on json's iterencode, whose own part was 2.01 s).
func nativeHolders(byFunc map[tracer.Frame]int64, blamed int64) string {
	fs := topFrames(byFunc)
	if len(fs) == 0 {
		return "a native call that does not release it held it"
	}
	if len(fs) == 1 || textfmt.Share(byFunc[fs[0]], blamed) >= NativeHoldersOne {
		return nativeFuncAt(fs[0]) + " held it inside a native call that does not release it"
	}
	var named []string
	var rest int64
	for i, f := range fs {
		// The longest always, with its part (review: none past the
		// share named no function at all).
		if i == 0 || i < 3 && textfmt.Share(byFunc[f], blamed) >= NativeHoldersMin {
			named = append(named, nativeFuncAt(f)+" "+textfmt.Dur(byFunc[f]))
		} else {
			rest += byFunc[f]
		}
	}
	if rest > 0 {
		named = append(named, "other calls "+textfmt.Dur(rest))
	}
	return "native calls that do not release it held it: " + textfmt.And(named)
}

// NativeHoldersOne is the share of the waiting behind native calls above
// which the gil-held-in-native verdict names the one function that held
// the GIL; below it, it names each that held it for NativeHoldersMin or
// more of it, with its time.
const (
	NativeHoldersOne = 0.9
	NativeHoldersMin = 0.1
)

// lowerFirst lowers the first letter of an advice joined after a colon.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// upperFirst capitalises the first letter of a sentence.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// nativeFuncAt is funcAt with a library's file named ("sort
// (numpy/core/fromnumeric.py, line 1030)"; QA: "sort (line 1030)" did not
// say it was numpy's); a function of the program's own is funcAt's.
func nativeFuncAt(f tracer.Frame) string {
	lib := libraryPath(f.File)
	switch {
	case lib == "":
		return funcAt(f)
	case f.Line > 0:
		return fmt.Sprintf("%s (%s, line %d)", f.Func, lib, f.Line)
	}
	return fmt.Sprintf("%s (%s)", f.Func, lib)
}

// funcAt is "resize (line 12)".
func funcAt(f tracer.Frame) string {
	if f.Line > 0 {
		return fmt.Sprintf("%s (line %d)", f.Func, f.Line)
	}
	return f.Func
}

func (a *analysis) lockBound() (Verdict, bool) {
	n, s := a.threadSums(func(int) bool { return true })
	// Only locks that several threads held serialise them; waits for
	// another thread (joins, events) are not contention.
	var shared []LockReport
	var waitNS int64
	for _, l := range a.r.Locks {
		if l.Shared {
			shared = append(shared, l)
			waitNS += l.WaitNS
		}
	}
	if len(shared) == 0 || !a.decide(LockBound, cond{measure: "shared-lock wait share", value: textfmt.Share(waitNS, s.WallNS), threshold: LockBoundWaitShare, margin: LockBoundMargin, unit: unitShare}) {
		return Verdict{}, false
	}
	s.LockWaitNS = waitNS
	l := shared[0]
	holder := ""
	if l.HeldBy != "" {
		holder = ", held mostly in " + funcAt(tracer.Frame{Func: l.HeldBy, Line: l.HeldLine})
	}
	locks := "guest locks" // the workload's locks, in the VM's words
	if a.realProgram() {
		locks = "locks (threading's)" // QA: "guest locks" means nothing to a Python program's author
	}
	blocked := fmt.Sprintf("The %d threads spent %s of their time blocked on %s, %s of it on %s%s",
		n, textfmt.Pct0(textfmt.Share(s.LockWaitNS, s.WallNS)), locks, textfmt.Pct0(textfmt.Share(l.WaitNS, s.LockWaitNS)), l.Name, holder)
	if l.HoldsInferred {
		// A real program recorded without --lock-holds: its holds are the
		// ends of waits until the GIL came back, so they look like GIL
		// waits inside the lock whatever the holders did under it (QA:
		// lock_contention.py, which sleeps 5 ms under its lock, was told
		// the GIL serialised it and processes would give 2.9x; its own
		// prediction said 0.98x).
		const what = "shorten the critical section (compute, sleep or do I/O outside the lock), split the lock (one per key or shard), or give each thread its own data and merge at the end. "
		text, advice := blocked+". Its holds were not recorded (the program was traced without --lock-holds): how long each thread held it, and what it did under it, is not known.",
			"Record again with --lock-holds to see how long the lock is held and where. Meanwhile: "+what
		if !LockHoldsRecordable(a.t) {
			text = blocked + ". Its holds were not recorded (on Python 3.14 and later a threading.Lock is a PyMutex, whose holds giltrace does not record): how long each thread held it, and what it did under it, is not known."
			advice = "To find out, time the critical section in the program, or run it under Python 3.13 with --lock-holds. Meanwhile: " + what
		}
		return Verdict{
			Code: LockBound,
			Text: text,
			Advice: advice +
				fmt.Sprintf("The estimates without a GIL or as processes (%s) do not know the lock's holds and count the holders' time under it as work that overlaps: they may be far too high.", textfmt.X(a.r.Speedup.WithoutGIL)),
		}, true
	}
	if sp := a.r.Speedup; 2*l.WorkNS < l.HoldNS && a.better(sp.WithoutGIL) {
		// Its holds are mostly the holders' waits for the GIL inside the
		// critical section (a thread that waited for the lock released the
		// GIL, and takes the lock before it has the GIL back): the GIL
		// makes the lock a bottleneck, not the section's work (QA: a 20 us
		// section held 2.7 ms a time was told to be shortened).
		return Verdict{
			Code: LockBound,
			Text: fmt.Sprintf("%s: its holders spent %s of the %s they held it waiting for the GIL inside the critical section, whose own work is %s. A thread that waited for the lock gave up the GIL, and takes the lock before it has the GIL back, so the others wait for the lock while the holder waits for the GIL.",
				blocked, textfmt.Dur(l.HoldNS-l.WorkNS), textfmt.Dur(l.HoldNS), textfmt.Dur(l.WorkNS)),
			Advice: fmt.Sprintf("The GIL, not the critical section's work, serialises the threads here: without a GIL or as processes, an estimated %s (now %s), bounded by %s.",
				textfmt.X(sp.WithoutGIL), textfmt.X(sp.Achieved), sp.Limit.Text),
		}, true
	}
	return Verdict{
		Code:   LockBound,
		Text:   blocked + ": its critical section runs one thread at a time, GIL or not.",
		Advice: a.lockAdvice(l),
	}, true
}

// cpuSaturated: the threads' runnable CPU demand (running and in native
// code; threads waiting for the GIL are not running and do not count)
// exceeded the cores. The CPU time is the trace's, uncapped: threads that
// the OS descheduled while "running" are the saturation.
//
// Or the cores are the limit of threads that take turns on a GIL: counted
// with the threads waiting for the GIL, the demand exceeds the cores, and
// neither estimate (without a GIL, as processes) beats what the run
// achieved, the cores bounding them (two CPU-bound threads on one core,
// two processes of two on two): without the GIL its waiters would wait
// for a core instead. Gil-bound does not fire there (its gain is not
// there), and the report said nothing ("none of the verdicts' thresholds
// was reached") of threads waiting half their time (QA).
func (a *analysis) cpuSaturated() (Verdict, bool) {
	if v, ok := a.outsideSaturated(); ok {
		return v, true
	}
	_, s := a.threadSums(func(int) bool { return true })
	sp := a.r.Speedup
	cores := float64(sp.Cores)
	demand := ratio(float64(threadCPU(&s)), float64(a.wallNS))
	running := cond{measure: "runnable CPU demand per core", value: demand / cores, threshold: CPUSaturatedDemand, margin: CPUSaturatedMargin}
	waiting := ratio(float64(s.GILWaitNS), float64(a.wallNS))
	turns := cond{measure: "runnable demand per core, threads waiting for the GIL counted", value: (demand + waiting) / cores, threshold: CPUSaturatedDemand, margin: CPUSaturatedMargin}
	coresLimit := sp.Limit.Kind == LimitCores && s.GILWaitNS > 0 && !a.better(max(sp.AsProcesses, sp.WithoutGIL))
	if !running.holds() && coresLimit && (turns.holds() || turns.near()) {
		if !a.decide(CPUSaturated, turns) {
			return Verdict{}, false
		}
		// Estimates a little above what the run achieved are no gain
		// (better: AdviceMinGain); the text says so when they print higher
		// (QA: "neither ... is estimated faster (7.21x without a GIL, 7.21x
		// as processes, now 6.85x)").
		faster := "faster"
		if best := textfmt.X(max(sp.WithoutGIL, sp.AsProcesses)); best != textfmt.X(sp.Achieved) && max(sp.WithoutGIL, sp.AsProcesses) > sp.Achieved {
			faster = fmt.Sprintf("more than %.0f %% faster", (AdviceMinGain-1)*100)
		}
		return Verdict{
			Code: CPUSaturated,
			Text: fmt.Sprintf("On average %.1f threads were runnable on %s: %.1f running or in native code, %.1f waiting for the GIL. Without the GIL they would wait for a core instead: the cores are the limit, and neither a free-threaded Python nor processes is estimated %s (%s without a GIL, %s as processes, now %s; bounded by %s).",
				demand+waiting, textfmt.Plural(sp.Cores, "core"), demand, waiting, faster, textfmt.X(sp.WithoutGIL), textfmt.X(sp.AsProcesses), textfmt.X(sp.Achieved), sp.Limit.Text),
			Advice: "Neither removing the GIL nor processes would help here: more cores would, or less CPU work (a faster algorithm, a native library). " +
				cmp.Or(a.ioPoolAdvice(sp.Cores), fmt.Sprintf("Size CPU-bound pools to the cores (%d here): more threads or processes add switching, not speed.", sp.Cores)),
		}, true
	}
	if !a.decide(CPUSaturated, running) {
		return Verdict{}, false
	}
	pool := fmt.Sprintf("ProcessPoolExecutor(max_workers=os.cpu_count()), %d here", sp.Cores)
	if cpu := threadCPU(&s); cpu > 0 && 2*s.NativeNS >= cpu && len(a.t.Procs) == 1 {
		// One process: its threads share a GIL, and at least half their
		// CPU work leaves it. Of several processes (a pool), threads would
		// bring their Python parts back under one GIL (scales says keep
		// them).
		// Most of the CPU work is native code that releases the GIL, which
		// threads run in parallel: a process pool is not what the
		// numbers favour (QA: this advice beside "Threads are the right
		// tool for this work" for loaders 80 % in GIL-releasing calls).
		pool = fmt.Sprintf("%d here; ThreadPoolExecutor(max_workers=os.cpu_count()) will do: %s of this CPU work is native code that releases the GIL", sp.Cores, textfmt.Pct0(textfmt.Share(s.NativeNS, cpu)))
	} else if !slices.ContainsFunc(a.r.Procs, func(p ProcReport) bool { return p.HasGIL }) {
		// QA: a free-threaded run was told to use a process pool; its
		// threads already run Python in parallel.
		pool = fmt.Sprintf("%d here; ThreadPoolExecutor(max_workers=os.cpu_count()) will do: without a GIL, threads run Python in parallel", sp.Cores)
	}
	capped := fmt.Sprintf("the cores cap this work at an estimated %s (as processes on %s; achieved %s)",
		textfmt.X(sp.AsProcesses), textfmt.Plural(sp.Cores, "core"), textfmt.X(sp.Achieved))
	advice := fmt.Sprintf("Size CPU-bound pools to the cores (%s): %s, so extra CPU-bound threads or processes add switching, not speed.", pool, capped)
	if io := a.ioPoolAdvice(sp.Cores); io != "" {
		advice = "More cores would help, or less CPU work: " + capped + ". " + io
	}
	return Verdict{
		Code: CPUSaturated,
		Text: fmt.Sprintf("On average %.1f threads were running or in native code on %s (threads waiting for the GIL not counted): more CPU work at once than cores, so the threads queued for a core.",
			demand, textfmt.Plural(sp.Cores, "core")),
		Advice: advice,
	}, true
}

// outsideSaturated is cpu-saturated for a run whose processes kept the
// cores full (Machine.CoresFull) with CPU work outside the traced threads:
// children that run no traced Python, a native library's own threads. The
// trace sees its threads wait for that work and counts the waits as work
// that overlaps, so the threads' own demand looks low and the overlap
// high (QA: numpy.dot on OpenBLAS's 2 threads from 2 Python threads,
// "scales, 1.88x, threads are the right tool" where one thread ran as
// fast; 4 threads waiting for `sh -c` loops in children, "scales, 3.18x"
// where the 2 cores capped them at 1.75x).
func (a *analysis) outsideSaturated() (Verdict, bool) {
	m, sp := a.r.Machine, a.r.Speedup
	if m == nil || m.OutsideCPUNS <= 0 {
		return Verdict{}, false
	}
	if !a.decide(CPUSaturated, cond{measure: "CPU time obtained / what the cores could give, with CPU time outside the traced threads", value: m.CoresUsed, threshold: CoresFullShare, margin: CoresFullMargin, unit: unitShare}) {
		return Verdict{}, false
	}
	return Verdict{
		Code: CPUSaturated,
		Text: "The cores are busy: " + m.OutsideText(a.wallNS) +
			fmt.Sprintf(" More threads or processes cannot make that work faster on %s; the trace's overlap (%s) and its estimates (%s without a GIL, %s as processes, at most the CPU time obtained over the cores allows) count those waits as parallel work.",
				textfmt.Plural(sp.Cores, "core"), textfmt.X(sp.Achieved), textfmt.X(sp.WithoutGIL), textfmt.X(sp.AsProcesses)),
		Advice: fmt.Sprintf("More cores would help, or less CPU work. Size the work outside the threads to the cores together with them (%d here): a native library's own pool (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS) times the threads calling it, or the child processes running at once, should not exceed them; more threads, processes or a free-threaded Python add switching, not speed. Time the program with one thread to measure what its threads gain.", sp.Cores),
	}, true
}

func (a *analysis) scales() (Verdict, bool) {
	sp := a.r.Speedup
	if m := a.r.Machine; m != nil && m.CoresFull {
		// The cores were full with work the trace does not see: the
		// overlap over-counts, and cpu-saturated says so.
		return Verdict{}, false
	}
	if o := a.r.OwnIO; o != nil && o.High {
		// Its I/O waited for its own threads: the overlap counts those
		// waits as parallel work (QA: a message passed over os.pipe
		// between two threads, 0.86x measured against one thread, was
		// "scales, 1.84x"). The warning says so.
		return Verdict{}, false
	}
	for i := range a.r.Procs {
		if a.gilFilledSpread(i) {
			// Its serial work, which needs the GIL, fills its wall: more
			// threads cannot make it faster, whatever overlaps beside it
			// (QA: a pipeline whose GIL was held 88 % of the wall was
			// "scales, threads are the right tool").
			return Verdict{}, false
		}
	}
	n, s := a.threadSums(func(int) bool { return true })
	if !a.decide(Scales,
		cond{measure: "achieved speedup", value: sp.Achieved, threshold: ScalesMinSpeedup, margin: ScalesMargin, unit: unitX},
		cond{measure: "achieved / without-GIL estimate", value: ratio(sp.Achieved, sp.WithoutGIL), threshold: ScalesEfficiency, margin: ScalesMargin, unit: unitShare},
		cond{measure: "GIL wait share", value: textfmt.Share(s.GILWaitNS, s.WallNS), threshold: GILBoundWaitShare, margin: GILBoundWaitMargin, below: true, unit: unitShare}) {
		return Verdict{}, false
	}
	gilProcs, freeWork := 0, int64(0)
	for i, p := range a.r.Procs {
		if p.HasGIL && p.Threads > 0 {
			gilProcs++
		}
		if !p.HasGIL {
			for j := range a.r.Threads {
				if a.procOf[j] == i {
					freeWork += threadCPU(&a.r.Threads[j])
				}
			}
		}
	}
	var why, advice string
	w := a.r.Work
	// ioCaveat is what a real program's I/O overlap assumes, unless its
	// speedup was measured.
	ioCaveat := func() string {
		if !a.realProgram() || a.r.Speedup.Measured != 0 {
			return ""
		}
		// QA: 8 threads fetching from a server that answered one request
		// at a time overlapped "7.23x" and ran no faster than one thread:
		// each call's wait held the others'.
		return " The overlap takes each I/O call to last as long alone as it did here: if the other end serves one request at a time (a single-threaded server, one database connection, a rate limit), the calls waited on each other, and fewer threads would be as fast: time the program with one thread to tell."
	}
	switch {
	case textfmt.Share(freeWork, w.TotalNS) >= 0.5:
		why = "they run without a GIL (free-threaded), so their compute overlaps"
		advice = fmt.Sprintf("Keep this design; with %s, more than %s will not help.", textfmt.Plural(sp.Cores, "core"), textfmt.Plural(sp.Cores, "CPU-bound worker"))
	case gilProcs > 1:
		// A program of processes: threads would put its compute back
		// under one GIL, whatever its share of I/O.
		why = fmt.Sprintf("their compute runs in %d processes, each with its own GIL", gilProcs)
		advice = fmt.Sprintf("Keep this design; with %s, more than %s will not help.", textfmt.Plural(sp.Cores, "core"), textfmt.Plural(sp.Cores, "CPU-bound process"))
		if w.SerialShare < 0.5 {
			why += fmt.Sprintf(", and %s of their work is I/O or native code that releases the GIL", textfmt.Pct0(w.ParallelShare))
			// Mostly I/O or releasing native code, which overlaps within
			// each process as across them: the cores do not bound it as
			// they bound CPU-bound processes (QA: web_scraping.py's site
			// in a child process made its scrapers' advice "more than 2
			// CPU-bound processes will not help").
			advice = "Keep this design: most of the work is I/O or native code that releases the GIL, which overlaps within each process's threads as across the processes."
			if s.IONS >= s.NativeNS {
				advice += ioCaveat()
			}
		}
	default:
		why = fmt.Sprintf("%s of their work is I/O or native code that releases the GIL, and that overlaps", textfmt.Pct0(w.ParallelShare))
		switch {
		case s.NativeNS <= s.IONS:
			advice = "Threads are the right tool for this work; for thousands of concurrent I/O operations asyncio scales further with less memory." + ioCaveat()
		case a.poolIOShare() >= PoolIOShare:
			// Mostly GIL-releasing native code, not I/O: asyncio does not
			// apply (QA: four native calls with no I/O were told it did).
			// More threads than cores fill the cores while others wait
			// for I/O (PoolIOShare).
			advice = fmt.Sprintf("Threads are the right tool for this work: its native calls release the GIL and run in parallel, as many at once as the %s allow, and its I/O overlaps them.", textfmt.Plural(sp.Cores, "core"))
		default:
			advice = fmt.Sprintf("Threads are the right tool for this work: its native calls release the GIL and run in parallel; as CPU work, they will not go faster with more threads than the %s.", textfmt.Plural(sp.Cores, "core"))
		}
		if a.better(sp.AsProcesses) {
			advice += fmt.Sprintf(" Their Python parts still take turns on the GIL: moved to processes (ProcessPoolExecutor), an estimated %s on %s (now %s).", textfmt.X(sp.AsProcesses), textfmt.Plural(sp.Cores, "core"), textfmt.X(sp.Achieved))
		}
	}
	figures := fmt.Sprintf("GIL ceiling %s, estimated %s without a GIL on %s", textfmt.X(sp.GILCeiling), textfmt.X(sp.WithoutGIL), textfmt.Plural(sp.Cores, "core"))
	if a.t.Meta.GILMode == tracer.GILNone { // no GIL to have a ceiling (QA)
		figures = fmt.Sprintf("estimated %s on %s, without a GIL as run", textfmt.X(sp.WithoutGIL), textfmt.Plural(sp.Cores, "core"))
	}
	return Verdict{
		Code: Scales,
		Text: fmt.Sprintf("The %d threads overlapped %s: the same work on one thread, back to back, over the run's wall (%s): %s; GIL wait was %s of their time.",
			n, textfmt.X(sp.Achieved), figures, why, textfmt.Pct0(textfmt.Share(s.GILWaitNS, s.WallNS))) + a.measuredNote(),
		Advice: advice,
	}, true
}

// VerdictCodes is the verdicts' codes joined with commas, "-" if none.
func (r *Report) VerdictCodes() string {
	if len(r.Verdicts) == 0 {
		return "-"
	}
	codes := make([]string, len(r.Verdicts))
	for i, v := range r.Verdicts {
		codes[i] = v.Code
	}
	return strings.Join(codes, ",")
}

// convoyAdvice moves the holders' compute to processes, with the
// estimate when it is faster, else its effect on the I/O thread io's
// latency (it waited waitNS in all for the GIL after its I/O, a median
// medianNS each: QA, the advice named an option with no expected effect),
// and names the switch-interval trade-off.
func (a *analysis) convoyAdvice(holder string, holders int, io string, waitNS, medianNS int64) string {
	sp := a.r.Speedup
	where := fmt.Sprintf("%s's compute in a process", holder)
	if holders > 1 {
		where = fmt.Sprintf("the compute of %s in processes", holder)
	}
	s := fmt.Sprintf("Keep CPU-bound work away from the I/O threads' GIL: run %s (ProcessPoolExecutor) and keep the I/O in threads or asyncio", where)
	if a.better(sp.AsProcesses) {
		s += fmt.Sprintf(" (as processes: an estimated %s on %s, now %s)", textfmt.X(sp.AsProcesses), textfmt.Plural(sp.Cores, "core"), textfmt.X(sp.Achieved))
	} else {
		// QA: "no faster in all", said as a fact, of a program whose
		// wall was the I/O thread's: it is the estimate's figure.
		s += fmt.Sprintf(" (as processes an estimated %s against %s now, little gain in all, but %s would no longer wait behind %s's compute after its I/O: a median %s each, %s in all)", textfmt.X(sp.AsProcesses), textfmt.X(sp.Achieved), io, holder, textfmt.Dur(medianNS), textfmt.Dur(waitNS))
	}
	return s + a.switchIntervalAdvice()
}

// ConvoyShorterInterval: the convoy advice offers a switch interval this
// many times shorter than the one in use (a fifth: CPython's default 5 ms
// becomes 1 ms), the waiter's median re-acquire shrinking with it, but
// not below ConvoyMinAdvisedInterval.
const ConvoyShorterInterval = 5

// ConvoyMinAdvisedInterval: at or below 1 ms the advice no longer offers a
// shorter interval: every interval the holder is forced to hand the GIL
// over, and below a millisecond those handoffs cost the CPU-bound threads
// throughput for little gain in the I/O threads' latency.
const ConvoyMinAdvisedInterval = time.Millisecond

// switchIntervalAdvice is the convoy advice's last clause: a shorter
// switch interval than the one in use, with its value, or, when the
// interval in use is already at or below ConvoyMinAdvisedInterval, that
// shortening it further costs throughput, and the other options.
func (a *analysis) switchIntervalAdvice() string {
	si := a.t.Meta.SwitchInterval
	if a.t.Meta.GILMode == tracer.GILLegacy {
		// Python 2's GIL has no switch interval (QA: a legacy run was told
		// to call sys.setswitchinterval).
		every := "every check interval (sys.setcheckinterval; check_interval in a workload)"
		if ci := a.t.Meta.CheckInterval; ci > 0 {
			every = fmt.Sprintf("every %d instructions (sys.setcheckinterval(%d); check_interval in a workload)", ci, ci)
		}
		if a.t.Meta.Cores <= 1 {
			// On one core the waiter runs only when the holder is
			// switched out (review: "straight back" is the multicore
			// case).
			return "; the legacy (Python 2) GIL has no switch interval: its holder lets it go " + every +
				", and a waiter gets it only when the operating system runs it at such a moment: a lower check interval gives it more of them, at the cost of more releases; Python 3's GIL hands it to a waiter within a switch interval, which bounds their wait."
		}
		return "; the legacy (Python 2) GIL has no switch interval: its holder lets it go " + every +
			" and, with more than one core, mostly takes it straight back, so a lower check interval helps the I/O threads little; Python 3's GIL hands it to a waiter within a switch interval, which bounds their wait."
	}
	if a.t.Meta.GILMode != "cpython" || si <= 0 {
		return "; or shorten the switch interval (sys.setswitchinterval) to cut the I/O threads' latency, at the cost of more handoffs (latency, not throughput)."
	}
	if si <= ConvoyMinAdvisedInterval {
		return fmt.Sprintf("; the switch interval is already %s (sys.setswitchinterval(%s)): shortening it further costs the CPU-bound threads throughput in handoffs for little latency, "+
			"so instead release the GIL in the holder's compute (a native library that releases it, such as numpy), or have it yield between chunks (time.sleep(0)), or move the I/O to asyncio in a process of its own.",
			si, seconds(si))
	}
	shorter := max(si/ConvoyShorterInterval, ConvoyMinAdvisedInterval)
	return fmt.Sprintf("; or shorten the switch interval from %s to %s (sys.setswitchinterval(%s)) to cut the I/O threads' latency, at the cost of more handoffs (latency, not throughput).",
		si, shorter, seconds(shorter))
}

// seconds is d in seconds as Python's sys.setswitchinterval takes it:
// 0.001 for 1 ms.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// nativeOrigin is whose code the native calls that kept the GIL mostly
// were (nativeOriginOf): "" the program's or unknown, "stdlib" the
// standard library's, else a third-party package's, by its name.
type nativeOrigin string

// nativeOriginOf is the origin of half or more of blamed, by the frames
// that held the GIL (byFunc): the standard library's files (stdlibFile), or
// one third-party package's own (packageOf).
func nativeOriginOf(byFunc map[tracer.Frame]int64, blamed int64) nativeOrigin {
	if stdlibShare(byFunc, blamed) >= 0.5 {
		return "stdlib"
	}
	byPkg := map[string]int64{}
	for f, ns := range byFunc {
		if pkg := packageOf(f.File); pkg != "" {
			byPkg[pkg] += ns
		}
	}
	for pkg, ns := range byPkg {
		if textfmt.Share(ns, blamed) >= 0.5 {
			return nativeOrigin(pkg)
		}
	}
	return ""
}

// packageOf is the third-party package whose own code a Python source
// file is (numpy for .../site-packages/numpy/core/fromnumeric.py, Debian's
// dist-packages too), or "" (a module, not a package: its file's name).
func packageOf(path string) string {
	rest := sitePath(path)
	if j := strings.IndexByte(rest, '/'); j > 0 {
		return rest[:j]
	}
	return strings.TrimSuffix(rest, ".py")
}

// sitePath is a third-party file's path from its site-packages (or
// Debian's dist-packages) directory, or "".
func sitePath(path string) string {
	for _, dir := range []string{"/site-packages/", "/dist-packages/"} {
		if i := strings.LastIndex(path, dir); i >= 0 {
			return path[i+len(dir):]
		}
	}
	return ""
}

// libraryPath is a library file's path from its library's root
// (numpy/core/fromnumeric.py, json/encoder.py), or "" for a file of the
// program's own.
func libraryPath(path string) string {
	if rest := sitePath(path); rest != "" {
		return rest
	}
	if i := strings.Index(path, "/lib/python3."); i >= 0 {
		if j := strings.IndexByte(path[i+len("/lib/"):], '/'); j >= 0 {
			return path[i+len("/lib/")+j+1:]
		}
	}
	return ""
}

// nativeAdvice: releasing the GIL in the C code, or a process, with the
// estimate of the latter when it is faster. For the standard library's
// calls (json, re), whose C code builds Python objects and cannot release
// the GIL: a process, or less of the work. For a third-party package's
// own code (numpy's sort of an object array), which the program cannot
// edit either: the form of the data for which it releases the GIL, less
// of that work, or a process.
func (a *analysis) nativeAdvice(origin nativeOrigin) string {
	sp := a.r.Speedup
	s := "Release the GIL around the C work (Py_BEGIN_ALLOW_THREADS ... Py_END_ALLOW_THREADS, Cython's `with nogil:`), use a library build that releases it, or run the call in a separate process"
	switch origin {
	case "":
		// The program's own line called the C code: its own extension's,
		// or a builtin's or the standard library's called directly (a
		// compiled pattern's findall, pickle.dumps, sorted), whose frame
		// is the caller's (QA: those were told to release the GIL).
		s = "If the C code is your own extension's, release the GIL around its work (Py_BEGIN_ALLOW_THREADS ... Py_END_ALLOW_THREADS, Cython's `with nogil:`) or use a library build that releases it; " +
			"Python's builtins and its own modules' C code (sorted, pickle, a compiled pattern's findall) hold the GIL while they build Python objects and cannot release it: run that work in a separate process, or make it smaller"
	case "stdlib":
		// QA: "release the GIL ..." of json.dumps and re.findall.
		s = "These are the standard library's own C code (json, re and the like), which holds the GIL while it builds Python objects and cannot release it: " +
			"run that work in a separate process (multiprocessing, ProcessPoolExecutor), or make it smaller (smaller documents, fewer or simpler matches, a faster library, which holds the GIL for less time)"
	default:
		// QA: np.sort of an object array was told to use
		// Py_BEGIN_ALLOW_THREADS.
		data := "data or options for which it releases the GIL, if it has them"
		if origin == "numpy" {
			data = "data it works on without the GIL (a numeric dtype, not dtype=object, whose items are Python objects; larger arrays)"
		}
		s = fmt.Sprintf("These calls are %s's own code, which keeps the GIL for this work, and which the program cannot change: "+
			"give it %s, do less of that work, or run it in a separate process (multiprocessing, ProcessPoolExecutor)", origin, data)
	}
	if a.better(sp.AsProcesses) {
		s += fmt.Sprintf(": a process lets the others run, an estimated %s on %s (as processes; now %s)", textfmt.X(sp.AsProcesses), textfmt.Plural(sp.Cores, "core"), textfmt.X(sp.Achieved))

	}
	return s + "."
}

// stdlibShare is the share of blamed held in frames of the standard
// library (stdlibFile).
func stdlibShare(byFunc map[tracer.Frame]int64, blamed int64) float64 {
	var in int64
	for f, ns := range byFunc {
		if stdlibFile(f.File) {
			in += ns
		}
	}
	return textfmt.Share(in, blamed)
}

// stdlibFile reports whether a Python source file is the standard
// library's: under an interpreter's lib/pythonX.Y, not in its
// site-packages (pyenv's /root/.pyenv/versions/3.12.1/lib/python3.12/,
// Debian's /usr/lib/python3.11/; dist-packages is Debian's). The modules
// that call a function they were handed (a thread's target, an
// executor's task, a loop's callback, a pool's) are not: the C code
// they call may be any library's (review: executor.map(orjson.loads, ...)
// was told the standard library cannot release the GIL).
func stdlibFile(path string) bool {
	if !inStdlib(path) {
		return false
	}
	for _, through := range []string{"/threading.py", "/concurrent/futures/thread.py", "/concurrent/futures/process.py", "/asyncio/events.py", "/multiprocessing/pool.py", "/functools.py"} {
		if strings.HasSuffix(path, through) {
			return false
		}
	}
	return true
}

// inStdlib reports whether a source file is under an interpreter's
// lib/python3.X, not in its site-packages or dist-packages.
func inStdlib(path string) bool {
	i := strings.Index(path, "/lib/python3.")
	return i >= 0 && !strings.Contains(path[i:], "-packages/")
}

// lockAdvice: the lock's critical sections, not the GIL, serialise the
// work; the estimates without a GIL and as processes keep them (the data
// a lock guards stays shared), so the advice says how little they give,
// what bounds them (the lock, another lock, the cores, a thread: the
// Speedup section's limit, named with its figures), and what giving each
// thread its own data would give.
func (a *analysis) lockAdvice(l LockReport) string {
	sp := a.r.Speedup
	s := "Shorten the critical section (compute outside the lock, publish the result under it), split the lock (one per key or shard), or give each thread its own data and merge at the end"
	if sp.WithoutLocks > AdviceMinGain*max(sp.WithoutGIL, sp.Achieved) {
		s += fmt.Sprintf(": with no lock serialising the threads, and no GIL or as processes, an estimated %s", textfmt.X(sp.WithoutLocks))
	}
	s += "."
	if a.better(sp.WithoutGIL) {
		return s + fmt.Sprintf(" With the lock as it is, the estimate without a GIL or as processes is %s (now %s), bounded by %s.", textfmt.X(sp.WithoutGIL), textfmt.X(sp.Achieved), sp.Limit.Text)
	}
	why := fmt.Sprintf("while %s (held %s, %s of it work under it, not GIL waits) serialises the work", l.Name, textfmt.Dur(l.HoldNS), textfmt.Dur(l.WorkNS))
	if sp.Limit.Kind != LimitLock || sp.Limit.Name != l.Name {
		why = "bounded as they are by " + sp.Limit.Text
	}
	s += fmt.Sprintf(" A free-threaded Python or processes are estimated at %s (now %s): they will not help %s.", textfmt.X(sp.WithoutGIL), textfmt.X(sp.Achieved), why)
	if sp.WithoutLocks > AdviceMinGain*max(sp.WithoutGIL, sp.Achieved) {
		// QA: compare's processes mode gives each process its own
		// locks, and measured 3.10x where this said processes would
		// not help: the two estimates are of two programs.
		s += fmt.Sprintf(" That is for processes sharing the lock (a multiprocessing.Lock); processes each with their own data, as giltrace compare runs a workload's, are the %s above.", textfmt.X(sp.WithoutLocks))
	}
	return s
}

// splitBound is what splitting a single thread's work could give at most:
// its compute spread over the cores and its I/O overlapped with it, the
// wall is still at least CPU / cores. "" when it would not beat 1.0, or
// when the tracing cost distorts the thread's times.
func (a *analysis) splitBound(s *ThreadSummary) string {
	c := a.r.Speedup.Cores
	cpu := threadCPU(s)
	if cpu <= 0 || a.r.TracingCost != nil && a.r.TracingCost.High {
		return "" // the probes' time, counted as I/O, would inflate it
	}
	obtained := ""
	if m := a.r.Machine; m != nil && m.OutsideCPUNS > 0 && m.CPUNS > cpu {
		// The process's CPU time, the work outside its thread included
		// (a BLAS pool, children): the cores must run all of it.
		cpu = m.CPUNS
		obtained = fmt.Sprintf(", %s of it outside the thread", textfmt.Dur(m.OutsideCPUNS))
	}
	work := threadWork(s)
	if textfmt.Share(cpu, work) < SplitMinCPUShare {
		// Its work is nearly all waiting (an idle server): the bound, its
		// waits over a CPU time of microseconds, would be thousands
		// (QA: "at most 19708.71x as fast" for an idle attached process).
		return fmt.Sprintf(" Its work was nearly all waiting (%s of it compute): splitting it helps only as far as those waits are independent of each other (requests that could be in flight together), and not at all if they are a pace or an idle wait for work.", textfmt.Pct0(textfmt.Share(cpu, work)))
	}
	// Nor shorter than its longest blocking call, which no split shortens
	// (QA: a time.sleep(1) was told "at most 25.70x as fast" on 2 cores).
	bound := ratio(float64(work), max(float64(cpu)/float64(c), float64(a.longestIO())))
	if bound <= AdviceMinGain {
		if obtained != "" {
			return fmt.Sprintf(" Its process's CPU time (%s%s) already kept the %s busy: splitting it would not make it faster on them.", textfmt.Dur(cpu), obtained, textfmt.Plural(c, "core"))
		}
		return ""
	}
	return fmt.Sprintf(" Split over %s, the same work could run at most %s as fast (its CPU time%s spread over the cores; the I/O overlapped).", textfmt.Plural(c, "core"), textfmt.X(bound), obtained)
}

// longestIO is the longest I/O span of the run's threads: one blocking
// call, or the stretch of one (splitBound: of its one thread).
func (a *analysis) longestIO() int64 {
	var longest int64
	for _, sp := range a.s.States {
		if sp.State == tracer.StateIO {
			longest = max(longest, sp.End-sp.Start)
		}
	}
	return longest
}

// attached reports whether the trace is of an attach to a running
// process (giltrace attach): its start-up was not seen.
func (a *analysis) attached() bool {
	return a.realProgram() && a.t.Meta.Extra["pid"] != "" && a.t.Meta.Extra["command"] == ""
}

// SplitMinCPUShare: a single thread whose compute was less than this share
// of its work is told no bound on splitting it: the bound, its work over
// its CPU time spread over the cores, would mostly count its waits.
const SplitMinCPUShare = 0.05

// NumpyShare is the share of all GIL wait, waited or held in numpy's own
// Python code (its files under site-packages or dist-packages), above
// which the program is taken to call numpy already: gil-bound's advice is
// then to batch its calls, not to vectorise into numpy.
const NumpyShare = 0.1

// callsNumpy reports whether numpy's own frames waited for the GIL, or
// held it while others waited, for NumpyShare of all GIL wait or more
// (the top functions by GIL wait and by GIL hold): QA's 3000 operations
// on 8-element arrays a unit waited 96 % of it in numpy's _sum.
func (a *analysis) callsNumpy() bool {
	var wait, hold float64
	for _, f := range a.r.TopWait {
		if packageOf(f.File) == "numpy" {
			wait += f.Share
		}
	}
	for _, f := range a.r.TopHold {
		if packageOf(f.File) == "numpy" {
			hold += f.Share
		}
	}
	return wait >= NumpyShare || hold >= NumpyShare
}
