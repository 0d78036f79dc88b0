package tracer

import (
	"cmp"
	"iter"
	"slices"
	"sort"
	"strings"
)

// Blame answers "who made this thread wait?" without materialising, for
// every wait, every holder it sat behind: with n threads queueing for one
// lock, that is n² parts. A lock's timeline (its holds split by the
// holders' state spans, and the gaps between holds) is walked on demand
// from the holds and state spans that Derive keeps anyway: a wait's blame
// is the part of its lock's timeline it overlaps (BlameOf), and the
// waiting behind each segment, summed over all waits, comes from one sweep
// (Waited), so that aggregates over all waits cost time linear in the
// events and no memory per part.

// LockHolds returns the indexes into Holds of lock l's holds, in time
// order. The slice is shared: do not modify it.
func (s *Spans) LockHolds(l LockID) []int32 {
	if int(l)+1 >= len(s.lockHoldStart) {
		return nil
	}
	return s.lockHolds[s.lockHoldStart[l]:s.lockHoldStart[l+1]]
}

// LockWaits returns the indexes into Waits of the waits for lock l, in
// time order. The slice is shared: do not modify it.
func (s *Spans) LockWaits(l LockID) []int32 {
	if int(l)+1 >= len(s.lockWaitStart) {
		return nil
	}
	return s.lockWaits[s.lockWaitStart[l]:s.lockWaitStart[l+1]]
}

// Timeline yields lock l's blame timeline in time order, from the start
// of its first hold to the end of its last: the holds split by the
// holders' state spans (Holder, Stack, State), and a segment with Holder
// NoThread for each gap between two holds.
func (s *Spans) Timeline(l LockID) iter.Seq[Blame] {
	return func(yield func(Blame) bool) {
		s.walk(l, 0, -1, 1<<63-1, yield)
	}
}

// walk yields the segments of lock l's timeline clipped to [from, to),
// starting at its k-th hold, with gaps before and after the holds from
// `from` when from >= 0.
func (s *Spans) walk(l LockID, k int, from, to int64, yield func(Blame) bool) {
	hs := s.LockHolds(l)
	at := from
	for ; k < len(hs); k++ {
		h := &s.Holds[hs[k]]
		if h.Start >= to {
			break
		}
		if h.End <= h.Start || h.End <= at {
			continue
		}
		if at < 0 {
			at = h.Start
		}
		if h.Start > at {
			if !yield(Blame{Holder: NoThread, Stack: NoStack, Start: at, End: h.Start}) {
				return
			}
			at = h.Start
		}
		end := min(h.End, to)
		hint := 0
		if int(hs[k]) < len(s.holdSpan) {
			hint = int(s.holdSpan[hs[k]])
		}
		if !s.holderSegments(h.Thread, hint, at, end, yield) {
			return
		}
		at = end
	}
	if from >= 0 && at < to {
		yield(Blame{Holder: NoThread, Stack: NoStack, Start: at, End: to})
	}
}

// holderSegments yields the parts of [from, to) split by the state spans
// of thread id; false if yield asked to stop. hint is an index of the
// thread's spans at or before the first that ends after from (the hold's
// first, from Derive): a few steps from it, else a binary search.
func (s *Spans) holderSegments(id ThreadID, hint int, from, to int64, yield func(Blame) bool) bool {
	if from >= to {
		return true
	}
	spans := s.ThreadStates(id)
	k := min(max(hint, 0), len(spans))
	if k > 0 && spans[k-1].End > from {
		k = 0 // not a lower bound (an invalid trace): search it all
	}
	for step := 0; k < len(spans) && spans[k].End <= from; k++ {
		if step++; step == 8 {
			k += sort.Search(len(spans)-k, func(j int) bool { return spans[k+j].End > from })
			break
		}
	}
	at := from
	for ; k < len(spans) && at < to; k++ {
		sp := &spans[k]
		if sp.Start >= to {
			break
		}
		end := min(sp.End, to)
		if !yield(Blame{Holder: id, Stack: sp.Stack, State: sp.State, Start: max(at, sp.Start), End: end}) {
			return false
		}
		at = end
	}
	if at < to {
		return yield(Blame{Holder: id, Stack: NoStack, State: StateRunning, Start: at, End: to})
	}
	return true
}

// firstHold is the index in LockHolds(l) of the first hold ending after t.
func (s *Spans) firstHold(l LockID, t int64) int {
	hs := s.LockHolds(l)
	return sort.Search(len(hs), func(j int) bool { return s.Holds[hs[j]].End > t })
}

// BlameOf yields the parts of wait w in time order, covering [w.Start,
// w.End): its lock's timeline clipped to the wait, and parts with Holder
// NoThread while nobody held the lock. Its cost is the number of parts;
// over all waits that is quadratic in the threads when many queue at
// once: aggregates should use Waited.
func (s *Spans) BlameOf(w *Wait) iter.Seq[Blame] {
	return func(yield func(Blame) bool) {
		if w.End > w.Start {
			s.walk(w.Lock, s.firstHold(w.Lock, w.Start), w.Start, w.End, yield)
		}
	}
}

// HeldDuring yields, for each hold of wait w's lock during the wait, its
// holder and the part of the wait it covers: the parts of BlameOf(w) with
// a holder, one per hold instead of one per state span of the holder,
// summing to the same time per holder in a valid trace (whose holders'
// state spans cover their holds). Its cost is the holds it yields, after
// a binary search.
func (s *Spans) HeldDuring(w *Wait) iter.Seq2[ThreadID, int64] {
	return func(yield func(ThreadID, int64) bool) {
		if w.End <= w.Start {
			return
		}
		hs := s.LockHolds(w.Lock)
		at := w.Start
		for k := s.firstHold(w.Lock, w.Start); k < len(hs); k++ {
			h := &s.Holds[hs[k]]
			if h.Start >= w.End {
				break
			}
			if h.End <= h.Start || h.End <= at {
				continue
			}
			at = max(at, h.Start)
			end := min(h.End, w.End)
			if end > at && !yield(h.Thread, end-at) {
				return
			}
			at = end
		}
	}
}

// BlameParts is the number of holds that wait w overlaps, plus one: what
// walking its blame costs, up to the holders' state changes within them.
// It costs two binary searches.
func (s *Spans) BlameParts(w *Wait) int {
	hs := s.LockHolds(w.Lock)
	i := s.firstHold(w.Lock, w.Start)
	j := sort.Search(len(hs), func(j int) bool { return s.Holds[hs[j]].Start >= w.End })
	return max(j-i, 0) + 1
}

// Waited yields lock l's timeline (as Timeline) with, for each segment,
// the time threads spent waiting for l during it, summed over the waiting
// threads: a segment of 1 ms during which three threads waited weighs
// 3 ms. Summing it by the segments' holders charges all the waits to
// them in one pass, linear in the holds, their state spans and the waits.
//
// With W(t) the waiting of all of l's waits before t,
// W(t) = ns·t - Σ(starts < t) - (ne·t - Σ(ends < t)); a segment weighs
// W(end) - W(start), evaluated in time order with two monotone pointers.
func (s *Spans) Waited(l LockID) iter.Seq2[Blame, int64] {
	return func(yield func(Blame, int64) bool) {
		ws := s.LockWaits(l)
		starts, ends := make([]int64, 0, len(ws)), make([]int64, 0, len(ws))
		for _, wi := range ws {
			if w := &s.Waits[wi]; w.End > w.Start {
				starts = append(starts, w.Start)
				ends = append(ends, w.End)
			}
		}
		if len(starts) == 0 {
			return
		}
		slices.Sort(starts) // already nearly in order: Waits are by start
		slices.Sort(ends)
		var ns, ne int
		var sumS, sumE int64
		at := func(t int64) int64 {
			for ns < len(starts) && starts[ns] < t {
				sumS += starts[ns]
				ns++
			}
			for ne < len(ends) && ends[ne] < t {
				sumE += ends[ne]
				ne++
			}
			return int64(ns)*t - sumS - (int64(ne)*t - sumE)
		}
		first := true
		var prev int64
		for b := range s.Timeline(l) {
			if first {
				prev, first = at(b.Start), false
			}
			cur := at(b.End)
			if !yield(b, cur-prev) {
				return
			}
			prev = cur
		}
	}
}

// Held is the time during wait w that a thread held its lock: the wait's
// duration less its parts with Holder NoThread. It costs two binary
// searches.
func (s *Spans) Held(w *Wait) int64 {
	return s.heldUpTo(w.Lock, w.End) - s.heldUpTo(w.Lock, w.Start)
}

// heldUpTo is the time lock l was held before time t.
func (s *Spans) heldUpTo(l LockID, t int64) int64 {
	hs := s.LockHolds(l)
	if len(hs) == 0 {
		return 0
	}
	held := s.heldBefore[s.lockHoldStart[l]+int(l) : s.lockHoldStart[l+1]+int(l)+1]
	k := s.firstHold(l, t)
	v := held[k]
	if k < len(hs) {
		if h := &s.Holds[hs[k]]; h.Start < t {
			v += t - h.Start
		}
	}
	return v
}

// HeldEach yields the index into Waits of each of lock l's waits, in time
// order (LockWaits), with Held of it: the same values, found by searches
// that start from the previous wait's (a few steps each) instead of two
// binary searches per wait.
func (s *Spans) HeldEach(l LockID) iter.Seq2[int32, int64] {
	return func(yield func(int32, int64) bool) {
		hs, ws := s.LockHolds(l), s.LockWaits(l)
		for k := 1; k < len(hs); k++ {
			if s.Holds[hs[k]].End < s.Holds[hs[k-1]].End { // not in order (an invalid trace): search each
				for _, wi := range ws {
					if !yield(wi, s.Held(&s.Waits[wi])) {
						return
					}
				}
				return
			}
		}
		var held []int64
		if len(hs) > 0 {
			held = s.heldBefore[s.lockHoldStart[l]+int(l) : s.lockHoldStart[l+1]+int(l)+1]
		}
		// upTo is heldUpTo(l, t), with k = firstHold(l, t).
		upTo := func(t int64, k int) int64 {
			if len(hs) == 0 {
				return 0
			}
			v := held[k]
			if k < len(hs) {
				if h := &s.Holds[hs[k]]; h.Start < t {
					v += t - h.Start
				}
			}
			return v
		}
		from := 0
		for _, wi := range ws {
			w := &s.Waits[wi]
			ks := s.HoldEndingAfter(hs, w.Start, from)
			ke := s.HoldEndingAfter(hs, w.End, ks)
			from = ks
			if !yield(wi, upTo(w.End, ke)-upTo(w.Start, ks)) {
				return
			}
		}
	}
}

// HoldEndingAfter is the index in hs (holds whose ends are in order, as
// LockHolds gives a lock's in a valid trace) of the first hold ending
// after t, or len(hs), searched from hint: galloping forward from it when
// it is at or below the answer, else from the start. A caller searching
// times in increasing order passes each answer as the next hint.
func (s *Spans) HoldEndingAfter(hs []int32, t int64, hint int) int {
	return gallop(len(hs), hint, func(j int) bool { return s.Holds[hs[j]].End > t })
}

// HoldStartingFrom is HoldEndingAfter for the first hold in hs (in order
// of their starts, as LockHolds gives them) starting at or after t.
func (s *Spans) HoldStartingFrom(hs []int32, t int64, hint int) int {
	// The next answer is most often a few holds on (the holds of other
	// threads between two re-acquires of one, in the convoy's search):
	// those are looked at first, one by one, without the galloping
	// search's calls of its function. The answer is the same.
	if hint >= 0 && hint <= len(hs) && (hint == 0 || s.Holds[hs[hint-1]].Start < t) {
		end := min(hint+shortScan, len(hs))
		for ; hint < end; hint++ {
			if s.Holds[hs[hint]].Start >= t {
				return hint
			}
		}
		if hint == len(hs) {
			return hint
		}
	}
	return gallop(len(hs), hint, func(j int) bool { return s.Holds[hs[j]].Start >= t })
}

// shortScan is how many holds HoldStartingFrom looks at one by one before
// it gallops.
const shortScan = 32

// WaitedSum is the waiting that one holder key caused on one lock: Waited
// summed over the segments of the lock's timeline with that holder, state
// and stack.
type WaitedSum struct {
	Lock     LockID
	Holder   ThreadID
	Stack    StackID
	State    State
	Segments int   // the segments summed, each with some waiting behind it
	Waited   int64 // nanoseconds, summed over the waiting threads
}

// WaitedSums is Waited of every lock of the trace, summed by holder, stack
// and state: the segments nobody held, and those nobody waited behind, are
// left out. It is what the diagnosis and the flame graph's blame view
// charge to the holders, computed once for all of them on the first call
// (one sweep of each lock's timeline) and shared: safe for concurrent use,
// and the slice must not be modified. In order of lock, holder, stack and
// state.
//
// After PlanBlameSums, they come from BlameSums' sweep (when the parts
// are within the plan's bound), which yields them too.
func (s *Spans) WaitedSums() []WaitedSum {
	s.waitedOnce.Do(func() {
		if s.planned() {
			s.blameOnce.Do(s.sweepBlame)
			s.waitedSums = s.blameWaited
			return
		}
		s.waitedSums = s.sumWaited()
	})
	return s.waitedSums
}

func (s *Spans) sumWaited() []WaitedSum {
	var out []WaitedSum
	var at keyTable
	for l := range s.Trace.Locks {
		if len(s.LockWaits(LockID(l))) == 0 {
			continue // nobody waited: nothing to sum (a trace of many locks)
		}
		first := len(out)
		out = s.appendWaited(out, LockID(l), &at)
		sortWaited(out[first:])
	}
	return out
}

// appendWaited appends lock l's WaitedSums, unsorted, summing Waited(l)
// with the table at (reset first).
func (s *Spans) appendWaited(out []WaitedSum, l LockID, at *keyTable) []WaitedSum {
	at.reset()
	for b, waited := range s.Waited(l) {
		if b.Holder == NoThread || waited <= 0 {
			continue
		}
		i, added := at.index(b.Holder, b.Stack, b.State, len(out))
		if added {
			out = append(out, WaitedSum{Lock: l, Holder: b.Holder, Stack: b.Stack, State: b.State})
		}
		out[i].Segments++
		out[i].Waited += waited
	}
	return out
}

// sortWaited sorts one lock's WaitedSums by holder, stack and state.
func sortWaited(ws []WaitedSum) {
	slices.SortFunc(ws, func(a, b WaitedSum) int {
		if a.Holder != b.Holder {
			return cmp.Compare(a.Holder, b.Holder)
		}
		if a.Stack != b.Stack {
			return cmp.Compare(a.Stack, b.Stack)
		}
		return cmp.Compare(a.State, b.State)
	})
}

// keyTable maps a holder key (thread, stack, state) to an index: an open
// addressing table, a few times cheaper per lookup than a Go map on the
// sweep's hot path (one lookup per timeline segment).
type keyTable struct {
	slots []keySlot // a power of two long, at most half full
	n     int
	used  []int32 // the slots in use, which reset clears
}

type keySlot struct {
	holder ThreadID
	stack  StackID
	state  State
	used   bool
	i      int32
}

// reset empties the table in the time of its keys, not of its size (a
// lock's after a larger one's).
func (t *keyTable) reset() {
	for _, j := range t.used {
		t.slots[j] = keySlot{}
	}
	t.n, t.used = 0, t.used[:0]
}

// index is the index of the key, or next (added true) when it is new.
func (t *keyTable) index(holder ThreadID, stack StackID, state State, next int) (i int, added bool) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := uint32(len(t.slots) - 1)
	h := uint32(holder)*0x9e3779b1 ^ uint32(stack)*0x85ebca6b ^ uint32(state)*0xc2b2ae35
	for j := (h ^ h>>16) & mask; ; j = (j + 1) & mask {
		sl := &t.slots[j]
		if !sl.used {
			*sl = keySlot{holder: holder, stack: stack, state: state, used: true, i: int32(next)}
			t.n++
			t.used = append(t.used, int32(j))
			return next, true
		}
		if sl.holder == holder && sl.stack == stack && sl.state == state {
			return int(sl.i), false
		}
	}
}

func (t *keyTable) grow() {
	old := t.slots
	t.slots = make([]keySlot, max(64, 2*len(old)))
	t.n, t.used = 0, t.used[:0]
	for _, sl := range old {
		if sl.used {
			t.index(sl.holder, sl.stack, sl.state, int(sl.i))
		}
	}
}

// Unheld is what the parts of a wait during which the trace shows nobody
// holding the lock stand for, as the blame views name them.
type Unheld uint8

const (
	// UnheldHandoff: nobody held the lock, between a release and the
	// waiter's acquire (its wake-up latency). The GIL's holds are always
	// observed, and a VM run's guest locks' too.
	UnheldHandoff Unheld = iota
	// UnheldJoin: a real program's thread join lock (named "... (Thread.join)"),
	// whose hold by the joined thread, still running, is not observed
	// (without --lock-holds, nor on 3.13, whose Thread.join waits on an
	// event).
	UnheldJoin
	// UnheldUnobserved: a guest lock of a real program recorded without
	// its lock holds (Meta.Extra["lock_holds"] not "observed"): some
	// thread may well have held it; the trace does not say which.
	UnheldUnobserved
)

var unheldNames = [...]struct{ state, frame string }{
	UnheldHandoff:    {"handoff", "[no holder]"},
	UnheldJoin:       {"join", "[the joined thread]"},
	UnheldUnobserved: {"unknown-holder", "[holder not observed]"},
}

// String is the blame state of u: "handoff", "join" or "unknown-holder".
func (u Unheld) String() string { return unheldNames[u].state }

// Frame is the synthetic frame the blame views charge u to: "[no holder]",
// "[the joined thread]" or "[holder not observed]".
func (u Unheld) Frame() string { return unheldNames[u].frame }

// NoHolderThread is the thread the blame views charge the parts of a wait
// with no holder shown to (any Unheld), under the state Unheld.String()
// and the frame Unheld.Frame().
const NoHolderThread = "(none)"

// UnheldOf classifies the parts of a wait for lock l (NoLock or a lock
// out of range: the GIL's handoff) during which no holder is shown.
func (t *Trace) UnheldOf(l LockID) Unheld {
	if int(l) >= len(t.Locks) || t.Locks[l].GIL {
		return UnheldHandoff
	}
	if strings.HasSuffix(t.Locks[l].Name, "(Thread.join)") {
		return UnheldJoin
	}
	if !t.GuestHoldsObserved() {
		return UnheldUnobserved
	}
	return UnheldHandoff
}

// GuestHoldsObserved reports whether the trace shows every hold of its
// guest locks: always for a VM run; for a real CPython program (Extra
// "source" "cpython") only when recorded with --lock-holds (Extra
// "lock_holds" "observed", docs/cpython.md "Lock holds"). The GIL's holds
// are always observed.
func (t *Trace) GuestHoldsObserved() bool {
	return t.Meta.Extra["source"] != "cpython" || t.Meta.Extra["lock_holds"] == "observed"
}
