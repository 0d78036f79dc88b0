package tracer

import (
	"runtime"
	"testing"
	"unsafe"
)

func TestHugeInner(t *testing.T) {
	const mb = 1 << 20
	high := ^uintptr(0) / 2 &^ (hugeSize - 1) // any platform's
	for _, tc := range []struct {
		p, n          uintptr
		start, length uintptr
	}{
		{0, hugeMin, 0, hugeMin},                    // aligned: every page
		{1, hugeMin, 2 * mb, hugeMin - 2*mb},        // one byte past: the first and the last page are partial
		{2*mb - 1, hugeMin + 1, 2 * mb, hugeMin},    // starts one byte before a page
		{3 * mb, hugeMin - 1, 0, 0},                 // below hugeMin: nothing
		{5 * mb, 16 * mb, 6 * mb, 14 * mb},          // an odd start
		{high + 123, 64 * mb, high + 2*mb, 62 * mb}, // high addresses
	} {
		start, length := hugeInner(tc.p, tc.n)
		if start != tc.start || length != tc.length {
			t.Errorf("hugeInner(%#x, %d MB) = %#x, %d bytes; want %#x, %d", tc.p, tc.n/mb, start, length, tc.start, tc.length)
		}
		if length > 0 && (start < tc.p || start+length > tc.p+tc.n || start%hugeSize != 0 || length%hugeSize != 0) {
			t.Errorf("hugeInner(%#x, %d): [%#x, %#x) is not whole huge pages inside", tc.p, tc.n, start, start+length)
		}
	}
}

func TestHugeOuter(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		p, n          uintptr
		start, length uintptr
	}{
		{0, 2 * mb, 0, 2 * mb},                  // one aligned page
		{8 * 1024, 2 * mb, 0, 4 * mb},           // a recorder's chunk: straddles two pages
		{3 * mb, 2*mb - 1, 0, 0},                // under a huge page: nothing
		{5*mb + 4096, 6 * mb, 4 * mb, 8 * mb},   // ends inside its fourth page
		{64*mb - 8192, 2 * mb, 62 * mb, 4 * mb}, // across an arena boundary: the pages of the two arenas it is in
	} {
		start, length := hugeOuter(tc.p, tc.n)
		if start != tc.start || length != tc.length {
			t.Errorf("hugeOuter(%#x, %d) = %#x, %d; want %#x, %d", tc.p, tc.n, start, length, tc.start, tc.length)
		}
		if length > 0 && (start > tc.p || start+length < tc.p+tc.n || start%hugeSize != 0 || length%hugeSize != 0) {
			t.Errorf("hugeOuter(%#x, %d): [%#x, %#x) does not cover the array in whole pages", tc.p, tc.n, start, start+length)
		}
	}
}

func TestHugeSliceEmpty(t *testing.T) {
	hugeSlice([]int64(nil)) // nothing to advise: no panic
	hugeSlice(make([]int64, 0))
	hugeCovering([]int64(nil))
}

func TestDisableTHP(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "disablethp=1": true, "disablethp=0": false,
		"gctrace=1,disablethp=1": true, "disablethp=1,disablethp=0": false,
		"madvdontneed=1": false, " disablethp=1": true,
	} {
		if got := disableTHP(in); got != want {
			t.Errorf("disableTHP(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestCarve: a recorder with huge pages cuts its chunks from slabs: each
// chunk zeroed, of its size and capacity (an append past it cannot reach
// the next chunk), none overlapping; a chunk larger than a slab gets a
// slab of its own.
func TestCarve(t *testing.T) {
	r := NewRecorder(Config{HugePages: true})
	type span struct{ lo, hi uintptr }
	var got []span
	var chunks [][]Event // kept: a chunk the test dropped could be collected and its memory carved again
	for _, n := range []int{firstChunkEvents, 2 * firstChunkEvents, 4 * firstChunkEvents, chunkEvents, chunkEvents, chunkEvents, 3 * slabEvents, firstChunkEvents} {
		ev := r.carve(n)
		chunks = append(chunks, ev)
		if len(ev) != n || cap(ev) != n {
			t.Fatalf("carve(%d): len %d, cap %d", n, len(ev), cap(ev))
		}
		for i := range ev {
			if ev[i] != (Event{}) {
				t.Fatalf("carve(%d): event %d not zero", n, i)
			}
			ev[i].Time = int64(i + 1) // a later chunk must not see it
		}
		lo := uintptr(unsafe.Pointer(&ev[0]))
		got = append(got, span{lo, lo + uintptr(n)*unsafe.Sizeof(ev[0])})
	}
	for i, a := range got {
		for _, b := range got[i+1:] {
			if a.lo < b.hi && b.lo < a.hi {
				t.Fatalf("chunks overlap: [%#x, %#x) and [%#x, %#x)", a.lo, a.hi, b.lo, b.hi)
			}
		}
	}
	runtime.KeepAlive(chunks)
}

// TestSlabsBounded: a long thread's full-size chunks, taken between short
// threads' small first chunks, are not carved (review: carved, they left
// most of each slab unused, 1.97x the events in slabs): the slabs hold the
// small chunks with little to spare.
func TestSlabsBounded(t *testing.T) {
	r := NewRecorder(Config{HugePages: true})
	p := r.AddProcess("p", 1)
	long := r.NewThread("long", p)
	small := 0
	for i := 0; i < 64; i++ {
		for range chunkEvents {
			long.Emit(int64(i), KindIOBegin, NoStack, 0)
		}
		short := r.NewThread("short", p)
		short.Emit(0, KindThreadStart, NoStack, 0)
		small += firstChunkEvents
	}
	// The long thread's small chunks: 1 Ki to 32 Ki events.
	small += 2*(chunkEvents/2) - firstChunkEvents
	r.slabMu.Lock()
	slabbed := r.slabbed
	r.slabMu.Unlock()
	if slabbed > 2*small+slabEvents {
		t.Errorf("slabs of %d events for %d events of small chunks", slabbed, small)
	}
}
