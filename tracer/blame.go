package tracer

import (
	"iter"
	"sort"
)

// Blame answers "who made this thread wait?" without materialising, for
// every wait, every holder it sat behind: with n threads queueing for one
// lock, that is n² parts. Instead each lock has one timeline (its holds
// split by the holders' state spans, and the gaps between holds), linear
// in the holds and state spans; a wait's blame is the part of the timeline
// it overlaps (BlameOf), and the total waiting behind each segment is
// precomputed (Waited), so that aggregates over all waits cost one pass
// over the timelines.

// Timeline returns lock l's blame timeline, in time order, from the start
// of its first hold to the end of its last: the holds split by the
// holders' state spans (Holder, Stack, State), and a segment with Holder
// NoThread for each gap between two holds. The slice is shared: do not
// modify it.
func (s *Spans) Timeline(l LockID) []Blame {
	if int(l)+1 >= len(s.timelineStart) {
		return nil
	}
	return s.timeline[s.timelineStart[l]:s.timelineStart[l+1]]
}

// Waited returns, parallel to Timeline(l), the time threads spent waiting
// for l during each segment, summed over the waiting threads: a segment of
// 1 ms during which three threads waited weighs 3 ms. Summing it by the
// segments' holder stacks charges all the waits to the holders in time
// linear in the timeline.
func (s *Spans) Waited(l LockID) []int64 {
	if int(l)+1 >= len(s.timelineStart) {
		return nil
	}
	return s.waited[s.timelineStart[l]:s.timelineStart[l+1]]
}

// BlameOf yields the parts of wait w in time order, covering [w.Start,
// w.End): its lock's timeline segments clipped to the wait, and parts with
// Holder NoThread while nobody held the lock. Its cost is the number of
// parts; summing over all waits costs the sum of their parts, which is
// quadratic in the threads when many queue at once: aggregates should use
// Waited.
func (s *Spans) BlameOf(w *Wait) iter.Seq[Blame] {
	return func(yield func(Blame) bool) {
		tl := s.Timeline(w.Lock)
		k := sort.Search(len(tl), func(j int) bool { return tl[j].End > w.Start })
		at := w.Start
		for ; k < len(tl) && at < w.End; k++ {
			b := tl[k]
			if b.Start >= w.End {
				break
			}
			b.Start, b.End = max(b.Start, at), min(b.End, w.End)
			if b.Start > at {
				if !yield(Blame{Holder: NoThread, Stack: NoStack, Start: at, End: b.Start}) {
					return
				}
			}
			if !yield(b) {
				return
			}
			at = b.End
		}
		if at < w.End {
			yield(Blame{Holder: NoThread, Stack: NoStack, Start: at, End: w.End})
		}
	}
}

// BlameParts is the number of parts BlameOf(w) yields, at most one more
// or less (gaps are counted as they lie in the timeline), found in
// logarithmic time: the cost of walking the wait's blame.
func (s *Spans) BlameParts(w *Wait) int {
	tl := s.Timeline(w.Lock)
	i := sort.Search(len(tl), func(j int) bool { return tl[j].End > w.Start })
	j := sort.Search(len(tl), func(j int) bool { return tl[j].Start >= w.End })
	return max(j-i, 0) + 1
}

// Held is the time during wait w that a thread held its lock: the wait's
// duration less its parts with Holder NoThread. It costs two binary
// searches.
func (s *Spans) Held(w *Wait) int64 {
	return s.heldUpTo(w.Lock, w.End) - s.heldUpTo(w.Lock, w.Start)
}

// heldUpTo is the time lock l was held before time t.
func (s *Spans) heldUpTo(l LockID, t int64) int64 {
	tl := s.Timeline(l)
	if len(tl) == 0 {
		return 0
	}
	held := s.heldBefore[s.timelineStart[l]+int(l) : s.timelineStart[l+1]+int(l)+1]
	k := sort.Search(len(tl), func(j int) bool { return tl[j].End > t })
	v := held[k]
	if k < len(tl) && tl[k].Holder != NoThread && tl[k].Start < t {
		v += t - tl[k].Start
	}
	return v
}
