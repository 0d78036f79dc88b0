package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/giltrace/giltrace/compare"
	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/exporters/oteltrace"
	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/source/cpython"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
	"github.com/spf13/cobra"
)

// recordOptions are the arguments of giltrace record.
type recordOptions struct {
	Workload       string        // the workload file
	Command        []string      // or a command running CPython, given after --
	Out            string        // directory of run.giltrace; "" is giltrace-out/<name> (py-<name> for a real program)
	Mode           string        // --gil: overrides gil.mode
	SwitchInterval time.Duration // overrides gil.switch_interval
	Threads        int           // overrides every thread group's count
	Processes      int           // overrides processes
	JSON           bool          // print the breakdown as JSON
	OTLP           string        // --otlp: also send the run to this OTLP endpoint ("default": the environment's)
	Formats        string        // --formats: the local outputs written beside run.giltrace: "" (all), "all", "none" or a list (outputs.go)
	Clock          string        // --clock: real or virtual ("" keeps the workload's, real by default)
	Cores          int           // --cores: simulated cores (virtual time)
	Seed           *int64        // --seed: replaces the workload's seed; nil keeps it
	LockHolds      bool          // --lock-holds: a real program's lock holds are observed (docs/cpython.md)
	lockHoldsSet   bool          // --lock-holds given: refused for a workload
	KillAfter      time.Duration // --kill-after: a stopped program's time to exit after its SIGINT (record -- COMMAND)
	CPUs           string        // --cpus: the CPUs a real program runs on (record -- COMMAND)
	cpuList        []int         // CPUs parsed by check
	Timings        bool          // --timings: print the time of the run and of each step after it on stderr
}

func newRecordCmd() *cobra.Command { return recordCmd(runRecord) }

// recordCmd builds the command around run, so that tests can check the
// parsed options.
func recordCmd(run func(*cobra.Command, *recordOptions) error) *cobra.Command {
	o := &recordOptions{}
	cmd := &cobra.Command{
		Use:   "record WORKLOAD.yaml | record [flags] -- COMMAND [ARGS...]",
		Short: "Run a workload on the GIL-locked VM, or a real Python program, and record its trace",
		Long: "record runs a workload file (docs/workloads.md) on the instrumented VM, writes\n" +
			"every GIL acquire, release, wait and drop request to DIR/run.giltrace, and\n" +
			"prints the report: the verdict, each thread's wall time split into running,\n" +
			"GIL wait, I/O, native and lock wait, and the speedup arithmetic (giltrace\n" +
			"report). Every output (--formats) is written beside run.giltrace. Ctrl-C,\n" +
			"SIGTERM or SIGHUP stops the run and still writes a valid trace of what was\n" +
			"recorded, its outputs and the report, then exits 128 + the signal's number;\n" +
			"a second signal stops the outputs. The trace is written as the run goes\n" +
			"(DIR/run.giltrace.partial until it ends): a crash loses at most about half a\n" +
			"second of real time. Recording into DIR replaces the previous run's files\n" +
			"there (docs/guarantees.md). With --clock virtual the run is simulated\n" +
			"(docs/vm.md): exact, the same bytes on every run and machine, on --cores N\n" +
			"simulated cores; it is computed faster than the trace is streamed, so a crash\n" +
			"may lose all of it, and running the same command again gives it back.\n\n" +
			"After --, record runs COMMAND instead, a real CPython program (python3 app.py,\n" +
			"python3 -m pkg, a script with a python shebang), and traces it and the CPython\n" +
			"processes it starts through uprobes on the interpreter until it exits\n" +
			"(docs/cpython.md: needs root); a python command whose script does not exist\n" +
			"is refused before anything runs (exit 2), keeping the previous run. The\n" +
			"program's stdin, stdout, stderr and exit status pass through: giltrace\n" +
			"exits with the program's status when tracing worked, and with 1 when it did\n" +
			"not. Stopped by a signal, giltrace sends the program SIGINT (as Ctrl-C would)\n" +
			"and traces it while it shuts down, for up to --kill-after (5s), then kills it.",
		Args: usageArgs(recordArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				o.Command = args[dash:]
			} else {
				o.Workload = args[0]
			}
			if !cmd.Flags().Changed("seed") {
				o.Seed = nil
			}
			o.lockHoldsSet = cmd.Flags().Changed("lock-holds")
			if err := o.check(cmd.Flags().Changed); err != nil {
				return &usageError{err}
			}
			return run(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Out, "out", "o", "", "write run.giltrace to `DIR` (default giltrace-out/<workload name>; for a command, giltrace-out/py-<script or command name>)")
	f.StringVar(&o.Mode, "gil", "", "GIL `MODE`: cpython, legacy or none (default: the workload's)")
	f.DurationVar(&o.SwitchInterval, "switch-interval", 0, "cpython mode's switch interval, e.g. 5ms (default: the workload's)")
	f.IntVar(&o.Threads, "threads", 0, "run `N` threads in every thread group but those that start others (a thread is started once; default: each group's count)")
	f.IntVar(&o.Processes, "processes", 0, "run `N` VM processes, each with its own GIL (default: the workload's)")
	addClockFlags(cmd, &o.Clock, &o.Cores, &o.Seed, "the workload's clock:, else real", "the workload's cores:, else one per thread")
	outputFlags(cmd, o)
	lockHoldsFlag(cmd, o)
	f.DurationVar(&o.KillAfter, "kill-after", 0, fmt.Sprintf("real programs: when giltrace is stopped (Ctrl-C, SIGTERM, SIGHUP), the program gets SIGINT and is traced while it shuts down, then killed if it has not exited after `D` (default %v)", cpython.DefaultStopGrace))
	f.StringVar(&o.CPUs, "cpus", "", "real programs: run the program on these CPUs only (a `LIST` as taskset -c takes it: 0 or 0,2 or 0-3), as if the machine had that many cores; giltrace itself keeps off them where it can, so that its tracing does not take their time, which taskset -c 0 giltrace record would (docs/cpython.md)")
	return cmd
}

// outputFlags defines the flags of what record and attach do with a run
// once recorded: --json, --otlp, --formats.
func outputFlags(cmd *cobra.Command, o *recordOptions) {
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON (the breakdown fields, then the diagnosis); for a real program, its own standard output goes to standard error, so that standard output is the JSON alone")
	f.StringVar(&o.OTLP, "otlp", "", "also send the run as an OpenTelemetry trace to the OTLP collector at `URL` (--otlp=URL; a bare --otlp uses OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318; docs/otel.md)")
	f.Lookup("otlp").NoOptDefVal = otlpDefault
	f.BoolVar(&o.Timings, "timings", false, "print on stderr, at the end, how long the run and each step after it took (saving, deriving, outputs, report; docs/performance.md)")
	f.StringVar(&o.Formats, "formats", "", "write these outputs into DIR beside run.giltrace: all or none (each alone), or a comma-separated `LIST` of "+outputNames()+" ("+outputFiles()+"; docs/outputs.md)")
}

// recordArgs accepts one workload file, or a command after "--".
func recordArgs(cmd *cobra.Command, args []string) error {
	dash := cmd.ArgsLenAtDash()
	switch {
	case dash > 0:
		return fmt.Errorf("record takes a workload file or a command after --, not both (got %q before --)", args[:dash])
	case dash == 0 && len(args) == 0:
		return errors.New("no command after --: expected e.g. record -- python3 app.py")
	case dash == 0:
		return nil
	case len(args) == 1:
		return nil
	case len(args) == 0:
		return errors.New("expected a workload file (record WORKLOAD.yaml) or a command (record -- python3 app.py)")
	}
	return fmt.Errorf("accepts 1 workload file, received %d arguments; to trace a program, put it after --: record -- %s", len(args), strings.Join(args, " "))
}

// check rejects flag values that no workload could accept. given tells
// whether a flag was on the command line (cobra's Flags().Changed): the
// flags whose default is 0 (the workload's value) refuse an explicit 0.
func (o *recordOptions) check(given func(name string) bool) error {
	if err := checkOutDir(o.Out); err != nil {
		return err
	}
	if o.Command != nil {
		for _, name := range []string{"gil", "switch-interval", "threads", "processes", "clock", "cores", "seed"} {
			if given(name) {
				return fmt.Errorf("--%s applies to workloads run on the VM, not to a real program (record -- COMMAND)", name)
			}
		}
		if given("kill-after") && o.KillAfter <= 0 {
			return fmt.Errorf("--kill-after %v: expected a positive duration", o.KillAfter)
		}
		if given("cpus") {
			list, err := cpython.ParseCPUs(o.CPUs)
			if err != nil {
				return fmt.Errorf("--cpus %w", err)
			}
			if err := cpython.CheckCPUs(list); err != nil {
				return fmt.Errorf("--cpus %s: %w", o.CPUs, err)
			}
			o.cpuList = list
		}
	} else if given("cpus") {
		return errors.New("--cpus applies to a real program (record -- COMMAND); a workload simulates cores with --clock virtual --cores N")
	} else if o.lockHoldsSet {
		return errors.New("--lock-holds applies to a real program (record -- COMMAND, attach PID), not to a workload")
	} else if given("kill-after") {
		return errors.New("--kill-after applies to a real program (record -- COMMAND), not to a workload")
	}
	if o.Mode != "" && !tracer.GILMode(o.Mode).Valid() {
		return fmt.Errorf("--gil %q: expected cpython, legacy or none%s", o.Mode, didYouMean("gil", o.Mode))
	}
	switch {
	case o.SwitchInterval < 0 || (given("switch-interval") || o.SwitchInterval > 0) && o.SwitchInterval < workload.MinSwitchInterval:
		return fmt.Errorf("--switch-interval %v: expected %v to %v", o.SwitchInterval, workload.MinSwitchInterval, workload.MaxDuration)
	case o.SwitchInterval > workload.MaxDuration:
		return fmt.Errorf("--switch-interval %v: expected %v to %v", o.SwitchInterval, workload.MinSwitchInterval, workload.MaxDuration)
	case workload.WholeMicroseconds(o.SwitchInterval) != "":
		return fmt.Errorf("--switch-interval %s", workload.WholeMicroseconds(o.SwitchInterval))
	case o.Threads < 0 || given("threads") && o.Threads == 0 || o.Threads > workload.MaxThreads:
		return fmt.Errorf("--threads %d: expected 1 to %d", o.Threads, workload.MaxThreads)
	case o.Processes < 0 || given("processes") && o.Processes == 0 || o.Processes > workload.MaxProcesses:
		return fmt.Errorf("--processes %d: expected 1 to %d", o.Processes, workload.MaxProcesses)
	}
	if given("out") && strings.TrimSpace(o.Out) == "" {
		// QA: it silently meant the default directory.
		return fmt.Errorf("-o %q: expected a directory (without -o, giltrace-out/NAME)", o.Out)
	}
	if given("formats") && strings.TrimSpace(o.Formats) == "" {
		return fmt.Errorf("--formats %q: expected all, none, or a comma-separated list of %s", o.Formats, outputNames())
	}
	if _, err := parseFormats(o.Formats); err != nil {
		return fmt.Errorf("--formats: %w", err)
	}
	if given("otlp") && strings.TrimSpace(o.OTLP) == "" {
		// QA: --otlp="$URL" with URL unset sent nothing and said nothing.
		return fmt.Errorf("--otlp %q: expected a collector's URL, or --otlp alone for OTEL_EXPORTER_OTLP_ENDPOINT (else http://localhost:4318)", o.OTLP)
	}
	if o.OTLP != "" {
		if err := o.otlp().check(); err != nil {
			return fmt.Errorf("--otlp: %w", err)
		}
	}
	return checkClockFlags(o.Clock, o.Cores, given("cores"))
}

// addClockFlags defines --clock, --cores and --seed (record and compare).
func addClockFlags(cmd *cobra.Command, clock *string, cores *int, seed **int64, clockDefault, coresDefault string) {
	f := cmd.Flags()
	*seed = new(int64)
	f.StringVar(clock, "clock", "", "`CLOCK`: real (run and measure on this machine) or virtual (simulate: exact, reproducible, any number of cores; docs/vm.md) (default: "+clockDefault+")")
	f.IntVar(cores, "cores", 0, "virtual time: simulate `N` cores (default: "+coresDefault+")")
	f.Int64Var(*seed, "seed", 0, "replace the workload's seed (I/O jitter; in virtual time, the waiter a release wakes) with `S`")
}

// checkOutDir refuses a -o DIR named like a trace file (X.giltrace) that
// is not a directory already: record, attach and compare write a
// directory there (DIR/run.giltrace), where export and model write a
// file (QA: `record -o new.giltrace` made a directory new.giltrace/).
func checkOutDir(dir string) error {
	if !strings.HasSuffix(dir, ".giltrace") {
		return nil
	}
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	return fmt.Errorf("-o %s: names a directory, where the run is written (DIR/run.giltrace), not the trace file: name a directory (such as %s)", dir, strings.TrimSuffix(dir, ".giltrace"))
}

// checkScript refuses a Python command whose script does not exist,
// before anything runs: the interpreter would only say so and exit, and
// its run, recorded all the same (its start-up), would replace the last
// good run in the same directory (QA: a typo, or another working
// directory, lost the previous trace, its outputs and its what-if).
func checkScript(argv []string) error {
	if len(argv) == 0 || !strings.HasPrefix(filepath.Base(argv[0]), "python") {
		return nil
	}
	script := cpython.ScriptPath(argv)
	if script == "" {
		return nil
	}
	if _, err := os.Stat(script); err != nil {
		return &usageError{fmt.Errorf("%s: the script %s cannot be opened (%w): nothing was run or recorded", argv[0], script, errors.Unwrap(err))}
	}
	return nil
}

// checkClockFlags rejects a --clock or --cores that no run could accept;
// coresGiven: --cores was on the command line, where 0 is refused (its
// default, 0, means one core per thread or this machine's).
func checkClockFlags(clock string, cores int, coresGiven bool) error {
	if clock != "" && !workload.ClockMode(clock).Valid() {
		return fmt.Errorf("--clock %q: expected real or virtual", clock)
	}
	if cores < 0 || coresGiven && cores == 0 || cores > workload.MaxCores {
		return fmt.Errorf("--cores %d: expected 1 to %d", cores, workload.MaxCores)
	}
	if cores > 0 && clock == string(workload.ClockReal) {
		return fmt.Errorf("--cores %d: simulated cores need --clock virtual (a real run uses this machine's)", cores)
	}
	return nil
}

func runRecord(cmd *cobra.Command, o *recordOptions) error {
	pg := newProgress(cmd)
	defer pg.Stop()
	ctx := withProgress(cmd.Context(), pg)
	if o.Command != nil {
		command, err := applyEnv(o.Command)
		if err != nil {
			return err
		}
		argv, failed := resolveLauncher(ctx, command)
		if err := checkScript(argv); err != nil {
			return err
		}
		src := cpython.Command(argv, pythonOptions(cmd, o))
		err = recordPython(ctx, cmd, o, src, cpython.ProgramName(argv))
		if failed != "" && errors.Is(err, cpython.ErrNotCPython) {
			err = fmt.Errorf("%w; giltrace %s", err, failed)
		}
		if errors.Is(err, cpython.ErrNotCPython) {
			// A command giltrace cannot trace is a usage error, exit 2,
			// as attach's refusal of the same (QA: 1 here, 2 there).
			return &usageError{err}
		}
		return err
	}
	return record(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
}

// record loads and runs the workload of o, then saves, reports and sends
// the run (recordRun).
func record(ctx context.Context, o *recordOptions, stdout, stderr io.Writer) error {
	w, err := loadWorkload(o.Workload)
	if err != nil {
		return err
	}
	if o.SwitchInterval > 0 && o.Mode == string(tracer.GILLegacy) {
		return &usageError{legacySwitchIntervalBy("--gil legacy asks for", w.GIL.CheckInterval)}
	}
	if o.SwitchInterval > 0 && o.Mode == "" && w.GIL.Mode == tracer.GILLegacy {
		return &usageError{legacySwitchInterval(o.Workload, w.GIL.CheckInterval)}
	}
	if o.SwitchInterval > 0 && (o.Mode == string(tracer.GILNone) || o.Mode == "" && w.GIL.Mode == tracer.GILNone) {
		// QA: accepted, and ignored without a word.
		who := "--gil none asks for"
		if o.Mode == "" {
			who = o.Workload + " runs"
		}
		return &usageError{fmt.Errorf("--switch-interval %v: %s no GIL (free-threaded), which has no switch interval", o.SwitchInterval, who)}
	}
	if o.Cores > 0 && o.Clock == "" && w.Clock != workload.ClockVirtual {
		return &usageError{fmt.Errorf("--cores %d: simulated cores need virtual time, and %s runs in real time: add --clock virtual (a real run uses this machine's cores)", o.Cores, o.Workload)}
	}
	if w.Cores > 0 && o.Cores == 0 && o.Clock == string(workload.ClockReal) {
		// The file's cores: with --clock real, a usage error as --cores
		// is, not a failed run (QA: exit 1 here, 2 from compare).
		return &usageError{fmt.Errorf("--clock real: %s:%d: cores: %d: simulated cores need virtual time (a real run uses this machine's cores): record without --clock real, or remove cores from the file", o.Workload, w.CoresLine, w.Cores)}
	}
	if w.Cores > 0 && o.Cores == 0 && o.Clock == "" && w.Clock != workload.ClockVirtual {
		return &usageError{fmt.Errorf("%s:%d: cores: %d: simulated cores need virtual time, and the file runs in real time (record's default): add clock: virtual to the file, record with --clock virtual, or remove cores", o.Workload, w.CoresLine, w.Cores)}
	}
	vo := vm.Options{
		Mode: tracer.GILMode(o.Mode), SwitchInterval: o.SwitchInterval, Threads: o.Threads, Processes: o.Processes,
		Version: giltraceVersion(), ClockMode: workload.ClockMode(o.Clock), Cores: o.Cores, Seed: o.Seed,
	}
	if bound, err := vm.EventBound(w, vo); err == nil {
		// QA: a workload of 500 threads x a million operations took
		// 2.3 GB at the recorder's bound, and a smaller container's
		// limit would have killed it.
		var note string
		if vo.MaxEvents, note = fitEvents(bound); note != "" {
			fmt.Fprint(stderr, note)
		}
	}
	return recordRun(ctx, w.Name, w.Name+": "+runSize(w, o), startMeta(w, o), o, stdout, stderr, func(ctx context.Context) (*tracer.Trace, error) {
		return vm.Run(ctx, w, vo)
	})
}

// recordRun records a run from any source (the VM, a CPython process:
// source runs it) named name (label says what runs, for the progress line) into
// the directory of o (default giltrace-out/NAME),
// writes its outputs, prints its report and sends it over OTLP as o says.
//
// The trace is written as the run goes (tracer.Stream, starting with the
// metadata start): a crash loses at most the last half second or so. A run
// interrupted by ctx (tracer.ErrInterrupted) still writes and prints what
// was recorded, and returns an error saying so; a source that failed after
// recording keeps what it recorded the same way and returns its error; one
// that recorded nothing leaves nothing behind.
func recordRun(ctx context.Context, name, label string, start tracer.Meta, o *recordOptions, stdout, stderr io.Writer,
	source func(context.Context) (*tracer.Trace, error)) (retErr error) {
	// Standard output closed early (record ... | head): what follows the
	// report (sending over OTLP, the warnings) still runs, and the error
	// comes last; main exits as SIGPIPE would have (brokenStdout).
	var pipeErr error
	defer func() {
		if pipeErr != nil {
			retErr = errors.Join(retErr, pipeErr)
		}
	}()
	dir := o.Out
	if dir == "" {
		dir = filepath.Join("giltrace-out", name)
	}
	// What MkdirAll makes is removed again at the end if it is still
	// empty: a command that recorded nothing leaves no directory behind
	// (QA: an attach refused for want of privilege left giltrace-out/).
	made := missingDirs(dir)
	defer removeEmptyDirs(made)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("recording %s: %w", name, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("recording %s: %w", name, err)
	}
	defer unlock()
	// A signal waits for the trace to be complete on disk (setUnsafe).
	in := interruptsOf(ctx)
	in.setUnsafe(+1)
	safe := sync.OnceFunc(func() { in.setUnsafe(-1) })
	defer safe()
	if fi, err := os.Stat(filepath.Join(dir, traceName)); err == nil && fi.IsDir() {
		// Found before the run, not after it (QA).
		return fmt.Errorf("recording %s: %s is a directory: record into another directory", name, filepath.Join(dir, traceName))
	}
	if head := notATrace(filepath.Join(dir, traceName)); head != "" {
		// The run would replace it (QA: a file of notes named
		// run.giltrace was "the previous run", replaced).
		return fmt.Errorf("recording %s: %s is not a giltrace trace (it starts with %q): record would replace it with the run's; move it away, or record into another directory", name, filepath.Join(dir, traceName), head)
	}
	partial := filepath.Join(dir, partialName)
	what := "the trace of an earlier run that did not finish (killed, or its disk full)"
	if notATrace(partial) != "" {
		what = "a file that is not a trace" // QA: called an earlier run's
	}
	if kept, err := keepPartial(dir); err != nil {
		return fmt.Errorf("recording %s: %w", name, err)
	} else if kept != "" {
		fmt.Fprintf(stderr, "giltrace: kept %s, %s, as %s\n", partial, what, kept)
	}
	f, err := os.Create(filepath.Join(dir, partialName))
	if err != nil {
		return fmt.Errorf("recording %s: %w", name, err)
	}
	st := tracer.NewStream(f, start)
	in.setPending(func() string {
		if st.Complete() {
			// Streamed whole, not yet renamed (QA: called truncated).
			return fmt.Sprintf("the run is in %s, whole (giltrace report %s reads it)", f.Name(), f.Name())
		}
		return fmt.Sprintf("the run so far is in %s (a truncated trace)", f.Name())
	})
	pg := progressOf(ctx)
	tm := newTimings(o.Timings)
	defer func() {
		if tm != nil {
			pg.Stop() // the live line cleared first, on every path
			tm.write(stderr)
		}
	}()
	pg.Phase("running %s", label)
	stopLive := pg.every(func() string {
		threads, ended, events := st.Stats()
		return fmt.Sprintf("running %s: %s alive, %s recorded", label, textfmt.Plural(threads-ended, "thread"), textfmt.Plural(int(events), "event"))
	})
	t, runErr := source(tracer.WithStream(ctx, st))
	stopLive()
	tm.done("run")
	// The signal that stopped the run does not stop the saving and the
	// outputs of what it recorded; the next one does (newPhase).
	octx, cancel := newPhase(ctx)
	defer cancel()
	interrupted := errors.Is(runErr, tracer.ErrInterrupted)
	if runErr != nil && (t == nil || len(t.Events) == 0) {
		// Nothing recorded (a failure, or a signal before the first
		// event): nothing half-done is left behind, and a previous run
		// in dir stays whole rather than replaced by an empty trace.
		f.Close()
		os.Remove(f.Name()) // then dir, if giltrace made it and it is empty (removeEmptyDirs)
		if interrupted {
			kept := ""
			if exists(filepath.Join(dir, traceName)) {
				kept = "; the previous run in " + dir + " is kept"
			}
			return fmt.Errorf("%w before any event was recorded: nothing written%s", runErr, kept)
		}
		if sig := in.Signal(); sig != nil {
			// A signal while the program was being started (a pyenv shim
			// resolved) fails the start: said as the signal's doing (QA:
			// "/usr/bin/bash: not a CPython interpreter" after a Ctrl-C).
			return fmt.Errorf("%w%s before the run began: nothing recorded (%v)", tracer.ErrInterrupted, signalName(sig), runErr)
		}
		return runErr
	}
	if runErr != nil && !interrupted {
		fmt.Fprintf(stderr, "giltrace: %v\ngiltrace: keeping the %s recorded before the failure\n", runErr, textfmt.Plural(len(t.Events), "event"))
		interrupted = true
	}
	pg.Phase("recorded %s of %s; saving the trace and deriving the spans", textfmt.Plural(len(t.Events), "event"), textfmt.Plural(len(t.Threads), "thread"))
	// The recorder's per-thread buffers, merged into t, are garbage now:
	// collecting them before the spans are derived lets the analysis reuse
	// their memory, still resident, instead of growing the heap past them.
	// The heap is grown first by room advised for huge pages, so that what
	// the analysis makes past the recorder's memory is faulted in as huge
	// pages (tracer's FreeForAnalysis; docs/performance.md, "Post-run
	// time, ninth pass"). Until 2026-12-04 the freed pages also went back
	// to the system (FreeOSMemory): after a run of seconds in real time
	// they came back as memory the host had to back again, 11 % slower
	// ("Post-run time, eleventh pass").
	tracer.FreeForAnalysis(analysisRoom(len(t.Events)))
	tm.done("freeing the recorder's buffers")
	// The trace is saved on one core while the spans are derived on
	// another: both only read t (docs/performance.md, "Post-run time,
	// seventh pass"). A virtual run is written whole (its stream's records
	// depend on timing), and so is a real program's (its stream was
	// provisional: tracer.LiveSource).
	formats, outErr := parseFormats(o.Formats)
	var path string
	var saveErr error
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		begun := time.Now()
		path, saveErr = saveTrace(dir, f, st, t, stderr, t.Meta.Extra["clock"] == "virtual" || st.Provisional())
		tm.part("saving the trace", time.Since(begun))
		if saveErr == nil {
			// From now on a signal that the command does not answer within a
			// second (deriving the spans of a long run) exits, saying this.
			in.setPending(func() string {
				return fmt.Sprintf("the trace is saved in %s; outputs not written: %s", path, notWritten(dir, sizedNames(o.Formats, formats, len(t.Events))))
			})
		}
		safe() // the trace is on disk: a forced exit may cut the rest short
	}()
	// The printed report needs no call spans: without outputs or OTLP,
	// none are derived.
	begun := time.Now()
	r, derr := deriveRun(octx, t, len(formats) > 0 || o.OTLP != "")
	tm.part("deriving the spans", time.Since(begun))
	<-saved
	tm.done("saving the trace and deriving the spans")
	if saveErr != nil {
		path = f.Name()
		saveErr = fmt.Errorf("recording %s: saving the trace: %w", name, saveErr)
	}
	if derr != nil { // a signal while the spans were derived
		return errors.Join(saveErr, fmt.Errorf("recorded %s, then %w: the report was not printed (giltrace report %s prints it); outputs not written: %s", path, derr, path, notWritten(dir, sizedNames(o.Formats, formats, len(t.Events)))))
	}
	r.progress = pg
	r.timings = tm
	if saveErr == nil {
		// Each output (and each file of the prediction) is listed as soon
		// as it is in place, so that a record killed while writing leaves
		// its outputs listed, and nothing else: the next record into dir
		// removes what is listed (QA: listed before they were written,
		// outputs that a signal stopped stayed listed, and a file the
		// user put there later was removed). Listed again, whole, below.
		var listMu sync.Mutex
		var listed []string
		r.written = func(path string) {
			listMu.Lock()
			defer listMu.Unlock()
			listed = append(listed, path)
			_ = writeManifest(dir, listed) // a failure is reported below, with the final list
		}
	}
	// A real program's report gains what would help it, predicted from its
	// model in virtual time (docs/what-if.md): predicted while the outputs
	// are written, and waited for by report.txt and report.json only,
	// which hold the report printed below (reportOutput).
	var pred *compare.Prediction
	var predFiles []string
	var predErr error
	var names []string
	var theirs error
	if outErr == nil && saveErr == nil {
		names, theirs = outputsToWrite(dir, bySize(o.Formats, formats, r, stderr))
		if slices.Contains(names, "pprof-blame") {
			// Before the prediction's diagnosis asks for the waited sums:
			// they then come from the blame profile's sweep.
			pprof.PlanBlame(r.spans)
		}
	}
	predDone := make(chan struct{})
	go func() {
		defer close(predDone)
		pred, predFiles, predErr = predict(ctx, r, path, dir, saveErr == nil && o.Formats != "none")
	}()
	r.whatIf = func() *compare.Prediction {
		<-predDone
		return pred
	}
	var written []string
	if outErr == nil && saveErr == nil {
		written, outErr = writeOutputs(octx, dir, r, names)
		outErr = errors.Join(outErr, theirs)
		if len(names) > 0 {
			tm.done("outputs")
		}
	}
	// The whole report (issue 6: "also printed at the end of record"): its
	// JSON keeps every field of the breakdown and adds the diagnosis. The
	// run is analysed once, for this and for report.txt and report.json.
	diag := r.diagnosis()
	tm.done("the diagnosis")
	<-predDone
	if pred != nil || predErr != nil {
		tm.done("predicting what would help") // what was left of it (it began with the outputs)
	}
	written = append(written, predFiles...)
	if saveErr == nil && (len(written) > 0 || exists(filepath.Join(dir, manifestName))) {
		// What the next record into dir removes: these files and no other.
		if err := writeManifest(dir, written); err != nil {
			// Named: they are then files the next record takes for the
			// user's (QA: "will leave them", naming none).
			fmt.Fprintf(stderr, "giltrace: warning: listing the outputs in %s: %v: the next record into %s will leave them (%s): remove them before recording there again\n", manifestName, err, dir, strings.Join(written, " "))
		}
	}
	if predErr != nil {
		fmt.Fprintf(stderr, "giltrace: warning: predicting what would help: %v\n", predErr)
	}
	pg.Stop()
	// Printed whatever signal came: the report is what the user waits for.
	pctx := context.WithoutCancel(ctx)
	if o.JSON {
		err = writeReportJSON(stdout, diag, t.Status(), pred)
	} else {
		err = report.For(diag, stdout, report.Text).Export(pctx, r.spans)
		if err == nil && pred != nil {
			fmt.Fprintln(stdout)
			err = pred.WriteText(stdout)
		}
		if err == nil {
			line := path
			switch {
			case saveErr != nil && !exists(path):
				line = "not saved (see the error)"
			case saveErr != nil:
				line = "not saved in full: what reached the disk is in " + path + " (see the error)"
			}
			_, err = fmt.Fprintf(stdout, "\ntrace: %s\n", line)
		}
		if err == nil && len(written) > 0 {
			_, err = fmt.Fprintf(stdout, "outputs: %s\n", strings.Join(written, " "))
		}
	}
	tm.done("printing the report")
	if _, broken := brokenStdout(err); broken {
		pipeErr, err = fmt.Errorf("printing the report: %w", err), nil
	}
	if err != nil {
		return errors.Join(saveErr, err, runErr)
	}
	if errors.Is(runErr, tracer.ErrInterrupted) {
		fmt.Fprintf(stderr, "giltrace: run interrupted%s: the trace and the report hold what was recorded until then\n", signalName(in.Signal()))
	} else if sig := in.Signal(); sig != nil && runErr == nil && saveErr == nil && outErr == nil && octx.Err() == nil {
		// The signal came as the run ended (a virtual run being merged,
		// the trace being saved): nothing was cut short, but the command
		// exits as stopped (main), and says why; it sends nothing over
		// OTLP after a signal.
		not := ""
		if o.OTLP != "" {
			not = "; it was not sent over OTLP (" + o.otlpAgain(path) + " sends it)"
		}
		fmt.Fprintf(stderr, "giltrace: stopped%s as the run ended: the run is complete, and so are its trace and outputs%s\n", signalName(sig), not)
	}
	if saveErr != nil {
		return errors.Join(saveErr, runErr)
	}
	switch {
	case diag.StoppedAtBound:
		fmt.Fprintf(stderr, "giltrace: warning: the run reached the recorder's bound of events: the trace stops at the first event past it, and the simulation stopped there\n")
	case diag.DroppedEvents > 0:
		fmt.Fprintf(stderr, "giltrace: warning: %s dropped at the recorder's bound; the trace stops at the first of them\n", textfmt.Plural(int(min(diag.DroppedEvents, math.MaxInt)), "event"))
	}
	var otlpErr error
	if o.OTLP != "" && !interrupted && ctx.Err() == nil {
		// After the local outputs, so that a collector's failure loses nothing.
		if err := sendOTLP(ctx, r.spans, r.warnings(), o.otlp(), stderr); err != nil {
			// QA: only the signal's message said how to send it again.
			otlpErr = fmt.Errorf("recorded %s, but sending it over OTLP failed: %w; %s sends it again", path, err, o.otlpAgain(path))
		}
		tm.done("sending over OTLP")
	}
	if outErr != nil {
		return errors.Join(fmt.Errorf("recorded %s, but writing its outputs failed: %w", path, outErr), otlpErr, runErr)
	}
	if interrupted {
		return fmt.Errorf("%w: wrote the %s recorded so far to %s", runErr, textfmt.Plural(len(t.Events), "event"), path)
	}
	return otlpErr
}

// otlpAgain is the command that sends the trace at path where --otlp
// said, for messages: the endpoint's credentials are not shown (QA: a
// password given in --otlp was printed in this hint), and the hint says
// where they go back.
func (o *recordOptions) otlpAgain(path string) string {
	again := "giltrace export " + path + " --format otlp"
	if o.OTLP == otlpDefault {
		return again
	}
	shown := oteltrace.Redact(o.OTLP)
	again += " --endpoint " + shown
	if strings.Contains(shown, oteltrace.Redacted) { // not a URL only written otherwise (HTTP://; review)
		again += " (with --otlp's credentials in place of " + oteltrace.Redacted + ")"
	}
	return again
}

// otlp is the OTLP setting of --otlp, with oteltrace's defaults.
func (o *recordOptions) otlp() *otlpOptions {
	oo := &otlpOptions{}
	if o.OTLP != otlpDefault {
		oo.Endpoint = o.OTLP
	}
	return oo
}

// predict models a real program's run and predicts what would help it (a
// VM run is its own model: compare WORKLOAD.yaml answers for it). With
// files, the model, the prediction and its chart go into dir/whatif/, and
// their paths are returned.
func predict(ctx context.Context, r *run, path, dir string, files bool) (*compare.Prediction, []string, error) {
	if !predicted(r) {
		return nil, nil, nil
	}
	p, err := compare.WhatIf(context.WithoutCancel(ctx), r.spans, compare.WhatIfOptions{Source: path, Version: giltraceVersion()})
	if err != nil || !files {
		return p, nil, err
	}
	written, err := writePrediction(ctx, p, filepath.Join(dir, "whatif"))
	if r.written != nil {
		for _, path := range written {
			r.written(path)
		}
	}
	return p, written, err
}

// predicted reports whether record predicts what would help run r: a
// real program's that ran (a failed start is the interpreter's: nothing
// to predict).
func predicted(r *run) bool {
	return r.trace.Meta.Extra["source"] == "cpython" && len(r.trace.Threads) > 0 && !r.diagnosis().FailedAtStart
}

// reportOutput writes report.txt or report.json (JSON set) of run r: the
// diagnosis, and for a run recorded with a prediction (r.whatIf) what
// would help, as record prints them (the JSON's "what_if" field).
type reportOutput struct {
	w    io.Writer
	r    *run
	json bool
}

func (e reportOutput) Export(ctx context.Context, s *tracer.Spans) error {
	var pred *compare.Prediction
	if e.r.whatIf != nil {
		pred = e.r.whatIf()
	}
	f := report.Text
	if e.json {
		f = report.JSON
	}
	if pred == nil {
		return report.For(e.r.diagnosis(), e.w, f).Export(ctx, s)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if e.json {
		return writeReportJSON(e.w, e.r.diagnosis(), s.Trace.Status(), pred)
	}
	if err := report.For(e.r.diagnosis(), e.w, f).Export(ctx, s); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(e.w); err != nil {
		return err
	}
	return pred.WriteText(e.w)
}

// writeReportJSON prints the report as JSON, with the prediction, if any,
// as its "what_if" field.
// The fields are report --json's (the diagnosis, then the trace's state),
// so that without a prediction the bytes are the same.
func writeReportJSON(w io.Writer, diag *diagnosis.Report, st tracer.Status, pred *compare.Prediction) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*diagnosis.Report
		Interrupted   bool                `json:"interrupted,omitempty"`
		Salvaged      string              `json:"salvaged,omitempty"`
		InterruptedBy string              `json:"interrupted_by,omitempty"`
		WhatIf        *compare.Prediction `json:"what_if,omitempty"`
	}{diag, st.Interrupted, st.Salvaged, st.Why, pred})
}

// exists reports whether path names anything (a link included).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
