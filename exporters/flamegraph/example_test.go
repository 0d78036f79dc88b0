package flamegraph_test

import (
	"context"
	"os"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// Two threads counting down under the GIL, taking turns once: the folded
// stacks of their wall time.
func ExampleNewFolded() {
	tr := testkit.Countdown(1)
	if err := flamegraph.NewFolded(os.Stdout).Export(context.Background(), tracer.Derive(tr)); err != nil {
		panic(err)
	}
	// Output:
	// T1;gil-wait 10
	// T1;gil-wait;main (test.yaml:8);count (test.yaml:3) 3100050
	// T1;running 30
	// T1;running;main (test.yaml:8) 20
	// T1;running;main (test.yaml:8);count (test.yaml:3) 7099920
	// T2;gil-wait 5199995
	// T2;running 30
	// T2;running;main (test.yaml:8) 20
	// T2;running;main (test.yaml:8);count (test.yaml:3) 2999980
}
