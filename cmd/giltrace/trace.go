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

	"github.com/giltrace/giltrace/compare"
	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// exporter is what every output format implements. The seam belongs to its
// consumer, the CLI: each exporter takes the spans of a run, derived once
// for every format (tracer.Derive), and writes its output.
type exporter interface {
	Export(ctx context.Context, s *tracer.Spans) error
}

// readTraceFile reads the .giltrace file at path. A file cut off
// mid-write gives its complete part and the truncation (tracer's
// TruncatedError, which says where); with salvage, a damaged file gives
// the part before the damage and a tracer.SalvagedError naming it. Any
// other failure gives err.
func readTraceFile(path string, salvage bool) (t *tracer.Trace, partial, err error) {
	t, err = tracer.ReadOptions{Salvage: salvage}.ReadFile(path)
	var te *tracer.TruncatedError
	var se *tracer.SalvagedError
	if err != nil && (errors.As(err, &te) || errors.As(err, &se)) && t != nil {
		return t, err, nil
	}
	if err != nil && t == nil && isWorkloadName(path) && strings.Contains(err.Error(), "not a giltrace file") {
		// QA: `giltrace report fixtures/convoy.yaml` said only that the
		// file starts with "# convoy: on".
		err = fmt.Errorf("%w (a workload file: giltrace record %s runs it and reports the run)", err, path)
	}
	if fi, serr := os.Stat(path); err != nil && t == nil && serr == nil && fi.IsDir() {
		// A run's directory is read for its trace (runTraceArg); this one
		// holds none.
		err = fmt.Errorf("%w, and holds no %s nor %s: name a trace, or a run's directory as record writes it", err, traceName, partialName)
	}
	return t, nil, err
}

// isWorkloadName reports whether path is named as a workload file.
func isWorkloadName(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yaml" || ext == ".yml"
}

// runTraceArg is the trace a command reads for its argument p: p, or, if
// p is a directory holding a run's trace, that trace (DIR/run.giltrace,
// as record writes it; else the run.giltrace.partial of a record that was
// killed, which the command reads as far as it was written, and says
// so): QA, "giltrace view giltrace-out/countdown" failed with "not a
// regular file (a directory)".
func runTraceArg(p string) string {
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		return p
	}
	if _, err := os.Lstat(filepath.Join(p, traceName)); err == nil {
		return filepath.Join(p, traceName) // refused by the read if it is no file
	}
	if fi, err := os.Stat(filepath.Join(p, partialName)); err == nil && fi.Mode().IsRegular() {
		return filepath.Join(p, partialName)
	}
	return p
}

// readTrace is readTraceFile for a command that works on the valid part of
// a file cut off mid-write or damaged: it warns on stderr, naming what the
// command does with it ("reporting", "exporting", "showing").
func readTrace(path string, stderr io.Writer, doing string) (*tracer.Trace, error) {
	t, partial, err := readTraceFile(path, true)
	if partial != nil {
		what := "the complete part"
		var se *tracer.SalvagedError
		if errors.As(partial, &se) {
			what = "the valid part before the damage"
		}
		fmt.Fprintf(stderr, "giltrace: warning: %v; %s %s\n", partial, doing, what)
	}
	return t, err
}

// checkHasEvents refuses a trace that holds no events: its header names
// threads, but a report of it would be all zeros (wall 0ns, a ceiling for
// 0 threads). It happens to a file cut off before its first events were
// written; doing is what the command does ("reporting"), what what it
// would have made.
func checkHasEvents(t *tracer.Trace, path, doing, what string) error {
	if len(t.Events) > 0 {
		return nil
	}
	why := ""
	switch {
	case t.Salvaged != "":
		why = " (the file is damaged before its first events)"
	case t.Truncated:
		why = " (the file was cut off before its first events were written)"
	}
	return fmt.Errorf("%s %s: the trace holds no events of its %s%s: nothing to %s", doing, path, textfmt.Plural(len(t.Threads), "thread"), why, what)
}

// run is a recorded run as every consumer of the CLI takes it: the trace,
// its spans derived once, and its diagnosis made at most once, however
// many outputs ask for it.
type run struct {
	trace *tracer.Trace
	spans *tracer.Spans

	once   sync.Once
	report *diagnosis.Report

	warnOnce sync.Once
	warns    []string

	progress *progress // says which output is being written; nil for none
	timings  *timings  // record --timings: each output's time; nil for none

	// whatIf, if set, waits for and returns the prediction of what would
	// help the run (record of a real program), nil if none: report.txt and
	// report.json include it (reportOutput).
	whatIf func() *compare.Prediction

	// written, if set, is told each output as soon as it is in place
	// (record lists it in the directory's manifest then).
	written func(path string)
}

// newRun derives the spans of t.
func newRun(t *tracer.Trace) *run {
	return &run{trace: t, spans: tracer.Derive(t)}
}

// deriveRun is newRun that stops once ctx is done (a signal): a long run
// takes seconds to derive.
func deriveRun(ctx context.Context, t *tracer.Trace, calls bool) (*run, error) {
	derive := tracer.DeriveStatesContext
	if calls {
		derive = tracer.DeriveContext
	}
	s, err := derive(ctx, t)
	if err != nil {
		return nil, err
	}
	return &run{trace: t, spans: s}, nil
}

// warnings are the run's warnings (report.Warnings: a busy machine, a real
// program's tracing cost), which every output shows; made once, without
// the whole diagnosis, which runs beside the outputs.
func (r *run) warnings() []string {
	r.warnOnce.Do(func() { r.warns = report.Warnings(r.spans) })
	return r.warns
}

// diagnosis analyses the run the first time it is called.
func (r *run) diagnosis() *diagnosis.Report {
	r.once.Do(func() { r.report = diagnosis.Analyze(r.spans) })
	return r.report
}
