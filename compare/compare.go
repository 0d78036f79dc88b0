// Package compare runs one workload under variants (thread counts, threads
// or processes or no GIL, switch intervals) and tabulates how each variant
// scaled: wall time, throughput, speedup over one thread, GIL wait and the
// report's verdict. It keeps every run's trace and draws the speedup chart.
//
// The runs themselves are done by a Runner (the VM, wired by the CLI), so
// that this package is tested on built traces.
package compare

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
)

// Modes: how the workload's thread groups run.
const (
	Threads      = "threads"       // n threads of each group in one process, under the GIL
	Processes    = "processes"     // n processes, each running one thread of each group with its own GIL
	FreeThreaded = "free-threaded" // n threads of each group in one process, no GIL (mode none)
)

// AllModes are the modes in table and chart order.
var AllModes = []string{Threads, Processes, FreeThreaded}

// Variant is one run of the comparison.
type Variant struct {
	Mode           string
	Threads        int           // threads per group (threads, free-threaded) or processes (processes)
	SwitchInterval time.Duration // 0: the workload's own; always 0 for free-threaded
}

// Name is the variant's file-name-safe name: "threads-4", "processes-2-si1ms".
func (v Variant) Name() string {
	n := fmt.Sprintf("%s-%d", v.Mode, v.Threads)
	if v.SwitchInterval > 0 {
		n += "-si" + v.SwitchInterval.String()
	}
	return n
}

// Runner runs one variant and returns its trace. An error wrapping a
// context error stops the comparison.
type Runner func(ctx context.Context, v Variant) (*tracer.Trace, error)

// Options configure a comparison.
type Options struct {
	Workload        string          // the workload's name
	CallsPerThread  int             // calls of its run functions one thread makes (the repeats of the groups that scale: CallsPerThread)
	Threads         []int           // thread counts; 1 is added if missing (the speedup baseline)
	Modes           []string        // of AllModes; empty means all
	SwitchIntervals []time.Duration // for the GIL modes; empty means the workload's own
	Runs            int             // runs per variant, keeping the fastest (least disturbed); 0 means 1
	Dir             string          // where every run's trace is kept; "" keeps none
	Progress        io.Writer       // one line per variant; nil for none
}

// Row is one variant's outcome.
type Row struct {
	Mode             string   `json:"mode"`
	Threads          int      `json:"threads"`
	SwitchIntervalNS int64    `json:"switch_interval_ns"` // as recorded; 0 for free-threaded and the legacy GIL (none)
	WallNS           int64    `json:"wall_ns"`
	Calls            int      `json:"calls"`      // run-function calls completed by all threads
	Throughput       float64  `json:"throughput"` // Calls per second
	Speedup          float64  `json:"speedup"`    // Throughput over the same mode's one-thread throughput
	Overlap          float64  `json:"overlap"`    // the report's achieved speedup: the same work on one thread over the wall, from the trace
	GILWaitFraction  float64  `json:"gil_wait_fraction"`
	Verdicts         []string `json:"verdicts"`
	// SpeedupBound: a measured run's (--clock real) highest speedup
	// that its cores allow its CPU work (the one-thread run's, N times;
	// speedupBound): a Speedup above it is a slow baseline or an
	// inconsistent measurement, as the table's note says. 0 in virtual
	// time, and when the traces do not give it.
	SpeedupBound float64 `json:"speedup_bound,omitempty"`
	// BusyMachine: a measured run (--clock real) that obtained less than
	// diagnosis.BusyCPUShare of the CPU time its threads wanted
	// (ObtainedShare): its wall, speedup, overlap and verdicts are
	// distorted, and the table marks it (QA: a free-threaded run that
	// obtained 15 % was printed "1.67x overlap, scales" with no word).
	BusyMachine   bool    `json:"busy_machine,omitempty"`
	ObtainedShare float64 `json:"obtained_share,omitempty"`
	Trace         string  `json:"trace,omitempty"` // the kept .giltrace file
	// Error is why the variant's run failed (a deadlock that its thread
	// count makes: a main thread waiting for more notifies than one
	// worker gives); its figures are then zero. The other variants still
	// run.
	Error string `json:"error,omitempty"`

	interval time.Duration // the requested switch interval, for grouping
	// work is the CPU work of the run's trace, for the bound on the
	// speedups over it (speedupBound); nil when the trace gives none.
	work *runWork
}

// runWork is what a run's trace says of its work that needs a core:
// running and native calls, the diagnosis's CPU work (Report.Work); its
// I/O and sleeps need none.
type runWork struct {
	// cpuNS is the threads' CPU work, as the report counts it in the
	// serial-equivalent time: at most cores × wall, and in virtual time
	// the VM's own count (without the waits for a simulated core); when
	// the threads outnumbered the cores, at most the CPU time the run
	// obtained (their running time may hold waits for a core). -1 when
	// the trace gives no figure that can be trusted: a measured run whose
	// threads outnumbered the cores, without the CPU time it obtained.
	cpuNS int64
	// threads is each thread's CPU work, largest first.
	threads []int64
	// queued: more threads than cores, so that each thread's figure may
	// count a wait for a core as running.
	queued bool
	cores  int // the cores the run had (Speedup.Cores)
}

// workOf is the CPU work of a run, from its report r (the report's own
// figure, Speedup.CPUWorkNS); nil when the trace has no cores, wall or
// threads.
func workOf(r *diagnosis.Report) *runWork {
	cores := r.Speedup.Cores
	if cores <= 0 || r.WallNS <= 0 || len(r.Threads) == 0 {
		return nil
	}
	w := &runWork{threads: make([]int64, len(r.Threads)), queued: len(r.Threads) > cores, cores: cores}
	for i := range r.Threads {
		th := &r.Threads[i]
		w.threads[i] = th.RunningNS + th.NativeNS + th.NativeHoldingNS // as Work.CPUNS sums them
	}
	slices.SortFunc(w.threads, func(a, b int64) int { return cmp.Compare(b, a) })
	w.cpuNS = r.Speedup.CPUWorkNS()
	if r.Clock != "virtual" && w.queued {
		if m := r.Machine; m != nil && !m.MainProcessOnly {
			w.cpuNS = min(w.cpuNS, m.CPUNS)
		} else {
			w.cpuNS = -1
		}
	}
	return w
}

// Result is a comparison.
type Result struct {
	Workload string `json:"workload"`
	Cores    int    `json:"cores"`
	Clock    string `json:"clock,omitempty"` // "virtual" if the runs were simulated (their traces' Extra["clock"]); "" measured
	Rows     []Row  `json:"rows"`
	// Notes say what the table does not: set by the caller (cmd's
	// compare: a workload's processes: that its variants do not use).
	Notes []string `json:"notes,omitempty"`
}

// Variants lists the runs of o in order: by mode, then switch interval,
// then thread count.
func (o *Options) Variants() ([]Variant, error) {
	modes := o.Modes
	if len(modes) == 0 {
		modes = AllModes
	}
	for _, m := range modes {
		if !slices.Contains(AllModes, m) {
			return nil, fmt.Errorf("unknown mode %q (want %s, %s or %s)", m, Threads, Processes, FreeThreaded)
		}
	}
	counts := slices.Clone(o.Threads)
	if len(counts) == 0 {
		counts = []int{1, 2, 4, 8}
	}
	for _, n := range counts {
		if n < 1 {
			return nil, fmt.Errorf("thread count %d: must be at least 1", n)
		}
	}
	if !slices.Contains(counts, 1) {
		counts = append(counts, 1)
	}
	slices.Sort(counts)
	counts = slices.Compact(counts)
	intervals := o.SwitchIntervals
	if len(intervals) == 0 {
		intervals = []time.Duration{0}
	}
	for _, d := range intervals {
		if d < 0 {
			return nil, fmt.Errorf("switch interval %v: must be positive", d)
		}
	}
	var vs []Variant
	for _, m := range AllModes {
		if !slices.Contains(modes, m) {
			continue
		}
		ivs := intervals
		if m == FreeThreaded {
			ivs = []time.Duration{0}
		}
		for _, d := range ivs {
			for _, n := range counts {
				vs = append(vs, Variant{Mode: m, Threads: n, SwitchInterval: d})
			}
		}
	}
	return vs, nil
}

// Run runs every variant of o with run, keeps each trace in o.Dir and
// tabulates them. Progress goes to o.Progress. If ctx is done, it returns
// the rows finished so far with the context's error.
func Run(ctx context.Context, o Options, run Runner) (*Result, error) {
	vs, err := o.Variants()
	if err != nil {
		return nil, fmt.Errorf("comparing %s: %w", o.Workload, err)
	}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("comparing %s: %w", o.Workload, err)
		}
	}
	res := &Result{Workload: o.Workload, Rows: []Row{}}
	start := time.Now()
	// The wall of each mode's (and switch interval's) one-thread run: N
	// threads do N times its work, so N times it is the wall of the same
	// work on one thread, measured, which each run's trace records
	// (diagnosis.ExtraSerialWall) for its report's measured speedup.
	type base struct {
		mode     string
		interval time.Duration
	}
	oneThread := map[base]int64{}
	var failed []string // the variants that failed
	var firstErr error
	for i, v := range vs {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "compare: [%d/%d] %s (%d left, %s elapsed)\n", i+1, len(vs), v.Name(), len(vs)-i-1, time.Since(start).Round(time.Second))
		}
		t, err := o.best(ctx, v, run)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				res.finish()
				kept := ""
				if t != nil && o.Dir != "" {
					// What the variant had run, its trace marked
					// interrupted, as record keeps an interrupted run
					// (QA: only the finished variants were kept).
					p := filepath.Join(o.Dir, v.Name()+".giltrace")
					if werr := tracer.WriteFile(p, t); werr == nil {
						kept = fmt.Sprintf(" (what it had run is kept: %s)", p)
					}
				}
				return res, fmt.Errorf("comparing %s: stopped at %s%s: %w", o.Workload, v.Name(), kept, err)
			}
			// A row that says why, and the other variants still run (QA:
			// the one-thread variant of a pool whose main thread waits
			// for four workers' notifies deadlocked, and compare printed
			// nothing).
			if len(failed) == 0 {
				firstErr = err
			}
			failed = append(failed, v.Name())
			res.Rows = append(res.Rows, Row{Mode: v.Mode, Threads: v.Threads, SwitchIntervalNS: int64(v.SwitchInterval),
				Verdicts: []string{}, Error: err.Error(), interval: v.SwitchInterval})
			continue
		}
		if v.Threads == 1 {
			oneThread[base{v.Mode, v.SwitchInterval}] = t.Duration()
		} else if w, ok := oneThread[base{v.Mode, v.SwitchInterval}]; ok && w > 0 {
			if t.Meta.Extra == nil {
				t.Meta.Extra = map[string]string{}
			}
			t.Meta.Extra[diagnosis.ExtraSerialWall] = strconv.FormatInt(int64(v.Threads)*w, 10)
		}
		row, err := o.row(v, t)
		if err != nil {
			return res, err
		}
		res.Cores = max(res.Cores, t.Meta.Cores)
		if c := t.Meta.Extra["clock"]; c != "" {
			res.Clock = c
		}
		res.Rows = append(res.Rows, row)
	}
	res.finish()
	if len(failed) > 0 {
		return res, fmt.Errorf("comparing %s: %d of %d variants failed (%s; each row says why); the first, %s: %w", o.Workload, len(failed), len(vs), strings.Join(failed, ", "), failed[0], firstErr)
	}
	return res, nil
}

// best runs v o.Runs times and returns the trace with the shortest wall:
// on a busy machine, the run least disturbed by the rest of it.
func (o *Options) best(ctx context.Context, v Variant, run Runner) (*tracer.Trace, error) {
	var best *tracer.Trace
	for range max(o.Runs, 1) {
		t, err := run(ctx, v)
		if err != nil {
			if ctx.Err() != nil && t != nil && best == nil {
				return t, err // stopped: what it had run (Run keeps it)
			}
			return nil, err
		}
		if best == nil || t.Duration() < best.Duration() {
			best = t
		}
	}
	return best, nil
}

// row analyses one run and keeps its trace.
func (o *Options) row(v Variant, t *tracer.Trace) (Row, error) {
	r := diagnosis.Analyze(tracer.Derive(t))
	row := Row{
		Mode:             v.Mode,
		Threads:          v.Threads,
		SwitchIntervalNS: r.SwitchIntervalNS,
		WallNS:           r.WallNS,
		Calls:            v.Threads * o.CallsPerThread,
		Overlap:          r.Speedup.Overlap,
		Verdicts:         []string{},
		interval:         v.SwitchInterval,
		work:             workOf(r),
	}
	if v.Mode == FreeThreaded || t.Meta.GILMode == tracer.GILLegacy {
		// No switch interval: no GIL, or the legacy GIL's check interval.
		row.SwitchIntervalNS = 0
	}
	if r.WallNS > 0 {
		row.Throughput = round3(float64(row.Calls) / (float64(r.WallNS) / 1e9))
	}
	var wait, wall int64
	for _, th := range r.Threads {
		wait += th.GILWaitNS
		wall += th.WallNS
	}
	if wall > 0 {
		row.GILWaitFraction = round3(float64(wait) / float64(wall))
	}
	for _, vd := range r.Verdicts {
		row.Verdicts = append(row.Verdicts, vd.Code)
	}
	if m := r.Machine; m != nil && m.Busy {
		row.BusyMachine, row.ObtainedShare = true, m.Share
	}
	if o.Dir != "" {
		row.Trace = filepath.Join(o.Dir, v.Name()+".giltrace")
		if err := tracer.WriteFile(row.Trace, t); err != nil {
			return row, fmt.Errorf("comparing %s: keeping the trace of %s: %w", o.Workload, v.Name(), err)
		}
	}
	return row, nil
}

// finish computes each row's speedup over the one-thread row of the same
// mode and switch interval.
func (r *Result) finish() {
	for i := range r.Rows {
		row := &r.Rows[i]
		// From the calls and walls, not the rounded throughputs (QA: runs
		// of hours, 0.0 calls a second, all gave 0.00x).
		if b := r.baseline(row); b != nil && b.Calls > 0 && b.WallNS > 0 && row.WallNS > 0 && row.Error == "" {
			row.Speedup = round3(float64(row.Calls) / float64(row.WallNS) * float64(b.WallNS) / float64(b.Calls))
		}
		row.SpeedupBound = 0
		if r.Clock != "virtual" && r.Cores > 0 && row.Error == "" {
			if bound, ok := r.speedupBound(row); ok {
				row.SpeedupBound = round3(bound)
			}
		}
	}
}

func round3(f float64) float64 {
	// math.Round, not int64(f*1000+0.5), which moved every negative
	// figure (a replay shorter than the measured wall) 0.001 toward zero:
	// -0.023 gave -0.022. + 0 makes a -0 (from -0.0003) a 0, which JSON
	// and the text's %+.1f print without a sign.
	return math.Round(f*1000)/1000 + 0
}
