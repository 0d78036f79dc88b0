package diagnosis

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestNearBoundaryFiredIsGiven: a near-boundary entry that says its
// verdict was given names a verdict of the report, on every scenario and
// recorded fixture; and the entries of a rule that fired and was dropped
// (gil-bound for gil-held-in-native: QA found near_boundary with gil-bound
// "fired" beside verdicts without it) go, those of rules not fired stay.
func TestNearBoundaryFiredIsGiven(t *testing.T) {
	var traces []*tracer.Trace
	names := []string{}
	for _, c := range testkit.All(t) {
		traces, names = append(traces, c.Trace), append(names, c.Name)
	}
	files, _ := filepath.Glob(filepath.Join(testkit.FixtureDir(), "*.giltrace"))
	for _, f := range files {
		tr, err := tracer.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		traces, names = append(traces, tr), append(names, filepath.Base(f))
	}
	near := []Boundary{
		{Code: GILBound, Fired: true}, {Code: Scales, Fired: false}, {Code: GILHeldInNative, Fired: true}, {Code: GILBound, Fired: true},
	}
	got := givenNear(near, []Verdict{{Code: GILHeldInNative}})
	if want := []Boundary{{Code: Scales, Fired: false}, {Code: GILHeldInNative, Fired: true}}; !slices.Equal(got, want) {
		t.Errorf("givenNear: %+v, want %+v", got, want)
	}
	for i, tr := range traces {
		r := Analyze(tracer.Derive(tr))
		var given []string
		for _, v := range r.Verdicts {
			given = append(given, v.Code)
		}
		for _, b := range r.NearBoundary {
			if b.Fired && !slices.Contains(given, b.Code) {
				t.Errorf("%s: near_boundary %+v says given, verdicts %v", names[i], b, given)
			}
		}
	}
}
