package diagnosis

import "github.com/giltrace/giltrace/tracer"

// Caveats are what distorts a run's figures, which every output flags,
// not the report alone: the machine that could not give the run the
// cores it wanted (Machine, when the trace records the CPU time obtained)
// a real program's tracing cost (TracingCost) and its waits on itself
// (OwnIO: I/O on its own pipes and connections) and I/O that was CPU
// or a wait for a core (CoreIO). They are the report's
// (Analyze sets the same), computed without the rest of the analysis:
// from the summary (sum, Summarize of s) and one pass over the events, a
// few milliseconds for a million events, so that each exporter can say so.
func Caveats(s *tracer.Spans, sum *Summary) (*Machine, *TracingCost, *OwnIO, *CoreIO) {
	t := s.Trace
	r := &Report{Summary: *sum}
	a := &analysis{t: t, s: s, r: r, wallNS: r.WallNS, procOf: make([]int, len(t.Threads)), ownK: int(tracer.OwnIOKindOf(t))}
	for i, th := range t.Threads {
		a.procOf[i] = int(th.Proc)
	}
	for i := range r.Threads {
		r.Work.CPUNS += threadCPU(&r.Threads[i])
	}
	a.machine()
	a.tracingCost()
	a.ownIO()
	a.coreIO()
	return r.Machine, r.TracingCost, r.OwnIO, r.CoreIO
}
