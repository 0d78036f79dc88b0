package vm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// The fidelity harness: each classic experiment run on CPython
// (scripts/fidelity/*.py, standard library only, each printing its own
// measurement as JSON) and on the VM in real time, interleaved on the same
// machine, and in virtual time (2 simulated cores, deterministic). Both
// sides are measured the same way: see each experiment.
//
//   - Full: GILTRACE_FIDELITY=cpython (scripts/fidelity.sh), every
//     experiment, GILTRACE_FIDELITY_ROUNDS rounds (5), medians; prints the
//     table of docs/fidelity.md. A measurement, not a check.
//   - Short (the normal test suite, not with -short): two experiments
//     with tolerances a loaded machine allows (a factor of 3, best of 3).
//     Skipped with the reason when CPython 3.11 is not found, except in CI
//     (CI=true), where a missing python fails.

// fidelityPython finds the CPython to compare with: GILTRACE_PYTHON, else
// a pyenv 3.11, else python3.11 on the PATH.
func fidelityPython() (string, error) {
	if p := os.Getenv("GILTRACE_PYTHON"); p != "" {
		return p, nil
	}
	if m, _ := filepath.Glob("/root/.pyenv/versions/3.11.*/bin/python3.11"); len(m) > 0 {
		return m[len(m)-1], nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		if m, _ := filepath.Glob(filepath.Join(home, ".pyenv/versions/3.11.*/bin/python3.11")); len(m) > 0 {
			return m[len(m)-1], nil
		}
	}
	return exec.LookPath("python3.11")
}

func needPython(t *testing.T) string {
	t.Helper()
	py, err := fidelityPython()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CPython 3.11 not found (GILTRACE_PYTHON, pyenv 3.11 or python3.11 on the PATH): %v", err)
		}
		t.Skipf("CPython 3.11 not found (set GILTRACE_PYTHON): %v", err)
	}
	return py
}

// pyRun runs scripts/fidelity/SCRIPT with args and decodes its JSON.
func pyRun(t *testing.T, py, script string, args ...any) map[string]any {
	t.Helper()
	argv := []string{filepath.Join("..", "scripts", "fidelity", script)}
	for _, a := range args {
		argv = append(argv, fmt.Sprint(a))
	}
	out, err := exec.Command(py, argv...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s", py, argv, err, msg)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s %v: %v: %s", py, argv, err, out)
	}
	return m
}

func num(m map[string]any, k string) float64 {
	v, _ := m[k].(float64)
	return v
}

// fidelityVM runs a workload on the VM, in real time (with the
// calibration lpm) or in virtual time on 2 simulated cores.
func fidelityVM(t *testing.T, w *workload.Workload, o Options, virtual bool, lpm float64) (*tracer.Trace, *tracer.Spans) {
	t.Helper()
	if virtual {
		o.ClockMode, o.Cores = workload.ClockVirtual, 2
	} else {
		o.LoopsPerMS = lpm
		// A collection now and none during the run: this test process
		// holds the garbage of every run before it, and a collection that
		// starts mid-run puts the runtime's mark workers on the cores the
		// guest threads wake on (2 ms late wake-ups in the mixed runs),
		// where each CPython run is a fresh process. A run allocates a
		// few MB.
		runtime.GC()
		gc := debug.SetGCPercent(-1)
		tr, err := Run(context.Background(), w, o)
		debug.SetGCPercent(gc) // before Derive and any Fatal
		if err != nil {
			t.Fatal(err)
		}
		return tr, tracer.Derive(tr)
	}
	tr, err := Run(context.Background(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	return tr, tracer.Derive(tr)
}

// bestOf is the number of runs whose shortest wall a speedup's each side
// takes, on both sides: a run can only be slowed by what else the machine
// does, so the shortest of a few is the steadiest estimate of a short run
// (the speedups are ratios of runs of 80-200 ms).
const bestOf = 3

// shortest runs each of fs the given number of times, taking turns (f1,
// f2, ..., f1, f2, ...), and returns the shortest result of each: the runs
// of the two sides of a ratio are spread over the same stretch of time, so
// that a slow spell of the machine (seconds long on this one) does not
// fall on one side only, as it did when each side's runs came one after
// another.
func shortest(rounds int, fs ...func() float64) []float64 {
	best := make([]float64, len(fs))
	for i := range best {
		best[i] = math.Inf(1)
	}
	for range rounds {
		for i, f := range fs {
			best[i] = min(best[i], f())
		}
	}
	return best
}

// pairedShortest is shortest for both sides of a speedup experiment at
// once: the VM's run of each size and CPython's run of the same size come
// one after the other (which first alternates), bestOf times, so that a
// slow spell of the machine, seconds long here, falls on both sides of a
// size alike instead of on one side's block of runs (until 2026-12-02
// 05:00 UTC each side's runs came in a block: docs/fidelity.md).
func pairedShortest(vmFirst bool, vm, py []func() float64) (vmBest, pyBest []float64) {
	if len(vm) != len(py) {
		panic("pairedShortest: the sides differ in sizes")
	}
	vmBest, pyBest = make([]float64, len(vm)), make([]float64, len(py))
	for i := range vmBest {
		vmBest[i], pyBest[i] = math.Inf(1), math.Inf(1)
	}
	for r := range bestOf {
		for i := range vm {
			inOrder(vmFirst == ((r+i)%2 == 0), func() { vmBest[i] = min(vmBest[i], vm[i]()) },
				func() { pyBest[i] = min(pyBest[i], py[i]()) })
		}
	}
	return vmBest, pyBest
}

// maxImbalance is how much slower than the fastest processor the slowest
// may be for an experiment of the harness to start (awaitBalance).
const maxImbalance = 1.15

// spinTime is the shortest wall of three runs of the VM's own countdown
// (2 M loops, 10-30 ms here): the interpreter's speed on the processor
// it runs on. A tight arithmetic loop is the wrong yardstick: when one
// vCPU was 2.7x slower than the other on a C loop storing to memory, a Go
// loop of register arithmetic took the same time on both.
func spinTime() time.Duration {
	best := time.Duration(math.MaxInt64)
	for range 3 {
		begun := time.Now()
		countdown(2_000_000, true)
		best = min(best, time.Since(begun))
	}
	return best
}

// cpuBalance times each processor (cpuSpeeds) and returns the slowest's
// time over the fastest's, 0 when they cannot be timed one by one, and
// the times for the log.
func cpuBalance() (float64, string) {
	ds := cpuSpeeds()
	if len(ds) == 0 {
		return 0, "processors not timed"
	}
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.1f", float64(d)/1e6))
	}
	r := float64(slices.Max(ds)) / float64(slices.Min(ds))
	return r, fmt.Sprintf("processors %s ms (%.2f)", strings.Join(parts, "/"), r)
}

// awaitBalance waits, up to wait, until the processors are equally fast
// (within maxImbalance), timing them every few seconds: on this project's
// virtual machine one vCPU is at times much slower than the other for
// minutes, and a speedup or handoff figure measured then says which vCPU
// each thread ran on, not how the GIL behaves (docs/fidelity.md). It
// returns the last timing and whether it was balanced; the harness runs
// the experiment either way and counts the unbalanced ones in its table's
// header.
func awaitBalance(wait time.Duration) (string, bool) {
	deadline := time.Now().Add(wait)
	for {
		r, desc := cpuBalance()
		if r <= maxImbalance {
			return desc, true
		}
		if time.Now().After(deadline) {
			return desc, false
		}
		time.Sleep(5 * time.Second)
	}
}

// vmWall is a run of w on the VM, timed: its wall in ns.
func vmWall(t *testing.T, w *workload.Workload, o Options, virtual bool, lpm float64) func() float64 {
	return func() float64 {
		t.Helper()
		_, s := fidelityVM(t, w, o, virtual, lpm)
		return float64(wall(s))
	}
}

// pyWall is a run of a fidelity script, timed: its wall_ms.
func pyWall(t *testing.T, py, script string, args ...any) func() float64 {
	return func() float64 {
		t.Helper()
		return num(pyRun(t, py, script, args...), "wall_ms")
	}
}

// fairWindow is the window of the handoffs' fairness (handoff.py's
// FAIR_WINDOW_NS).
const fairWindow = int64(time.Second)

// handoffFigures is scripts/fidelity/handoff.py's figures(): the threads'
// running segments merged on one timeline over the window in which every
// thread ran; a switch is a change of thread, a holding period a maximal
// run of one thread's segments, fairness the smallest thread's running
// time over the largest's in each second of the window, averaged over the
// seconds (the window cut into the nearest whole number of equal parts).
// The handoff gap is the time from the end of one run to the start of the
// next (median, µs).
func handoffFigures(perThread [][][2]int64) (switchesPerS, holdMedianMS, fairness, gapMedianUS float64) {
	var lo, hi int64 = 0, 1<<63 - 1
	for _, ss := range perThread {
		if len(ss) == 0 {
			return 0, 0, 0, 0
		}
		lo = max(lo, ss[0][0])
		hi = min(hi, ss[len(ss)-1][1])
	}
	type seg struct {
		a, b int64
		i    int
	}
	var segs []seg
	for i, ss := range perThread {
		for _, s := range ss {
			a, b := max(s[0], lo), min(s[1], hi)
			if b > a {
				segs = append(segs, seg{a, b, i})
			}
		}
	}
	slices.SortFunc(segs, func(x, y seg) int {
		if x.a != y.a {
			return compareInt(x.a, y.a)
		}
		return compareInt(x.b, y.b)
	})
	type run struct {
		i    int
		a, b int64
	}
	var runs []run
	for _, s := range segs {
		if n := len(runs); n > 0 && runs[n-1].i == s.i {
			runs[n-1].b = s.b
		} else {
			runs = append(runs, run{s.i, s.a, s.b})
		}
	}
	span := hi - lo
	if span <= 0 || len(runs) == 0 {
		return 0, 0, 0, 0
	}
	var gaps []int64
	for i := 1; i < len(runs); i++ {
		gaps = append(gaps, runs[i].a-runs[i-1].b)
	}
	slices.Sort(gaps)
	if len(gaps) > 0 {
		gapMedianUS = float64(gaps[len(gaps)/2]) / 1e3
	}
	var holds []int64
	for _, r := range runs[1 : len(runs)-1] {
		holds = append(holds, r.b-r.a)
	}
	slices.Sort(holds)
	if len(holds) > 0 {
		holdMedianMS = float64(holds[len(holds)/2]) / 1e6
	}
	// Fairness in each of the span's nearest whole number of equal windows
	// of about fairWindow (at least one), averaged.
	nwin := max(1, (span+fairWindow/2)/fairWindow)
	busy := make([]int64, len(perThread))
	for w := range nwin {
		wa, wb := lo+span*w/nwin, lo+span*(w+1)/nwin
		clear(busy)
		for _, s := range segs {
			if a, b := max(s.a, wa), min(s.b, wb); b > a {
				busy[s.i] += b - a
			}
		}
		if mx := slices.Max(busy); mx > 0 {
			fairness += float64(slices.Min(busy)) / float64(mx)
		}
	}
	fairness /= float64(nwin)
	return float64(len(runs)-1) / (float64(span) / 1e9), holdMedianMS, fairness, gapMedianUS
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// gilSegments are each thread's GIL holds: its running segments.
func gilSegments(tr *tracer.Trace, s *tracer.Spans) [][][2]int64 {
	out := make([][][2]int64, len(tr.Threads))
	gil := tr.Procs[0].GIL
	for _, h := range s.Holds {
		if h.Lock == gil {
			out[h.Thread] = append(out[h.Thread], [2]int64{h.Start, h.End})
		}
	}
	return out
}

// reacquireMedian is the convoy's figure from a VM trace, measured as
// convoy.py measures it: for each I/O of thread io, from its io-begin to
// the GIL acquire after it, minus the I/O's duration d; only I/Os that
// began after the CPU thread (if any) first took the GIL and ended while it
// still ran.
func reacquireMedian(tr *tracer.Trace, s *tracer.Spans, io, cpu string, d time.Duration) float64 {
	start, end := int64(0), int64(1<<63-1)
	var id tracer.ThreadID
	for i, th := range tr.Threads {
		if th.Name == io {
			id = tracer.ThreadID(i)
		}
		if th.Name == cpu {
			end = s.Threads[i].End
			for _, h := range s.Holds {
				if h.Thread == tracer.ThreadID(i) {
					start = h.Start
					break
				}
			}
		}
	}
	var lat []int64
	begin := int64(-1)
	for _, e := range tr.Events {
		if e.Thread != id {
			continue
		}
		switch {
		case e.Kind == tracer.KindIOBegin && e.Time >= start:
			begin = e.Time
		case e.Kind == tracer.KindLockAcquire && begin >= 0:
			if e.Time < end {
				lat = append(lat, e.Time-begin-int64(d))
			}
			begin = -1
		}
	}
	if len(lat) == 0 {
		return math.NaN()
	}
	slices.Sort(lat)
	return float64(lat[len(lat)/2]) / 1e6
}

// fidelityFigure is one figure of the table: its values per round, the
// target (the largest relative difference from CPython accepted: 0.10, or
// 0.15 for holding and re-acquire medians; 0: shown for information, not
// one of issue 16's figures, not counted).
type fidelityFigure struct {
	name, unit    string
	target        float64
	virtual       float64
	real, cpython []float64
}

// fidelityExperiment runs one experiment: the VM in real time and CPython,
// in the order given (interleaved across rounds), and returns its
// figures' values: real, cpython; virtual once (virtual is deterministic).
type fidelityExperiment struct {
	name string
	run  func(t *testing.T, py string, lpm float64, vmFirst bool) (real, cpython []float64)
	virt func(t *testing.T) []float64
	figs []fidelityFigure
}

func fidelityExperiments(short bool) []fidelityExperiment {
	var exps []fidelityExperiment
	// Handoffs: 3 s, about 600 holding periods at 5 ms, 15000 at 0.2 ms; the
	// fairness the mean of three 1 s windows' (handoffFigures).
	secs := 3.0
	if short {
		secs = 0.3
	}
	// Countdown: 2 workers as threads, back to back, processes.
	if !short {
		const d, pyLoops = 100 * time.Millisecond, 2_000_000
		vmRuns := func(t *testing.T, virtual bool, lpm float64) []func() float64 {
			return []func() float64{vmWall(t, counters(2, 1, d), Options{}, virtual, lpm),
				vmWall(t, counters(1, 2, d), Options{}, virtual, lpm),
				vmWall(t, counters(1, 1, d), Options{Processes: 2}, virtual, lpm)}
		}
		ratios := func(w []float64) []float64 { return []float64{w[0] / w[1], w[2] / w[1]} }
		exps = append(exps, fidelityExperiment{
			name: "countdown, 2 workers: threads / back to back, processes / back to back (wall)",
			run: func(t *testing.T, py string, lpm float64, vmFirst bool) ([]float64, []float64) {
				r, c := pairedShortest(vmFirst, vmRuns(t, false, lpm), []func() float64{pyWall(t, py, "countdown.py", "threads", pyLoops),
					pyWall(t, py, "countdown.py", "sequential", pyLoops),
					pyWall(t, py, "countdown.py", "processes", pyLoops)})
				return ratios(r), ratios(c)
			},
			virt: func(t *testing.T) []float64 { return ratios(shortest(1, vmRuns(t, true, 0)...)) },
			figs: []fidelityFigure{{name: "threads / back to back", unit: "x", target: 0.10}, {name: "processes / back to back", unit: "x", target: 0.10}},
		})
	}
	// Handoffs between CPU-bound threads.
	type hcase struct {
		n        int
		interval time.Duration
	}
	hcases := []hcase{{2, 5 * time.Millisecond}, {2, time.Millisecond}, {2, 200 * time.Microsecond}, {4, 5 * time.Millisecond}, {4, time.Millisecond}, {4, 200 * time.Microsecond}}
	if short {
		hcases = []hcase{{2, 5 * time.Millisecond}}
	}
	for _, hc := range hcases {
		vmFigs := func(t *testing.T, virtual bool, lpm float64) []float64 {
			per := time.Duration(secs * float64(time.Second) / float64(hc.n))
			tr, s := fidelityVM(t, counters(hc.n, 1, per), Options{SwitchInterval: hc.interval}, virtual, lpm)
			sw, hold, fair, gap := handoffFigures(gilSegments(tr, s))
			return []float64{sw, hold, fair, gap}
		}
		ms := float64(hc.interval) / 1e6
		exps = append(exps, fidelityExperiment{
			name: fmt.Sprintf("handoffs, %d CPU-bound threads, %v interval", hc.n, hc.interval),
			run: func(t *testing.T, py string, lpm float64, vmFirst bool) ([]float64, []float64) {
				var r, c []float64
				inOrder(vmFirst, func() { r = vmFigs(t, false, lpm) }, func() {
					m := pyRun(t, py, "handoff.py", hc.n, ms, secs)
					c = []float64{num(m, "switches_per_s"), num(m, "hold_median_ms"), num(m, "fairness"), num(m, "gap_median_us")}
					if num(m, "window_ms") <= 0 { // a thread ran only after another ended: no figure
						c = []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
					}
				})
				return r, c
			},
			virt: func(t *testing.T) []float64 { return vmFigs(t, true, 0) },
			figs: []fidelityFigure{{name: "switches per second", unit: "/s", target: 0.10}, {name: "median holding period", unit: "ms", target: 0.15}, {name: "fairness (min/max running)", target: 0.10},
				{name: "median handoff gap (holder's last to next's first instruction)", unit: "us"}}, // informational (docs/fidelity.md)
		})
	}
	// Mixed compute + sleep.
	if !short {
		ns := []int{1, 2, 4, 8}
		mixedWL := func(n int) *workload.Workload {
			return &workload.Workload{Name: "mixed", Seed: 1,
				Functions: fns(map[string][]workload.Op{"f": {{Kind: workload.OpRepeat, Times: 20, Body: []workload.Op{compute(2 * time.Millisecond), blockIO(2 * time.Millisecond)}}}}),
				Threads:   []workload.ThreadGroup{group("T", n, "f")}}
		}
		speedups := func(walls []float64) []float64 {
			var out []float64
			for i, n := range ns[1:] {
				out = append(out, float64(n)*walls[0]/walls[i+1])
			}
			return out
		}
		vmRuns := func(t *testing.T, virtual bool, lpm float64) []func() float64 {
			var fs []func() float64
			for _, n := range ns {
				fs = append(fs, vmWall(t, mixedWL(n), Options{}, virtual, lpm))
			}
			return fs
		}
		var figs []fidelityFigure
		for _, n := range ns[1:] {
			figs = append(figs, fidelityFigure{name: fmt.Sprintf("speedup at %d threads", n), unit: "x", target: 0.10})
		}
		exps = append(exps, fidelityExperiment{
			name: "mixed 20 x (compute 2 ms + sleep 2 ms)",
			run: func(t *testing.T, py string, lpm float64, vmFirst bool) ([]float64, []float64) {
				// CPython's calibration, once, for every run.
				plpm := num(pyRun(t, py, "mixed.py", 1, 20, 2, 2), "loops_per_ms")
				var fs []func() float64
				for _, n := range ns {
					fs = append(fs, pyWall(t, py, "mixed.py", n, 20, 2, 2, plpm))
				}
				r, c := pairedShortest(vmFirst, vmRuns(t, false, lpm), fs)
				return speedups(r), speedups(c)
			},
			virt: func(t *testing.T) []float64 { return speedups(shortest(1, vmRuns(t, true, 0)...)) },
			figs: figs,
		})
	}
	// Native calls, releasing at 1/2/4 threads and holding at 2.
	if !short {
		nativeWL := func(n int, releases bool) *workload.Workload {
			return &workload.Workload{Name: "native", Seed: 1,
				Functions: fns(map[string][]workload.Op{"f": {{Kind: workload.OpRepeat, Times: 5, Body: []workload.Op{native(20*time.Millisecond, releases)}}}}),
				Threads:   []workload.ThreadGroup{group("T", n, "f")}}
		}
		// The walls of: releasing at 1, 2 and 4 threads, holding at 1 and 2.
		speedups := func(w []float64) []float64 {
			return []float64{2 * w[0] / w[1], 4 * w[0] / w[2], 2 * w[3] / w[4]}
		}
		vmRuns := func(t *testing.T, virtual bool, lpm float64) []func() float64 {
			return []func() float64{vmWall(t, nativeWL(1, true), Options{}, virtual, lpm),
				vmWall(t, nativeWL(2, true), Options{}, virtual, lpm), vmWall(t, nativeWL(4, true), Options{}, virtual, lpm),
				vmWall(t, nativeWL(1, false), Options{}, virtual, lpm), vmWall(t, nativeWL(2, false), Options{}, virtual, lpm)}
		}
		exps = append(exps, fidelityExperiment{
			name: "native calls 5 x 20 ms (CPython: hashlib.sha256 releasing, sum(range) holding)",
			run: func(t *testing.T, py string, lpm float64, vmFirst bool) ([]float64, []float64) {
				r, c := pairedShortest(vmFirst, vmRuns(t, false, lpm), []func() float64{pyWall(t, py, "native.py", "release", 1, 5, 20),
					pyWall(t, py, "native.py", "release", 2, 5, 20), pyWall(t, py, "native.py", "release", 4, 5, 20),
					pyWall(t, py, "native.py", "hold", 1, 5, 20), pyWall(t, py, "native.py", "hold", 2, 5, 20)})
				return speedups(r), speedups(c)
			},
			virt: func(t *testing.T) []float64 { return speedups(shortest(1, vmRuns(t, true, 0)...)) },
			figs: []fidelityFigure{{name: "releasing: speedup at 2 threads", unit: "x", target: 0.10}, {name: "releasing: speedup at 4 threads", unit: "x", target: 0.10},
				{name: "holding: speedup at 2 threads", unit: "x", target: 0.10}},
		})
	}
	// The convoy: an I/O thread's re-acquire after 1 ms I/Os beside a
	// CPU-bound thread at 5 and 1 ms, and alone.
	type ccase struct {
		interval time.Duration
		cpu      bool
	}
	ccases := []ccase{{5 * time.Millisecond, true}, {time.Millisecond, true}, {5 * time.Millisecond, false}}
	if short {
		ccases = ccases[:1]
	}
	const reps, io = 40, time.Millisecond
	for _, cc := range ccases {
		vmFig := func(t *testing.T, virtual bool, lpm float64) []float64 {
			serve := []workload.Op{{Kind: workload.OpRepeat, Times: reps, Body: []workload.Op{blockIO(io)}}}
			w := &workload.Workload{Name: "convoy", Seed: 1,
				Functions: fns(map[string][]workload.Op{"serve": serve}),
				Threads:   []workload.ThreadGroup{{Name: "io", Count: 1, Run: "serve", Repeat: 1, StartAfter: 2 * time.Millisecond}}}
			if cc.cpu {
				w.Functions = fns(map[string][]workload.Op{"serve": serve, "crunch": {compute(time.Duration(reps)*(io+cc.interval)*3/2 + 50*time.Millisecond)}})
				w.Threads = append([]workload.ThreadGroup{group("cpu", 1, "crunch")}, w.Threads...)
			}
			tr, s := fidelityVM(t, w, Options{SwitchInterval: cc.interval}, virtual, lpm)
			return []float64{reacquireMedian(tr, s, "io", "cpu", io)}
		}
		name := fmt.Sprintf("convoy, %v interval: I/O thread's re-acquire after a 1 ms I/O", cc.interval)
		with := "with"
		if !cc.cpu {
			name, with = "alone (no CPU thread): re-acquire after a 1 ms I/O, the OS's delivery", "alone"
		}
		exps = append(exps, fidelityExperiment{
			name: name,
			run: func(t *testing.T, py string, lpm float64, vmFirst bool) ([]float64, []float64) {
				var r, c []float64
				inOrder(vmFirst, func() { r = vmFig(t, false, lpm) }, func() {
					c = []float64{num(pyRun(t, py, "convoy.py", float64(cc.interval)/1e6, with, reps, 1), "median_ms")}
				})
				return r, c
			},
			virt: func(t *testing.T) []float64 { return vmFig(t, true, 0) },
			figs: []fidelityFigure{{name: "median re-acquire beyond the I/O", unit: "ms", target: 0.15}},
		})
	}
	return exps
}

func inOrder(first bool, a, b func()) {
	if first {
		a()
		b()
	} else {
		b()
		a()
	}
}

// median is the median of the values that are not NaN (a round without
// a figure).
func median(xs []float64) float64 {
	s := slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// TestFidelityCPython is the harness in full (GILTRACE_FIDELITY=cpython):
// a measurement that prints docs/fidelity.md's table.
func TestFidelityCPython(t *testing.T) {
	if os.Getenv("GILTRACE_FIDELITY") != "cpython" {
		t.Skip("a measurement: GILTRACE_FIDELITY=cpython (scripts/fidelity.sh)")
	}
	py := needPython(t)
	rounds := 5
	if n, err := strconv.Atoi(os.Getenv("GILTRACE_FIDELITY_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	ver, _ := exec.Command(py, "-c", "import sys; print(sys.version.split()[0])").Output()
	exps := fidelityExperiments(false)
	if only := os.Getenv("GILTRACE_FIDELITY_ONLY"); only != "" {
		exps = slices.DeleteFunc(exps, func(e fidelityExperiment) bool { return !strings.Contains(e.name, only) })
	}
	var loads []string
	for i := range exps {
		e := &exps[i]
		v := e.virt(t)
		for j := range e.figs {
			e.figs[j].virtual = v[j]
		}
	}
	wait := 3 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("GILTRACE_FIDELITY_WAIT")); err == nil {
		wait = d
	}
	unbalanced, runs, repeated, drifted := 0, 0, 0, 0
	for r := range rounds {
		loads = append(loads, loadavg())
		_, _ = awaitBalance(wait)
		lpm := Calibrate()
		for i := range exps {
			e := &exps[i]
			var real, cp []float64
			// An experiment after which the processors are no longer
			// equally fast ran while the machine changed under it (a
			// vCPU slowed for seconds: 3 of 5 rounds of CPython's
			// holding native call at 2026-12-02 08:35 UTC, 0.73-0.80x
			// in them against 0.97x in the others): it is run again,
			// twice at most, and the last run is kept.
			for try := 0; ; try++ {
				cpus, ok := awaitBalance(wait)
				runs++
				if !ok {
					unbalanced++
					cpus += ", unbalanced"
				}
				real, cp = e.run(t, py, lpm, (r+i)%2 == 0)
				ra, after := cpuBalance()
				t.Logf("round %d, %s: real %v, CPython %v (load %s; before: %s; after: %s)", r+1, e.name, fmtAll(real), fmtAll(cp), loadavg(), cpus, after)
				if ra <= maxImbalance {
					break
				}
				if try == 2 {
					drifted++
					break
				}
				repeated++
				t.Logf("round %d, %s: the processors drifted apart during it: run again", r+1, e.name)
			}
			for j := range e.figs {
				e.figs[j].real = append(e.figs[j].real, real[j])
				e.figs[j].cpython = append(e.figs[j].cpython, cp[j])
			}
		}
	}
	loads = append(loads, loadavg())
	var b strings.Builder
	fmt.Fprintf(&b, "CPython %s (%s), %d cores, GOMAXPROCS %d, %s, median of %d interleaved rounds, load average (1/5/15 min) at each round: %s; experiments begun with the processors equally fast (within %.0f %%): %d of %d; run again because they drifted apart during it: %d (kept though they drifted again: %d)\n\n",
		strings.TrimSpace(string(ver)), py, runtime.NumCPU(), runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02 15:04 MST"), rounds, strings.Join(loads, "; "),
		(maxImbalance-1)*100, runs-unbalanced, runs, repeated, drifted)
	fmt.Fprintf(&b, "| experiment | figure | virtual (2 cores) | real | CPython | real / CPython | virtual / CPython | target | real met |\n|---|---|---|---|---|---|---|---|---|\n")
	met, total := 0, 0
	for _, e := range exps {
		for _, f := range e.figs {
			rm, cm := median(f.real), median(f.cpython)
			rr, vr := ratio(rm, cm), ratio(f.virtual, cm)
			target, mark := "information", "-"
			if f.target > 0 {
				total++
				target, mark = fmt.Sprintf("±%.0f %%", f.target*100), "no"
				if rr > 0 && abs(rr-1) <= f.target {
					met++
					mark = "yes"
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.2f | %.2f | %s | %s |\n", e.name, f.name, fmtFig(f.virtual, f.unit), fmtFig(rm, f.unit), fmtFig(cm, f.unit), rr, vr, target, mark)
		}
	}
	fmt.Fprintf(&b, "\nreal within target: %d of %d figures\n", met, total)
	t.Log("\n" + b.String())
}

// TestFidelityCPythonShort is the harness's short mode in the normal test
// suite: 2 CPU-bound threads at a 5 ms interval (switches per second and
// holding period) and the convoy at 5 ms, the VM in real time against
// CPython, within a factor of 3 (best of 3 rounds): a loaded machine moves
// either side by tens of percent, a broken timed wait or drop request by
// far more.
func TestFidelityCPythonShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs CPython programs (-short)")
	}
	if os.Getenv("GILTRACE_FIDELITY") != "" {
		t.Skip("the full harness runs instead")
	}
	py := needPython(t)
	lpm := testLoopsPerMS()
	exps := fidelityExperiments(true)
	for i, e := range exps {
		var msg string
		ok := false
		for r := range 3 {
			real, cp := e.run(t, py, lpm, (r+i)%2 == 0)
			ok, msg = true, ""
			for j, f := range e.figs[:min(2, len(e.figs))] {
				if q := ratio(real[j], cp[j]); q < 1.0/3 || q > 3 {
					ok = false
					msg += fmt.Sprintf("%s, %s: VM %.3g, CPython %.3g (load %s); ", e.name, f.name, real[j], cp[j], loadavg())
				}
			}
			if ok {
				break
			}
			t.Logf("attempt %d: %s", r+1, msg)
		}
		if !ok {
			t.Error(msg)
		}
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func abs(x float64) float64 { return max(x, -x) }

func fmtFig(v float64, unit string) string {
	switch unit {
	case "/s":
		return fmt.Sprintf("%.0f /s", v)
	case "ms":
		return fmt.Sprintf("%.2f ms", v)
	case "x":
		return fmt.Sprintf("%.2fx", v)
	case "us":
		return fmt.Sprintf("%.0f µs", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtAll(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.3g", x))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestHandoffFiguresAsPython: handoffFigures gives handoff.py's figures()
// on the same segments (random threads' runs, 0.3 to 3.6 s, so one to four
// fairness windows), so that both sides of the table are computed alike.
func TestHandoffFiguresAsPython(t *testing.T) {
	// Any python3: figures() is plain Python.
	py, err := exec.LookPath("python3")
	if err != nil {
		py = needPython(t)
	}
	rng := rand.New(rand.NewPCG(16, 1))
	var cases [][][][2]int64
	for range 40 {
		n := 2 + rng.IntN(3)
		per := make([][][2]int64, n)
		end := int64(300e6 + rng.Int64N(3300e6))
		for at := int64(rng.Int64N(5e6)); at < end; {
			hold := 50e3 + rng.Int64N(6e6)
			i := rng.IntN(n)
			per[i] = append(per[i], [2]int64{at, at + hold})
			at += hold + rng.Int64N(60e3)
		}
		if !slices.ContainsFunc(per, func(s [][2]int64) bool { return len(s) == 0 }) { // handoff.py needs every thread to have run
			cases = append(cases, per)
		}
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	prog := `import json, sys
sys.path.insert(0, sys.argv[1])
import handoff
print(json.dumps([handoff.figures(c) for c in json.load(sys.stdin)]))`
	cmd := exec.Command(py, "-c", prog, filepath.Join("..", "scripts", "fidelity"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", py, err)
	}
	var want []map[string]float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i, c := range cases {
		sw, hold, fair, gap := handoffFigures(c)
		w := want[i]
		for _, f := range []struct {
			name      string
			got, want float64
		}{{"switches_per_s", sw, w["switches_per_s"]}, {"hold_median_ms", hold, w["hold_median_ms"]}, {"fairness", fair, w["fairness"]}, {"gap_median_us", gap, w["gap_median_us"]}} {
			if abs(f.got-f.want) > 1e-9*max(1, abs(f.want)) {
				t.Errorf("case %d (%d threads, %d windows): %s = %v, handoff.py %v", i, len(c), int(w["fairness_windows"]), f.name, f.got, f.want)
			}
		}
	}
}

// TestLateExpiries counts, in real time with the lock's drawn lateness off
// (lateDraw 0), the GIL's timed waits that expired late by themselves:
// the lock changed hands after the deadline, before the thread ran (the
// kernel queued its wake-up behind the holder), the definition of
// lateChance, whose CPython figures are 7-8 % of the expiries that set no
// drop request at 5 ms, about 20 % at 1 ms and 26 % at 0.2 ms. 4
// CPU-bound threads of 1 s at each interval. The counts decide lateFrom
// (docs/fidelity.md, 2026-12-02 01:41 UTC). A measurement:
// GILTRACE_FIDELITY=late go test ./vm -run TestLateExpiries -v.
func TestLateExpiries(t *testing.T) {
	if os.Getenv("GILTRACE_FIDELITY") != "late" {
		t.Skip("a measurement: GILTRACE_FIDELITY=late")
	}
	lpm := Calibrate()
	defer func(d float64) { lateDraw, countExpiry = d, nil }(lateDraw)
	lateDraw = 0
	var expired, noop, late atomic.Int64
	countExpiry = func(n, l bool) {
		expired.Add(1)
		if n {
			noop.Add(1)
		}
		if l {
			late.Add(1)
		}
	}
	for _, iv := range []time.Duration{5 * time.Millisecond, time.Millisecond, 200 * time.Microsecond} {
		expired.Store(0)
		noop.Store(0)
		late.Store(0)
		w := &workload.Workload{Name: "late", Seed: 1, GIL: workload.GILConfig{Mode: tracer.GILCPython},
			Functions: fns(map[string][]workload.Op{"count": {compute(time.Second)}}),
			Threads:   []workload.ThreadGroup{group("T", 4, "count")}}
		fidelityVM(t, w, Options{SwitchInterval: iv}, false, lpm)
		t.Logf("4 threads at %v: %d expiries, %d setting no drop request, %d late: %.1f %% of those",
			iv, expired.Load(), noop.Load(), late.Load(), 100*float64(late.Load())/float64(max(noop.Load(), 1)))
	}
}

// TestPairedShortestTakesTurns: the two sides' runs of each size come one
// after the other, which first alternating, bestOf times, and each side
// keeps its shortest.
func TestPairedShortestTakesTurns(t *testing.T) {
	var order []string
	run := func(name string, walls ...float64) func() float64 {
		i := 0
		return func() float64 {
			order = append(order, name)
			w := walls[i%len(walls)]
			i++
			return w
		}
	}
	vm, py := pairedShortest(true, []func() float64{run("v1", 5, 3, 4), run("v2", 9)},
		[]func() float64{run("p1", 2, 7, 1), run("p2", 8, 6)})
	want := []string{"v1", "p1", "p2", "v2", "p1", "v1", "v2", "p2", "v1", "p1", "p2", "v2"}
	if bestOf != 3 || !slices.Equal(order, want) {
		t.Errorf("order %v, want %v (bestOf %d)", order, want, bestOf)
	}
	if !slices.Equal(vm, []float64{3, 9}) || !slices.Equal(py, []float64{1, 6}) {
		t.Errorf("shortest: VM %v, CPython %v; want [3 9], [1 6]", vm, py)
	}
}
