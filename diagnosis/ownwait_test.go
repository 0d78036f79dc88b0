package diagnosis

import (
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// ownWaitsOf analyses testdata/name, a CPython 3.11 recording whose
// threads waited on their own pipes (I/O "own-io"), as recorded, and with
// that kind renamed "network" (an older recorder's trace).
func ownWaitsOf(t *testing.T, name string) (known, unknown *Report, tr *tracer.Trace) {
	t.Helper()
	tr, err := tracer.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	k := slices.Index(tr.Strings, tracer.OwnIOKind)
	if k <= 0 {
		t.Fatalf("%s: no I/O %q in the trace", name, tracer.OwnIOKind)
	}
	known = Analyze(tracer.Derive(tr))
	old := *tr
	old.Strings = slices.Clone(tr.Strings)
	old.Strings[k] = "network"
	unknown = Analyze(tracer.Derive(&old))
	return known, unknown, tr
}

// TestOwnIOWaits: testdata/pool-map.giltrace (scripts/whatif/pool_map.py:
// a multiprocessing.pool.ThreadPool of 2 mapping 4 CPU-bound tasks). The
// worker handler's wait on its own pipe, the pool's change notifier (I/O
// "own-io") lasts, in the flow, until the thread that wrote to it (the
// result handler, emptying the pool's cache) could get there, and is no
// work: the run is gil-bound, about 1.6x as fast as processes (measured
// 1.43-1.65x: median walls of 5-7 runs each, processes' start-up
// included), and the
// warning that the program waits on itself is not given, the waits the
// readings caught being taken as waits. Counted as work, the handler's
// 0.5 s of I/O was "one thread's work", 1.0x as processes.
func TestOwnIOWaits(t *testing.T) {
	known, unknown, _ := ownWaitsOf(t, "pool-map.giltrace")
	if x := sooner(known); x < 1.4 || verdictOf(known, GILBound) == nil {
		t.Errorf("as processes %.2fx as fast, verdicts %s; want 1.4x or more, gil-bound", x, known.VerdictCodes())
	}
	if o := known.OwnIO; o == nil || o.CaughtNS <= 0 || o.High || o.Text() != "" {
		t.Errorf("own I/O %+v: want its waits caught, and no warning", o)
	}
	if x := sooner(unknown); x > 1.1 {
		t.Errorf("with the waits as I/O: as processes %.2fx as fast; want 1.1x at most, as before the fix (this trace is no test of it otherwise)", x)
	}
	if o := unknown.OwnIO; o == nil || !o.High || !strings.Contains(o.Text(), "count all I/O as work") {
		t.Errorf("with the waits as I/O: own I/O %+v, %q: want the warning", o, o.Text())
	}
}

// TestOwnIOEventLoop: scripts/whatif/aio_executor.py on CPython 3.11, 4
// CPU-bound tasks run from asyncio with run_in_executor: the event loop's
// epoll waits on its self-pipe, a socket pair of its own, until a worker's
// result wakes it (I/O "own-io"). They are waits for the workers: the run
// is gil-bound, processes estimated 1.5x or more as fast (measured 1.46x,
// start-up included); counted as work, the loop's waits made it 1.0-1.25x
// ("one thread's work: MainThread" in most recordings).
func TestOwnIOEventLoop(t *testing.T) {
	r, u, _ := ownWaitsOf(t, "aio-executor.giltrace")
	if x := sooner(r); x < 1.5 || verdictOf(r, GILBound) == nil {
		t.Errorf("as processes %.2fx as fast, verdicts %s; want 1.5x or more, gil-bound", x, r.VerdictCodes())
	}
	if x := sooner(u); x > 1.3 {
		t.Errorf("with the waits as I/O: as processes %.2fx as fast; want 1.3x at most (this trace is no test of the fix otherwise)", x)
	}
}

// TestOwnWaitsText: testdata/own-relay.giltrace (scripts/nativewait/
// own_relay.py on CPython 3.11: three threads pass a token round a ring of
// os.pipe()s, each computing about 2 ms before passing it on). No verdict
// fires and no one thread's work fills half the wall: the report says the
// threads wait for each other on their own pipes (own_waits), a third of
// their time, and that processes would not help. With the waits as I/O
// (an older recorder's trace) it says nothing of the kind.
func TestOwnWaitsText(t *testing.T) {
	known, unknown, _ := ownWaitsOf(t, "own-relay.giltrace")
	ow := known.OwnWaits
	if len(known.Verdicts) > 0 || known.NoVerdict != nil || ow == nil {
		t.Fatalf("verdicts %s, no verdict %+v, own waits %+v: want only own waits", known.VerdictCodes(), known.NoVerdict, ow)
	}
	if ow.Threads != 3 || ow.Share < OwnWaitShare || !strings.Contains(ow.Text, "waited on the program's own pipes") || !strings.Contains(ow.Advice, "will not") {
		t.Errorf("own waits %+v: want the 3 relays, %.0f %% or more of the threads' time, and advice that processes will not help", ow, 100*OwnWaitShare)
	}
	if unknown.OwnWaits != nil {
		t.Errorf("with the waits as I/O: own waits %+v, want none", unknown.OwnWaits)
	}
}
