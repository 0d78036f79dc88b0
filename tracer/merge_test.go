package tracer

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"testing"
)

// heapMerge is the merge mergeEvents replaced (container/heap on the
// lists' heads): the reference its order must equal.
func heapMerge(lists [][]Event) []Event {
	total := 0
	h := make(refHeap, 0, len(lists))
	for _, l := range lists {
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

// TestMergeEventsAsTheHeap: the same order as the heap merge, on lists of
// one thread each (a Recorder's, or a file's whose times may repeat and
// whose kinds at one time are in any order), split in chunks or not, of
// threads that take turns or interleave.
func TestMergeEventsAsTheHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []Kind{KindLockRelease, KindThreadEnd, KindLockAcquire, KindCallEnter, KindLockWait}
	for round := range 2000 {
		threads := 1 + r.IntN(12)
		var lists [][]Event
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
				lists = append(lists, evs)
				continue
			}
			for len(evs) > 0 { // chunks
				k := min(len(evs), 1+r.IntN(40))
				lists = append(lists, evs[:k])
				evs = evs[k:]
			}
		}
		if r.IntN(2) == 0 { // an empty list anywhere
			lists = slices.Insert(lists, r.IntN(len(lists)+1), []Event(nil))
		}
		want := heapMerge(lists)
		got := mergeEvents(lists)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: the merge differs from the heap merge", round)
		}
	}
	for _, run := range []int{1, 3, 1000} {
		lists := mergeInput(5, 100_000, run)
		if !slices.Equal(mergeEvents(lists), heapMerge(lists)) {
			t.Fatalf("mergeInput run %d: the merge differs from the heap merge", run)
		}
	}
}
