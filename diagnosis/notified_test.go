package diagnosis

import (
	"maps"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// notifiedCase reads a trace of diagnosis/testdata recorded by a recorder
// that tells a lock wait that ran out from one that got its lock
// (lock_wait_ends=known), and analyses it as recorded and with that
// metadata taken off (as an older recorder's trace).
func notifiedCase(t *testing.T, name string) (known, unknown *Report, s *tracer.Spans) {
	t.Helper()
	tr, err := tracer.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Meta.Extra["lock_wait_ends"] != "known" {
		t.Fatalf("%s: lock_wait_ends %q", name, tr.Meta.Extra["lock_wait_ends"])
	}
	s = tracer.Derive(tr)
	known = Analyze(s)
	old := *tr
	old.Meta.Extra = maps.Clone(tr.Meta.Extra)
	delete(old.Meta.Extra, "lock_wait_ends")
	unknown = Analyze(tracer.Derive(&old))
	return known, unknown, s
}

// sooner is how much faster than recorded a report estimates the run as
// processes: its speedup over the one achieved (both of the same work).
func sooner(r *Report) float64 { return r.Speedup.AsProcesses / r.Speedup.Achieved }

// TestNotifiedWait: scripts/whatif/futures_wait.py on CPython 3.11, 2
// CPU-bound tasks on a ThreadPoolExecutor awaited with
// concurrent.futures.wait (a Condition's waiter lock, new for each wait).
// The main thread's wait ended with its lock: a notification, which in
// the flow lasts until the worker that notified could get there
// (notifiedAt). Processes measured 1.3-1.7x as fast, the what-if 1.7-1.8x;
// counted as recorded, the report said 0.99x and gave no verdict.
func TestNotifiedWait(t *testing.T) {
	known, unknown, _ := notifiedCase(t, "futures-wait.giltrace")
	if x := sooner(known); x < 1.5 || verdictOf(known, GILBound) == nil {
		t.Errorf("as processes %.2fx as fast, verdicts %s; want 1.5x or more, gil-bound", x, known.VerdictCodes())
	}
	if x := sooner(unknown); x > 1.1 {
		t.Errorf("without lock_wait_ends: as processes %.2fx as fast; want the wait as recorded, 1.1x at most", x)
	}
}

// TestWaitLoop: an Event.wait(0.05) loop until 2 pool workers set their
// events (CPython 3.11; its timeouts I/O "lock-timeout", then a notified
// wait): a loop of timed waits until notified (tracer.WaitChain), which
// waits for the notification. Its timeouts are no work, in the flow nor
// in the speedup arithmetic. Processes measured 1.6x as fast; as
// recorded work, the timeouts bounded the run at 1.1x.
func TestWaitLoop(t *testing.T) {
	known, unknown, s := notifiedCase(t, "wait-loop.giltrace")
	chains := 0
	for _, cs := range s.WaitChains() {
		chains += len(cs)
	}
	if chains == 0 {
		t.Fatal("no loop of timed waits found")
	}
	if x := sooner(known); x < 1.4 || known.Speedup.Achieved > 1.05 {
		t.Errorf("as processes %.2fx as fast (%s), achieved %.2fx; want 1.4x or more, the timeouts no work", x, known.Speedup.Limit.Text, known.Speedup.Achieved)
	}
	if x := sooner(unknown); x > 1.15 {
		t.Errorf("without lock_wait_ends: as processes %.2fx as fast; want the timeouts as recorded, 1.15x at most", x)
	}
}

// TestTimeoutGivenUp: Event().wait(0.3) that ran out, then 100-200 ms of
// the main thread's compute beside 2 CPU-bound threads (CPython 3.11): a
// timeout given up is in no loop, and takes its whole length (review:
// taken for a notification by whichever thread held the GIL, its end came
// with that thread's progress, 1.80x where the truth was 1.1x).
func TestTimeoutGivenUp(t *testing.T) {
	known, _, s := notifiedCase(t, "timeout-given-up.giltrace")
	if cs := s.WaitChains(); len(cs) != 0 {
		t.Errorf("chains %+v, want none", cs)
	}
	l := known.Speedup.Limit
	if l.Name != "MainThread" || l.WorkNS < 300_000_000 {
		t.Errorf("limit %+v; want MainThread's own work, its 300 ms timeout included", l)
	}
}

// TestTimeoutsInALoop: scripts/whatif/wait_print.py on CPython 3.11, 2
// CPU-bound tasks awaited with concurrent.futures.wait(fs, timeout=0.1)
// in a loop that prints its progress between the waits (2-4 ms of a
// write beside the CPU-bound threads): no chain (a notified wait after
// timeouts and nothing else), but timeouts in a loop
// (tracer.LoopedTimeouts), each lasting until the worker that held the
// GIL as it ran out could get there. Processes measured 1.76x as fast;
// taken as fixed timeouts, the report said 1.1x, "one thread's work",
// processes would not help (QA).
func TestTimeoutsInALoop(t *testing.T) {
	known, unknown, s := notifiedCase(t, "wait-print.giltrace")
	looped := 0
	for _, ks := range s.LoopedTimeouts() {
		looped += len(ks)
	}
	if looped < 5 {
		t.Errorf("%d timeouts in a loop, want 5 or more of its 9", looped)
	}
	if x := sooner(known); x < 1.45 || verdictOf(known, GILBound) == nil {
		t.Errorf("as processes %.2fx as fast (%s), verdicts %s; want 1.45x or more, gil-bound", x, known.Speedup.Limit.Text, known.VerdictCodes())
	}
	if x := sooner(unknown); x > 1.25 {
		t.Errorf("without lock_wait_ends: as processes %.2fx as fast; want the timeouts as recorded, 1.25x at most", x)
	}
}
