package diagnosis

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestUnionBefore: the one-pass union of intervals in start order gives,
// at each time, what merging them first and summing gives (random
// intervals, nested, touching and disjoint ones among them).
func TestUnionBefore(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 500; round++ {
		n := rng.IntN(30)
		iv := make([][2]int64, n)
		for i := range iv {
			s := rng.Int64N(1000)
			iv[i] = [2]int64{s, s + 1 + rng.Int64N(200)}
		}
		slices.SortStableFunc(iv, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) })
		ts := make([]int64, rng.IntN(10))
		for i := range ts {
			ts[i] = rng.Int64N(1300) - 50
		}
		slices.Sort(ts)
		got := unionBefore(func(yield func(int64, int64) bool) {
			for _, v := range iv {
				if !yield(v[0], v[1]) {
					return
				}
			}
		}, ts)
		union := mergeIntervals(slices.Clone(iv))
		for j, q := range ts {
			var want int64
			for _, u := range union {
				want += max(min(u[1], q)-u[0], 0)
			}
			if got[j] != want {
				t.Fatalf("round %d: intervals %v, union before %d = %d, want %d", round, iv, q, got[j], want)
			}
		}
	}
}
