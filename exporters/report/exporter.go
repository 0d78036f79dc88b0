package report

import (
	"context"
	"fmt"
	"io"

	"github.com/giltrace/giltrace/tracer"
)

// Format is the rendering of a report.
type Format int

// Report formats.
const (
	Text Format = iota // for people
	JSON               // for machines; field names are kept stable
)

// Exporter writes the report of a trace to a writer.
type Exporter struct {
	w io.Writer
	f Format
}

var _ tracer.Exporter = (*Exporter)(nil)

// New returns an Exporter writing the report to w in format f.
func New(w io.Writer, f Format) *Exporter {
	return &Exporter{w: w, f: f}
}

// Export derives t's spans, analyses them and writes the report. The same
// trace gives the same bytes.
func (e *Exporter) Export(ctx context.Context, t *tracer.Trace) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return e.ExportSpans(ctx, tracer.Derive(t))
}

// ExportSpans is Export for spans already derived.
func (e *Exporter) ExportSpans(ctx context.Context, s *tracer.Spans) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	r := Analyze(s.Trace, s)
	switch e.f {
	case Text:
		return r.WriteText(e.w)
	case JSON:
		return r.WriteJSON(e.w)
	}
	return fmt.Errorf("writing report: unknown format %d", e.f)
}
