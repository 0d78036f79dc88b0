package tracer

import (
	"math/bits"
	"sync"
	"unsafe"
)

// Recycled event arrays. A run's chunks are garbage once Finish has merged
// them into the trace; a process that records run after run (the
// what-if's replays, compare's variants, the benchmarks) would allocate,
// zero and fault in the same arrays again each time, and collect them
// (docs/performance.md, "Twelfth pass: recycled buffers and computed timed waits"). Record gives its recorder's
// arrays back here once finished, and a later recorder's chunks and slabs
// take them:
// arrays of firstChunkEvents << i events, i < len(eventPools). Their
// events are not zeroed: a chunk's events are read only once written
// (Buffer.cur's length; a Stream's published count).
var eventPools [8]sync.Pool // of *Event, the first of 1 Ki << i events

// poolIndex is the pool of arrays of n events, or -1.
func poolIndex(n int) int {
	if n < firstChunkEvents || n&(n-1) != 0 {
		return -1
	}
	i := bits.TrailingZeros(uint(n)) - bits.TrailingZeros(uint(firstChunkEvents))
	if i >= len(eventPools) {
		return -1
	}
	return i
}

// takeEvents returns an array of n events, recycled if one is pooled
// (reused true: not zeroed, its pages already advised and present), else
// fresh from make.
func takeEvents(n int) (ev []Event, reused bool) {
	if i := poolIndex(n); i >= 0 {
		if p, _ := eventPools[i].Get().(*Event); p != nil {
			return unsafe.Slice(p, n), true
		}
	}
	return make([]Event, n), false
}

// giveEvents pools ev's array for a later takeEvents; no one may use it
// after. Arrays of other sizes are left to the collector.
func giveEvents(ev []Event) {
	ev = ev[:cap(ev)]
	if i := poolIndex(len(ev)); i >= 0 {
		eventPools[i].Put(&ev[0])
	}
}
