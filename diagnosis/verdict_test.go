package diagnosis

import (
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// verdictCases are built traces and the verdicts they must get, exactly.
const ms = int64(1e6)

var verdictCases = []struct {
	name  string
	trace func() *tracer.Trace
	want  []string
}{
	{"countdown-2", func() *tracer.Trace { return testkit.CPUThreads(2, 20) }, []string{GILBound}},
	{"countdown-4", func() *tracer.Trace { return testkit.CPUThreads(4, 40) }, []string{GILBound}}, // the GIL waiters are not CPU demand
	{"io-threads", func() *tracer.Trace { return testkit.IOThreads(4, 10) }, []string{Scales}},
	{"convoy", func() *tracer.Trace { return testkit.Convoy(20) }, []string{Convoy}},
	{"native-holding", func() *tracer.Trace { return testkit.NativeHolding(8) }, []string{GILHeldInNative}},
	{"lock-bound", func() *tracer.Trace { return testkit.LockBound(10) }, []string{LockBound}},
	{"free-threaded-2", func() *tracer.Trace { return testkit.FreeThreaded(2, 100*ms) }, []string{Scales}},
	{"free-threaded-4", func() *tracer.Trace { return testkit.FreeThreaded(4, 100*ms) }, []string{Inconsistent, CPUSaturated, Scales}},
	{"processes-2", func() *tracer.Trace { return testkit.Processes(2, 100*ms) }, []string{Scales}},
	{"single", testkit.SingleThread, []string{SingleThreaded}},
	{"legacy-unfair", func() *tracer.Trace { return testkit.LegacyUnfair(40) }, []string{GILBound}},
}

func TestVerdicts(t *testing.T) {
	for _, tc := range verdictCases {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.trace()
			if err := tr.CheckValid(); err != nil {
				t.Fatalf("built trace is invalid: %v", err)
			}
			r := Analyze(tracer.Derive(tr))
			var got []string
			for _, v := range r.Verdicts {
				got = append(got, v.Code)
				if v.Text == "" || v.Advice == "" {
					t.Errorf("verdict %s has no text or advice", v.Code)
				}
				if unfair := strings.Contains(v.Text, "unfair"); unfair != (tc.name == "legacy-unfair") {
					t.Errorf("verdict %s: mentions unfairness %v: %s", v.Code, unfair, v.Text)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("verdicts = %v, want %v", got, tc.want)
				for _, v := range r.Verdicts {
					t.Logf("%s: %s", v.Code, v.Text)
				}
				t.Logf("speedup %+v work %+v", r.Speedup, r.Work)
			}
		})
	}
}

// TestBreakdownSumsToWall checks, on every built trace, that each thread's
// six state times sum to its wall time and agree with tracer's totals.
func TestBreakdownSumsToWall(t *testing.T) {
	for _, tc := range verdictCases {
		tr := tc.trace()
		sp := tracer.Derive(tr)
		r := Analyze(sp)
		for i, th := range r.Threads {
			var sum int64
			for st := tracer.State(0); st < tracer.NumStates; st++ {
				sum += th.Time(st)
				if got, want := th.Time(st), sp.ThreadTotals(tracer.ThreadID(i))[st]; got != want {
					t.Errorf("%s/%s: %s = %d, tracer says %d", tc.name, th.Name, st, got, want)
				}
			}
			if sum != th.WallNS {
				t.Errorf("%s/%s: states sum to %d, wall is %d", tc.name, th.Name, sum, th.WallNS)
			}
		}
		if r.Work.SerialNS+r.Work.ParallelNS != r.Work.TotalNS {
			t.Errorf("%s: serial + parallel != total work", tc.name)
		}
	}
}
