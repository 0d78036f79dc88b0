package diagnosis

import (
	"fmt"

	"github.com/giltrace/giltrace/internal/textfmt"
)

// Inconsistent is the verdict of a trace whose figures exceed what the
// machine that recorded it allows: its threads were busy (running, or in
// native code) more at a time than it had cores. It comes before every
// other verdict, since it qualifies all of them.
const Inconsistent = "inconsistent-measurement"

// ConsistencySlack is how far above the cores a parallelism may be before
// the measurement is called inconsistent: the thread states' edges are
// recorded a few microseconds apart, so a run on N busy cores can show a
// hair above N, never 5 % above.
const ConsistencySlack = 0.05

// consistent checks the report's figures against the cores the run had
// (Speedup.Cores: the recording machine's, or the simulated ones). A
// parallelism above the cores (busy thread-time over the wall, per process
// or for the run) cannot have been CPU work: some of the time recorded as
// running or in native code was spent waiting for a core, or the trace's
// clock is wrong. The report then does not print the impossible figure: it
// caps every parallelism and the achieved speedup of CPU work at the cores
// (always: up to the slack silently) and, beyond the slack, puts the
// Inconsistent verdict, which gives the measured figure, first
// among verdicts.
//
// A simulated run (clock virtual), and a real CPython program's, never
// gets the verdict (see the comment at the check). A simulated run's clock is
// exact, and the VM records a thread that waits for one of its simulated
// cores as running (the trace has no state for that wait), so busy
// thread-time above cores x wall is the simulated queue for the cores.
// Its figures are capped the same way, and coreWait says how much of the
// threads' running and native time was that queue.
func consistent(a *analysis, verdicts []Verdict) []Verdict {
	r := a.r
	cores := float64(r.Speedup.Cores)
	if cores <= 0 {
		return verdicts
	}
	limit := cores * (1 + ConsistencySlack)
	worst, where := r.Parallelism, "the run"
	for i := range r.Procs {
		if p := r.Procs[i].Parallelism; p > worst {
			worst, where = p, fmt.Sprintf("process %s (pid %d)", r.Procs[i].Name, r.Procs[i].PID)
		}
	}
	var io int64
	for i := range r.Threads {
		io += r.Threads[i].IONS
	}
	for _, b := range a.blocked {
		io += b // a blocking call before the trace first saw the thread
	}
	cpuOnly := io == 0 // every thread's work needed a core
	speedup := r.Speedup.Achieved
	// Within the slack the excess is the edges' jitter: the figures are
	// capped at the cores without a verdict, so that no printed figure
	// exceeds what the machine allows.
	r.Parallelism = min(r.Parallelism, cores)
	for i := range r.Procs {
		r.Procs[i].Parallelism = min(r.Procs[i].Parallelism, cores)
	}
	if cpuOnly {
		r.Speedup.Achieved = min(r.Speedup.Achieved, cores)
	}
	if a.simulated() || a.realProgram() || a.accountedCPU(cores) {
		// In virtual time the clock is exact: the excess is the VM's
		// simulated cores queueing the threads, not a bad measurement.
		// A real program's threads are timed by their GIL events: one
		// holding the GIL or inside a C call that released it counts as
		// busy while the OS makes it wait for a core, so the excess is the
		// program's own queue for the cores (more busy threads than
		// cores), not a fault of the recording.
		a.coreWait()
		return verdicts
	}
	if worst <= limit && !(cpuOnly && speedup > limit) {
		return verdicts
	}
	v := Verdict{
		Code: Inconsistent,
		Text: fmt.Sprintf("The measurement is inconsistent: in %s, threads were busy (running or in native code) %.2f at a time on average, on %s, "+
			"more than the machine allows; part of the time recorded as running or native was spent waiting for a core (an oversubscribed or loaded machine), "+
			"or the trace's clock is wrong. The parallelism and the achieved speedup below are capped at %s and are not measurements.",
			where, worst, textfmt.Plural(r.Speedup.Cores, "core"), textfmt.Plural(r.Speedup.Cores, "core")),
		Advice: "Record again with fewer busy threads than cores, on a machine with free cores, or in virtual time (--clock virtual --cores N); " +
			"the GIL's figures (waits, handoffs, re-acquire latencies) stay valid, the CPU ones do not.",
	}
	return append([]Verdict{v}, verdicts...)
}

// simulated reports whether the run was simulated in virtual time (the
// trace's metadata says clock=virtual, as the report's header does).
func (a *analysis) simulated() bool {
	return a.r.Clock == "virtual"
}

// lockHoldsObserved reports whether the trace observed its guest locks'
// holds: always in the VM; for a real program only when recorded with
// --lock-holds (source/cpython sets Extra["lock_holds"]).
func (a *analysis) lockHoldsObserved() bool {
	return !a.realProgram() || a.t.Meta.Extra["lock_holds"] == "observed"
}

// realProgram reports whether the trace is of a real CPython program
// (record -- python3, attach), not of the VM.
func (a *analysis) realProgram() bool {
	return a.r.Source == "cpython"
}

// accountedCPU reports whether a run of the VM in real time recorded the
// CPU time its process obtained (r.Machine: every run since its native
// calls and timed compute burn their duration as the thread's CPU time)
// and that CPU time is within what the cores allow: the threads' busy
// wall time above the cores is then their queue for a core, not work done
// while off a core. A trace without it (recorded before, when a native
// call spun on the wall clock) keeps the verdict.
func (a *analysis) accountedCPU(cores float64) bool {
	m := a.r.Machine
	return m != nil && a.wallNS > 0 && float64(m.CPUNS) <= cores*float64(a.wallNS)*(1+ConsistencySlack)
}

// CoreWait is, in a run with more busy threads than cores (simulated in
// virtual time, of a real CPython program, or of the VM in real time with
// its CPU time recorded), the part of the threads' running and native time
// that was spent waiting for a core: the VM records that wait as running,
// and a thread timed on the wall clock (a real program's by its GIL
// events) counts the OS's run queue as busy; so the per-thread running and
// native figures over-count CPU by WaitNS.
type CoreWait struct {
	Cores int `json:"cores"` // the cores: simulated, or the recording machine's
	// Simulated: in virtual time; else measured (a real CPython program,
	// or the VM in real time).
	Simulated bool `json:"simulated"`
	// Where is "the run", or the process whose busy time exceeded its
	// cores the most.
	Where string `json:"where"`
	// BusyNS is the threads' running and native time there, WallNS its
	// wall, WaitNS = BusyNS - Cores x WallNS (> 0), Busy = BusyNS / WallNS.
	BusyNS int64   `json:"busy_ns"`
	WallNS int64   `json:"wall_ns"`
	WaitNS int64   `json:"wait_ns"`
	Busy   float64 `json:"busy"`
	// CPUWaitNS and IOWaitNS (virtual time, which counts the work itself:
	// ExtraWantedCPU, ExtraWantedIO): WaitNS is their sum, the waits the
	// trace records as running and native time and as I/O, for the run.
	CPUWaitNS int64  `json:"cpu_wait_ns,omitempty"`
	IOWaitNS  int64  `json:"io_wait_ns,omitempty"`
	Text      string `json:"text"`
}

// coreWait fills r.CoreWait when the busy thread-time of the run, or of
// one of its processes, exceeds the cores x its wall: the largest excess,
// run first on ties.
func (a *analysis) coreWait() {
	r := a.r
	cores := int64(r.Speedup.Cores)
	var busy int64
	for i := range r.Threads {
		busy += threadCPU(&r.Threads[i])
	}
	cw := CoreWait{Cores: r.Speedup.Cores, Where: "the run", BusyNS: busy, WallNS: a.wallNS, WaitNS: busy - cores*a.wallNS}
	for i := range r.Procs {
		p := &r.Procs[i]
		if w := p.busyNS - cores*p.WallNS; w > cw.WaitNS {
			cw = CoreWait{Cores: r.Speedup.Cores, Where: fmt.Sprintf("process %s (pid %d)", p.Name, p.PID), BusyNS: p.busyNS, WallNS: p.WallNS, WaitNS: w}
		}
	}
	vw := a.vmWork
	if vw != nil {
		// Virtual time: the VM's count of the work gives the waits
		// exactly, in the running and native time and in the I/O (a thread
		// back from an I/O waits for a core before the trace sees it run);
		// speedup counted them.
		cw = CoreWait{Cores: r.Speedup.Cores, Where: "the run", BusyNS: busy, WallNS: a.wallNS,
			CPUWaitNS: vw.cpuWait, IOWaitNS: vw.ioWait, WaitNS: vw.cpuWait + vw.ioWait}
		if cw.WaitNS*1000 <= vw.cpu+vw.io { // within 0.1 % of the work: the clock's rounding
			r.Speedup.CoreWaitNS = 0
			return
		}
	}
	if cw.WaitNS <= 0 || cw.WallNS <= 0 {
		return
	}
	cw.Busy = round3(textfmt.Share(cw.BusyNS, cw.WallNS))
	cw.Simulated = a.simulated()
	if vw != nil {
		cw.Text = fmt.Sprintf("Simulated on %s with more runnable threads than cores: threads were running or in native code %.2f at a time on average, "+
			"and the VM records a thread waiting for a simulated core as running, in native code or in I/O (a thread back from an I/O waits for a core before it is seen to run), "+
			"so the per-thread figures over-count the threads' work by %s: %s of running and native time, %s of I/O. "+
			"The achieved speedup counts the work the VM did (%s: %s of CPU, %s of I/O), not those waits; the parallelism is capped at %s, "+
			"and the other figures (the ceilings, the estimates' limits, the work split) are the trace's.",
			textfmt.Plural(cw.Cores, "core"), cw.Busy, textfmt.Dur(cw.WaitNS), textfmt.Dur(cw.CPUWaitNS), textfmt.Dur(cw.IOWaitNS),
			textfmt.Dur(vw.cpu+vw.io), textfmt.Dur(vw.cpu), textfmt.Dur(vw.io), textfmt.Plural(cw.Cores, "core"))
		r.CoreWait = &cw
		return
	}
	if !cw.Simulated {
		how := "A thread is timed from its GIL events, so one that waits for a core (the operating system's run queue) counts as busy: "
		if !a.realProgram() {
			how = fmt.Sprintf("The VM's threads burn their work as CPU time (the process obtained %s) and are timed on the wall clock, so one that waits for a core (the operating system's run queue) counts as busy: ",
				textfmt.Dur(a.r.Machine.CPUNS))
		}
		cw.Text = fmt.Sprintf("More busy threads than cores: in %s, threads were running or in native code %.2f at a time on average, on %s. "+
			"%sthe per-thread running and native figures over-count CPU time by at least %s (%s busy, %s x %s wall). "+
			"The parallelism and the achieved speedup are capped at %s.",
			cw.Where, cw.Busy, textfmt.Plural(cw.Cores, "core"), how, textfmt.Dur(cw.WaitNS), textfmt.Dur(cw.BusyNS), textfmt.Plural(cw.Cores, "core"), textfmt.Dur(cw.WallNS), textfmt.Plural(cw.Cores, "core"))
		r.CoreWait = &cw
		return
	}
	cw.Text = fmt.Sprintf("Simulated on %s with more runnable threads than cores: in %s, threads were running or in native code %.2f at a time on average, "+
		"and the VM records a thread waiting for a simulated core as running, so the per-thread running (and native) figures over-count CPU time by %s "+
		"(%s of running and native time, %s x %s wall). The parallelism and the achieved speedup are capped at %s.",
		textfmt.Plural(cw.Cores, "core"), cw.Where, cw.Busy, textfmt.Dur(cw.WaitNS), textfmt.Dur(cw.BusyNS), textfmt.Plural(cw.Cores, "core"), textfmt.Dur(cw.WallNS), textfmt.Plural(cw.Cores, "core"))
	r.CoreWait = &cw
}
