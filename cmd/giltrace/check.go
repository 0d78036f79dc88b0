package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
	"github.com/spf13/cobra"
)

// checkOptions are the arguments of giltrace check.
type checkOptions struct {
	Files []string // workload files
}

func newCheckCmd() *cobra.Command { return checkCmd(runCheck) }

// checkCmd builds the command around run, so that tests can check the
// parsed options.
func checkCmd(run func(*cobra.Command, *checkOptions) error) *cobra.Command {
	o := &checkOptions{}
	return &cobra.Command{
		Use:   "check WORKLOAD.yaml...",
		Short: "Check workload files without running them",
		Long: "check loads each workload file as record would (docs/workloads.md) and prints\n" +
			"what it would run, or every problem with its file, line and column. It runs\n" +
			"nothing, so it suits editors and CI. The exit status is non-zero if any file\n" +
			"has a problem.",
		Args: usageArgs(minimumArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files = args
			return run(cmd, o)
		},
	}
}

func runCheck(cmd *cobra.Command, o *checkOptions) error {
	var errs []error
	for _, f := range o.Files {
		w, err := loadWorkload(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %s\n", f, describeWorkload(w)); err != nil {
			return err
		}
		if w.Cores > 0 && w.Clock != workload.ClockVirtual {
			// Valid (record --clock virtual runs it), but not as it stands
			// (QA: check said ok to a file record then refused).
			if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s:%d: note: cores: %d simulates cores in virtual time only: record it with --clock virtual, or add clock: virtual (recorded in real time as it stands, it is refused)\n", f, w.CoresLine, w.Cores); err != nil {
				return err
			}
		}
	}
	return errors.Join(errs...)
}

// loadWorkload loads the workload file path, or says that path is a
// recorded trace and which command reads it (QA: check of a .giltrace
// said "invalid UTF-8 at byte 13").
func loadWorkload(path string) (*workload.Workload, error) {
	if isTrace(path) {
		return nil, fmt.Errorf("%s: a recorded trace, not a workload file: giltrace validate %s checks it, giltrace report %s reads it, giltrace compare %s predicts what would help it", path, path, path, path)
	}
	if isPythonScript(path) {
		// QA: "countdown.py:16: invalid YAML: mapping values are not
		// allowed in this context", for the likeliest slip of all.
		return nil, fmt.Errorf("%s: a Python script, not a workload file: giltrace record -- python3 %s traces it", path, path)
	}
	return workload.Load(path)
}

// isPythonScript reports whether path names a Python script: a .py file,
// or a file whose #! line names a python.
func isPythonScript(path string) bool {
	if strings.HasSuffix(path, ".py") {
		return true
	}
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return false // a FIFO's open would wait for a writer
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	return strings.HasPrefix(line, "#!") && strings.Contains(line, "python")
}

// describeWorkload says in one line what a workload runs.
func describeWorkload(w *workload.Workload) string {
	threads, pinned := 0, 0 // in every process; in one process (process:)
	for _, g := range w.Threads {
		if g.Process != 0 {
			pinned += g.Count
		} else {
			threads += g.Count
		}
	}
	gil := string(w.GIL.Mode)
	switch w.GIL.Mode {
	case tracer.GILCPython:
		gil += fmt.Sprintf(", switch interval %v", w.GIL.SwitchInterval)
	case tracer.GILLegacy:
		gil += fmt.Sprintf(", check interval %d", w.GIL.CheckInterval)
	}
	procs := max(w.Processes, 1)
	var th string
	switch {
	case pinned == 0:
		th = textfmt.Plural(threads, "thread") + " per process"
	case threads == 0:
		th = textfmt.Plural(pinned, "thread") + " in all"
	default:
		th = fmt.Sprintf("%s (%d in every process)", textfmt.Plural(threads*procs+pinned, "thread"), threads)
	}
	clock := ""
	if w.Clock == workload.ClockVirtual {
		// How record runs it without flags (QA: check did not say).
		clock = ", simulated in virtual time"
		if w.Cores > 0 {
			clock += " on " + textfmt.Plural(w.Cores, "core")
		} else {
			clock += " on a core per thread (record's default; compare's is this machine's cores)"
		}
	}
	return fmt.Sprintf("workload %q (GIL %s): %s, %s, %s%s",
		w.Name, gil, th, textfmt.Plural(procs, "process"),
		textfmt.Plural(len(w.Functions), "function"), clock)
}
