package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON followed by a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	return writeJSON(w, r)
}

// WriteText writes the report for people: the verdicts first, then the
// numbers behind them.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "%s\n\n", r.headline())
	r.WriteVerdicts(ew)
	fmt.Fprintf(ew, "Threads (time in each state, %% of the thread's wall)\n")
	r.writeBreakdown(ew)
	r.writeProcesses(ew)
	r.writeSpeedup(ew)
	r.writeFunctions(ew)
	r.writeLocks(ew)
	return ew.err
}

// WriteVerdicts writes only the verdicts, each with its sentence and what
// to do, followed by a blank line: what `giltrace record` can print after
// its breakdown. Write errors are left to the caller's writer.
func (r *Report) WriteVerdicts(w io.Writer) {
	if len(r.Verdicts) == 0 {
		fmt.Fprintf(w, "Verdict: none of the verdicts' thresholds was reached (see docs/diagnosis.md).\n\n")
		return
	}
	fmt.Fprintf(w, "Verdict: %s\n", r.VerdictCodes())
	for _, v := range r.Verdicts {
		fmt.Fprintf(w, "  %s: %s\n", v.Code, v.Text)
		fmt.Fprintf(w, "    What to do: %s\n", v.Advice)
	}
	fmt.Fprintln(w)
}

func (r *Report) writeProcesses(w io.Writer) {
	fmt.Fprintf(w, "\nProcesses\n")
	for _, p := range r.Procs {
		if p.Threads == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s (pid %d): %s, wall %s, parallelism %.2f", p.Name, p.PID, plural(p.Threads, "thread"), fmtDur(p.WallNS), p.Parallelism)
		if !p.HasGIL {
			fmt.Fprintf(w, ", no GIL (free-threaded)\n")
			continue
		}
		fmt.Fprintf(w, ", GIL held %s of the wall\n", fmtPct(p.GILHeldFraction))
		fmt.Fprintf(w, "    handoffs %d (%.1f/s), drop requests %d, forced switches %d\n", p.Handoffs, p.HandoffsPerSec, p.DropRequests, p.ForcedSwitches)
		if f := p.Fairness; f.CPUBoundThreads > 1 && f.Fewest == f.Most {
			fmt.Fprintf(w, "    fairness: each of the %d CPU-bound threads acquired the GIL %d times\n", f.CPUBoundThreads, f.Most)
		} else if f.CPUBoundThreads > 1 {
			fmt.Fprintf(w, "    fairness among %d CPU-bound threads: fewest acquisitions %d (%s), most %d (%s), ratio %.2f\n",
				f.CPUBoundThreads, f.Fewest, f.FewestThread, f.Most, f.MostThread, f.Ratio)
		}
		writeLatency(w, "GIL re-acquire after I/O", p.ReacquireIO)
		writeLatency(w, "GIL re-acquire after native", p.ReacquireNative)
		if lw := p.LongestWait; lw != nil {
			fmt.Fprintf(w, "    longest GIL wait: %s by %s in %s at %s", fmtDur(lw.DurationNS), lw.Thread, siteName(lw.Function, lw.File, lw.Line), fmtDur(lw.StartNS))
			if lw.HeldBy != "" {
				fmt.Fprintf(w, ", while %s held it", lw.HeldBy)
			}
			fmt.Fprintln(w)
		}
	}
}

func writeLatency(w io.Writer, what string, l Latency) {
	if l.Count == 0 {
		return
	}
	fmt.Fprintf(w, "    %s: p50 %s, p99 %s, max %s (%s)\n", what, fmtDur(l.P50), fmtDur(l.P99), fmtDur(l.Max), plural(l.Count, "time"))
}

// siteName is "count (test.yaml:3)".
func siteName(fn, file string, line int) string {
	switch {
	case file != "" && line > 0:
		return fmt.Sprintf("%s (%s:%d)", fn, file, line)
	case line > 0:
		return fmt.Sprintf("%s (line %d)", fn, line)
	}
	return fn
}

func (r *Report) writeSpeedup(w io.Writer) {
	wk, sp := r.Work, r.Speedup
	fmt.Fprintf(w, "\nSpeedup\n")
	fmt.Fprintf(w, "  work %s: serial (needs the GIL) %s, parallel (I/O, GIL-releasing native, no GIL) %s\n",
		fmtDur(wk.TotalNS), fmtPct(wk.SerialShare), fmtPct(wk.ParallelShare))
	fmt.Fprintf(w, "  ceiling for %s: GIL %s (serial work, or work per thread), Amdahl's law %s\n", plural(sp.Threads, "thread"), fmtX(sp.GILCeiling), fmtX(sp.AmdahlCeiling))
	capped := ""
	if sp.CPUCapped {
		capped = fmt.Sprintf(", CPU time capped at %d cores x wall", sp.Cores)
	}
	fmt.Fprintf(w, "  achieved: %s (the same work on one thread: %s, wall %s%s)\n", fmtX(sp.Achieved), fmtDur(sp.SerialEquivNS), fmtDur(r.WallNS), capped)
	fmt.Fprintf(w, "  estimated on %d cores: as processes %s, without a GIL %s\n", sp.Cores, fmtX(sp.AsProcesses), fmtX(sp.WithoutGIL))
}

func (r *Report) writeFunctions(w io.Writer) {
	if len(r.TopWait) > 0 {
		fmt.Fprintf(w, "\nTop functions by GIL wait (the waiter's function)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  function\tline\twaits\ttotal\tshare\tlongest\n")
		for _, f := range r.TopWait {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\n", f.Function, lineOf(f), f.Count, fmtDur(f.TotalNS), fmtPct(f.Share), fmtDur(f.MaxNS))
		}
		tw.Flush()
	}
	if len(r.TopHold) > 0 {
		fmt.Fprintf(w, "\nTop functions by GIL hold (blame: others' GIL wait while it held the GIL)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  function\tline\tblame\tshare\theld\tof which native\tacquisitions\n")
		for _, f := range r.TopHold {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\n", f.Function, lineOf(f), fmtDur(f.BlameNS), fmtPct(f.Share), fmtDur(f.TotalNS), fmtDur(f.NativeNS), f.Count)
		}
		tw.Flush()
	}
}

func lineOf(f FuncTime) string {
	if f.Line <= 0 {
		return "-"
	}
	return fmt.Sprint(f.Line)
}

func (r *Report) writeLocks(w io.Writer) {
	if len(r.Locks) == 0 {
		return
	}
	fmt.Fprintf(w, "\nGuest locks\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  lock\tprocess\twaits\twait\tholds\theld\theld mostly in\n")
	for _, l := range r.Locks {
		by := "-"
		if l.HeldBy != "" {
			by = strings.TrimSpace(siteName(l.HeldBy, "", l.HeldLine))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%d\t%s\t%s\n", l.Name, l.Process, l.Waits, fmtDur(l.WaitNS), l.Holds, fmtDur(l.HoldNS), by)
	}
	tw.Flush()
}
