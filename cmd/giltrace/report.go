package main

import (
	"fmt"
	"path/filepath"

	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/view"
	"github.com/spf13/cobra"
)

// reportOptions are the arguments of giltrace report.
type reportOptions struct {
	File string // the .giltrace file
	JSON bool   // JSON instead of text
}

func newReportCmd() *cobra.Command { return reportCmd(runReport) }

// reportCmd builds the command around run, so that tests can check the
// parsed options.
func reportCmd(run func(*cobra.Command, *reportOptions) error) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report FILE.giltrace",
		Short: "Explain why the threads of a recorded run did or did not speed up",
		Long: "report reads a .giltrace file and prints the diagnosis: each thread's wall time\n" +
			"split into running, GIL wait, I/O, native and lock wait; GIL utilisation,\n" +
			"parallelism, handoffs and re-acquire latency per process; the functions that\n" +
			"wait and that make others wait; the speedup achieved and its bounds; and\n" +
			"verdicts with what to do. docs/diagnosis.md explains every number.",
		Args: usageArgs(exactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = runTraceArg(args[0])
			return run(cmd, o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the report as JSON: the same document as record --json prints for the run (for a real program, record's adds the what_if prediction, kept in the run's report.json and whatif/whatif.json; compare RUN.giltrace makes it again)")
	return cmd
}

func runReport(cmd *cobra.Command, o *reportOptions) error {
	t, err := readTrace(o.File, cmd.ErrOrStderr(), "reporting")
	if err != nil {
		return err
	}
	if err := checkHasEvents(t, o.File, "reporting", "report"); err != nil {
		return err
	}
	f := report.Text
	if o.JSON {
		f = report.JSON
	}
	// The reading's garbage freed, and room for the analysis advised for
	// huge pages, as record does after its run.
	tracer.FreeForAnalysis(analysisRoom(len(t.Events)))
	s, err := tracer.DeriveContext(cmd.Context(), t)
	if err != nil {
		return fmt.Errorf("reporting %s: %w", o.File, err)
	}
	r := &run{trace: t, spans: s} // its diagnosis made once, for the report and the hint
	if err := report.For(r.diagnosis(), cmd.OutOrStdout(), f).Export(cmd.Context(), s); err != nil {
		return err
	}
	if !o.JSON {
		fmt.Fprint(cmd.OutOrStdout(), whatIfHint(r, o.File))
	}
	return nil
}

// whatIfHint is the report's last line for a run that record predicts
// for (predicted), which report does not predict: where the prediction is
// kept, if it is (the run's whatif/, beside the trace), and the command
// that makes it (QA: the report gave no hint). "" for another run.
func whatIfHint(r *run, path string) string {
	if !predicted(r) {
		return ""
	}
	kept := ""
	if dir := filepath.Join(filepath.Dir(path), "whatif"); view.WhatIfOf(dir, r.trace) {
		// Only a prediction of this run: compare of another trace in the
		// same directory writes the same whatif/ (QA: the report of
		// python-convoy.giltrace named daemon-threads' prediction).
		kept = fmt.Sprintf("record kept it beside the run (%s); ", dir)
	}
	return fmt.Sprintf("\nWhat would help (processes, free-threading, more cores, another switch interval): %sgiltrace compare %s predicts it (docs/what-if.md).\n", kept, path)
}
