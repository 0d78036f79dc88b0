package compare

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// aboveNote is how the note on the speedups above the cores begins.
const aboveNote = "Above what the "

// virtualAsMeasured compares workload w in virtual time on the given
// simulated cores (exact, the same on every machine) with run (nil: the
// VM's), and marks the result measured, as --clock real's would be, so
// that its table has the note on the speedups above the cores.
func virtualAsMeasured(t *testing.T, w *workload.Workload, cores int, threads []int, modes []string, run Runner) *Result {
	t.Helper()
	if run == nil {
		run = NewVMRunner(w, VMOptions{Cores: cores, Version: "test"})
	}
	res, err := Run(context.Background(), Options{Workload: w.Name, CallsPerThread: CallsPerThread(w), Threads: threads, Modes: modes}, run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cores != cores || res.Clock != "virtual" {
		t.Fatalf("compared on %d cores, clock %q; want %d, virtual", res.Cores, res.Clock, cores)
	}
	res.Clock = ""
	res.finish() // as measured: the bounds (Row.SpeedupBound)
	return res
}

func table(t *testing.T, r *Result) string {
	t.Helper()
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	return b.String()
}

func speedupOf(r *Result, mode string, n int) float64 {
	for _, row := range r.Rows {
		if row.Mode == mode && row.Threads == n {
			return row.Speedup
		}
	}
	return 0
}

// TestAboveCoresIOBound: web-scraping's threads wait on the network, which
// needs no core, so on one core 2 threads are 1.88x as fast as one and 8
// are 6.30x (virtual time, exact): above the core, and no note says they
// cannot be (QA: "Above the 1 core: threads 2: 1.88x ... not a gain", with
// --clock real on one CPU).
func TestAboveCoresIOBound(t *testing.T) {
	w, err := workload.Load(filepath.Join("..", "fixtures", "web-scraping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res := virtualAsMeasured(t, w, 1, []int{1, 2, 8}, []string{Threads, Processes}, nil)
	text := table(t, res)
	for _, mode := range []string{Threads, Processes} {
		if s := speedupOf(res, mode, 2); s < 1.5 {
			t.Errorf("%s 2 on 1 core: speedup %.2f, want above 1.5 (I/O overlaps)\n%s", mode, s, text)
		}
		if s := speedupOf(res, mode, 8); s < 5 {
			t.Errorf("%s 8 on 1 core: speedup %.2f, want above 5\n%s", mode, s, text)
		}
	}
	if strings.Contains(text, aboveNote) {
		t.Errorf("I/O-bound speedups on 1 core called impossible:\n%s", text)
	}
}

// TestAboveCoresSlowBaseline: a CPU-bound workload whose one-thread runs
// were slowed (their 40 ms of compute recorded as 50 ms, as a machine
// that took the core away would) makes processes and free-threaded 2.50x
// on 2 cores, which their CPU work does not allow (2.00x at most): the
// note names them, and not threads 2 (1.25x, below the bound).
func TestAboveCoresSlowBaseline(t *testing.T) {
	spec := "name: countdown-short\nthreads:\n  - name: counter\n    run: countdown\nfunctions:\n  countdown:\n    - compute: %s\n"
	w, err := workload.Parse("countdown.yaml", []byte(strings.ReplaceAll(spec, "%s", "40ms")))
	if err != nil {
		t.Fatal(err)
	}
	slow, err := workload.Parse("countdown.yaml", []byte(strings.ReplaceAll(spec, "%s", "50ms")))
	if err != nil {
		t.Fatal(err)
	}
	o := VMOptions{Cores: 2, Version: "test"}
	fast, slowed := NewVMRunner(w, o), NewVMRunner(slow, o)
	run := func(ctx context.Context, v Variant) (*tracer.Trace, error) {
		if v.Threads == 1 {
			return slowed(ctx, v)
		}
		return fast(ctx, v)
	}
	res := virtualAsMeasured(t, w, 2, []int{2}, nil, run)
	text := table(t, res)
	for _, mode := range []string{Processes, FreeThreaded} {
		if s := speedupOf(res, mode, 2); math.Abs(s-2.5) > 0.05 {
			t.Errorf("%s 2: speedup %.2f, want 2.50", mode, s)
		}
	}
	const want = "Above what the 2 cores allow: processes 2: 2.50x (at most 2.00x), free-threaded 2: 2.50x (at most 2.00x). No run goes faster than its cores allow its CPU work"
	if !strings.Contains(text, want) || strings.Contains(text, "threads 2:") {
		t.Errorf("table lacks %q, or names threads 2:\n%s", want, text)
	}
	// The same runs, with one-thread runs as fast as the others: no note.
	res = virtualAsMeasured(t, w, 2, []int{2}, nil, nil)
	if text := table(t, res); strings.Contains(text, aboveNote) {
		t.Errorf("CPU-bound speedups within the cores called impossible:\n%s", text)
	}
}

// TestAboveCoresStarter: a thread group that starts the others keeps its
// count (one main thread), so its CPU work does not multiply with the
// workers: on 1 core, a main thread computing 100 ms before 4 workers each
// wait 100 ms on I/O ends 4x as fast as one worker's run, which the cores
// allow.
func TestAboveCoresStarter(t *testing.T) {
	w, err := workload.Parse("fork.yaml", []byte(`name: fork
threads:
  - {name: main, run: main}
  - {name: worker, run: work}
functions:
  main:
    - compute: 100ms
    - start: worker
    - join: worker
  work:
    - io: 100ms
`))
	if err != nil {
		t.Fatal(err)
	}
	res := virtualAsMeasured(t, w, 1, []int{4}, []string{Threads}, nil)
	text := table(t, res)
	if s := speedupOf(res, Threads, 4); s < 3.5 {
		t.Errorf("threads 4: speedup %.2f, want about 4\n%s", s, text)
	}
	if strings.Contains(text, aboveNote) {
		t.Errorf("a main thread's CPU work counted 4 times:\n%s", text)
	}
}

// TestSpeedupBound: the bound from constructed rows, exactly: QA's
// web-scraping on 1 core (473 ms of wall, 12 ms of it CPU work), a
// CPU-bound run, and a one-thread run whose threads outnumbered the cores
// (its per-thread figures may hold waits for a core: only its CPU work
// over the cores counts, and without the CPU time it obtained, nothing).
func TestSpeedupBound(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cores  int
		base   *runWork
		wallNS int64
		n      int
		want   float64 // 0: no bound
	}{
		// 2 x 473 / max(2 x 12 / 1, 12).
		{"io-bound", 1, &runWork{cpuNS: 12 * ms, threads: []int64{12 * ms}, cores: 1}, 473 * ms, 2, 2 * 473.0 / 24},
		// 8 x 473 / max(8 x 12 / 1, 12).
		{"io-bound 8", 1, &runWork{cpuNS: 12 * ms, threads: []int64{12 * ms}, cores: 1}, 473 * ms, 8, 473.0 / 12},
		// 2 x 100 / max(2 x 95 / 2, 95): a thread of 95 ms does not split.
		{"cpu-bound", 2, &runWork{cpuNS: 95 * ms, threads: []int64{95 * ms}, cores: 2}, 100 * ms, 2, 200.0 / 95},
		// 4 on 2 cores: 4 x 100 / (4 x 95 / 2).
		{"cpu-bound 4", 2, &runWork{cpuNS: 95 * ms, threads: []int64{95 * ms}, cores: 2}, 100 * ms, 4, 400.0 / 190},
		// 3 threads on 2 cores that obtained 60 ms of CPU time: 2 x 100 /
		// (2 x 60 / 2), not 2 x 100 / 90: the 90 ms its busiest thread
		// was seen running held waits for a core.
		{"queued", 2, &runWork{cpuNS: 60 * ms, threads: []int64{90 * ms, 10 * ms, 10 * ms}, queued: true, cores: 2}, 100 * ms, 2, 200.0 / 60},
		{"queued, no CPU time", 2, &runWork{cpuNS: -1, threads: []int64{90 * ms, 10 * ms, 10 * ms}, queued: true, cores: 2}, 100 * ms, 2, 0},
		{"io only", 1, &runWork{cpuNS: 0, threads: []int64{0}, cores: 1}, 100 * ms, 2, 0},
		{"no work", 1, nil, 100 * ms, 2, 0},
	} {
		base := Row{Mode: Processes, Threads: 1, WallNS: tc.wallNS, Speedup: 1, work: tc.base}
		row := Row{Mode: Processes, Threads: tc.n, WallNS: tc.wallNS, Speedup: 1}
		if tc.base != nil {
			row.work = &runWork{threads: make([]int64, tc.n*len(tc.base.threads)), cores: tc.cores}
		}
		r := &Result{Cores: tc.cores, Rows: []Row{base, row}}
		got, ok := r.speedupBound(&r.Rows[1])
		if ok != (tc.want > 0) || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: bound %v (%v), want %v", tc.name, got, ok, tc.want)
		}
	}
}

// TestSpeedupBoundStarter: the one-thread run's threads that the larger
// run has once (a group that starts the others keeps its count) count
// once: a main thread of 100 ms of CPU work and a worker of none, 1 worker
// then 4 (5 threads), 200 ms apart, on 1 core: 4 x 200 / 100, not
// 4 x 200 / 400.
func TestSpeedupBoundStarter(t *testing.T) {
	r := &Result{Cores: 1, Rows: []Row{
		{Mode: Threads, Threads: 1, WallNS: 200 * ms, Speedup: 1, work: &runWork{cpuNS: 100 * ms, threads: []int64{100 * ms, 0}, queued: true, cores: 1}},
		{Mode: Threads, Threads: 4, WallNS: 200 * ms, Speedup: 4, work: &runWork{threads: make([]int64, 5), cores: 1}},
	}}
	if got, ok := r.speedupBound(&r.Rows[1]); !ok || math.Abs(got-8) > 1e-9 {
		t.Errorf("bound %v (%v), want 8", got, ok)
	}
}
