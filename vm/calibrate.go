package vm

import (
	"context"
	"math"
	"runtime"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// Calibration: best of calibrateRuns runs of at least calibrateRun of CPU
// time each, about 15 ms in all; the best run is the one least disturbed by
// the rest of the machine, i.e. the interpreter running alone.
const (
	calibrateRuns = 5
	calibrateRun  = 3 * time.Millisecond
)

// Calibrate measures how many iterations of the countdown loop
// `while n > 0: n -= 1` the interpreter runs per millisecond on one
// goroutine, with no GIL and no other thread. Compute durations of a
// workload are converted to loops with it.
func Calibrate() float64 {
	n := int64(100_000)
	for {
		d := countdown(n, true)
		if d >= calibrateRun || n > math.MaxInt64/4 {
			break
		}
		n *= 4
	}
	best := 0.0
	for range calibrateRuns {
		d := countdown(n, true)
		best = max(best, float64(n)/(float64(d)/float64(time.Millisecond)))
	}
	return best
}

// countdown runs `while n > 0: n -= 1` on a thread of its own, untraced,
// and returns how long it took: the operating-system thread's CPU time
// where it can be read, else the wall time. quick selects the
// superinstructions.
//
// CPU time, because compute given as a duration is CPU work (docs/vm.md):
// on a machine whose cores are shared with other processes, a wall-clock
// calibration counts the time the thread waited for a core as work, and
// every compute of the run comes out short (measured here with another
// process spinning: 75-85 k loops/ms against 138 k on a free core, best of
// five, so a "2 ms" compute ran 1.1 ms).
func countdown(n int64, quick bool) time.Duration {
	th := countdownThread(n, quick)
	runtime.LockOSThread() // the thread's CPU clock is the goroutine's
	defer runtime.UnlockOSThread()
	cpu0, cpuOK := threadCPU()
	start := time.Now()
	if err := th.eval(); err != nil {
		panic("vm: calibration interrupted: " + err.Error())
	}
	wall := time.Since(start)
	// A thread cannot use more CPU than the time that passed: a reading
	// that says otherwise is a clock to distrust (a coarse one), not work.
	if cpu1, ok := threadCPU(); cpuOK && ok && cpu1 > cpu0 && time.Duration(cpu1-cpu0) <= wall+time.Millisecond/10 {
		return time.Duration(cpu1 - cpu0)
	}
	return wall
}

// countdownThread is a thread ready to run the countdown alone.
func countdownThread(n int64, quick bool) *thread {
	rec := tracer.NewRecorder(tracer.Config{Disabled: true})
	w := &workload.Workload{Name: "countdown", Functions: map[string]*workload.Function{
		"count": {Name: "count", Ops: []workload.Op{{Kind: workload.OpCompute, Loops: n}}},
	}, Threads: []workload.ThreadGroup{{Name: "main", Run: "count"}}}
	prog, err := compile(w, rec, 1, quick)
	if err != nil {
		panic("vm: compiling the countdown: " + err.Error())
	}
	p := &process{id: rec.AddProcess("calibrate", 1), gil: noGIL{}}
	buf := rec.NewThread("main", p.id)
	th := &thread{id: buf.Thread(), proc: p, gil: p.gil, buf: buf, rec: rec, clock: &realClock{start: time.Now()},
		ctx: context.Background(), prog: prog,
		frames: make([]frame, 0, prog.maxDepth+1), locals: make([]int64, prog.maxLocal),
		nextTick: math.MaxInt64, wake: NewWaker()}
	th.frames = append(th.frames, frame{code: prog.tops[0]})
	return th
}
