package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
	"github.com/spf13/cobra"
)

// recordOptions are the arguments of giltrace record.
type recordOptions struct {
	Workload       string        // the workload file
	Out            string        // directory of run.giltrace; "" is giltrace-out/<name>
	Mode           string        // --gil: overrides gil.mode
	SwitchInterval time.Duration // overrides gil.switch_interval
	Threads        int           // overrides every thread group's count
	Processes      int           // overrides processes
	JSON           bool          // print the breakdown as JSON
	OTLP           string        // --otlp: also send the run to this OTLP endpoint ("default": the environment's)
	Formats        string        // --formats: the local outputs written beside run.giltrace: "" (all), "all", "none" or a list (outputs.go)
}

func newRecordCmd() *cobra.Command { return recordCmd(runRecord) }

// recordCmd builds the command around run, so that tests can check the
// parsed options.
func recordCmd(run func(*cobra.Command, *recordOptions) error) *cobra.Command {
	o := &recordOptions{}
	cmd := &cobra.Command{
		Use:   "record WORKLOAD.yaml",
		Short: "Run a workload on the GIL-locked VM and record its trace",
		Long: "record runs a workload file (docs/workloads.md) on the instrumented VM, writes\n" +
			"every GIL acquire, release, wait and drop request to DIR/run.giltrace, and\n" +
			"prints the report: the verdict, each thread's wall time split into running,\n" +
			"GIL wait, I/O, native and lock wait, and the speedup arithmetic (giltrace\n" +
			"report). Every output (--formats) is written beside run.giltrace. Ctrl-C,\n" +
			"SIGTERM or SIGHUP stops the run and still writes a valid trace of what was\n" +
			"recorded, its outputs and the report, then exits 128 + the signal's number;\n" +
			"a second signal stops the outputs. The trace is written as the run goes\n" +
			"(DIR/run.giltrace.partial until it ends): a crash loses at most about half a\n" +
			"second. Recording into DIR replaces the previous run's files there\n" +
			"(docs/guarantees.md).",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Workload = args[0]
			if err := o.check(); err != nil {
				return &usageError{err}
			}
			return run(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Out, "out", "o", "", "write run.giltrace to `DIR` (default giltrace-out/<workload name>)")
	f.StringVar(&o.Mode, "gil", "", "GIL `MODE`: cpython, legacy or none (default: the workload's)")
	f.DurationVar(&o.SwitchInterval, "switch-interval", 0, "cpython mode's switch interval, e.g. 5ms (default: the workload's)")
	f.IntVar(&o.Threads, "threads", 0, "run `N` threads in every thread group (default: each group's count)")
	f.IntVar(&o.Processes, "processes", 0, "run `N` VM processes, each with its own GIL (default: the workload's)")
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON (the breakdown fields, then the diagnosis)")
	f.StringVar(&o.OTLP, "otlp", "", "also send the run as an OpenTelemetry trace to the OTLP collector at `URL` (--otlp=URL; a bare --otlp uses OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318; docs/otel.md)")
	f.Lookup("otlp").NoOptDefVal = otlpDefault
	f.StringVar(&o.Formats, "formats", "", "write these outputs into DIR beside run.giltrace: all, none, or a comma-separated `LIST` of "+outputNames()+" (files: "+outputFiles()+"; default all; docs/outputs.md)")
	return cmd
}

// check rejects flag values that no workload could accept.
func (o *recordOptions) check() error {
	if o.Mode != "" && !tracer.GILMode(o.Mode).Valid() {
		return fmt.Errorf("--gil %q: expected cpython, legacy or none", o.Mode)
	}
	switch {
	case o.SwitchInterval < 0 || (o.SwitchInterval > 0 && o.SwitchInterval < workload.MinSwitchInterval):
		return fmt.Errorf("--switch-interval %v: expected at least %v", o.SwitchInterval, workload.MinSwitchInterval)
	case o.SwitchInterval > workload.MaxDuration:
		return fmt.Errorf("--switch-interval %v: expected at most %v", o.SwitchInterval, workload.MaxDuration)
	case o.Threads < 0 || o.Threads > workload.MaxThreads:
		return fmt.Errorf("--threads %d: expected 1 to %d", o.Threads, workload.MaxThreads)
	case o.Processes < 0 || o.Processes > workload.MaxProcesses:
		return fmt.Errorf("--processes %d: expected 1 to %d", o.Processes, workload.MaxProcesses)
	}
	if _, err := parseFormats(o.Formats); err != nil {
		return fmt.Errorf("--formats: %w", err)
	}
	if o.OTLP != "" {
		if err := o.otlp().check(); err != nil {
			return fmt.Errorf("--otlp: %w", err)
		}
	}
	return nil
}

func runRecord(cmd *cobra.Command, o *recordOptions) error {
	return record(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
}

// record loads, runs and writes the workload of o, then prints the
// breakdown. An interrupted run still writes and prints what was recorded,
// and returns an error saying so.
func record(ctx context.Context, o *recordOptions, stdout, stderr io.Writer) error {
	w, err := workload.Load(o.Workload)
	if err != nil {
		return err
	}
	dir := o.Out
	if dir == "" {
		dir = filepath.Join("giltrace-out", w.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("recording %s: %w", w.Name, err)
	}
	// The trace is written as the run goes (tracer.Stream): a crash loses
	// at most the last half second or so. A signal waits for it to be
	// complete on disk (setUnsafe).
	in := interruptsOf(ctx)
	in.setUnsafe(+1)
	safe := sync.OnceFunc(func() { in.setUnsafe(-1) })
	defer safe()
	f, err := os.Create(filepath.Join(dir, partialName))
	if err != nil {
		return fmt.Errorf("recording %s: %w", w.Name, err)
	}
	st := tracer.NewStream(f, startMeta(w, o))
	in.setPending(func() string {
		return fmt.Sprintf("the run so far is in %s (a truncated trace)", f.Name())
	})
	t, runErr := vm.Run(tracer.WithStream(ctx, st), w, vm.Options{
		Mode: tracer.GILMode(o.Mode), SwitchInterval: o.SwitchInterval, Threads: o.Threads, Processes: o.Processes,
		Version: giltraceVersion(),
	})
	// The signal that stopped the run does not stop the saving and the
	// outputs of what it recorded; the next one does (newPhase).
	octx, cancel := newPhase(ctx)
	defer cancel()
	interrupted := errors.Is(runErr, vm.ErrInterrupted)
	if runErr != nil && !interrupted {
		f.Close()
		if t == nil {
			os.Remove(f.Name())
			return runErr
		}
		return fmt.Errorf("%w (the events recorded before the failure are in %s)", runErr, f.Name())
	}
	path, saveErr := saveTrace(dir, f, st, t, stderr)
	formats, outErr := parseFormats(o.Formats)
	if saveErr != nil {
		path = f.Name()
		saveErr = fmt.Errorf("recording %s: saving the trace: %w", w.Name, saveErr)
	} else {
		// From now on a signal that the command does not answer within a
		// second (deriving the spans of a long run) exits, saying this.
		in.setPending(func() string {
			return fmt.Sprintf("the trace is saved in %s; outputs not written: %s", path, notWritten(dir, formats))
		})
	}
	safe()
	r, derr := deriveRun(octx, t)
	if derr != nil { // a signal while the spans were derived
		return errors.Join(saveErr, fmt.Errorf("recorded %s, then %w: the report was not printed; outputs not written: %s", path, derr, notWritten(dir, formats)))
	}
	var written []string
	if outErr == nil && saveErr == nil {
		written, outErr = writeOutputs(octx, dir, r, formats)
	}
	// The whole report (issue 6: "also printed at the end of record"): its
	// JSON keeps every field of the breakdown and adds the diagnosis. The
	// run is analysed once, for this and for report.txt and report.json.
	diag := r.diagnosis()
	// Printed whatever signal came: the report is what the user waits for.
	pctx := context.WithoutCancel(ctx)
	if o.JSON {
		err = report.For(diag, stdout, report.JSON).Export(pctx, r.spans)
	} else {
		err = report.For(diag, stdout, report.Text).Export(pctx, r.spans)
		if err == nil {
			_, err = fmt.Fprintf(stdout, "\ntrace: %s\n", path)
		}
		if err == nil && len(written) > 0 {
			_, err = fmt.Fprintf(stdout, "outputs: %s\n", strings.Join(written, " "))
		}
	}
	if err != nil {
		return errors.Join(saveErr, err)
	}
	if interrupted {
		fmt.Fprintf(stderr, "giltrace: run interrupted%s: the trace and the report hold what was recorded until then\n", signalName(in.Signal()))
	}
	if saveErr != nil {
		return saveErr
	}
	if diag.DroppedEvents > 0 {
		fmt.Fprintf(stderr, "giltrace: warning: %d events dropped at the recorder's bound; the trace stops at the first of them\n", diag.DroppedEvents)
	}
	var otlpErr error
	if o.OTLP != "" && !interrupted && ctx.Err() == nil {
		// After the local outputs, so that a collector's failure loses nothing.
		if err := sendOTLP(ctx, r.spans, o.otlp(), stderr); err != nil {
			otlpErr = fmt.Errorf("recorded %s, but sending it over OTLP failed: %w", path, err)
		}
	}
	if outErr != nil {
		return errors.Join(fmt.Errorf("recorded %s, but writing its outputs failed: %w", path, outErr), otlpErr)
	}
	if interrupted {
		return fmt.Errorf("%w: wrote the %d events recorded so far to %s", runErr, len(t.Events), path)
	}
	return otlpErr
}

// otlp is the OTLP setting of --otlp, with oteltrace's defaults.
func (o *recordOptions) otlp() *otlpOptions {
	oo := &otlpOptions{}
	if o.OTLP != otlpDefault {
		oo.Endpoint = o.OTLP
	}
	return oo
}
