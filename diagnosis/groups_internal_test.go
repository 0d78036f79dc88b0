package diagnosis

import (
	"math"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestGroupSplits: threads running one function are classified on their
// pooled work when their shares of CPU work are within GroupSplitSpread
// (51 % and 48 %, one CPU-bound and one I/O-bound on their own; pooled,
// 49.5 %, both I/O-bound), and each on its own when they differ more (70 %
// and 30 %); the pooled share is near the boundary.
func TestGroupSplits(t *testing.T) {
	b := testkit.New("groups")
	p := b.FreeThreadedProcess("py", 1)
	close, apart := b.Func("close", 10), b.Func("apart", 20)
	const ms = 1_000_000
	thread := func(name string, f tracer.FrameID, run, io int64) {
		th := b.Thread(p, name).Start(0).Call(1, f)
		th.IOBegin(1+run*ms, "disk").IOEnd(1 + (run+io)*ms).Return(2 + (run+io)*ms).End(3 + (run+io)*ms)
	}
	thread("c-1", close, 51, 49)
	thread("c-2", close, 48, 52)
	thread("a-1", apart, 70, 30)
	thread("a-2", apart, 30, 70)
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	a := newAnalysis(tr, s, &Report{Summary: *Summarize(s)})
	want := map[string][2]bool{ // CPU-bound, I/O-bound
		"c-1": {false, true}, "c-2": {false, true}, // pooled: 99 of 200 ms CPU
		"a-1": {true, false}, "a-2": {false, true},
	}
	for i, th := range a.r.Threads {
		if got := [2]bool{a.cpuBound[i], a.ioBound[i]}; got != want[th.Name] {
			t.Errorf("%s: CPU-bound, I/O-bound %v, want %v (shares %.3f, %.3f)", th.Name, got, want[th.Name], a.cpuShare[i], a.ioShare[i])
		}
	}
	if a.group[0] != a.group[1] || a.group[2] != a.group[3] || a.group[0] == a.group[2] {
		t.Errorf("groups %v: want c-1 with c-2, a-1 with a-2", a.group)
	}
	if c := a.classNear(0, false); !c.near() || math.Abs(c.value-0.505) > 1e-6 {
		t.Errorf("c-1's I/O share %.3f near %v: want the pool's 50.5 %%, near", c.value, c.near())
	}
}
