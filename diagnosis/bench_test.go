package diagnosis

import (
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
