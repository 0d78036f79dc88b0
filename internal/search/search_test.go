package search

import "testing"

// TestGallop: the answer of sort.Search for every answer and every hint,
// before, at and after it, and out of range.
func TestGallop(t *testing.T) {
	for n := range 40 {
		for answer := 0; answer <= n; answer++ {
			for hint := -1; hint <= n+1; hint++ {
				if got := Gallop(n, hint, func(j int) bool { return j >= answer }); got != answer {
					t.Fatalf("n %d, hint %d: %d, want %d", n, hint, got, answer)
				}
			}
		}
	}
}
