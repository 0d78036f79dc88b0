package diagnosis

import (
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// ownWaitCase reads testdata/pool-map.giltrace (scripts/whatif/pool_map.py
// on CPython 3.11: a multiprocessing.pool.ThreadPool of 2 mapping 4
// CPU-bound tasks), whose worker handler polled the pool's change
// notifier, a pipe of its own process, until the pool closed: I/O
// "own-io". It returns the report as recorded, and with that kind renamed
// "network" (an older recorder's trace).
func ownWaitCase(t *testing.T) (known, unknown *Report, tr *tracer.Trace) {
	t.Helper()
	tr, err := tracer.ReadFile("testdata/pool-map.giltrace")
	if err != nil {
		t.Fatal(err)
	}
	k := slices.Index(tr.Strings, tracer.OwnIOKind)
	if k <= 0 {
		t.Fatalf("no I/O %q in the trace", tracer.OwnIOKind)
	}
	known = Analyze(tracer.Derive(tr))
	old := *tr
	old.Strings = slices.Clone(tr.Strings)
	old.Strings[k] = "network"
	unknown = Analyze(tracer.Derive(&old))
	return known, unknown, tr
}

// TestOwnIOWaits: the worker handler's wait on its own pipe (I/O
// "own-io") lasts, in the flow, until the thread that wrote to it (the
// main thread closing the pool) could get there, and is no work: the run
// is gil-bound, about 1.6x as fast as processes (measured 1.65x: median
// walls of 5 runs each, 0.66 s as threads, 0.40 s as processes), and the
// warning that the program waits on itself is not given, the waits the
// readings caught being taken as waits. Counted as work, the handler's
// 0.5 s of I/O was "one thread's work", 1.0x as processes.
func TestOwnIOWaits(t *testing.T) {
	known, unknown, _ := ownWaitCase(t)
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
// is gil-bound, processes estimated 1.5x or more as fast; counted as work,
// the loop's waits were "one thread's work" (MainThread), about 1.0x.
func TestOwnIOEventLoop(t *testing.T) {
	tr, err := tracer.ReadFile("testdata/aio-executor.giltrace")
	if err != nil {
		t.Fatal(err)
	}
	k := slices.Index(tr.Strings, tracer.OwnIOKind)
	if k <= 0 {
		t.Fatalf("no I/O %q in the trace", tracer.OwnIOKind)
	}
	r := Analyze(tracer.Derive(tr))
	if x := sooner(r); x < 1.5 || verdictOf(r, GILBound) == nil {
		t.Errorf("as processes %.2fx as fast, verdicts %s; want 1.5x or more, gil-bound", x, r.VerdictCodes())
	}
	old := *tr
	old.Strings = slices.Clone(tr.Strings)
	old.Strings[k] = "network"
	u := Analyze(tracer.Derive(&old))
	if x := sooner(u); x > 1.2 || u.NoVerdict == nil || u.NoVerdict.Thread != "MainThread" {
		t.Errorf("with the waits as I/O: as processes %.2fx as fast, no verdict %+v; want 1.2x at most, MainThread's work (this trace is no test of the fix otherwise)", x, u.NoVerdict)
	}
}
