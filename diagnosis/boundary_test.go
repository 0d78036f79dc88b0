package diagnosis

import "testing"

// TestBoundaryFigures: near-the-boundary figures in the units of the
// text around them, the value with as many digits as it takes not to
// print as its threshold.
func TestBoundaryFigures(t *testing.T) {
	for _, c := range []struct {
		b    Boundary
		want string
	}{
		{Boundary{Measure: "achieved / without-GIL estimate", Value: 0.78434, Threshold: 0.75, Unit: unitShare}, "achieved / without-GIL estimate 78.4 % against 75 %"},
		{Boundary{Measure: "GIL wait share", Value: 0.22758, Threshold: 0.25, Unit: unitShare}, "GIL wait share 22.8 % against 25 %"},
		{Boundary{Measure: "GIL wait share", Value: 0.24999, Threshold: 0.25, Unit: unitShare}, "GIL wait share 24.999 % against 25 %"},
		{Boundary{Measure: "achieved speedup", Value: 1.4499, Threshold: 1.5, Unit: unitX}, "achieved speedup 1.45x against 1.5x"},
		{Boundary{Measure: "median re-acquire after I/O", Value: 2_100_000, Threshold: 2_500_000, Unit: unitNS}, "median re-acquire after I/O 2.10ms against 2.5ms"},
		{Boundary{Measure: "runnable CPU demand per core", Value: 1.36, Threshold: 1.25}, "runnable CPU demand per core 1.36 against 1.25"},
	} {
		if got := c.b.Figures(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
