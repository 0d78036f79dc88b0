package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/giltrace/giltrace/diagnosis"
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
// TruncatedError, which says where); any other failure gives err.
func readTraceFile(path string) (t *tracer.Trace, truncated, err error) {
	t, err = tracer.ReadFile(path)
	var te *tracer.TruncatedError
	if err != nil && errors.As(err, &te) && t != nil {
		return t, err, nil
	}
	return t, nil, err
}

// readTrace is readTraceFile for a command that works on the complete part
// of a file cut off mid-write: it warns on stderr, naming what the command
// does with it ("reporting", "exporting", "showing").
func readTrace(path string, stderr io.Writer, doing string) (*tracer.Trace, error) {
	t, truncated, err := readTraceFile(path)
	if truncated != nil {
		fmt.Fprintf(stderr, "giltrace: warning: %v; %s the complete part\n", truncated, doing)
	}
	return t, err
}

// run is a recorded run as every consumer of the CLI takes it: the trace,
// its spans derived once, and its diagnosis made at most once, however
// many outputs ask for it.
type run struct {
	trace *tracer.Trace
	spans *tracer.Spans

	once   sync.Once
	report *diagnosis.Report

	progress *progress // says which output is being written; nil for none
}

// newRun derives the spans of t.
func newRun(t *tracer.Trace) *run {
	return &run{trace: t, spans: tracer.Derive(t)}
}

// diagnosis analyses the run the first time it is called.
func (r *run) diagnosis() *diagnosis.Report {
	r.once.Do(func() { r.report = diagnosis.Analyze(r.spans) })
	return r.report
}
