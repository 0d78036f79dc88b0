package report

import (
	"context"
	"io"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// benchTrace is a large built trace: 8 CPU-bound threads taking 20 000
// turns on the GIL (about 100 000 events).
func benchTrace() *tracer.Trace { return testkit.CPUThreads(8, 20000) }

// BenchmarkExport measures Derive, Analyze and the text rendering, as
// `giltrace report` runs them.
func BenchmarkExport(b *testing.B) {
	t := benchTrace()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := New(io.Discard, Text).Export(context.Background(), tracer.Derive(t)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(t.Events)), "events")
}
