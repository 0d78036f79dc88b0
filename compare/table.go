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
	fmt.Fprintf(&b, "overlap: the run's work back to back over its wall, from the trace (what the GIL allowed).\n\n")
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
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing comparison: %w", err)
	}
	return nil
}

// aboveCoresNote says, for measured runs, which speedups exceed the cores:
// no run's work can go faster than the cores allow, so such a figure is a
// slow one-thread run, the baseline, or an inconsistent measurement, not a
// gain (QA: "processes 2: 2.11x" on 2 cores with --clock real). "" otherwise,
// and in virtual time.
func (r *Result) aboveCoresNote() string {
	if r.Clock == "virtual" || r.Cores <= 0 {
		return ""
	}
	var over []string
	for _, row := range r.Rows {
		if row.Speedup > float64(r.Cores)*1.02 {
			over = append(over, fmt.Sprintf("%s %d: %.2fx", row.Mode, row.Threads, row.Speedup))
		}
	}
	if len(over) == 0 {
		return ""
	}
	return fmt.Sprintf("\nAbove the %s: %s. No run goes faster than its cores allow: such a figure is a one-thread run slowed by the machine, or an inconsistent measurement (see its verdicts), not a gain. Add --runs 3, or compare in virtual time (the default).\n",
		textfmt.Plural(r.Cores, "core"), strings.Join(over, ", "))
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
