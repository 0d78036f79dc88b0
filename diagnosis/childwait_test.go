package diagnosis_test

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
)

// childWaitTrace is a parent whose thread blocks on a pipe (I/O "disk")
// for 100ms while its child process computes for 100ms: the shape of
// multiprocessing.Pool's _handle_results waiting for a worker's result.
func childWaitTrace(t *testing.T, source string) *tracer.Spans {
	t.Helper()
	text := `giltrace-text 1
meta workload "pool"
meta gil-mode "cpython"
meta switch-interval 5000000
meta cores 2
meta extra "source" "` + source + `"
string 0 ""
string 1 "disk"
process 0 "pool" pid=100 gil=0
process 1 "pool child 101" pid=101 gil=1
lock 0 "GIL" proc=0 gil
lock 1 "GIL" proc=1 gil
thread 0 "MainThread" proc=0
thread 1 "MainThread" proc=1
0 0 thread-start
0 1 thread-start
1 0 lock-acquire GIL uncontended
1 1 lock-acquire GIL uncontended
1000000 0 io-begin disk
1000001 0 lock-release GIL io
101000000 1 lock-release GIL thread-end
101000001 1 thread-end
101000002 0 io-end
101000003 0 lock-acquire GIL uncontended
102000000 0 lock-release GIL thread-end
102000001 0 thread-end
`
	tr, err := tracer.ParseText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return tracer.Derive(tr)
}

// TestChildWaitIsNotWork: in a real program traced with several processes,
// a thread's I/O while another of the program's processes computes is a
// wait for it (Pool's _handle_workers, _handle_results), not work one
// thread would have to do: the parent's 100ms wait for its child's 100ms
// of compute gave 1.99x (203ms of "work" over a 102ms wall). The VM's
// processes are independent workers and keep their I/O.
func TestChildWaitIsNotWork(t *testing.T) {
	r := diagnosis.Analyze(childWaitTrace(t, "cpython"))
	if got, want := r.Speedup.SerialEquivNS, int64(103_000_000); !near(got, want) {
		t.Errorf("cpython: serial equivalent %d, want %d (the CPU work: the parent's wait for its child is not work)", got, want)
	}
	if r.Speedup.Achieved > 1.01 {
		t.Errorf("cpython: achieved %.3f, want about 1", r.Speedup.Achieved)
	}
	r = diagnosis.Analyze(childWaitTrace(t, "vm"))
	if got, want := r.Speedup.SerialEquivNS, int64(203_000_000); !near(got, want) {
		t.Errorf("vm: serial equivalent %d, want %d (independent processes' I/O is work)", got, want)
	}
}

// near: within 10us (the test trace's events are 1ns apart).
func near(got, want int64) bool { return got > want-10_000 && got < want+10_000 }
