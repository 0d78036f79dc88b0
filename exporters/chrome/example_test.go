package chrome_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/internal/chrometest"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// Two threads counting down under the GIL take turns twice: the output has
// a GIL track and a track per thread, and an arrow per handoff.
func Example() {
	var buf bytes.Buffer
	if err := chrome.New(&buf).Export(context.Background(), tracer.Derive(testkit.Countdown(2))); err != nil {
		fmt.Println(err)
		return
	}
	sum, err := chrometest.Validate(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("process:", sum.Processes[1])
	for _, name := range []string{"GIL", "T1", "T2"} {
		fmt.Printf("track %s: tid %d\n", name, sum.TID(1, name))
	}
	for _, f := range sum.Flows {
		fmt.Printf("%s: tid %d (%s) -> tid %d (%s)\n", f.Name, f.From.TID, f.FromSlice, f.To.TID, f.ToSlice)
	}
	// Output:
	// process: python
	// track GIL: tid 2
	// track T1: tid 3
	// track T2: tid 4
	// GIL handoff: tid 3 (running) -> tid 4 (running)
	// GIL handoff: tid 4 (running) -> tid 3 (running)
	// GIL handoff: tid 3 (running) -> tid 4 (running)
}
