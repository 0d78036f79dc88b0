package flamegraph_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/internal/exporttest"
	"github.com/giltrace/giltrace/tracer"
)

// BenchmarkExport exports a trace of 1 M events as folded stacks and as
// the HTML page, derivation of the spans included, and reports events per
// second.
//
//	go test ./exporters/flamegraph -run '^$' -bench Export -benchtime 5x
func BenchmarkExport(b *testing.B) {
	tr := exporttest.Large(1 << 20)
	for _, bc := range []struct {
		name string
		new  func(io.Writer) tracer.Exporter
	}{
		{"folded", func(w io.Writer) tracer.Exporter { return flamegraph.NewFolded(w) }},
		{"html", func(w io.Writer) tracer.Exporter { return flamegraph.NewHTML(w) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			start, cpu := time.Now(), exporttest.CPUTime()
			for b.Loop() {
				if err := bc.new(io.Discard).Export(context.Background(), tr); err != nil {
					b.Fatal(err)
				}
			}
			exporttest.Rate(b, len(tr.Events), start, cpu)
		})
	}
}
