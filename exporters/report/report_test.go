package report

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trace *tracer.Trace
	}{
		{"countdown", testkit.Countdown(20)},
		{"mixed", testkit.Mixed()},
		{"convoy", testkit.Convoy(5)},
		{"lock-bound", testkit.LockBound(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []struct {
				ext    string
				format Format
			}{{"txt", Text}, {"json", JSON}} {
				var buf bytes.Buffer
				if err := New(&buf, f.format).Export(context.Background(), tracer.Derive(tc.trace)); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "report-"+tc.name+"."+f.ext, buf.Bytes())
			}
		})
	}
}

// TestBusyMachineFlagged: a run short of CPU says so, with the figure, in
// the text and in the JSON; the speedup says it comes from the overlap,
// and how much of a core the run got.
func TestBusyMachineFlagged(t *testing.T) {
	tr := testkit.Countdown(20)
	tr.Meta.Extra = map[string]string{"cpu_ns": "50000000"} // about half of the 107 ms the threads wanted
	s := tracer.Derive(tr)
	txt, js := textAndJSON(t, s)
	for _, want := range []string{"Warning: busy machine: the run obtained 47 % of the CPU time its threads wanted, up to what its cores could give (50.0ms of 107ms)", "achieved, from the trace's overlap",
		"(what the GIL and the locks let the threads overlap; the busy machine gave the run 50.0ms of CPU in the run's ",
		"of a core: it ran at most 0.46x as fast as one thread would on a free core, not 0.98x)"} {
		if !bytes.Contains(txt.Bytes(), []byte(want)) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	for _, want := range []string{`"busy_machine": true`, `"obtained_share": 0.467`, `"achieved_from": "overlap"`} {
		if !bytes.Contains(js.Bytes(), []byte(want)) {
			t.Errorf("JSON lacks %s", want)
		}
	}
}

// TestBusyMachineMainProcess: for a real program of several processes
// whose CPU time is its main process's alone, the line under the speedup
// names the main process and claims no bound on the run's speed (QA: "the
// busy machine gave the run 152ms", its main process's).
func TestBusyMachineMainProcess(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-multiprocessing-pool.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	tr.Meta.Extra["cpu_ns"] = "1000000" // a millisecond: short of the main process's wanted CPU
	txt, _ := textAndJSON(t, tracer.Derive(tr))
	if s := txt.String(); !strings.Contains(s, "the busy machine gave the main process 1.00ms of CPU in the run's") || strings.Contains(s, "it ran at most") {
		t.Errorf("the speedup's busy line:\n%s", s)
	}
}

// TestSimulatedCoreWaitNoted: a run in virtual time with more runnable
// threads than simulated cores says, before the verdicts, that the threads'
// running time includes waiting for a simulated core, with the figure, and
// is not called an inconsistent measurement.
func TestSimulatedCoreWaitNoted(t *testing.T) {
	tr := testkit.FreeThreaded(4, 100*1e6)
	tr.Meta.Extra = map[string]string{"clock": "virtual", "seed": "1"}
	s := tracer.Derive(tr)
	txt, js := textAndJSON(t, s)
	for _, want := range []string{"Note: Simulated on 2 cores with more runnable threads than cores", "over-count CPU time by 200ms", "Verdict: cpu-saturated",
		// The Speedup section's work says it too (QA: "work 15.9s" beside
		// "the same work on one thread: 4.00s").
		"  work 400ms (200ms of it waiting for a core, counted as running: see the note above)"} {
		if !bytes.Contains(txt.Bytes(), []byte(want)) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	if bytes.Contains(txt.Bytes(), []byte("inconsistent-measurement")) {
		t.Errorf("a simulated run is called inconsistent:\n%s", txt.String())
	}
	if !bytes.Contains(js.Bytes(), []byte(`"core_wait": {`)) {
		t.Errorf("JSON lacks core_wait")
	}
}

// textAndJSON is the report of s as text and as JSON.
func textAndJSON(t *testing.T, s *tracer.Spans) (txt, js *bytes.Buffer) {
	t.Helper()
	txt, js = new(bytes.Buffer), new(bytes.Buffer)
	if err := New(txt, Text).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := New(js, JSON).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return txt, js
}

// TestMissedProbeHitsFlagged: a real program's trace whose recorder lost
// probe hits or mended what it missed says so in the headline and the
// JSON; a trace without either says nothing of it.
func TestMissedProbeHitsFlagged(t *testing.T) {
	tr := testkit.Countdown(20)
	tr.Meta.Extra = map[string]string{"source": "cpython", "repairs": "880", "lost_events": "3"}
	txt, js := textAndJSON(t, tracer.Derive(tr))
	want := "Not seen by the recorder: 3 probe hits lost, 880 inconsistencies mended"
	if !bytes.Contains(txt.Bytes(), []byte(want)) {
		t.Errorf("text lacks %q:\n%s", want, txt.String())
	}
	for _, want := range []string{`"lost_events": 3`, `"repairs": 880`} {
		if !bytes.Contains(js.Bytes(), []byte(want)) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	tr.Meta.Extra = map[string]string{"source": "cpython"}
	txt, js = textAndJSON(t, tracer.Derive(tr))
	if bytes.Contains(txt.Bytes(), []byte("Not seen by the recorder")) || bytes.Contains(js.Bytes(), []byte(`"repairs"`)) {
		t.Errorf("a trace with nothing missed is flagged:\n%s", txt.String())
	}
}

// TestTracingCostSystemTime: a real program's tracing-cost warning gives
// the floor and, when recorded above it, the program's system CPU time,
// and says the CPU obtained may hide a busy machine; the JSON has both.
func TestTracingCostSystemTime(t *testing.T) {
	tr := testkit.Countdown(20)
	// 20 000 lost probe hits: a floor of 40 ms, and the events'.
	tr.Meta.Extra = map[string]string{"source": "cpython", "lost_events": "20000", "sys_cpu_ns": "60000000"}
	txt, js := textAndJSON(t, tracer.Derive(tr))
	for _, want := range []string{"into the probes; the program's system CPU time, which the probes' traps (several times 2.00us each on a busy machine) share with its system calls' own work, was 60.0ms", "may hide a busy machine"} {
		if !bytes.Contains(txt.Bytes(), []byte(want)) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	for _, want := range []string{`"system_cpu_ns": 60000000`, `"high": true`} {
		if !bytes.Contains(js.Bytes(), []byte(want)) {
			t.Errorf("JSON lacks %s:\n%s", want, js.String())
		}
	}
}

// TestNearBoundaryOneLinePerVerdict: a verdict not given that was near its
// boundary by two measures is listed once, with both (QA: api-service's
// gil-bound was listed twice).
func TestNearBoundaryOneLinePerVerdict(t *testing.T) {
	r := &diagnosis.Report{NearBoundary: []diagnosis.Boundary{
		{Code: "gil-bound", Measure: "GIL wait share", Value: 0.244, Threshold: 0.25, Unit: "share"},
		{Code: "scales", Measure: "achieved speedup", Value: 1.6, Threshold: 1.5, Unit: "x", Fired: true},
		{Code: "gil-bound", Measure: "without-GIL estimate / GIL ceiling", Value: 1.2, Threshold: 1.25, Unit: "x"},
	}}
	var b strings.Builder
	writeNear(&b, r)
	want := "  near the boundary, not given: gil-bound (GIL wait share 24.4 % against 25 %; without-GIL estimate / GIL ceiling 1.20x against 1.25x)\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}

// TestTracingCostCounts: the tracing-cost warning names the count its
// estimate took: the probe hits when they pass the events and the lost
// hits, else the events and the lost hits (review: with lost hits, it
// printed fewer probe hits than the estimate counted); and what the hits
// that made no event were, which --lock-holds changes (its probes filter
// no acquire).
func TestTracingCostCounts(t *testing.T) {
	tr := testkit.Countdown(20)
	events := 0
	for _, e := range tr.Events {
		if e.Kind != tracer.KindCallEnter && e.Kind != tracer.KindCallExit && e.Kind != tracer.KindDropRequest {
			events++
		}
	}
	const filtered = "; the others, uncontended lock acquires and the like, dropped by the probes' filters) at about"
	const holds = "; the others recorded none: each lock acquire's entry (its return records the hold), the acquires and releases of locks only one thread used, which the trace leaves out, and the like) at about"
	for _, c := range []struct {
		lost, hits int
		lockHolds  bool
		want, not  string
	}{
		{100000, events + 50000, false, fmt.Sprintf("%d events and 100000 probe hits lost at about", events), "the others"},
		{100000, events + 200000, false, fmt.Sprintf("%d probe hits (%d of them events and 100000 lost%s", events+200000, events, filtered), holds},
		{0, events + 200000, false, fmt.Sprintf("%d probe hits (%d of them events%s", events+200000, events, filtered), holds},
		// With --lock-holds no acquire is filtered: an uncontended one
		// is an event (QA: the warning said they were dropped).
		{0, events + 200000, true, fmt.Sprintf("%d probe hits (%d of them events%s", events+200000, events, holds), filtered},
		{100000, events + 200000, true, fmt.Sprintf("%d probe hits (%d of them events and 100000 lost%s", events+200000, events, holds), filtered},
	} {
		tr.Meta.Extra = map[string]string{"source": "cpython", "lost_events": strconv.Itoa(c.lost), "probe_hits": strconv.Itoa(c.hits)}
		if c.lockHolds {
			tr.Meta.Extra["lock_holds"] = "observed"
		}
		txt, js := textAndJSON(t, tracer.Derive(tr))
		if !bytes.Contains(txt.Bytes(), []byte(c.want)) || bytes.Contains(txt.Bytes(), []byte(c.not)) {
			t.Errorf("lost %d, hits %d, lock holds %v: text lacks %q or has %q:\n%s", c.lost, c.hits, c.lockHolds, c.want, c.not, txt.String())
		}
		if got := bytes.Contains(js.Bytes(), []byte(`"lock_holds": true`)); got != c.lockHolds {
			t.Errorf("lock holds %v: JSON's tracing_cost.lock_holds %v", c.lockHolds, got)
		}
	}
}

// TestNearNotGivenButGiven: a verdict not given by one rule near its
// boundary but given by another (gil-bound's rule (c) after rule (a)) is
// not listed as "not given".
func TestNearNotGivenButGiven(t *testing.T) {
	r := &diagnosis.Report{Verdicts: []diagnosis.Verdict{{Code: diagnosis.GILBound, Text: "t", Advice: "a"}},
		NearBoundary: []diagnosis.Boundary{{Code: diagnosis.GILBound, Measure: "CPU-bound threads' GIL wait share", Value: 0.2, Threshold: 0.25, Unit: "share"},
			{Code: diagnosis.Scales, Measure: "achieved speedup", Value: 1.45, Threshold: 1.5, Unit: "x"}}}
	var b strings.Builder
	WriteVerdicts(&b, r)
	if s := b.String(); strings.Contains(s, "not given: gil-bound") || !strings.Contains(s, "not given: scales") {
		t.Errorf("verdicts:\n%s\nwant scales listed near its boundary, not gil-bound, which was given", s)
	}
}

// TestLockHoldsNotRecorded: a real program's lock traced without
// --lock-holds has no holds to show: the table says so, not the waiter's
// wait for the GIL taken for a hold (QA: "held 9.06ms" for a lock held
// 561ms).
func TestLockHoldsNotRecorded(t *testing.T) {
	for _, observed := range []bool{true, false} {
		tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-lock-contention.giltrace"))
		if err != nil {
			t.Fatal(err)
		}
		if observed {
			tr.Meta.Extra["lock_holds"] = "observed"
		} else {
			delete(tr.Meta.Extra, "lock_holds")
		}
		var b strings.Builder
		if err := WriteText(&b, diagnosis.Analyze(tracer.Derive(tr))); err != nil {
			t.Fatal(err)
		}
		// A real program's locks are named in its words (QA: "guest
		// locks" is the VM's).
		if !strings.Contains(b.String(), "\nLocks (threading's: Lock, RLock, Condition, queues, joins)\n") || strings.Contains(b.String(), "guest lock") {
			t.Errorf("a real program's lock section or verdict speaks of guest locks:\n%s", b.String())
		}
		row := ""
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.Contains(line, "lock_contention  83 ") {
				row = line
			}
		}
		if got := strings.Contains(row, " -      not recorded "); got == observed || observed && !strings.Contains(row, "130    540ms") {
			t.Errorf("holds observed %v: the lock's row %q", observed, row)
		}
	}
}
