package diagnosis

import (
	"fmt"
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
	if worst <= limit && !(cpuOnly && speedup > limit) {
		return verdicts
	}
	v := Verdict{
		Code: Inconsistent,
		Text: fmt.Sprintf("The measurement is inconsistent: in %s, threads were busy (running or in native code) %.2f at a time on average, on %d cores, "+
			"more than the machine allows; part of the time recorded as running or native was spent waiting for a core (an oversubscribed or loaded machine), "+
			"or the trace's clock is wrong. The parallelism and the achieved speedup below are capped at %d cores and are not measurements.",
			where, worst, r.Speedup.Cores, r.Speedup.Cores),
		Advice: "Record again with fewer busy threads than cores, on a machine with free cores, or in virtual time (--clock virtual --cores N); " +
			"the GIL's figures (waits, handoffs, re-acquire latencies) stay valid, the CPU ones do not.",
	}
	return append([]Verdict{v}, verdicts...)
}
