package diagnosis

import (
	"fmt"
	"math"
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
	Fired     bool    `json:"fired"` // whether the verdict was given
}

// cond is one condition of a verdict's rule: value >= threshold (or <,
// when below is set).
type cond struct {
	measure          string
	value, threshold float64
	margin           float64 // relative, one of the *Margin constants; 0: never near
	below            bool
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
			Value: math.Round(c.value*1e5) / 1e5, Threshold: round3(c.threshold), Fired: fired})
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
			s += fmt.Sprintf("%s %.5g against %.4g", b.Measure, b.Value, b.Threshold)
		}
	}
	if s == "" {
		return ""
	}
	return " Near the boundary (" + s + "): another run may not give this verdict."
}
