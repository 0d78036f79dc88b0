package tracer

import (
	"cmp"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// WaitChain is a thread's loop of timed waits that ran out until one
// ended otherwise: `while not event.wait(0.1): pass`, a worker's
// `queue.get(timeout=0.1)` until an item comes, a
// `concurrent.futures.wait(fs, timeout=0.1)` loop. Its timeouts (I/O
// "lock-timeout") are ThreadStates(thread)[First:Wait], with the loop's
// checks between them; the wait at Wait (StateLockWait) ended with its
// lock: most often a notification (Condition.notify, Event.set, a queue's
// put), which the diagnosis and the model look for. Such a loop waits for
// that notification: with the notifier sooner, the timeout in progress
// would have been cut short by it and the next not begun.
type WaitChain struct {
	First, Wait int
	From, To    int64 // the first timeout's start, the wait's start
}

// WaitChains finds, by thread, its loops of timed waits (WaitChain), in
// time order, when the trace shows every wait for a guest lock that ran
// out as I/O "lock-timeout" (WaitEndsKnown). A chain is one timeout at
// least, each followed, within chainMaxGap of other work (GIL waits
// aside; no other I/O, no other lock wait), by the next timeout or by the
// wait that ends it; a timeout followed by other work (a Lock.acquire
// with a timeout, given up) is in no chain. Nor is a loop that others
// wait for: a ticker, `while not stop.wait(0.02): q.put(item)`, paces
// its consumer, and taken for a wait for its stop it moved the consumer's
// work to the start (review: "replayed as recorded" 54 % shorter than the
// run). A loop is one when no other thread of its process started during
// it, and no other thread's wait for a guest lock ended during it while
// the loop's thread held the GIL (or had let it go within
// NotifyWindow): the notifies of a Condition, an Event or a queue are
// given holding the GIL. Only in a process with a GIL, where a notifier
// can be found.
//
// Computed once.
func (s *Spans) WaitChains() map[ThreadID][]WaitChain {
	s.chainsOnce.Do(func() { s.chains = s.findChains() })
	return s.chains
}

// chainMaxGap is the most work, GIL waits aside, between two waits of a
// WaitChain: the loop's checks between them (a Poll's).
const chainMaxGap = pollMaxGap

// NotifyWindow is how long before a wait ended the GIL's last holder may
// have let it go and still be taken for its notifier (Notifier): the
// waiter's wake-up through the kernel.
const NotifyWindow = 1_000_000

// IdleNotifyWindow is how long before a wait ended the GIL's last holder
// may have let it go and still be taken for its notifier (Notifier) when
// nobody held the GIL of the waiter's process since, in a trace whose
// waits that ran out are told apart (WaitEndsKnown): such a wait ended
// with its lock, which a thread released holding the GIL, and in the
// idle stretch no other thread of the process could have. Its wake-up
// needs a core, which on a loaded machine comes late (QA: a pool's task
// handler, recorded on 1 busy core, woke 4.4 ms after the worker handler
// put its sentinel on the task queue and ended; kept at its recorded
// length, 872 ms, it held every what-if row to the run's wall).
const IdleNotifyWindow = 20_000_000

// Notifier is the thread that ended thread waiter's wait, ending at end,
// for a notification, and where in its time: the thread holding the GIL
// of waiter's process when the wait ended (the notifier releases the
// waiter's lock holding the GIL, and runs on), else the last other thread
// to hold it, if it let it go within NotifyWindow before (within
// IdleNotifyWindow in a trace whose timeouts are told apart, if the waiter
// did not hold the GIL in between and that thread was not itself just
// woken from a wait for a lock: wokenFor), at the end of
// that hold (the notify goes there, not into whatever it did next). None
// in a process without a GIL, or when nobody ran then (a timeout, a
// notify from another process). The diagnosis's flow, the what-if's model
// and the loops of timed waits (WaitChains) find notifiers so.
func (s *Spans) Notifier(waiter ThreadID, end int64) (ThreadID, int64, bool) {
	t := s.Trace
	if int(waiter) >= len(t.Threads) {
		return NoThread, 0, false
	}
	p := t.Threads[waiter].Proc
	if int(p) >= len(t.Procs) || t.Procs[p].GIL == NoLock {
		return NoThread, 0, false
	}
	hs := s.LockHolds(t.Procs[p].GIL)
	k := sort.Search(len(hs), func(j int) bool { return s.Holds[hs[j]].End > end })
	if k < len(hs) {
		if h := &s.Holds[hs[k]]; h.Start <= end && h.Thread != waiter {
			return h.Thread, end, true
		}
	}
	own := false // a hold of the waiter's own since
	for j := k - 1; j >= 0 && j >= k-4; j-- {
		h := &s.Holds[hs[j]]
		if h.Thread == waiter {
			own = true
			continue
		}
		if end-h.End <= NotifyWindow || !own && end-h.End <= IdleNotifyWindow && WaitEndsKnown(t) && !s.wokenFor(h) {
			return h.Thread, h.End, true
		}
		break
	}
	return NoThread, 0, false
}

// wokenFor reports whether hold h of the GIL began its thread's run after
// a wait for a guest lock (its GIL wait aside): a thread that a notify
// woke, perhaps the same notify as a later waiter's (Event.set,
// notify_all), whose setter let the GIL go before it (review: W2, woken 4
// ms after W1's hold, was tied to W1 and not to the setter). Notifier's
// idle window does not take it.
func (s *Spans) wokenFor(h *Hold) bool {
	t := s.Trace
	sts := s.ThreadStates(h.Thread)
	i := sort.Search(len(sts), func(j int) bool { return sts[j].End > h.Start }) - 1
	for ; i >= 0 && (sts[i].State == StateGILWait || sts[i].End <= sts[i].Start); i-- {
	}
	return i >= 0 && sts[i].State == StateLockWait && !(int(sts[i].Lock()) < len(t.Locks) && t.Locks[sts[i].Lock()].GIL)
}

// OwnIOKind is the I/O kind of a real program's call that waited on a pipe
// or loopback connection whose other end its own process holds (the
// recorder's readings found it so: source/cpython, ownio.go): a wait until
// another of its threads writes, which the diagnosis and the model end
// where that thread (Writer) could get there, as a notified wait, not
// work (a multiprocessing.pool.ThreadPool's worker handler, polling its
// change notifier until the pool closes, was the run's "one thread's
// work": 1.0x as processes, measured 1.43-1.65x).
const OwnIOKind = "own-io"

// OwnIOKindOf is the StringID of I/O OwnIOKind in a real program's trace
// (metadata source=cpython), 0 when it has none or is a VM run, whose
// workloads may name a kind so, a timed I/O that nothing ends sooner.
func OwnIOKindOf(t *Trace) StringID {
	if t.Meta.Extra["source"] != "cpython" {
		return 0
	}
	return StringID(max(slices.Index(t.Strings, OwnIOKind), 0))
}

// NotDescriptorKinds are the I/O kinds of a real program's blocking calls
// that wait on no file descriptor (a sleep, a timed-out lock wait, a wait
// for a connection or a process, an extension's C call found asleep): no
// write to a pipe (Writer), nor I/O the readings of threads asleep on a
// descriptor speak of (diagnosis.OwnIO).
var NotDescriptorKinds = []string{"sleep", "lock-timeout", "listen", "wait", "native-wait", SemaphoreKind}

// SemaphoreKind is the I/O kind of a real program's wait on a
// multiprocessing semaphore (a SemLock: multiprocessing.Lock, Semaphore,
// the locks of a Pool's queues), which another process's thread releases
// (Released). Recorded as "wait" before 2026-12-05.
const SemaphoreKind = "semaphore"

// NotDescriptorKindsOf is the set of trace t's StringIDs of
// NotDescriptorKinds.
func NotDescriptorKindsOf(t *Trace) map[StringID]bool {
	out := map[StringID]bool{}
	for _, k := range NotDescriptorKinds {
		if i := slices.Index(t.Strings, k); i > 0 {
			out[StringID(i)] = true
		}
	}
	return out
}

// WriteWindow is how long before a wait on the process's own pipe ended
// the writer's write may have ended (Writer): the reader's wake-up comes
// after the write, later on a busy machine (review: an asyncio worker's
// send ended 1.06-1.43 ms before its loop woke).
const WriteWindow = 5_000_000

// Writer is the thread that wrote what ended thread waiter's wait on its
// process's own pipe (I/O OwnIOKind) at end, and where in its time: of
// the other threads of its process with a blocking call (a write releases
// the GIL) begun within WriteWindow before end and ended from WriteWindow
// before it to NotifyWindow after, the one whose call ended nearest end,
// at the start of that call, when every other's ended writeClear times as
// far. A write is short and comes before the wake-up, which a
// busy machine delays (review: an asyncio worker's send ended 1.06-1.43
// ms before its loop woke); a read begun long before and ended by the
// same broadcast is no write (review). Not a sleep, a timeout, a wait for
// a connection or a process. None when no thread wrote then (a signal's
// wake-up descriptor, written by the interpreter's handler: the GIL's
// holder then is no writer, review), nor when two threads could have as
// well (review: a thread of short file reads beside the real writer was
// taken for it in 24 of 36 waits).
func (s *Spans) Writer(waiter ThreadID, end int64) (ThreadID, int64, bool) {
	t := s.Trace
	if int(waiter) >= len(t.Threads) {
		return NoThread, 0, false
	}
	s.writesOnce.Do(s.indexWrites)
	ws := s.writes
	k := sort.Search(len(ws), func(j int) bool { return s.States[ws[j]].End >= end-WriteWindow })
	// The nearest call, and the nearest of another thread than its: how
	// near the wake-up a call is is its end (a write of the process
	// returns before its reader gets the GIL).
	best, other := -1, int64(math.MaxInt64)
	dist := func(sp *StateSpan) int64 { return abs64(sp.End - end) }
	for ; k < len(ws); k++ {
		sp := &s.States[ws[k]]
		if sp.End > end+NotifyWindow {
			break
		}
		if sp.Thread == waiter || sp.Start > end || sp.Start < end-WriteWindow || int(sp.Thread) >= len(t.Threads) || t.Threads[sp.Thread].Proc != t.Threads[waiter].Proc {
			continue
		}
		d := dist(sp)
		switch {
		case best < 0:
			best = ws[k]
		case s.States[best].Thread == sp.Thread:
			if d < dist(&s.States[best]) {
				best = ws[k]
			}
		case d < dist(&s.States[best]):
			other = min(other, dist(&s.States[best]))
			best = ws[k]
		default:
			other = min(other, d)
		}
	}
	if best < 0 {
		return NoThread, 0, false
	}
	if d := dist(&s.States[best]); other < writeClear*d+writeSlack {
		return NoThread, 0, false // two threads could have written
	}
	return s.States[best].Thread, s.States[best].Start, true
}

// WriterElsewhere is Writer among the threads of the program's other
// processes: the thread that wrote what ended thread waiter's wait on a
// pipe between processes (a multiprocessing pool's task and result
// queues, a Connection) at end, and where in its time, by the same rules
// but two: the call is the one begun nearest before end, up to
// WriteWindowElsewhere before it, and it may return up to ExitWindow after
// end. The reader woke at the write, and the writer, a process of its
// own, gets its core back when the machine gives it (a pool recorded on 1
// core: a worker's result write, begun 0.13 ms before the worker handler
// woke, returned 2.4 ms after it; another, begun 3.8 ms before the result
// handler woke, 13 ms after). None when another thread's call began
// nearly as near, as for Writer, unless that call is a read of a
// multiprocessing Connection (connectionRead) or the wait is one that
// only a write ends (connectionRecv, untimedPoolWait): writerElsewhere.
func (s *Spans) WriterElsewhere(waiter ThreadID, end int64) (ThreadID, int64, bool) {
	if int(waiter) >= len(s.Trace.Threads) {
		return NoThread, 0, false
	}
	s.writesOnce.Do(s.indexWrites)
	return s.writerElsewhere(waiter, end)
}

// WriteWindowElsewhere is how long before a wait on a pipe between
// processes ended the write that ended it may have begun
// (WriterElsewhere): the reader's wake-up needs a core, which on a loaded
// machine the writer's and the other processes hold (QA: a
// ProcessPoolExecutor's manager thread, recorded on 1 core, woke 5.9 ms
// after a worker began sending its result).
const WriteWindowElsewhere = 20_000_000

// connectionRead reports whether stack id is in a read of a
// multiprocessing Connection (its innermost frame Connection._recv,
// recv_bytes, poll in multiprocessing/connection.py): a call that wrote
// nothing. A pool worker's read of its next task, begun just before the
// worker handler woke for the other worker's result, was taken for a
// rival writer (QA: the 393 ms wait then kept its length, and the pool
// was predicted 571 ms on 2 cores where 426 ms was right).
func connectionRead(t *Trace, id StackID) bool {
	switch connectionFunc(t, id) {
	case "_poll", "poll":
		return true
	}
	return connectionRecv(t, id)
}

// connectionRecv reports whether stack id is in a receive of a
// multiprocessing Connection (not a poll, which may time out): a read
// that only a write ends.
func connectionRecv(t *Trace, id StackID) bool {
	switch connectionFunc(t, id) {
	case "_recv", "_recv_bytes", "recv", "recv_bytes", "recv_bytes_into":
		return true
	}
	return false
}

// untimedPoolWait reports whether stack id is in the wait of a
// multiprocessing.Pool's worker handler (Pool._wait_for_updates) or of a
// ProcessPoolExecutor's manager thread (wait_result_broken_or_wakeup):
// waits on the pool's result pipe, its workers' sentinels and its change
// notifier with no timeout, which only a write or an exit ends (QA: a
// Pool(4)'s handler woke 2.9 ms after one worker's result write began and
// 8.2 ms after another's; taken for neither, its 285 ms held the run's
// end on 2 cores).
func untimedPoolWait(t *Trace, id StackID) bool {
	for s, n := id, 0; s != NoStack && int(s) < len(t.Stacks) && n < len(t.Stacks); s, n = t.Stacks[s].Parent, n+1 {
		if int(t.Stacks[s].Frame) >= len(t.Frames) {
			continue
		}
		f := t.Frames[t.Stacks[s].Frame]
		switch base := filepath.Base(f.File); {
		case base == "pool.py" && strings.HasSuffix(f.Func, "_wait_for_updates"),
			base == "process.py" && strings.HasSuffix(f.Func, "wait_result_broken_or_wakeup"):
			return true
		}
	}
	return false
}

// connectionFunc is the function of stack id's innermost frame, without
// its class, if it is in multiprocessing/connection.py; "" otherwise.
func connectionFunc(t *Trace, id StackID) string {
	if id == NoStack || int(id) >= len(t.Stacks) || int(t.Stacks[id].Frame) >= len(t.Frames) {
		return ""
	}
	f := t.Frames[t.Stacks[id].Frame]
	if filepath.Base(f.File) != "connection.py" {
		return ""
	}
	fn := f.Func
	if i := strings.LastIndexByte(fn, '.'); i >= 0 {
		fn = fn[i+1:]
	}
	return fn
}

// writerElsewhere is WriterElsewhere: the calls of the other processes'
// threads begun from WriteWindowElsewhere before end to end and returned
// by ExitWindow after it, walked from the one begun last: the nearest,
// unless a call of another thread began nearly as near (writeClear
// times as far, and writeSlack more), which could as well have written
// (review: a parent's select timeouts beside two children logging every
// 2 ms were tied to a log write).
func (s *Spans) writerElsewhere(waiter ThreadID, end int64) (ThreadID, int64, bool) {
	t := s.Trace
	ws := s.writesBy
	k := sort.Search(len(ws), func(j int) bool { return s.States[ws[j]].Start > end }) - 1
	// A wait in a Connection's receive, or a pool's wait with no timeout,
	// ended with a write (or an exit), any of them: when two began as
	// near, the nearest (QA: a parent's Queue.get of its children's
	// results, sent 2.2 and 3.7 ms before it woke, kept its 435 ms).
	recv := false
	if sts := s.ThreadStates(waiter); len(sts) > 0 {
		i := sort.Search(len(sts), func(j int) bool { return sts[j].End >= end })
		recv = i < len(sts) && sts[i].End == end && sts[i].State == StateIO && (connectionRecv(t, sts[i].Stack) || untimedPoolWait(t, sts[i].Stack))
	}
	best := -1
	for ; k >= 0; k-- {
		sp := &s.States[ws[k]]
		d := end - sp.Start
		if d > WriteWindowElsewhere || best >= 0 && d >= writeClear*(end-s.States[best].Start)+writeSlack {
			break // past the window, or far enough that best is clear
		}
		if sp.Thread == waiter || sp.End > end+ExitWindow || int(sp.Thread) >= len(t.Threads) || t.Threads[sp.Thread].Proc == t.Threads[waiter].Proc || connectionRead(t, sp.Stack) {
			continue
		}
		switch {
		case best < 0:
			best = ws[k]
		case s.States[best].Thread != sp.Thread && !recv:
			return NoThread, 0, false // two threads could have written
		}
	}
	if best < 0 {
		return NoThread, 0, false
	}
	return s.States[best].Thread, s.States[best].Start, true
}

// Released is the thread of another process that released the
// multiprocessing semaphore thread waiter waited on from start to end (I/O
// SemaphoreKind), and where in its time: of the other processes' threads,
// the one whose call in a multiprocessing Connection (a read or a write)
// returned last before end, after start and at most IdleNotifyWindow
// before, at that return. A queue's get and put hold its read or write
// lock around that call and let it go when it returns: a Pool's idle
// workers wait on the task queue's read lock while one of them reads
// (QA: 3 to 6 such waits of 20-60 ms in a Pool(4)'s run kept their
// length). None when no such call returned then.
func (s *Spans) Released(waiter ThreadID, start, end int64) (ThreadID, int64, bool) {
	t := s.Trace
	if int(waiter) >= len(t.Threads) {
		return NoThread, 0, false
	}
	s.writesOnce.Do(s.indexWrites)
	ws := s.writes // by end
	k := sort.Search(len(ws), func(j int) bool { return s.States[ws[j]].End > end }) - 1
	for ; k >= 0; k-- {
		sp := &s.States[ws[k]]
		if sp.End < max(start, end-IdleNotifyWindow) {
			break
		}
		if sp.Thread == waiter || int(sp.Thread) >= len(t.Threads) || t.Threads[sp.Thread].Proc == t.Threads[waiter].Proc || connectionFunc(t, sp.Stack) == "" {
			continue
		}
		return sp.Thread, sp.End, true
	}
	return NoThread, 0, false
}

// ExitWindow is how long before a wait for a child process ended the
// child may have exited (Exited): the parent's wake-up needs a core, which
// on a loaded machine the other children hold (QA: a parent's
// Process.join on 1 core returned 6.9 ms after its child's exit).
const ExitWindow = 50_000_000

// Exited is the thread whose end ended thread waiter's wait for a child
// process (I/O "wait": os.waitpid, Process.join) begun at start and ended
// at end: the last thread to end of another process whose last thread
// ended from ExitWindow before end to end, after start, and where in its
// time (its end). None when no process ended then, nor when two could
// have as well (as Writer tells them apart).
func (s *Spans) Exited(waiter ThreadID, start, end int64) (ThreadID, int64, bool) {
	t := s.Trace
	if int(waiter) >= len(t.Threads) || len(s.Threads) < len(t.Threads) {
		return NoThread, 0, false
	}
	last := make([]ThreadID, len(t.Procs)) // per process, its thread that ended last
	for i := range last {
		last[i] = NoThread
	}
	for id := range t.Threads {
		p := t.Threads[id].Proc
		if int(p) >= len(last) {
			continue
		}
		if l := last[p]; l == NoThread || s.Threads[id].End > s.Threads[l].End {
			last[p] = ThreadID(id)
		}
	}
	best, other := NoThread, int64(math.MaxInt64)
	for p, id := range last {
		if id == NoThread || ProcID(p) == t.Threads[waiter].Proc || !s.Threads[id].Ended {
			continue
		}
		e := s.Threads[id].End
		if e < max(start, end-ExitWindow) || e > end {
			continue
		}
		if best == NoThread || e > s.Threads[best].End {
			if best != NoThread {
				other = min(other, end-s.Threads[best].End)
			}
			best = id
		} else {
			other = min(other, end-e)
		}
	}
	if best == NoThread {
		return NoThread, 0, false
	}
	if d := end - s.Threads[best].End; other < writeClear*d+writeSlack {
		return NoThread, 0, false // two processes could have ended it
	}
	return best, s.Threads[best].End, true
}

// A writer is told apart from another thread's call that ended near the
// wake-up too when that call ended writeClear times as far from it, and
// writeSlack more (an asyncio worker's send 1.4 ms before its loop woke,
// the shutdown thread's 40 us before: the second; a bystander's file read
// every 0.2 ms beside the real writer: neither, as a rule).
const (
	writeClear = 4
	writeSlack = 10_000
)

func abs64(x int64) int64 { return max(x, -x) }

// indexWrites lists the I/O spans that may be a write (Writer), by end.
func (s *Spans) indexWrites() {
	skip := NotDescriptorKindsOf(s.Trace)
	for i := range s.States {
		sp := &s.States[i]
		if sp.State == StateIO && !skip[sp.IOKind()] {
			s.writes = append(s.writes, i)
		}
	}
	slices.SortFunc(s.writes, func(a, b int) int { return cmp.Compare(s.States[a].End, s.States[b].End) })
	s.writesBy = slices.Clone(s.writes)
	slices.SortFunc(s.writesBy, func(a, b int) int { return cmp.Compare(s.States[a].Start, s.States[b].Start) })
}

// WaitEndsKnown reports whether trace t shows every wait for a guest lock
// that ran out as I/O "lock-timeout", so that a wait that ended otherwise
// got its lock: a real program recorded with its lock holds observed, or
// by a recorder that tells the timeouts by their length (metadata
// lock_wait_ends=known). In other traces of real programs a timed-out wait
// looks like one that got its lock.
func WaitEndsKnown(t *Trace) bool {
	return t.Meta.Extra["lock_wait_ends"] == "known" || t.Meta.Extra["lock_holds"] == "observed"
}

// LoopedTimeouts finds, by thread, its timed waits that ran out (I/O
// "lock-timeout") in a loop until a wait got its lock: runs of timeouts
// at one call site (the same stack), each followed, after no more work
// and other I/O than it lasted (2 ms at least: a progress print took 2-4
// ms beside two CPU-bound threads), by the next or by the wait that ends
// the run, at the same site, not a Thread.join, that got its lock while
// another thread held the GIL (or had let it go within NotifyWindow:
// a notifier); and, as for a WaitChain, nothing that other threads waited
// for. Such a loop waits for something another thread does:
// `cf.wait(fs, timeout=0.1)` with a progress print or the finished
// futures' work between, `Lock.acquire(timeout=0.05)` round two locks
// until one is free, `event.wait(0.02)` then some work. With that thread
// sooner, fewer of them would run out: each lasts, in the diagnosis's
// flow and the what-if's model, until the thread that held the GIL when
// it ran out could get there, at most its length, as a wait notified by
// it would (QA: replayed as fixed timeouts, such loops beside 2 CPU-bound
// workers were 1.15-1.4x as processes where processes ran 1.5-2x as
// fast). A loop that no wait ends (a ticker of a fixed count, `for _ in
// range(24): stop.wait(0.05)`, whose timeouts run out because nothing
// comes; review: taken for waits, it ended before its own 1.2 s) and a
// timeout given up (followed by other work, by a join, or by a wait
// elsewhere) are in none, nor are a WaitChain's timeouts. The indexes are
// into ThreadStates, in order.
//
// Computed once, with WaitChains.
func (s *Spans) LoopedTimeouts() map[ThreadID][]int {
	s.WaitChains()
	return s.looped
}

// LoopWait is the time thread id spent in the timeouts of its loops of
// timed waits (WaitChains whose wait had a notifier, LoopedTimeouts), but
// those inside its Poll: a wait for another thread, not work.
func (s *Spans) LoopWait(id ThreadID) int64 {
	s.WaitChains()
	return s.loopWait[id]
}

func (s *Spans) findChains() map[ThreadID][]WaitChain {
	t := s.Trace
	if !WaitEndsKnown(t) {
		return nil
	}
	i := slices.Index(t.Strings, "lock-timeout")
	if i <= 0 {
		return nil
	}
	timeoutK := StringID(i)
	isTimeout := func(sp *StateSpan) bool { return sp.State == StateIO && sp.IOKind() == timeoutK }
	joinWait := func(sp *StateSpan) bool {
		return int(sp.Lock()) < len(t.Locks) && JoinLockName(t.Locks[sp.Lock()].Name)
	}
	// ends: per process, the ends of its threads' waits for a guest lock,
	// in time order (notifies: the loop's thread may have given them);
	// starts, its threads' starts, in order; holds, per thread, its holds
	// of its GIL, in order.
	type end struct {
		at     int64
		thread ThreadID
	}
	var ends map[ProcID][]end
	var starts map[ProcID][]int64
	var holds map[ThreadID][]*Hold
	index := func() {
		ends, starts, holds = map[ProcID][]end{}, map[ProcID][]int64{}, map[ThreadID][]*Hold{}
		for x := range s.States {
			if sp := &s.States[x]; sp.State == StateLockWait && int(sp.Thread) < len(t.Threads) {
				q := t.Threads[sp.Thread].Proc
				ends[q] = append(ends[q], end{sp.End, sp.Thread})
			}
		}
		for q := range ends {
			slices.SortFunc(ends[q], func(a, b end) int { return cmp.Compare(a.at, b.at) })
		}
		for j := range s.Threads {
			if j < len(t.Threads) {
				starts[t.Threads[j].Proc] = append(starts[t.Threads[j].Proc], s.Threads[j].Start)
			}
		}
		for q := range starts {
			slices.Sort(starts[q])
		}
		for q := range t.Procs {
			if g := t.Procs[q].GIL; g != NoLock {
				for _, h := range s.LockHolds(g) {
					hd := &s.Holds[h]
					holds[hd.Thread] = append(holds[hd.Thread], hd)
				}
			}
		}
	}
	// paces reports whether thread tid of process p, from from to to,
	// did what other threads waited for: another thread's wait for a lock
	// ended while tid held the GIL (or within NotifyWindow after it
	// let it go), or a thread started. It looks at tid's own holds.
	paces := func(tid ThreadID, p ProcID, from, to int64) bool {
		if ends == nil {
			index()
		}
		st := starts[p]
		if x, _ := slices.BinarySearch(st, from+1); x < len(st) && st[x] < to {
			return true // it started a thread, or another did meanwhile
		}
		pe, hs := ends[p], holds[tid]
		window := int64(NotifyWindow) // how long after tid let the GIL go its notify may end a wait
		if WaitEndsKnown(t) {
			window = IdleNotifyWindow
		}
		h := sort.Search(len(hs), func(j int) bool { return hs[j].End+window > from })
		for ; h < len(hs) && hs[h].Start < to; h++ {
			lo, hi := max(hs[h].Start, from), min(hs[h].End+window, to)
			for x, _ := slices.BinarySearchFunc(pe, lo, func(e end, at int64) int { return cmp.Compare(e.at, at) }); x < len(pe) && pe[x].at < hi; x++ {
				if pe[x].thread == tid {
					continue
				}
				// tid's notify if Notifier says so, as the diagnosis and
				// the model find it (review: a ticker whose consumer woke
				// 3 ms late, in the idle window, was its notifier there
				// and here a loop that paced nobody).
				if n, _, ok := s.Notifier(pe[x].thread, pe[x].at); ok && n == tid {
					return true
				}
			}
		}
		return false
	}
	// notified reports whether thread tid's wait sp had a notifier.
	notified := func(tid ThreadID, sp *StateSpan) bool {
		_, _, ok := s.Notifier(tid, sp.End)
		return ok
	}
	var out map[ThreadID][]WaitChain
	for id := range s.Threads {
		tid := ThreadID(id)
		if id >= len(t.Threads) {
			break
		}
		p := t.Threads[id].Proc
		if int(p) >= len(t.Procs) || t.Procs[p].GIL == NoLock {
			continue
		}
		ss := s.ThreadStates(tid)
		for k := range ss {
			if ss[k].State != StateLockWait || k == 0 || joinWait(&ss[k]) {
				continue
			}
			first, busy := -1, int64(0) // the chain's first timeout; the work after it
			for x := k - 1; x >= 0; x-- {
				sp := &ss[x]
				if isTimeout(sp) && sp.Stack == ss[k].Stack {
					first, busy = x, 0
					continue
				}
				if sp.State != StateGILWait {
					busy += sp.End - sp.Start
				}
				if busy > chainMaxGap || sp.State == StateLockWait || sp.State == StateIO {
					break
				}
			}
			if first < 0 || paces(tid, p, ss[first].Start, ss[k].Start) {
				continue
			}
			if out == nil {
				out = map[ThreadID][]WaitChain{}
			}
			out[tid] = append(out[tid], WaitChain{First: first, Wait: k, From: ss[first].Start, To: ss[k].Start})
		}
		// Timeouts in a loop, but those of a chain, computed from the last
		// back: endsWell says a timeout leads, through the next ones, to a
		// notified wait at its site. waiting marks the timeouts that
		// LoopWait counts: a notified chain's and the looped.
		var timeouts []int
		for k := range ss {
			if isTimeout(&ss[k]) {
				timeouts = append(timeouts, k)
			}
		}
		if len(timeouts) == 0 {
			continue
		}
		cs := out[tid]
		waiting := make([]bool, len(ss))
		for _, c := range cs {
			if notified(tid, &ss[c.Wait]) { // else the diagnosis and the model keep its timeouts
				for x := c.First; x < c.Wait; x++ {
					waiting[x] = isTimeout(&ss[x])
				}
			}
		}
		endsWell := make([]bool, len(ss))
		var looped []int
		for x := len(timeouts) - 1; x >= 0; x-- {
			k := timeouts[x]
			if c, _ := slices.BinarySearchFunc(cs, k, func(c WaitChain, k int) int { return cmp.Compare(c.Wait, k) }); c < len(cs) && cs[c].First <= k {
				// A chain's, ended by a wait at its site: a timeout
				// before it leads there, if that wait was notified.
				endsWell[k] = waiting[k]
				continue
			}
			limit := max(ss[k].End-ss[k].Start, chainMaxGap)
			var busy int64
			next := -1
			for y := k + 1; y < len(ss) && busy <= limit; y++ {
				sp := &ss[y]
				if isTimeout(sp) || sp.State == StateLockWait {
					next = y
					break
				}
				if sp.State != StateGILWait {
					busy += sp.End - sp.Start
				}
			}
			if next < 0 || busy > limit || ss[next].Stack != ss[k].Stack {
				continue // given up: other work, or a wait elsewhere
			}
			switch nx := &ss[next]; {
			case isTimeout(nx):
				if !endsWell[next] {
					continue // a loop no wait ends, or given up after
				}
			case joinWait(nx) || !notified(tid, nx):
				continue
			}
			if paces(tid, p, ss[k].Start, ss[next].Start) {
				continue
			}
			endsWell[k], waiting[k] = true, true
			looped = append(looped, k)
		}
		if len(looped) > 0 {
			slices.Reverse(looped)
			if s.looped == nil {
				s.looped = map[ThreadID][]int{}
			}
			s.looped[tid] = looped
		}
		pl := s.Polls()[tid]
		var loopWait int64
		for k := range ss {
			if waiting[k] && (pl == nil || k < pl.First || k > pl.Last) { // a poll's are off its work already
				loopWait += ss[k].End - ss[k].Start
			}
		}
		if loopWait > 0 {
			if s.loopWait == nil {
				s.loopWait = map[ThreadID]int64{}
			}
			s.loopWait[tid] = loopWait
		}
	}
	return out
}

// JoinLockName reports whether a lock's name marks a thread's join lock:
// the VM's "join T", CPython's named by its waiter's frame
// (source/cpython: "... (Thread.join)").
func JoinLockName(name string) bool {
	return strings.HasPrefix(name, "join ") || strings.HasSuffix(name, "(Thread.join)")
}

// Stopped are the threads of the run that did not end as a thread ends in
// CPython, letting the GIL go for good (ReleaseThreadEnd), but were
// stopped where they were: CPython's daemon threads at the interpreter's
// exit, and every thread of a killed program, or running at the end of an
// attach. Only in a process with a GIL (its releases tell the ends apart);
// never the process's main thread (MainThread, else the thread that ended
// last). The model writes them daemon: true (model.Daemons), and neither
// the what-if nor the estimates take one for what bounds the run.
func (s *Spans) Stopped() map[ThreadID]bool {
	t := s.Trace
	lastWhy := s.lastGILRelease()
	main := map[ProcID]ThreadID{}
	for id, th := range t.Threads {
		m, ok := main[th.Proc]
		switch {
		case !ok, th.Name == "MainThread" && t.Threads[m].Name != "MainThread",
			(th.Name == "MainThread") == (t.Threads[m].Name == "MainThread") && s.threadEnd(ThreadID(id)) > s.threadEnd(m):
			main[th.Proc] = ThreadID(id)
		}
	}
	out := map[ThreadID]bool{}
	for id, th := range t.Threads {
		tid := ThreadID(id)
		why, held := lastWhy[tid]
		ended := id < len(s.Threads) && s.Threads[id].Ended
		if int(th.Proc) < len(t.Procs) && t.Procs[th.Proc].GIL != NoLock && main[th.Proc] != tid &&
			!(ended && held && why == ReleaseThreadEnd) {
			out[tid] = true
		}
	}
	return out
}

// lastGILRelease is, by thread, why it last let its process's GIL go.
func (s *Spans) lastGILRelease() map[ThreadID]Release {
	t := s.Trace
	lastWhy := map[ThreadID]Release{}
	for _, h := range s.Holds { // in start order: the last one stays
		if int(h.Lock) < len(t.Locks) && t.Locks[h.Lock].GIL {
			lastWhy[h.Thread] = h.Why
		}
	}
	return lastWhy
}

// endedItself reports, by thread, whether it ended as a thread ends:
// letting its process's GIL go for good (ReleaseThreadEnd); in a process
// without a GIL, whether it ended before the trace did. Not a thread the
// trace's end or its process's exit stopped where it was (Stopped, the
// main thread included: at the end of an attach, every thread still
// running).
func (s *Spans) endedItself() []bool {
	t := s.Trace
	lastWhy := s.lastGILRelease()
	out := make([]bool, len(s.Threads))
	for id := range s.Threads {
		th := &s.Threads[id]
		p := t.Threads[id].Proc
		gil := int(p) < len(t.Procs) && t.Procs[p].GIL != NoLock
		why, held := lastWhy[ThreadID(id)]
		out[id] = th.Ended && (!gil || held && why == ReleaseThreadEnd)
	}
	return out
}

// threadEnd is when thread id ended (or the trace did).
func (s *Spans) threadEnd(id ThreadID) int64 {
	if int(id) < len(s.Threads) {
		return s.Threads[id].End
	}
	return 0
}
