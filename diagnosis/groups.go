package diagnosis

import (
	"math"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// GroupSplitSpread: threads that run the same function (a thread group of
// a workload, a pool's workers) whose shares of CPU work differ by no more
// than this (10 points) are classified together, CPU-bound or I/O-bound,
// on their pooled work: four identical readers whose reads took 320 to
// 330 ms against 320 ms of parsing (jitter) were three CPU-bound threads
// and an I/O-bound one, and the report found a convoy of the fourth behind
// the other three, advising to move their compute to processes (QA).
const GroupSplitSpread = 0.1

// ClassifyMargin: a thread's (or its group's) share of CPU or I/O work
// within 10 % of CPUBoundShare or IOBoundShare is near the boundary: a
// verdict that rests on calling it CPU-bound or I/O-bound says so.
const ClassifyMargin = 0.1

// classify fills cpuBound and ioBound, and cpuShare and ioShare, the
// shares they were decided on: each thread's own, or its group's pooled
// (GroupSplitSpread).
func (a *analysis) classify() {
	r := a.r
	n := len(r.Threads)
	a.cpuBound, a.ioBound = make([]bool, n), make([]bool, n)
	a.cpuShare, a.ioShare = make([]float64, n), make([]float64, n)
	for i := range r.Threads {
		th := &r.Threads[i]
		w := threadWork(th)
		a.cpuShare[i], a.ioShare[i] = textfmt.Share(threadCPU(th), w), textfmt.Share(th.IONS, w)
	}
	a.group = a.threadGroups()
	members := map[int][]int{}
	for i, g := range a.group {
		if g >= 0 {
			members[g] = append(members[g], i)
		}
	}
	for _, ms := range members {
		if len(ms) < 2 {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		var cpu, io, work int64
		for _, i := range ms {
			th := &r.Threads[i]
			lo, hi = math.Min(lo, a.cpuShare[i]), math.Max(hi, a.cpuShare[i])
			cpu += threadCPU(th)
			io += th.IONS
			work += threadWork(th)
		}
		if hi-lo > GroupSplitSpread {
			continue // they do different things: each its own
		}
		for _, i := range ms {
			a.cpuShare[i], a.ioShare[i] = textfmt.Share(cpu, work), textfmt.Share(io, work)
		}
	}
	for i := range r.Threads {
		w := threadWork(&r.Threads[i])
		a.cpuBound[i] = w > 0 && a.cpuShare[i] >= CPUBoundShare
		a.ioBound[i] = w > 0 && a.ioShare[i] >= IOBoundShare
	}
}

// threadGroups is, per thread, its group: the threads of a process that
// run the same function, the outermost frame of the program's own code
// on their stacks for the longest (a workload's `run:`, a pool's worker
// function); -1 for a thread with none.
func (a *analysis) threadGroups() []int {
	t := a.t
	n := len(a.r.Threads)
	out := make([]int, n)
	root := make([]int32, len(t.Stacks)) // per stack: its outermost own frame + 1, -1 none, 0 not known yet
	var rootOf func(st tracer.StackID) int32
	rootOf = func(st tracer.StackID) int32 {
		if st == tracer.NoStack || int(st) >= len(t.Stacks) {
			return -1
		}
		if root[st] != 0 {
			return root[st]
		}
		root[st] = -1 // a cycle in a corrupt trace ends here
		v := rootOf(t.Stacks[st].Parent)
		if v < 0 && ownFrame(t, t.Stacks[st]) {
			v = int32(t.Stacks[st].Frame) + 1
		}
		root[st] = v
		return v
	}
	type key struct {
		proc  int
		frame tracer.Frame
	}
	ids := map[key]int{}
	// The time per root frame, dense for the frames of the table (a map's
	// assignment per state span was a tenth of the diagnosis of a 1.9
	// M-event run), in a map for any other (a corrupt trace's).
	dense := make([]int64, len(t.Frames)+1)
	var touched []int32
	// The state spans summed by key (tracer.Spans.StateSums), by thread:
	// the sums of thread i are sums[next:] up to the first of another.
	sums, next := a.s.StateSums(), 0
	for i := range out {
		out[i] = -1
		if i >= len(a.s.Threads) {
			continue
		}
		for _, f := range touched {
			dense[f] = 0
		}
		touched = touched[:0]
		var other map[int32]int64
		var best int32 = -1
		bestNS := int64(0)
		for next < len(sums) && int(sums[next].Thread) < i {
			next++
		}
		for ; next < len(sums) && int(sums[next].Thread) == i; next++ {
			x := &sums[next]
			f := rootOf(x.Stack)
			if f < 0 {
				continue
			}
			var ns int64
			if int(f) < len(dense) {
				if dense[f] == 0 {
					touched = append(touched, f)
				}
				dense[f] += x.NS
				ns = dense[f]
			} else {
				if other == nil {
					other = map[int32]int64{}
				}
				other[f] += x.NS
				ns = other[f]
			}
			if f == best {
				bestNS = ns
			} else if best < 0 || ns > bestNS || ns == bestNS && f < best {
				best, bestNS = f, ns
			}
		}
		if best < 0 || int(best-1) >= len(t.Frames) {
			continue
		}
		f := t.Frames[best-1]
		f.Line = 0 // the function, wherever it was at
		k := key{a.procOf[i], f}
		id, ok := ids[k]
		if !ok {
			id = len(ids)
			ids[k] = id
		}
		out[i] = id
	}
	return out
}

// classNear is the condition, for a verdict that rests on calling thread i
// CPU-bound (cpu) or I/O-bound, that its share (its group's) is at least
// the threshold: near the boundary within ClassifyMargin.
func (a *analysis) classNear(i int, cpu bool) cond {
	name := a.r.Threads[i].Name
	if cpu {
		return cond{measure: "CPU share of " + name + "'s work", value: a.cpuShare[i], threshold: CPUBoundShare, margin: ClassifyMargin, unit: unitShare}
	}
	return cond{measure: "I/O share of " + name + "'s work", value: a.ioShare[i], threshold: IOBoundShare, margin: ClassifyMargin, unit: unitShare}
}

// classEdge is, among the threads sel selects (all CPU-bound), the
// condition of the one whose CPU share came closest to the threshold,
// when within ClassifyMargin of it: a verdict on "the CPU-bound threads"
// that one of them nearly was not is near the boundary.
func (a *analysis) classEdge(sel func(int) bool) (cond, bool) {
	best := -1
	for i := range a.r.Threads {
		if sel(i) && (best < 0 || a.cpuShare[i] < a.cpuShare[best]) {
			best = i
		}
	}
	if best < 0 {
		return cond{}, false
	}
	c := a.classNear(best, true)
	return c, c.near()
}
