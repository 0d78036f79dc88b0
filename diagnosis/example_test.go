package diagnosis_test

import (
	"fmt"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func ExampleAnalyze() {
	t := testkit.Countdown(20) // two CPU-bound threads taking turns on the GIL
	r := diagnosis.Analyze(tracer.Derive(t))
	fmt.Printf("GIL held %.0f%% of the wall, achieved %.2fx, %.2fx as processes\n",
		100*r.GILHeldFraction, r.Speedup.Achieved, r.Speedup.AsProcesses)
	for _, v := range r.Verdicts {
		fmt.Println(v.Code)
	}
	// Output:
	// GIL held 98% of the wall, achieved 0.98x, 1.98x as processes
	// gil-bound
}
