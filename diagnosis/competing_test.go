package diagnosis

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// TestStartUpIsNotCompeting: a main thread whose Python work came before
// it started the workers (a real program's interpreter start-up and
// imports, 220 ms of it on a loaded machine) did not compete for the GIL,
// even when its join is under half of its wall: the two workers taking
// turns are gil-bound (QA: counted among the CPU-bound threads, its
// serial start-up bounded their own estimate, and the countdown twin got
// no verdict in a loaded CI run).
func TestStartUpIsNotCompeting(t *testing.T) {
	t1, t2 := cpuThread("T1", 60*ms), cpuThread("T2", 60*ms)
	main := &turnsThread{name: "MainThread", fn: "main", phases: []phase{{cpu: 220 * ms}, {start: []*turnsThread{t1, t2}}, {join: t1}, {join: t2}}}
	s := tracer.Derive(turns("start-up", 20*ms, main))
	r := Analyze(s)
	if th := r.Threads[0]; th.Name != "MainThread" || th.LockWaitNS*2 > th.WallNS {
		t.Fatalf("the main thread waits for its workers %v of %v: not the case tested", th.LockWaitNS, th.WallNS)
	}
	var got []string
	for _, v := range r.Verdicts {
		got = append(got, v.Code)
		if v.Code == GILBound && !strings.HasPrefix(v.Text, "The 2 CPU-bound threads") {
			t.Errorf("gil-bound on other threads than the 2 workers: %s", v.Text)
		}
	}
	if !strings.Contains(strings.Join(got, ","), GILBound) {
		t.Errorf("verdicts %v, want gil-bound", got)
	}
	if f := r.Procs[0].Fairness; f.CPUBoundThreads != 2 {
		t.Errorf("fairness counts %d CPU-bound threads, want the 2 workers", f.CPUBoundThreads)
	}
}

// TestHalfIOWorkersTakingTurns: four like workers, each a little more
// I/O than compute (a loaded machine stretched their file reads), taking
// turns on the GIL for the rest, beside a main thread's long start-up:
// gil-bound is at least near its boundary (QA: no verdict at all for the
// image-processing twin in a loaded CI run; the whole program's estimate
// is bounded by the start-up, and the workers fell just short of
// CPU-bound).
func TestHalfIOWorkersTakingTurns(t *testing.T) {
	var ws []*turnsThread
	for i := range 4 {
		var ph []phase
		for range 20 {
			ph = append(ph, phase{cpu: 2200 * us}, phase{io: 2400 * us, kind: "disk"})
		}
		ws = append(ws, &turnsThread{name: "worker-" + string(rune('0'+i)), fn: "process_images", phases: ph})
	}
	ph := []phase{{cpu: 245 * ms}, {start: ws}}
	for _, w := range ws {
		ph = append(ph, phase{join: w})
	}
	s := tracer.Derive(turns("half-io", 20*ms, &turnsThread{name: "MainThread", fn: "main", phases: ph}))
	r := Analyze(s)
	var got []string
	for _, v := range r.Verdicts {
		got = append(got, v.Code)
	}
	for _, b := range r.NearBoundary {
		got = append(got, "near:"+b.Code)
	}
	if !strings.Contains(strings.Join(got, ","), GILBound) {
		t.Errorf("verdicts and near ones %v, want gil-bound among them", got)
	}
}
