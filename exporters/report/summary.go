// Package report turns a trace into the answer to "why didn't my threads
// speed up?": a per-thread breakdown of wall time, GIL and speedup figures,
// and verdicts in plain words with what to do about them. It renders text
// for people and JSON for machines; docs/diagnosis.md explains every number.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// Summary is the per-thread breakdown of a run that `giltrace record`
// prints. Its JSON field names are a contract kept stable for scripts.
type Summary struct {
	Workload         string          `json:"workload"`
	GILMode          string          `json:"gil_mode"`
	SwitchIntervalNS int64           `json:"switch_interval_ns"`
	CheckInterval    int             `json:"check_interval,omitempty"` // legacy mode, in instructions
	Processes        int             `json:"processes"`
	Cores            int             `json:"cores"`
	WallNS           int64           `json:"wall_ns"`
	Events           int             `json:"events"`
	DroppedEvents    uint64          `json:"dropped_events"`
	Truncated        bool            `json:"truncated,omitempty"`
	Threads          []ThreadSummary `json:"threads"`
}

// ThreadSummary is one thread's wall time split by state. The six state
// times sum to WallNS.
type ThreadSummary struct {
	Name            string `json:"name"`
	Process         string `json:"process"`
	WallNS          int64  `json:"wall_ns"`
	RunningNS       int64  `json:"running_ns"`        // executing bytecode with the GIL (or free-threaded)
	GILWaitNS       int64  `json:"gil_wait_ns"`       // runnable, waiting for the GIL
	IONS            int64  `json:"io_ns"`             // in blocking I/O, GIL released
	NativeNS        int64  `json:"native_ns"`         // in a native call that released the GIL
	NativeHoldingNS int64  `json:"native_holding_ns"` // in a native call that keeps the GIL
	LockWaitNS      int64  `json:"lock_wait_ns"`      // blocked on a guest lock, GIL released
	Acquisitions    int    `json:"acquisitions"`      // times it acquired its process's GIL
}

// Time is the time the thread spent in state st.
func (th *ThreadSummary) Time(st tracer.State) int64 {
	switch st {
	case tracer.StateRunning:
		return th.RunningNS
	case tracer.StateGILWait:
		return th.GILWaitNS
	case tracer.StateIO:
		return th.IONS
	case tracer.StateNative:
		return th.NativeNS
	case tracer.StateNativeHolding:
		return th.NativeHoldingNS
	case tracer.StateLockWait:
		return th.LockWaitNS
	}
	return 0
}

// Summarize computes the per-thread breakdown of trace t from its spans s
// (tracer.Derive(t)). Threads are in ThreadID order.
func Summarize(t *tracer.Trace, s *tracer.Spans) *Summary {
	sum := &Summary{
		Workload:         t.Meta.Workload,
		GILMode:          string(t.Meta.GILMode),
		SwitchIntervalNS: int64(t.Meta.SwitchInterval),
		Processes:        len(t.Procs),
		Cores:            t.Meta.Cores,
		WallNS:           t.Duration(),
		Events:           len(t.Events),
		DroppedEvents:    t.Dropped,
		Truncated:        t.Truncated,
		Threads:          []ThreadSummary{},
	}
	if t.Meta.GILMode == "legacy" {
		sum.CheckInterval = t.Meta.CheckInterval
	}
	totals := threadTotals(s, len(t.Threads))
	acq := gilAcquisitions(t, s)
	for i, th := range t.Threads {
		tot := totals[i]
		ts := ThreadSummary{
			Name:            th.Name,
			Process:         procName(t, th.Proc),
			WallNS:          tot.Sum(),
			RunningNS:       tot[tracer.StateRunning],
			GILWaitNS:       tot[tracer.StateGILWait],
			IONS:            tot[tracer.StateIO],
			NativeNS:        tot[tracer.StateNative],
			NativeHoldingNS: tot[tracer.StateNativeHolding],
			LockWaitNS:      tot[tracer.StateLockWait],
			Acquisitions:    acq[i],
		}
		if i < len(s.Threads) {
			ts.WallNS = s.Threads[i].End - s.Threads[i].Start
		}
		sum.Threads = append(sum.Threads, ts)
	}
	return sum
}

// threadTotals is the time each of n threads spent in each state, from the
// state spans (the same sums as Spans.ThreadTotals).
func threadTotals(s *tracer.Spans, n int) []tracer.Totals {
	out := make([]tracer.Totals, n)
	for _, sp := range s.States {
		if int(sp.Thread) < n && int(sp.State) < tracer.NumStates {
			out[sp.Thread][sp.State] += sp.End - sp.Start
		}
	}
	return out
}

// gilAcquisitions counts, per thread, the holds of its own process's GIL.
func gilAcquisitions(t *tracer.Trace, s *tracer.Spans) []int {
	out := make([]int, len(t.Threads))
	for _, h := range s.Holds {
		if isGIL(t, h.Lock) && int(h.Thread) < len(out) {
			out[h.Thread]++
		}
	}
	return out
}

// isGIL reports whether l is a GIL (of any process).
func isGIL(t *tracer.Trace, l tracer.LockID) bool {
	return int(l) < len(t.Locks) && t.Locks[l].GIL
}

func procName(t *tracer.Trace, p tracer.ProcID) string {
	if int(p) < len(t.Procs) {
		return t.Procs[p].Name
	}
	return fmt.Sprintf("process %d", p)
}

// WriteJSON writes the summary as indented JSON followed by a newline.
func (s *Summary) WriteJSON(w io.Writer) error {
	return writeJSON(w, s)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing report json: %w", err)
	}
	return nil
}

// WriteText writes the run's headline and the per-thread breakdown: each
// state's time and its share of the thread's wall time.
func (s *Summary) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "%s\n\n", s.headline())
	s.writeBreakdown(ew)
	return ew.err
}

// headline is one line naming the run and its wall time.
func (s *Summary) headline() string {
	mode := s.GILMode
	switch mode {
	case "cpython":
		mode = fmt.Sprintf("GIL cpython (switch interval %s)", time.Duration(s.SwitchIntervalNS))
	case "legacy":
		mode = fmt.Sprintf("GIL legacy (check interval %d instructions)", s.CheckInterval)
	case "none":
		mode = "free-threaded (no GIL)"
	default:
		mode = "GIL " + mode
	}
	line := fmt.Sprintf("%s: %s in %s, %s, wall %s, %d events",
		s.Workload, plural(len(s.Threads), "thread"), plural(s.Processes, "process"),
		mode, fmtDur(s.WallNS), s.Events)
	if s.DroppedEvents > 0 {
		line += fmt.Sprintf(" (%d dropped: the trace is cut short)", s.DroppedEvents)
	}
	if s.Truncated {
		line += " (file truncated)"
	}
	return line
}

// breakdownStates are the columns of the breakdown table, in order.
var breakdownStates = [...]struct {
	state tracer.State
	title string
}{
	{tracer.StateRunning, "running"},
	{tracer.StateGILWait, "GIL wait"},
	{tracer.StateIO, "I/O"},
	{tracer.StateNative, "native"},
	{tracer.StateNativeHolding, "native+GIL"},
	{tracer.StateLockWait, "lock wait"},
}

func (s *Summary) writeBreakdown(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Names are padded to one width so that they read left-aligned.
	nw, pw := len("thread"), len("process")
	for _, th := range s.Threads {
		nw, pw = max(nw, len(th.Name)), max(pw, len(th.Process))
	}
	fmt.Fprintf(tw, "%-*s\t%-*s\twall\t", nw, "thread", pw, "process")
	for _, c := range breakdownStates {
		fmt.Fprintf(tw, "%s\t%%\t", c.title)
	}
	fmt.Fprint(tw, "acquisitions\t\n")
	for i := range s.Threads {
		th := &s.Threads[i]
		fmt.Fprintf(tw, "%-*s\t%-*s\t%s\t", nw, th.Name, pw, th.Process, fmtDur(th.WallNS))
		for _, c := range breakdownStates {
			v := th.Time(c.state)
			fmt.Fprintf(tw, "%s\t%s\t", fmtDur(v), fmtPct(share(v, th.WallNS)))
		}
		fmt.Fprintf(tw, "%d\t\n", th.Acquisitions)
	}
	tw.Flush()
}

// errWriter keeps the first write error so that rendering code can print
// freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("writing report: %w", err)
	}
	return n, nil
}
