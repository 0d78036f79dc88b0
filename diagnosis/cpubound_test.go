package diagnosis

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// TestOneSetOfCPUBoundThreads: the main thread that joins two CPU-bound
// workers (most of its wall waiting on the join lock) is not among the
// CPU-bound threads of any line: gil-bound counts the same 2 threads as
// fairness, and their wait share is theirs, not diluted by the main
// thread's.
func TestOneSetOfCPUBoundThreads(t *testing.T) {
	tr := joinedWorkers(20)
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("built trace is invalid: %v", err)
	}
	r := Analyze(tracer.Derive(tr))
	main := r.Threads[0]
	if share := float64(main.LockWaitNS) / float64(main.WallNS); share < 0.6 {
		t.Fatalf("main thread waits %.2f of its wall on the join; the case needs most of it", share)
	}
	if f := r.Procs[0].Fairness; f.CPUBoundThreads != 2 {
		t.Errorf("fairness among %d CPU-bound threads, want 2", f.CPUBoundThreads)
	}
	gb := verdictOf(r, GILBound)
	if gb == nil {
		t.Fatalf("verdicts %s, want gil-bound", r.VerdictCodes())
	}
	var wait, wall int64
	for _, th := range r.Threads[1:] {
		wait, wall = wait+th.GILWaitNS, wall+th.WallNS
	}
	if want := "The 2 CPU-bound threads spent " + textfmt.Pct0(textfmt.Share(wait, wall)); !strings.HasPrefix(gb.Text, want) {
		t.Errorf("gil-bound does not count the fairness's 2 threads, or dilutes their wait: %s", gb.Text)
	}
}
