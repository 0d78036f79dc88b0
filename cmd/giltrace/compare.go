package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/giltrace/giltrace/compare"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
	"github.com/spf13/cobra"
)

// compareOptions are the arguments of giltrace compare.
type compareOptions struct {
	File            string
	Threads         []int
	Modes           []string
	SwitchIntervals []time.Duration
	Runs            int    // runs per variant, keeping the fastest
	Dir             string // "" means giltrace-out/<name>/compare
	JSON            bool
	Clock           string        // --clock: virtual (default) or real
	Cores           int           // --cores: simulated cores; 0 is this machine's
	Seed            *int64        // --seed; nil keeps the workload's
	IPCCost         time.Duration // --ipc-cost: per worker, for the processes predictions of a recorded run
}

func newCompareCmd() *cobra.Command { return compareCmd(runCompare) }

// compareCmd builds the command around run, so that tests can check the
// parsed options.
func compareCmd(run func(*cobra.Command, *compareOptions) error) *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use: "compare WORKLOAD.yaml | RUN.giltrace",
		// The what-if lives here: a recorded run's predictions (QA:
		// `giltrace whatif` had no suggestion).
		SuggestFor: []string{"whatif", "what-if", "predict"},
		Short:      "Run a workload as threads, processes and free-threaded at several sizes, and compare",
		Long: "compare runs the workload under every variant: each thread count of --threads,\n" +
			"as threads under the GIL, as that many processes, or free-threaded (no GIL),\n" +
			"and under each switch interval. It prints wall time, throughput, speedup over\n" +
			"one thread, GIL wait and the verdict of each (throughput counts the calls of\n" +
			"the thread groups that scale with --threads; a group that starts others runs\n" +
			"once at every size and is not counted, nor is a daemon group beside groups\n" +
			"that are not: it stops when they end), keeps every run's trace in DIR,\n" +
			"and draws DIR/speedup.svg and DIR/speedup.png: speedup against thread count,\n" +
			"a line per mode, with the ideal line; DIR/overlap.svg and .png plot the overlap\n" +
			"from the traces. The runs are simulated in virtual time on --cores simulated\n" +
			"cores (default: the workload's cores:, else this machine's; docs/vm.md): the\n" +
			"same on every machine for the same --cores. --clock real measures this machine\n" +
			"instead, where a busy machine distorts wall times, overlap and verdicts: a row\n" +
			"whose run could not get the CPU time its threads wanted is marked \"busy\n" +
			"machine*\", with a note.",
		Args: usageArgs(exactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = runTraceArg(args[0])
			if !cmd.Flags().Changed("seed") {
				o.Seed = nil
			}
			if err := checkClockFlags(o.Clock, o.Cores, cmd.Flags().Changed("cores")); err != nil {
				return &usageError{err}
			}
			if err := checkOutDir(o.Dir); err != nil {
				return &usageError{err}
			}
			for _, n := range o.Threads {
				if n < 1 || n > workload.MaxThreads {
					return &usageError{fmt.Errorf("invalid --threads: %d: expected 1 to %d", n, workload.MaxThreads)}
				}
			}
			if o.IPCCost < 0 || o.IPCCost > workload.MaxDuration {
				return &usageError{fmt.Errorf("--ipc-cost %v: expected 0 (none) to %v", o.IPCCost, workload.MaxDuration)}
			}
			for _, d := range o.SwitchIntervals {
				if d <= 0 {
					return &usageError{fmt.Errorf("invalid --switch-interval: %v is not a positive duration such as 5ms", d)}
				}
				if d < workload.MinSwitchInterval || d > workload.MaxDuration {
					// record's and the workload file's range (QA: compare
					// simulated 1ns, whose model then read 1µs).
					return &usageError{fmt.Errorf("--switch-interval %v: expected %v to %v", d, workload.MinSwitchInterval, workload.MaxDuration)}
				}
				if why := workload.WholeMicroseconds(d); why != "" {
					return &usageError{fmt.Errorf("--switch-interval %s", why)}
				}
			}
			// A repeated interval is the same variant: run once (QA:
			// --switch-interval 1ms,1ms printed each row twice and wrote
			// its trace twice), as --threads and --modes are.
			var seen []time.Duration
			for _, d := range o.SwitchIntervals {
				if !slices.Contains(seen, d) {
					seen = append(seen, d)
				}
			}
			if o.SwitchIntervals != nil {
				o.SwitchIntervals = seen
			}
			if o.Runs < 1 || o.Runs > maxRuns {
				return &usageError{fmt.Errorf("invalid --runs %d: must be from 1 to %d", o.Runs, maxRuns)}
			}
			if cmd.Flags().Changed("modes") && len(o.Modes) == 0 {
				// As --threads '' is (QA: --modes '' ran all three).
				return &usageError{fmt.Errorf("invalid --modes: empty (want threads, processes or free-threaded, comma-separated)")}
			}
			for _, m := range o.Modes {
				if m != compare.Threads && m != compare.Processes && m != compare.FreeThreaded {
					return &usageError{fmt.Errorf("invalid --modes: unknown mode %q (want threads, processes or free-threaded)%s", m, didYouMean("modes", m))}
				}
			}
			return run(cmd, o)
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&o.Threads, "threads", []int{1, 2, 4, 8}, "thread counts (processes in processes mode), comma-separated; 1 is always run (a workload only: a recorded run keeps its threads)")
	f.StringSliceVar(&o.Modes, "modes", compare.AllModes, "modes: threads (under the GIL), processes (one GIL each), free-threaded (no GIL) (a workload only: a recorded run's prediction compares all three)")
	f.DurationSliceVar(&o.SwitchIntervals, "switch-interval", nil, "switch intervals for the GIL modes, comma-separated (default: the workload's; for a recorded run, 1, 2, 5, 10 and 20 ms)")
	f.Lookup("switch-interval").DefValue = "" // no pflag "(default [])" after the help text
	f.IntVar(&o.Runs, "runs", 1, "runs per variant, keeping the fastest (steadier on a busy machine; a recorded run's virtual-time prediction runs each once)")
	f.StringVarP(&o.Dir, "out", "o", "", "write the traces and charts to `DIR` (default giltrace-out/<name>/compare; for a recorded run, whatif/ beside it)")
	// --output, its first name, still works: --out is every other
	// command's name for it.
	f.StringVar(&o.Dir, "output", "", "the same as --out")
	_ = f.MarkHidden("output")
	f.BoolVar(&o.JSON, "json", false, "print the table as JSON")
	f.DurationVar(&o.IPCCost, "ipc-cost", 0, "a recorded run only: what running one worker thread as a process costs (spawning it, pickling its work and result), added to the processes predictions for each thread that becomes a process (not a main thread), e.g. 20ms (default 0: none)")
	addClockFlags(cmd, &o.Clock, &o.Cores, &o.Seed, "virtual: the same table on every machine for the same --cores", "the workload's cores:, else this machine's cores; for a recorded run 8, or the recorded machine's if more; a recorded run's prediction runs on 1, 2, 4 ... and N cores, and on the recorded machine's")
	return cmd
}

func runCompare(cmd *cobra.Command, o *compareOptions) error {
	if isTrace(o.File) {
		return runWhatIf(cmd, o)
	}
	if o.IPCCost > 0 {
		// The VM runs a workload's processes as its file says, with nothing
		// to add a worker's cost to that would leave the other modes and
		// the one-process baseline alone; a recorded run's model has both
		// (it was ignored here without a word).
		return &usageError{fmt.Errorf("--ipc-cost %v: a workload's processes run what its file says, and compare adds nothing to them; the cost is for a recorded run's prediction: record the workload (giltrace record --clock virtual %s) and compare the run.giltrace it writes with --ipc-cost", o.IPCCost, o.File)}
	}
	w, err := loadWorkload(o.File)
	if err != nil {
		return err
	}
	if len(o.SwitchIntervals) > 0 && w.GIL.Mode == tracer.GILLegacy {
		return &usageError{legacySwitchInterval(o.File, w.GIL.CheckInterval)}
	}
	if w.Cores > 0 && o.Cores == 0 && o.Clock == string(workload.ClockReal) {
		return &usageError{fmt.Errorf("--clock real: %s:%d: cores: %d: simulated cores need virtual time (a real run uses this machine's cores): compare without --clock real, or remove cores from the file", o.File, w.CoresLine, w.Cores)}
	}
	dir := o.Dir
	if dir == "" {
		dir = filepath.Join("giltrace-out", w.Name, "compare")
	}
	vo := compare.VMOptions{Clock: workload.ClockMode(o.Clock), Cores: o.Cores, Seed: o.Seed, Version: giltraceVersion()}
	co := compare.Options{
		Workload: w.Name, CallsPerThread: compare.CallsPerThread(w), Threads: o.Threads, Modes: o.Modes,
		SwitchIntervals: o.SwitchIntervals, Runs: o.Runs, Dir: dir,
	}
	// Every variant is checked against the workload before the first runs:
	// a --threads too large for it is a usage error, with nothing written.
	if err := compare.CheckVM(w, vo, co); err != nil {
		if errors.Is(err, compare.ErrPinnedProcesses) || errors.Is(err, vm.ErrTooManyProcesses) {
			return &usageError{fmt.Errorf("%s: %w", o.File, err)}
		}
		// Name the flag at fault where it is known (QA: all three were
		// named for a thread count).
		check := "check --threads, --cores and --switch-interval"
		if errors.Is(err, vm.ErrTooManyThreads) {
			check = "check --threads"
		}
		return &usageError{fmt.Errorf("%s: %w (%s)", o.File, err, check)}
	}
	// The files it writes: none of them may be the user's.
	vs, err := co.Variants()
	if err != nil {
		return &usageError{fmt.Errorf("%s: %w", o.File, err)}
	}
	names := slices.Clone(compare.ChartFiles)
	for _, v := range vs {
		names = append(names, v.Name()+".giltrace")
	}
	if theirs := notCompares(dir, names); len(theirs) > 0 {
		return refuseTheirs(dir, theirs)
	}
	made := missingDirs(dir)
	defer removeEmptyDirs(made) // a compare that wrote nothing leaves no directory
	run := compare.NewVMRunner(w, vo)
	pg := newProgress(cmd)
	// The runs stop within a switch interval of a signal and save their
	// traces (tracer.WriteFile): no forced exit meanwhile, but the third
	// signal's.
	in := interruptsOf(cmd.Context())
	in.setUnsafe(+1)
	defer in.setUnsafe(-1)
	co.Progress = pg.output()
	res, err := compare.Run(cmd.Context(), co, run)
	if res != nil && w.Processes > 1 {
		// QA: a workload's processes: 2 was dropped without a word.
		res.Notes = append(res.Notes, fmt.Sprintf("%s's processes: %d is not used here: the variants run every thread in one process (threads, free-threaded) or each in a process of its own (processes); giltrace record %s runs it as written.", o.File, w.Processes, o.File))
	}
	pg.Stop()
	if res != nil && len(res.Rows) > 0 {
		if werr := writeCompare(cmd, res, dir, o.JSON); werr != nil && err == nil {
			err = werr
		}
	}
	if res != nil {
		noteCompares(cmd, dir, names) // an interrupted variant's trace too
	}
	return err
}

// noteCompares lists in dir's compare manifest the files of names that
// compare wrote there (none was the user's: notCompares), with a warning
// if it cannot.
func noteCompares(cmd *cobra.Command, dir string, names []string) {
	var there []string
	for _, n := range names {
		if usersFile(filepath.Join(dir, n)) {
			there = append(there, n)
		}
	}
	if len(there) == 0 {
		return
	}
	if err := listCompares(dir, there); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: warning: listing what compare wrote in %s: %v: the next compare into %s will refuse to replace them\n", compareManifest, err, dir)
	}
}

// writeCompare writes the charts and prints the table (also when a chart
// could not be written: the table is what the comparison ran for).
func writeCompare(cmd *cobra.Command, res *compare.Result, dir string, asJSON bool) error {
	// Each chart atomically (writeFile), whatever signal came: they are
	// small, and what the comparison ran for.
	var chartErr error
	charts := res.Charts()
	for i, c := range charts {
		path := filepath.Join(dir, c.Name)
		if err := writeFile(context.WithoutCancel(cmd.Context()), path, c.Write); err != nil {
			chartErr = fmt.Errorf("writing chart %s: %w", path, err)
			// The charts not written that a previous comparison left.
			var stale []string
			for _, c := range charts[i:] {
				if _, err := os.Stat(filepath.Join(dir, c.Name)); err == nil {
					stale = append(stale, c.Name)
				}
			}
			if len(stale) > 0 {
				chartErr = fmt.Errorf("%w; %s in %s are still a previous comparison's", chartErr, strings.Join(stale, ", "), dir)
			}
			break
		}
	}
	var err error
	if asJSON {
		err = res.WriteJSON(cmd.OutOrStdout())
	} else if err = res.WriteText(cmd.OutOrStdout()); err == nil && chartErr == nil {
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "\ntraces and charts (speedup and overlap, .svg and .png) in %s\n", dir)
	}
	if stale := staleVariants(res, dir); len(stale) > 0 {
		// Not removed: an earlier comparison's results are kept beside
		// this one's. Unlisted, they may be the user's.
		ours := comparesFiles(dir)
		var earlier, unlisted []string
		for _, n := range stale {
			if ours[n] {
				earlier = append(earlier, n)
			} else {
				unlisted = append(unlisted, n)
			}
		}
		is := map[bool]string{true: "is", false: "are"}
		if len(earlier) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: note: %s in %s %s an earlier comparison's, not this one's (left as they are)\n",
				strings.Join(earlier, ", "), dir, is[len(earlier) == 1])
		}
		if len(unlisted) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: note: %s in %s %s not this comparison's, nor listed as giltrace's (left as they are)\n",
				strings.Join(unlisted, ", "), dir, is[len(unlisted) == 1])
		}
	}
	return errors.Join(chartErr, err)
}

// staleVariants are the variant traces in dir (by compare's names) that
// res did not write: an earlier comparison's, with other variants (QA: a
// compare of threads only beside a previous one's processes traces).
func staleVariants(res *compare.Result, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	written := map[string]bool{}
	for _, r := range res.Rows {
		if r.Trace != "" {
			written[filepath.Base(r.Trace)] = true
		}
	}
	var stale []string
	for _, e := range ents {
		if name := e.Name(); e.Type().IsRegular() && variantTrace.MatchString(name) && !written[name] {
			stale = append(stale, name)
		}
	}
	return stale
}

// isTrace reports whether path is a recorded run rather than a workload:
// a file named *.giltrace (or a record's run.giltrace.partial), whatever it
// holds, so that an empty or cut-off trace gets the trace reader's message,
// or a file of another name that starts with the trace magic. Only a
// regular file is opened to look: a named pipe would block the open until
// a writer comes; it and the other non-regular files are told by their name
// alone, and the trace reader or the workload loader refuses them.
func isTrace(path string) bool {
	if strings.HasSuffix(path, ".giltrace") || strings.HasSuffix(path, ".giltrace.partial") {
		return true
	}
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [len(tracer.Magic)]byte
	n, _ := io.ReadFull(f, magic[:])
	return string(magic[:n]) == tracer.Magic
}

// runWhatIf predicts what a recorded run would do under other choices: its
// model, replayed in virtual time as threads, processes and free-threaded
// on 1 ... --cores cores, and a switch-interval sweep.
func runWhatIf(cmd *cobra.Command, o *compareOptions) error {
	if o.Clock == string(workload.ClockReal) {
		return &usageError{errors.New("--clock real: a recorded run is compared in virtual time only (its model is simulated); record the program again to measure")}
	}
	if err := checkWhatIfFlags(cmd.Flags().Changed, o); err != nil {
		return &usageError{err}
	}
	t, err := readTrace(o.File, cmd.ErrOrStderr(), "modelling")
	if err != nil {
		return err
	}
	if err := checkHasEvents(t, o.File, "modelling", "model"); err != nil {
		return err
	}
	if len(o.SwitchIntervals) > 0 && t.Meta.GILMode == tracer.GILLegacy {
		return &usageError{legacySwitchInterval(o.File, t.Meta.CheckInterval)}
	}
	dir := o.Dir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(o.File), "whatif")
	}
	if theirs := notCompares(dir, compare.PredictionFiles); len(theirs) > 0 {
		return refuseTheirs(dir, theirs)
	}
	p, err := compare.WhatIf(cmd.Context(), tracer.Derive(t), compare.WhatIfOptions{
		Source: o.File, Cores: o.Cores, IPCCost: o.IPCCost, Intervals: o.SwitchIntervals, Seed: o.Seed, Version: giltraceVersion()})
	if err != nil {
		return err
	}
	written, werr := writePrediction(cmd.Context(), p, dir)
	var names []string
	for _, w := range written {
		names = append(names, filepath.Base(w))
	}
	noteCompares(cmd, dir, names)
	if o.JSON {
		err = p.WriteJSON(cmd.OutOrStdout())
	} else if err = p.WriteText(cmd.OutOrStdout()); err == nil && len(written) > 0 {
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "\nmodel, table and chart: %s\n", strings.Join(written, " "))
	}
	return errors.Join(err, werr)
}

// legacySwitchInterval is the error of --switch-interval for a run of
// file on the legacy GIL, which releases every check interval of
// instructions instead.
func legacySwitchInterval(file string, check int) error {
	return legacySwitchIntervalBy(file+" runs", check)
}

// legacySwitchIntervalBy is legacySwitchInterval with who runs the legacy
// GIL: "FILE runs" (gil.mode legacy) or "--gil legacy asks for".
func legacySwitchIntervalBy(who string, check int) error {
	return fmt.Errorf("--switch-interval: %s the legacy GIL (gil.mode legacy), which has no switch interval: it releases the GIL every gil.check_interval instructions (%d here; set it in the workload file)", who, check)
}

// checkWhatIfFlags refuses the flags of compare WORKLOAD.yaml that a
// recorded run's prediction cannot apply (given: the flag was on the
// command line): the prediction keeps the program's threads and varies the
// cores, always compares the three modes (its best option is chosen among
// them), and runs each variant once, in virtual time, where a second run
// is the same.
func checkWhatIfFlags(given func(string) bool, o *compareOptions) error {
	switch {
	case given("threads"):
		return errors.New("--threads: a recorded run keeps its program's threads; its prediction varies the cores instead (--cores N: 1, 2, 4 ... N cores)")
	case given("modes"):
		return errors.New("--modes: a recorded run's prediction always compares threads, processes and free-threaded (its best option is chosen among them); read the rows of the mode wanted")
	case given("runs") && o.Runs != 1:
		return fmt.Errorf("--runs %d: a recorded run's prediction is simulated in virtual time, where every run of a variant is the same: it runs each once", o.Runs)
	}
	return nil
}

// maxRuns bounds --runs: each run of each variant takes the workload's
// time (QA: --runs 100000000 ran until killed).
const maxRuns = 100

// writePrediction writes the files of prediction p into dir, atomically,
// and returns the paths written. A regular file already there that
// giltrace did not write (comparesFiles: record clears its previous run's
// first), or a link, is the user's: left as it is, and named in the error.
func writePrediction(ctx context.Context, p *compare.Prediction, dir string) ([]string, error) {
	made := missingDirs(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		// QA: "mkdir ud2/whatif: operation not permitted" said not what
		// it was for.
		return nil, fmt.Errorf("writing the prediction: %w", err)
	}
	defer removeEmptyDirs(made) // nothing written (a full disk): no empty whatif/ left (QA)
	var written, theirs []string
	var errs []error
	ours := comparesFiles(dir)
	for _, f := range p.Files() {
		path := filepath.Join(dir, f.Name)
		if usersFile(path) && !ours[f.Name] || isLink(path) {
			// QA: whatif/model.yaml of a fresh directory was overwritten,
			// where report.txt was left as it was.
			theirs = append(theirs, path)
			continue
		}
		if err := writeFile(context.WithoutCancel(ctx), path, f.Write); err != nil {
			errs = append(errs, fmt.Errorf("writing %s: %w", path, err))
			continue
		}
		written = append(written, path)
	}
	return written, errors.Join(append(errs, leftAsTheyAre(theirs))...)
}
