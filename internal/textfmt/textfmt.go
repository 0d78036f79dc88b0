// Package textfmt formats the numbers of giltrace's reports for people:
// durations with three significant digits, percentages, speedup factors
// and counted words. The diagnosis writes its sentences with it and the
// report exporter its tables, so both print a figure the same way.
package textfmt

import (
	"fmt"
	"math"
	"strings"
)

// Dur formats nanoseconds with three significant digits: "1.23s",
// "612ms", "4.90ms", "45.0us", "800ns". ASCII "us" keeps columns aligned
// in every terminal.
func Dur(ns int64) string {
	neg := ""
	if ns < 0 {
		neg, ns = "-", -ns
	}
	v := float64(ns)
	// A value that rounds up to 1000 of its unit is shown in the next
	// one: 999.96 ms is "1.00s", not "1000ms".
	switch {
	case v >= 999.5e6:
		return neg + sig3(v/1e9) + "s"
	case v >= 999.5e3:
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
	case v >= 99.95: // 99.95 printed with one decimal is "100.0": "100"
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// Pct formats a fraction as a percentage with one decimal: "49.6%".
func Pct(f float64) string {
	return fmt.Sprintf("%.1f%%", 100*f)
}

// Pct0 formats a fraction as a whole percentage for sentences: "74 %".
func Pct0(f float64) string {
	return fmt.Sprintf("%.0f %%", 100*f)
}

// X formats a speedup factor: "1.95x".
func X(f float64) string {
	return fmt.Sprintf("%.2fx", f)
}

// Share is part/whole, 0 when whole is 0.
func Share(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// Plural is "1 thread", "2 threads", "3 processes".
func Plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if word[len(word)-1] == 's' {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// And joins items as an English list: "a", "a and b", "a, b and c".
func And(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
