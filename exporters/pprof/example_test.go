package pprof_test

import (
	"fmt"

	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// The blame profile of two threads counting down under the GIL: who made
// whom wait, and for how long.
func ExampleProfile() {
	s := tracer.Derive(testkit.Countdown(2))
	p, err := pprof.Profile(s, pprof.KindBlame)
	if err != nil {
		panic(err)
	}
	for _, smp := range p.Sample {
		fmt.Printf("%s waited %d ns for %s (%s in %s)\n", smp.Label["waiter"][0], smp.Value[1],
			smp.Label["thread"][0], smp.Label["state"][0], smp.Location[0].Line[0].Function.Name)
	}
	// Output:
	// T2 waited 20 ns for T1 (running in [no guest frame])
	// T2 waited 20 ns for T1 (running in main)
	// T2 waited 8099970 ns for T1 (running in count)
	// T1 waited 10 ns for T2 (running in [no guest frame])
	// T1 waited 10 ns for T2 (running in main)
	// T1 waited 5099980 ns for T2 (running in count)
	// T1 waited 200010 ns for (none) (handoff in [no holder])
	// T2 waited 200035 ns for (none) (handoff in [no holder])
}
