package tracer

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"testing"
)

// heapMerge is the merge mergeEvents replaced (container/heap on the
// heads of the sequences, each made one list): the reference its order
// must equal.
func heapMerge(seqs [][][]Event) []Event {
	total := 0
	h := make(refHeap, 0, len(seqs))
	for _, seq := range seqs {
		l := slices.Concat(seq...)
		total += len(l)
		if len(l) > 0 {
			h = append(h, l)
		}
	}
	out := make([]Event, 0, total)
	heap.Init(&h)
	for len(h) > 1 {
		l := h[0]
		next := &h[1][0]
		if len(h) > 2 && Less(&h[2][0], next) {
			next = &h[2][0]
		}
		n := 1
		for n < len(l) && Less(&l[n], next) {
			n++
		}
		out = append(out, l[:n]...)
		if n == len(l) {
			heap.Pop(&h)
			continue
		}
		h[0] = l[n:]
		heap.Fix(&h, 0)
	}
	if len(h) == 1 {
		out = append(out, h[0]...)
	}
	return out
}

type refHeap [][]Event

func (h refHeap) Len() int           { return len(h) }
func (h refHeap) Less(i, j int) bool { return Less(&h[i][0], &h[j][0]) }
func (h refHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refHeap) Push(x any)        { *h = append(*h, x.([]Event)) }
func (h *refHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// TestMergeEventsAsTheHeap: the same order as the heap merge, on
// sequences of one thread each (a Recorder's, or a file's whose times may
// repeat and whose kinds at one time are in any order), in chunks or not,
// with empty chunks and sequences, of threads that take turns or
// interleave; and each thread's events in its own order, wherever its
// chunks end (they were merged as lists of their own, which put a later
// chunk's head before an earlier chunk's events of the same time and kind,
// or of a later kind).
func TestMergeEventsAsTheHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []Kind{KindLockRelease, KindThreadEnd, KindLockAcquire, KindCallEnter, KindLockWait}
	for round := range 4000 {
		threads := 1 + r.IntN(12)
		var seqs [][][]Event
		for th := range threads {
			n := r.IntN(200)
			evs := make([]Event, n)
			tm := int64(r.IntN(50))
			for i := range evs {
				switch r.IntN(3) {
				case 0:
					tm += int64(r.IntN(3)) // repeats, as a file's deltas of 0
				default:
					tm += int64(r.IntN(100))
				}
				evs[i] = Event{Time: tm, Thread: ThreadID(threads - 1 - th), Kind: kinds[r.IntN(len(kinds))], Arg: uint64(i)}
			}
			if round%2 == 0 {
				seqs = append(seqs, [][]Event{evs})
				continue
			}
			var seq [][]Event
			for len(evs) > 0 { // chunks
				k := min(len(evs), 1+r.IntN(40))
				seq = append(seq, evs[:k])
				evs = evs[k:]
			}
			if r.IntN(2) == 0 { // an empty chunk anywhere
				seq = slices.Insert(seq, r.IntN(len(seq)+1), []Event(nil))
			}
			seqs = append(seqs, seq)
		}
		if r.IntN(2) == 0 { // an empty sequence anywhere
			seqs = slices.Insert(seqs, r.IntN(len(seqs)+1), [][]Event(nil))
		}
		want := heapMerge(seqs)
		got := mergeEvents(seqs)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: the merge differs from the heap merge", round)
		}
		next := make([]uint64, threads)
		for _, e := range got {
			if e.Arg != next[e.Thread] {
				t.Fatalf("round %d: thread %d's event %d merged where its event %d was due", round, e.Thread, e.Arg, next[e.Thread])
			}
			next[e.Thread]++
		}
	}
	for _, run := range []int{1, 3, 1000} {
		seqs := mergeInput(5, 100_000, run)
		if !slices.Equal(mergeEvents(seqs), heapMerge(seqs)) {
			t.Fatalf("mergeInput run %d: the merge differs from the heap merge", run)
		}
	}
}
