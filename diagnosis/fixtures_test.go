package diagnosis

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// recordedVerdicts is the verdict each recorded fixture trace must get,
// among others that may apply. The fixtures not listed (api-service,
// ml-preprocessing) mix I/O, native calls and Python near the GIL's
// capacity, and their verdict depends on how busy the recording machine
// was; they are still analysed and checked for consistency.
var recordedVerdicts = map[string]string{
	"countdown":               GILBound,
	"countdown-legacy":        GILBound,
	"image-processing":        GILBound,
	"web-scraping":            Scales,
	"convoy":                  Convoy,
	"c-extension-holding-gil": GILHeldInNative,
	"lock-contention":         LockBound,
	"multiprocessing":         Scales,
	"free-threaded":           Scales,
	"file-reading":            Scales,
	// The real CPython twins (fixtures/python, recorded with
	// scripts/record-python-traces.sh): the same verdict as the VM's.
	"python-countdown":               GILBound,
	"python-image-processing":        GILBound,
	"python-web-scraping":            Scales,
	"python-web-scraping-inprocess":  Scales,
	"python-file-reading":            Scales,
	"python-convoy":                  Convoy,
	"python-c-extension-holding-gil": GILHeldInNative,
	"python-lock-contention":         LockBound,
	"python-hashlib-large":           Scales,
	"python-multiprocessing-pool":    Scales,
	"python-daemon-threads":          Convoy,
}

// TestRecordedFixtures checks the report of every trace recorded from the
// fixtures (fixtures/traces/*.giltrace): the expected verdict, and that each
// thread's breakdown sums to its wall and agrees with the tracer's totals.
func TestRecordedFixtures(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(testkit.FixtureDir(), "*.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < len(recordedVerdicts) {
		t.Fatalf("%d recorded fixture traces in %s, want at least %d", len(paths), testkit.FixtureDir(), len(recordedVerdicts))
	}
	seen := map[string]bool{}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".giltrace")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			tr, err := tracer.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sp := tracer.Derive(tr)
			r := Analyze(sp)
			var codes []string
			for _, v := range r.Verdicts {
				codes = append(codes, v.Code)
			}
			if want, ok := recordedVerdicts[name]; ok && !slices.Contains(codes, want) {
				for _, v := range r.Verdicts {
					t.Logf("%s: %s", v.Code, v.Text)
				}
				t.Errorf("verdicts %v, want %s among them", codes, want)
			}
			for i, th := range r.Threads {
				var sum int64
				for st := tracer.State(0); st < tracer.NumStates; st++ {
					sum += th.Time(st)
					if th.Time(st) != sp.ThreadTotals(tracer.ThreadID(i))[st] {
						t.Errorf("%s: %s differs from the tracer's total", th.Name, st)
					}
				}
				if sum != th.WallNS {
					t.Errorf("%s: states sum to %d, wall %d", th.Name, sum, th.WallNS)
				}
			}
		})
	}
	for name := range recordedVerdicts {
		if !seen[name] {
			t.Errorf("fixtures/traces has no %s.giltrace", name)
		}
	}
}

// TestNoConvoyBehindNative: an I/O thread waiting for the GIL while a
// native call keeps it (python-c-extension-holding-gil's heartbeat, 223 ms
// a re-acquire) is gil-held-in-native's case, not a convoy: no switch
// interval bounds such a wait, and the convoy's advice to shorten it would
// not help. The VM twin got gil-held-in-native alone; the real trace got
// a convoy too.
func TestNoConvoyBehindNative(t *testing.T) {
	for _, name := range []string{"python-c-extension-holding-gil", "c-extension-holding-gil"} {
		tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), name+".giltrace"))
		if err != nil {
			t.Fatal(err)
		}
		r := Analyze(tracer.Derive(tr))
		if got := r.VerdictCodes(); got != GILHeldInNative {
			t.Errorf("%s: verdicts %s, want %s alone", name, got, GILHeldInNative)
		}
	}
}

// TestScalesAdviceFitsTheWork: the scales verdict's advice speaks of
// asyncio only for I/O; for work mostly in GIL-releasing native code (the
// recorded hashlib program: no I/O to speak of) it says the native calls
// run in parallel, up to the cores (QA: four native calls with no I/O
// were told that asyncio scales further).
func TestScalesAdviceFitsTheWork(t *testing.T) {
	for name, want := range map[string]string{
		"python-hashlib-large": "its native calls release the GIL and run in parallel",
		"file-reading":         "asyncio scales further",
	} {
		tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), name+".giltrace"))
		if err != nil {
			t.Fatal(err)
		}
		r := Analyze(tracer.Derive(tr))
		found := false
		for _, v := range r.Verdicts {
			if v.Code == Scales {
				found = true
				if !strings.Contains(v.Advice, want) {
					t.Errorf("%s: scales advice %q, want %q", name, v.Advice, want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no scales verdict", name)
		}
	}
}
