package diagnosis

import (
	"os"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// BenchmarkAnalyze measures Analyze alone, on derived spans.
func BenchmarkAnalyze(b *testing.B) {
	t := testkit.CPUThreads(8, 20000) // about 100 000 events
	sp := tracer.Derive(t)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Analyze(sp)
	}
	b.ReportMetric(float64(len(t.Events)), "events")
}

// BenchmarkAnalyzeFile measures Analyze alone on the recorded trace named
// by GILTRACE_BENCH_TRACE (docs/performance.md's FILE, the 1.92 M-event
// run of scripts/postrun.sh), derived once; skipped without it. Run it
// alternately in two checkouts to compare builds.
func BenchmarkAnalyzeFile(b *testing.B) {
	path := os.Getenv("GILTRACE_BENCH_TRACE")
	if path == "" {
		b.Skip("GILTRACE_BENCH_TRACE names no trace")
	}
	t, err := tracer.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	sp := tracer.Derive(t)
	b.ResetTimer()
	for b.Loop() {
		Analyze(sp)
	}
	b.ReportMetric(float64(len(t.Events)), "events")
}
