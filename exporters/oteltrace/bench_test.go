package oteltrace

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// discard is a span exporter that drops everything: the benchmark measures
// building the spans, not a transport.
type discard struct{ spans int }

func (d *discard) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	d.spans += len(s)
	return nil
}
func (d *discard) Shutdown(context.Context) error { return nil }

// BenchmarkExport builds the trace of a 200k-event run with the default
// budget (2000 spans).
func BenchmarkExport(b *testing.B) {
	tr := testkit.Large(200_000)
	d := &discard{}
	e := New(d, Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := e.Export(context.Background(), tracer.Derive(tr)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(tr.Events)), "events/op")
	b.ReportMetric(float64(d.spans)/float64(b.N), "spans/op")
}
