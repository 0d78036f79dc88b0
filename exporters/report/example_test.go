package report_test

import (
	"fmt"

	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/tracer/tracetest"
)

func ExampleAnalyze() {
	t := tracetest.Countdown(20) // two CPU-bound threads taking turns on the GIL
	r := report.Analyze(t, tracer.Derive(t))
	fmt.Printf("GIL held %.0f%% of the wall, achieved %.2fx, %.2fx as processes\n",
		100*r.GILHeldFraction, r.Speedup.Achieved, r.Speedup.AsProcesses)
	for _, v := range r.Verdicts {
		fmt.Println(v.Code)
	}
	// Output:
	// GIL held 98% of the wall, achieved 0.98x, 1.98x as processes
	// gil-bound
}
