package vm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// Virtual time: a discrete-event simulation of the same model.
//
// Every guest thread still runs the same interpreter, GIL and guest locks
// on a goroutine of its own, a coroutine (iter.Pull) here; the virtual
// clock lets exactly one of them run at a time (it holds the token) and
// computes time instead of reading it:
//
//  1. Each thread has a local virtual time: the time of its last resume
//     plus its instructions since then at a fixed rate (Now).
//  2. Threads that wait for something (the end of a sleep, a timed park, a
//     wake-up, the end of a compute quantum) are entries of a queue ordered
//     by (time, thread ID): simultaneous events are taken in thread order.
//     When the running thread blocks, the earliest entry's thread gets the
//     token; if that is the running thread itself, it continues without a
//     handoff.
//  3. A thread touches shared state (the GIL, guest locks, the cores) only
//     while it is the earliest thread (sync). Between those points it may
//     run ahead of other threads on work that no one else can see or
//     change: compute up to its horizon, the earliest queued time of a
//     thread of its own process (a drop request, a new waiter), the end of
//     its time slice, and, if a thread of its process waits for a core,
//     the earliest time a thread on a core could give one up (its safe
//     time: not before the end of the countdown it is in, nor its slice,
//     nor an event of its own process). Running ahead changes nothing:
//     TestVirtualRunAheadIsExact compares with strictOrder.
//  4. N simulated cores: compute and native calls need a core; sleeping,
//     I/O and parked threads use none. With more runnable threads than
//     cores, threads wait for a core, served by the least core time (the
//     earliest deadline), and a running thread gives up its core at the
//     end of a time slice (TimeSlice) if another waits: time slicing
//     decided by core time. A thread back from a wait takes a core from a
//     running thread whose deadline is later than its own (preemptCore:
//     wake-up preemption, virtual_cores.go).
//
// Nothing depends on goroutine scheduling or the wall clock, so a run is
// a function of the workload, the options and the seed.

// Model parameters of virtual time (docs/vm.md, "Virtual time").
const (
	// VirtualLoopsPerMS is the default compute rate of virtual time: one
	// interpreter instruction costs 4 ns, a countdown iteration (9
	// instructions) 36 ns, about what CPython 3.11-3.12 take for
	// `while n > 0: n -= 1` on a 3 GHz x86-64 core (28 M iterations/s).
	VirtualLoopsPerMS = 1e9 / (instrsPerLoop * defaultInstrPS)
	// DefaultWakeLatency is the virtual time between a release that wakes
	// a parked waiter and the waiter running: a futex wake-up and context
	// switch on Linux, 5-20 us; CPython 3.11's handoff between two
	// CPU-bound threads measured 11-64 us on this project's machine
	// (docs/vm.md, "Virtual time", and docs/fidelity.md).
	DefaultWakeLatency = 10 * time.Microsecond
	// DefaultTimerLatency is how much later than its switch interval a
	// GIL waiter's timed wait ends in virtual time: Linux ends a timed
	// futex wait up to the thread's timer slack (50 us by default) late,
	// and the waiter then needs a CPU. Measured on this project's machine
	// (Linux 6.18, scripts/wake-lateness.sh): CPython 3.11's
	// time.sleep(1 ms) ends 0.10-0.12 ms late (median), alone or beside
	// CPU-bound processes, and its GIL holding
	// periods between two CPU-bound threads last 0.12-0.14 ms more than
	// the switch interval at 5, 1 and 0.2 ms (docs/fidelity.md).
	DefaultTimerLatency = 100 * time.Microsecond
	// TimeSlice is the simulated OS scheduler's time slice when threads
	// wait for a core: Linux EEVDF's base slice, 0.75 ms x (1 + log2 8
	// cores) = 3 ms.
	TimeSlice = 3 * time.Millisecond
)

const (
	instrsPerLoop  = lenTestGT + lenDecJumpBack // the countdown's instructions per iteration
	defaultInstrPS = 4000                       // picoseconds per instruction at VirtualLoopsPerMS
	never          = math.MaxInt64
	unknownHorizon = -1 // recomputed when needed: most resumes never compute
	// Bounds of a virtual compute rate, so that instruction counts times
	// picoseconds stay inside int64.
	minVirtualLoopsPerMS = 1_000
	maxVirtualLoopsPerMS = 1_000_000_000
)

// errDeadlock ends a virtual run in which every thread waits for another.
var errDeadlock = errors.New("every thread is waiting for a lock that no running thread will release (deadlock)")

// vclock is the Clock of a virtual run and its scheduler.
type vclock struct {
	psPerInstr int64 // compute cost of one instruction, in picoseconds
	latency    int64 // wake-up latency, ns
	timer      int64 // timer latency of the GIL's timed waits, ns
	slice      int64 // time slice, ns
	cores      int
	free       int // cores free
	// onCores are the threads on a core (at most the cores), and
	// coreFloor the least core time of the runnable threads (on a core,
	// in the run queue, without their core) when last looked at
	// (setFloor): a woken or new thread's core time starts at most a
	// slice behind it (acquireCore), as a fair scheduler's min_vruntime.
	onCores   []*vthread
	coreFloor int64
	limited   bool // cores < threads: cores can run out
	// cancelled is set when the run's context is done (newVClock): an
	// atomic load at every pop, where a select on the context's channel
	// was 5 % of a simulation (a 100 us switch interval's).
	cancelled  atomic.Bool
	stopCancel func() bool

	cur      *vthread
	next     *vthread // the thread the loop resumes after the running one suspends
	q        vqueue
	runq     []*vthread // threads waiting for a core, in arrival order (served by deadline: earliest)
	lostq    []*vthread // threads a woken thread took the core of, in that order
	threads  []*vthread
	live     int
	procs    []*process
	stopping bool
	err      error // why the run stopped early (deadlock)
	stopAt   int64 // the time of the stop: its parked threads end there (wakeParked)
	resumes  int64 // coroutine resumes (tests: how often threads took turns)
	turns    int64 // turns in place (virtual_turns.go)
	// rec is the run's recorder (nil in tests): the run stops once every
	// thread is past its CutAt (pop); cut records that it did.
	rec *tracer.Recorder
	cut bool
}

// stopAtCut (tests) turns off the stop at the recorder's cut.
var stopAtCut = true

// vthread is a thread's state in the scheduler.
type vthread struct {
	// The fields a switch reads and writes come first (as thread's).
	th    *thread
	id    tracer.ThreadID // th.id, read without loading th (the waiters' pass: rearm)
	index int32           // in vclock.threads
	c     *vclock
	t     int64 // local time at baseI
	baseI int64 // th.instrs at t
	at    int64 // queued time, or never
	qi    int   // index in the queue, or -1
	qwhy  Wake  // why the queued entry wakes it
	qwake bool  // the queued entry is a wake-up: it sets why
	why   Wake  // why the last wake-up entry woke it
	// dormant: its coroutine is parked in lock.awaitSwitch, reached from
	// a drop at an eval breaker check; the scheduler may run its turns in
	// place (virtual_turns.go).
	dormant bool
	ahead   bool // dormant, it holds the GIL, queued at a check in place (virtual_turns.go)
	// keepHorizon: its turn in place handed it back to its coroutine at
	// the end of its countdown, its horizon known (yield keeps it).
	keepHorizon bool
	parked      bool
	pending     bool // a signal arrived while not parked (the wake channel's buffered value)
	armed       bool
	inRunq      bool
	lost        bool
	horizon     int64  // run-ahead bound while computing
	safe        int64  // queued: the earliest time it could give a core up (safeTime)
	safeSeq     uint64 // its process's cap number when safe was set (vproc)
	vp          *vproc // its process's scheduler state, one a process: two compare as their processes do, without loading th
	// wait is the lock whose acquire the thread is parked in, saved the
	// lock's switch number when that wait began (lock.acquire); the
	// scheduler re-arms a wait that ends with nothing to do (rewait).
	wait  *lock
	saved uint64
	// fire is the next expiry of its timed wait on a lazy lock
	// (virtual_timers.go) not yet passed, armed whether it has one.
	fire    int64
	phase   int64  // chain mod the timed wait (its place in the lock's ring; lock.next)
	chain   int64  // when the wait began
	chainSw uint64 // the lock's switch number then
	// switching is the GIL the thread dropped on a drop request while
	// it waits for the switch (lock.awaitSwitch); it then waits for the
	// GIL (cpythonGIL.drop).
	switching *lock

	resume   func() (struct{}, bool) // the loop resumes the thread's coroutine
	suspend  func(struct{}) bool     // the thread suspends it, back to the loop
	ended    bool
	onCore   bool
	sliceEnd int64
	// coreNS is the time it had a core before coreAt, when it last got
	// one (virtual_cores.go: who gives a core up at a slice's end).
	coreNS, coreAt int64
	deadline       int64 // the core time at which its slice ends (preemptCore)
	// lost (above): a woken thread took its core (preemptCore) at lostAt
	// while it computed; it goes on computing, the core's absence owed as
	// debt (virtual_cores.go, settle).
	lostAt    int64
	debt      int64      // time off its core since its last settle, not yet in its time
	preempted bool       // in the run queue for the end of its slice (not back from a wait)
	peers     []*vthread // threads of the same process, itself included
}

func newVClock(ctx context.Context, cores int, lpm float64, latency time.Duration) *vclock {
	c := &vclock{
		psPerInstr: int64(math.Round(1e9 / (instrsPerLoop * lpm))),
		latency:    int64(latency), slice: int64(TimeSlice),
		cores: cores, free: cores,
	}
	c.cancelled.Store(ctx.Err() != nil) // AfterFunc's call would come later, from a goroutine
	c.stopCancel = context.AfterFunc(ctx, func() { c.cancelled.Store(true) })
	return c
}

// add registers the run's processes and threads, every thread queued to
// start at time 0 in order.
func (c *vclock) add(procs []*process, threads []*thread) {
	c.procs = procs
	c.limited = c.cores < len(threads)
	// Sized once, not grown: with 64 threads the growth of these slices
	// and of the GIL's waiter lists was a fifth of a short run's
	// allocations (BenchmarkVirtualFixedCost). The schedulers are one
	// array, next to each other in memory.
	vs := make([]vthread, len(threads))
	c.threads = make([]*vthread, 0, len(threads))
	c.q.e = make([]qentry, 0, len(threads))
	byProc := make(map[*process][]*vthread, len(procs))
	for _, p := range procs {
		byProc[p] = make([]*vthread, 0, len(p.threads))
	}
	for i, th := range threads {
		v := &vs[i]
		*v = vthread{th: th, id: th.id, c: c, at: never, qi: -1, horizon: never, index: int32(i)}
		th.vt = v
		c.threads = append(c.threads, v)
		byProc[th.proc] = append(byProc[th.proc], v)
	}
	c.q.vs = c.threads
	for _, p := range procs {
		if l := p.gilLock; l != nil && l.interval > 0 && l.breaker != nil && !c.limited && !eagerTimers {
			l.lazy = true
			l.waiters = make([]*thread, 0, len(p.threads))
			l.vwaiters = make([]*vthread, 0, len(p.threads))
		}
	}
	vps := map[*process]*vproc{}
	for _, v := range c.threads {
		v.peers = byProc[v.th.proc]
		if vps[v.th.proc] == nil {
			vps[v.th.proc] = &vproc{}
		}
		v.vp = vps[v.th.proc]
	}
	for _, v := range c.threads {
		c.push(v, 0, WakeSignal)
	}
	c.live = len(threads)
}

// now is the thread's local virtual time.
func (v *vthread) now() int64 { return v.t + (v.th.instrs-v.baseI)*v.c.psPerInstr/1000 }

// setTime moves the thread's local time to t (after sleeping or burning).
func (v *vthread) setTime(t int64) { v.t, v.baseI = t, v.th.instrs }

// Now is the running thread's local time.
func (c *vclock) Now() int64 { return c.cur.now() }

// run runs the simulation: each thread is a coroutine (iter.Pull) that the
// loop resumes when it gets the token, and that suspends itself when it
// passes the token on (yield) or ends. A coroutine switch bypasses Go's
// scheduler: a handoff costs a fraction of a channel's. Called once, by
// Record, after add; it returns when every thread has ended.
func (c *vclock) run() {
	stops := make([]func(), 0, len(c.threads))
	for _, v := range c.threads {
		resume, stop := iter.Pull(func(yield func(struct{}) bool) {
			_ = growStack()
			v.suspend = yield
			v.begin()
			v.th.run()
			v.end()
		})
		v.resume = resume
		stops = append(stops, stop)
	}
	for w := c.pop(); w != nil; w = c.next {
		c.next = nil
		c.resumes++
		if c.resumes%yieldEvery == 0 {
			runtime.Gosched()
		}
		w.resume()
	}
	for _, stop := range stops {
		stop()
	}
	c.stopCancel()
	if vclockDone != nil {
		vclockDone(c)
	}
}

// yieldEvery is how many resumes the scheduler's loop makes between two
// visits to Go's scheduler. Coroutine switches bypass it, so that with one
// processor (GOMAXPROCS=1: a one-CPU container, a pinned benchmark) the
// garbage collector's mark worker waited for a preemption, every 10 ms,
// and its write barrier stayed on: half of the time with the trace's
// garbage collected every 9 ms, 13 % of a 2-thread countdown's CPU in the
// barrier's buffer flushes (docs/performance.md).
const yieldEvery = 256

// growStack makes its goroutine's stack grow from Go's smallest, 2 KiB,
// to 4 KiB, when called at the goroutine's start, a few frames deep: a
// frame larger than the rest of the stack makes the runtime copy it to
// one twice its size. A coroutine's first switch through a waiter's park
// or a drop request (the interpreter, the eval breaker, the scheduler,
// the lock's ring) goes deeper than 2 KiB leaves (1 120 bytes, above
// the runtime's guard), and the stack was grown there instead: a copy of
// a dozen frames, each looked up in the binary's tables, 1.5 us a
// coroutine, 8 % of a run of 64 contended threads. Here the copy is of
// three frames, 0.3-0.5 us; a thread that never goes that deep pays it
// for nothing (docs/performance.md, "Twentieth pass").
//
//go:noinline
func growStack() byte {
	var pad [1200]byte // above 2 KiB less the guard and the frames below; under 4 KiB less those
	i := stackPadAt & 1023
	pad[i] = 1
	return pad[(i+1)&1023] // a result, not a store: concurrent runs write nothing shared
}

// stackPadAt keeps growStack's frame from being optimised away.
var stackPadAt = 1

// vclockDone (tests) is told each virtual run's scheduler once it ends.
var vclockDone func(*vclock)

// begin takes a core for the thread at its first turn (a thread that
// starts later takes one when its start_after sleep or its start ends).
func (v *vthread) begin() {
	if v.th.startAfter <= 0 && v.th.gate == nil {
		v.c.acquireCore(v)
	}
	v.horizon = unknownHorizon
}

// end releases the thread's core and passes the token on for good.
func (v *vthread) end() {
	c := v.c
	c.unlose(v)
	c.releaseCore(v)
	v.ended = true
	c.live--
	c.next = c.pop()
}

// yield gives the token to the earliest queued thread and returns when v
// has it back. v must be queued, waiting for a core, or parked (then pop
// finds a thread to run: v itself at worst, woken to stop).
func (c *vclock) yield(v *vthread) {
	w := c.pop()
	if w != v {
		c.next = w
		v.suspend(struct{}{})
	}
	if v.keepHorizon {
		// Its turns ran in place up to here, its horizon computed as
		// its coroutine would have kept it (computeInPlace).
		v.keepHorizon = false
		return
	}
	v.horizon = unknownHorizon
}

// pop removes the earliest entry, makes its thread the running one and
// returns it; nil when no thread remains. An empty queue with threads left
// is a deadlock, or the run was stopped: every parked thread is then woken
// to stop.
//
// Not inlined: the profile-guided build inlined it in yield and in end,
// two copies of the scheduler's loop, both run with many threads (an
// ended thread's coroutine runs the others' turns in place), and with 64
// threads the code of a switch outgrew the instruction cache
// (cachegrind: a fifth of the misses went; docs/performance.md,
// "Twentieth pass").
//
//go:noinline
func (c *vclock) pop() *vthread {
	for {
		c.stopIfCancelled()
		if !c.stopping && c.rec != nil && c.q.len() > 0 && stopAtCut {
			// The recorder dropped an event at its bound: the trace ends
			// at the earliest one, and once every thread is past it
			// (the earliest queued entry; parked and core-waiting threads
			// wait for a queued one) nothing the trace keeps can happen.
			// QA: a run of 16.8 M events kept simulated 113 M more it
			// dropped, 70 % of its 16 s of CPU.
			if cut := c.rec.CutAt(); cut >= 0 && c.q.firstAt() > cut {
				c.cut = true
				c.stop(nil)
			}
		}
		if c.q.len() > 0 {
			v := c.q.first()
			if v.parked && v.qwake && v.qwhy != WakeStop && !c.stopping && (!c.limited || c.free > 0) {
				if l := v.wait; l != nil && l.lazy && v.armed && v.qwhy == WakeTimeout && l.locked {
					c.expire(v, l)
					continue
				}
				if v.wait != nil && v.wait.locked {
					c.rewait(v)
					c.dispatch(v.t)
					continue
				}
				if l := v.switching; l != nil && v.qwhy == WakeSignal && l.locked && l.last != v.th {
					c.switched(v)
					c.dispatch(v.t)
					continue
				}
			}
			c.q.popMin()
			if v.at != v.now() {
				// Not back at its own time (queued at a check): the
				// nanoseconds' fraction it had is kept, so that a compute
				// costs the same however often it stops (a rate whose
				// instruction is not whole nanoseconds lost up to 1 ns at
				// each, 50 us in 5 ms of turns taken with another
				// process's thread).
				v.setTime(v.at)
			}
			v.at = never
			if v.qwake {
				v.why = v.qwhy
			}
			c.cur = v
			if v.dormant && c.turn(v) {
				if c.turns++; c.turns%yieldEvery == 0 {
					runtime.Gosched() // as the loop's resumes do (run)
				}
				continue
			}
			return v
		}
		if c.live == 0 || c.stopping && !c.wakeParked() {
			return nil
		}
		if !c.stopping {
			c.stop(c.deadlock())
			c.wakeParked()
		}
	}
}

// stopIfCancelled stops the run if its context is done (cancelled, set by
// the context's callback from another goroutine): at a pop, and at a
// thread's eval breaker check (vthread.check), so that a thread computing
// alone, whose horizon is far, stops at once.
func (c *vclock) stopIfCancelled() {
	if !c.stopping && c.cancelled.Load() {
		c.stop(nil)
	}
}

// deadlock is errDeadlock with who waits for whom: each thread still
// running and the holder of the lock it waits for (QA: the message named
// no thread).
func (c *vclock) deadlock() error {
	var parts []string
	notified := false // a thread waits for a notify: said in the headline
	for _, v := range c.threads {
		if v.ended {
			continue
		}
		l := v.wait
		if l == nil {
			l = v.th.parkedOn
		}
		switch {
		case l != nil && l.holder != nil && l.holder.joinLock != nil && l.holder.joinLock.l == l:
			parts = append(parts, fmt.Sprintf("%s joins %s", v.th.name, l.holder.name))
		case l != nil && l.holder != nil:
			parts = append(parts, fmt.Sprintf("%s waits for a lock %s holds", v.th.name, l.holder.name))
		case l != nil || v.parked:
			if n := v.th.noticeWaits.of(v.th); n != nil {
				// QA: "consumer-1 waits" beside a headline of locks, for
				// a wait until a notify that no thread was left to give.
				parts = append(parts, fmt.Sprintf("%s waits for a notify on %q", v.th.name, n.name))
				notified = true
				break
			}
			parts = append(parts, v.th.name+" waits")
		}
		if len(parts) == 8 {
			parts = append(parts, "...")
			break
		}
	}
	if len(parts) == 0 {
		return errDeadlock
	}
	if notified {
		return deadlockError("every thread is waiting for a notify or a lock that no running thread will give (deadlock): " + strings.Join(parts, "; "))
	}
	return fmt.Errorf("%w: %s", errDeadlock, strings.Join(parts, "; "))
}

// deadlockError is a deadlock whose threads wait for notifies too, not
// only locks: errDeadlock, said so.
type deadlockError string

func (e deadlockError) Error() string        { return string(e) }
func (e deadlockError) Is(target error) bool { return target == errDeadlock }

// rewait does, without resuming it, what a thread woken in lock.acquire's
// wait (a timeout or a signal) does when the lock is still held: Park
// returns (it takes a core and gives it back at once: the caller checked
// that one is free), sets the drop request if its timed wait expired
// with no switch since it began (CPython's rule; an event only if the
// request was not already set), and waits again, saving the current
// switch number. A waiter whose timed wait expired keeps its place in the
// waiter list (the list is unordered, and a release picks from it at
// random: lazy locks, virtual_timers.go, need an expiry that changes
// nothing to change nothing); one woken by a signal had left it, and
// parks again, last in it. The same steps, state and events as the thread
// would make, with no coroutine switch. v is the earliest entry, and its
// lock is held (the caller checked); a new timed wait moves the entry in
// place.
func (c *vclock) rewait(v *vthread) {
	l, th := v.wait, v.th
	c.wakeInPlace(v, l)
	if v.why == WakeSignal {
		v.pending = false
	}
	// A waiter whose timed wait expired keeps its place in the list
	// (virtual_timers.go).
	keep := v.why == WakeTimeout && th.widx < len(l.waiters) && l.waiters[th.widx] == th
	if !keep {
		l.removeWaiter(th)
	}
	if v.why == WakeTimeout && l.breaker != nil && l.expiryMatters(v) && l.breaker.set(bitDrop) {
		l.stamp(th, tracer.KindDropRequest, tracer.DropArg(l.id, l.holder.id))
	}
	if keep {
		v.saved = l.switches
		c.push(v, v.now()+int64(l.timedWait), WakeTimeout)
		return
	}
	c.waitAgain(v, l)
}

// switched does, without resuming it, what a thread that dropped the
// GIL on a drop request does when the switch it waits for has happened
// and the new holder still holds the GIL: it leaves lock.awaitSwitch and
// waits in the acquire that follows (cpythonGIL.drop), with no event.
// lock.awaitSwitch, when the thread resumes, takes the wake-up as the end
// of that wait. v is the earliest entry, a signal (the caller checked).
func (c *vclock) switched(v *vthread) {
	l, th := v.switching, v.th
	c.wakeInPlace(v, l)
	if l.switcher == th {
		l.switcher = nil
	}
	v.switching = nil
	v.wait = l
	c.waitAgain(v, l)
}

// wakeInPlace is the start of rewait and switched: v, the earliest entry,
// wakes at its time, without a coroutine switch, as what runs now; an
// entry that will not be re-armed in place (no timed wait on l) leaves the
// queue.
func (c *vclock) wakeInPlace(v *vthread, l *lock) {
	v.setTime(v.at)
	v.why = v.qwhy
	c.cur = v
	if l.interval <= 0 || l.lazy {
		c.q.popMin()
		v.at = never
	}
}

// waitAgain is a wait of lock.acquire beginning for v, parked, at its
// time (lock.waitAndTake, lock.park, vclock.Park).
func (c *vclock) waitAgain(v *vthread, l *lock) {
	th := v.th
	v.saved = l.switches
	v.pending = false // drainWake
	l.parks++
	th.parkSeq = l.parks
	l.addWaiter(th)
	switch {
	case l.lazy:
		l.arm(v)
	case l.interval > 0:
		c.push(v, v.now()+int64(l.timedWait), WakeTimeout)
	}
}

// stop stops the run: every eval breaker gets the stop bit, every clock
// call returns at once.
func (c *vclock) stop(err error) {
	c.stopping = true
	if c.err == nil {
		c.err = err
	}
	for _, p := range c.procs {
		p.breaker.set(bitStop)
	}
}

// halted reports whether v is to stop: the run is stopped, or v is a
// daemon thread of a process that exited.
func (c *vclock) halted(v *vthread) bool {
	return c.stopping || v.th.daemon && v.th.proc.exited.Load()
}

// exit stops the daemon threads of process p, which exited at time t
// (process.exit) while its last thread that is not a daemon, the running
// one, ended: each is queued at t, whatever it was doing (an entry later
// than t moves to t), to stop there. No entry is earlier than t: the
// ending thread synced, and a daemon runs ahead no further than a thread
// that is not one (horizonOf).
func (c *vclock) exit(p *process, t int64) {
	p.breaker.set(bitStop)
	for _, th := range p.threads {
		v := th.vt
		if v == nil || v.ended || v == c.cur {
			continue
		}
		switch {
		case v.inRunq:
			c.runq = slices.DeleteFunc(c.runq, func(w *vthread) bool { return w == v })
			v.inRunq = false
			c.push(v, t, WakeStop)
		case v.qi >= 0:
			if v.at > t {
				c.pushEntry(v, t, WakeStop, v.qwake)
			}
		case v.parked:
			c.push(v, t, WakeStop)
		}
	}
}

// wakeParked queues every parked or core-waiting thread to stop; it
// reports whether there was one.
func (c *vclock) wakeParked() bool {
	t := c.stopAt
	if c.cur != nil {
		t = max(t, c.cur.t)
	}
	if errors.Is(c.err, errDeadlock) {
		// Threads run ahead of each other: the deadlock is complete only
		// when the last of them waits (QA: a thread joining one that went
		// on computing for 20 ms was ended, and the deadlock reported, at
		// the joiner's 5 ms).
		for _, v := range c.threads {
			if !v.ended {
				t = max(t, v.now())
			}
		}
	}
	c.stopAt = t
	woke := false
	for _, v := range c.threads {
		if !v.ended && v.qi < 0 && (v.parked || v.inRunq) {
			v.inRunq = false
			c.push(v, max(t, v.now()), WakeStop)
			woke = true
		}
	}
	c.runq = c.runq[:0]
	return woke
}

// push queues v at time t; a wake-up entry sets why Park returns.
func (c *vclock) push(v *vthread, t int64, why Wake) {
	c.pushEntry(v, t, why, true)
}

func (c *vclock) pushEntry(v *vthread, t int64, why Wake, wake bool) {
	v.qwhy, v.qwake, v.safe = why, wake, t
	c.q.set(v, t)
	if cur := c.cur; cur != nil && cur != v && t < cur.horizon && (cur.vp == v.vp || c.crossWakes(cur)) {
		cur.horizon = unknownHorizon // horizonOf, which knows which wake-ups it may pass
	}
	if c.limited && v.th.proc.dropRequests() {
		// An event of the process can make its computing threads park
		// (a drop request) and give their cores up: no later than t.
		// (Safe times matter only when threads can wait for a core.)
		// Every queued peer's safe time is capped at t, lazily (vproc).
		v.vp.capAt(t, v.peers)
	}
	v.safeSeq = v.vp.seq // the caps until now are not v's: it was not queued
}

// vproc is a process's scheduler state: the caps on its queued threads'
// safe times (pushEntry), kept as a list instead of written to every
// thread (QA: 256 threads on 2 cores, a third of the simulation in that
// loop). A thread's safe time is the least of its own (set when it was
// queued, safeSeq the cap number then) and of the caps after it; the
// list keeps only the caps that are the least of all those after them
// (their times increase along it), so the first cap after a thread's
// number is the one that matters. A thread leaves the queue only by pop
// and re-enters it only by pushEntry, so the caps after its number all
// came while it was queued, as the loop they replace required.
type vproc struct {
	seq  uint64 // caps made
	caps []safeCap
	keep int // the list's length after its last trim
	// noticeParked counts the process's threads parked in a wait until a
	// notify (takeNotice). A notice is the run's: a thread of another
	// process can wake them (crossWakes).
	noticeParked int
}

type safeCap struct {
	seq uint64
	t   int64
}

// capAt caps the safe times of the process's queued threads at t.
func (p *vproc) capAt(t int64, peers []*vthread) {
	p.seq++
	n := len(p.caps)
	for n > 0 && p.caps[n-1].t >= t {
		n--
	}
	p.caps = append(p.caps[:n], safeCap{p.seq, t})
	if len(p.caps) > 2*p.keep+len(peers)+64 {
		// Drop the caps before the oldest queued thread's number: no
		// thread reads them.
		oldest := p.seq
		for _, w := range peers {
			if w.qi >= 0 {
				oldest = min(oldest, w.safeSeq)
			}
		}
		i, _ := slices.BinarySearchFunc(p.caps, oldest+1, func(c safeCap, s uint64) int { return cmp.Compare(c.seq, s) })
		p.caps = append(p.caps[:0], p.caps[i:]...)
		p.keep = len(p.caps)
	}
}

// safeTime is v's safe time (vthread.safe, capped by its process's caps
// since it was set). For a queued thread.
func (v *vthread) safeTime() int64 {
	caps := v.vp.caps
	i, _ := slices.BinarySearchFunc(caps, v.safeSeq+1, func(c safeCap, s uint64) int { return cmp.Compare(c.seq, s) })
	if i < len(caps) {
		return min(v.safe, caps[i].t)
	}
	return v.safe
}

// sync makes v the earliest thread before it touches shared state: if an
// entry is earlier than v's time, v queues itself at its time and yields.
func (c *vclock) sync(v *vthread) {
	c.syncAt(v)
	c.settleAll(v)
}

// settleAll settles what v owes (settle) until it has its core and owes
// nothing, syncing after each step: a woken thread may take its core
// whenever it yields (preemptCore), and it touches shared state only with
// its core and nothing owed.
func (c *vclock) settleAll(v *vthread) {
	for v.lost || v.debt > 0 {
		c.settle(v)
		if c.halted(v) {
			return
		}
		c.syncAt(v)
	}
}

// syncAt is sync at v's time as it stands.
func (c *vclock) syncAt(v *vthread) {
	if c.q.len() > 0 && c.q.first().before(v.now(), v) {
		c.pushEntry(v, v.now(), 0, false)
		c.yield(v)
	}
}

// Sleep is blocking I/O or start_after: no core, back after exactly d.
func (c *vclock) Sleep(_ context.Context, _ *Waker, d time.Duration) bool {
	v := c.cur
	if c.halted(v) {
		return false
	}
	c.sync(v)
	c.releaseCore(v)
	c.push(v, v.now()+int64(max(d, 0)), WakeTimeout)
	c.yield(v)
	c.acquireCore(v)
	return !c.halted(v)
}

// Burn is a native call: d of CPU time on a core, longer if the thread
// waits for a core at the end of a time slice.
func (c *vclock) Burn(_ context.Context, d time.Duration) bool {
	v := c.cur
	left := int64(max(d, 0))
	for !c.halted(v) {
		seg := left
		if c.limited {
			seg = min(left, max(v.sliceEnd-v.now(), 0))
		}
		v.setTime(v.now() + seg)
		left -= seg
		c.sync(v)
		if left == 0 || c.halted(v) {
			break
		}
		if v.now() >= v.sliceEnd { // sync settled: it has its core
			c.sliceExpired(v)
		}
	}
	return !c.halted(v)
}

// Park waits for a signal (signal, after the wake-up latency) or the
// timeout, without a core.
func (c *vclock) Park(_ context.Context, _ *Waker, timeout time.Duration) Wake {
	v := c.cur
	if c.halted(v) {
		return WakeStop
	}
	c.sync(v)
	if v.pending { // signalled since its caller drained the wake-ups
		v.pending = false
		return WakeSignal
	}
	c.releaseCore(v)
	v.parked = true
	if timeout > 0 {
		if l := v.wait; l != nil && l.lazy {
			l.arm(v)
		} else {
			c.push(v, v.now()+int64(timeout), WakeTimeout)
		}
	}
	c.yield(v)
	v.parked = false
	why := v.why
	c.acquireCore(v)
	if c.halted(v) {
		return WakeStop
	}
	if why == WakeSignal {
		v.pending = false
	}
	return why
}

// signal wakes v from Park after the wake-up latency; if v is not parked
// the signal waits for its next Park, as a value in the wake channel.
func (c *vclock) signal(v *vthread) {
	if !v.parked {
		v.pending = true
		return
	}
	t := c.cur.now() + c.latency
	if t < v.at {
		c.push(v, t, WakeSignal)
		return
	}
	v.pending = true
}

// virtualRate checks a virtual compute rate.
func virtualRate(lpm float64) (float64, error) {
	if lpm == 0 {
		return VirtualLoopsPerMS, nil
	}
	if lpm < minVirtualLoopsPerMS || lpm > maxVirtualLoopsPerMS {
		return 0, fmt.Errorf("virtual compute rate %g loops/ms out of range [%d, %d]", lpm, minVirtualLoopsPerMS, maxVirtualLoopsPerMS)
	}
	return lpm, nil
}

// strictOrder (tests) runs no thread ahead of the earliest queued one: the
// reference that running ahead must not change.
var strictOrder bool
