package vm

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestRunAheadOfACrossProcessNotify: a notice is the run's, so a notify
// in one process wakes a waiter of another. The thread holding that
// process's GIL must not compute past the wake-up, whose thread then
// waits for the GIL: under the legacy GIL its ticks stop being no-ops
// (review: a holder passed over them, and the waiter took the GIL 3 us
// late), under the cpython GIL the waiter asks for a drop. The same run
// as in strict order, on enough cores and on fewer.
func TestRunAheadOfACrossProcessNotify(t *testing.T) {
	defer func() { strictOrder = false }()
	for _, mode := range []tracer.GILMode{tracer.GILLegacy, tracer.GILCPython} {
		w := &workload.Workload{Name: "cross", Seed: 1, Processes: 2,
			GIL: workload.GILConfig{Mode: mode, CheckInterval: 100, SwitchInterval: 500 * time.Microsecond},
			Functions: fns(map[string][]workload.Op{
				// Process 2 computes and waits; process 1 notifies.
				"waiter":   {{Kind: workload.OpWait, Lock: "n", UntilNotify: true, Duration: 50 * time.Millisecond}, loops(1000)},
				"computer": {loops(200_000)},
				"notifier": {{Kind: workload.OpIO, Duration: 2 * time.Millisecond, IOKind: "net"}, {Kind: workload.OpNotify, Lock: "n"}},
			}),
			Threads: []workload.ThreadGroup{group("C", 1, "computer"), group("W", 1, "waiter"), group("N", 1, "notifier")},
		}
		w.Threads[0].Process, w.Threads[1].Process, w.Threads[2].Process = 2, 2, 1
		w.Threads[0].StartAfter = 100 * time.Microsecond // once the waiter has parked
		for _, cores := range []int{0, 4, 2} {
			strictOrder = true
			a, errA := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Cores: cores})
			strictOrder = false
			b, errB := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Cores: cores})
			if errA != nil || errB != nil {
				t.Fatalf("%s on %d cores: %v, %v", mode, cores, errA, errB)
			}
			if !bytes.Equal(traceBytes(t, canonicalStacks(a)), traceBytes(t, canonicalStacks(b))) {
				t.Errorf("%s on %d cores: running ahead changed the run", mode, cores)
			}
		}
	}
}
