package diagnosis

import "math"

// ratio is a/b, 0 when b is 0 (JSON has no Inf or NaN).
func ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) || math.IsInf(a, 0) {
		return 0
	}
	return a / b
}

// round3 rounds to three decimals so that JSON output is stable and short.
func round3(f float64) float64 {
	return math.Round(f*1000) / 1000
}
