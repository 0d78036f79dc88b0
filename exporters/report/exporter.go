// Package report renders the diagnosis of a run (package diagnosis) as text
// for people and JSON for machines. The numbers, the verdicts and their
// thresholds are the diagnosis's; this package only lays them out.
package report

import (
	"context"
	"fmt"
	"io"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
)

// Format is the rendering of a report.
type Format int

// Report formats.
const (
	Text Format = iota // for people
	JSON               // for machines; field names are kept stable
)

// Exporter writes the report of a run to a writer.
type Exporter struct {
	w io.Writer
	f Format
	r *diagnosis.Report
}

// New returns an Exporter writing the report to w in format f. It analyses
// the spans it is given; see For to render an analysis already made.
func New(w io.Writer, f Format) *Exporter {
	return &Exporter{w: w, f: f}
}

// For returns an Exporter that renders r, already analysed, whatever spans
// it is given: a caller that analyses a run once hands the same Report to
// every consumer.
func For(r *diagnosis.Report, w io.Writer, f Format) *Exporter {
	return &Exporter{w: w, f: f, r: r}
}

// Export analyses the spans s (unless the Exporter was made with For) and
// writes the report. The same spans give the same bytes.
func (e *Exporter) Export(ctx context.Context, s *tracer.Spans) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	r := e.r
	if r == nil {
		r = diagnosis.Analyze(s)
	}
	st := s.Trace.Status()
	switch e.f {
	case Text:
		return writeText(e.w, r, st)
	case JSON:
		return writeJSON(e.w, withStatus{r, st.Interrupted, st.Salvaged, st.Why})
	}
	return Write(e.w, r, e.f)
}

// withStatus is a report's JSON with the state of its trace that the
// diagnosis does not carry (truncated and dropped_events it does): new
// fields after the existing ones, whose names are kept.
type withStatus struct {
	*diagnosis.Report
	Interrupted bool   `json:"interrupted,omitempty"`
	Salvaged    string `json:"salvaged,omitempty"`
	// InterruptedBy is what stopped the run, when the trace says (a VM
	// run's deadlock).
	InterruptedBy string `json:"interrupted_by,omitempty"`
}

// Write renders r to w in format f.
func Write(w io.Writer, r *diagnosis.Report, f Format) error {
	switch f {
	case Text:
		return WriteText(w, r)
	case JSON:
		return WriteJSON(w, r)
	}
	return fmt.Errorf("writing report: unknown format %d", f)
}
