package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/textfmt"
)

// WriteText writes the comparison table.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s. speedup: throughput over the same mode's one-thread run (%s);\n", r.Workload, r.machine(), r.how())
	fmt.Fprintf(&b, "overlap: the run's work back to back over its wall, from the trace (what the GIL allowed).\n")
	// QA: the throughput's calls and a verdict "-" were said nowhere.
	fmt.Fprintf(&b, "throughput: calls of the thread groups' run functions completed per second (daemons left out); verdict -: none reached its threshold.\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "mode\tthreads\tswitch interval\twall\tthroughput\tspeedup\toverlap\tGIL wait\tverdict\n")
	for _, row := range r.Rows {
		si := "-"
		if row.SwitchIntervalNS > 0 {
			si = time.Duration(row.SwitchIntervalNS).String()
		}
		verdict := strings.Join(row.Verdicts, ",")
		if verdict == "" {
			verdict = "-"
		}
		if row.BusyMachine {
			verdict += " (busy machine*)"
		}
		if row.Error != "" {
			fmt.Fprintf(tw, "%s\t%d\t%s\t-\t-\t-\t-\t-\tfailed: %s\n", row.Mode, row.Threads, si, shortError(row.Error))
			continue
		}
		speedup := fmt.Sprintf("%.2fx", row.Speedup)
		if row.Speedup == 0 {
			speedup = "-" // no one-thread run of its mode to compare with (it failed)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.1f calls/s\t%s\t%.2fx\t%.1f%%\t%s\n",
			row.Mode, row.Threads, si, textfmt.Dur(row.WallNS), row.Throughput, speedup, row.Overlap, 100*row.GILWaitFraction, verdict)
	}
	tw.Flush()
	b.WriteString(r.baselineNote())
	b.WriteString(r.aboveCoresNote())
	b.WriteString(r.busyNote())
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nnote: %s\n", n)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing comparison: %w", err)
	}
	return nil
}

// aboveCoresNote says, for measured runs, which speedups exceed what the
// cores allow the runs' CPU work (Row.SpeedupBound, set by finish): no run's work can go
// faster than that, so such a figure is a slow one-thread run, the
// baseline, or an inconsistent measurement, not a gain (QA: "processes 2:
// 2.11x" on 2 cores with --clock real). A speedup above the cores that
// the I/O explains is not one (QA: web-scraping's threads 2, 1.88x on 1
// core, was said to be: its threads wait on the network, which needs no
// core). "" otherwise, in virtual time, and for a run whose CPU work its
// one-thread run's trace does not give.
func (r *Result) aboveCoresNote() string {
	if r.Clock == "virtual" || r.Cores <= 0 {
		return ""
	}
	var over []string
	for _, row := range r.Rows {
		if bound := row.SpeedupBound; bound > 0 && row.Speedup > bound*(1+diagnosis.ConsistencySlack) {
			over = append(over, fmt.Sprintf("%s %d: %.2fx (at most %.2fx)", row.Mode, row.Threads, row.Speedup, bound))
		}
	}
	if len(over) == 0 {
		return ""
	}
	allow := "allow"
	if r.Cores == 1 {
		allow = "allows"
	}
	return fmt.Sprintf("\nAbove what the %s %s: %s. No run goes faster than its cores allow its CPU work (running and native calls: N times the one-thread run's, over the cores; each thread's, on one core at a time; I/O needs no core): such a figure is a one-thread run slowed by the machine, or an inconsistent measurement (see its verdicts), not a gain. Add --runs 3, or compare in virtual time (the default).\n",
		textfmt.Plural(r.Cores, "core"), allow, strings.Join(over, ", "))
}

// speedupBound is the most the run of row can be faster than its mode's
// one-thread run (of the same switch interval), given the CPU work of that
// run's trace (runWork), as the diagnosis bounds a run without a GIL
// ("estimated on N cores ... bounded by": the CPU work over the cores, a
// thread's own work; diagnosis.Limit). The run of row has N workers
// (N = row.Threads) doing N times the one-thread run's work, on C cores
// (the run's): its wall is at least
//
//   - its CPU work over the cores: N times the one-thread run's CPU work,
//     less, for the threads that do not multiply (a thread group that
//     starts others keeps its count, vm.Options.Threads), as much as the
//     one-thread run's busiest threads did, over C; and
//   - the one-thread run's busiest thread's CPU work, which each of its
//     copies does on one core at a time (unless that run's threads
//     outnumbered its cores: their figures may hold waits for a core);
//
// and its speedup, N × W1 / its wall (W1: the one-thread run's wall), at
// most N × W1 over the larger. I/O needs no core: N threads that wait on
// the network can be N times as fast on one core, and the bound says so.
// The I/O of the busiest thread is left out of it: its jitter is drawn
// per thread, so that its copies need not wait as long. The bound is on
// the machine, not on the GIL: a run under it may be far slower.
//
// ok is false when the one-thread run's trace gave no CPU work
// (Row.work), row's none of its threads, there is no one-thread run to
// compare with, or row is one.
func (r *Result) speedupBound(row *Row) (bound float64, ok bool) {
	base := r.baseline(row)
	if base == nil || base == row || base.work == nil || row.work == nil || base.WallNS <= 0 || row.Threads < 2 {
		return 0, false
	}
	w := base.work
	cores := row.work.cores
	if cores <= 0 {
		cores = r.Cores
	}
	if cores <= 0 || len(w.threads) == 0 || w.cpuNS < 0 {
		return 0, false
	}
	n := row.Threads
	// The one-thread run's threads that run once in row's (k): row's
	// run has n copies of the others; the busiest k of them count once.
	t1, tn := len(w.threads), len(row.work.threads)
	k := t1 - max(tn-t1, 0)/(n-1)
	k = min(max(k, 0), t1)
	var once int64
	for _, c := range w.threads[:k] {
		once += c
	}
	copied := max(w.cpuNS-once, 0)
	least := float64(w.cpuNS+int64(n-1)*copied) / float64(cores)
	if !w.queued {
		least = max(least, float64(w.threads[0]))
	}
	if least <= 0 {
		return 0, false // no CPU work: nothing bounds it but the I/O
	}
	return float64(n) * float64(base.WallNS) / least, true
}

// baseline is the one-thread row of row's mode and switch interval, which
// its speedup is over (finish); nil if there is none or it failed.
func (r *Result) baseline(row *Row) *Row {
	for i := range r.Rows {
		b := &r.Rows[i]
		if b.Threads == 1 && b.Mode == row.Mode && b.interval == row.interval && b.Error == "" {
			return b
		}
	}
	return nil
}

// busyNote names the measured runs during which the machine was busy
// (Row.BusyMachine), with the CPU time each obtained: their figures are
// distorted. "" when none was.
func (r *Result) busyNote() string {
	var busy []string
	for _, row := range r.Rows {
		if row.BusyMachine {
			busy = append(busy, fmt.Sprintf("%s %d (%s)", row.Mode, row.Threads, textfmt.Pct0(row.ObtainedShare)))
		}
	}
	if len(busy) == 0 {
		return ""
	}
	return fmt.Sprintf("\n* Busy machine: %s obtained less than %s of the CPU time their threads wanted: their wall, speedup, overlap and verdicts are distorted (each run's report: giltrace report TRACE). Compare again on a quieter machine, or in virtual time (the default).\n",
		strings.Join(busy, ", "), textfmt.Pct0(diagnosis.BusyCPUShare))
}

// baselineNote says, when the modes' one-thread runs differ in throughput
// by more than 10 %, that each mode's speedup starts from its own: at the
// same throughput, processes and free-threaded printed 4.00x and 2.90x
// (QA), the free-threaded run of one thread per group being 1.38x as fast
// as the others'. "" otherwise.
func (r *Result) baselineNote() string {
	base := map[string]float64{} // mode -> its one-thread throughput, at its first switch interval
	var order []string
	for _, row := range r.Rows {
		if _, ok := base[row.Mode]; !ok && row.Threads == 1 && row.Throughput > 0 {
			base[row.Mode] = row.Throughput
			order = append(order, row.Mode)
		}
	}
	lo, hi := "", ""
	for _, m := range order {
		if lo == "" || base[m] < base[lo] {
			lo = m
		}
		if hi == "" || base[m] > base[hi] {
			hi = m
		}
	}
	if lo == "" || base[hi] <= 1.1*base[lo] {
		return ""
	}
	return fmt.Sprintf("\nThe modes' one-thread runs differ: with one thread, %s does %.1f calls/s and %s %.1f (%.2fx). Each speedup is over its own mode's, so compare the modes by throughput.\n",
		hi, base[hi], lo, base[lo], base[hi]/base[lo])
}

// machine is the cores the runs had: "8 cores", or "8 simulated cores
// (virtual time)".
func (r *Result) machine() string {
	if r.Clock == "virtual" {
		return textfmt.Plural(r.Cores, "simulated core") + " (virtual time)"
	}
	return textfmt.Plural(r.Cores, "core")
}

// machineShort is machine without parentheses, for the charts' titles,
// which put it in their own: "8 cores", "8 simulated cores, virtual time".
func (r *Result) machineShort() string {
	if r.Clock == "virtual" {
		return textfmt.Plural(r.Cores, "simulated core") + ", virtual time"
	}
	return textfmt.Plural(r.Cores, "core")
}

// how says whether the figures were measured or simulated.
func (r *Result) how() string {
	if r.Clock == "virtual" {
		return "simulated"
	}
	return "measured"
}

// WriteJSON writes the comparison as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing comparison json: %w", err)
	}
	return nil
}

// shortError is the first clause of a failed variant's error, after the
// run's name, for the table (the JSON keeps it whole): "deadlock".
func shortError(e string) string {
	for _, p := range []string{"running workload ", "run interrupted: "} {
		if i := strings.Index(e, p); i >= 0 {
			e = e[i+len(p):]
			if p == "running workload " {
				if j := strings.Index(e, ": "); j >= 0 {
					e = e[j+2:]
				}
			}
		}
	}
	if i := strings.IndexAny(e, ":("); i > 0 {
		e = e[:i]
	}
	return strings.TrimSpace(e)
}
