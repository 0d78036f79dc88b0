package tracer

import (
	"context"
	"runtime"
)

// Derive pairs the events of t into spans, once, for every exporter.
//
// t should pass CheckValid; on an invalid trace Derive does not panic, but
// the spans it returns are unspecified. Spans still open when the trace
// ends (a truncated file, dropped events) end at t.Duration().
//
// Outline:
//  1. Replay the events in order, keeping per thread what it holds and
//     what it is blocked in; whenever the thread's (state, stack, lock, I/O
//     kind) changes, close its state span and open the next.
//  2. Pair lock events into holds, waits and handoffs, and calls into call
//     spans, as they happen.
//  3. Close whatever is still open at the end of the trace.
//  4. Split each wait by the holders of its lock, and each hold by the
//     holder's state spans, into blame segments.
func Derive(t *Trace) *Spans {
	s, _ := deriveContext(context.Background(), t, true)
	return s
}

// DeriveStates is Derive without the call spans (Spans.Calls is empty):
// all that the diagnosis needs, for a caller that writes no exporter's
// output (`giltrace record --formats none`).
func DeriveStates(t *Trace) *Spans {
	s, _ := deriveContext(context.Background(), t, false)
	return s
}

// deriveCheck is how many events DeriveContext replays between two looks
// at its context: 64 Ki, a few milliseconds.
const deriveCheck = 64 << 10

// DeriveContext is Derive that gives up, returning ctx's cause, once ctx
// is done: a run of tens of millions of events takes seconds to derive, and
// a command stops within a fraction of that.
func DeriveContext(ctx context.Context, t *Trace) (*Spans, error) { return deriveContext(ctx, t, true) }

// DeriveStatesContext is DeriveStates that gives up once ctx is done.
func DeriveStatesContext(ctx context.Context, t *Trace) (*Spans, error) {
	return deriveContext(ctx, t, false)
}

func deriveContext(ctx context.Context, t *Trace, calls bool) (*Spans, error) {
	d := newDeriver(t, calls)
	defer d.stopPrefault()
	// The call spans depend on nothing else: with two cores, they are
	// replayed on the other meanwhile (deriving them was a quarter to a
	// third of the time to derive a run whose threads call a function per
	// iteration).
	callsOn := calls && len(d.callArr) >= callsApart && runtime.GOMAXPROCS(0) >= 2
	var callsDone chan struct{}
	if callsOn {
		callsDone = make(chan struct{})
		go func() {
			defer close(callsDone)
			d.callPass(ctx)
		}()
		defer func() { <-callsDone }()
	}
	for i := range t.Events {
		if i%deriveCheck == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		d.event(&t.Events[i])
	}
	if callsOn {
		<-callsDone
	} else if calls {
		d.callPass(ctx)
	}
	d.finish()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	d.blame()
	return d.s, nil
}

// callsApart is how many call spans a run needs for them to be derived on
// another goroutine.
var callsApart = 16 << 10 // a variable for the tests

type threadState struct {
	started, ended bool
	hasGIL         bool
	gil            LockID
	holdsGIL       bool
	inIO           bool
	ioKind         StringID
	inNative       bool
	nativeReleases bool
	lockWait       LockID // guest lock waited for, or NoLock
	exiting        bool   // released the GIL to end (or be stopped): still running
	stack          StackID

	span        StateSpan // the open span, valid when started && !ended
	spans       []StateSpan
	gilWait     int // index into Spans.Waits of the open GIL wait, or -1
	lockWaitIdx int // index into Spans.Waits of the open guest-lock wait, or -1
}

// callState is a thread's calls, replayed apart from the rest (callPass).
type callState struct {
	started, ended bool
	calls          []CallSpan
	open           []int // indexes into calls of open calls
}

type lockState struct {
	holder    ThreadID
	hold      int // index into Spans.Holds of the open hold, or -1
	released  bool
	relThread ThreadID
	relTime   int64
	relWhy    Release
}

type deriver struct {
	t       *Trace
	s       *Spans
	threads []threadState
	locks   []lockState

	// The arrays the threads' state and call spans are appended into, a
	// region per thread.
	stateArr []StateSpan
	callArr  []CallSpan
	calls    []callState // per thread

	stopPrefault func() // stops faulting in the arrays' pages (prefault)
}

func newDeriver(t *Trace, withCalls bool) *deriver {
	d := &deriver{t: t, s: &Spans{Trace: t}}
	d.threads = make([]threadState, len(t.Threads))
	d.calls = make([]callState, len(t.Threads))
	d.s.Threads = make([]ThreadSpan, len(t.Threads))
	// Size everything once rather than grow it: a thread has at most one
	// state span more than it has events and one call span per CallEnter;
	// there is one hold per acquire, and a wait ends in an acquire or at
	// its thread's end. Each thread appends into its own region of one
	// shared array for states and one for calls; finish closes the gaps.
	counts := make([]int, len(t.Threads))
	calls := make([]int, len(t.Threads))
	acquires := 0
	for i := range t.Events {
		e := &t.Events[i]
		if int(e.Thread) >= len(counts) {
			continue
		}
		switch e.Kind {
		case KindCallEnter:
			if withCalls {
				calls[e.Thread]++
			}
		case KindLockAcquire:
			acquires++
		case KindDropRequest:
			continue // never changes the requester's state or stack
		case KindLockWait:
			if gilOf(t, e.Thread) == e.Lock() {
				continue // the GIL wait began already: no new state span
			}
		}
		counts[e.Thread]++ // an event opens at most one state span
	}
	nstates, ncalls := len(t.Threads), 0
	for i := range counts {
		nstates += counts[i]
		ncalls += calls[i]
	}
	states := make([]StateSpan, nstates)
	callSpans := make([]CallSpan, ncalls)
	// The largest arrays of a run: huge pages where the kernel leaves it
	// to the program (hugepage.go).
	hugeSlice(states)
	hugeSlice(callSpans)
	d.stateArr, d.callArr = states, callSpans
	for i, th := range t.Threads {
		ts := &d.threads[i]
		ts.gil, ts.lockWait, ts.gilWait, ts.lockWaitIdx = NoLock, NoLock, -1, -1
		if int(th.Proc) < len(t.Procs) {
			ts.gil = t.Procs[th.Proc].GIL
			ts.hasGIL = ts.gil != NoLock
		}
		d.s.Threads[i] = ThreadSpan{Thread: ThreadID(i)}
		ts.spans, states = states[:0:counts[i]+1], states[counts[i]+1:]
		d.calls[i].calls, callSpans = callSpans[:0:calls[i]], callSpans[calls[i]:]
	}
	d.s.Holds = make([]Hold, 0, acquires)
	d.s.holdSpan = make([]int32, 0, acquires)
	d.s.Handoffs = make([]Handoff, 0, acquires) // at most one per acquire: no regrowth at the peak
	d.s.Waits = make([]Wait, 0, acquires+2*len(t.Threads))
	hugeSlice(d.s.Holds)
	hugeSlice(d.s.Handoffs)
	hugeSlice(d.s.Waits)
	// The arrays' pages are faulted in on another core while the events
	// are replayed into them: each thread's region of the state and call
	// spans, and the holds, handoffs and waits, all filled from their
	// starts at once.
	rs := make([]region, 0, 2*len(t.Threads)+3)
	for i := range d.threads {
		ts := &d.threads[i]
		rs = append(rs, regionOf(ts.spans), regionOf(d.calls[i].calls))
	}
	rs = append(rs, regionOf(d.s.Holds), regionOf(d.s.Handoffs), regionOf(d.s.Waits))
	d.stopPrefault = prefault([]any{d.stateArr, d.callArr, d.s.Holds, d.s.Handoffs, d.s.Waits}, rs...)
	d.locks = make([]lockState, len(t.Locks))
	for i := range d.locks {
		d.locks[i] = lockState{holder: NoThread, hold: -1}
	}
	return d
}

// gilOf is the GIL of thread id's process, or NoLock.
func gilOf(t *Trace, id ThreadID) LockID {
	if p := t.Threads[id].Proc; int(p) < len(t.Procs) {
		return t.Procs[p].GIL
	}
	return NoLock
}

// state is the thread's state and its span's arg: the lock it waits
// for, or its I/O kind.
func (ts *threadState) state() (State, uint32) {
	switch {
	case ts.lockWait != NoLock:
		return StateLockWait, uint32(ts.lockWait)
	case ts.inIO:
		return StateIO, uint32(ts.ioKind)
	case ts.inNative && ts.nativeReleases:
		return StateNative, 0
	case ts.inNative:
		return StateNativeHolding, 0
	case !ts.hasGIL || ts.holdsGIL || ts.exiting:
		return StateRunning, 0
	}
	return StateGILWait, uint32(ts.gil)
}

func (d *deriver) event(e *Event) {
	if int(e.Thread) >= len(d.threads) {
		return
	}
	ts := &d.threads[e.Thread]
	if ts.ended {
		return
	}
	if !ts.started {
		if e.Kind != KindThreadStart {
			return
		}
		ts.started = true
		d.s.Threads[e.Thread].Start = e.Time
		d.s.Threads[e.Thread].Existed = e.Arg == ThreadExisted
		ts.stack = e.Stack
		st, arg := ts.state()
		ts.span = StateSpan{Thread: e.Thread, State: st, Start: e.Time, Stack: ts.stack, arg: arg}
		d.maybeStartGILWait(e.Thread, ts, e.Time)
		return
	}
	// Every event carries the thread's stack from then on (the VM stamps
	// each with the line of the operation that emitted it), except a
	// call's exit (the caller's stack follows) and the events a waiter
	// emits while it waits (the wait keeps the stack it began with).
	switch e.Kind {
	case KindCallExit, KindLockWait, KindDropRequest:
	default:
		ts.stack = e.Stack
	}
	switch e.Kind {
	case KindThreadEnd:
		d.endThread(e.Thread, ts, e.Time, true)
		return
	case KindLockWait:
		d.lockWaitEvent(e, ts)
	case KindLockAcquire:
		d.acquire(e, ts)
	case KindLockRelease:
		d.release(e, ts)
	case KindDropRequest:
		d.s.DropRequests = append(d.s.DropRequests, DropRequest{Time: e.Time, Thread: e.Thread, Holder: e.Peer(), Lock: e.Lock(), Stack: e.Stack})
	case KindIOBegin:
		ts.inIO, ts.ioKind = true, e.IOKind()
	case KindIOEnd:
		ts.inIO, ts.ioKind = false, 0
	case KindNativeBegin:
		ts.inNative, ts.nativeReleases = true, e.ReleasesGIL()
	case KindNativeEnd:
		ts.inNative, ts.nativeReleases = false, false
	case KindCallExit:
		ts.stack = NoStack
		if int(e.Stack) < len(d.t.Stacks) {
			ts.stack = d.t.Stacks[e.Stack].Parent
		}
	}
	d.update(e.Thread, ts, e.Time)
}

// update closes the thread's state span if its state changed at time now.
func (d *deriver) update(id ThreadID, ts *threadState, now int64) {
	st, arg := ts.state()
	sp := &ts.span
	if st == sp.State && arg == sp.arg && ts.stack == sp.Stack {
		return
	}
	d.closeSpan(ts, now)
	ts.span = StateSpan{Thread: id, State: st, Start: now, Stack: ts.stack, arg: arg}
	d.maybeStartGILWait(id, ts, now)
}

func (d *deriver) closeSpan(ts *threadState, now int64) {
	sp := ts.span
	sp.End = now
	if sp.End > sp.Start {
		ts.spans = append(ts.spans, sp)
	}
}

// maybeStartGILWait opens a GIL wait when the thread starts waiting for it.
func (d *deriver) maybeStartGILWait(id ThreadID, ts *threadState, now int64) {
	if ts.span.State != StateGILWait || ts.gilWait >= 0 {
		return
	}
	ts.gilWait = len(d.s.Waits)
	d.s.Waits = append(d.s.Waits, Wait{Lock: ts.gil, Thread: id, Start: now, End: -1, Stack: ts.stack})
}

func (d *deriver) lockWaitEvent(e *Event, ts *threadState) {
	l := e.Lock()
	if l == ts.gil {
		if ts.gilWait >= 0 {
			d.s.Waits[ts.gilWait].Contended = true
		}
		return
	}
	if int(l) >= len(d.locks) {
		return
	}
	ts.lockWait = l
	ts.lockWaitIdx = len(d.s.Waits)
	d.s.Waits = append(d.s.Waits, Wait{Lock: l, Thread: e.Thread, Start: e.Time, End: -1, Stack: ts.stack, Contended: true})
}

func (d *deriver) acquire(e *Event, ts *threadState) {
	l := e.Lock()
	if int(l) >= len(d.locks) {
		return
	}
	ls := &d.locks[l]
	if l == ts.gil {
		ts.holdsGIL = true
		if ts.gilWait >= 0 {
			w := &d.s.Waits[ts.gilWait]
			w.End, w.Acquired = e.Time, true
			ts.gilWait = -1
		}
	} else if ts.lockWait == l {
		w := &d.s.Waits[ts.lockWaitIdx]
		w.End, w.Acquired = e.Time, true
		ts.lockWait, ts.lockWaitIdx = NoLock, -1
	}
	if ls.released {
		d.s.Handoffs = append(d.s.Handoffs, Handoff{Lock: l, From: ls.relThread, To: e.Thread, Released: ls.relTime, Acquired: e.Time, Why: ls.relWhy, How: e.Acquire()})
		ls.released = false
	}
	ls.holder = e.Thread
	ls.hold = len(d.s.Holds)
	d.s.holdSpan = append(d.s.holdSpan, int32(len(ts.spans))) // no earlier span of the holder reaches past now
	d.s.Holds = append(d.s.Holds, Hold{Lock: l, Thread: e.Thread, Start: e.Time, End: -1, How: e.Acquire(), Stack: ts.stack})
}

func (d *deriver) release(e *Event, ts *threadState) {
	l := e.Lock()
	if int(l) >= len(d.locks) {
		return
	}
	if l == ts.gil {
		ts.holdsGIL = false
		ts.exiting = e.Release() == ReleaseThreadEnd || e.Release() == ReleaseInterrupt
	}
	ls := &d.locks[l]
	if ls.hold >= 0 {
		h := &d.s.Holds[ls.hold]
		h.End, h.Why = e.Time, e.Release()
	}
	*ls = lockState{holder: NoThread, hold: -1, released: true, relThread: e.Thread, relTime: e.Time, relWhy: e.Release()}
}

// endThread closes everything the thread has open at time now.
func (d *deriver) endThread(id ThreadID, ts *threadState, now int64, ended bool) {
	d.closeSpan(ts, now)
	for _, wi := range []int{ts.gilWait, ts.lockWaitIdx} {
		if wi >= 0 {
			d.s.Waits[wi].End = now
		}
	}
	ts.gilWait, ts.lockWaitIdx = -1, -1
	ts.ended = true
	d.s.Threads[id].End = now
	d.s.Threads[id].Ended = ended
}

// finish closes what the end of the trace leaves open and lays out the
// per-thread views.
func (d *deriver) finish() {
	end := d.t.Duration()
	for i := range d.threads {
		ts := &d.threads[i]
		if ts.started && !ts.ended {
			d.endThread(ThreadID(i), ts, end, false)
		}
	}
	for i := range d.s.Holds {
		if h := &d.s.Holds[i]; h.End < 0 {
			h.End, h.Why = end, ReleaseThreadEnd
		}
	}
	d.s.stateStart = make([]int, len(d.threads)+1)
	d.s.States = compact(d.stateArr, d.threads, func(ts *threadState) *[]StateSpan { return &ts.spans }, d.s.stateStart)
	d.s.Calls = compact(d.callArr, d.calls, func(cs *callState) *[]CallSpan { return &cs.calls }, nil)
}

// callPass replays the events into call spans, pairing each thread's
// CallEnter with its CallExit, and closes the calls still open when the
// thread ends, or when the trace ends (at its duration). It reads only
// the trace and writes only d.calls, so it may run beside the replay of
// the rest (event); it gives up once ctx is done (deriveContext then
// returns ctx's cause).
func (d *deriver) callPass(ctx context.Context) {
	evs := d.t.Events
	for i := range evs {
		if i%deriveCheck == 0 && ctx.Err() != nil {
			return
		}
		e := &evs[i]
		if int(e.Thread) >= len(d.calls) {
			continue
		}
		cs := &d.calls[e.Thread]
		if cs.ended {
			continue
		}
		if !cs.started {
			cs.started = e.Kind == KindThreadStart
			continue
		}
		switch e.Kind {
		case KindThreadEnd:
			cs.closeAll(e.Time)
			cs.ended = true
		case KindCallEnter:
			cs.open = append(cs.open, len(cs.calls))
			cs.calls = append(cs.calls, CallSpan{Thread: e.Thread, Stack: e.Stack, Depth: len(cs.open), Start: e.Time, End: -1})
		case KindCallExit:
			if n := len(cs.open); n > 0 {
				cs.calls[cs.open[n-1]].End = e.Time
				cs.open = cs.open[:n-1]
			}
		}
	}
	end := d.t.Duration()
	for i := range d.calls {
		if cs := &d.calls[i]; cs.started && !cs.ended {
			cs.closeAll(end)
		}
	}
}

// closeAll ends the thread's open calls at time now.
func (cs *callState) closeAll(now int64) {
	for _, i := range cs.open {
		cs.calls[i].End = now
	}
	cs.open = nil
}

// compact lays the threads' slices one after the other in shared, the
// array their regions were cut from, in thread order, and records where
// each thread's part starts in start, if not nil. Each part begins its
// region, so moving part i down to the end of the parts before it never
// overwrites a later part (append moves with memmove semantics).
func compact[S, T any](shared []S, threads []T, part func(*T) *[]S, start []int) []S {
	out := shared[:0]
	for i := range threads {
		p := part(&threads[i])
		if start != nil {
			start[i] = len(out)
		}
		out = append(out, *p...)
		*p = nil
	}
	if start != nil {
		start[len(threads)] = len(out)
	}
	return out
}

// blame indexes, once, what the blame of every wait is made of, in
// memory linear in the holds and waits whatever the number of waiters: a
// wait's blame is its lock's holds during it, split by the holders' state
// spans (Spans.BlameOf walks them on demand).
//
// Outline:
//  1. Group the holds and the waits by lock (a counting sort: each group
//     stays in time order).
//  2. Per lock, prefix sums of held time over its holds (Spans.Held).
func (d *deriver) blame() {
	nl := len(d.locks)
	d.s.lockHolds, d.s.lockHoldStart = groupByLock(nl, len(d.s.Holds), func(i int) LockID { return d.s.Holds[i].Lock })
	d.s.lockWaits, d.s.lockWaitStart = groupByLock(nl, len(d.s.Waits), func(i int) LockID { return d.s.Waits[i].Lock })
	d.s.heldBefore = make([]int64, len(d.s.lockHolds)+nl)
	for l := 0; l < nl; l++ {
		hs := d.s.LockHolds(LockID(l))
		held := d.s.heldBefore[d.s.lockHoldStart[l]+l : d.s.lockHoldStart[l+1]+l+1]
		for k, hi := range hs {
			h := &d.s.Holds[hi]
			held[k+1] = held[k] + max(h.End-h.Start, 0)
		}
	}
}

// groupByLock sorts the indexes 0..n-1 by lockOf, keeping their order
// within a lock, and returns them with where each lock's group starts
// (nl+1 entries). Indexes with an out-of-range lock are left out.
func groupByLock(nl, n int, lockOf func(int) LockID) ([]int32, []int) {
	start := make([]int, nl+1)
	for i := 0; i < n; i++ {
		if l := lockOf(i); int(l) < nl {
			start[l+1]++
		}
	}
	for l := 0; l < nl; l++ {
		start[l+1] += start[l]
	}
	out := make([]int32, start[nl])
	next := append([]int(nil), start[:nl]...)
	for i := 0; i < n; i++ {
		if l := lockOf(i); int(l) < nl {
			out[next[l]] = int32(i)
			next[l]++
		}
	}
	return out, start
}
