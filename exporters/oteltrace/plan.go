package oteltrace

import (
	"cmp"
	"slices"
	"sort"

	"github.com/giltrace/giltrace/tracer"
)

// plan decides which calls and waits become spans, and where everything
// else lands.
type plan struct {
	s         *tracer.Spans
	threshold int64
	parent    []int    // parent call of each call, or -1
	calls     [][2]int // per thread: its calls are Spans.Calls[lo:hi]
	keptCall  []bool   // by call index
	keptWait  []bool   // by wait index
	waits     [][]int  // per thread: indexes of kept waits, by start
	// Folded calls and waits, counted on the kept span they fall into.
	foldedCalls, foldedWaits map[ref]int
	totalFoldedCalls         int
	totalFoldedWaits         int
}

// newPlan chooses the spans within budget:
//  1. The root and every thread are always spans.
//  2. Calls and waits of at least threshold share the rest of the budget;
//     when both overflow each gets half, otherwise one takes what the
//     other leaves.
//  3. Calls are kept shallowest first, then longest, so a kept call's
//     caller is kept; waits are kept longest first.
//  4. Each folded call or wait is counted on the kept span it falls into.
func newPlan(s *tracer.Spans, threshold int64, budget int) *plan {
	p := &plan{
		s:           s,
		threshold:   threshold,
		keptCall:    make([]bool, len(s.Calls)),
		keptWait:    make([]bool, len(s.Waits)),
		waits:       make([][]int, len(s.Threads)),
		foldedCalls: map[ref]int{},
		foldedWaits: map[ref]int{},
	}
	p.nest()
	var long []int
	for i, w := range s.Waits {
		if w.End-w.Start >= threshold && int(w.Thread) < len(s.Threads) {
			long = append(long, i)
		}
	}
	rest := max(budget-1-len(s.Threads), 0)
	nCalls := min(len(s.Calls), max(rest-len(long), rest/2))
	nWaits := min(len(long), rest-nCalls)
	p.keepCalls(nCalls)
	p.keepWaits(long, nWaits)
	p.countFolded(long)
	return p
}

// nest finds each call's caller and each thread's range of calls. Calls
// are by thread, then start, outer before inner, and properly nested.
func (p *plan) nest() {
	calls := p.s.Calls
	p.parent = make([]int, len(calls))
	p.calls = make([][2]int, len(p.s.Threads))
	var open []int
	for i, c := range calls {
		if i == 0 || calls[i-1].Thread != c.Thread {
			open = open[:0]
			if int(c.Thread) < len(p.calls) {
				p.calls[c.Thread][0] = i
			}
		}
		if int(c.Thread) < len(p.calls) {
			p.calls[c.Thread][1] = i + 1
		}
		for len(open) > 0 && calls[open[len(open)-1]].End <= c.Start {
			open = open[:len(open)-1]
		}
		p.parent[i] = -1
		if len(open) > 0 {
			p.parent[i] = open[len(open)-1]
		}
		open = append(open, i)
	}
}

func (p *plan) keepCalls(n int) {
	calls := p.s.Calls
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ca, cb := &calls[a], &calls[b]
		return cmp.Or(
			cmp.Compare(ca.Depth, cb.Depth),
			cmp.Compare(cb.End-cb.Start, ca.End-ca.Start),
			cmp.Compare(a, b),
		)
	})
	for _, i := range order[:n] {
		p.keptCall[i] = true
	}
}

func (p *plan) keepWaits(long []int, n int) {
	waits := p.s.Waits
	order := slices.Clone(long)
	slices.SortFunc(order, func(a, b int) int {
		wa, wb := &waits[a], &waits[b]
		return cmp.Or(cmp.Compare(wb.End-wb.Start, wa.End-wa.Start), cmp.Compare(a, b))
	})
	for _, i := range order[:n] {
		p.keptWait[i] = true
	}
	for i, w := range waits { // by start, so each thread's list is sorted
		if p.keptWait[i] {
			p.waits[w.Thread] = append(p.waits[w.Thread], i)
		}
	}
}

func (p *plan) countFolded(long []int) {
	for i, c := range p.s.Calls {
		if !p.keptCall[i] && int(c.Thread) < len(p.s.Threads) {
			p.foldedCalls[p.keptAncestor(i)]++
			p.totalFoldedCalls++
		}
	}
	for _, i := range long {
		if !p.keptWait[i] {
			w := &p.s.Waits[i]
			p.foldedWaits[p.spanAt(w.Thread, w.Start)]++
			p.totalFoldedWaits++
		}
	}
}

// keptAncestor is the span a folded call falls into.
func (p *plan) keptAncestor(i int) ref {
	for j := p.parent[i]; j >= 0; j = p.parent[j] {
		if p.keptCall[j] {
			return ref{kindCall, j}
		}
	}
	return ref{kindThread, int(p.s.Calls[i].Thread)}
}

// callParent is the span a kept call is a child of.
func (p *plan) callParent(i int) ref { return p.keptAncestor(i) }

// spanAt is the innermost kept call of thread th running at time t
// (start <= t < end), or the thread's span.
func (p *plan) spanAt(th tracer.ThreadID, t int64) ref {
	if int(th) >= len(p.calls) {
		return rootRef
	}
	lo, hi := p.calls[th][0], p.calls[th][1]
	calls := p.s.Calls[lo:hi]
	// The last call started by t; the innermost running call, if any, is
	// it or one of its callers.
	i := sort.Search(len(calls), func(j int) bool { return calls[j].Start > t }) - 1
	if i < 0 {
		return ref{kindThread, int(th)}
	}
	for j := lo + i; j >= 0; j = p.parent[j] {
		if p.keptCall[j] && p.s.Calls[j].End > t {
			return ref{kindCall, j}
		}
	}
	return ref{kindThread, int(th)}
}

// waitAt is the kept wait of thread th under way at time t, if any.
func (p *plan) waitAt(th tracer.ThreadID, t int64) (ref, bool) {
	if int(th) >= len(p.waits) {
		return ref{}, false
	}
	ws := p.waits[th]
	i := sort.Search(len(ws), func(j int) bool { return p.s.Waits[ws[j]].Start > t }) - 1
	if i >= 0 && p.s.Waits[ws[i]].End > t {
		return ref{kindWait, ws[i]}, true
	}
	return ref{}, false
}

// waitParent is the span a kept wait is a child of.
func (p *plan) waitParent(i int) ref {
	w := &p.s.Waits[i]
	return p.spanAt(w.Thread, w.Start)
}
