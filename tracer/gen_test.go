package tracer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// genTrace simulates a run and returns a valid trace of about n events:
// procs processes of threads threads each, contending for their GIL the way
// the VM does (waits, drop requests and forced handoffs, I/O and native
// calls that release the GIL, guest locks, nested calls), with realistic
// times: calls microseconds apart, holds of milliseconds.
func genTrace(seed uint64, procs, threads, n int) *Trace {
	t := &Trace{
		Meta: Meta{
			Workload: "gen", WorkloadFile: "gen.yaml", WorkloadSource: "threads: 4\n", GILMode: "cpython",
			SwitchInterval: 5 * time.Millisecond, Cores: 2, GOMAXPROCS: 2, LoopsPerMS: 12345.5,
			Start: time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC), Version: "test",
			Extra: map[string]string{"seed": fmt.Sprint(seed), "host": "ci"},
		},
		Strings: []string{"", "network", "disk", "db", "sleep"},
		Stacks:  []Stack{{}},
	}
	for f := range 8 {
		t.Frames = append(t.Frames, Frame{Func: fmt.Sprintf("f%d", f), File: "gen.yaml", Line: 10 + f})
	}
	g := &gen{t: t, r: rand.New(rand.NewPCG(seed, 7)), stacks: map[Stack]StackID{}}
	for p := range procs {
		pid := ProcID(p)
		gil := LockID(len(t.Locks))
		t.Procs = append(t.Procs, Process{Name: fmt.Sprintf("proc%d", p), PID: 100 + p, GIL: gil})
		t.Locks = append(t.Locks, Lock{Name: "GIL", Proc: pid, GIL: true}, Lock{Name: fmt.Sprintf("lock%d", p), Proc: pid})
		var ths []*simThread
		for k := range threads {
			ths = append(ths, &simThread{id: ThreadID(len(t.Threads))})
			t.Threads = append(t.Threads, Thread{Name: fmt.Sprintf("p%d-t%d", p, k), Proc: pid})
		}
		g.process(ths, gil, gil+1, n/procs)
	}
	slices.SortStableFunc(t.Events, func(a, b Event) int {
		if Less(&a, &b) {
			return -1
		}
		if Less(&b, &a) {
			return 1
		}
		return 0
	})
	return t
}

type gen struct {
	t      *Trace
	r      *rand.Rand
	stacks map[Stack]StackID
	clock  int64
}

type simThread struct {
	id      ThreadID
	stack   StackID
	blocked bool // in I/O or a releasing native call
	io      bool
	until   int64
	ended   bool
}

func (g *gen) emit(d int64, th *simThread, k Kind, arg uint64) {
	g.clock += 1 + d
	g.t.Events = append(g.t.Events, Event{Time: g.clock, Thread: th.id, Stack: th.stack, Kind: k, Arg: arg})
}

func (g *gen) us(lo, hi int64) int64 { return (lo + g.r.Int64N(hi-lo+1)) * 1000 }

// process simulates one process's threads until about n events.
func (g *gen) process(ths []*simThread, gil, guest LockID, n int) {
	g.clock = g.us(0, 100)
	start := len(g.t.Events)
	var holder *simThread
	var waiting []*simThread
	for _, th := range ths {
		g.emit(g.us(5, 50), th, KindThreadStart, 0)
		if holder == nil {
			g.emit(1000, th, KindLockAcquire, LockArg(gil, uint8(AcquireUncontended)))
			holder = th
		} else {
			g.emit(1000, th, KindLockWait, LockArg(gil, 0))
			waiting = append(waiting, th)
		}
	}
	unblock := func(th *simThread) {
		if th.io {
			g.emit(0, th, KindIOEnd, 0)
		} else {
			g.emit(0, th, KindNativeEnd, 0)
		}
		th.blocked = false
		if holder == nil && len(waiting) == 0 {
			g.emit(500, th, KindLockAcquire, LockArg(gil, uint8(AcquireUncontended)))
			holder = th
			return
		}
		g.emit(500, th, KindLockWait, LockArg(gil, 0))
		waiting = append(waiting, th)
	}
	winding := false
	for {
		if !winding && len(g.t.Events)-start >= n {
			winding = true
		}
		for _, th := range ths {
			if th.blocked && (th.until <= g.clock || winding && holder == nil && len(waiting) == 0) {
				g.clock = max(g.clock, th.until)
				unblock(th)
			}
		}
		if holder == nil {
			if len(waiting) == 0 {
				next := int64(-1)
				for _, th := range ths {
					if th.blocked && (next < 0 || th.until < next) {
						next = th.until
					}
				}
				if next < 0 {
					return // every thread ended
				}
				g.clock = max(g.clock, next)
				continue
			}
			k := g.r.IntN(len(waiting))
			holder = waiting[k]
			waiting = slices.Delete(waiting, k, k+1)
			g.emit(g.us(5, 200), holder, KindLockAcquire, LockArg(gil, uint8(AcquireAfterWait)))
			continue
		}
		if winding {
			g.finish(holder, gil)
			holder = nil
			continue
		}
		holder, waiting = g.step(holder, waiting, gil, guest)
	}
}

// step makes the holder h do one thing, and returns the new holder (nil
// if it let the GIL go) and waiters.
func (g *gen) step(h *simThread, waiting []*simThread, gil, guest LockID) (*simThread, []*simThread) {
	t := g.t
	switch x := g.r.IntN(100); {
	case x < 60:
		if h.stack == NoStack || g.depth(h.stack) < 5 && g.r.IntN(2) == 0 {
			h.stack = g.intern(Stack{Parent: h.stack, Frame: FrameID(g.r.IntN(len(t.Frames)))})
			g.emit(g.us(1, 40), h, KindCallEnter, 0)
		} else {
			g.emit(g.us(1, 40), h, KindCallExit, 0)
			h.stack = t.Stacks[h.stack].Parent
		}
	case x < 72:
		g.emit(g.us(1, 20), h, KindIOBegin, uint64(1+g.r.IntN(len(t.Strings)-1)))
		g.emit(300, h, KindLockRelease, LockArg(gil, uint8(ReleaseIO)))
		h.blocked, h.io, h.until = true, true, g.clock+g.us(200, 5000)
		return nil, waiting
	case x < 76:
		g.emit(g.us(1, 20), h, KindNativeBegin, NativeArg(true))
		g.emit(300, h, KindLockRelease, LockArg(gil, uint8(ReleaseNative)))
		h.blocked, h.io, h.until = true, false, g.clock+g.us(500, 3000)
		return nil, waiting
	case x < 79:
		g.emit(g.us(1, 20), h, KindNativeBegin, NativeArg(false))
		g.emit(g.us(100, 1000), h, KindNativeEnd, 0)
	case x < 84:
		g.emit(g.us(1, 20), h, KindLockAcquire, LockArg(guest, uint8(AcquireUncontended)))
		g.emit(g.us(1, 50), h, KindLockRelease, LockArg(guest, uint8(ReleaseUnlock)))
	default:
		if len(waiting) == 0 {
			g.emit(g.us(1, 40), h, KindNativeBegin, NativeArg(false))
			g.emit(g.us(1, 40), h, KindNativeEnd, 0)
			break
		}
		k := g.r.IntN(len(waiting))
		w := waiting[k]
		g.emit(g.us(4000, 5000), w, KindDropRequest, DropArg(gil, h.id))
		g.emit(g.us(1, 100), h, KindLockRelease, LockArg(gil, uint8(ReleaseDropRequest)))
		g.emit(1000, h, KindLockWait, LockArg(gil, 0))
		g.emit(g.us(5, 50), w, KindLockAcquire, LockArg(gil, uint8(AcquireForced)))
		waiting[k] = h
		return w, waiting
	}
	return h, waiting
}

// finish returns from every call of h, releases the GIL and ends h.
func (g *gen) finish(h *simThread, gil LockID) {
	for h.stack != NoStack {
		g.emit(g.us(1, 10), h, KindCallExit, 0)
		h.stack = g.t.Stacks[h.stack].Parent
	}
	g.emit(g.us(1, 10), h, KindLockRelease, LockArg(gil, uint8(ReleaseThreadEnd)))
	g.emit(1000, h, KindThreadEnd, 0)
	h.ended = true
}

func (g *gen) depth(s StackID) int {
	d := 0
	for ; s != NoStack; s = g.t.Stacks[s].Parent {
		d++
	}
	return d
}

func (g *gen) intern(s Stack) StackID {
	if id, ok := g.stacks[s]; ok {
		return id
	}
	id := StackID(len(g.t.Stacks))
	g.t.Stacks = append(g.t.Stacks, s)
	g.stacks[s] = id
	return id
}
