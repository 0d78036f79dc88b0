package report

import (
	"bytes"
	"context"
	"testing"

	"github.com/giltrace/giltrace/exporters/report/reporttest"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/tracer/tracetest"
)

func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trace *tracer.Trace
	}{
		{"countdown", tracetest.Countdown(20)},
		{"mixed", tracetest.Mixed()},
		{"convoy", reporttest.Convoy(5)},
		{"lock-bound", reporttest.LockBound(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []struct {
				ext    string
				format Format
			}{{"txt", Text}, {"json", JSON}} {
				var buf bytes.Buffer
				if err := New(&buf, f.format).Export(context.Background(), tc.trace); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "report-"+tc.name+"."+f.ext, buf.Bytes())
			}
		})
	}
}
