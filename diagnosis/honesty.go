package diagnosis

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// Keys of tracer.Meta.Extra that the diagnosis reads.
const (
	// ExtraCPU is the CPU time (user + system, getrusage) the recording
	// process obtained during the run, in nanoseconds: the VM records it.
	ExtraCPU = "cpu_ns"
	// ExtraInferredNative counts the native calls keeping the GIL that a
	// real program's recorder inferred rather than observed
	// (source/cpython: a holder that let the GIL go more than a switch
	// interval after a drop request).
	ExtraInferredNative = "inferred_native_holding"
	// ExtraWantedCPU is the CPU time the threads asked for, in nanoseconds
	// (their running and native time); when absent, the diagnosis takes it
	// from the trace (Work.CPUNS). A virtual run records it, and
	// ExtraWantedIO: the VM's own count of its threads' work, which the
	// trace records with their waits for a simulated core in it.
	ExtraWantedCPU = "wanted_cpu_ns"
	// ExtraWantedIO is the I/O time the threads asked for, in nanoseconds
	// (a virtual run's: its I/O and sleep durations, jitter included).
	ExtraWantedIO = "wanted_io_ns"
	// ExtraSerialWall is the wall time of the same work done by one
	// thread, in nanoseconds, when it was measured (compare's one-thread
	// run of the same variant).
	ExtraSerialWall = "serial_wall_ns"
	// ExtraSysCPU is the system part of ExtraCPU for a real program (its
	// kernel time: its system calls' work and the probes' traps).
	ExtraSysCPU = "sys_cpu_ns"
	// ExtraProbeHits is how many times a real program's probes were hit
	// (source/cpython, from tracefs's uprobe_profile), those whose hit
	// its filters dropped included: each a trap.
	ExtraProbeHits = "probe_hits"
	// ExtraRecorderCPU is giltrace's own CPU time while it recorded a
	// real program on the program's own CPUs (record without --cpus),
	// in nanoseconds: time those CPUs did not give the program.
	ExtraRecorderCPU = "recorder_cpu_ns"
)

// BusyCPUShare: a run whose process obtained less than 80 % of the CPU
// time its threads wanted was short of cores: the rest of the machine took
// them. The VM's own overhead (the recorder, the Go runtime) makes an idle
// machine's share 1.0 or a little more, so 0.8 is well clear of noise.
const BusyCPUShare = 0.8

// ProbeCostNS is what tracing a real CPython program costs it per
// recorded event: the probes' traps, about 2 µs (docs/cpython.md,
// "Overhead": 0.9-2.1 µs per event measured, a plain uprobe 1.45 µs and a
// return probe 2.0 µs on an idle machine, several times that on a busy
// one). An estimate, not a measurement of the run.
const ProbeCostNS = 2000

// TracingCostShare: a real program whose probes cost it, at ProbeCostNS
// an event, more than this share of its wall is flagged: its short
// blocking calls (I/O, native) and the GIL operations around them look
// longer than they are, and the untraced program runs faster.
const TracingCostShare = 0.10

// TracingCost is what the probes cost a real program, estimated from its
// recorded events (and the probe hits the kernel lost).
type TracingCost struct {
	// Events are the events a probe hit records: not the calls (read
	// from the stacks) nor the drop requests (inferred).
	Events int `json:"events"`
	// ProbeHits: every hit of the probes, when recorded (ExtraProbeHits),
	// which counts the hits no event came of: an uncontended
	// Lock.acquire traps into its probe, whose filter then drops it (QA:
	// 500 000 acquires and releases of an uncontended lock, 6-10x slower
	// traced, were 2652 events and 0.8 % estimated).
	ProbeHits   int64   `json:"probe_hits,omitempty"`
	PerEventNS  int64   `json:"per_event_ns"` // ProbeCostNS
	EstimatedNS int64   `json:"estimated_ns"` // max(events + lost, probe hits) × per event
	Share       float64 `json:"share"`        // of the processes' traced lives summed (each pays its own), at least the wall
	High        bool    `json:"high"`         // Share > TracingCostShare, or SystemShare with a floor near it
	// SystemCPUNS is the program's system CPU time, when recorded and
	// above EstimatedNS: the probes' traps, which cost several times
	// ProbeCostNS on a busy machine, and the kernel's own work in the
	// program's system calls. EstimatedNS is a floor of the probes' cost;
	// this is nearer it on a busy machine, though neither a floor nor a
	// bound (the traps also slow the program's own code, in user time).
	// QA: 100 000 os.stat calls on a loaded machine, 18-27 % of the wall
	// estimated, about 86-90 % measured against the untraced program, 64 %
	// system time.
	SystemCPUNS int64   `json:"system_cpu_ns,omitempty"`
	SystemShare float64 `json:"system_share,omitempty"` // of the processes' traced lives summed, as Share
	// LockHolds: the program was recorded with --lock-holds, whose probes
	// filter no lock acquire: the hits that made no event are not
	// uncontended acquires dropped by a filter (they make events then)
	// but each acquire's entry (its return records the hold), the
	// acquires and releases of locks only one thread used (left out of
	// the trace), freed locks and the like.
	LockHolds bool `json:"lock_holds,omitempty"`
	// ThreadStarts counts the threads started during the trace (not
	// those that existed before an attach), ThreadStartNS them at
	// ThreadStartCostNS each: what the probes add to starting threads,
	// which the events do not count (QA: 1000 threads started and joined
	// one at a time, 0.12-0.19 s untraced, 0.41-0.52 s traced). Counted in
	// Share when there are at least ThreadStartsCounted.
	ThreadStarts  int   `json:"thread_starts,omitempty"`
	ThreadStartNS int64 `json:"thread_start_ns,omitempty"`
}

// ThreadStartCostNS is what tracing adds to starting a thread of a real
// program (and ending it): the perf events that read the probes follow
// each new task (allocated at its clone, torn down at its exit) and its
// first probe hits set up the kernel's state for it. Measured on this
// project's 2-core VM, 1000 threads started and joined one at a time on
// CPython 3.11 and 3.12: 0.27-0.37 ms each (docs/cpython.md, "Overhead");
// the lower end, as the estimate is a floor.
const ThreadStartCostNS = 250_000

// ThreadStartsCounted: fewer threads started than this add nothing to the
// estimate (a few workers' starts are lost in its noise).
const ThreadStartsCounted = 20

// tracingCost fills r.TracingCost for a real CPython program.
func (a *analysis) tracingCost() {
	if a.t.Meta.Extra["source"] != "cpython" || a.wallNS <= 0 {
		return
	}
	n := 0
	// Each process pays for its own probes over its own life, from its
	// first event to its last: 24 short children paid theirs in their
	// few milliseconds each, not over the run's wall each (QA: 0.1 % of
	// "wall x 25 processes" for children 2-3x slower traced).
	first := make([]int64, len(a.t.Procs))
	last := make([]int64, len(a.t.Procs))
	for i := range first {
		first[i] = -1
	}
	// A process's first thread is its start, not a thread's: not counted
	// (nor is one that existed before an attach; review: one subtracted
	// per process undercounted an attach, whose first threads existed).
	firstOf := make([]tracer.ThreadID, len(a.t.Procs))
	for i := range firstOf {
		firstOf[i] = tracer.NoThread
	}
	for id := range a.t.Threads {
		if p := a.t.Threads[id].Proc; int(p) < len(firstOf) && firstOf[p] == tracer.NoThread {
			firstOf[p] = tracer.ThreadID(id)
		}
	}
	starts := 0
	for i := range a.t.Events {
		ev := &a.t.Events[i]
		if ev.Kind == tracer.KindThreadStart && ev.Arg != tracer.ThreadExisted {
			if p := a.procOfThread(ev.Thread); p < 0 || p >= len(firstOf) || firstOf[p] != ev.Thread {
				starts++
			}
		}
		if p := a.procOfThread(ev.Thread); p >= 0 && p < len(first) {
			if first[p] < 0 || ev.Time < first[p] {
				first[p] = ev.Time
			}
			last[p] = max(last[p], ev.Time)
		}
		switch ev.Kind {
		case tracer.KindCallEnter, tracer.KindCallExit, tracer.KindDropRequest:
		default:
			n++
		}
	}
	var lives int64
	for p := range first {
		if first[p] >= 0 {
			lives += last[p] - first[p]
		}
	}
	traps := int64(n) + int64(min(a.r.LostEvents, 1<<40))
	hits, _ := a.extraInt(ExtraProbeHits)
	hits = min(hits, 1<<40)
	est := max(traps, hits) * ProbeCostNS
	// The processes' traced lives, summed; the run's wall when they are
	// shorter (one process, or events only at the edges).
	wall := max(lives, a.wallNS)
	var startNS int64
	if starts >= ThreadStartsCounted {
		startNS = int64(starts) * ThreadStartCostNS
	}
	share := min(textfmt.Share(est+startNS, wall), 1)
	c := &TracingCost{Events: n, ProbeHits: hits, PerEventNS: ProbeCostNS, EstimatedNS: est, Share: round3(share), High: share > TracingCostShare,
		LockHolds: a.t.Meta.Extra["lock_holds"] == "observed", ThreadStarts: starts, ThreadStartNS: startNS}
	if sys, ok := a.extraInt(ExtraSysCPU); ok && sys > est {
		// Only above the floor: below it, the floor says more.
		c.SystemCPUNS = sys
		c.SystemShare = round3(min(textfmt.Share(sys, wall), 1))
		// Flagged also when the system time passes TracingCostShare and
		// the floor is a quarter of that at least: the probes may cost
		// that much (a trap costs several times ProbeCostNS on a busy
		// machine); with a smaller floor the system time is more likely
		// the program's own system calls.
		c.High = c.High || c.SystemShare > TracingCostShare && share >= TracingCostShare/4
	}
	a.r.TracingCost = c
}

// Machine is how much of the CPU time the run wanted it obtained, when the
// trace records it.
type Machine struct {
	CPUNS       int64 `json:"cpu_ns"`        // obtained (the process's CPU time during the run)
	WantedCPUNS int64 `json:"wanted_cpu_ns"` // wanted (the threads' running and native time)
	CapacityNS  int64 `json:"capacity_ns"`   // what the cores could give: cores × wall
	Cores       int   `json:"cores"`         // the cores of CapacityNS
	// Share is obtained / min(wanted, capacity): more threads than cores
	// is the run's own doing (cpu-saturated), not a busy machine.
	Share float64 `json:"obtained_share"`
	Busy  bool    `json:"busy"` // Share < BusyCPUShare: wall times, overlap and verdicts are distorted
	// MainProcessOnly: a real program of several processes, whose CPU
	// time recorded covers only the children it waited for: the CPU time
	// wanted is its main process's threads' alone.
	MainProcessOnly bool `json:"main_process_only,omitempty"`
	// CoresUsed is the CPU time obtained over what the cores could give
	// (CPUNS / CapacityNS): how busy the run kept the cores.
	CoresUsed float64 `json:"cores_used"`
	// OutsideCPUNS: a real program whose processes obtained well more CPU
	// time than its traced threads ran or spent in native calls
	// (OutsideCPUExcess, OutsideCPUMinNS): the difference ran outside the
	// traced threads, in children it waited for that run no Python (a
	// shell, a compiler) or in a native library's own threads (OpenBLAS
	// under numpy.dot). The trace sees the threads wait for that work (as
	// I/O, or in the native call) and counts the waits as work that
	// overlaps, where it took cores: the overlap over-counts. 0 otherwise.
	OutsideCPUNS int64 `json:"outside_cpu_ns,omitempty"`
	// CoresFull: with CPU time outside the traced threads, the run kept
	// the cores CoresFullShare busy or more: more threads or processes
	// cannot make it faster on them (cpu-saturated).
	CoresFull bool `json:"cores_full,omitempty"`
	// RecorderCPUNS is giltrace's own CPU time on the program's CPUs
	// (ExtraRecorderCPU), when recorded: on a machine of few cores, the
	// recorder may be what made it busy (QA: a pool recorded under
	// taskset -c 1 giltrace obtained 73 % of the one core).
	RecorderCPUNS int64 `json:"recorder_cpu_ns,omitempty"`
	// CPUs: the CPUs the program was given with record --cpus, if it was.
	CPUs string `json:"cpus,omitempty"`
}

// RecorderText is what the busy-machine warning says of giltrace's own
// CPU time on the program's CPUs: "" when it is not known or is less than
// a third of the time the run did not obtain; else how much it took and
// how to keep it off them.
func (m *Machine) RecorderText() string {
	if m == nil || m.RecorderCPUNS <= 0 {
		return ""
	}
	short := min(m.WantedCPUNS, m.CapacityNS) - m.CPUNS
	if short <= 0 || 3*m.RecorderCPUNS < short {
		return ""
	}
	took := fmt.Sprintf("giltrace's own tracing took %s of CPU time on the same CPUs (the %s the run did not obtain)", textfmt.Dur(m.RecorderCPUNS), textfmt.Dur(short))
	if m.CPUs != "" {
		// Already given (QA: told to use --cpus by a run that had, and
		// that left giltrace no CPU of its own).
		return took + fmt.Sprintf(": the program had CPUs %s (--cpus), and giltrace runs on the others, or on the same ones when none is left; giving the program fewer leaves giltrace room, and the program fewer cores", m.CPUs)
	}
	return took + ": giltrace record --cpus LIST gives the program those CPUs and keeps giltrace on the others (the program then has fewer cores; under taskset the two share them)"
}

// OutsideCPUExcess: a real program whose processes obtained more than
// (1 + OutsideCPUExcess) times the CPU time its traced threads wanted
// (their running and native time) ran CPU work outside them. The
// recorder's own share is nil (it is another process) and a native call's
// time counts in full as wanted, so an excess is work the trace did not
// see: QA, numpy.dot with OpenBLAS's 2 threads on one Python thread
// obtained 1.76 times its thread's time; 4 threads running `sh -c` loops
// in children they waited for, 7.9 times.
const OutsideCPUExcess = 0.25

// CPUTickNS is the resolution of a real program's CPU time (cpu_ns): the
// kernel's clock tick, 10 ms (/proc/PID/stat for an attach; the
// children's rusage).
const CPUTickNS = int64(10 * time.Millisecond)

// OutsideCPUMinNS: and the excess is at least 5 ticks of that CPU time.
const OutsideCPUMinNS = 5 * CPUTickNS

// BusyMinWantedNS: a real program whose threads wanted less CPU time than
// this, a few ticks, is never flagged busy: its CPU time is counted in
// ticks, so 0 of "203us" is the measure's resolution, not the machine
// (QA: an idle attached server, "obtained 0 % (0ns of 203us)").
const BusyMinWantedNS = 5 * CPUTickNS

// CoresFullShare: with CPU time outside the traced threads, a run whose
// processes obtained at least this share of what the cores could give
// kept them full (cpu-saturated), the rest of a core being the OS's,
// the recorder's and the edges of the run.
const CoresFullShare = 0.75

// extraInt reads a non-negative integer from the trace's Extra metadata.
func (a *analysis) extraInt(key string) (int64, bool) {
	v, ok := a.t.Meta.Extra[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// machine fills r.Machine from the CPU time recorded with the run.
func (a *analysis) machine() {
	cpu, ok := a.extraInt(ExtraCPU)
	if !ok {
		return
	}
	wanted, ok := a.extraInt(ExtraWantedCPU)
	mainOnly := false
	if !ok {
		wanted = a.r.Work.CPUNS
		if main := a.mainProcessCPU(); a.childrenUnaccounted(cpu, main) {
			// A real program's cpu_ns is its own CPU time and that of the
			// children it waited for; a child it never waited for is not
			// in it (QA: a forked child spinning 0.8 s that its parent
			// never waited for made an idle machine "busy": 11 %). When
			// the CPU time obtained is not past the main process's own
			// (its children's is not in it), the CPU time wanted is the
			// main process's, the first; when it is past it, the children
			// were waited for and count on both sides (QA: a 10-process
			// pool on a busy machine obtained "154 %" of its main
			// process's and was never flagged).
			wanted, mainOnly = main, true
		}
	}
	nc := cores(&a.t.Meta)
	capacity := int64(nc) * a.wallNS
	if wanted <= 0 || capacity <= 0 {
		return
	}
	share := textfmt.Share(cpu, min(wanted, capacity))
	busy := share < BusyCPUShare
	if a.realProgram() && min(wanted, capacity) < BusyMinWantedNS {
		busy = false // below the CPU time's resolution
	}
	m := &Machine{CPUNS: cpu, WantedCPUNS: wanted, CapacityNS: capacity, Share: round3(share), Cores: nc, Busy: busy, MainProcessOnly: mainOnly,
		CoresUsed: round3(textfmt.Share(cpu, capacity))}
	if own, ok := a.extraInt(ExtraRecorderCPU); ok && a.realProgram() {
		m.RecorderCPUNS = own
		m.CPUs = a.t.Meta.Extra["cpus"]
	}
	// The user CPU time, when the system time is recorded: the probes'
	// traps and the kernel's work in the threads' blocking calls (page
	// copies, loopback TCP) are system time the threads' running and
	// native time leave out, and no work of children or a native
	// library's own threads (review).
	user := cpu
	if sys, ok := a.extraInt(ExtraSysCPU); ok && sys < cpu {
		user = cpu - sys
	}
	// A trace cut short (events dropped at the recorder's bound, lost, a
	// truncated file) wants the CPU time of its part of the run, where
	// the CPU time obtained is the whole program's (review: two CPU-bound
	// threads cut at 3 s of 10 would have obtained 20 s "outside").
	cut := a.r.DroppedEvents > 0 || a.r.StoppedAtBound || a.r.Truncated || a.r.LostEvents > 0
	if a.realProgram() && !mainOnly && !cut && float64(user) > float64(wanted)*(1+OutsideCPUExcess) && user-wanted >= OutsideCPUMinNS {
		// mainOnly: the CPU time is no more than the main process's;
		// children not waited for are in neither figure.
		m.OutsideCPUNS = user - wanted
		m.CoresFull = m.CoresUsed >= CoresFullShare
	}
	a.r.Machine = m
	a.r.BusyMachine = busy
}

// OutsideText is the sentence that says how much CPU time ran outside the
// traced threads, and what that does to the figures; "" when none did.
func (m *Machine) OutsideText(wallNS int64) string {
	if m == nil || m.OutsideCPUNS <= 0 || wallNS <= 0 {
		return ""
	}
	s := fmt.Sprintf("the run's processes obtained %s of CPU time in its %s wall (%.2f of its %s), of which %s (%s) ran outside the traced threads' running and native time: in child processes it waited for that run no traced Python (a shell, a compiler), or in a native library's own threads (a BLAS pool under numpy, OPENBLAS_NUM_THREADS). The trace sees the threads wait for that work, as I/O or inside a native call, and counts the waits as work that overlaps, where it took cores: the overlap and the estimates over-count",
		textfmt.Dur(m.CPUNS), textfmt.Dur(wallNS), float64(m.CPUNS)/float64(wallNS), textfmt.Plural(m.Cores, "core"), textfmt.Dur(m.OutsideCPUNS), textfmt.Pct0(textfmt.Share(m.OutsideCPUNS, m.CPUNS)))
	if m.CoresFull {
		s += fmt.Sprintf("; the cores were full (%s of what they could give)", textfmt.Pct0(m.CoresUsed))
	}
	return s + "."
}

// BusyBound is, for a run on a busy machine whose recorded CPU time covers
// all its processes, the most it can have gone faster than one thread on a
// free core: the CPU time it obtained (no more than its CPU work) and its
// I/O, over its wall; false for other runs. The overlap (Speedup.Achieved)
// is what the GIL and the locks let the threads do; this is what the
// machine let the run do.
func (r *Report) BusyBound() (float64, bool) {
	m, sp := r.Machine, &r.Speedup
	if m == nil || !m.Busy || m.MainProcessOnly || r.WallNS <= 0 {
		return 0, false
	}
	return float64(min(m.CPUNS, sp.cpuNS)+sp.SerialEquivNS-sp.cpuNS) / float64(r.WallNS), true
}

// mainProcessCPU is the running and native time of the threads of the
// real program's main process (mainProc).
func (a *analysis) mainProcessCPU() int64 {
	var main int64
	p := a.mainProc()
	for i := range a.r.Threads {
		if a.procOf[i] == p {
			main += threadCPU(&a.r.Threads[i])
		}
	}
	return main
}

// mainProc is the index of a real program's main process: the one whose
// pid the trace's metadata names (the program record ran, the process
// attach was given), else the first. An attach to a pool's parent may see
// a worker first (QA: the parent's CPU time was taken against a worker's
// demand, "obtained 9 %", a busy machine at a load of 1).
func (a *analysis) mainProc() int {
	if pid, ok := a.extraInt("pid"); ok {
		for i, p := range a.t.Procs {
			if int64(p.PID) == pid {
				return i
			}
		}
	}
	return 0
}

// childrenUnaccounted reports whether a real program of several processes
// recorded a CPU time (cpu) that leaves its children out: no more than its
// main process's running and native time (main), with the slack of the
// edges. Its children's CPU time is in cpu only when its main process
// waited for them; one it did not wait for is not.
func (a *analysis) childrenUnaccounted(cpu, main int64) bool {
	return a.realProgram() && len(a.t.Procs) > 1 && float64(cpu) <= float64(main)*(1+ConsistencySlack)
}

// wantedWork is a virtual run's own count of its threads' work: the CPU
// time of their instructions and native calls, and their I/O; ok false
// for other runs, whose trace is the only count.
func (a *analysis) wantedWork() (cpu, io int64, ok bool) {
	if !a.simulated() {
		return 0, 0, false
	}
	cpu, okC := a.extraInt(ExtraWantedCPU)
	io, okI := a.extraInt(ExtraWantedIO)
	return cpu, io, okC && okI
}

// measured fills the measured speedup when the trace records the wall time
// of the same work on one thread, and says which speedup Achieved is.
func (a *analysis) measured() {
	sp := &a.r.Speedup
	sp.Overlap = sp.Achieved
	sp.AchievedFrom = AchievedFromOverlap
	serial, ok := a.extraInt(ExtraSerialWall)
	if !ok || serial == 0 || a.wallNS <= 0 {
		return
	}
	sp.SerialWallNS = serial
	sp.Measured = round3(textfmt.Share(serial, a.wallNS))
}

// AchievedFromOverlap is what Speedup.Achieved is: the trace's overlap
// (serial-equivalent time / wall). The verdicts decide on it: it is what
// the GIL, the locks and the I/O let the threads do, which the trace
// records exactly, while a measured speedup also carries how busy the
// machine was. The measured one, when known, is printed beside it.
const AchievedFromOverlap = "overlap"

// measuredNote is the sentence a verdict quoting the overlap adds when the
// speedup was also measured, or "".
func (a *analysis) measuredNote() string { return a.measuredNoteOf("the wall time") }

// measuredNoteOf is measuredNote naming the wall time whose: "the run's
// wall time" in a sentence whose other figures are some threads' own.
func (a *analysis) measuredNoteOf(whose string) string {
	sp := a.r.Speedup
	if sp.Measured == 0 {
		return ""
	}
	s := fmt.Sprintf(" Measured against the same work on one thread (%s), %s gives %s.", textfmt.Dur(sp.SerialWallNS), whose, textfmt.X(sp.Measured))
	switch {
	case sp.Measured >= sp.Overlap/AdviceMinGain:
	case a.simulated():
		// No machine stood between: the simulated cores are exact. The
		// trace counts, as the threads' own, time they spent waiting for a
		// simulated core (after an I/O, as I/O; running, as running), which
		// the one-thread run did not (QA: "the machine made up the
		// difference" in a free-threaded run of 8 threads on 2 cores).
		s += " The difference is the simulated cores' queue: the trace counts a thread's wait for a core as its I/O or its running, which the one-thread run did not have."
	default:
		s += " The machine, not the threads, made up the difference"
		if a.r.Machine != nil {
			s += fmt.Sprintf(" (the run obtained %s of the CPU time it wanted)", textfmt.Pct0(a.r.Machine.Share))
		}
		s += "."
	}
	return s
}

// LockHoldsRecordable reports whether giltrace record --lock-holds could
// record the holds of the program's locks: any trace but a real program's
// on CPython 3.14 or later (Extra["python"]), whose threading.Lock and
// RLock are PyMutex locks, which --lock-holds does not probe (it refuses
// such an interpreter: docs/cpython.md, "Lock holds"). Advice to record
// again with --lock-holds is given only where it would work.
func LockHoldsRecordable(t *tracer.Trace) bool {
	m := t.Meta
	if m.Extra["source"] != "cpython" {
		return true
	}
	major, rest, _ := strings.Cut(m.Extra["python"], ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	return err1 != nil || err2 != nil || ma < 3 || ma == 3 && mi < 14
}
