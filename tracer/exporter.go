package tracer

import "context"

// Exporter turns a trace into an output. Its destination (a writer, an
// endpoint) is fixed by its constructor. Export must not modify t and should
// produce the same bytes for the same trace.
type Exporter interface {
	Export(ctx context.Context, t *Trace) error
}
