package diagnosis

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestFirstEndAfter: the galloping search gives sort.Search's answer for
// any hint, on ends in order and out of order.
func TestFirstEndAfter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		ends := make([]int64, r.IntN(40))
		for i := range ends {
			ends[i] = int64(r.IntN(100))
			if i > 0 && r.IntN(10) > 0 {
				ends[i] = ends[i-1] + int64(r.IntN(5)) // mostly in order
			}
		}
		first := firstEndAfter(ends)
		for range 50 {
			tm, hint := int64(r.IntN(120)-10), r.IntN(len(ends)+3)-1
			want := sort.Search(len(ends), func(j int) bool { return ends[j] > tm })
			if got := first(tm, hint); got != want {
				t.Fatalf("ends %v, t %d, hint %d: %d, want %d", ends, tm, hint, got, want)
			}
		}
	}
}

// heldBehindSearched is heldBehind as it was, with binary searches: the
// reference for the galloping one.
func heldBehindSearched(a *analysis) (cpu, any []int64) {
	cpu, any = make([]int64, len(a.r.Threads)), make([]int64, len(a.r.Threads))
	for l := range a.t.Locks {
		id := tracer.LockID(l)
		if !isGIL(a.t, id) {
			continue
		}
		hs := a.s.LockHolds(id)
		pc := make([]int64, len(hs)+1)
		for k, hi := range hs {
			h := &a.s.Holds[hi]
			pc[k+1] = pc[k]
			if a.cpuHolder(h.Thread, h.Start) {
				pc[k+1] += max(h.End-h.Start, 0)
			}
		}
		upTo := func(t int64) int64 {
			k := sort.Search(len(hs), func(j int) bool { return a.s.Holds[hs[j]].End > t })
			v := pc[k]
			if k < len(hs) {
				if h := &a.s.Holds[hs[k]]; h.Start < t && pc[k+1] != pc[k] {
					v += t - h.Start
				}
			}
			return v
		}
		for _, wi := range a.s.LockWaits(id) {
			w := &a.s.Waits[wi]
			if int(w.Thread) >= len(cpu) {
				continue
			}
			cpu[w.Thread] += upTo(w.End) - upTo(w.Start)
			any[w.Thread] += a.s.Held(w)
		}
	}
	return cpu, any
}

// TestHeldBehindAsSearched: heldBehind gives what the binary searches gave,
// on the scenarios, the fixtures and events in any order.
func TestHeldBehindAsSearched(t *testing.T) {
	traces := []*tracer.Trace{testkit.Turns(20_000), testkit.CPUThreads(16, 200)}
	for _, c := range testkit.All(t) {
		traces = append(traces, c.Trace)
	}
	r := rand.New(rand.NewPCG(13, 14))
	for range 300 {
		traces = append(traces, testkit.RandomBytes(r, 200))
	}
	for i, tr := range traces {
		s := tracer.Derive(tr)
		rep := &Report{Summary: *Summarize(s)}
		a := newAnalysis(tr, s, rep)
		cpu, any := a.heldBehind()
		wantCPU, wantAny := heldBehindSearched(a)
		if !slices.Equal(cpu, wantCPU) || !slices.Equal(any, wantAny) {
			t.Fatalf("trace %d: heldBehind %v %v, searched %v %v", i, cpu, any, wantCPU, wantAny)
		}
	}
}
