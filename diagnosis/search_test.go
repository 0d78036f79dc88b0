package diagnosis

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// TestFirstEndAfter: the galloping search gives sort.Search's answer for
// any hint, on ends in order and out of order.
func TestFirstEndAfter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		ends := make([]int64, r.IntN(40))
		for i := range ends {
			ends[i] = int64(r.IntN(100))
			if i > 0 && r.IntN(10) > 0 {
				ends[i] = ends[i-1] + int64(r.IntN(5)) // mostly in order
			}
		}
		first := firstEndAfter(ends)
		for range 50 {
			tm, hint := int64(r.IntN(120)-10), r.IntN(len(ends)+3)-1
			want := sort.Search(len(ends), func(j int) bool { return ends[j] > tm })
			if got := first(tm, hint); got != want {
				t.Fatalf("ends %v, t %d, hint %d: %d, want %d", ends, tm, hint, got, want)
			}
		}
	}
}
