package pprof_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// BenchmarkExport exports a trace of 1 M events to each profile,
// derivation of the spans included, and reports events per second.
//
//	go test ./exporters/pprof -run '^$' -bench Export -benchtime 5x
func BenchmarkExport(b *testing.B) {
	tr := testkit.Turns(1 << 20)
	// The shared cost of every exporter, for reference.
	b.Run("derive", func(b *testing.B) {
		start, cpu := time.Now(), testkit.CPUTime()
		for b.Loop() {
			tracer.Derive(tr)
		}
		testkit.Rate(b, len(tr.Events), start, cpu)
	})
	for _, k := range kinds {
		b.Run(k.String(), func(b *testing.B) {
			b.ReportAllocs()
			start, cpu := time.Now(), testkit.CPUTime()
			for b.Loop() {
				if err := pprof.New(io.Discard, k).Export(context.Background(), tracer.Derive(tr)); err != nil {
					b.Fatal(err)
				}
			}
			testkit.Rate(b, len(tr.Events), start, cpu)
		})
	}
}
