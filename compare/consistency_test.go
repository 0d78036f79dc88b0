package compare

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestRealRunReportNeverExceedsCores records real-time VM runs with more
// busy threads than this machine has cores (GIL-releasing native calls,
// free-threaded compute: issue 16 saw a parallelism of 3.37-3.72 on 2
// cores) and checks that their reports never show a parallelism, nor a
// speedup of CPU work, above the cores the run had.
func TestRealRunReportNeverExceedsCores(t *testing.T) {
	n := 2 * runtime.NumCPU()
	for _, tc := range []struct {
		name string
		op   workload.Op
		mode tracer.GILMode
	}{
		{"native releasing", workload.Op{Kind: workload.OpNative, Duration: 15 * time.Millisecond, ReleasesGIL: true}, tracer.GILCPython},
		{"free-threaded compute", workload.Op{Kind: workload.OpCompute, Duration: 15 * time.Millisecond}, tracer.GILNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &workload.Workload{Name: "busy", Seed: 1,
				Functions: map[string]*workload.Function{"f": {Name: "f", Line: 1, Ops: []workload.Op{tc.op}}},
				Threads:   []workload.ThreadGroup{{Name: "T", Count: n, Run: "f", Repeat: 2}}}
			tr, err := vm.Run(context.Background(), w, vm.Options{Mode: tc.mode, LoopsPerMS: 20_000})
			if err != nil {
				t.Fatal(err)
			}
			r := diagnosis.Analyze(tracer.Derive(tr))
			cores := float64(r.Speedup.Cores)
			if r.Parallelism > cores {
				t.Errorf("%d threads: parallelism %.2f on %v cores", n, r.Parallelism, cores)
			}
			for _, p := range r.Procs {
				if p.Parallelism > cores {
					t.Errorf("process %s: parallelism %.2f on %v cores", p.Name, p.Parallelism, cores)
				}
			}
			if r.Speedup.Achieved > cores {
				t.Errorf("%d threads of CPU work: achieved speedup %.2f on %v cores", n, r.Speedup.Achieved, cores)
			}
			t.Logf("%d threads on %v cores: parallelism %.2f, verdicts %s", n, cores, r.Parallelism, r.VerdictCodes())
		})
	}
}
