package diagnosis_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// runWith runs workload src (MODE in it becomes mode) in virtual time with
// o and analyses it.
func runWith(t *testing.T, src, mode string, o vm.Options) *diagnosis.Report {
	t.Helper()
	w, err := workload.Parse("test.yaml", []byte(strings.ReplaceAll(src, "MODE", mode)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := vm.Run(context.Background(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	return diagnosis.Analyze(tracer.Derive(tr))
}

// verdict is r's verdict code, or nil.
func verdict(r *diagnosis.Report, code string) *diagnosis.Verdict {
	for i := range r.Verdicts {
		if r.Verdicts[i].Code == code {
			return &r.Verdicts[i]
		}
	}
	return nil
}

// TestTimerStartsKeepTheirTime is QA's two runs of threads started late by
// a timer (start_after): their GIL waits before the timer did not delay
// it, and the estimates said so: lk.yaml "GIL held 0.0 % of the wall" and
// "Without a GIL the estimate is 1.60x (now 1.00x)", late.yaml "as
// processes, an estimated 2.74x ... free-threaded 2.74x", where a run
// without a GIL took as long (200 ms, 150 ms), and late.yaml as two
// processes too. Both estimates are now 1.00x, the wall they imply the
// run's, and the advice says what bounds them.
func TestTimerStartsKeepTheirTime(t *testing.T) {
	const lk = `name: lk
clock: virtual
gil: {mode: MODE}
threads:
  - {name: early, run: early}
  - {name: w, count: 4, run: w, start_after: 100ms}
functions:
  early:
    - io: 100ms
  w:
    - lock: {name: L, body: [io: 25ms]}
`
	const late = `name: late
clock: virtual
gil: {mode: MODE}
threads:
  - {name: a, count: 2, run: a}
  - {name: c, run: c, start_after: 100ms}
functions:
  a:
    - compute: 50ms
  c:
    - io: 50ms
`
	for _, c := range []struct {
		name, src string
		limit     string
	}{
		{"lk", lk, "L's critical sections (100ms of work, one thread at a time, the first at 100ms at the earliest) and the work after them: 200ms, in their best order"},
		{"late", late, "c, which cannot start before 100ms and has 50.0ms of its own work: it ends at 150ms at the earliest"},
	} {
		r := runWith(t, c.src, "cpython", vm.Options{})
		free := runWith(t, c.src, "none", vm.Options{})
		sp := r.Speedup
		if sp.WithoutGIL != 1 || sp.AsProcesses != 1 {
			t.Errorf("%s: estimated %.3fx without a GIL, %.3fx as processes; want 1.00x (a run without a GIL: %s)", c.name, sp.WithoutGIL, sp.AsProcesses, r.Summary.Workload)
		}
		if math.Abs(float64(sp.Limit.NS)/float64(free.WallNS)-1) > 0.001 {
			t.Errorf("%s: the estimate's wall %d, the run without a GIL %d", c.name, sp.Limit.NS, free.WallNS)
		}
		if sp.Limit.Text != c.limit {
			t.Errorf("%s: limit\n got %s\nwant %s", c.name, sp.Limit.Text, c.limit)
		}
	}
	// late.yaml as two processes takes as long: twice the work in the
	// same wall, each process as fast as one.
	procs := runWith(t, late, "cpython", vm.Options{Processes: 2})
	if one := runWith(t, late, "none", vm.Options{}); math.Abs(float64(procs.WallNS)/float64(one.WallNS)-1) > 0.005 {
		t.Errorf("late as 2 processes: wall %d, without a GIL %d", procs.WallNS, one.WallNS)
	}

	r := runWith(t, lk, "cpython", vm.Options{})
	v := verdict(r, diagnosis.LockBound)
	if v == nil || !strings.Contains(v.Advice, "A free-threaded Python or processes are estimated at 1.00x (now 1.00x): they will not help while L") || strings.Contains(v.Advice, "Without a GIL the estimate is") {
		t.Errorf("lk: verdicts %s, advice %+v", r.VerdictCodes(), v)
	}
	r = runWith(t, late, "cpython", vm.Options{})
	v = verdict(r, diagnosis.GILBound)
	want := "; but the whole program would not end sooner: 1.00x as processes, 1.00x without a GIL, now 1.00x, bounded by c, which cannot start before 100ms"
	if v == nil || !strings.Contains(v.Advice, want) {
		t.Errorf("late: verdicts %s; want gil-bound saying %q: %+v", r.VerdictCodes(), want, v)
	}
}

// TestJoinsTheGILRunDidNotRecord: a main thread that joins workers it
// started, and then computes: with the GIL its own compute made it late,
// the workers had ended and the join recorded nothing; without the GIL it
// gets there first and waits. The estimate takes the join from the
// workload (and the work after it), as the run without a GIL does.
func TestJoinsTheGILRunDidNotRecord(t *testing.T) {
	const src = `name: joins
clock: virtual
gil: {mode: MODE}
threads:
  - {name: main, run: main}
  - {name: g1, count: 3, run: f1}
  - {name: g2, count: 2, run: f2}
functions:
  main:
    - compute: 19ms
    - start: g2
    - compute: 5ms
    - join: g1
    - join: g2
    - compute: 26ms
  f1: [{repeat: {times: 3, body: [{compute: 3ms}, {io: 5ms}]}}]
  f2: [{io: 5ms}, {compute: 8ms}]
`
	r := runWith(t, src, "cpython", vm.Options{})
	free := runWith(t, src, "none", vm.Options{})
	for _, l := range r.Locks {
		if strings.HasPrefix(l.Name, "join g2") && l.Waits > 0 {
			t.Fatalf("the GIL run waited for %s: the case wants a join it did not record", l.Name)
		}
	}
	if sp := r.Speedup; math.Abs(float64(sp.Limit.NS)/float64(free.WallNS)-1) > 0.001 {
		t.Errorf("estimated a wall of %d (%s), the run without a GIL took %d", sp.Limit.NS, sp.Limit.Text, free.WallNS)
	}
}

// TestLockAdviceNamesItsBound: two locks, L2 with more critical work than
// L1, on 2 cores. The lock-bound advice named the lock listed first and
// its work as what bounds the estimate without a GIL (QA: "still bounded
// by L1's 168ms of work" for 3.54x, 428 ms of CPU work over 2 cores being
// the bound, and L2 the larger lock). It now names the Speedup section's
// limit with its figures: L2's sections, or the cores once the compute
// outside the locks outweighs them.
func TestLockAdviceNamesItsBound(t *testing.T) {
	src := `name: twolocks
clock: virtual
cores: 2
gil: {mode: MODE}
threads:
  - {name: w, count: 4, run: work}
functions:
  work:
    - repeat:
        times: 7
        body:
          - compute: COMPUTE
          - lock: {name: L1, body: [compute: 6ms]}
          - lock: {name: L2, body: [io: 7500us]}
`
	for _, c := range []struct{ compute, bound string }{
		{"9500us", "bounded by L2's critical sections (210ms of work, one thread at a time, the first at 15.5ms at the earliest) and the work after them: 226ms, in their best order."},
		{"12ms", "bounded by the cores: 504ms of CPU work over 2 cores, and at least 7.50ms of work after it: 260ms at the earliest."},
	} {
		s := strings.ReplaceAll(src, "COMPUTE", c.compute)
		r := runWith(t, s, "cpython", vm.Options{})
		v := verdict(r, diagnosis.LockBound)
		if v == nil {
			t.Fatalf("compute %s: verdicts %s, want lock-bound", c.compute, r.VerdictCodes())
		}
		if !strings.Contains(v.Advice, c.bound) || strings.Contains(v.Advice, "L1's") {
			t.Errorf("compute %s: advice\n%s\nwant %q", c.compute, v.Advice, c.bound)
		}
		// The bound is one: the run without a GIL is no faster.
		free := runWith(t, s, "none", vm.Options{})
		if r.Speedup.Limit.NS > free.WallNS {
			t.Errorf("compute %s: bound %d, longer than the run without a GIL, %d", c.compute, r.Speedup.Limit.NS, free.WallNS)
		}
	}
}

// TestProcessesKeepSharedLocks: lock-contention's Speedup section said
// "as processes 4.00x" while lock-bound's advice (and this page) said
// that processes do not help while the lock serialises. A shared lock
// guards shared data, which processes would still share (a
// multiprocessing.Lock, a manager): the estimate as processes keeps it,
// as the what-if does, and the figure with no lock serialising
// (WithoutLocks, what compare's processes mode runs: each process its own
// copy of the lock) is named as such.
func TestProcessesKeepSharedLocks(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "lock-contention.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	r := diagnosis.Analyze(tracer.Derive(tr))
	sp := r.Speedup
	if sp.AsProcesses != sp.WithoutGIL || sp.AsProcesses > 1.2 || sp.Limit.Kind != diagnosis.LimitLock || sp.Limit.Name != "cache_lock" {
		t.Errorf("as processes %.3fx, without a GIL %.3fx, limit %+v; want both bounded by cache_lock", sp.AsProcesses, sp.WithoutGIL, sp.Limit)
	}
	if sp.WithoutLocks < 3.5 {
		t.Errorf("without locks %.3fx, want about 4x (4 threads, the lock gone)", sp.WithoutLocks)
	}
	v := verdict(r, diagnosis.LockBound)
	if v == nil || !strings.Contains(v.Advice, "give each thread its own data and merge at the end: with no lock serialising the threads, and no GIL or as processes, an estimated 3.94x") {
		t.Errorf("advice %+v", v)
	}

	// In virtual time, the figure without locks is what compare's
	// processes mode measures: the workload as 4 processes of one thread,
	// each with its own lock.
	src := `name: lc
clock: virtual
cores: 4
gil: {mode: MODE}
threads:
  - {name: worker, count: COUNT, run: update_cache, repeat: 25}
functions:
  update_cache:
    - compute: 1ms
    - lock: {name: cache_lock, body: [{compute: 3ms}, {io: 5ms}]}
`
	threads := runWith(t, strings.ReplaceAll(src, "COUNT", "4"), "cpython", vm.Options{})
	procs := runWith(t, strings.ReplaceAll(src, "COUNT", "1"), "cpython", vm.Options{Processes: 4})
	if est := float64(threads.Speedup.SerialEquivNS) / threads.Speedup.WithoutLocks; math.Abs(est/float64(procs.WallNS)-1) > 0.01 {
		t.Errorf("without locks %.3fx, a wall of %.1f ms; as 4 processes each with its lock %.1f ms", threads.Speedup.WithoutLocks, est/1e6, float64(procs.WallNS)/1e6)
	}
	noGIL := runWith(t, strings.ReplaceAll(src, "COUNT", "4"), "none", vm.Options{})
	if est := float64(threads.Speedup.SerialEquivNS) / threads.Speedup.WithoutGIL; math.Abs(est/float64(noGIL.WallNS)-1) > 0.01 {
		t.Errorf("without a GIL %.3fx, a wall of %.1f ms; the run without a GIL %.1f ms", threads.Speedup.WithoutGIL, est/1e6, float64(noGIL.WallNS)/1e6)
	}
}

// TestLateThreadDoesNotCompete: a thread that starts after every other
// thread of its process has ended had no one to compete with for the GIL:
// it is not among the CPU-bound threads that fairness counts (QA: a 1 ms
// thread started at 15 s, after 100 workers had ended, was their fewest,
// "0 acquisitions while they competed", ratio 0.00).
func TestLateThreadDoesNotCompete(t *testing.T) {
	r := runVirtual(t, `
name: late
clock: virtual
gil: {mode: MODE}
threads:
  - {name: w, count: 2, run: work}
  - {name: late, run: late, start_after: 500ms}
functions:
  work:
    - compute: 100ms
  late:
    - compute: 1ms
`, "cpython")
	f := r.Procs[0].Fairness
	if f.CPUBoundThreads != 2 || f.FewestThread == "late" || f.Fewest == 0 {
		t.Errorf("fairness %+v: want the 2 workers, not the late thread", f)
	}
}
