package diagnosis

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"sort"

	"github.com/giltrace/giltrace/tracer"
)

// flow is the run as the estimates without a GIL and as processes see it:
// the same threads, each doing its own work (running, I/O, native calls:
// a.threadWork's), started no earlier than what started them allows and
// waiting for the threads they join, with no GIL, as many cores as
// threads and no wait for a mutex. For each boundary of each thread's
// state spans it holds the earliest time the thread could have got there
// (v), and the own work the thread had done by then (w).
//
// The rules, span by span, from the thread's earliest start:
//   - running, native calls and I/O take as long as they took (the I/O
//     that counts as work, a.io: a real program's waits for its other
//     processes do not);
//   - a GIL wait takes no time;
//   - a wait on a shared guest lock, a mutex, takes no time here: its
//     critical sections' bound (lockBound) is the estimates' other part;
//   - a wait for a thread's end (a join: the lock its thread held to its
//     end) lasts until that thread could have ended;
//   - a wait on a lock that several threads took to be notified
//     (LockReport.Notify: a queue's get, a pool's idle workers) lasts
//     until the thread that notified could get there (notifier): the
//     thread holding the GIL when the wait ended, or its last holder
//     just before;
//   - any other wait for a guest lock (a timed wait, a notification
//     whose notifier the trace does not name) takes as long as it took.
//
// A thread's earliest start: for a VM run, from its workload file
// (workloadStarts): a thread of a group with start_after T starts at T,
// whatever the other threads did before (a timer: issue 14's QA found
// estimates of 1.60x and 2.74x for runs that took as long without a GIL,
// their late threads moved earlier by the GIL waits before their timers);
// a thread another one starts, when its starter could have got to its
// `start:`, then its start_after. Otherwise (a real program) its
// recorded start less the GIL waits before it (reachableStarts). A thread
// that existed before an attach starts at 0, its time before the trace
// first saw it (a.blocked) a blocking call.
//
// Each v is at most the recorded time (no rule makes a thread later than
// it was), so the bounds built on it are at most the run's wall.
type flow struct {
	a   *analysis
	sps [][]tracer.StateSpan // per thread: its state spans
	off []int                // per thread: its first boundary in w and tail
	w   []int64              // per boundary
	// dv holds v, per thread, as its changes of v - w: from boundary k
	// of its thread on, v = w + d. Between the spans that wait for
	// another thread, v grows with w (the thread's own work), so a
	// thread has few of them; a v per boundary took 8 bytes an event
	// (vAt).
	dv     [][]vchange
	done   []int  // per thread: its spans whose end is known (v[off+done] is)
	state  []int8 // per thread: 0 start unknown, 1 being computed, 2 known
	causes []startCause
	shared []bool // per lock: a mutex (LockReport.Shared)
	notify []bool // per lock: waits for a notification (LockReport.Notify)
	// edges: each dependency the forward pass used, for the tails.
	edges []edge
	// lockWaits: some thread has a span waiting for a guest lock (step).
	lockWaits bool
	// recordedWaits: some wait for a guest lock took, in the flow, as long
	// as it was recorded (afterWait: a timed wait, or a notification whose
	// notifier the trace does not name). Without the GIL a notifier may
	// come sooner, so an end built on one is an estimate, not the earliest.
	recordedWaits bool
	// polls: per thread, a loop that sleeps until other threads end
	// (tracer.Poll), or nil: a join of them, then the rest of its last
	// sleep. A slice: counted and run look at it for every span.
	polls []*tracer.Poll
	// joinWaits: per thread, its spans waiting for each join lock
	// (joinWaitsOf), listed on first use.
	joinWaits []map[tracer.LockID][]joinWait
	// endsKnown: every wait for a guest lock that ran out is I/O
	// "lock-timeout" (a real program recorded since its metadata says
	// lock_wait_ends=known, or with --lock-holds): a wait that ended
	// otherwise was notified (notifiedAt).
	endsKnown bool
	// chains: per thread, its loops of timed waits that ran out until a
	// notified one (analysis.waitChains), in time order, or nil.
	chains [][]waitChain
	// looped: per thread, its timeouts in a loop (tracer.LoopedTimeouts),
	// by span index, or nil: each lasts until the GIL's holder when it ran
	// out could get there, at most its length (loopedEnd).
	looped [][]int
	// tail: per boundary, the least time from there to the end of the run
	// (the thread's own work left, and what waits for it: a joiner's work
	// after the join, a started thread's), computed backwards (tails).
	tail []int64
}

// vchange: from boundary k of its thread on, v = w + d.
type vchange struct {
	k int
	d int64
}

// vAt is v at boundary k of thread i.
func (f *flow) vAt(i, k int) int64 {
	ch := f.dv[i]
	x := sort.Search(len(ch), func(j int) bool { return ch[j].k > k }) - 1
	d := int64(0)
	if x >= 0 {
		d = ch[x].d
	}
	return f.w[f.off[i]+k] + d
}

// setV sets v at boundary k of thread i, set in the order of k (its w
// set first).
func (f *flow) setV(i, k int, v int64) {
	d := v - f.w[f.off[i]+k]
	ch := f.dv[i]
	if last := len(ch) - 1; last >= 0 && ch[last].k == k {
		ch[last].d = d
		if last > 0 && ch[last-1].d == d || last == 0 && d == 0 {
			f.dv[i] = ch[:last]
		}
		return
	}
	cur := int64(0)
	if len(ch) > 0 {
		cur = ch[len(ch)-1].d
	}
	if d != cur {
		f.dv[i] = append(ch, vchange{k, d})
	}
}

// edge: thread to, at its boundary k, could be there no earlier than
// thread from at its recorded time at, plus delay.
type edge struct {
	from, to, k int
	at, delay   int64
}

// flowOf computes the flow once.
func (a *analysis) flowOf() *flow {
	if a.fl != nil {
		return a.fl
	}
	n := len(a.r.Threads)
	f := &flow{a: a, off: make([]int, n+1), done: make([]int, n), state: make([]int8, n), causes: a.workloadStarts(), shared: a.mutex, notify: a.notify, polls: make([]*tracer.Poll, n)}
	for id, p := range a.s.Polls() {
		if int(id) < n {
			f.polls[id] = p
		}
	}
	f.endsKnown = tracer.WaitEndsKnown(a.t)
	f.sps = make([][]tracer.StateSpan, n)
	for i := range n {
		if i < len(a.s.Threads) {
			f.sps[i] = a.s.ThreadStates(tracer.ThreadID(i))
		}
		f.off[i+1] = f.off[i] + len(f.sps[i]) + 1
	}
	f.w = make([]int64, f.off[n])
	tracer.AdviseHugePages(f.w)
	f.dv = make([][]vchange, n)
	a.fl = f
	f.chains = a.waitChains()
	if lt := a.s.LoopedTimeouts(); len(lt) > 0 && f.endsKnown {
		f.looped = make([][]int, n)
		for id, ks := range lt {
			if int(id) < n {
				f.looped[id] = ks
			}
		}
	}
	// Each thread's spans in the order they end: a wait's end depends on
	// the thread it waited for at a time no later than that end, and a
	// start on its starter at a time no later than the start; a
	// dependency on a span not yet known (a tie) takes the last boundary
	// known, which is no later (a bound all the same).
	h := &spanHeap{}
	for i := range n {
		if len(f.sps[i]) > 0 {
			h.items = append(h.items, f.next(i))
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		i := h.items[0].thread
		// The spans that depend on no other thread follow at once: only a
		// wait, and a joiner's end, wait their turn.
		f.step(i)
		f.run(i)
		if f.done[i] < len(f.sps[i]) {
			h.items[0] = f.next(i)
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	f.tails()
	return f
}

func (f *flow) spans(i int) []tracer.StateSpan { return f.sps[i] }

// next is thread i's next span to do, as the forward pass orders them.
func (f *flow) next(i int) spanKey {
	sp := &f.sps[i][f.done[i]]
	return spanKey{end: sp.End, wait: sp.State == tracer.StateLockWait || f.pollEnd(i, f.done[i]) || f.isLooped(i, f.done[i]) || f.a.isOwnWait(sp), thread: i}
}

// spanKey is a thread's next span in the forward pass: by its end, waits
// after the other states at the same time, then by thread.
type spanKey struct {
	end    int64
	wait   bool
	thread int
}

type spanHeap struct{ items []spanKey }

func (h *spanHeap) Len() int { return len(h.items) }
func (h *spanHeap) Less(x, y int) bool {
	a, b := &h.items[x], &h.items[y]
	if a.end != b.end {
		return a.end < b.end
	}
	if a.wait != b.wait {
		return !a.wait
	}
	return a.thread < b.thread
}
func (h *spanHeap) Swap(x, y int) { h.items[x], h.items[y] = h.items[y], h.items[x] }
func (h *spanHeap) Push(x any)    { h.items = append(h.items, x.(spanKey)) }
func (h *spanHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// pollEnd reports whether span k of thread i is the last sleep of a loop
// that polls other threads (tracer.Poll), which waits for them (step).
func (f *flow) pollEnd(i, k int) bool {
	p := f.polls[i]
	return p != nil && k == p.Last
}

// isLooped reports whether span k of thread i is a timeout in a loop
// (tracer.LoopedTimeouts), which step ends at loopedEnd.
func (f *flow) isLooped(i, k int) bool {
	if f.looped == nil || i >= len(f.looped) {
		return false
	}
	_, ok := slices.BinarySearch(f.looped[i], k)
	return ok
}

// loopedSpan is isLooped for span sp of thread i.
func (f *flow) loopedSpan(i int, sp *tracer.StateSpan) bool {
	ss := f.sps[i]
	k := sort.Search(len(ss), func(x int) bool { return ss[x].Start >= sp.Start })
	return k < len(ss) && &ss[k] == sp && f.isLooped(i, k)
}

// loopedEnd is when thread i could end its timeout sp in a loop, its span
// k, having begun it at v: when the thread that held the GIL as it ran
// out could get there (a.notifier: the loop waits for what that thread
// does), at most its length. No dependency is kept (it ends at its
// timeout anyway), as for a timed join that ran out.
func (f *flow) loopedEnd(i int, sp *tracer.StateSpan, v int64) int64 {
	end := v + sp.End - sp.Start
	if j, at, ok := f.a.notifier(i, sp); ok && !f.a.wokenByOther(j, sp.Start, at) {
		end = min(end, max(v, f.at(j, at)))
	}
	return end
}

// afterOwnWait is when thread i could end its wait sp on its process's
// own pipe or loopback connection (I/O "own-io"), its span k, having begun
// it at v, and the work it counts: a notified wait, ended by the thread
// that wrote (a.ownWriter, tracer.Spans.Writer: its write, a blocking call
// that released the GIL, began by the wait's end and ended near it), once
// it could get to that write, as afterWait ends a lock's, no work; without
// one (a signal's wake-up descriptor, paced by a timer) it takes as long
// as it took, and counts as the thread's time, as a sleep does.
func (f *flow) afterOwnWait(i, k int, sp *tracer.StateSpan, v int64) (int64, int64) {
	if j, at, ok := f.a.ownWriter(i, sp); ok {
		return max(v, f.dep(j, at, i, k+1, 0)), 0
	}
	d := sp.End - sp.Start
	return v + d, d
}

// counted is the work of span sp of thread i: its length for CPU states,
// the part of an I/O that counts as work (ioWork), 0 for waits and for
// the spans of a loop that polls other threads (tracer.Poll) but the rest
// of its last sleep.
func (f *flow) counted(i int, sp *tracer.StateSpan) int64 {
	if p := f.polls[i]; p != nil && p.From <= sp.Start && sp.End <= p.To {
		if sp.End == p.To {
			// The last sleep: what it takes after the threads it waited
			// for have ended (step adds it; the tails count it here).
			return max(p.To-p.LastEnd, 0)
		}
		return 0
	}
	if f.chains != nil && sp.State == tracer.StateIO && f.chained(i, sp) {
		return 0 // a wait that ran out in a loop until notified: an edge (waitChains)
	}
	if f.looped != nil && sp.State == tracer.StateIO && f.loopedSpan(i, sp) {
		return 0 // a timeout in a loop: step ends it (loopedEnd), not work
	}
	if f.a.isOwnWait(sp) {
		if f.a.ownWritten(i, sp) {
			return 0 // a wait on its own pipe until another thread wrote: step ends it (afterOwnWait), not work
		}
		return sp.End - sp.Start // no writer: the thread's time, as afterOwnWait and ioWork count it
	}
	d := sp.End - sp.Start
	switch sp.State {
	case tracer.StateRunning, tracer.StateNative, tracer.StateNativeHolding:
		return d
	case tracer.StateIO:
		if oc := f.a.otherCPU; oc != nil && !f.a.isTimeout(sp) {
			if p := f.a.procOfThread(tracer.ThreadID(i)); p >= 0 && oc[p] != nil {
				return max(d-overlap(oc[p], sp.Start, sp.End), 0)
			}
		}
		return d
	}
	return 0
}

// step computes the end of thread i's next span.
func (f *flow) step(i int) {
	f.start(i)
	k := f.done[i]
	sp := &f.spans(i)[k]
	b := f.off[i] + k
	v, w := f.vAt(i, k), f.w[b]
	switch {
	case f.pollEnd(i, k):
		// The end of a poll: after the threads it waited for, then the
		// rest of the sleep in which the last ended.
		p := f.polls[i]
		for _, j := range p.Targets {
			v = max(v, f.dep(int(j), f.a.s.Threads[j].End, i, k+1, 0))
		}
		rest := max(sp.End-p.LastEnd, 0)
		v, w = v+rest, w+rest
	case sp.State == tracer.StateGILWait:
	case sp.State == tracer.StateLockWait:
		f.lockWaits = true
		v = f.afterWait(i, k, sp, v)
	case f.isLooped(i, k):
		v = f.loopedEnd(i, sp, v)
	case f.a.isOwnWait(sp):
		var c int64
		v, c = f.afterOwnWait(i, k, sp, v)
		w += c
	default:
		c := f.counted(i, sp)
		v, w = v+c, w+c
	}
	if k == len(f.spans(i))-1 && f.causes != nil {
		// Its end: after the threads it joined and its work after the
		// joins (joinPoint).
		for _, jp := range f.causes[i].joins {
			for _, j := range jp.threads {
				if j < len(f.a.s.Threads) {
					v = max(v, f.dep(j, f.a.s.Threads[j].End, i, k+1, jp.afterNS))
				}
			}
		}
	}
	f.w[b+1] = w
	f.setV(i, k+1, min(v, sp.End))
	f.done[i] = k + 1
}

// run steps thread i, as step does, through its spans that depend on no
// other thread (not a wait for a guest lock, nor a joiner's end), in one
// loop: a thread's v grows with its own work there, and changes (setV)
// only where the recorded time bounds it. Its start is known (a step
// came first).
func (f *flow) run(i int) {
	sps := f.sps[i]
	k, b := f.done[i], f.off[i]
	if k >= len(sps) {
		return
	}
	last := len(sps) - 1
	joins := f.causes != nil && len(f.causes[i].joins) > 0
	w := f.w[b+k]
	v := f.vAt(i, k)
	delta := v - w
	for ; k < len(sps); k++ {
		sp := &sps[k]
		if sp.State == tracer.StateLockWait || k == last && joins || f.pollEnd(i, k) || f.isLooped(i, k) || f.a.isOwnWait(sp) {
			break // ordered: step, in its turn
		}
		c := f.counted(i, sp) // 0 for a GIL wait, as in step
		v, w = min(v+c, sp.End), w+c
		f.w[b+k+1] = w
		if v-w != delta {
			f.setV(i, k+1, v)
			delta = v - w
		}
	}
	f.done[i] = k
}

// dep is the earliest thread i can be at its boundary k given thread
// from's earliest at its recorded time at, plus delay; the dependency is
// kept for the tails.
func (f *flow) dep(from int, at int64, i, k int, delay int64) int64 {
	f.edges = append(f.edges, edge{from: from, to: i, k: k, at: at, delay: delay})
	return f.at(from, at) + delay
}

// afterWait is when thread i could end its wait sp, its span k, on a guest
// lock, having begun it at v.
func (f *flow) afterWait(i, k int, sp *tracer.StateSpan, v int64) int64 {
	a := f.a
	l := sp.Lock()
	if int(l) < len(f.shared) && f.shared[l] {
		return v // a mutex: lockBound
	}
	if int(l) < len(f.notify) && f.notify[l] {
		if j, at, ok := f.notifier(i, sp); ok {
			return max(v, f.dep(j, at, i, k+1, 0))
		}
		if sp.End > sp.Start {
			f.recordedWaits = true
		}
		return v + sp.End - sp.Start // nobody running when it ended: a timeout, another process
	}
	// The release that ended it: the last hold by another thread that
	// ended during it.
	hs := a.s.LockHolds(l)
	x := sort.Search(len(hs), func(j int) bool { return a.s.Holds[hs[j]].End > sp.End }) - 1
	for ; x >= 0; x-- {
		h := &a.s.Holds[hs[x]]
		if h.End < sp.Start {
			x = -1
			break
		}
		if int(h.Thread) != i {
			break
		}
	}
	if x < 0 {
		js, timed := f.joinedUnseen(i, sp)
		if len(js) == 0 {
			js = f.openAtStop(i, sp)
		}
		if len(js) > 0 {
			if timed {
				// A timed join that ran out: it returns at its timeout or
				// when the thread ends, whichever comes first (review: a
				// join(0.3) given up, then 534 ms of the main thread's own
				// work, then a join, had that work put after the thread's
				// end: 1.55x estimated, 1.8x measured). No dependency is
				// kept: the wait that joins them, later, keeps it (f.at
				// here is how far they have come, at most their end).
				end := v
				for _, j := range js {
					end = max(end, f.at(j, a.s.Threads[j].End))
				}
				return min(end, v+sp.End-sp.Start)
			}
			end := v
			for _, j := range js {
				end = max(end, f.dep(j, a.s.Threads[j].End, i, k+1, 0))
			}
			return end
		}
		if j, at, ok := f.notifiedAt(i, sp); ok {
			return max(v, f.dep(j, at, i, k+1, 0))
		}
		if sp.End > sp.Start {
			f.recordedWaits = true
		}
		return v + sp.End - sp.Start // a timed wait, or a notifier the trace does not name
	}
	h := &a.s.Holds[hs[x]]
	if !f.joinHold(h, l) {
		return v // a lock two threads held once each: a mutex, in either order
	}
	return max(v, f.dep(int(h.Thread), h.End, i, k+1, 0))
}

// notifier is the thread that ended thread i's wait sp for a notification
// (a lock with LockReport.Notify), and where in its time, as the model
// finds it (tracer.Spans.Notifier: the GIL's holder when the wait ended,
// or its last holder just before). None in a process without a GIL, or
// when nobody ran then (a timeout).
func (f *flow) notifier(i int, sp *tracer.StateSpan) (int, int64, bool) {
	return f.a.notifier(i, sp)
}

// notifier is flow.notifier (tracer.Spans.Notifier): a thread of the
// report's (its index below len(a.r.Threads)).
func (a *analysis) notifier(i int, sp *tracer.StateSpan) (int, int64, bool) {
	j, at, ok := a.s.Notifier(tracer.ThreadID(i), sp.End)
	if !ok || int(j) >= len(a.r.Threads) {
		return 0, 0, false
	}
	return int(j), at, true
}

// notifiedAt is notifier for a wait that no release ended and that is no
// join (afterWait's last resort), in a trace whose waits that ran out are
// I/O "lock-timeout" (endsKnown): the wait ended with its lock, so
// another thread released it, holding the GIL: a notification
// (Condition.wait, Event.wait, concurrent.futures.wait, a future's
// result, a queue's get: a waiter lock new for each wait, so that no lock
// is taken by several threads to be notified), as the model takes it
// (model.findNotifies). QA: a ThreadPoolExecutor of 2 CPU-bound tasks
// awaited with concurrent.futures.wait was "0.99x as processes", the wait
// counted as recorded; the what-if said 1.8x, processes measured 1.6x.
// Not for a wait still going at its thread's end (never notified), nor a
// lock's whose name marks a join (joinedUnseen). Without endsKnown a
// timed-out wait looks the same (review: Lock.acquire(timeout=0.6) given
// up beside two CPU-bound threads was tied to one of them, 1.80x where
// the truth was 1.1x), and such a wait takes as long as it took.
func (f *flow) notifiedAt(i int, sp *tracer.StateSpan) (int, int64, bool) {
	if !f.endsKnown {
		return 0, 0, false
	}
	return f.a.notifiedAt(i, sp)
}

// notifiedAt is flow.notifiedAt for a trace whose waits' ends are known.
func (a *analysis) notifiedAt(i int, sp *tracer.StateSpan) (int, int64, bool) {
	if i >= len(a.s.Threads) || sp.End >= a.s.Threads[i].End {
		return 0, 0, false
	}
	if l := sp.Lock(); int(l) < len(a.t.Locks) && joinLockName(a.t.Locks[l].Name) {
		return 0, 0, false
	}
	j, at, ok := a.notifier(i, sp)
	if ok && a.wokenByOther(j, sp.Start, at) {
		// The notifier passed on what another process sent (pool.map's
		// result handler, its pipe read ended by the workers): the flow,
		// which does not count such reads as work, would end the wait
		// before the workers' work (review: 553 ms -> 196 ms).
		return 0, 0, false
	}
	return j, at, ok
}

// wokenByOther reports whether thread j's last I/O before at, after from,
// ended while another process of the program computed (ioWork's
// otherCPU): it waited for that process. Only its last notifyScan spans
// are looked at.
func (a *analysis) wokenByOther(j int, from, at int64) bool {
	p := a.procOfThread(tracer.ThreadID(j))
	if a.otherCPU == nil || p < 0 || p >= len(a.otherCPU) || a.otherCPU[p] == nil || j >= len(a.s.Threads) {
		return false
	}
	ss := a.s.ThreadStates(tracer.ThreadID(j))
	x := sort.Search(len(ss), func(k int) bool { return ss[k].Start >= at })
	for k := x - 1; k >= 0 && k >= x-notifyScan && ss[k].End > from; k-- {
		if sp := &ss[k]; sp.State == tracer.StateIO {
			return overlap(a.otherCPU[p], max(sp.Start, sp.End-notifyWindow), sp.End) > 0
		}
	}
	return false
}

// notifyScan is how many of the notifier's spans before a notification
// wokenByOther looks at for its last I/O.
const notifyScan = 16

// waitChain is a loop of timed waits that ran out until a notified wait
// ended it (tracer.WaitChain): its timeouts' spans lie in [From, To), To
// the notified wait's start.
type waitChain struct{ From, To int64 }

// waitChains is, per thread, its loops of timed waits until notified
// (tracer.WaitChains) whose last wait has a notifier (notifiedAt), in
// time order. Such a loop waits for the notification: in the flow its
// timeouts take no time (counted), and the notified wait that ends it
// lasts until the notifier could get there; the loop ends then, or after
// its own checks between the waits. In the speedup arithmetic its
// timeouts are no work (ioWork).
//
// Computed once; nil when there is none.
func (a *analysis) waitChains() [][]waitChain {
	if a.chainsDone {
		return a.chains
	}
	a.chainsDone = true
	all := a.s.WaitChains()
	if len(all) == 0 {
		return nil
	}
	for id, cs := range all {
		i := int(id)
		if i >= len(a.r.Threads) {
			continue
		}
		ss := a.s.ThreadStates(id)
		for _, c := range cs {
			if _, _, ok := a.notifiedAt(i, &ss[c.Wait]); !ok {
				continue
			}
			if a.chains == nil {
				a.chains = make([][]waitChain, len(a.r.Threads))
			}
			a.chains[i] = append(a.chains[i], waitChain{From: c.From, To: c.To})
		}
	}
	return a.chains
}

// chained reports whether span sp of thread i is a timeout of one of its
// loops of timed waits until notified (waitChains).
func (f *flow) chained(i int, sp *tracer.StateSpan) bool {
	return i < len(f.chains) && f.a.chainedIn(f.chains[i], sp)
}

// chainedIn reports whether span sp is a timeout of one of the chains cs
// of its thread.
func (a *analysis) chainedIn(cs []waitChain, sp *tracer.StateSpan) bool {
	if sp.State != tracer.StateIO || int(sp.IOKind()) != a.timeoutK {
		return false
	}
	x := sort.Search(len(cs), func(j int) bool { return cs[j].To > sp.Start })
	return x < len(cs) && cs[x].From <= sp.Start
}

// notifyWindow is tracer.NotifyWindow: how long before a wait's end the
// GIL's last holder may have let it go and still be its notifier.
const notifyWindow = int64(tracer.NotifyWindow)

// joinSlack is how far after the end of a join's wait the joined thread's
// end may be recorded, as the model has it (model.joinSlack): CPython 3.12
// releases a thread's join lock as its thread state is torn down, just
// before the thread's last GIL release, which the trace records as its end
// (65 us after the joiner's acquire in a recorded countdown).
const joinSlack = int64(1e6)

// joinedUnseen is the threads that thread i's wait sp, on a lock named for
// a join, waited for, when the trace has no hold of that lock (a real
// program recorded without --lock-holds: the joined thread took its join
// lock uncontended at its start; CPython 3.13's joins, a parking-lot event
// set as the thread ends): as the model finds them (model.findJoins),
// every other thread of i's process that started before the wait and
// ended during it, or within joinSlack after it; none if the lock is not a
// join's. Without it the wait took as long as it took (QA: a countdown's
// main thread joining three workers was bounded at 389 ms "at the
// earliest", where the workers could have ended by 284 ms and the what-if
// replayed processes at 309 ms).
//
// A wait that ran out before any of them ended (a timed join in a loop,
// `while t.is_alive(): t.join(0.1)`, Ctrl-C friendly) waits for the
// threads that the same thread's next wait on the same lock joined: the
// lock is the joined thread's. Such a wait lasts, in the flow, until they
// could have ended or its recorded length, whichever is shorter (afterWait:
// a timed join returns at either), so that a loop of them ends when the
// threads could have (QA: such a loop around 2 hashing threads bounded the
// run "at about 1.62s", 1.08x as processes, where processes ran 2.05x as
// fast and the what-if predicted 1.86x), and a timed join given up before
// other work keeps that work where it was. A thread that never waited on
// the lock again took its wait as long as it was recorded.
//
// timed says which: the threads come from a later wait, this one ran out.
func (f *flow) joinedUnseen(i int, sp *tracer.StateSpan) (js []int, timed bool) {
	a := f.a
	l := sp.Lock()
	if int(l) >= len(a.t.Locks) || !joinLockName(a.t.Locks[l].Name) || i >= len(a.t.Threads) {
		return nil, false
	}
	ss := f.spans(i)
	k := sort.Search(len(ss), func(x int) bool { return ss[x].Start >= sp.Start })
	ws := f.joinWaitsOf(i, l)
	p := sort.Search(len(ws), func(x int) bool { return ws[x].k >= k })
	if p == len(ws) || ws[p].k != k {
		return f.joinedDuring(i, sp, sp.Start), false // a span not of thread i's list
	}
	if len(ws[p].joined) > 0 {
		return ws[p].joined, false
	}
	if ws[p].next < 0 {
		return nil, false
	}
	for _, j := range ws[ws[p].next].joined {
		if a.s.Threads[j].Start < sp.Start {
			js = append(js, j)
		}
	}
	return js, len(js) > 0
}

// joinedDuring is the other threads of thread i's process that started
// before begin and ended during thread i's wait sp (or within joinSlack
// after it), by their ends.
func (f *flow) joinedDuring(i int, sp *tracer.StateSpan, begin int64) []int {
	a := f.a
	var out []int
	for j := range a.s.Threads {
		th := &a.s.Threads[j]
		if j == i || j >= len(f.sps) || j >= len(a.t.Threads) || !th.Ended || a.t.Threads[j].Proc != a.t.Threads[i].Proc {
			continue
		}
		if th.Start < begin && sp.Start <= th.End && th.End <= sp.End+joinSlack {
			out = append(out, j)
		}
	}
	return out
}

// joinWait is one of a thread's waits for a join lock: its span's index,
// the threads it joined (joinedDuring), and the first wait at or after it
// on the same lock that joined any (an index into the lock's list, -1 if
// none).
type joinWait struct {
	k      int
	joined []int
	next   int
}

// joinWaitsOf is thread i's waits for lock l, a join's, in time order;
// listed once per thread, for every such lock.
func (f *flow) joinWaitsOf(i int, l tracer.LockID) []joinWait {
	if f.joinWaits == nil {
		f.joinWaits = make([]map[tracer.LockID][]joinWait, len(f.sps))
	}
	m := f.joinWaits[i]
	if m == nil {
		m = map[tracer.LockID][]joinWait{}
		ss := f.spans(i)
		for k := range ss {
			sp := &ss[k]
			if sp.State == tracer.StateLockWait && int(sp.Lock()) < len(f.a.t.Locks) && joinLockName(f.a.t.Locks[sp.Lock()].Name) {
				m[sp.Lock()] = append(m[sp.Lock()], joinWait{k: k, joined: f.joinedDuring(i, sp, sp.Start)})
			}
		}
		for _, ws := range m {
			next := -1
			for x := len(ws) - 1; x >= 0; x-- {
				if len(ws[x].joined) > 0 {
					next = x
				}
				ws[x].next = next
			}
		}
		f.joinWaits[i] = m
	}
	return m[l]
}

// openAtStop is, for a run giltrace stopped, the threads that thread i's
// last span, a wait for a lock that no release ended (the thread ended,
// killed or interrupted, still waiting), is taken to wait for: the other
// threads of i's process alive when the wait began. What it waited for
// never came, so its recorded length says nothing of how long it would
// have lasted; a program stopped while its main thread joins its workers
// is the common case (QA: a Thread.join on a lock the trace did not name
// bounded the whole program "at the earliest" at the stop, 1.01x as
// processes, beside a what-if of 1.90x). None for a run that ended by
// itself, or when no other thread was alive.
func (f *flow) openAtStop(i int, sp *tracer.StateSpan) []int {
	a := f.a
	if ss := f.spans(i); len(ss) == 0 || sp != &ss[len(ss)-1] || i >= len(a.s.Threads) || i >= len(a.t.Threads) || sp.End < a.s.Threads[i].End || !stoppedRun(a.t) {
		return nil
	}
	var out []int
	for j := range a.s.Threads {
		th := &a.s.Threads[j]
		if j == i || j >= len(f.sps) || j >= len(a.t.Threads) || a.t.Threads[j].Proc != a.t.Threads[i].Proc {
			continue
		}
		if th.Start < sp.Start && th.End > sp.Start {
			out = append(out, j)
		}
	}
	return out
}

// stoppedRun reports whether giltrace stopped the run (record's Ctrl-C,
// SIGTERM or SIGHUP; the metadata's "stopped", or "interrupted").
func stoppedRun(t *tracer.Trace) bool {
	return t.Meta.Extra["stopped"] != "" || t.Meta.Extra["interrupted"] == "true"
}

// joinLockName is tracer.JoinLockName.
func joinLockName(name string) bool { return tracer.JoinLockName(name) }

// joinHold reports whether hold h of lock l is a thread's hold to its end,
// which a join waits for (CPython's Thread.join, the VM's "join T" lock).
func (f *flow) joinHold(h *tracer.Hold, l tracer.LockID) bool {
	if h.Why == tracer.ReleaseThreadEnd || h.Why == tracer.ReleaseInterrupt {
		return true
	}
	if int(h.Thread) < len(f.a.s.Threads) && h.End >= f.a.s.Threads[h.Thread].End {
		return true
	}
	return int(l) < len(f.a.t.Locks) && joinLockName(f.a.t.Locks[l].Name)
}

// start fills thread i's earliest start, once.
func (f *flow) start(i int) {
	if f.state[i] == 2 {
		return
	}
	a := f.a
	b := f.off[i]
	if f.state[i] == 1 { // a cycle of starters in a corrupt trace
		f.setV(i, 0, a.reachableStarts()[i])
		f.state[i] = 2
		return
	}
	f.state[i] = 1
	ts := tracer.ThreadSpan{}
	if i < len(a.s.Threads) {
		ts = a.s.Threads[i]
	}
	var v int64
	switch {
	case ts.Existed:
		if a.blocked != nil {
			v = a.blocked[i] // its call before the trace first saw it, from 0
			f.w[b] = v
		}
	case f.causes != nil && f.causes[i].known && f.causes[i].timer:
		v = min(f.causes[i].atNS, ts.Start)
	case f.causes != nil && f.causes[i].known:
		c := f.causes[i]
		s := c.starter
		at := max(ts.Start-c.delayNS, 0)
		if s < len(a.s.Threads) {
			at = max(at, a.s.Threads[s].Start)
		}
		v = min(f.dep(s, at, i, 0, c.delayNS), ts.Start)
	default:
		v = a.reachableStarts()[i]
	}
	f.setV(i, 0, max(v, 0))
	f.state[i] = 2
}

// at is the earliest time thread i could have reached its recorded time t,
// from what is known: no later than the true answer.
func (f *flow) at(i int, t int64) int64 {
	v, _ := f.reach(i, t)
	return v
}

// reach is at, and the own work thread i had done by then.
func (f *flow) reach(i int, t int64) (v, w int64) {
	f.start(i)
	sps := f.spans(i)
	b := f.off[i]
	if len(sps) == 0 || t <= sps[0].Start {
		return f.vAt(i, 0), f.w[b]
	}
	k := sort.Search(len(sps), func(j int) bool { return sps[j].Start > t }) - 1
	if k >= f.done[i] {
		d := f.done[i]
		return f.vAt(i, d), f.w[b+d]
	}
	sp := &sps[k]
	if t >= sp.End {
		return f.vAt(i, k+1), f.w[b+k+1]
	}
	v, w = f.vAt(i, k), f.w[b+k]
	if c := f.counted(i, sp); c > 0 && sp.End > sp.Start {
		part := int64(float64(c) * float64(t-sp.Start) / float64(sp.End-sp.Start))
		v, w = v+part, w+part
	}
	return v, w
}

// end is the earliest time thread i could have ended, and its own work.
func (f *flow) end(i int) (v, w int64) {
	b := f.off[i+1] - 1
	if len(f.spans(i)) == 0 {
		f.start(i)
	}
	return f.vAt(i, b-f.off[i]), f.w[b]
}

// begin is the earliest time thread i could have started.
func (f *flow) begin(i int) int64 {
	f.start(i)
	return f.vAt(i, 0)
}

// piece is CPU work that cannot begin before at, after which the run
// cannot end before tail.
type piece struct{ at, ns, tail int64 }

// coresBound is the least time from `from` in which the CPU work of the
// threads sel selects can be done on cores cores: for every time T, the
// work that cannot begin before T takes that work over the cores after T
// (workers started after 200 ms of a main thread's set-up, 4 x 50 ms on
// 2 cores, end at 300 ms at best, not 250); and for every tail Q, the
// work of those pieces with a tail of Q or more is followed by Q (with
// tails: for the whole run). It returns the bound and the T, work and Q
// that set it.
func (f *flow) coresBound(sel func(int) bool, from int64, cores int, tails bool) (bound, at, work, after int64) {
	c := int64(max(cores, 1))
	// A thread's CPU spans close together are one piece, at the first's
	// time with the least tail of them: no cell of the grid counts more
	// work than it holds, and thousands of slices of a thread's compute
	// between GIL handoffs do not each cost a piece.
	near := max(f.a.wallNS/(4*gridSize), 1)
	var ps []piece
	for i := range f.a.r.Threads {
		if !sel(i) {
			continue
		}
		open := false
		// vAt, read in the order of k: ch[x] is the last change at or
		// before k.
		ch, x, base := f.dv[i], -1, f.off[i]
		for k, sp := range f.spans(i) {
			switch sp.State {
			case tracer.StateRunning, tracer.StateNative, tracer.StateNativeHolding:
			default:
				continue
			}
			d := sp.End - sp.Start
			if d <= 0 {
				continue
			}
			for x+1 < len(ch) && ch[x+1].k <= k {
				x++
			}
			v := f.w[base+k]
			if x >= 0 {
				v += ch[x].d
			}
			at := max(v-from, 0)
			tail := int64(0)
			if tails {
				tail = f.tailOf(i, k+1)
			}
			if last := len(ps) - 1; open && at-ps[last].at < near {
				ps[last].ns += d
				ps[last].tail = min(ps[last].tail, tail)
				continue
			}
			ps = append(ps, piece{at: at, ns: d, tail: tail})
			open = true
		}
	}
	if len(ps) == 0 {
		return 0, 0, 0, 0
	}
	// The times T and tails Q tried: every one, up to gridSize of each
	// (then the lowest of each group of them: still a bound).
	ats, qs := grid(ps, func(p piece) int64 { return p.at }), grid(ps, func(p piece) int64 { return p.tail })
	// sum[x][y]: the work of the pieces at ats[x] or later with a tail of
	// qs[y] or more.
	nx, ny := len(ats), len(qs)
	sum := make([]int64, (nx+1)*(ny+1))
	for _, p := range ps {
		x := sort.Search(nx, func(j int) bool { return ats[j] > p.at }) - 1
		y := sort.Search(ny, func(j int) bool { return qs[j] > p.tail }) - 1
		sum[x*(ny+1)+y] += p.ns
	}
	for x := nx - 1; x >= 0; x-- {
		for y := ny - 1; y >= 0; y-- {
			sum[x*(ny+1)+y] += sum[(x+1)*(ny+1)+y] + sum[x*(ny+1)+y+1] - sum[(x+1)*(ny+1)+y+1]
		}
	}
	for x := range nx {
		for y := range ny {
			w := sum[x*(ny+1)+y]
			if w == 0 {
				continue
			}
			if v := ats[x] + w/c + qs[y]; v > bound {
				bound, at, work, after = v, ats[x], w, qs[y]
			}
		}
	}
	return bound, at, work, after
}

// gridSize is the most times (and tails) coresBound tries.
const gridSize = 256

// grid is the distinct values of key over ps, sorted; past gridSize of
// them, every k-th (the lowest of each group).
func grid(ps []piece, key func(piece) int64) []int64 {
	vs := make([]int64, len(ps))
	for i, p := range ps {
		vs[i] = key(p)
	}
	slices.Sort(vs)
	vs = slices.Compact(vs)
	if len(vs) <= gridSize {
		return vs
	}
	step := (len(vs) + gridSize - 1) / gridSize
	out := vs[:0]
	for i := 0; i < len(vs); i += step {
		out = append(out, vs[i])
	}
	return out
}

// tails fills, backwards, each boundary's tail: the least time from
// there to the end of the run. A thread's tail at a boundary is its own
// work after it (the waits that take their time, as in the forward pass),
// and, for each dependency the forward pass used from this thread (a
// thread it starts, a joiner waiting for its end), the time from here to
// that dependency's point, its delay and the dependent's tail there.
// Each thread is done from its end backwards; a dependency's tail is made
// known first (ensure: the dependent's boundaries from its end down to
// that point), so the dependents' tails are final when read. A
// dependency back onto a thread being done (a tie in time) takes what is
// known: no more than the true tail. (A heap of every thread's next span
// by start, the order this replaced, cost a heap operation per span: a
// quarter of the diagnosis of a 1.9 M-event run.)
func (f *flow) tails() {
	n := len(f.a.r.Threads)
	out := make([][]edge, n) // edges by source thread, latest first
	for _, e := range f.edges {
		if e.from < n {
			out[e.from] = append(out[e.from], e)
		}
	}
	if len(f.edges) == 0 && !f.lockWaits {
		// Nothing waits for a thread, and no thread waits for a lock: a
		// tail is the thread's own work after it (tailOf), with no array.
		return
	}
	f.tail = make([]int64, len(f.w))
	tracer.AdviseHugePages(f.tail)
	for i := range out {
		slices.SortFunc(out[i], func(x, y edge) int { return cmp.Compare(y.at, x.at) })
	}
	cur := make([]int, n) // per thread: the next span to do, backwards; -1 when done
	for i := range n {
		cur[i] = len(f.sps[i]) - 1
	}
	endDone := make([]bool, n)
	busy := make([]bool, n)
	var ensure func(i, k int)
	// dependent is the tail of edge e's dependent at its point, known.
	dependent := func(e edge) int64 {
		if e.to < n {
			ensure(e.to, e.k)
		}
		return f.tail[f.off[e.to]+e.k]
	}
	// ensure makes thread i's tails known down to its boundary k.
	ensure = func(i, k int) {
		if busy[i] || cur[i] < k && endDone[i] {
			return
		}
		busy[i] = true
		defer func() { busy[i] = false }()
		sps := f.sps[i]
		if !endDone[i] {
			endDone[i] = true
			if last := len(sps) - 1; last >= 0 {
				// Its end: a joiner's dependency on it.
				b := f.off[i] + last
				for len(out[i]) > 0 && out[i][0].at >= sps[last].End {
					e := out[i][0]
					out[i] = out[i][1:]
					f.tail[b+1] = max(f.tail[b+1], e.delay+dependent(e))
				}
			}
		}
		for cur[i] >= k {
			k0 := cur[i]
			sp := &sps[k0]
			b := f.off[i] + k0
			t := f.tail[b+1] + f.own(i, sp)
			for len(out[i]) > 0 && out[i][0].at >= sp.Start {
				e := out[i][0]
				out[i] = out[i][1:]
				part := int64(0)
				if c := f.counted(i, sp); c > 0 && sp.End > sp.Start {
					part = int64(float64(c) * float64(min(e.at, sp.End)-sp.Start) / float64(sp.End-sp.Start))
				}
				t = max(t, part+e.delay+dependent(e))
			}
			f.tail[b] = t
			cur[i]--
		}
	}
	for i := range n {
		ensure(i, 0)
	}
}

// own is what span sp of thread i takes of the thread's own time in the
// flow: its work, a wait that takes its time; not a GIL wait, a mutex's,
// nor a join's (whose dependency is an edge).
func (f *flow) own(i int, sp *tracer.StateSpan) int64 {
	if sp.State != tracer.StateLockWait {
		return f.counted(i, sp)
	}
	l := sp.Lock()
	if int(l) < len(f.shared) && f.shared[l] {
		return 0
	}
	if int(l) < len(f.notify) && f.notify[l] {
		if _, _, ok := f.notifier(i, sp); ok {
			return 0 // an edge (afterWait)
		}
		return sp.End - sp.Start
	}
	hs := f.a.s.LockHolds(l)
	x := sort.Search(len(hs), func(j int) bool { return f.a.s.Holds[hs[j]].End > sp.End }) - 1
	for ; x >= 0; x-- {
		h := &f.a.s.Holds[hs[x]]
		if h.End < sp.Start {
			break
		}
		if int(h.Thread) != i {
			return 0 // ended by another thread's release: an edge, or a mutex
		}
	}
	if js, _ := f.joinedUnseen(i, sp); len(js) > 0 || len(f.openAtStop(i, sp)) > 0 {
		return 0 // a join the trace has no hold of, or a wait open at the stop: an edge (afterWait)
	}
	if _, _, ok := f.notifiedAt(i, sp); ok {
		return 0 // a notification: an edge (afterWait)
	}
	return sp.End - sp.Start
}

// tailOf is thread i's tail at its boundary k: without f.tail (nothing
// waits for any thread and none waits for a lock: tails), its own work
// after it.
func (f *flow) tailOf(i, k int) int64 {
	if f.tail == nil {
		return f.w[f.off[i+1]-1] - f.w[f.off[i]+k]
	}
	return f.tail[f.off[i]+k]
}

// tailAt is thread i's tail at its recorded time t.
func (f *flow) tailAt(i int, t int64) int64 {
	sps := f.spans(i)
	if len(sps) == 0 || t <= sps[0].Start {
		return f.tailOf(i, 0)
	}
	k := sort.Search(len(sps), func(j int) bool { return sps[j].Start > t }) - 1
	sp := &sps[k]
	if t >= sp.End {
		return f.tailOf(i, k+1)
	}
	rest := int64(0)
	if c := f.own(i, sp); c > 0 && sp.End > sp.Start {
		rest = int64(float64(c) * float64(sp.End-t) / float64(sp.End-sp.Start))
	}
	return f.tailOf(i, k+1) + rest
}

// section is a critical section of a shared lock: its thread cannot enter
// it before release, does work in it, and the run cannot end before tail
// after it (tails).
type section struct{ release, work, tail int64 }

// lockBound is the least time from `from` in which the critical sections
// of shared lock l held by the threads sel selects can run, one at a time,
// and the run end after them: each begins no earlier than its thread
// could get there, and after each the run still has its tail (with tails,
// for the whole run; else its thread's own work after it). The
// sections, one at a time, are a single machine's jobs with release and
// delivery times; the best schedule that may interrupt a section (the
// longest tail first among those released: Jackson's rule) ends no later
// than the best that does not, so it is a bound. It also returns the
// sections' work and the earliest any could begin.
func (f *flow) lockBound(l tracer.LockID, sel func(int) bool, from int64, tails bool) (bound, work, first int64) {
	var ss []section
	for _, hi := range f.a.s.LockHolds(l) {
		h := &f.a.s.Holds[hi]
		i := int(h.Thread)
		if i >= len(f.a.r.Threads) || !sel(i) {
			continue
		}
		v0, w0 := f.reach(i, h.Start)
		_, w1 := f.reach(i, h.End)
		sc := section{release: max(v0-from, 0), work: max(w1-w0, 0)}
		if tails {
			sc.tail = f.tailAt(i, h.End)
		} else {
			_, we := f.end(i)
			sc.tail = max(we-w1, 0) // its own work after it
		}
		ss = append(ss, sc)
		work += max(w1-w0, 0)
	}
	if len(ss) == 0 {
		return 0, 0, 0
	}
	slices.SortFunc(ss, func(x, y section) int { return cmp.Compare(x.release, y.release) })
	first = ss[0].release
	return jackson(ss), work, first
}

// jackson is the end of the preemptive schedule of ss (sorted by release)
// that runs, at each moment, the released section with the longest tail:
// the latest of its sections' ends plus their tails.
func jackson(ss []section) int64 {
	h := &tailQueue{}
	var t, end int64
	k := 0
	for k < len(ss) || h.Len() > 0 {
		if h.Len() == 0 {
			t = max(t, ss[k].release)
		}
		for k < len(ss) && ss[k].release <= t {
			heap.Push(h, ss[k])
			k++
		}
		s := heap.Pop(h).(section)
		next := int64(math.MaxInt64)
		if k < len(ss) {
			next = ss[k].release
		}
		if run := min(s.work, next-t); run < s.work {
			t += run
			s.work -= run
			heap.Push(h, s)
			continue
		}
		t += s.work
		end = max(end, t+s.tail)
	}
	return end
}

// tailQueue is a heap of sections, the longest tail first.
type tailQueue []section

func (q tailQueue) Len() int           { return len(q) }
func (q tailQueue) Less(x, y int) bool { return q[x].tail > q[y].tail }
func (q tailQueue) Swap(x, y int)      { q[x], q[y] = q[y], q[x] }
func (q *tailQueue) Push(x any)        { *q = append(*q, x.(section)) }
func (q *tailQueue) Pop() any {
	x := (*q)[len(*q)-1]
	*q = (*q)[:len(*q)-1]
	return x
}
