package diagnosis

import (
	"cmp"
	"iter"
	"slices"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// BlockedBefore is a thread of an attach that existed before the trace
// began and was first seen late (tracer.ThreadSpan.Existed): the part of
// its time before then that the speedup arithmetic counts as a blocking
// call (blockedBeforeSeen).
type BlockedBefore struct {
	Thread  string `json:"thread"`
	Process string `json:"process"`
	// FirstSeenNS is when the trace first saw the thread; BlockedNS the
	// part of [0, FirstSeenNS) counted as its blocking call, from FromNS.
	FirstSeenNS int64 `json:"first_seen_ns"`
	BlockedNS   int64 `json:"blocked_ns"`
	FromNS      int64 `json:"from_ns"`
}

// blockedBeforeSeen is, per thread, the time before the trace first saw it
// that counts as work in the speedup arithmetic, as a blocking call (I/O),
// and where that time begins (0 for a thread with none).
//
// A thread that existed before the trace began (attach) and is first seen
// late was, until then, in a call it made before the attach that released
// the GIL: a sleep, I/O, a wait, a native call. The model of the run
// writes it so, io: {duration, kind: blocking} from the trace's start
// (model.Build), and one thread doing all the work serially would have to
// wait through such a call too. Left out, an attach begun while every
// thread was asleep had a serial equivalent of its 59 ms of compute over a
// wall of 1.75 s: "achieved 0.03x" for a run no worse than serial
// (compare/testdata/attach-blocked.giltrace; QA: 0.52x, 0.72x as
// processes).
//
// The trace does not say what the call waited for, and a wait for the
// other threads' work is not work: a main thread in Thread.join while its
// workers compute, pool workers on an empty queue until a thread that
// slept gives them tasks. So the time counts only where the trace shows
// nothing else that it could have waited for, and once:
//   - not while another thread of the run did recorded work (running,
//     native calls, I/O): the moment is counted already, in that thread;
//   - each moment before the trace first saw some of these threads counts
//     for the one first seen after it, the others' wait being, as far as
//     the trace can tell, for that one (a thread woken by another is seen
//     after it);
//   - only in stretches without recorded work of BlockedBeforeMinNS or
//     more.
//
// Counted for every such thread, as the model does, a main thread joining
// a CPU-bound worker made the run look 2.00x and "scales", where the same
// program recorded from its start shows 1.00x. The rule errs low (two
// threads asleep side by side before the attach count as one), never
// below what the wall holds: every moment before the last of them was
// seen is someone's work or a counted call, but for gaps under a
// millisecond. Per thread the state table keeps what was recorded.
func (a *analysis) blockedBeforeSeen() (blocked, from []int64) {
	s := a.s
	type late struct {
		i  int
		at int64
	}
	var ls []late
	var last int64
	for i := range a.r.Threads {
		if i >= len(s.Threads) || !s.Threads[i].Existed || len(s.ThreadStates(tracer.ThreadID(i))) == 0 {
			continue
		}
		at := max(s.Threads[i].Start, 0)
		ls = append(ls, late{i, at})
		last = max(last, at)
	}
	if last <= 0 {
		return nil, nil
	}
	slices.SortFunc(ls, func(x, y late) int { return cmp.Or(cmp.Compare(x.at, y.at), cmp.Compare(x.i, y.i)) })
	// The run's recorded work before the last of them was seen, merged.
	var work [][2]int64
	for id := range s.Threads {
		for _, sp := range s.ThreadStates(tracer.ThreadID(id)) {
			if sp.Start >= last {
				break
			}
			switch sp.State {
			case tracer.StateRunning, tracer.StateNative, tracer.StateNativeHolding, tracer.StateIO:
				if sp.End > sp.Start {
					work = append(work, [2]int64{sp.Start, min(sp.End, last)})
				}
			}
		}
	}
	work = mergeIntervals(work)
	blocked, from = make([]int64, len(a.r.Threads)), make([]int64, len(a.r.Threads))
	prev := int64(0)
	for _, l := range ls {
		// The moments before it was seen and after the one seen before it.
		for lo, hi := range gaps(work, prev, l.at) {
			if hi-lo < BlockedBeforeMinNS {
				continue
			}
			if blocked[l.i] == 0 {
				from[l.i] = lo
			}
			blocked[l.i] += hi - lo
		}
		prev = max(prev, l.at)
	}
	return blocked, from
}

// BlockedBeforeMinNS: a stretch shorter than this without recorded work,
// before a thread of an attach was first seen (and after the one seen
// before it), does not count as its blocking call (blockedBeforeSeen).
// Such gaps are the handoffs and wake-ups a trace shows everywhere, which
// no thread's work counts: a main thread whose Thread.join returns when
// its worker ends is seen tens of microseconds after the worker's last
// event, and a thread seen waking, before it runs, leaves such a gap
// before the next one.
const BlockedBeforeMinNS = int64(time.Millisecond)

// gaps yields the stretches of [from, to) that the merged, sorted
// intervals do not cover, in order.
func gaps(iv [][2]int64, from, to int64) iter.Seq2[int64, int64] {
	return func(yield func(int64, int64) bool) {
		at := from
		i, _ := slices.BinarySearchFunc(iv, from, func(v [2]int64, t int64) int { return cmp.Compare(v[1], t+1) })
		for ; at < to && i < len(iv) && iv[i][0] < to; i++ {
			if iv[i][0] > at && !yield(at, iv[i][0]) {
				return
			}
			at = max(at, iv[i][1])
		}
		if at < to {
			yield(at, to)
		}
	}
}

// blockedBefore lists the threads with time counted before the trace first
// saw them, in thread order.
func (a *analysis) blockedBefore() []BlockedBefore {
	var out []BlockedBefore
	for i, b := range a.blocked {
		if b > 0 {
			th := &a.r.Threads[i]
			out = append(out, BlockedBefore{Thread: th.Name, Process: th.Process, FirstSeenNS: a.s.Threads[i].Start, BlockedNS: b, FromNS: a.blockFrom[i]})
		}
	}
	return out
}
