package report

import (
	"fmt"
	"math"
)

// fmtDur formats nanoseconds with three significant digits: "1.23s",
// "612ms", "4.90ms", "45.0us", "800ns". ASCII "us" keeps columns aligned
// in every terminal.
func fmtDur(ns int64) string {
	neg := ""
	if ns < 0 {
		neg, ns = "-", -ns
	}
	v := float64(ns)
	switch {
	case ns >= 1e9:
		return neg + sig3(v/1e9) + "s"
	case ns >= 1e6:
		return neg + sig3(v/1e6) + "ms"
	case ns >= 1e3:
		return neg + sig3(v/1e3) + "us"
	}
	return fmt.Sprintf("%s%dns", neg, ns)
}

// sig3 formats v (>= 1) with three significant digits, at least.
func sig3(v float64) string {
	v = math.Round(v*100) / 100 // so that 9.999 is "10.0", not "10.00"
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// fmtPct formats a fraction as a percentage with one decimal: "49.6%".
func fmtPct(f float64) string {
	return fmt.Sprintf("%.1f%%", 100*f)
}

// fmtPct0 formats a fraction as a whole percentage for sentences: "74 %".
func fmtPct0(f float64) string {
	return fmt.Sprintf("%.0f %%", 100*f)
}

// fmtX formats a speedup factor: "1.95x".
func fmtX(f float64) string {
	return fmt.Sprintf("%.2fx", f)
}

// share is part/whole, 0 when whole is 0.
func share(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// ratio is a/b, 0 when b is 0 (JSON has no Inf or NaN).
func ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) || math.IsInf(a, 0) {
		return 0
	}
	return a / b
}

// plural is "1 thread", "2 threads", "3 processes".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if word[len(word)-1] == 's' {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// round3 rounds to three decimals so that JSON output is stable and short.
func round3(f float64) float64 {
	return math.Round(f*1000) / 1000
}
