package tracer

import (
	"cmp"
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
// chainNotifyWindow): the notifies of a Condition, an Event or a queue are
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

// chainNotifyWindow is how long before another thread's wait ended a
// loop's thread may have let the GIL go and still be its notifier (the
// waiter's wake-up; the diagnosis's and the model's notifyWindow).
const chainNotifyWindow = 1_000_000

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
// "lock-timeout") in a loop: each followed by another wait for a guest
// lock of its thread (one that ran out, or one that got its lock, but not
// a Thread.join), with in between no more work and other I/O than the
// timeout lasted (2 ms at least: a progress print took 2-4 ms beside two
// CPU-bound threads), and, as for a WaitChain, nothing that other threads
// waited for. Such a loop waits for something
// another thread does: `cf.wait(fs, timeout=0.1)` with a progress print
// or the finished futures' work between, `Lock.acquire(timeout=0.05)`
// round two locks, `event.wait(0.02)` then some work. With that thread
// sooner, fewer of them would run out: each lasts, in the diagnosis's
// flow and the what-if's model, until the thread that held the GIL when
// it ran out could get there, at most its length, as a wait notified by
// it would (QA: replayed as fixed timeouts, such loops beside 2 CPU-bound
// workers were 1.15-1.4x as processes where processes ran 1.5-2x as fast).
// A timeout followed by other work or by a join (given up) is in no loop,
// nor is one in a WaitChain. The indexes are into ThreadStates, in order.
//
// Computed once, with WaitChains.
func (s *Spans) LoopedTimeouts() map[ThreadID][]int {
	s.WaitChains()
	return s.looped
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
	isTimeout := func(sp *StateSpan) bool { return sp.State == StateIO && sp.IOKind == timeoutK }
	// ends: per process, the ends of its threads' waits for a guest lock,
	// in time order (notifies: the loop's thread may have given them);
	// starts, its threads' starts, in order.
	type end struct {
		at     int64
		thread ThreadID
	}
	var ends map[ProcID][]end
	var starts map[ProcID][]int64
	// paces reports whether thread tid of process p, from from to to,
	// did what other threads waited for: another thread's wait for a lock
	// ended while tid held the GIL (or had let it go within
	// chainNotifyWindow), or a thread started.
	paces := func(tid ThreadID, p ProcID, from, to int64) bool {
		if ends == nil {
			ends, starts = map[ProcID][]end{}, map[ProcID][]int64{}
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
		}
		st := starts[p]
		if x, _ := slices.BinarySearch(st, from+1); x < len(st) && st[x] < to {
			return true // it started a thread, or another did meanwhile
		}
		pe := ends[p]
		hs := s.LockHolds(t.Procs[p].GIL)
		for x, _ := slices.BinarySearchFunc(pe, from, func(e end, at int64) int { return cmp.Compare(e.at, at) }); x < len(pe) && pe[x].at < to; x++ {
			if pe[x].thread == tid {
				continue
			}
			at := pe[x].at
			h := sort.Search(len(hs), func(j int) bool { return s.Holds[hs[j]].End > at })
			switch {
			case h < len(hs) && s.Holds[hs[h]].Start <= at:
				if s.Holds[hs[h]].Thread == tid {
					return true
				}
			case h > 0:
				if s.Holds[hs[h-1]].Thread == tid && at-s.Holds[hs[h-1]].End <= chainNotifyWindow {
					return true
				}
			}
		}
		return false
	}
	joinWait := func(sp *StateSpan) bool {
		return int(sp.Lock) < len(t.Locks) && JoinLockName(t.Locks[sp.Lock].Name)
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
			if ss[k].State != StateLockWait || k == 0 {
				continue
			}
			first, busy := -1, int64(0) // the chain's first timeout; the work after it
			for x := k - 1; x >= 0; x-- {
				p := &ss[x]
				if isTimeout(p) {
					first, busy = x, 0
					continue
				}
				if p.State != StateGILWait {
					busy += p.End - p.Start
				}
				if busy > chainMaxGap || p.State == StateLockWait || p.State == StateIO {
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
		// Timeouts in a loop, but those of a chain.
		cs := out[tid]
		for k := range ss {
			if !isTimeout(&ss[k]) {
				continue
			}
			if c, ok := slices.BinarySearchFunc(cs, k, func(c WaitChain, k int) int { return cmp.Compare(c.Wait, k) }); ok || c < len(cs) && cs[c].First <= k {
				continue
			}
			limit := max(ss[k].End-ss[k].Start, chainMaxGap)
			var busy int64
			next := -1
			for x := k + 1; x < len(ss) && busy <= limit; x++ {
				sp := &ss[x]
				if isTimeout(sp) || sp.State == StateLockWait && !joinWait(sp) {
					next = x
					break
				}
				if sp.State == StateLockWait {
					break // a join: given up
				}
				if sp.State != StateGILWait {
					busy += sp.End - sp.Start
				}
			}
			if next < 0 || busy > limit || paces(tid, p, ss[k].Start, ss[next].Start) {
				continue
			}
			if s.looped == nil {
				s.looped = map[ThreadID][]int{}
			}
			s.looped[tid] = append(s.looped[tid], k)
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
