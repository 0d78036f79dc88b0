package diagnosis

import (
	"fmt"
	"math"
	"strings"
)

// Margins of the thresholds: a measure within margin × threshold of its
// threshold is "near the boundary". Run-to-run noise on a shared machine
// moves the measures by about this much (docs/diagnosis.md: four runs of
// api-service gave demands from 2.3 to 2.7 per 2 cores), so a verdict
// decided inside the margin is reported as such rather than trusted to
// come out the same next time.
const (
	// CPUSaturatedMargin: 15 % of 1.25 x cores.
	CPUSaturatedMargin = 0.15
	// CoresFullMargin: 10 % of CoresFullShare (the CPU time obtained is
	// counted in 10 ms ticks, and the OS and the recorder take some).
	CoresFullMargin = 0.1
	// GILBoundWaitMargin: 20 % of GILBoundWaitShare (25 % ± 5 points).
	GILBoundWaitMargin = 0.2
	// GILBoundHeldMargin: 5 % of GILBoundHeldFraction (80 % ± 4 points).
	GILBoundHeldMargin = 0.05
	// GILBoundGainMargin: 10 % of GILBoundGain.
	GILBoundGainMargin = 0.1
	// ConvoyLatencyMargin: 20 % of the convoy's latency threshold.
	ConvoyLatencyMargin = 0.2
	// ConvoyWaitMargin: 20 % of ConvoyMinWaitShare.
	ConvoyWaitMargin = 0.2
	// NativeHoldingMargin: 20 % of the native-holding shares.
	NativeHoldingMargin = 0.2
	// ScalesMargin: 10 % of ScalesMinSpeedup and of ScalesEfficiency.
	ScalesMargin = 0.1
	// LockBoundMargin: 20 % of LockBoundWaitShare.
	LockBoundMargin = 0.2
)

// Boundary is a verdict's deciding measure that came within its
// threshold's margin: the verdict (fired or not) could flip from run to
// run.
type Boundary struct {
	Code      string  `json:"code"`
	Measure   string  `json:"measure"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Unit says how Value and Threshold read: "share" (a fraction, printed
	// as a percentage), "x" (a factor), "ns" (a duration) or "" (a plain
	// number).
	Unit  string `json:"unit,omitempty"`
	Fired bool   `json:"fired"` // whether the verdict was given
}

// Units of a Boundary.
const (
	unitShare = "share"
	unitX     = "x"
	unitNS    = "ns"
)

// Figures is the measure and the threshold in the units of the text
// around them: "GIL wait share 24.4 % against 25 %", "median re-acquire
// after I/O 2.10ms against 2.5ms" (QA: raw ratios, "0.78434 against
// 0.75", among percentages). The value gets more digits while it would
// print as the threshold.
func (b Boundary) Figures() string {
	format := func(v float64, prec int) string {
		switch b.Unit {
		case unitShare:
			return fmt.Sprintf("%.*f %%", prec, 100*v)
		case unitX:
			return fmt.Sprintf("%.*fx", prec+1, v)
		case unitNS:
			return fmt.Sprintf("%.*fms", prec+1, v/1e6)
		}
		return fmt.Sprintf("%.*f", prec+1, v)
	}
	prec := 1
	for prec < 4 && b.Value != b.Threshold && format(b.Value, prec) == format(b.Threshold, prec) {
		prec++
	}
	// The threshold as it is written: 25 %, 1.25x, 2.5ms.
	t := format(b.Threshold, 4)
	num := strings.TrimRight(t, " %xms")
	if strings.Contains(num, ".") {
		num = strings.TrimSuffix(strings.TrimRight(num, "0"), ".")
	}
	return fmt.Sprintf("%s %s against %s%s", b.Measure, format(b.Value, prec), num, t[len(strings.TrimRight(t, " %xms")):])
}

// cond is one condition of a verdict's rule: value >= threshold (or <,
// when below is set).
type cond struct {
	measure          string
	value, threshold float64
	margin           float64 // relative, one of the *Margin constants; 0: never near
	below            bool
	unit             string // Boundary.Unit
}

func (c cond) holds() bool {
	if c.below {
		return c.value < c.threshold
	}
	return c.value >= c.threshold
}

func (c cond) near() bool {
	return c.margin > 0 && math.Abs(c.value-c.threshold) <= c.margin*math.Abs(c.threshold)
}

// decide applies a rule's conditions: it fires when all hold. It is near
// the boundary when a near condition could flip the outcome: if it fires,
// any near condition; if not, when every failing condition is near. Near
// rules are recorded in the report.
func (a *analysis) decide(code string, conds ...cond) bool {
	fired := true
	for _, c := range conds {
		fired = fired && c.holds()
	}
	var near []cond
	for _, c := range conds {
		switch {
		case fired && c.near():
			near = append(near, c)
		case !fired && !c.holds():
			if !c.near() {
				return false
			}
			near = append(near, c)
		}
	}
	for _, c := range near {
		// Five decimals: a measure just under its threshold must not print
		// as equal to it.
		a.r.NearBoundary = append(a.r.NearBoundary, Boundary{Code: code, Measure: c.measure,
			Value: math.Round(c.value*1e5) / 1e5, Threshold: round3(c.threshold), Unit: c.unit, Fired: fired})
	}
	return fired
}

// nearText is the sentence a verdict gets when one of its measures is
// within the margin of its threshold, or "".
func (r *Report) nearText(code string) string {
	s := ""
	for _, b := range r.NearBoundary {
		if b.Code == code && b.Fired {
			if s != "" {
				s += "; "
			}
			s += b.Figures()
		}
	}
	if s == "" {
		return ""
	}
	return " Near the boundary (" + s + "): another run may not give this verdict."
}
