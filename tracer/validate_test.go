package tracer_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// fixture is a small world for invariant tests: process p with its GIL, a
// guest lock and threads a and c; process q with its GIL and thread d.
type fixture struct {
	b       *testkit.Builder
	p, q    tracer.ProcID
	gil     tracer.LockID
	qgil    tracer.LockID
	lock    tracer.LockID
	qlock   tracer.LockID
	a, c, d *testkit.Thread
	f, g    tracer.FrameID
}

func newFixture() *fixture {
	x := &fixture{b: testkit.New("invariants")}
	x.p = x.b.Process("p", 1)
	x.gil = 0
	x.lock = x.b.Lock(x.p, "lock")
	x.q = x.b.Process("q", 2)
	x.qgil = 2
	x.qlock = x.b.Lock(x.q, "qlock")
	x.a = x.b.Thread(x.p, "a")
	x.c = x.b.Thread(x.p, "c")
	x.d = x.b.Thread(x.q, "d")
	x.f = x.b.Func("f", 1)
	x.g = x.b.Func("g", 2)
	return x
}

// run starts th at time at and gives it the GIL of p.
func (x *fixture) run(th *testkit.Thread, at int64) *testkit.Thread {
	return th.Start(at).Acquire(at+1, x.gil, tracer.AcquireUncontended)
}

// end releases the GIL of p held by th and ends it.
func (x *fixture) end(th *testkit.Thread, at int64) {
	th.Release(at, x.gil, tracer.ReleaseThreadEnd).End(at + 1)
}

const (
	uncont = tracer.AcquireUncontended
	after  = tracer.AcquireAfterWait
	forced = tracer.AcquireForced
)

func TestCheckValidAccepts(t *testing.T) {
	tests := []struct {
		name  string
		build func(x *fixture)
		mut   func(tr *tracer.Trace)
	}{
		{"empty", func(x *fixture) {}, nil},
		{"one thread", func(x *fixture) { x.run(x.a, 0).Call(5, x.f).Return(6); x.end(x.a, 10) }, nil},
		{"truncated: no thread-end", func(x *fixture) { x.run(x.a, 0) }, func(tr *tracer.Trace) { tr.Truncated = true }},
		{"dropped: no thread-end", func(x *fixture) { x.run(x.a, 0) }, func(tr *tracer.Trace) { tr.Dropped = 3 }},
		{"ends while waiting", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(1).Wait(2, x.gil).End(5)
			x.end(x.a, 10)
		}, nil},
		{"handoff after wait", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(1).Wait(2, x.gil)
			x.a.IOBegin(3, "disk").Release(4, x.gil, tracer.ReleaseIO)
			x.c.Acquire(5, x.gil, after)
			x.a.IOEnd(6).Wait(7, x.gil)
			x.a.DropRequest(8, x.gil, x.c.ID())
			x.c.Release(9, x.gil, tracer.ReleaseDropRequest).Wait(10, x.gil)
			x.a.Acquire(11, x.gil, forced)
		}, func(tr *tracer.Trace) { tr.Truncated = true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture()
			tc.build(x)
			tr := x.b.Trace()
			if tc.mut != nil {
				tc.mut(tr)
			}
			if err := tr.CheckValid(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCheckValidRejects has a trace breaking each invariant of CheckValid.
func TestCheckValidRejects(t *testing.T) {
	r := func(how tracer.Release) tracer.Release { return how }
	tests := []struct {
		name  string
		build func(x *fixture)
		mut   func(tr *tracer.Trace)
		want  string
	}{
		// Tables.
		{"string 0 not empty", nil, func(tr *tracer.Trace) { tr.Strings[0] = "x" }, `string 0 must be ""`},
		{"no strings", nil, func(tr *tracer.Trace) { tr.Strings = nil }, `string 0 must be ""`},
		{"stack 0 not the root", nil, func(tr *tracer.Trace) { tr.Stacks[0].Frame = 1 }, "stack 0 must be the root"},
		{"stack cycle", func(x *fixture) { x.run(x.a, 0).Call(2, x.f) },
			func(tr *tracer.Trace) { tr.Stacks[1].Parent = 1 }, "stack 1: parent 1 does not precede it"},
		{"stack frame dangling", func(x *fixture) { x.run(x.a, 0).Call(2, x.f) },
			func(tr *tracer.Trace) { tr.Stacks[1].Frame = 9 }, "stack 1: frame 9 not in the table"},
		{"pid below 1", nil, func(tr *tracer.Trace) { tr.Procs[1].PID = 0 }, "pid 0, expected >= 1"},
		{"process GIL dangling", nil, func(tr *tracer.Trace) { tr.Procs[0].GIL = 7 }, "GIL 7 not in the table of 4 locks"},
		{"process GIL is a guest lock", nil, func(tr *tracer.Trace) { tr.Procs[0].GIL = 1 }, "is not a GIL of this process"},
		{"process GIL of another process", nil, func(tr *tracer.Trace) { tr.Procs[0].GIL = 2 }, "is not a GIL of this process"},
		{"thread process dangling", nil, func(tr *tracer.Trace) { tr.Threads[2].Proc = 5 }, `thread 2 ("d"): process 5 not in the table`},
		{"lock process dangling", nil, func(tr *tracer.Trace) { tr.Locks[1].Proc = 5 }, `lock 1 ("lock"): process 5 not in the table`},
		{"second GIL", nil, func(tr *tracer.Trace) { tr.Locks[1].GIL = true }, "is a GIL but not its process's GIL"},

		// Events: references, order, time.
		{"invalid kind", func(x *fixture) { x.run(x.a, 0) }, func(tr *tracer.Trace) { tr.Events[1].Kind = 0 }, "invalid kind"},
		{"kind out of range", func(x *fixture) { x.run(x.a, 0) }, func(tr *tracer.Trace) { tr.Events[1].Kind = 99 }, "invalid kind"},
		{"thread dangling", func(x *fixture) { x.run(x.a, 0) }, func(tr *tracer.Trace) { tr.Events[1].Thread = 9 }, "thread 9 not in the table of 3 threads"},
		{"stack dangling", func(x *fixture) { x.run(x.a, 0) }, func(tr *tracer.Trace) { tr.Events[1].Stack = 9 }, "stack 9 not in the table"},
		{"negative time", func(x *fixture) { x.run(x.a, 0) }, func(tr *tracer.Trace) { tr.Events[0].Time = -5 }, "negative time"},
		{"out of order", func(x *fixture) { x.run(x.a, 0); x.c.Start(5) },
			func(tr *tracer.Trace) { tr.Events[1], tr.Events[2] = tr.Events[2], tr.Events[1] }, "out of order"},
		{"release sorts before other kinds at equal times", func(x *fixture) {
			x.run(x.a, 0).Release(10, x.gil, tracer.ReleaseThreadEnd)
			x.c.Start(10)
		}, func(tr *tracer.Trace) { tr.Events[2], tr.Events[3] = tr.Events[3], tr.Events[2] }, "out of order"},
		{"thread time not increasing", func(x *fixture) { x.run(x.a, 0) },
			func(tr *tracer.Trace) { tr.Events[1].Time = 0 }, "time not after the thread's previous event at 0ns"},
		{"first event not thread-start", func(x *fixture) { x.a.Acquire(0, x.gil, uncont) }, nil, "first event, expected thread-start"},
		{"second thread-start", func(x *fixture) { x.run(x.a, 0).Start(5) }, nil, "a second thread-start"},
		{"event after thread-end", func(x *fixture) { x.run(x.a, 0); x.end(x.a, 5); x.a.Acquire(9, x.gil, uncont) }, nil, "after the thread's thread-end"},
		{"no thread-end", func(x *fixture) { x.run(x.a, 0); x.c.Start(1).End(2) }, nil, `thread "a" has no thread-end`},

		// Locks.
		{"lock dangling", func(x *fixture) { x.a.Start(0).Acquire(1, 9, uncont) }, nil, "lock 9 not in the table of 4 locks"},
		{"GIL of another process", func(x *fixture) { x.a.Start(0).Acquire(1, x.qgil, uncont) }, nil, "belongs to process 1, the thread to process 0"},
		{"guest lock of another process", func(x *fixture) { x.run(x.a, 0).Acquire(2, x.qlock, uncont) }, nil, "belongs to process 1"},
		{"wait while waiting", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(1).Wait(2, x.gil).Wait(3, x.lock)
		}, nil, `already waiting for lock "GIL"`},
		{"wait for a held lock", func(x *fixture) { x.run(x.a, 0).Wait(2, x.gil) }, nil, "that it holds"},
		{"guest wait without the GIL", func(x *fixture) {
			x.run(x.a, 0).Acquire(2, x.lock, uncont)
			x.c.Start(3).Wait(4, x.lock)
		}, nil, "does not hold its GIL"},
		{"two holders", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(1).Acquire(2, x.gil, uncont)
		}, nil, `lock "GIL" is held by thread "a" since 1ns, expected it free`},
		{"uncontended while waiting", func(x *fixture) {
			x.run(x.a, 0).Release(2, x.gil, tracer.ReleaseLegacyTick).Wait(3, x.gil).Acquire(4, x.gil, uncont)
		}, nil, "uncontended acquire while waiting"},
		{"after-wait without a wait", func(x *fixture) { x.a.Start(0).Acquire(1, x.gil, after) }, nil, "expected a lock-wait for it first"},
		{"forced without a wait", func(x *fixture) { x.a.Start(0).Acquire(1, x.gil, forced) }, nil, "expected a lock-wait for it first"},
		{"forced guest lock", func(x *fixture) { x.run(x.a, 0).Wait(2, x.lock).Acquire(3, x.lock, forced) }, nil, "which is not a GIL"},
		{"guest acquire without the GIL", func(x *fixture) { x.a.Start(0).Acquire(1, x.lock, uncont) }, nil, "does not hold its GIL"},
		{"bad acquire code", func(x *fixture) { x.a.Start(0).Acquire(1, x.gil, 7) }, nil, "is not a lock and an Acquire"},
		{"release of a free lock", func(x *fixture) { x.a.Start(0).Release(1, x.gil, r(tracer.ReleaseThreadEnd)) }, nil, `lock "GIL" is not held`},
		{"release by another thread", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(1).Release(2, x.gil, tracer.ReleaseThreadEnd)
		}, nil, `held by thread "a", expected only its holder to release it`},
		{"bad release code", func(x *fixture) { x.run(x.a, 0).Release(2, x.gil, 42) }, nil, "is not a lock and a Release"},
		{"guest lock released for I/O", func(x *fixture) {
			x.run(x.a, 0).Acquire(2, x.lock, uncont).IOBegin(3, "db").Release(4, x.lock, tracer.ReleaseIO)
		}, nil, "guest lock \"lock\" released for io"},
		{"GIL released by unlock", func(x *fixture) { x.run(x.a, 0).Release(2, x.gil, tracer.ReleaseUnlock) }, nil, "released by unlock"},
		{"release for I/O outside I/O", func(x *fixture) { x.run(x.a, 0).Release(2, x.gil, tracer.ReleaseIO) }, nil, "outside io-begin/io-end"},
		{"release for native outside native", func(x *fixture) {
			x.run(x.a, 0).NativeBegin(2, false).Release(3, x.gil, tracer.ReleaseNative)
		}, nil, "outside a GIL-releasing native-begin"},
		{"release for lock wait without a wait", func(x *fixture) { x.run(x.a, 0).Release(2, x.gil, tracer.ReleaseLockWait) }, nil, "expected a lock-wait for a guest lock first"},
		{"unlock without the GIL", func(x *fixture) {
			x.run(x.a, 0).Acquire(2, x.lock, uncont).Release(3, x.gil, tracer.ReleaseLegacyTick).Release(4, x.lock, tracer.ReleaseUnlock)
		}, nil, "does not hold its GIL"},
		{"thread-end holding a lock", func(x *fixture) { x.run(x.a, 0).Acquire(2, x.lock, uncont); x.end(x.a, 5) }, nil, `still holds lock "lock"`},
		{"wait argument bits", func(x *fixture) { x.run(x.a, 0) },
			func(tr *tracer.Trace) {
				tr.Events = append(tr.Events, tracer.Event{Time: 50, Thread: 1, Kind: tracer.KindThreadStart},
					tracer.Event{Time: 51, Thread: 1, Kind: tracer.KindLockWait, Arg: tracer.LockArg(0, 3)})
			}, "has bits beyond the lock"},

		// Drop requests.
		{"drop request for a guest lock", func(x *fixture) {
			x.run(x.a, 0).Acquire(2, x.lock, uncont)
			x.c.Start(3).DropRequest(4, x.lock, x.a.ID())
		}, nil, "which is not a GIL"},
		{"drop request peer dangling", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(1).Wait(2, x.gil).DropRequest(3, x.gil, 9)
		}, nil, "peer thread 9 not in the table"},
		{"drop request peer not the holder", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(1).Wait(2, x.gil).DropRequest(3, x.gil, x.c.ID())
		}, nil, `asks thread "c" to drop "GIL", but it is held by thread "a"`},
		{"drop request without a wait", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(1).DropRequest(3, x.gil, x.a.ID())
		}, nil, "the requester is not waiting"},

		// Line events: running, holding the GIL, argument 0.
		{"line inside I/O", func(x *fixture) { x.run(x.a, 0).IOBegin(2, "db") },
			func(tr *tracer.Trace) {
				tr.Events = append(tr.Events, tracer.Event{Time: 50, Kind: tracer.KindLine})
			}, "line inside I/O or a native call"},
		{"line without the GIL", func(x *fixture) { x.run(x.a, 0); x.c.Start(3) },
			func(tr *tracer.Trace) {
				tr.Events = append(tr.Events, tracer.Event{Time: 50, Thread: 1, Kind: tracer.KindLine})
			}, "does not hold its GIL"},
		{"line while waiting", func(x *fixture) {
			x.run(x.a, 0)
			x.c.Start(3).Wait(4, x.gil)
		},
			func(tr *tracer.Trace) {
				tr.Events = append(tr.Events, tracer.Event{Time: 50, Thread: 1, Kind: tracer.KindLine})
			}, "line while waiting for lock"},
		{"line argument", func(x *fixture) { x.run(x.a, 0) },
			func(tr *tracer.Trace) {
				tr.Events = append(tr.Events, tracer.Event{Time: 50, Kind: tracer.KindLine, Arg: 1})
			}, "argument 1, expected 0"},

		// I/O and native calls.
		{"nested I/O", func(x *fixture) { x.run(x.a, 0).IOBegin(2, "db").IOBegin(3, "db") }, nil, "expected no nesting"},
		{"I/O kind dangling", func(x *fixture) { x.run(x.a, 0) },
			func(tr *tracer.Trace) {
				tr.Events = append(tr.Events, tracer.Event{Time: 50, Kind: tracer.KindIOBegin, Arg: 77})
			}, "I/O kind 77 not in the table"},
		{"I/O without the GIL", func(x *fixture) { x.a.Start(0).IOBegin(1, "db") }, nil, "does not hold its GIL"},
		{"io-end without io-begin", func(x *fixture) { x.run(x.a, 0).IOEnd(2) }, nil, "io-end without io-begin"},
		{"io-end holding the GIL", func(x *fixture) { x.run(x.a, 0).IOBegin(2, "db").IOEnd(3) }, nil, "expected it released for the I/O"},
		{"native inside I/O", func(x *fixture) { x.run(x.a, 0).IOBegin(2, "db").NativeBegin(3, true) }, nil, "expected no nesting"},
		{"nested native", func(x *fixture) { x.run(x.a, 0).NativeBegin(2, false).NativeBegin(3, false) }, nil, "expected no nesting"},
		{"native argument", func(x *fixture) { x.run(x.a, 0) },
			func(tr *tracer.Trace) {
				tr.Events = append(tr.Events, tracer.Event{Time: 50, Kind: tracer.KindNativeBegin, Arg: 2})
			}, "argument 2, expected 0 or 1"},
		{"native without the GIL", func(x *fixture) { x.a.Start(0).NativeBegin(1, false) }, nil, "does not hold its GIL"},
		{"native-end without native-begin", func(x *fixture) { x.run(x.a, 0).NativeEnd(2) }, nil, "native-end without native-begin"},
		{"releasing native ends holding the GIL", func(x *fixture) { x.run(x.a, 0).NativeBegin(2, true).NativeEnd(3) }, nil, "expected it released"},
		{"holding native ends without the GIL", func(x *fixture) {
			x.run(x.a, 0).NativeBegin(2, false).Release(3, x.gil, tracer.ReleaseLegacyTick).NativeEnd(4)
		}, nil, "expected it kept"},

		// Calls and stacks.
		{"call without the GIL", func(x *fixture) { x.a.Start(0).Call(1, x.f) }, nil, "does not hold its GIL"},
		{"call enter not a child", func(x *fixture) { x.run(x.a, 0).Call(2, x.f).Call(3, x.g) },
			func(tr *tracer.Trace) { tr.Events[3].Stack = tr.Events[2].Stack }, "is not a call from the thread's current stack"},
		{"call exit of another stack", func(x *fixture) { x.run(x.a, 0).Call(2, x.f).Call(3, x.g).Return(4) },
			func(tr *tracer.Trace) { tr.Events[4].Stack = tr.Events[2].Stack }, "expected the thread's current call's stack"},
		{"call exit at the root", func(x *fixture) { x.run(x.a, 0).Call(2, x.f).Return(3) },
			func(tr *tracer.Trace) { tr.Events[3].Kind = tracer.KindCallExit; tr.Events[3].Stack = 0 }, "stack 0, expected the thread's current call's stack"},
		{"call exit without the GIL", func(x *fixture) {
			x.run(x.a, 0).Call(2, x.f).Release(3, x.gil, tracer.ReleaseLegacyTick).Return(4)
		}, nil, "does not hold its GIL"},
		{"stale stack", func(x *fixture) { x.run(x.a, 0).Call(2, x.f).Release(3, x.gil, tracer.ReleaseThreadEnd) },
			func(tr *tracer.Trace) { tr.Events[3].Stack = 0 }, "expected the thread's current stack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture()
			if tc.build != nil {
				tc.build(x)
			}
			tr := x.b.Trace()
			if tc.mut != nil {
				tc.mut(tr)
			}
			err := tr.CheckValid()
			var ve *tracer.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("CheckValid() = %v, want a *ValidationError containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckValid() = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestStackDepthLimit: a stack deeper than MaxStackDepth frames is refused
// as the trace is read, naming the stack; one at the limit is not.
func TestStackDepthLimit(t *testing.T) {
	for _, depth := range []int{tracer.MaxStackDepth, tracer.MaxStackDepth + 1} {
		tr := testkit.Mixed()
		parent := tracer.StackID(0)
		for range depth {
			tr.Stacks = append(tr.Stacks, tracer.Stack{Parent: parent, Frame: 0})
			parent = tracer.StackID(len(tr.Stacks) - 1)
		}
		err := tr.CheckValid()
		if depth <= tracer.MaxStackDepth && err != nil {
			t.Errorf("a stack of %d frames: %v", depth, err)
		}
		if depth > tracer.MaxStackDepth && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("stack %d: deeper than 1024 frames", len(tr.Stacks)-1))) {
			t.Errorf("a stack of %d frames: %v", depth, err)
		}
	}
}
