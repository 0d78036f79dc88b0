package flamegraph_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// BenchmarkExport exports a trace of 1 M events as folded stacks and as
// the HTML page, derivation of the spans included, and reports events per
// second.
//
//	go test ./exporters/flamegraph -run '^$' -bench Export -benchtime 5x
//
// exporter is the flame graph exporters' common method.
type exporter interface {
	Export(ctx context.Context, s *tracer.Spans) error
}

func BenchmarkExport(b *testing.B) {
	tr := testkit.Turns(1 << 20)
	for _, bc := range []struct {
		name string
		new  func(io.Writer) exporter
	}{
		{"folded", func(w io.Writer) exporter { return flamegraph.NewFolded(w) }},
		{"html", func(w io.Writer) exporter { return flamegraph.NewHTML(w) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			start, cpu := time.Now(), testkit.CPUTime()
			for b.Loop() {
				if err := bc.new(io.Discard).Export(context.Background(), tracer.Derive(tr)); err != nil {
					b.Fatal(err)
				}
			}
			testkit.Rate(b, len(tr.Events), start, cpu)
		})
	}
}
