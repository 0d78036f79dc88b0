package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
)

const ms = int64(time.Millisecond)

// handTrace is a trace of two threads of one process and its spans, built
// by hand: io-1 does 10 ms of I/O between two 1 ms runs and waits 2 ms for
// the GIL held by cpu-1, which runs 13 ms then a 1 ms holding native call.
func handTrace() (*tracer.Trace, *tracer.Spans) {
	t := &tracer.Trace{
		Meta:    tracer.Meta{Workload: "hand", GILMode: "cpython", SwitchInterval: 5 * time.Millisecond, Cores: 2},
		Strings: []string{""},
		Procs:   []tracer.Process{{Name: "main", PID: 1, GIL: 0}},
		Threads: []tracer.Thread{{Name: "cpu-1"}, {Name: "io-1"}},
		Locks:   []tracer.Lock{{Name: "GIL", GIL: true}},
		Stacks:  []tracer.Stack{{}},
		Events:  []tracer.Event{{Time: 0}, {Time: 14 * ms}},
	}
	s := &tracer.Spans{
		Trace:   t,
		Threads: []tracer.ThreadSpan{{Thread: 0, Start: 0, End: 14 * ms, Ended: true}, {Thread: 1, Start: 0, End: 14 * ms, Ended: true}},
		States: []tracer.StateSpan{
			{Thread: 0, State: tracer.StateRunning, Start: 0, End: 1 * ms},
			{Thread: 0, State: tracer.StateGILWait, Start: 1 * ms, End: 1*ms + 1},
			{Thread: 0, State: tracer.StateRunning, Start: 1*ms + 1, End: 13 * ms},
			{Thread: 0, State: tracer.StateNativeHolding, Start: 13 * ms, End: 14 * ms},
			{Thread: 1, State: tracer.StateGILWait, Start: 0, End: 1 * ms},
			{Thread: 1, State: tracer.StateRunning, Start: 1 * ms, End: 1*ms + 1},
			{Thread: 1, State: tracer.StateIO, Start: 1*ms + 1, End: 11 * ms},
			{Thread: 1, State: tracer.StateGILWait, Start: 11 * ms, End: 14 * ms},
		},
		Holds: []tracer.Hold{
			{Lock: 0, Thread: 0, Start: 0, End: 1 * ms},
			{Lock: 0, Thread: 1, Start: 1 * ms, End: 1*ms + 1},
			{Lock: 0, Thread: 0, Start: 1*ms + 1, End: 14 * ms},
		},
	}
	return t, s
}

func TestSummarizeSumsToWall(t *testing.T) {
	_, sp := handTrace()
	sum := diagnosis.Summarize(sp)
	if sum.WallNS != 14*ms || sum.Processes != 1 || sum.Events != 2 || len(sum.Threads) != 2 {
		t.Fatalf("summary header = %+v", sum)
	}
	want := []diagnosis.ThreadSummary{
		{Name: "cpu-1", Process: "main", WallNS: 14 * ms, RunningNS: 13*ms - 1, GILWaitNS: 1, NativeHoldingNS: 1 * ms, Acquisitions: 2},
		{Name: "io-1", Process: "main", WallNS: 14 * ms, RunningNS: 1, GILWaitNS: 4 * ms, IONS: 10*ms - 1, Acquisitions: 1},
	}
	for i, th := range sum.Threads {
		if th != want[i] {
			t.Errorf("thread %d = %+v, want %+v", i, th, want[i])
		}
		var total int64
		for st := tracer.State(0); st < tracer.NumStates; st++ {
			total += th.Time(st)
		}
		if total != th.WallNS {
			t.Errorf("thread %s: states sum to %d, wall %d", th.Name, total, th.WallNS)
		}
	}
}

func TestSummaryJSONFields(t *testing.T) {
	_, sp := handTrace()
	var buf bytes.Buffer
	if err := WriteSummaryJSON(&buf, diagnosis.Summarize(sp)); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	// The record --json contract (issue 3).
	for _, k := range []string{"workload", "gil_mode", "switch_interval_ns", "processes", "wall_ns", "events", "dropped_events", "threads"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing field %q", k)
		}
	}
	th := m["threads"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "process", "wall_ns", "running_ns", "gil_wait_ns", "io_ns", "native_ns", "lock_wait_ns", "acquisitions"} {
		if _, ok := th[k]; !ok {
			t.Errorf("missing thread field %q", k)
		}
	}
	checkGolden(t, "summary.json", buf.Bytes())
}

func TestSummaryText(t *testing.T) {
	_, sp := handTrace()
	var buf bytes.Buffer
	if err := WriteSummaryText(&buf, diagnosis.Summarize(sp)); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary.txt", buf.Bytes())
}

// TestEmptyTraces checks that traces with nothing in them (no threads, a
// thread that never started, a truncated file's empty complete part) give a
// report and no panic.
func TestEmptyTraces(t *testing.T) {
	never := &tracer.Trace{
		Strings: []string{""}, Stacks: []tracer.Stack{{}},
		Procs:   []tracer.Process{{Name: "p", PID: 1, GIL: 0}},
		Threads: []tracer.Thread{{Name: "t"}},
		Locks:   []tracer.Lock{{Name: "GIL", GIL: true}},
	}
	for name, tr := range map[string]*tracer.Trace{
		"empty":   {Strings: []string{""}, Stacks: []tracer.Stack{{}}},
		"never":   never,
		"no meta": {},
	} {
		r := diagnosis.Analyze(tracer.Derive(tr))
		var buf bytes.Buffer
		if err := WriteText(&buf, r); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := WriteJSON(&buf, r); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if len(r.Verdicts) != 0 {
			t.Errorf("%s: verdicts %v for an empty trace", name, r.Verdicts)
		}
	}
}
