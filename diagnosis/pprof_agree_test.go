package diagnosis

import (
	"testing"

	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"github.com/google/pprof/profile"
)

// TestAgreesWithPprof checks the report's numbers against the pprof
// exporter's profiles of the same traces: per thread and state, the wall
// profile's nanoseconds equal the breakdown; the GIL-wait profile's delay
// equals the threads' GIL wait; the blame profile's GIL delay charged to a
// holder equals the report's blame, which its top functions share out.
func TestAgreesWithPprof(t *testing.T) {
	cases := map[string]*tracer.Trace{"mixed": testkit.Mixed(), "countdown": testkit.Countdown(10)}
	for _, tc := range verdictCases {
		cases[tc.name] = tc.trace()
	}
	for name, tr := range cases {
		sp := tracer.Derive(tr)
		r := Analyze(sp)

		type tk struct{ proc, thread, state string }
		wall := map[tk]int64{}
		for _, s := range mustProfile(t, sp, pprof.KindWall).Sample {
			wall[tk{s.Label["process"][0], s.Label["thread"][0], s.Label["state"][0]}] += s.Value[0]
		}
		var gilWait int64
		for _, th := range r.Threads {
			for st := tracer.State(0); st < tracer.NumStates; st++ {
				if got, want := wall[tk{th.Process, th.Name, st.String()}], th.Time(st); got != want {
					t.Errorf("%s: %s/%s %s: pprof wall %d, report %d", name, th.Process, th.Name, st, got, want)
				}
			}
			gilWait += th.GILWaitNS
		}

		var waitDelay int64
		for _, s := range mustProfile(t, sp, pprof.KindWait).Sample {
			if s.Label["state"][0] == tracer.StateGILWait.String() {
				waitDelay += s.Value[1]
			}
		}
		if waitDelay != gilWait {
			t.Errorf("%s: pprof GIL-wait delay %d, report GIL wait %d", name, waitDelay, gilWait)
		}

		var blamed, reportBlame int64
		for _, s := range mustProfile(t, sp, pprof.KindBlame).Sample {
			// GIL waits (no lock label) charged to a holder (not a handoff gap).
			if s.Label["lock"] == nil && s.Label["state"][0] != "handoff" {
				blamed += s.Value[1]
			}
		}
		for _, w := range sp.Waits {
			if isGIL(tr, w.Lock) {
				for b := range sp.BlameOf(&w) {
					if b.Holder != tracer.NoThread {
						reportBlame += b.End - b.Start
					}
				}
			}
		}
		var top int64
		for _, f := range r.TopHold {
			top += f.BlameNS
		}
		if len(r.TopHold) < TopN && top != reportBlame {
			t.Errorf("%s: top functions by hold blame %d, all blame %d", name, top, reportBlame)
		}
		if blamed != reportBlame {
			t.Errorf("%s: pprof blame profile charges %d ns of GIL wait to holders, the report %d", name, blamed, reportBlame)
		}
	}
}

func mustProfile(t *testing.T, sp *tracer.Spans, k pprof.Kind) *profile.Profile {
	t.Helper()
	p, err := pprof.Profile(sp, k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
