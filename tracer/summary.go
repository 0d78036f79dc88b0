package tracer

import (
	"fmt"
	"time"
)

// Summary is a one-line description of the trace: workload, GIL mode,
// processes, threads, events, duration and dropped events, then what is
// partial about it (truncated, interrupted, salvaged), e.g.
//
//	workload "web" (cpython): 1 process, 4 threads, 10234 events, 1.5s, 0 dropped
func (t *Trace) Summary() string {
	mode := t.Meta.GILMode
	if mode == "" {
		mode = "unknown mode"
	}
	s := fmt.Sprintf("workload %q (%s): %s, %s, %s, %v, %d dropped", t.Meta.Workload, mode,
		plural(len(t.Procs), "process", "processes"), plural(len(t.Threads), "thread", "threads"),
		plural(len(t.Events), "event", "events"), roundDuration(t.Duration()), t.Dropped)
	if t.Truncated {
		s += ", truncated"
	}
	st := t.Status()
	if st.Interrupted {
		s += ", interrupted"
	}
	if st.Salvaged != "" {
		s += ", salvaged (" + st.Salvaged + ")"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// roundDuration keeps about four significant digits.
func roundDuration(ns int64) time.Duration {
	d := time.Duration(ns)
	for _, r := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= 10*r {
			return d.Round(r / 1000)
		}
	}
	return d
}
