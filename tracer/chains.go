package tracer

import (
	"cmp"
	"slices"
	"sort"
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
	// ends: per process, the ends of its threads' waits for a guest lock,
	// in time order (notifies: the loop's thread may have given them).
	type end struct {
		at     int64
		thread ThreadID
	}
	var ends map[ProcID][]end
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
				if p.State == StateIO && p.IOKind == timeoutK {
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
			if first < 0 {
				continue
			}
			from, to := ss[first].Start, ss[k].Start
			if ends == nil {
				ends = map[ProcID][]end{}
				for x := range s.States {
					if sp := &s.States[x]; sp.State == StateLockWait && int(sp.Thread) < len(t.Threads) {
						q := t.Threads[sp.Thread].Proc
						ends[q] = append(ends[q], end{sp.End, sp.Thread})
					}
				}
				for q := range ends {
					slices.SortFunc(ends[q], func(a, b end) int { return cmp.Compare(a.at, b.at) })
				}
			}
			paces := false
			pe := ends[p]
			hs := s.LockHolds(t.Procs[p].GIL)
			for x, _ := slices.BinarySearchFunc(pe, from, func(e end, at int64) int { return cmp.Compare(e.at, at) }); x < len(pe) && pe[x].at < to && !paces; x++ {
				if pe[x].thread == tid {
					continue
				}
				at := pe[x].at
				h := sort.Search(len(hs), func(j int) bool { return s.Holds[hs[j]].End > at })
				switch {
				case h < len(hs) && s.Holds[hs[h]].Start <= at:
					paces = s.Holds[hs[h]].Thread == tid
				case h > 0:
					paces = s.Holds[hs[h-1]].Thread == tid && at-s.Holds[hs[h-1]].End <= chainNotifyWindow
				}
			}
			for j := range s.Threads {
				if j != id && j < len(t.Threads) && t.Threads[j].Proc == p && s.Threads[j].Start > from && s.Threads[j].Start < to {
					paces = true // it started a thread, or another did meanwhile
				}
			}
			if paces {
				continue
			}
			if out == nil {
				out = map[ThreadID][]WaitChain{}
			}
			out[tid] = append(out[tid], WaitChain{First: first, Wait: k, From: from, To: to})
		}
	}
	return out
}
