package vm

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// errStopped unwinds a thread when the run is stopped.
var errStopped = errors.New("vm: run stopped")

// thread is a guest thread: a goroutine running the interpreter, owning
// its tracer buffer.
type thread struct {
	// The fields a switch reads and writes come first, in a few cache
	// lines: with 64 contended threads the one that takes the GIL was
	// last touched 63 switches before, its fields out of the L1 cache.
	id       tracer.ThreadID
	holdsGIL bool
	daemon   bool // stopped at its process's exit (process.exit)
	stack    tracer.StackID
	proc     *process
	gil      gil
	buf      *tracer.Buffer
	vt       *vthread // the thread in the virtual clock's scheduler; nil in real time
	// instrs counts the instructions the thread has executed, as CPython
	// would have (a superinstruction counts those it covers).
	instrs int64
	// widx is the thread's index in its lock's waiters while it waits
	// (lock.removeWaiter checks it).
	widx int
	// parkSeq numbers the thread's current wait on a lock (lock.parks).
	parkSeq       uint64
	nextTick      int64 // instrs at which the next legacy tick is due, or math.MaxInt64
	checkInterval int64 // legacy mode's check interval; 0 in other modes
	frames        []frame
	locals        []int64
	clock         Clock
	stacks        stackCache // (parent, frame) -> stack (stackOf)

	name string
	// noticeWaits: the run's waits until notified, for their deadlock;
	// nil in a run without them.
	noticeWaits *noticeWaits
	home        int // the workload's process the thread belongs to (1-based): proc's, unless Options.OneProcess
	// beginKind, beginArg: the IOBegin or NativeBegin that the GIL's
	// release emits, right before its own event (releaseFor).
	beginKind tracer.Kind
	beginArg  uint64
	rec       *tracer.Recorder
	ctx       context.Context // its process's: done at the run's stop, or at the process's exit
	runCtx    context.Context // the run's
	prog      *program
	rng       *rand.Rand // I/O jitter (jitter): nil until the first
	seed      int64      // the workload's seed: rng's, with the thread's ID
	wake      *Waker
	// nativeNS and ioNS are the time the thread spent in its native calls
	// and its I/O (jitter included; less than asked when the run stopped
	// it: did): with instrs, the work it did, which a virtual run records
	// (runner.virtualMeta) for the diagnosis to tell from the time it
	// waited for a simulated core.
	nativeNS, ioNS int64
	held           []*lock // guest locks held, in acquire order

	nativeParent tracer.StackID // the stack under a named native call's frame

	top        *code
	startAfter time.Duration
	stopped    *atomic.Bool // set when the thread is cut short

	joinLock *joinLock  // held for the thread's life if another thread joins it (join.go)
	parkedOn *lock      // the lock whose park it is in, if any (a virtual deadlock's message)
	gate     *startGate // the thread waits, not started, until a start opens it (start.go)
}

// emit records an event at the clock's current time.
func (th *thread) emit(k tracer.Kind, arg uint64) int64 {
	return th.buf.Emit(th.clock.Now(), k, th.stack, arg)
}

// sync, in virtual time, waits until the thread is the earliest before it
// touches shared state (locks, the GIL); in real time it does nothing.
func (th *thread) sync() {
	if th.vt != nil {
		th.vt.c.sync(th.vt)
	}
}

// breakAt is the instruction count at which the interpreter calls
// atBreaker even with a clear eval breaker: the next legacy tick, or at
// every check in virtual time (the clock's quanta and fast-forward).
func (th *thread) breakAt() int64 {
	if th.vt != nil {
		return 0
	}
	return th.nextTick
}

// signal wakes the thread from Park; a pending wake is not doubled.
func (th *thread) signal() {
	if th.vt != nil {
		th.vt.c.signal(th.vt)
		return
	}
	th.wake.Signal()
}

// drainWake forgets a stale wake before the thread parks again.
func (th *thread) drainWake() {
	if th.vt != nil {
		th.vt.pending = false
		return
	}
	th.wake.Drain()
}

func (th *thread) took(l *lock) {
	if l == th.proc.gilLock {
		th.holdsGIL = true
		return
	}
	th.held = append(th.held, l)
}

func (th *thread) released(l *lock) {
	if l == th.proc.gilLock {
		th.holdsGIL = false
		return
	}
	for i := len(th.held) - 1; i >= 0; i-- {
		if th.held[i] == l {
			th.held = append(th.held[:i], th.held[i+1:]...)
			return
		}
	}
}

// run is the thread's life: start, take the GIL, run the top level, end.
func (th *thread) run() {
	defer th.noticeWaits.ended()
	shut := th.gate != nil && !th.gate.wait(th) // stopped before a start opened its gate
	if shut || th.startAfter > 0 && !th.clock.Sleep(th.ctx, th.wake, th.startAfter) {
		if shut {
			th.noticeWaits.started() // no longer a thread waiting for a start
		}
		if !th.exitStopped() {
			th.stopped.Store(true)
		}
		if th.joinLock != nil {
			th.joinLock.end()
		}
		th.emit(tracer.KindThreadStart, 0)
		th.emit(tracer.KindThreadEnd, 0)
		return
	}
	th.emit(tracer.KindThreadStart, 0)
	th.frames = append(th.frames, frame{code: th.top})
	err := errStopped
	if !th.exitStopped() { // a daemon given a core only at its process's exit ends there
		err = th.gil.acquire(th)
	}
	if err == nil && th.joinLock != nil {
		th.holdJoinLock()
	}
	if err == nil {
		err = th.eval()
	}
	th.sync()
	why := tracer.ReleaseThreadEnd
	if err != nil && !th.exitStopped() {
		why = tracer.ReleaseInterrupt
		th.stopped.Store(true)
	}
	th.unwind(why)
	if !th.daemon && th.proc.live.Add(-1) == 0 {
		th.proc.exit(th)
	}
}

// exitStopped reports whether the thread was stopped by its process's
// exit (a daemon), not by the run's stop: it ends, not interrupted.
func (th *thread) exitStopped() bool {
	if !th.daemon || !th.proc.exited.Load() {
		return false
	}
	if v := th.vt; v != nil {
		return !v.c.stopping
	}
	return th.runCtx.Err() == nil
}

// exit is the process's exit, when th, its last thread that is not a
// daemon, has ended: its daemon threads stop where they are and end.
func (p *process) exit(th *thread) {
	p.exited.Store(true)
	if v := th.vt; v != nil {
		v.c.exit(p, v.now())
		return
	}
	p.cancel(errProcessExit)
}

// errProcessExit is the cause of a process's context at its exit.
var errProcessExit = errors.New("vm: the process exited")

// unwind ends the thread: it releases every lock it holds and records its
// end. A thread stopped mid-run ends where it was (inside I/O, a native
// call, a wait or calls), as the event protocol allows.
func (th *thread) unwind(why tracer.Release) {
	if th.joinLock != nil {
		th.joinLock.end()
	}
	released := len(th.held) > 0 || th.holdsGIL
	for len(th.held) > 0 {
		th.held[len(th.held)-1].release(th, why)
	}
	if th.holdsGIL {
		th.gil.release(th, why)
	}
	if released {
		// The thread ends as it lets its locks and the GIL go, nothing of
		// it runs after: the end is recorded right after the last release
		// (one nanosecond later), not when the operating system next
		// gives it a core, which a thread the release woke (the next
		// holder, a joiner) may have taken meanwhile.
		th.buf.Emit(0, tracer.KindThreadEnd, th.stack, 0)
		return
	}
	th.emit(tracer.KindThreadEnd, 0)
}

// releaseFor emits k (IOBegin, or NativeBegin of a call that releases
// the GIL) and releases the GIL for it. In real time k is emitted by the
// release itself (lock.releaseLocked), under the GIL's mutex, right
// before the release's event: emitted before the release began, the
// time the thread then spent waiting for that mutex, or preempted, was
// shown as I/O while the GIL's track had it holding the GIL (QA: 1.85 ms
// in api-service, blamed on state=io). In virtual time nothing runs in
// between: it is emitted first, as before (the same traces).
func (th *thread) releaseFor(k tracer.Kind, arg uint64, why tracer.Release) error {
	if th.vt != nil {
		th.emit(k, arg)
		return th.gil.release(th, why)
	}
	th.beginKind, th.beginArg = k, arg
	err := th.gil.release(th, why)
	th.emitBegin(0) // no GIL to release (free-threaded)
	return err
}

// emitBegin emits the event releaseFor left for the release, if any, at
// t or later (0: now).
func (th *thread) emitBegin(t int64) {
	if th.beginKind != 0 {
		k := th.beginKind
		th.beginKind = 0
		th.buf.Emit(max(t, th.clock.Now()), k, th.stack, th.beginArg)
	}
}

// jitter is a draw of I/O jitter in [-j, j] from the thread's generator,
// seeded with the workload's seed and the thread's ID, made at the first
// draw: most threads draw none, and two allocations a thread were a
// tenth of a short run's (BenchmarkVirtualFixedCost).
func (th *thread) jitter(j time.Duration) time.Duration {
	if th.rng == nil {
		th.rng = rand.New(rand.NewPCG(uint64(th.seed), uint64(th.id)))
	}
	return time.Duration(th.rng.Int64N(2*int64(j)+1)) - j
}

// io is blocking I/O: the GIL is released around it and re-acquired after.
func (th *thread) io(op *ioOp) error {
	if err := th.releaseFor(tracer.KindIOBegin, uint64(op.kind), tracer.ReleaseIO); err != nil {
		return err
	}
	d := op.d
	if op.jitter > 0 {
		d += th.jitter(op.jitter)
	}
	t0 := th.clock.Now()
	var err error
	switch {
	case op.notice > 0:
		// Ended by a notify if one comes first (a pipe another thread or
		// process writes).
		err = th.awaitNotice(th.prog.notices[op.notice-1], max(d, 1))
	case !th.clock.Sleep(th.ctx, th.wake, max(d, 0)):
		err = errStopped
	}
	th.ioNS += th.did(int64(max(d, 0)), t0)
	if err != nil {
		return err
	}
	th.emit(tracer.KindIOEnd, 0)
	th.resume() // the re-acquire and what runs after belong to the next operation's line
	return th.gil.acquire(th)
}

// did is the part of an I/O or a native call of duration d begun at t0
// that the thread did: d, or less if the run stopped it first (a daemon at
// its process's exit, a deadlock, a cancelled run), whose time then stops
// short (review: a daemon's 100 s sleep, stopped at 400 ms, was counted
// whole). The time since t0 also holds waits for a core: never more than d.
func (th *thread) did(d, t0 int64) int64 {
	return max(min(d, th.clock.Now()-t0), 0)
}

// native is a call into C: CPU burnt for its duration, outside the GIL if
// it releases it, else holding it without any eval breaker check.
func (th *thread) native(op *nativeOp) error {
	if op.named {
		th.nativeParent = th.stack
		th.stack = th.stackOf(th.stack, op.frame)
		th.emit(tracer.KindCallEnter, 0)
	}
	if op.releases {
		if err := th.releaseFor(tracer.KindNativeBegin, tracer.NativeArg(true), tracer.ReleaseNative); err != nil {
			return err
		}
	} else {
		th.emit(tracer.KindNativeBegin, tracer.NativeArg(false))
	}
	t0 := th.clock.Now()
	ok := th.clock.Burn(th.ctx, op.d)
	th.nativeNS += th.did(int64(max(op.d, 0)), t0)
	if !ok {
		return errStopped
	}
	th.emit(tracer.KindNativeEnd, 0)
	if op.releases {
		// Py_END_ALLOW_THREADS: the wait is inside the native function.
		if err := th.gil.acquire(th); err != nil {
			return err
		}
	}
	if op.named {
		th.exitNative()
	}
	return nil
}

func (th *thread) exitNative() {
	th.emit(tracer.KindCallExit, 0)
	th.stack = th.nativeParent
}

// lockAcquire acquires a guest lock like threading.Lock.acquire: at once
// if it is free; else the thread releases the GIL while it blocks, then
// takes the GIL back.
func (th *thread) lockAcquire(l *lock) error {
	if l.tryAcquire(th) {
		return nil
	}
	if err := th.gil.release(th, tracer.ReleaseLockWait); err != nil {
		return err
	}
	if err := l.acquire(th, true); err != nil {
		return err
	}
	th.resume() // the re-acquire and what runs after belong to the next operation's line
	return th.gil.acquire(th)
}
