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

// BenchmarkWarnings measures Warnings, which every output's exporter is
// given once per run, on testkit.Large(1_000_000) with a CPU time recorded:
// as a VM run's, and as a real program's (whose tracing cost counts the
// events) (docs/performance.md, "The warnings in every output").
func BenchmarkWarnings(b *testing.B) {
	t := testkit.Large(1_000_000)
	s := tracer.Derive(t)
	for _, src := range []string{"vm", "cpython"} {
		b.Run(src, func(b *testing.B) {
			t.Meta.Extra = map[string]string{"cpu_ns": "1000000000", "source": src}
			for b.Loop() {
				Warnings(s)
			}
			b.ReportMetric(float64(len(t.Events)), "events")
		})
	}
}
