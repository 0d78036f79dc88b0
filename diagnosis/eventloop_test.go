package diagnosis_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
)

// eventLoopTrace is a one-thread real program whose stacks from 10ms on
// run under file's _run_once: 30ms of compute, 60ms of waiting in the
// selector (I/O), after 10ms of start-up in the program's module.
func eventLoopTrace(t *testing.T, file string) *tracer.Trace {
	t.Helper()
	return parseEventLoop(t, file, 0)
}

// parseEventLoop is eventLoopTrace after startup ns of the interpreter's
// start-up (a frame of <frozen importlib._bootstrap>); with startup < 0,
// without its I/O.
func parseEventLoop(t *testing.T, file string, startup int64) *tracer.Trace {
	t.Helper()
	text := `giltrace-text 1
meta workload "aio"
meta gil-mode "cpython"
meta switch-interval 5000000
meta cores 2
meta extra "source" "cpython"
string 0 ""
string 1 "network"
process 0 "aio" pid=100 gil=0
lock 0 "GIL" proc=0 gil
thread 0 "MainThread" proc=0
frame 0 "<module>" "/tmp/aio.py" 20
frame 1 "BaseEventLoop._run_once" "` + file + `" 1900
frame 2 "fetch" "/tmp/aio.py" 5
frame 3 "_find_and_load" "<frozen importlib._bootstrap>" 1
stack 1 parent=0 frame=0
stack 2 parent=1 frame=1
stack 3 parent=2 frame=2
stack 4 parent=0 frame=3
0 0 thread-start
1 0 lock-acquire GIL uncontended
2 0 call-enter @4
3 0 call-exit @4
4 0 call-enter @1
10000000 0 call-enter @2
10000001 0 call-enter @3
40000000 0 call-exit @3
40000001 0 io-begin network @2
40000002 0 lock-release GIL io
100000000 0 io-end
100000001 0 lock-acquire GIL uncontended
100000002 0 lock-release GIL thread-end
100000003 0 thread-end
`
	if startup > 0 {
		text = shiftAfter(text, "2 0 call-enter @4", startup)
	}
	if startup < 0 { // no I/O: the loop computes throughout
		text = strings.NewReplacer("40000001 0 io-begin network @2\n", "", "40000002 0 lock-release GIL io\n", "",
			"100000000 0 io-end\n", "", "100000001 0 lock-acquire GIL uncontended\n", "",
			"100000002 0 lock-release GIL thread-end\n", "100000002 0 lock-release GIL thread-end @2\n").Replace(text)
	}
	tr, err := tracer.ParseText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// shiftAfter moves every event line after the line mark later by d ns.
func shiftAfter(text, mark string, d int64) string {
	lines := strings.Split(text, "\n")
	after := false
	for i, l := range lines {
		if after {
			if f := strings.Fields(l); len(f) > 1 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					lines[i] = strconv.FormatInt(n+d, 10) + l[len(f[0]):]
				}
			}
		}
		if l == mark {
			after = true
		}
	}
	return strings.Join(lines, "\n")
}

// TestEventLoopSingleThread: a one-thread program running asyncio's event
// loop is told its coroutines overlap inside the loop, with the loop's
// I/O and compute, not that there was nothing to overlap or that it
// should use threads or asyncio (QA: 80 concurrent requests); a thread
// whose frames are not asyncio's gets the usual verdict.
func TestEventLoopSingleThread(t *testing.T) {
	r := diagnosis.Analyze(tracer.Derive(eventLoopTrace(t, "/usr/lib/python3.11/asyncio/base_events.py")))
	if len(r.Verdicts) != 1 || r.Verdicts[0].Code != diagnosis.SingleThreaded {
		t.Fatalf("verdicts %+v, want single-threaded", r.Verdicts)
	}
	v := r.Verdicts[0]
	for _, want := range []string{"an asyncio event loop (90 % of the work ran under it", "of the loop's time, 67 % was I/O", "and 33 % compute"} {
		if !strings.Contains(v.Text, want) {
			t.Errorf("text lacks %q: %s", want, v.Text)
		}
	}
	if !strings.Contains(v.Advice, "more concurrent coroutines overlap in it") || strings.Contains(v.Advice, "I/O into threads or asyncio") {
		t.Errorf("advice: %s", v.Advice)
	}
	// A short script on a loaded machine: 100ms of start-up before its
	// 90ms loop (QA in CI: the loop was 43 % of the run, and the report
	// said it was start-up only).
	r = diagnosis.Analyze(tracer.Derive(parseEventLoop(t, "/usr/lib/python3.11/asyncio/base_events.py", 100_000_000)))
	if v := r.Verdicts[0]; !strings.Contains(v.Text, "an asyncio event loop (45 % of the work ran under it") || !strings.Contains(v.Advice, "Most of this run (55 %) was outside the loop") {
		t.Errorf("after a long start-up: %+v", v)
	}
	// Coroutines that compute, with nothing to wait for (QA: "0 % was I/O,
	// the loop waiting for whichever coroutine is ready first").
	r = diagnosis.Analyze(tracer.Derive(parseEventLoop(t, "/usr/lib/python3.11/asyncio/base_events.py", -1)))
	if v := r.Verdicts[0]; !strings.Contains(v.Text, "had little to wait for: of the loop's time, 100 % was compute and 0 % I/O") || !strings.Contains(v.Advice, "more coroutines will not help") {
		t.Errorf("computing coroutines: %+v", v)
	}
	r = diagnosis.Analyze(tracer.Derive(eventLoopTrace(t, "/tmp/loop.py")))
	if v := r.Verdicts[0]; strings.Contains(v.Text, "asyncio") || !strings.Contains(v.Text, "nothing to overlap") {
		t.Errorf("not asyncio: %+v", v)
	}
}

// TestEventLoopPartialStacks: work between the loop's first and last
// frames runs under the loop, whatever its stack: the probes read a stack
// in the loop's calls only in part at times (QA: an asyncio server's loop
// ran 1.05 s of a 1.17 s wall, and 27 % of the time had no frame of
// asyncio's base_events.py left, "30 % of the work ran under it"). Here
// 30 ms of the loop's I/O has only the selector's frame: 90 % of the work
// ran under the loop, not 60 %.
func TestEventLoopPartialStacks(t *testing.T) {
	text := `giltrace-text 1
meta workload "aio"
meta gil-mode "cpython"
meta switch-interval 5000000
meta cores 2
meta extra "source" "cpython"
string 0 ""
string 1 "network"
process 0 "aio" pid=100 gil=0
lock 0 "GIL" proc=0 gil
thread 0 "MainThread" proc=0
frame 0 "<module>" "/tmp/aio.py" 20
frame 1 "BaseEventLoop._run_once" "/usr/lib/python3.11/asyncio/base_events.py" 1900
frame 2 "fetch" "/tmp/aio.py" 5
frame 3 "EpollSelector.select" "/usr/lib/python3.11/selectors.py" 468
stack 1 parent=0 frame=0
stack 2 parent=1 frame=1
stack 3 parent=2 frame=2
stack 4 parent=0 frame=3
0 0 thread-start
1 0 lock-acquire GIL uncontended
2 0 call-enter @1
10000000 0 call-enter @2
10000001 0 call-enter @3
39999997 0 call-exit @3
39999998 0 call-exit @2
39999999 0 call-exit @1
40000000 0 call-enter @4
40000001 0 io-begin network @4
40000002 0 lock-release GIL io @4
70000000 0 io-end @4
70000001 0 lock-acquire GIL uncontended @4
70000002 0 call-exit @4
70000003 0 call-enter @1
70000004 0 call-enter @2
70000005 0 call-enter @3
100000000 0 lock-release GIL thread-end @3
100000001 0 thread-end @3
`
	tr, err := tracer.ParseText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	r := diagnosis.Analyze(tracer.Derive(tr))
	if len(r.Verdicts) != 1 || !strings.Contains(r.Verdicts[0].Text, "an asyncio event loop (90 % of the work ran under it") {
		t.Errorf("verdicts %+v, want the loop's 90 %%", r.Verdicts)
	}
}

// TestEventLoopTwoRuns: work between two runs of the loop, with its
// stacks read whole and none of the loop's frames, is not the loop's
// (review: asyncio.run(a); 100 ms of synchronous work; asyncio.run(b)
// would have counted the 100 ms under the loop). Here the loop runs 30 ms
// twice around 100 ms of crunch(): 35 % of the work, not an event loop's
// run.
func TestEventLoopTwoRuns(t *testing.T) {
	text := `giltrace-text 1
meta workload "aio"
meta gil-mode "cpython"
meta switch-interval 5000000
meta cores 2
meta extra "source" "cpython"
string 0 ""
process 0 "aio" pid=100 gil=0
lock 0 "GIL" proc=0 gil
thread 0 "MainThread" proc=0
frame 0 "<module>" "/tmp/aio.py" 20
frame 1 "BaseEventLoop._run_once" "/usr/lib/python3.11/asyncio/base_events.py" 1900
frame 2 "fetch" "/tmp/aio.py" 5
frame 3 "crunch" "/tmp/aio.py" 9
stack 1 parent=0 frame=0
stack 2 parent=1 frame=1
stack 3 parent=2 frame=2
stack 4 parent=1 frame=3
0 0 thread-start
1 0 lock-acquire GIL uncontended
2 0 call-enter @1
10000000 0 call-enter @2
10000001 0 call-enter @3
40000000 0 call-exit @3
40000001 0 call-exit @2
40000002 0 call-enter @4
140000000 0 call-exit @4
140000001 0 call-enter @2
140000002 0 call-enter @3
170000000 0 lock-release GIL thread-end @3
170000001 0 thread-end @3
`
	tr, err := tracer.ParseText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	r := diagnosis.Analyze(tracer.Derive(tr))
	if len(r.Verdicts) != 1 || strings.Contains(r.Verdicts[0].Text, "an asyncio event loop") {
		t.Errorf("verdicts %+v, want a single-threaded run's, not an event loop's", r.Verdicts)
	}
}
