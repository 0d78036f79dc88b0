package diagnosis_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// randomWorkload writes a small random workload: a few thread groups
// doing compute, I/O and critical sections of two locks, some started by
// a timer (start_after), some started and joined by a main thread that
// computes before and after. MODE stands for the GIL mode; with asProcs
// every thread is a group of its own in a process of its own, and there
// is no lock, start or join (a move to processes, run).
func randomWorkload(rng *rand.Rand, cores int, asProcs bool) (string, string) {
	var b strings.Builder
	ms := func(lo, hi int) string { return fmt.Sprintf("%dms", lo+rng.IntN(hi-lo+1)) }
	simple := func(locks bool) string {
		switch k := rng.IntN(5); {
		case k == 0:
			return "{io: " + ms(1, 20) + "}"
		case k == 1 && locks && rng.IntN(2) == 0:
			body := "{compute: " + ms(1, 8) + "}"
			if rng.IntN(2) == 0 {
				body = "{io: " + ms(1, 8) + "}"
			}
			return fmt.Sprintf("{lock: {name: L%d, body: [%s]}}", 1+rng.IntN(2), body)
		case k == 2:
			return fmt.Sprintf("{repeat: {times: %d, body: [{compute: %s}, {io: %s}]}}", 2+rng.IntN(3), ms(1, 5), ms(1, 5))
		}
		return "{compute: " + ms(1, 20) + "}"
	}
	body := func(n int, locks bool) string {
		ops := make([]string, n)
		for i := range ops {
			ops[i] = simple(locks)
		}
		return "[" + strings.Join(ops, ", ") + "]"
	}
	groups := 1 + rng.IntN(3)
	type group struct {
		name, run string
		count     int
		after     int
		started   bool // by main
	}
	var gs []group
	main := !asProcs && rng.IntN(2) == 0
	for g := range groups {
		gr := group{name: fmt.Sprintf("g%d", g+1), run: fmt.Sprintf("f%d", g+1), count: 1 + rng.IntN(3)}
		if rng.IntN(3) == 0 {
			gr.after = 10 * rng.IntN(10)
		}
		gr.started = main && rng.IntN(2) == 0
		gs = append(gs, gr)
	}
	fmt.Fprintf(&b, "name: rnd\nclock: virtual\ncores: %d\ngil: {mode: MODE}\n", cores)
	funcs := map[string]string{}
	for _, g := range gs {
		funcs[g.run] = body(1+rng.IntN(3), !asProcs)
	}
	var procs strings.Builder
	if asProcs {
		n := 0
		for _, g := range gs {
			n += g.count
		}
		fmt.Fprintf(&procs, "name: rnd\nclock: virtual\ncores: %d\nprocesses: %d\nthreads:\n", cores, n)
		p := 0
		for _, g := range gs {
			for k := range g.count {
				p++
				fmt.Fprintf(&procs, "  - {name: %s-%d, run: %s, start_after: %dms, process: %d}\n", g.name, k+1, g.run, g.after, p)
			}
		}
	}
	b.WriteString("threads:\n")
	if main {
		b.WriteString("  - {name: main, run: main}\n")
		var ops []string
		ops = append(ops, "{compute: "+ms(1, 30)+"}")
		for _, g := range gs {
			if g.started {
				ops = append(ops, "{start: "+g.name+"}")
				if rng.IntN(2) == 0 {
					ops = append(ops, simple(false))
				}
			}
		}
		for _, g := range gs {
			if rng.IntN(2) == 0 || g.started {
				ops = append(ops, "{join: "+g.name+"}")
			}
		}
		ops = append(ops, "{compute: "+ms(1, 30)+"}")
		funcs["main"] = "\n    - " + strings.Join(ops, "\n    - ")
	}
	for _, g := range gs {
		fmt.Fprintf(&b, "  - {name: %s, count: %d, run: %s, start_after: %dms}\n", g.name, g.count, g.run, g.after)
	}
	var fs strings.Builder
	fs.WriteString("functions:\n")
	for _, name := range []string{"main", "f1", "f2", "f3"} {
		if f, ok := funcs[name]; ok {
			fmt.Fprintf(&fs, "  %s: %s\n", name, f)
		}
	}
	b.WriteString(fs.String())
	if asProcs {
		procs.WriteString(fs.String())
	}
	return b.String(), procs.String()
}

// runVirtual runs workload src in virtual time with GIL mode mode.
func runVirtual(t *testing.T, src, mode string) *diagnosis.Report {
	t.Helper()
	w, err := workload.Parse("rnd.yaml", []byte(strings.ReplaceAll(src, "MODE", mode)))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	tr, err := vm.Run(context.Background(), w, vm.Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return diagnosis.Analyze(tracer.Derive(tr))
}

// TestEstimatesAgainstRuns records random small workloads in virtual time
// with the GIL, and again without it (and, for those without locks,
// starts and joins, with each thread in a process of its own), and checks
// the estimates against the runs: the wall an estimate implies is never
// longer than the run's by more than half a percent (a bound that is not
// one), and never shorter by more than:
//   - half a percent with as many cores as threads and no lock: exact but
//     for the recorded nanoseconds (QA found 1.60x and 2.74x estimated for
//     runs that took as long without a GIL: threads started by a timer
//     counted as if the GIL had delayed them; and a join that the GIL run
//     did not record, the joined threads having ended first);
//   - orderSlack with locks: the estimate takes a lock's critical sections
//     in the best order there is, and the VM gives a released lock to a
//     waiter at random, which can leave a long tail last (in 3000 runs,
//     3 of 500 with locks were off by more than 0.5 %, by up to 20 %);
//     most are exact (orderExact of them within half a percent);
//   - orderSlack with fewer cores than threads: the VM shares the cores in
//     slices of 3 ms, a thread back from I/O that cannot take a core from
//     a running thread waiting for one, where the estimate packs the CPU
//     work on the cores from when it can begin (in 3000 runs, 2026-12-02:
//     579 on fewer cores, median 1.4 % optimistic, 92 more than 10 %, up
//     to 30.5 %): an estimate, the what-if predicts (docs/what-if.md).
func TestEstimatesAgainstRuns(t *testing.T) {
	runs, orderSlack, orderExact := 60, 0.35, 0.8
	if os.Getenv("GILTRACE_RANDOM_RUNS") != "" {
		runs, _ = strconv.Atoi(os.Getenv("GILTRACE_RANDOM_RUNS"))
	}
	rng := rand.New(rand.NewPCG(14, 2))
	offs := map[string][]float64{}
	for n := range runs {
		cores := 16
		if n%4 == 3 {
			cores = 2
		}
		asProcs := n%3 == 2
		src, procSrc := randomWorkload(rng, cores, asProcs)
		withGIL := runVirtual(t, src, "cpython")
		sp := withGIL.Speedup
		est, what := sp.WithoutGIL, "without a GIL"
		var other *diagnosis.Report
		if asProcs {
			other, est, what = runVirtual(t, procSrc, "cpython"), sp.AsProcesses, "as processes" // a process per thread
		} else {
			other = runVirtual(t, src, "none")
		}
		wall := float64(sp.Limit.NS) // the estimate's wall, unrounded
		if x := float64(sp.SerialEquivNS) / wall; math.Abs(x-est) > 0.0006 {
			t.Errorf("workload %d: estimated %.3fx, its limit %s gives %.4fx", n, est, sp.Limit.Text, x)
		}
		got := float64(other.WallNS)
		off := wall/got - 1
		kind, slack := "exact", 0.005
		switch {
		case cores < withGIL.Speedup.Threads:
			kind, slack = "fewer cores", orderSlack
		case strings.Contains(src, "{lock:"):
			kind, slack = "locks", orderSlack
		}
		offs[kind] = append(offs[kind], off)
		if os.Getenv("GILTRACE_RANDOM_STATS") != "" {
			fmt.Printf("STAT %s %.4f\n", strings.ReplaceAll(kind, " ", "_"), off)
		}
		if off < -slack || off > 0.005 {
			t.Errorf("workload %d (%s, %s): estimated %.3fx, a wall of %.1f ms; the run took %.1f ms (%+.1f %%), limit %s\n%s",
				n, what, kind, est, wall/1e6, got/1e6, off*100, sp.Limit.Text, src)
		}
	}
	for kind, os := range offs {
		within := 0
		for _, off := range os {
			if off >= -0.005 {
				within++
			}
		}
		t.Logf("%s: %d runs, %d within 0.5 %%, most optimistic %+.1f %%", kind, len(os), within, slices.Min(os)*100)
		if kind == "locks" && float64(within) < orderExact*float64(len(os)) {
			t.Errorf("with locks, %d of %d estimates within 0.5 %% of the run, want %.0f %%", within, len(os), orderExact*100)
		}
	}
	if len(offs["exact"]) < runs/3 {
		t.Errorf("%d runs with cores to spare and no lock: the generator makes too few", len(offs["exact"]))
	}
}
