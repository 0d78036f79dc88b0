package vm_test

import (
	"context"
	"fmt"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// A single thread counting down: it takes the GIL uncontended, calls its
// function, returns, and releases the GIL as it ends.
func ExampleRun() {
	w, err := workload.Parse("example.yaml", []byte(`name: example
threads:
  - name: main
    run: count
functions:
  count:
    - compute: {loops: 1000}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	t, err := vm.Run(context.Background(), w, vm.Options{LoopsPerMS: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := t.CheckValid(); err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range t.Events {
		line := fmt.Sprintf("%s %s", t.Threads[e.Thread].Name, e.Kind)
		switch e.Kind {
		case tracer.KindLockAcquire:
			line += " " + e.Acquire().String()
		case tracer.KindLockRelease:
			line += " " + e.Release().String()
		case tracer.KindCallEnter:
			f := t.StackFrames(e.Stack)[0]
			line += fmt.Sprintf(" %s (%s:%d)", f.Func, f.File, f.Line)
		}
		fmt.Println(line)
	}
	// Output:
	// main thread-start
	// main lock-acquire uncontended
	// main call-enter count (example.yaml:7)
	// main call-exit
	// main lock-release thread-end
	// main thread-end
}
