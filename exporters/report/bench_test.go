package report

import (
	"context"
	"io"
	"testing"

	"github.com/giltrace/giltrace/exporters/report/reporttest"
	"github.com/giltrace/giltrace/tracer"
)

// benchTrace is a large built trace: 8 CPU-bound threads taking 20 000
// turns on the GIL (about 100 000 events).
func benchTrace() *tracer.Trace { return reporttest.CPUThreads(8, 20000) }

// BenchmarkAnalyze measures Analyze alone, on derived spans.
func BenchmarkAnalyze(b *testing.B) {
	t := benchTrace()
	sp := tracer.Derive(t)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Analyze(t, sp)
	}
	b.ReportMetric(float64(len(t.Events)), "events")
}

// BenchmarkExport measures the whole exporter (Derive, Analyze, text) as
// `giltrace report` runs it.
func BenchmarkExport(b *testing.B) {
	t := benchTrace()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := New(io.Discard, Text).Export(context.Background(), t); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(t.Events)), "events")
}
