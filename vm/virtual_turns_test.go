package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestTurnsInPlaceAreExact: turns run in place (virtual_turns.go) are an
// optimisation, not a change of the model: every fixture, countdowns of
// 2 to 64 threads at several switch intervals, seeds, wake-up and timer
// latencies, with daemons, a second process or I/O beside them, and
// random workloads give the same bytes with and without them; and the
// countdowns did run turns in place.
func TestTurnsInPlaceAreExact(t *testing.T) {
	var turns int64
	vclockDone = func(c *vclock) { turns += c.turns }
	rf, rt := ringFrom, ringTo
	defer func() { vclockDone, inPlaceTurns, ringFrom, ringTo = nil, true, rf, rt }()
	check := func(name string, w *workload.Workload, o Options, want bool) *tracer.Trace {
		t.Helper()
		o.ClockMode = workload.ClockVirtual
		inPlaceTurns = false
		a, errA := Run(context.Background(), w, o)
		inPlaceTurns, turns = true, 0
		b, errB := Run(context.Background(), w, o)
		if (errA == nil) != (errB == nil) || errA != nil && !errors.Is(errA, errDeadlock) {
			t.Fatalf("%s: %v, %v", name, errA, errB)
		}
		if !bytes.Equal(traceBytes(t, a), traceBytes(t, b)) {
			t.Errorf("%s (mode %s, %d processes, %+v): turns in place changed the run", name, w.GIL.Mode, w.Processes, o)
		}
		if want && turns == 0 {
			t.Errorf("%s: no turn in place", name)
		}
		return b
	}
	for _, w := range fixtures(t) {
		for _, cores := range []int{0, 1, 3} {
			check(w.Name, w, Options{Cores: cores}, false)
		}
	}
	countdown := func(n int, d time.Duration, extra func(*workload.Workload)) *workload.Workload {
		w := &workload.Workload{Name: "countdown", Seed: 1, GIL: workload.GILConfig{Mode: tracer.GILCPython},
			Functions: fns(map[string][]workload.Op{"count": {compute(d), loops(7), compute(d / 3)}}),
			Threads:   []workload.ThreadGroup{group("T", n, "count")}}
		if extra != nil {
			extra(w)
		}
		return w
	}
	for _, n := range []int{2, 3, 8, 64} {
		for _, si := range []time.Duration{5 * time.Millisecond, time.Millisecond, 100 * time.Microsecond, 7 * time.Microsecond} {
			for _, seed := range []int64{1, 2} {
				s := seed
				d := time.Duration(6*n) * (si + DefaultTimerLatency) // about 6 holds a thread
				check(fmt.Sprintf("countdown %d threads at %v, seed %d", n, si, seed), countdown(n, d, nil), Options{SwitchInterval: si, Seed: &s}, true)
			}
		}
	}
	for _, lat := range []time.Duration{time.Microsecond, 3 * time.Millisecond} {
		for _, timer := range []time.Duration{-1, 2 * time.Millisecond} {
			check(fmt.Sprintf("countdown, wake-up latency %v, timer latency %v", lat, timer), countdown(4, 50*time.Millisecond, nil), Options{WakeLatency: lat, TimerLatency: timer}, true)
		}
	}
	check("countdown and daemons", countdown(3, 30*time.Millisecond, func(w *workload.Workload) {
		w.Functions["spin"] = &workload.Function{Name: "spin", Ops: []workload.Op{compute(time.Second)}}
		w.Threads = append(w.Threads, workload.ThreadGroup{Name: "d", Count: 3, Run: "spin", Daemon: true})
	}), Options{}, true)
	check("countdown in 2 processes", countdown(3, 30*time.Millisecond, func(w *workload.Workload) { w.Processes = 2 }), Options{}, true)
	check("countdown beside I/O and native calls", countdown(3, 30*time.Millisecond, func(w *workload.Workload) {
		w.Functions["io"] = &workload.Function{Name: "io", Ops: []workload.Op{
			{Kind: workload.OpIO, Duration: 300 * time.Microsecond, Jitter: 100 * time.Microsecond, IOKind: "net"},
			loops(20_000), native(2*time.Millisecond, true), native(time.Millisecond, false)}}
		w.Threads = append(w.Threads, workload.ThreadGroup{Name: "io", Count: 2, Run: "io", Repeat: 30, StartAfter: time.Millisecond})
	}), Options{}, true)
	if tr := check("countdown stopped by the recorder's bound", countdown(8, 4*time.Second, nil), Options{MaxEvents: 20000}, true); tr.Dropped == 0 {
		t.Errorf("countdown at a bound of 20000 events: none dropped (%d kept)", len(tr.Events))
	}
	r := rand.New(rand.NewPCG(11, 12))
	var randomTurns int64
	for i := range 40 {
		check(fmt.Sprintf("random %d", i), randomWorkload(r), Options{Cores: r.IntN(3)}, false)
		randomTurns += turns
	}
	t.Logf("random workloads: %d turns in place", randomTurns)
	randomTurns = 0
	n := 30
	if seeds, _ := strconv.Atoi(os.Getenv("GILTRACE_VIRTUAL_STRESS")); seeds > 0 {
		n = 150 * seeds
	}
	for i := range n {
		w, o := randomContended(r)
		if i%4 == 3 {
			// Rings of a few waiters, built and given up often.
			ringFrom, ringTo = 3, 2
		}
		check(fmt.Sprintf("contended %d", i), w, o, false)
		ringFrom, ringTo = rf, rt
		randomTurns += turns
		w, o = randomTight(r)
		check(fmt.Sprintf("tight %d", i), w, o, false)
		randomTurns += turns
	}
	t.Logf("random contended and tight workloads: %d turns in place", randomTurns)
}

// randomContended is a random workload (randomWorkload) under the
// cpython GIL beside threads that compute for milliseconds, some of
// them daemons or started later, with a random switch interval and
// wake-up and timer latencies, a core per thread: turns in place
// (virtual_turns.go) among every other operation.
func randomContended(r *rand.Rand) (*workload.Workload, Options) {
	w := randomWorkload(r)
	w.GIL.Mode = tracer.GILCPython
	var ops []workload.Op
	for range 1 + r.IntN(3) {
		ops = append(ops, compute(time.Duration(1+r.IntN(30))*time.Millisecond))
		if r.IntN(3) == 0 {
			ops = append(ops, loops(int64(r.IntN(50))))
		}
	}
	w.Functions["spin"] = &workload.Function{Name: "spin", Ops: ops, Line: 9}
	w.Threads = append(w.Threads, workload.ThreadGroup{Name: "spin", Count: 2 + r.IntN(6), Run: "spin", Repeat: 1 + r.IntN(2),
		Daemon: r.IntN(4) == 0, StartAfter: time.Duration(r.IntN(3)) * time.Millisecond})
	if r.IntN(3) == 0 {
		w.Processes = max(w.Processes, 1+r.IntN(3))
		w.Threads[len(w.Threads)-1].Process = r.IntN(w.Processes + 1) // 0: in every process
	}
	return w, randomTurnOptions(r)
}

// randomTight is a workload of many threads in short countdowns, with
// short native calls and I/O between them, at switch intervals of 1-200
// us: turns in place that end soon after they begin.
func randomTight(r *rand.Rand) (*workload.Workload, Options) {
	w := &workload.Workload{Name: "tight", Seed: r.Int64(), Processes: 1 + r.IntN(2), GIL: workload.GILConfig{Mode: tracer.GILCPython,
		SwitchInterval: time.Duration(1+r.IntN(200)) * time.Microsecond}, Functions: map[string]*workload.Function{}}
	var ops []workload.Op
	for range 1 + r.IntN(6) {
		switch r.IntN(5) {
		case 0:
			ops = append(ops, loops(int64(1+r.IntN(5))))
		case 1:
			ops = append(ops, workload.Op{Kind: workload.OpRepeat, Times: 1 + r.IntN(30), Body: []workload.Op{loops(int64(1 + r.IntN(300)))}})
		case 2:
			ops = append(ops, native(time.Duration(r.IntN(20))*time.Microsecond, r.IntN(2) == 0))
		case 3:
			ops = append(ops, workload.Op{Kind: workload.OpIO, Duration: time.Duration(r.IntN(50)) * time.Microsecond, IOKind: "net"})
		default:
			ops = append(ops, loops(int64(1+r.IntN(20000))))
		}
	}
	w.Functions["f"] = &workload.Function{Name: "f", Ops: ops, Line: 3}
	w.Functions["g"] = &workload.Function{Name: "g", Ops: []workload.Op{loops(int64(1 + r.IntN(100000)))}, Line: 13}
	w.Threads = []workload.ThreadGroup{
		{Name: "a", Count: 1 + r.IntN(16), Run: "f", Repeat: 1 + r.IntN(3)},
		{Name: "b", Count: 1 + r.IntN(5), Run: "g", Repeat: 1 + r.IntN(3), Daemon: r.IntN(2) == 0, StartAfter: time.Duration(r.IntN(300)) * time.Microsecond},
	}
	return w, randomTurnOptions(r)
}

// randomTurnOptions are the options of a random workload of turns in
// place: a core per thread (lazy timers), random wake-up and timer
// latencies down to 1 ns, compute rates whose instruction is not whole
// nanoseconds, sometimes one process for all, a seed, and a bound of
// events that cuts the run.
func randomTurnOptions(r *rand.Rand) Options {
	lats := []time.Duration{0, time.Nanosecond, 2 * time.Nanosecond, time.Microsecond, 30 * time.Microsecond, 2 * time.Millisecond}
	timers := []time.Duration{0, -1, time.Nanosecond, 7 * time.Microsecond, 3 * time.Millisecond}
	lpms := []float64{0, 0, 31_250, 27_777, 1000, 1e6}
	s := r.Int64()
	o := Options{WakeLatency: lats[r.IntN(len(lats))], TimerLatency: timers[r.IntN(len(timers))], LoopsPerMS: lpms[r.IntN(len(lpms))],
		OneProcess: r.IntN(4) == 0, Seed: &s}
	if r.IntN(5) == 0 {
		o.MaxEvents = 20_000 + r.IntN(20_000)
	}
	return o
}
