package diagnosis

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortTimes: sortTimes gives slices.Sort's order for every kind of
// input: short and long, sorted, reversed, all equal, one digit only,
// values up to MaxInt64, negative ones, a scratch too short or long.
func TestSortTimes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var scratch []int64
	for c := range 600 {
		n := rng.IntN(3000)
		if c%5 == 0 {
			n = radixMin + rng.IntN(3)
		}
		vs := make([]int64, n)
		for i := range vs {
			switch c % 8 {
			case 0: // latencies to the nanosecond
				vs[i] = rng.Int64N(20_000_000)
			case 1: // anything non-negative
				vs[i] = rng.Int64N(math.MaxInt64)
			case 2: // few values
				vs[i] = rng.Int64N(4) * 1000
			case 3: // one digit
				vs[i] = rng.Int64N(1 << radixBits)
			case 4: // some negative
				vs[i] = rng.Int64N(1_000_000) - 1000
			case 5: // sorted
				vs[i] = int64(i) * 3
			case 6: // reversed
				vs[i] = int64(n-i) << 40
			case 7: // the high digit alone varies
				vs[i] = rng.Int64N(2) << 60
			}
		}
		want := slices.Clone(vs)
		slices.Sort(want)
		if c%3 == 0 {
			scratch = nil
		}
		scratch = sortTimes(vs, scratch)
		if !slices.Equal(vs, want) {
			t.Fatalf("case %d (%d values, kind %d): not sorted as slices.Sort sorts", c, n, c%8)
		}
	}
}
