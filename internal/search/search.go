// Package search holds the galloping search that the passes over a
// trace's time-ordered arrays share: one search per item of a second
// time-ordered list, each starting from the previous answer.
package search

import "sort"

// Gallop is sort.Search(n, f) for f false then true, searched from hint:
// forward from it in growing steps when f(hint-1) is false, else from 0.
// For answers that move forward little by little, it costs the logarithm
// of each move instead of each a binary search of the whole array (whose
// probes, far apart, miss the cache).
func Gallop(n, hint int, f func(int) bool) int {
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
