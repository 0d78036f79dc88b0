package workload_test

import (
	"fmt"

	"github.com/giltrace/giltrace/vm/workload"
)

func ExampleParse() {
	src := `
name: countdown
threads:
  - name: counter
    count: 2
    run: countdown
functions:
  countdown:
    - compute: {loops: 10000000}
`
	w, err := workload.Parse("countdown.yaml", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	g := w.Threads[0]
	fmt.Println(w.Name, w.GIL.Mode, w.GIL.SwitchInterval, g.Name, g.Count, w.Functions[g.Run].Ops[0].Loops)
	// Output: countdown cpython 5ms counter 2 10000000
}

func ExampleParse_error() {
	src := `
name: countdown
threads:
  - name: counter
    count: eight
    run: countdwn
functions:
  countdown:
    - compute: 500ms
`
	_, err := workload.Parse("countdown.yaml", []byte(src))
	fmt.Println(err)
	// Output:
	// countdown.yaml:5:12: threads[0].count: expected a positive integer, got "eight"
	// countdown.yaml:6:10: threads[0].run: unknown function "countdwn" (did you mean "countdown"?)
}
