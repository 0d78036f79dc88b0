package diagnosis

import (
	"math/bits"
	"slices"
)

// radixMin is the least length sortTimes sorts by digits: below it the
// 2 Ki counts of a pass cost more than a comparison sort.
const radixMin = 512

// radixBits is the width of a digit: 11 bits, three passes for values up
// to 8.6 s in nanoseconds (2^33), whose counts (16 KiB) stay in the L1
// cache.
const radixBits = 11

// sortTimes sorts vs, durations or times in nanoseconds, ascending, and
// returns scratch, grown to len(vs) when it was shorter, for the next
// call. From radixMin values on, and when none is negative, it is a
// least-significant-digit radix sort: a pass per 11 bits of the largest
// value, each in linear time, where a comparison sort of a real run's
// re-acquire latencies (16 threads of 20 000, varied to the nanosecond)
// was a fifth of the diagnosis (docs/performance.md, "Post-run time,
// eleventh pass"). Equal values are indistinguishable, so the result is
// slices.Sort's.
func sortTimes(vs, scratch []int64) []int64 {
	if len(vs) < radixMin {
		slices.Sort(vs)
		return scratch
	}
	var high uint64
	sorted := true
	for i, v := range vs {
		if v < 0 {
			slices.Sort(vs)
			return scratch
		}
		high |= uint64(v)
		if i > 0 && v < vs[i-1] {
			sorted = false
		}
	}
	if sorted {
		return scratch
	}
	if cap(scratch) < len(vs) {
		scratch = make([]int64, len(vs))
	}
	src, dst := vs, scratch[:len(vs)]
	var counts [1 << radixBits]int
	for shift := 0; shift < bits.Len64(high); shift += radixBits {
		clear(counts[:])
		for _, v := range src {
			counts[uint64(v)>>shift&(1<<radixBits-1)]++
		}
		if counts[uint64(src[0])>>shift&(1<<radixBits-1)] == len(src) {
			continue // one digit for all: this pass moves nothing
		}
		at := 0
		for d, c := range counts {
			counts[d] = at
			at += c
		}
		for _, v := range src {
			d := uint64(v) >> shift & (1<<radixBits - 1)
			dst[counts[d]] = v
			counts[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &vs[0] {
		copy(vs, src)
	}
	return scratch
}
