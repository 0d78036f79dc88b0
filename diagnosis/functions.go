package diagnosis

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// TopN is how many functions the report lists by GIL wait and by GIL hold.
const TopN = 10

// functions fills the top functions by GIL wait (the waiter's innermost
// function) and by GIL hold (time holding the GIL, and the wait of others
// charged to the function that held it meanwhile: the blame).
func (a *analysis) functions() {
	waits, holds := a.newFuncTimes(), a.newFuncTimes()
	get := func(m *funcTimes, st tracer.StackID) *FuncTime { return m.get(st) }
	var totalWait int64
	for _, w := range a.s.Waits {
		if !isGIL(a.t, w.Lock) || w.End <= w.Start {
			continue
		}
		d := w.End - w.Start
		totalWait += d
		ft := get(waits, w.Stack)
		ft.Count++
		ft.TotalNS += d
		ft.MaxNS = max(ft.MaxNS, d)
	}
	a.nativeBlame = map[tracer.Frame]int64{}
	a.eachWaited(func(l tracer.LockID) bool { return isGIL(a.t, l) }, func(_ tracer.LockID, b tracer.Blame, waited int64) {
		get(holds, b.Stack).BlameNS += waited
		if b.State == tracer.StateNativeHolding {
			// For gil-held-in-native, from the same sweep.
			a.nativeBlamed += waited
			a.nativeBlame[a.frame(b.Stack)] += waited
		}
	})
	a.gilWaitNS = totalWait
	for _, x := range a.s.StateSums() { // the state spans, summed by key
		if x.State != tracer.StateRunning && x.State != tracer.StateNativeHolding {
			continue
		}
		if int(x.Thread) >= len(a.procOf) || a.gilOf(a.procOf[x.Thread]) == tracer.NoLock {
			continue
		}
		ft := get(holds, x.Stack)
		ft.TotalNS += x.NS
		if x.State == tracer.StateNativeHolding {
			ft.NativeNS += x.NS
		}
	}
	for _, h := range a.s.Holds {
		if isGIL(a.t, h.Lock) {
			get(holds, h.Stack).Count++
		}
	}
	a.r.TopWait = sortFuncs(collect(waits, func(f *FuncTime) { f.Share = round3(textfmt.Share(f.TotalNS, totalWait)) }), TopN,
		func(f FuncTime) int64 { return f.TotalNS })
	a.r.TopHold = sortFuncs(collect(holds, func(f *FuncTime) { f.Share = round3(textfmt.Share(f.BlameNS, totalWait)) }), TopN,
		func(f FuncTime) int64 { return f.BlameNS }, func(f FuncTime) int64 { return f.TotalNS })
}

// funcTimes is the time per function (the innermost frame of a stack),
// one FuncTime per distinct frame. It finds a stack's FuncTime by the
// frame's ID, without hashing the frame's strings: it is called for every
// state span and every segment of the blame sweep.
type funcTimes struct {
	a       *analysis
	byFrame []int32                // per FrameID: index+1 into list, 0 if not seen yet
	byValue map[tracer.Frame]int32 // frame -> index into list (frames not in the table, equal frames)
	list    []*FuncTime            // in the order first seen
}

func (a *analysis) newFuncTimes() *funcTimes {
	return &funcTimes{a: a, byFrame: make([]int32, len(a.t.Frames)+1), byValue: map[tracer.Frame]int32{}}
}

// get returns the FuncTime of stack st's innermost function.
func (m *funcTimes) get(st tracer.StackID) *FuncTime {
	id := tracer.FrameID(len(m.a.t.Frames)) // the slot of no stack
	if st != tracer.NoStack && int(st) < len(m.a.t.Stacks) {
		id = m.a.t.Stacks[st].Frame // out of the table if not a frame
	}
	if int(id) < len(m.byFrame) {
		if i := m.byFrame[id]; i > 0 {
			return m.list[i-1]
		}
	}
	f := m.a.frame(st)
	i, ok := m.byValue[f]
	if !ok {
		i = int32(len(m.list))
		m.byValue[f] = i
		m.list = append(m.list, &FuncTime{Function: f.Func, File: f.File, Line: f.Line})
	}
	if int(id) < len(m.byFrame) {
		m.byFrame[id] = i + 1
	}
	return m.list[i]
}

// collect returns the values of m with fill applied, in no order.
func collect(m *funcTimes, fill func(*FuncTime)) []FuncTime {
	out := make([]FuncTime, 0, len(m.list))
	for _, f := range m.list {
		fill(f)
		out = append(out, *f)
	}
	return out
}

// guestLocks fills the contention of every guest lock that was used.
// minSharedHolds is the fewest holds of a lock that makes it a mutex
// shared by its holders (with two holders at least): a lock that one
// thread holds for its life and another takes once it is released (a join)
// has two.
const minSharedHolds = 3

func (a *analysis) guestLocks() {
	t := a.t
	reps := make([]LockReport, len(t.Locks))
	heldBy := make([]map[tracer.Frame]int64, len(t.Locks))
	for _, w := range a.s.Waits {
		if int(w.Lock) >= len(t.Locks) || t.Locks[w.Lock].GIL {
			continue
		}
		lr := &reps[w.Lock]
		lr.Waits++
		lr.WaitNS += w.End - w.Start
	}
	covered := make([]int64, len(t.Locks)) // each lock's waiting while another thread held it
	a.eachWaited(func(l tracer.LockID) bool { return !isGIL(a.t, l) }, func(l tracer.LockID, b tracer.Blame, waited int64) {
		if heldBy[l] == nil {
			heldBy[l] = map[tracer.Frame]int64{}
		}
		heldBy[l][a.frame(b.Stack)] += waited
		covered[l] += waited
	})
	holder := make([]tracer.ThreadID, len(t.Locks)) // the first holder of each lock
	twoHolders := make([]bool, len(t.Locks))
	for i := range holder {
		holder[i] = tracer.NoThread
	}
	gilWaits := a.gilWaitSpans()
	for _, h := range a.s.Holds {
		if int(h.Lock) < len(t.Locks) && !t.Locks[h.Lock].GIL {
			reps[h.Lock].Holds++
			reps[h.Lock].HoldNS += h.End - h.Start
			inside := int64(0)
			if int(h.Thread) < len(gilWaits) {
				inside = overlap(gilWaits[h.Thread], h.Start, h.End)
			}
			reps[h.Lock].WorkNS += max(h.End-h.Start-inside, 0)
			switch holder[h.Lock] {
			case tracer.NoThread:
				holder[h.Lock] = h.Thread
			case h.Thread:
			default:
				twoHolders[h.Lock] = true
			}
		}
	}
	// A lock that its first holder kept until it ended, taken by others
	// only after that, is a wait for that thread (a join, however many
	// threads join it), not a lock they share.
	first := make([]int, len(t.Locks)) // index+1 in Holds of each lock's earliest hold
	for i, h := range a.s.Holds {
		if int(h.Lock) < len(t.Locks) && (first[h.Lock] == 0 || h.Start < a.s.Holds[first[h.Lock]-1].Start) {
			first[h.Lock] = i + 1
		}
	}
	joined := make([]bool, len(t.Locks))
	for l, f := range first {
		if f > 0 {
			h0 := a.s.Holds[f-1]
			joined[l] = h0.Why == tracer.ReleaseThreadEnd || h0.Why == tracer.ReleaseInterrupt
		}
	}
	for i, h := range a.s.Holds {
		if int(h.Lock) < len(t.Locks) && first[h.Lock] != i+1 && h.Start < a.s.Holds[first[h.Lock]-1].End {
			joined[h.Lock] = false
		}
	}
	// A lock nobody held is a wait for work only where its waiters' frames
	// say so, holds observed or not: with them observed, a mutex taken
	// before an attach and never released covers none of its waits either
	// (review).
	idleWaits := a.framedNotify(reps)
	notify := a.notifyLocks(reps, covered, idleWaits)
	for i, l := range t.Locks {
		// A join lock is a wait for its thread's end, whatever else
		// took its address (flow's joins).
		notify[i] = notify[i] && !joinLockName(l.Name)
	}
	a.mutex = make([]bool, len(t.Locks))
	a.notify = make([]bool, len(t.Locks))
	a.waitsForWork = make([]bool, len(t.Locks))
	for i := range reps {
		// A lock several threads took to be notified (a queue's get, a
		// pool's idle workers) serialises nothing: its waits are waits
		// for work, not for one another's critical sections; nor one that
		// no thread held, waited for where work is waited for (QA: an
		// attached server's 8 pool workers, idle in their queue's get for
		// the last 609 s of the trace, had neither mark nor idle note).
		a.notify[i] = twoHolders[i] && !joined[i] && notify[i] // not a zero-hold lock's: the flow keeps those (review)
		reps[i].Notify = a.notify[i] || reps[i].Holds == 0 && idleWaits[i]
		a.waitsForWork[i] = reps[i].Notify
		reps[i].Shared = twoHolders[i] && reps[i].Holds >= minSharedHolds && !joined[i] && !notify[i]
		// The estimates count every lock two threads held as a mutex,
		// however few its holds: two critical sections of 8 ms each
		// still take 16 ms.
		a.mutex[i] = twoHolders[i] && !joined[i] && !notify[i]
	}
	a.r.Locks = []LockReport{}
	for i, l := range t.Locks {
		lr := reps[i]
		if l.GIL || lr.Holds == 0 && lr.Waits == 0 {
			continue
		}
		lr.Name, lr.Process = l.Name, procName(t, l.Proc)
		if f, ok := topFrame(heldBy[i]); ok {
			lr.HeldBy, lr.HeldLine = f.Func, f.Line
		}
		if lr.Notify {
			if f, ok := topFrame(a.waitedIn(tracer.LockID(i))); ok {
				lr.WaitedIn, lr.WaitedLine = f.Func, f.Line
			}
		}
		lr.HoldsInferred = !a.lockHoldsObserved()
		if lr.HoldsInferred && a.mutex[i] {
			a.r.Speedup.LockHoldsInferred = true
		}
		a.r.Locks = append(a.r.Locks, lr)
	}
	slices.SortStableFunc(a.r.Locks, func(x, y LockReport) int {
		if x.WaitNS != y.WaitNS {
			return cmp.Compare(y.WaitNS, x.WaitNS)
		}
		return cmp.Compare(x.Name, y.Name)
	})
}

// notifyLocks reports, per lock, whether its waits were waits for a
// notification from another thread rather than for a critical section:
// a thread that waits for work in a queue (queue.SimpleQueue's get, the
// C queue of a ThreadPoolExecutor's idle workers, of asyncio.to_thread's
// and of a multiprocessing.pool.ThreadPool's), for a Condition's notify,
// an Event, a Semaphore, a Barrier or a Future's result (all of which
// wait on a Condition's waiter lock) blocks on a lock that the notifier
// releases, and several threads may take it in turn without any of them
// serialising the others (QA: an asyncio program's eight to_thread
// workers, idle in their queue's get, were called lock-bound, "72 % of
// their time blocked on guest locks").
//
// Where the trace observed the locks' holds (the VM; a real program
// recorded with --lock-holds), the evidence is the trace's: no other
// thread held the lock for most of the time waited for it (a mutex's
// waiters wait while its holder holds it: 94 to 99.6 % of the waiting in
// the recorded fixtures, 0 to 0.6 % for a queue's and a Condition's
// waits), or, in a real program, a thread waited for it while holding it
// (the recorder shows it letting the lock go as its wait begins,
// docs/cpython.md, "Lock holds"): only another thread could release it,
// which a mutex's other threads do not. Without observed holds the holds
// are inferred from the waits and cover none of them, and the waiters'
// frames decide: at least half of the lock's waiting in the standard
// library's waits for work or a notification (notifyFrame): framed, the
// caller's framedNotify.
func (a *analysis) notifyLocks(reps []LockReport, covered []int64, framed []bool) []bool {
	t := a.t
	out := make([]bool, len(t.Locks))
	if a.lockHoldsObserved() {
		self := a.selfWaits()
		for l := range out {
			out[l] = self[l] || reps[l].WaitNS > 0 && 2*covered[l] < reps[l].WaitNS
		}
		return out
	}
	return slices.Clone(framed) // the caller changes it; framed is its too
}

// framedNotify is notifyLocks by the waiters' frames alone: per lock,
// whether at least half of its waiting was in the standard library's waits
// for work or a notification (notifyFrame).
func (a *analysis) framedNotify(reps []LockReport) []bool {
	t := a.t
	out := make([]bool, len(t.Locks))
	framed := make([]int64, len(t.Locks))
	own := a.conditionOwnLocks()
	for _, w := range a.s.Waits {
		if int(w.Lock) < len(framed) && notifyFrame(t, w.Stack) && !(own[w.Lock] && conditionWaitFrame(t, w.Stack)) {
			framed[w.Lock] += w.End - w.Start
		}
	}
	for l := range out {
		out[l] = reps[l].WaitNS > 0 && 2*framed[l] >= reps[l].WaitNS
	}
	return out
}

// selfWaitGap is how long before its wait the recorder shows a thread
// letting go of the lock it waits for (source/cpython's rule 2: a thread
// that waits for a lock it is shown holding lets it go as its wait
// begins, 1 ns before it). A thread's own release and blocking acquire
// are several probe hits apart, microseconds.
const selfWaitGap = 1

// selfWaits reports, per lock of a real program with observed holds,
// whether some thread waited for it while holding it: the lock is
// released by another thread than its holder (a Condition's waiter lock,
// a queue.SimpleQueue's lock), a signal, not a mutex. The VM's traces do
// not show it (its releases are its threads' own). In a trace that lost
// events or had releases mended (Meta.Extra lost_events, repairs), one
// such wait may be a release the recorder missed on a busy mutex: there
// they must be selfWaitMinShare of the lock's waits.
func (a *analysis) selfWaits() []bool {
	t := a.t
	out := make([]bool, len(t.Locks))
	if !a.realProgram() {
		return out
	}
	type key struct {
		th  tracer.ThreadID
		l   tracer.LockID
		end int64
	}
	released := map[key]bool{}
	for _, h := range a.s.Holds {
		if h.Why == tracer.ReleaseUnlock && !isGIL(t, h.Lock) {
			released[key{h.Thread, h.Lock, h.End}] = true
		}
	}
	self := make([]int, len(t.Locks))  // self-waits
	waits := make([]int, len(t.Locks)) // contended waits
	for _, w := range a.s.Waits {
		if int(w.Lock) >= len(out) || !w.Contended {
			continue
		}
		waits[w.Lock]++
		for g := int64(0); g <= selfWaitGap; g++ {
			if released[key{w.Thread, w.Lock, w.Start - g}] {
				self[w.Lock]++
				break
			}
		}
	}
	lost, _ := strconv.ParseUint(t.Meta.Extra["lost_events"], 10, 64)
	repairs, _ := strconv.Atoi(t.Meta.Extra["repairs"])
	mended := lost > 0 || repairs > 0
	for l := range out {
		out[l] = self[l] > 0 && (!mended || float64(self[l]) >= selfWaitMinShare*float64(waits[l]))
	}
	return out
}

// selfWaitMinShare is the share of a lock's waits that must be its
// holders' waits for it (selfWaits) in a trace that lost events or had
// releases mended: a Condition's waiter lock is waited for so each time.
const selfWaitMinShare = 0.25

// conditionOwnLocks reports, per lock, whether it is a
// threading.Condition's own lock, not a waiter lock that a notify
// releases, though some of its waits are in Condition.wait: a default
// Condition's lock is an RLock, which its waiters re-acquire after the
// notify in C (_acquire_restore), their innermost Python frame
// Condition.wait (QA: a notify_all herd queueing on it, each working
// under it, was taken for idle threads and lost lock-bound). It is when
// the lock was also waited for in Condition.__enter__ or _acquire_restore
// (the Condition's own lock's waits, `with cond:`), or when two threads
// waited for it in Condition.wait at once: a waiter lock is one waiter's,
// allocated for its one wait.
func (a *analysis) conditionOwnLocks() []bool {
	t := a.t
	out := make([]bool, len(t.Locks))
	for l := range out {
		var (
			lastEnd int64 = -1
			lastTh  tracer.ThreadID
		)
		for _, wi := range a.s.LockWaits(tracer.LockID(l)) {
			w := &a.s.Waits[wi]
			fn, ok := threadingFrame(t, w.Stack)
			if !ok {
				continue
			}
			if fn == "__enter__" || fn == "_acquire_restore" {
				out[l] = true
				break
			}
			if fn != "wait" || w.End <= w.Start {
				continue
			}
			if w.Start < lastEnd && w.Thread != lastTh {
				out[l] = true
				break
			}
			if w.End > lastEnd {
				lastEnd, lastTh = w.End, w.Thread
			}
		}
	}
	return out
}

// threadingFrame is the name (unqualified) of stack's innermost frame when
// it is a function of the standard library's threading.py.
func threadingFrame(t *tracer.Trace, stack tracer.StackID) (string, bool) {
	if stack == tracer.NoStack || int(stack) >= len(t.Stacks) {
		return "", false
	}
	fid := t.Stacks[stack].Frame
	if int(fid) >= len(t.Frames) {
		return "", false
	}
	f := t.Frames[fid]
	i := strings.Index(f.File, "/lib/python3.")
	if i < 0 || strings.Contains(f.File[i:], "-packages/") || !strings.HasSuffix(f.File, "/threading.py") {
		return "", false
	}
	return f.Func[strings.LastIndexByte(f.Func, '.')+1:], true
}

// conditionWaitFrame reports whether stack's innermost frame is
// threading.py's Condition.wait (notifyFrames' first).
func conditionWaitFrame(t *tracer.Trace, stack tracer.StackID) bool {
	fn, ok := threadingFrame(t, stack)
	return ok && fn == "wait"
}

// notifyFrames are the standard library's functions whose lock waits
// wait for work or a notification, by file (under the interpreter's
// lib/python3.X) and name (3.11's qualified names and the plain names
// before): Condition.wait's wait for its waiter lock, which a notify
// releases (queue.Queue's get, Event.wait, Semaphore, Barrier,
// Future.result and Thread.start all wait there; a Condition's own lock
// is waited for in Condition.__enter__ or _acquire_restore, except that
// an RLock's is re-acquired in Condition.wait itself after the notify);
// and the callers of a queue.SimpleQueue's get, a C function: a
// ThreadPoolExecutor's workers (_worker, asyncio.to_thread's too) and a
// multiprocessing.pool.ThreadPool's workers and task and result handlers.
var notifyFrames = []struct{ file, fn string }{
	{"/threading.py", "wait"},
	{"/concurrent/futures/thread.py", "_worker"},
	{"/multiprocessing/pool.py", "worker"},
	{"/multiprocessing/pool.py", "_handle_tasks"},
	{"/multiprocessing/pool.py", "_handle_results"},
}

// notifyFrame reports whether stack's innermost frame, a lock waiter's,
// is one of notifyFrames.
func notifyFrame(t *tracer.Trace, stack tracer.StackID) bool {
	if stack == tracer.NoStack || int(stack) >= len(t.Stacks) {
		return false
	}
	fid := t.Stacks[stack].Frame
	if int(fid) >= len(t.Frames) {
		return false
	}
	f := t.Frames[fid]
	i := strings.Index(f.File, "/lib/python3.")
	if i < 0 || strings.Contains(f.File[i:], "-packages/") {
		return false
	}
	name := f.Func[strings.LastIndexByte(f.Func, '.')+1:]
	for _, nf := range notifyFrames {
		if name == nf.fn && strings.HasSuffix(f.File, nf.file) {
			return true
		}
	}
	return false
}

// waitedIn is the innermost frames of the waits for lock l, with the time
// waited in each.
func (a *analysis) waitedIn(l tracer.LockID) map[tracer.Frame]int64 {
	m := map[tracer.Frame]int64{}
	for _, wi := range a.s.LockWaits(l) {
		w := &a.s.Waits[wi]
		if w.End > w.Start {
			m[a.frame(w.Stack)] += w.End - w.Start
		}
	}
	return m
}

// topFrames is the frames of m by their time, the longest first, ties
// broken by function name, line, then file.
func topFrames(m map[tracer.Frame]int64) []tracer.Frame {
	fs := make([]tracer.Frame, 0, len(m))
	for f := range m {
		fs = append(fs, f)
	}
	slices.SortFunc(fs, func(a, b tracer.Frame) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Func, b.Func); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.File, b.File)
	})
	return fs
}

// topFrame is the first of topFrames: the frame with the most time.
func topFrame(m map[tracer.Frame]int64) (tracer.Frame, bool) {
	if fs := topFrames(m); len(fs) > 0 {
		return fs[0], true
	}
	return tracer.Frame{}, false
}

// eachWaited calls f for every holder, stack and state that held a lock
// for which keep is true while others waited, with the summed waiting
// behind it: the blame of all waits, in time linear in the timelines
// (tracer.Spans.WaitedSums, shared with the flame graph's blame view),
// whatever the number of waiters.
func (a *analysis) eachWaited(keep func(tracer.LockID) bool, f func(l tracer.LockID, b tracer.Blame, waited int64)) {
	for _, w := range a.s.WaitedSums() {
		if keep(w.Lock) {
			f(w.Lock, tracer.Blame{Holder: w.Holder, Stack: w.Stack, State: w.State}, w.Waited)
		}
	}
}

// gilWaitSpans is each thread's GIL waits, [start, end) in time order;
// none if no guest lock was held (their only reader).
func (a *analysis) gilWaitSpans() [][][2]int64 {
	held := false
	for _, h := range a.s.Holds {
		if !isGIL(a.t, h.Lock) {
			held = true
			break
		}
	}
	if !held {
		return nil
	}
	out := make([][][2]int64, len(a.t.Threads))
	for _, wi := range a.gilWaits() {
		if w := &a.s.Waits[wi]; int(w.Thread) < len(out) {
			out[w.Thread] = append(out[w.Thread], [2]int64{w.Start, w.End})
		}
	}
	return out
}
