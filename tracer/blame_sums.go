package tracer

import (
	"cmp"
	"slices"
	"sort"
)

// BlameSum is the blame that one holder key caused one waiter on one lock:
// the parts of the waiter's waits (BlameOf) with that holder, stack and
// state, counted and summed. Holder NoThread (Stack NoStack, State 0) is
// the time nobody held the lock: between holds, and before the lock's
// first hold or after its last.
type BlameSum struct {
	Lock   LockID
	Holder ThreadID
	Stack  StackID
	State  State
	Waiter ThreadID
	Parts  int64 // the parts summed
	Waited int64 // nanoseconds
}

// blameSums is BlameSums' result, computed once.
type blameSums struct {
	sums  []BlameSum
	swept []bool
}

// PlanBlameSums says that BlameSums will be asked for, by a caller that
// sums the parts one by one up to maxParts (TotalBlameParts): the
// WaitedSums computed after it then come from the same sweep of the
// locks' timelines, instead of a sweep of their own (the timelines' walk
// is most of either's time), when the parts are within maxParts. Call it
// before the first WaitedSums, and only when the blame sums are wanted:
// summing the parts one by one costs more than WaitedSums alone. The
// first plan's bound stands.
func (s *Spans) PlanBlameSums(maxParts int) {
	s.planOnce.Do(func() { s.planMax = maxParts })
}

// BlameSums is the blame of every wait, part for part (BlameOf), summed by
// lock, holder key and waiter, from one sweep of each lock's timeline: a
// timeline segment is charged to the waits in progress during it. Its
// time grows with the parts (TotalBlameParts: with n threads queueing at
// once, as n²); past a caller's bound, WaitedSums gives the holders' side
// in time linear in the events. swept[l] is false for a lock whose holds
// are out of order or overlap, or whose waiters are not threads of the
// trace (an invalid trace): its waits are not in the sums, and are to be
// walked wait by wait (BlameOf), as are the waits for a lock not in the
// trace. Computed once for all callers and shared: safe for concurrent
// use; the slices must not be modified. A lock's sums begin with the time
// nobody held it (Holder NoThread), then its holder keys in the order they
// first appear in its timeline, each by waiter; the locks in order. They
// stay as long as s.
func (s *Spans) BlameSums() (sums []BlameSum, swept []bool) {
	s.blameOnce.Do(s.sweepBlame)
	return s.blame.sums, s.blame.swept
}

// planned reports whether WaitedSums come from BlameSums' sweep: planned
// (PlanBlameSums), and the parts within the plan's bound.
func (s *Spans) planned() bool {
	s.planOnce.Do(func() { s.planMax = -1 }) // no plan: none later
	return s.planMax >= 0 && s.TotalBlameParts() <= s.planMax
}

// sweepBlame computes the blame sums, and the waited sums with them.
func (s *Spans) sweepBlame() {
	b := &s.blame
	b.swept = make([]bool, len(s.Trace.Locks))
	var waited []WaitedSum
	var sw sweeper
	for l := range s.Trace.Locks {
		id := LockID(l)
		if len(s.LockWaits(id)) == 0 {
			b.swept[l] = true // nobody waited: nothing to sum
			continue
		}
		first := len(waited)
		if b.swept[l] = sw.sweep(s, id, &b.sums, &waited); !b.swept[l] {
			waited = s.appendWaited(waited, id, &sw.keys)
		}
		sortWaited(waited[first:])
	}
	s.blameWaited = waited
}

// sweeper is the state of one lock's sweep, kept from lock to lock.
type sweeper struct {
	keys   keyTable
	rows   []sweepRow
	active []activeWait
	over   map[[2]int32]sweepCell // cells past sweepCells
}

// sweepRow is one holder key's row of the sweep: its cells by waiter
// (nil past sweepCells), and the segments with waiting behind them.
type sweepRow struct {
	holder   ThreadID
	stack    StackID
	state    State
	cells    []sweepCell
	segments int
	waited   int64
}

type sweepCell struct{ parts, ns int64 }

// activeWait is a wait in progress during the sweep, copied in (the sweep
// reads each once a segment).
type activeWait struct {
	start, end int64
	thread     ThreadID
}

// sweepCells bounds the memory of a sweep's table: holder keys x threads
// cells of 16 bytes, 4 MiB; past it, cells are kept in a map.
var sweepCells = 1 << 18 // a variable for the tests

// sweep charges the waits for lock l, part for part, to the holder keys
// of l's timeline, appending to sums and, for the keys with waiting
// behind them, to waited (WaitedSums' entries, unsorted). It returns
// false, charging nothing, for a lock whose holds are out of order or
// overlap, or whose waiters are not threads of the trace.
func (sw *sweeper) sweep(s *Spans, l LockID, sums *[]BlameSum, waited *[]WaitedSum) bool {
	hs, ws := s.LockHolds(l), s.LockWaits(l)
	if !s.holdsInOrder(hs) {
		return false
	}
	nt := len(s.Trace.Threads)
	for _, wi := range ws {
		if int(s.Waits[wi].Thread) >= nt {
			return false
		}
	}
	sw.keys.reset()
	clear(sw.over)
	// Row 0: nobody held the lock.
	sw.rows = append(sw.rows[:0], sweepRow{holder: NoThread, stack: NoStack, cells: make([]sweepCell, nt)})
	sw.keys.index(NoThread, NoStack, 0, 0)
	charge := func(r int, waiter ThreadID, ns int64) {
		if c := sw.rows[r].cells; c != nil {
			c[waiter].parts++
			c[waiter].ns += ns
			return
		}
		if sw.over == nil {
			sw.over = map[[2]int32]sweepCell{}
		}
		k := [2]int32{int32(r), int32(waiter)}
		c := sw.over[k]
		c.parts++
		c.ns += ns
		sw.over[k] = c
	}
	active := sw.active[:0]
	next := 0
	started, at := false, int64(0) // the timeline's start, then the end of its last segment
	var curHolder ThreadID
	var curStack StackID
	var curState State
	curRow := -1
	for seg := range s.Timeline(l) {
		if !started {
			started, at = true, seg.Start
		}
		for ; next < len(ws) && s.Waits[ws[next]].Start < seg.End; next++ {
			w := &s.Waits[ws[next]]
			if w.End <= w.Start {
				continue
			}
			if w.Start < at { // before the timeline's first hold: nobody held it
				charge(0, w.Thread, min(w.End, at)-w.Start)
			}
			active = append(active, activeWait{w.Start, w.End, w.Thread})
		}
		at = seg.End
		holder, stack, state := seg.Holder, seg.Stack, seg.State
		if holder == NoThread {
			stack, state = NoStack, 0
		}
		if curRow < 0 || holder != curHolder || stack != curStack || state != curState {
			r, added := sw.keys.index(holder, stack, state, len(sw.rows))
			if added {
				var cells []sweepCell
				if (len(sw.rows)+1)*nt <= sweepCells {
					cells = make([]sweepCell, nt)
				}
				sw.rows = append(sw.rows, sweepRow{holder: holder, stack: stack, state: state, cells: cells})
			}
			curHolder, curStack, curState, curRow = holder, stack, state, r
		}
		row := &sw.rows[curRow]
		j := 0
		var segWaited int64
		for _, w := range active {
			if lo, hi := max(w.start, seg.Start), min(w.end, seg.End); lo < hi {
				segWaited += hi - lo
				if row.cells != nil {
					c := &row.cells[w.thread]
					c.parts++
					c.ns += hi - lo
				} else {
					charge(curRow, w.thread, hi-lo)
				}
			}
			if w.end > seg.End {
				active[j] = w
				j++
			}
		}
		active = active[:j]
		if segWaited > 0 {
			row.segments++
			row.waited += segWaited
		}
	}
	// What is left of the waits after the timeline's end, and the waits
	// that start after it (or of a lock never held), nobody held.
	for _, w := range active {
		if w.end > at {
			charge(0, w.thread, w.end-max(w.start, at))
		}
	}
	for ; next < len(ws); next++ {
		if w := &s.Waits[ws[next]]; w.End > w.Start {
			from := w.Start
			if started {
				from = max(from, at)
			}
			charge(0, w.Thread, w.End-from)
		}
	}
	sw.active = active[:0]
	var over [][2]int32
	for k := range sw.over {
		over = append(over, k)
	}
	slices.SortFunc(over, func(a, b [2]int32) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	for r := range sw.rows {
		row := &sw.rows[r]
		add := func(waiter ThreadID, c sweepCell) {
			*sums = append(*sums, BlameSum{Lock: l, Holder: row.holder, Stack: row.stack, State: row.state, Waiter: waiter, Parts: c.parts, Waited: c.ns})
		}
		if row.cells != nil {
			for waiter, c := range row.cells {
				if c.parts > 0 {
					add(ThreadID(waiter), c)
				}
			}
		} else {
			k := sort.Search(len(over), func(i int) bool { return over[i][0] >= int32(r) })
			for ; k < len(over) && over[k][0] == int32(r); k++ {
				add(ThreadID(over[k][1]), sw.over[over[k]])
			}
		}
		if row.holder != NoThread && row.segments > 0 {
			*waited = append(*waited, WaitedSum{Lock: l, Holder: row.holder, Stack: row.stack, State: row.state, Segments: row.segments, Waited: row.waited})
		}
	}
	return true
}

// TotalBlameParts is BlameParts summed over all waits, computed once:
// with searches that start from the previous wait's where a lock's holds
// are in order and do not overlap (a valid trace), instead of two binary
// searches per wait.
func (s *Spans) TotalBlameParts() int {
	s.partsOnce.Do(func() { s.parts = s.totalBlameParts() })
	return s.parts
}

func (s *Spans) totalBlameParts() int {
	parts := 0
	for i := range s.Waits {
		if w := &s.Waits[i]; int(w.Lock) >= len(s.Trace.Locks) {
			parts += s.BlameParts(w)
		}
	}
	for l := range s.Trace.Locks {
		hs, ws := s.LockHolds(LockID(l)), s.LockWaits(LockID(l))
		if !s.holdsInOrder(hs) {
			for _, wi := range ws {
				parts += s.BlameParts(&s.Waits[wi])
			}
			continue
		}
		from := 0
		for _, wi := range ws {
			w := &s.Waits[wi]
			i := s.HoldEndingAfter(hs, w.Start, from)
			j := s.HoldStartingFrom(hs, w.End, i)
			from = i
			parts += max(j-i, 0) + 1
		}
	}
	return parts
}

// holdsInOrder reports whether the holds hs are in time order without
// overlapping: their starts and ends are then both in order (what the
// sweep and the galloping searches need).
func (s *Spans) holdsInOrder(hs []int32) bool {
	for k, hi := range hs {
		if h := &s.Holds[hi]; h.End < h.Start || k > 0 && s.Holds[hs[k-1]].End > h.Start {
			return false
		}
	}
	return true
}

// gallop is sort.Search(n, f) for f false then true, searched from hint:
// forward from it in growing steps when f(hint-1) is false, else from 0.
// For answers that move forward little by little, each search costs the
// logarithm of its move, instead of a binary search of the whole array
// whose probes, far apart, miss the cache.
func gallop(n, hint int, f func(int) bool) int {
	lo := min(max(hint, 0), n)
	if lo > 0 && f(lo-1) {
		lo = 0
	}
	step, hi := 1, lo
	for hi < n && !f(hi) {
		lo = hi + 1
		hi += step
		step *= 2
	}
	hi = min(hi, n)
	return lo + sort.Search(hi-lo, func(j int) bool { return f(lo + j) })
}
