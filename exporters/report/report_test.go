package report

import (
	"bytes"
	"context"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trace *tracer.Trace
	}{
		{"countdown", testkit.Countdown(20)},
		{"mixed", testkit.Mixed()},
		{"convoy", testkit.Convoy(5)},
		{"lock-bound", testkit.LockBound(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []struct {
				ext    string
				format Format
			}{{"txt", Text}, {"json", JSON}} {
				var buf bytes.Buffer
				if err := New(&buf, f.format).Export(context.Background(), tracer.Derive(tc.trace)); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "report-"+tc.name+"."+f.ext, buf.Bytes())
			}
		})
	}
}
