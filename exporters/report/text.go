package report

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// WriteSummaryJSON writes the summary as indented JSON followed by a newline.
func WriteSummaryJSON(w io.Writer, s *diagnosis.Summary) error {
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

// WriteSummaryText writes the run's headline and the per-thread breakdown: each
// state's time and its share of the thread's wall time.
func WriteSummaryText(w io.Writer, s *diagnosis.Summary) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "%s\n\n", headline(s))
	writeBreakdown(ew, s)
	return ew.err
}

// headline is one line naming the run and its wall time.
func headline(s *diagnosis.Summary) string {
	mode := s.GILMode
	switch mode {
	case "cpython":
		mode = fmt.Sprintf("GIL cpython (switch interval %s)", time.Duration(s.SwitchIntervalNS))
		if s.SwitchIntervals != "" {
			mode = fmt.Sprintf("GIL cpython (switch interval %s for most of the run; the program changed it: %s)", time.Duration(s.SwitchIntervalNS), s.SwitchIntervals)
		}
	case "legacy":
		mode = fmt.Sprintf("GIL legacy (check interval %d instructions)", s.CheckInterval)
	case "none":
		mode = "free-threaded (no GIL)"
	default:
		mode = "GIL " + mode
	}
	line := fmt.Sprintf("%s: %s in %s, %s, wall %s, %d events",
		s.Workload, textfmt.Plural(len(s.Threads), "thread"), textfmt.Plural(s.Processes, "process"),
		mode, textfmt.Dur(s.WallNS), s.Events)
	for _, q := range cutShort(s) {
		line += " (" + q + ")"
	}
	switch {
	case s.Clock == "virtual":
		line += fmt.Sprintf("\nSimulated in virtual time (docs/vm.md) on %s, seed %s: exact and reproducible, not measured", textfmt.Plural(s.Cores, "simulated core"), s.Seed)
	case s.Source == "cpython":
		line += "\nRecorded from a real CPython program (docs/cpython.md)"
	}
	switch st := s.ExitStatus; {
	case s.Stopped == "killed":
		how := fmt.Sprintf("it had not exited %s later and was killed (SIGKILL)", cmp.Or(s.KilledAfter, s.StopGrace))
		if after, err := time.ParseDuration(s.KilledAfter); err == nil {
			if grace, err := time.ParseDuration(s.StopGrace); err == nil && after < grace {
				// Killed before its grace was over: a second signal
				// (QA: "it had not exited 1ms later" read as a 1 ms
				// --kill-after).
				how = fmt.Sprintf("a second signal to giltrace killed it (SIGKILL) %s later, before its grace of %s was over", s.KilledAfter, s.StopGrace)
			}
		}
		if s.SIGINTIgnored {
			how += "; it ignored SIGINT"
		}
		line += fmt.Sprintf("\nStopped: giltrace was stopped and sent the program SIGINT; %s: its shutdown until then is in the run", how)
	case s.Stopped != "":
		how := "exited"
		if st != nil {
			how = fmt.Sprintf("exited with status %d", *st)
			if s.ExitSignal != "" {
				how = fmt.Sprintf("ended by signal %s (status %d)", s.ExitSignal, *st)
			}
		}
		line += fmt.Sprintf("\nStopped: giltrace was stopped and sent the program SIGINT; it %s within %s, and its shutdown is in the run", how, s.StopGrace)
	case s.FailedAtStart && st != nil:
		line += fmt.Sprintf("\nThe program exited with status %d before any of its own code was seen running (a failed import, a syntax error, a missing module; or a run of its own code too short to see): this run is the interpreter's start-up, and no verdict is given", *st)
	case st != nil && *st != 0:
		how := fmt.Sprintf("exited with status %d", *st)
		switch {
		case s.ExitSignal != "":
			how = fmt.Sprintf("was killed by signal %s (status %d)", s.ExitSignal, *st)
		case *st < 0:
			how = "was killed by a signal"
		}
		// Its own code was seen running (else FailedAtStart, above): the
		// note about a failure at the start did not apply (QA).
		line += fmt.Sprintf("\nThe program %s: this is its run until it failed", how)
	}
	if s.LostEvents > 0 || s.Repairs > 0 {
		line += fmt.Sprintf("\nNot seen by the recorder: %d probe hits lost, %d inconsistencies mended (a release or an acquisition it missed); the times around them are estimates (docs/cpython.md)",
			s.LostEvents, s.Repairs)
	}
	if s.Outlived != "" {
		line += fmt.Sprintf("\nStill running a second after the program exited, and cut off then (not ended): %s", s.Outlived)
	}
	if s.KilledChildren != "" {
		line += fmt.Sprintf("\nKilled with it, their parent gone: its traced child processes %s", s.KilledChildren)
	}
	if s.LeftRunning != "" {
		line += fmt.Sprintf("\nStill running when the stopped program had exited (giltrace sent SIGINT to the program only, and traced them no further): %s", s.LeftRunning)
	}
	if s.Untraced != "" {
		line += fmt.Sprintf("\nNot traced: processes started by the program that ran another interpreter than the one probed (giltrace traces one CPython build a run): %s", s.Untraced)
	}
	if s.UntracedExec != "" {
		line += fmt.Sprintf("\nNot traced after an exec: processes that replaced themselves (os.execv) with a program the probes do not see, traced up to the exec, where their threads end: %s", s.UntracedExec)
	}
	if s.Unkept != "" {
		line += fmt.Sprintf("\nMay be missing probe hits: processes forked during the run whose probes the recorder could not keep armed (a kernel before 6.12, docs/cpython.md); their hits after a relative of theirs exited may be lost: %s", s.Unkept)
	}
	if s.Ended == "exited" {
		line += "\nEnded: the process exited while giltrace was attached, by itself or killed (its exit status went to its parent, not to giltrace): the run ends with it"
	}
	return line
}

// Measured is the report's measured speedup, for the text and the page:
// its label ("measured", or "simulated" for a run in virtual time), the
// figure ("" when there is none) and what it is, or why there is none.
func Measured(r *diagnosis.Report) (label, figure, about string) {
	sp := &r.Speedup
	// A simulated run's figure is simulated, not measured (QA).
	label = "measured"
	if r.Clock == "virtual" {
		label = "simulated"
	}
	switch {
	case sp.Measured > 0:
		return label, textfmt.X(sp.Measured), fmt.Sprintf("the same work on one thread took %s, this run %s", textfmt.Dur(sp.SerialWallNS), textfmt.Dur(r.WallNS))
	case sp.Threads <= 1:
		// QA: "not known (no one-thread run ...)" of a one-thread run.
		return label, "", "this run is the one-thread run"
	case r.Source == "cpython":
		// QA: compare simulates a real program's model; it runs no
		// one-thread version of the program itself.
		return label, "", "not known (no one-thread run of the same work: time the program with one thread to measure it; giltrace compare predicts one from the model)"
	}
	// compare runs the workload on one thread among its rows, and its own
	// traces carry the figure; this run's report does not gain it (QA:
	// "compare records one", then still "not known" here).
	return label, "", "not known (no one-thread run of the same work; giltrace compare WORKLOAD runs one, and its table and traces have the figure)"
}

// cutShort says how the trace of s is cut short, if it is: the headline's
// parentheses after the event count.
func cutShort(s *diagnosis.Summary) []string {
	var q []string
	switch {
	case s.StoppedAtBound:
		q = append(q, "the recorder's bound was reached: the trace is cut short there, and the simulation stopped")
	case s.DroppedEvents > 0:
		q = append(q, fmt.Sprintf("%d dropped: the trace is cut short", s.DroppedEvents))
	}
	if s.Truncated {
		q = append(q, "file truncated")
	}
	return q
}

// breakdownState is a column of the breakdown table.
type breakdownState struct {
	state tracer.State
	title string
}

// breakdownStates are the columns of the breakdown table, in order.
var breakdownStates = [...]breakdownState{
	{tracer.StateRunning, "running"},
	{tracer.StateGILWait, "GIL wait"},
	{tracer.StateIO, "I/O"},
	{tracer.StateNative, "native"},
	{tracer.StateNativeHolding, "native+GIL"},
	{tracer.StateLockWait, "lock wait"},
}

func writeBreakdown(w io.Writer, s *diagnosis.Summary) {
	// Without a GIL no native call keeps one: its column would be zeros
	// (QA). The JSON keeps native_holding_ns.
	states := breakdownStates[:]
	if s.GILMode == "none" {
		states = slices.DeleteFunc(slices.Clone(states), func(c breakdownState) bool { return c.state == tracer.StateNativeHolding })
	}
	rows, grouped := tableRows(s.Threads)
	if grouped {
		fmt.Fprintf(w, "  (%d threads: those named alike but for their numbers are summed in one row, their count in brackets; report --json lists each)\n", len(s.Threads))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Names are padded to one width so that they read left-aligned.
	nw, pw := len("thread"), len("process")
	for _, th := range rows {
		nw, pw = max(nw, len(th.Name)), max(pw, len(th.Process))
	}
	fmt.Fprintf(tw, "%-*s\t%-*s\twall\t", nw, "thread", pw, "process")
	for _, c := range states {
		fmt.Fprintf(tw, "%s\t%%\t", c.title)
	}
	fmt.Fprint(tw, "acquisitions\t\n")
	for i := range rows {
		th := &rows[i]
		fmt.Fprintf(tw, "%-*s\t%-*s\t%s\t", nw, th.Name, pw, th.Process, textfmt.Dur(th.WallNS))
		for _, c := range states {
			v := th.Time(c.state)
			fmt.Fprintf(tw, "%s\t%s\t", textfmt.Dur(v), textfmt.Pct(textfmt.Share(v, th.WallNS)))
		}
		fmt.Fprintf(tw, "%d\t\n", th.Acquisitions)
	}
	tw.Flush()
}

// ManyThreadRows is the most threads the text's thread table lists one
// by one: with more, threads of one process whose names differ only in
// their numbers ("w-1" ... "w-100", "Thread-3 (work)" ...) share a row,
// their times summed (QA: a thread-per-task program's 201 rows, and a
// workload's 204, could not be read).
const ManyThreadRows = 24

// tableRows is the thread table's rows: the threads, or, past
// ManyThreadRows, each set of threads named alike (nameShape) in one
// process as one row, "w-* [100]", in the order of their first thread;
// grouped says whether any row stands for several threads.
func tableRows(threads []diagnosis.ThreadSummary) (rows []diagnosis.ThreadSummary, grouped bool) {
	if len(threads) <= ManyThreadRows {
		return threads, false
	}
	type key struct{ shape, process string }
	at, n := map[key]int{}, []int{}
	for _, th := range threads {
		k := key{nameShape(th.Name), th.Process}
		i, ok := at[k]
		if !ok {
			i = len(rows)
			at[k] = i
			rows, n = append(rows, diagnosis.ThreadSummary{Name: th.Name, Process: th.Process}), append(n, 0)
		}
		n[i]++
		rows[i].Add(&th)
	}
	for i := range rows {
		if n[i] > 1 {
			rows[i].Name = fmt.Sprintf("%s [%d]", nameShape(rows[i].Name), n[i])
			grouped = true
		}
	}
	return rows, grouped
}

// nameShape is a thread's name with each run of digits written "*".
func nameShape(name string) string {
	var b strings.Builder
	digits := false
	for _, r := range name {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('*')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return b.String()
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

// WriteJSON writes report r as indented JSON followed by a newline.
func WriteJSON(w io.Writer, r *diagnosis.Report) error {
	return writeJSON(w, r)
}

// WriteText writes report r for people: the verdicts first, then the
// numbers behind them.
func WriteText(w io.Writer, r *diagnosis.Report) error {
	return writeText(w, r, tracer.Status{})
}

// writeText is WriteText with the state of the trace: a partial trace
// (interrupted, truncated, dropped, salvaged) says so under the headline.
func writeText(w io.Writer, r *diagnosis.Report, st tracer.Status) error {
	// Buffered: the tables are written a cell at a time, and a run of
	// 1024 threads has a row each.
	bw := bufio.NewWriterSize(w, 64<<10)
	ew := &errWriter{w: bw}
	fmt.Fprintf(ew, "%s\n", headline(&r.Summary))
	if st.Interrupted || st.Salvaged != "" {
		fmt.Fprintf(ew, "Trace: %s: the numbers cover the part of the run it holds\n", st)
	}
	fmt.Fprintln(ew)
	WriteVerdicts(ew, r)
	fmt.Fprintf(ew, "Threads (time in each state, %% of the thread's wall)\n")
	writeBreakdown(ew, &r.Summary)
	writeProcesses(ew, r)
	writeSpeedup(ew, r)
	writeFunctions(ew, r)
	writeLocks(ew, r)
	if ew.err != nil {
		return ew.err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// WriteVerdicts writes only the verdicts, each with its sentence and what
// to do, followed by a blank line: what `giltrace record` can print after
// its breakdown. Write errors are left to the caller's writer.
func WriteVerdicts(w io.Writer, r *diagnosis.Report) {
	writeMachine(w, r)
	writeTracingCost(w, r)
	writeOwnIO(w, r)
	writeCoreIO(w, r)
	if cw := r.CoreWait; cw != nil {
		fmt.Fprintf(w, "Note: %s\n\n", cw.Text)
	}
	switch {
	case r.FailedAtStart:
		fmt.Fprintf(w, "Verdict: none: the program failed before its own code ran (fix its start, then record it again).\n")
	case len(r.Verdicts) == 0:
		limit := "."
		if r.NoVerdict != nil || r.OwnWaits != nil {
			// A finding follows, which is no verdict (QA: "none ...
			// reached" and then a "What to do" read as a contradiction).
			limit = "; what limits the run instead:"
		}
		fmt.Fprintf(w, "Verdict: none of the verdicts' thresholds was reached (see docs/diagnosis.md)%s\n", limit)
		if o := r.OwnIO; o != nil && o.High {
			// Why a run whose threads overlapped is not "scales" (QA: a
			// 4.17x web scraper was told only that no threshold was
			// reached).
			fmt.Fprintf(w, "  not scales: its I/O waited on its own threads (the warning above), and the overlap counts those waits as parallel work. Time the program with one thread to measure what its threads gain.\n")
		}
		if nv := r.NoVerdict; nv != nil {
			fmt.Fprintf(w, "  one thread's work: %s\n", nv.Text)
			fmt.Fprintf(w, "    What to do: %s\n", nv.Advice)
		} else if ow := r.OwnWaits; ow != nil {
			fmt.Fprintf(w, "  waits on itself: %s\n", ow.Text)
			fmt.Fprintf(w, "    What to do: %s\n", ow.Advice)
		}
	default:
		fmt.Fprintf(w, "Verdict: %s\n", r.VerdictCodes())
		for _, v := range r.Verdicts {
			fmt.Fprintf(w, "  %s: %s\n", v.Code, v.Text)
			fmt.Fprintf(w, "    What to do: %s\n", v.Advice)
		}
	}
	if id := r.Idle; id != nil && !r.FailedAtStart {
		fmt.Fprintf(w, "  idle threads: %s\n", id.Text)
	}
	writeNear(w, r)
	fmt.Fprintln(w)
}

// writeMachine warns, before anything else, that the machine could not
// give the run the cores it asked for.
func writeMachine(w io.Writer, r *diagnosis.Report) {
	m := r.Machine
	if t := m.OutsideText(r.WallNS); t != "" {
		fmt.Fprintf(w, "Warning: CPU time outside the traced threads: %s\n\n", t)
	}
	if m == nil || !m.Busy {
		return
	}
	whose := "its threads"
	if m.MainProcessOnly {
		whose = "its main process's threads"
	}
	again := "record it again on a quieter machine"
	if t := m.RecorderText(); t != "" {
		again = t
	}
	fmt.Fprintf(w, "Warning: busy machine: the run obtained %s of the CPU time %s wanted, up to what its cores could give (%s of %s); its wall time, overlap and verdicts are distorted: %s.\n\n",
		textfmt.Pct0(m.Share), whose, textfmt.Dur(m.CPUNS), textfmt.Dur(min(m.WantedCPUNS, m.CapacityNS)), again)
}

// writeOwnIO warns, for a real program whose blocking I/O waited on its
// own pipes and loopback connections, that the overlap over-counts.
func writeOwnIO(w io.Writer, r *diagnosis.Report) {
	if t := r.OwnIO.Text(); t != "" {
		fmt.Fprintf(w, "Warning: I/O on its own pipes and connections: %s\n\n", t)
	}
}

// writeCoreIO warns, for a real program whose blocking I/O was found
// running or waiting for a core, that the overlap over-counts.
func writeCoreIO(w io.Writer, r *diagnosis.Report) {
	if t := r.CoreIO.Text(); t != "" {
		fmt.Fprintf(w, "Warning: I/O that was CPU: %s\n\n", t)
	}
}

// writeTracingCost warns, for a real program whose probes cost it much of
// its wall, that its short calls look longer than they are.
func writeTracingCost(w io.Writer, r *diagnosis.Report) {
	c := r.TracingCost
	if c == nil || !c.High {
		return
	}
	traps := fmt.Sprintf("%d events", c.Events)
	if lost := int64(min(r.LostEvents, 1<<40)); c.ProbeHits > int64(c.Events)+lost {
		// QA: uncontended lock acquires trap into their probe, whose
		// filter drops them: no event. The count the estimate took
		// (review).
		of := fmt.Sprintf("%d of them events", c.Events)
		if lost > 0 {
			of = fmt.Sprintf("%d of them events and %d lost", c.Events, lost)
		}
		others := "the others, uncontended lock acquires and the like, dropped by the probes' filters"
		if c.LockHolds {
			// --lock-holds filters no acquire: an uncontended one is an
			// event there (QA: the warning said they were dropped).
			others = "the others recorded none: each lock acquire's entry (its return records the hold), the acquires and releases of locks only one thread used, which the trace leaves out, and the like"
		}
		traps = fmt.Sprintf("%d probe hits (%s; %s)", c.ProbeHits, of, others)
	} else if lost > 0 {
		traps = fmt.Sprintf("%d events and %d probe hits lost", c.Events, lost)
	}
	what := fmt.Sprintf("%s at about %s each", traps, textfmt.Dur(c.PerEventNS))
	if c.ThreadStartNS > 0 {
		// QA: a thread-per-request server and 2000 short threads, much
		// slower traced than the events' estimate said.
		what += fmt.Sprintf(", and %d thread starts at about %s each (the probes' events follow each new thread)", c.ThreadStarts, textfmt.Dur(diagnosis.ThreadStartCostNS))
	}
	cost := c.EstimatedNS + c.ThreadStartNS
	if c.SystemCPUNS == 0 {
		fmt.Fprintf(w, "Warning: tracing cost: %s put about %s (%s of the wall) into the probes (an estimate; docs/cpython.md, \"Overhead\"): the untraced program runs faster, and its short blocking calls (I/O, native) and the GIL operations around them look longer here than they are.\n\n",
			what, textfmt.Dur(cost), textfmt.Pct0(c.Share))
		return
	}
	fmt.Fprintf(w, "Warning: tracing cost: %s put at least %s (%s of the wall) into the probes; the program's system CPU time, which the probes' traps (several times %s each on a busy machine) share with its system calls' own work, was %s (%s; docs/cpython.md, \"Overhead\"). The untraced program runs faster, its short blocking calls (I/O, native) and the GIL operations around them look longer here than they are, and the CPU time it obtained, traps included, may hide a busy machine (it counts the traps as the program's own).\n\n",
		what, textfmt.Dur(cost), textfmt.Pct0(c.Share),
		textfmt.Dur(c.PerEventNS), textfmt.Dur(c.SystemCPUNS), textfmt.Pct0(c.SystemShare))
}

// writeNear lists the verdicts not given whose deciding measure was near
// its threshold (those given say so in their sentence).
// A verdict near its boundary by several measures is one line, its
// measures joined (QA: api-service's gil-bound was listed twice).
func writeNear(w io.Writer, r *diagnosis.Report) {
	var codes []string
	figures := map[string][]string{}
	given := map[string]bool{}
	for _, v := range r.Verdicts {
		given[v.Code] = true
	}
	for _, b := range r.NearBoundary {
		// Not given by one of its rules, given by another (gil-bound's
		// rule (c) after rule (a)): not "not given".
		if !b.Fired && !given[b.Code] {
			if figures[b.Code] == nil {
				codes = append(codes, b.Code)
			}
			figures[b.Code] = append(figures[b.Code], b.Figures())
		}
	}
	for _, c := range codes {
		fmt.Fprintf(w, "  near the boundary, not given: %s (%s)\n", c, strings.Join(figures[c], "; "))
	}
}

func writeProcesses(w io.Writer, r *diagnosis.Report) {
	fmt.Fprintf(w, "\nProcesses\n")
	for _, p := range r.Procs {
		if p.Threads == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s (pid %d): %s, wall %s, parallelism %.2f", p.Name, p.PID, textfmt.Plural(p.Threads, "thread"), textfmt.Dur(p.WallNS), p.Parallelism)
		if !p.HasGIL {
			fmt.Fprintf(w, ", no GIL (free-threaded)\n")
			continue
		}
		fmt.Fprintf(w, ", GIL held %s of the wall\n", textfmt.Pct(p.GILHeldFraction))
		fmt.Fprintf(w, "    handoffs %d (%.1f/s), drop requests %d, forced switches %d\n", p.Handoffs, p.HandoffsPerSec, p.DropRequests, p.ForcedSwitches)
		// The counts are of acquisitions while another of them wanted the
		// GIL; the threads table counts all, and the line says so when
		// they differ (QA: 99 here, 100 in the table, unexplained).
		f := p.Fairness
		table := ""
		if d := f.Acquisitions - f.Counted; d == 1 {
			table = fmt.Sprintf(" (of their %d in the threads table: the other one came when no other of them wanted the GIL)", f.Acquisitions)
		} else if d != 0 {
			table = fmt.Sprintf(" (of their %d in the threads table: the other %d came when no other of them wanted the GIL)", f.Acquisitions, d)
		}
		if f.CPUBoundThreads > 1 && f.Most < diagnosis.FairMinAcquisitions {
			fmt.Fprintf(w, "    fairness among %d CPU-bound threads: too few acquisitions while they competed to compare (most %d, by %s)%s\n", f.CPUBoundThreads, f.Most, f.MostThread, table)
		} else if f.CPUBoundThreads > 1 && f.Fewest == f.Most {
			fmt.Fprintf(w, "    fairness: while they competed, each of the %d CPU-bound threads acquired the GIL %s%s\n", f.CPUBoundThreads, textfmt.Plural(f.Most, "time"), table)
		} else if f.CPUBoundThreads > 1 {
			fmt.Fprintf(w, "    fairness among %d CPU-bound threads, while they competed: fewest acquisitions %d (%s), most %d (%s), ratio %.2f%s\n",
				f.CPUBoundThreads, f.Fewest, f.FewestThread, f.Most, f.MostThread, f.Ratio, table)
		}
		writeLatency(w, "GIL re-acquire after I/O", p.ReacquireIO)
		writeLatency(w, "GIL re-acquire after native", p.ReacquireNative)
		if lw := p.LongestWait; lw != nil && lw.DurationNS < 1000 {
			// Uncontended: every acquire at once (QA: "<1us ... at 0ns").
			fmt.Fprintf(w, "    longest GIL wait: under 1us (every thread took the GIL at once)\n")
		} else if lw != nil {
			fmt.Fprintf(w, "    longest GIL wait: %s by %s in %s at %s", waitDur(lw.DurationNS), lw.Thread, siteName(lw.Function, lw.File, lw.Line), textfmt.Dur(lw.StartNS))
			if lw.HeldBy != "" {
				fmt.Fprintf(w, ", while %s held it", lw.HeldBy)
			}
			fmt.Fprintln(w)
		}
	}
}

func writeLatency(w io.Writer, what string, l diagnosis.Latency) {
	if l.Count == 0 {
		return
	}
	fmt.Fprintf(w, "    %s: p50 %s, p99 %s, max %s (%s)\n", what, waitDur(l.P50), waitDur(l.P99), waitDur(l.Max), textfmt.Plural(l.Count, "time"))
}

// waitDur is a wait's duration, "<1us" under a microsecond: an
// uncontended acquire is recorded 1 ns after its request (a thread's
// events have distinct times), which is "at once", not a measured 1ns.
func waitDur(ns int64) string {
	if ns < 1000 {
		return "<1us"
	}
	return textfmt.Dur(ns)
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

func writeSpeedup(w io.Writer, r *diagnosis.Report) {
	wk, sp := r.Work, r.Speedup
	fmt.Fprintf(w, "\nSpeedup\n")
	waiting := ""
	if cw := r.CoreWait; cw != nil && cw.WaitNS > 0 {
		// The threads' running time counts their waits for a core (the
		// note above): the work is over-counted by as much (QA: "work
		// 15.9s" beside "the same work on one thread: 4.00s").
		as := "running"
		if cw.IOWaitNS > 0 {
			as = "running or I/O"
		}
		waiting = fmt.Sprintf(" (%s of it waiting for a core, counted as %s: see the note above)", textfmt.Dur(cw.WaitNS), as)
	}
	fmt.Fprintf(w, "  work %s%s: serial (needs the GIL) %s, parallel (I/O, GIL-releasing native, no GIL) %s\n",
		textfmt.Dur(wk.TotalNS), waiting, textfmt.Pct(wk.SerialShare), textfmt.Pct(wk.ParallelShare))
	if len(wk.BlockedBefore) > 0 {
		// An attach's threads first seen late: their time before then,
		// which the thread table does not have.
		which := "a thread that existed before the attach, counted as a blocking call (the thread table has its time from then)"
		if len(wk.BlockedBefore) > 1 {
			which = "threads that existed before the attach, counted as blocking calls (the thread table has their time from then)"
		}
		parts := make([]string, len(wk.BlockedBefore))
		for i, b := range wk.BlockedBefore {
			parts[i] = fmt.Sprintf("%s %s, first seen %s into the trace", b.Thread, textfmt.Dur(b.BlockedNS), textfmt.Dur(b.FirstSeenNS))
		}
		fmt.Fprintf(w, "  of it, time before the trace first saw %s: %s\n", which, strings.Join(parts, "; "))
	}
	if r.GILMode == string(tracer.GILNone) { // free-threaded: no GIL to have a ceiling (QA)
		fmt.Fprintf(w, "  ceiling for %s: none from a GIL (free-threaded); Amdahl's law %s (an estimate, not a bound: threads overlapping I/O can beat it)\n", textfmt.Plural(sp.Threads, "thread"), textfmt.X(sp.AmdahlLaw))
	} else {
		fmt.Fprintf(w, "  ceiling for %s: GIL %s (serial work, or work per thread); Amdahl's law %s (an estimate, not a bound: threads overlapping I/O can beat it)\n", textfmt.Plural(sp.Threads, "thread"), textfmt.X(sp.GILCeiling), textfmt.X(sp.AmdahlLaw))
	}
	capped := ""
	if sp.CPUCapped {
		capped = fmt.Sprintf(", CPU time capped at %s x wall", textfmt.Plural(sp.Cores, "core"))
	}
	fmt.Fprintf(w, "  achieved, from the trace's overlap: %s (the same work on one thread: %s, wall %s%s)\n", textfmt.X(sp.Overlap), textfmt.Dur(sp.SerialEquivNS), textfmt.Dur(r.WallNS), capped)
	if m := r.Machine; m != nil && m.Busy && r.WallNS > 0 {
		// QA: "achieved 2.08x" beside a run that got 0.79 of a core read
		// as a speedup the run did not have.
		got := float64(m.CPUNS) / float64(r.WallNS)
		whose, not := "the run", ""
		if m.MainProcessOnly {
			// Its CPU time is its main process's: no bound on the others'
			// work (QA: "the run" for the main process's 152 ms).
			whose = "the main process"
		}
		if bound, ok := r.BusyBound(); ok && sp.Overlap > bound*(1+diagnosis.ConsistencySlack) {
			not = fmt.Sprintf(": it ran at most %s as fast as one thread would on a free core, not %s", textfmt.X(bound), textfmt.X(sp.Overlap))
		}
		fmt.Fprintf(w, "    (what the GIL and the locks let the threads overlap; the busy machine gave %s %s of CPU in the run's %s of wall, %.2f of a core%s)\n",
			whose, textfmt.Dur(m.CPUNS), textfmt.Dur(r.WallNS), got, not)
	}
	if label, figure, about := Measured(r); figure != "" {
		fmt.Fprintf(w, "  %s: %s (%s)\n", label, figure, about)
	} else {
		fmt.Fprintf(w, "  %s: %s\n", label, about)
	}
	shared := ""
	if sp.WithoutLocks > 0 && textfmt.X(sp.WithoutLocks) != textfmt.X(sp.WithoutGIL) {
		shared = " (their locks shared)" // QA: read as compare's processes, each with its own locks
	}
	fmt.Fprintf(w, "  estimated on %s, with the same threads: as processes%s %s, without a GIL %s\n", textfmt.Plural(sp.Cores, "core"), shared, textfmt.X(sp.AsProcesses), textfmt.X(sp.WithoutGIL))
	if sp.Limit.Text != "" {
		fmt.Fprintf(w, "    bounded by %s\n", sp.Limit.Text)
	}
	if sp.LockHoldsInferred {
		fmt.Fprintf(w, "    (the program's locks were traced without --lock-holds: these estimates do not know how long they were held, and count the holders' time under them as work that overlaps; they may be far too high)\n")
	}
	if sp.WithoutLocks > 0 && textfmt.X(sp.WithoutLocks) != textfmt.X(sp.WithoutGIL) {
		fmt.Fprintf(w, "    with no lock serialising the threads (each with its own data, as compare's processes mode runs a workload): %s\n", textfmt.X(sp.WithoutLocks))
	}
}

func writeFunctions(w io.Writer, r *diagnosis.Report) {
	if slices.ContainsFunc(r.TopWait, func(f diagnosis.FuncTime) bool { return f.TotalNS >= minHeldNS }) {
		fmt.Fprintf(w, "\nTop functions by GIL wait (the waiter's function)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  function\tline\twaits\ttotal\tshare\tlongest\n")
		for _, f := range r.TopWait {
			if f.TotalNS < minHeldNS {
				continue // uncontended re-acquires; the JSON keeps it
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\n", f.Function, lineOf(f), f.Count, textfmt.Dur(f.TotalNS), textfmt.Pct(f.Share), textfmt.Dur(f.MaxNS))
		}
		tw.Flush()
	}
	if len(r.TopHold) > 0 {
		fmt.Fprintf(w, "\nTop functions by GIL hold (blame: others' GIL wait while it held the GIL)\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  function\tline\tblame\tshare\theld\tof which native\tacquisitions\n")
		var leftRows, leftAcq, allAcq int
		for _, f := range r.TopHold {
			allAcq += f.Count
			if f.TotalNS < minHeldNS && f.BlameNS < minHeldNS {
				leftRows, leftAcq = leftRows+1, leftAcq+f.Count
				continue // the JSON keeps it: the rows sum to the blame
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\n", f.Function, lineOf(f), textfmt.Dur(f.BlameNS), textfmt.Pct(f.Share), textfmt.Dur(f.TotalNS), textfmt.Dur(f.NativeNS), f.Count)
		}
		tw.Flush()
		if leftAcq*10 > allAcq {
			// An acquisition counts where the thread took the GIL, and the
			// hold where it ran: a thread back from I/O takes it in the
			// caller, then holds it in the function it calls (QA: 40 of 48
			// acquisitions missing from the table). Said when more than a
			// tenth of them are in rows left out.
			were := "were"
			if leftAcq == 1 {
				were = "was"
			}
			fmt.Fprintf(w, "  (acquisitions count where the GIL was taken: %d %s taken at %s that held it under 1us, left out here; report.json lists them)\n",
				leftAcq, were, textfmt.Plural(leftRows, "function line"))
		}
	}
}

// minHeldNS is the least time holding the GIL, or blame, that the text
// lists a function by GIL hold with: a trace passes through its callers'
// frames for a few nanoseconds as its stack changes, which are not holds
// worth a row.
const minHeldNS = 1000

func lineOf(f diagnosis.FuncTime) string {
	if f.Line <= 0 {
		return "-"
	}
	return fmt.Sprint(f.Line)
}

func writeLocks(w io.Writer, r *diagnosis.Report) {
	if len(r.Locks) == 0 {
		return
	}
	if r.Source == "cpython" {
		fmt.Fprintf(w, "\nLocks (threading's: Lock, RLock, Condition, queues, joins)\n") // QA: "guest" is the VM's word
	} else {
		fmt.Fprintf(w, "\nGuest locks\n")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  lock\tprocess\twaits\twait\tholds\theld\theld mostly in\n")
	// Past ManyLockRows, the locks nobody waited for, and those that no
	// two threads shared and that were waited for once at most (a
	// Condition's waiter locks, one allocated for each wait), are summed
	// in one row: the JSON lists each (QA: with --lock-holds, about 120
	// rows of a queue's waiter locks, each waited for once, after the one
	// lock that mattered).
	// A join's lock (the VM's too), and a lock whose one wait is 1 % or
	// more of all the locks' waiting (a mutex two threads held twice,
	// which the estimates count), keep their rows (review).
	var rest struct {
		n, waits, holds int
		waitNS, holdNS  int64
	}
	var all int64
	for _, l := range r.Locks {
		all += l.WaitNS
	}
	for _, l := range r.Locks {
		if len(r.Locks) > ManyLockRows && (l.Waits == 0 || !l.Shared && !l.Notify && l.Waits <= 1 && !tracer.JoinLockName(l.Name) && 100*l.WaitNS < all) {
			rest.n++
			rest.waits += l.Waits
			rest.holds += l.Holds
			rest.waitNS += l.WaitNS
			rest.holdNS += l.HoldNS
			continue
		}
		by := "-"
		if l.HeldBy != "" {
			by = strings.TrimSpace(siteName(l.HeldBy, "", l.HeldLine))
		}
		if l.Notify {
			// Taken to be notified: nobody held it while others waited
			// for a critical section; say where it was waited for.
			by = "- (waits for a notification"
			if l.WaitedIn != "" {
				by += ", in " + strings.TrimSpace(siteName(l.WaitedIn, "", l.WaitedLine))
			}
			by += ")"
		}
		holds, held := fmt.Sprint(l.Holds), textfmt.Dur(l.HoldNS)
		if l.HoldsInferred {
			// Not recorded (a real program without --lock-holds): the
			// trace shows a waiter "holding" it from its wait's end
			// until it had the GIL back, not its hold (QA: "held
			// 9.06ms" for a lock held 561ms).
			holds, held = "-", "not recorded"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\n", l.Name, l.Process, l.Waits, textfmt.Dur(l.WaitNS), holds, held, by)
	}
	if rest.n > 0 {
		fmt.Fprintf(tw, "  %d more locks\t-\t%d\t%s\t%d\t%s\t- (each never waited for, or waited for once and not shared: a Condition's waiter locks; report.json lists each)\n",
			rest.n, rest.waits, textfmt.Dur(rest.waitNS), rest.holds, textfmt.Dur(rest.holdNS))
	}
	tw.Flush()
}

// ManyLockRows: past this many guest locks, the text's lock table sums
// in one row the locks nobody waited for and those that were waited for
// once at most and that no two threads shared (writeLocks).
const ManyLockRows = 24
