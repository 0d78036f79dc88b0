package tracer

import (
	"fmt"
	"strings"
)

// Status is the state of a trace as a whole: whether its run went to its
// end, and whether it holds every event of it. Every consumer shows it (the
// validate summary, the reports, the flame graph page), so that a partial
// trace is never taken for a whole run.
type Status struct {
	Interrupted bool   // the run was stopped (Ctrl-C, SIGTERM...) before it finished
	Why         string // what stopped it, when the trace says (a VM run's deadlock); "" if not
	Truncated   bool   // the file was cut off: only its complete part is here
	Dropped     uint64 // events lost at the recorder's bound: the trace stops at the first
	Salvaged    string // the damage (a bad record) before which the events were kept; "" if none
}

// Status returns the state of t.
func (t *Trace) Status() Status {
	s := Status{
		Interrupted: t.Meta.Extra["interrupted"] == "true",
		Truncated:   t.Truncated,
		Dropped:     t.Dropped,
		Salvaged:    t.Salvaged,
	}
	if s.Interrupted {
		s.Why = t.Meta.Extra["interrupted_by"]
	}
	return s
}

// Complete reports whether the trace is the whole of a run that finished.
func (s Status) Complete() bool { return s == Status{} }

// String says what is partial about the trace, e.g. "interrupted,
// truncated, 12 events dropped"; "complete" for a whole run.
func (s Status) String() string {
	var parts []string
	if s.Interrupted && s.Why != "" {
		parts = append(parts, "interrupted ("+s.Why+")")
	} else if s.Interrupted {
		parts = append(parts, "interrupted")
	}
	if s.Truncated {
		parts = append(parts, "truncated")
	}
	if s.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d events dropped", s.Dropped))
	}
	if s.Salvaged != "" {
		parts = append(parts, "salvaged ("+s.Salvaged+")")
	}
	if len(parts) == 0 {
		return "complete"
	}
	return strings.Join(parts, ", ")
}
