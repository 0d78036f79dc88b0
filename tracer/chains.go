package tracer

import "slices"

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
// aside), by the next timeout or by the wait that ends it; a timeout
// followed by other work (a Lock.acquire with a timeout, given up) is in
// no chain.
//
// Computed once.
func (s *Spans) WaitChains() map[ThreadID][]WaitChain {
	s.chainsOnce.Do(func() { s.chains = s.findChains() })
	return s.chains
}

// chainMaxGap is the most work, GIL waits aside, between two waits of a
// WaitChain: the loop's checks between them (a Poll's).
const chainMaxGap = pollMaxGap

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
	var out map[ThreadID][]WaitChain
	for id := range s.Threads {
		tid := ThreadID(id)
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
			if out == nil {
				out = map[ThreadID][]WaitChain{}
			}
			out[tid] = append(out[tid], WaitChain{First: first, Wait: k, From: ss[first].Start, To: ss[k].Start})
		}
	}
	return out
}
