// Package chrome writes a trace as Chrome trace-event JSON, the format read
// by ui.perfetto.dev and chrome://tracing.
//
// # Layout
//
//   - A process per VM process (pid = Process.PID), named and sorted in the
//     trace's order.
//   - A thread track per guest thread, named after it. Its slices nest: the
//     guest calls outermost (category "call", named after the function,
//     with its file and line), and innermost the thread's state (category
//     "state": running, gil-wait, io, native, native-holding, lock-wait),
//     so a state slice always lies inside the call it happened in.
//   - A "GIL" track per process with a GIL, first in the process: a slice
//     per hold, named after the holding thread, plus instant events for
//     drop requests and forced switches.
//   - Flow arrows (category "gil", or "lock" for guest locks) from every
//     release to the acquire it enabled: one per tracer.Handoff (except
//     one whose acquire is the very end of a cut-off trace, where the
//     acquiring thread has no slice left to point at).
//   - A counter "GIL" per process: how many threads are waiting for it.
//   - The run's metadata in the top-level "metadata" object, which Perfetto
//     imports into its metadata table and chrome://tracing shows under
//     "Metadata"; with it, "warnings", what distorts the run's figures
//     (given by WithWarnings: exporters/report.Warnings, a busy machine, a
//     real program's tracing cost), each also a global instant at time 0
//     (category "warning").
//
// # Perfetto's importer rules
//
// Perfetto's JSON importer (src/trace_processor/importers/json) is strict
// in ways chrome://tracing is not, and the output obeys it: pid and tid
// are >= 1 (a tid of 0 is merged into the process's main thread) and tids
// are unique across processes and distinct from every pid; timestamps are
// relative microseconds; slices on a track (pid, tid) are complete ("X")
// events that nest and never partially overlap (they are clipped to their
// parent if the spans disagree); flow ids are unique. A flow binds to the
// slice on top of its track's stack when it is read: the arrow starts one
// nanosecond before the release, inside the slice that released, and ends
// ("bp":"e") at the acquire, inside the slice that starts there. Instants
// go on the GIL track so that no zero-length slice sits on a thread track
// where a later flow could bind to it.
//
// # Streaming
//
// Events are written one at a time through a buffered writer; nothing but
// the spans and a few per-thread and per-lock strings is kept in memory,
// so the output may be far larger than memory.
package chrome

import (
	"context"
	"fmt"
	"io"

	"github.com/giltrace/giltrace/tracer"
)

// Exporter writes Chrome trace-event JSON to a writer. Each Export writes
// one whole document; calls must not be concurrent, as they share the
// writer.
type Exporter struct {
	w        io.Writer
	warnings []string
}

// WithWarnings makes e write the run's warnings (exporters/report.Warnings:
// a busy machine, a real program's tracing cost) in the metadata and as
// global instants, and returns e.
func (e *Exporter) WithWarnings(warnings []string) *Exporter {
	e.warnings = warnings
	return e
}

// New returns an Exporter writing to w. It writes through its own buffer
// and does not close w.
func New(w io.Writer) *Exporter { return &Exporter{w: w} }

// Export writes the spans s (tracer.Derive of a trace). The same trace
// gives the same bytes. A trace in which no thread ran gives a valid trace
// with one instant saying so. It returns an error if the trace cannot be
// laid out (a pid below 1, two processes with one pid), if ctx is
// cancelled, or if writing fails.
func (e *Exporter) Export(ctx context.Context, s *tracer.Spans) error {
	l, err := newLayout(s)
	if err != nil {
		return fmt.Errorf("exporting chrome trace: %w", err)
	}
	warnings := e.warnings
	o := newOut(ctx, e.w)
	o.raw("{\"metadata\":")
	o.b = appendMeta(o.b, s.Trace, warnings)
	o.raw(",\n\"traceEvents\":[")
	l.writeMetadataEvents(o)
	l.writeEmptyMarker(o)
	l.writeWarnings(o, warnings)
	for id := range s.Trace.Threads {
		l.writeThread(o, tracer.ThreadID(id))
	}
	l.writeHolds(o)
	l.writeInstants(o)
	l.writeFlows(o)
	l.writeWaitCounter(o)
	o.raw("\n]}\n")
	if err := o.flush(); err != nil {
		return fmt.Errorf("exporting chrome trace: %w", err)
	}
	return nil
}
