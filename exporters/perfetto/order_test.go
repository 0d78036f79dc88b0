package perfetto

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestInOrderIsTheSort: merging the runs gives the records sorted by
// order, for records in a few sorted runs and for records in any order.
func TestInOrderIsTheSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 300 {
		recs := make([]record, r.IntN(200))
		at := int64(0)
		for i := range recs {
			if round%2 == 0 || r.IntN(20) == 0 {
				at = int64(r.IntN(50)) // a new run, or any order
			}
			at += int64(r.IntN(3))
			recs[i] = record{t: at, typ: uint8(1 + r.IntN(3)), track: uint32(i)} // track: which record
		}
		idx := make([]int, len(recs))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(i, j int) int { return order(recs, i, j) })
		var want []record
		for _, i := range idx {
			want = append(want, recs[i])
		}
		var got []record
		for rec := range inOrder(recs) {
			got = append(got, rec)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: merged\n%v\nsorted\n%v", round, got, want)
		}
	}
}
