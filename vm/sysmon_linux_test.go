//go:build linux

package vm

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/giltrace/giltrace/vm/workload"
)

// TestThreadsNotPreemptedByGoRuntime: guest threads that take turns on the
// GIL and sleep in the kernel between turns are not preempted by Go's
// system monitor. It preempts, with a SIGURG, a goroutine whose processor
// has not scheduled for 10 ms, and a guest thread that only ever sleeps in
// futex system calls never schedules by itself (passScheduler): 4 threads
// of 30 x (1 ms compute + 2 ms sleep) drew 20-50 signals in a run of about
// 130 ms (one per thread every 10-25 ms), and the monitor then polled every
// 20 us, which slowed the compute of threads taking turns by 10-20 %; with
// the passes, 2-3. The signals are counted through signal.Notify, which the
// runtime's preemption signals reach too (spurious ones are documented);
// other SIGURGs (a garbage collection's stop) are rare in a run this small.
// The bound allows one signal per thread per 50 ms of the run, a loaded
// machine's late wake-ups included (4-7 at load 4 on 2 cores).
func TestThreadsNotPreemptedByGoRuntime(t *testing.T) {
	w := &workload.Workload{Name: "turns", Seed: 1,
		Functions: fns(map[string][]workload.Op{"f": {{Kind: workload.OpRepeat, Times: 30, Body: []workload.Op{compute(time.Millisecond), blockIO(2 * time.Millisecond)}}}}),
		Threads:   []workload.ThreadGroup{group("T", 4, "f")}}
	if strings.Contains(os.Getenv("GODEBUG"), "asyncpreemptoff=1") {
		t.Skip("GODEBUG=asyncpreemptoff=1: the runtime sends no preemption signals to count")
	}
	attemptsOrSkipIfBusy(t, 3, func() (bool, string) {
		// Counted after the run from what the channel holds: signal.Stop
		// first, so that none arrives while it is read (the buffer is far
		// above any count here; a full buffer drops signals, which the
		// count's len then shows at its cap, far past the bound).
		c := make(chan os.Signal, 1024)
		signal.Notify(c, syscall.SIGURG)
		stopped := false
		stop := func() {
			if !stopped {
				signal.Stop(c)
				stopped = true
			}
		}
		defer stop() // mustRun's t.Fatalf leaves through here
		_, s := mustRun(t, w, Options{})
		stop()
		got := int64(len(c))
		d := wall(s)
		bound := 4 * int64(d/(50*time.Millisecond)+1)
		msg := fmt.Sprintf("%d preemption signals (SIGURG) in a %v run of 4 threads taking turns, bound %d", got, d, bound)
		t.Log(msg)
		return got <= bound, msg
	})
}
