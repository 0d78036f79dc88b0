package diagnosis

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLatencyOfRuns: the percentiles selected from sorted runs are those
// of the runs' samples merged and sorted, whatever the runs: empty ones,
// one sample, ties, zeros, very large values.
func TestLatencyOfRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for c := range 2000 {
		runs := make([][]int64, rng.IntN(6))
		var all []int64
		for i := range runs {
			run := make([]int64, rng.IntN(40))
			for k := range run {
				switch c % 3 {
				case 0:
					run[k] = rng.Int64N(5) // many ties
				case 1:
					run[k] = rng.Int64N(1e9)
				default:
					run[k] = rng.Int64() // up to MaxInt64
				}
			}
			slices.Sort(run)
			runs[i] = run
			all = append(all, run...)
		}
		var want Latency
		if len(all) > 0 {
			// The reference, from the definition: nearest rank in the sorted samples.
			slices.Sort(all)
			at := func(p float64) int64 {
				i := int(p*float64(len(all))+0.999999999) - 1
				return all[min(max(i, 0), len(all)-1)]
			}
			want = Latency{Count: len(all), P50: at(0.50), P99: at(0.99), Max: all[len(all)-1]}
		}
		if got := latencyOf(runs); got != want {
			t.Fatalf("case %d, runs %v: %+v, want %+v", c, runs, got, want)
		}
	}
}
