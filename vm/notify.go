package vm

import (
	"sync"
	"time"
)

// A notice is what `wait: {lock: L, until: notify}` waits for and
// `notify: L` gives: CPython's Condition.notify, Event.set or a queue's
// put, which release the waiter lock a Condition.wait, Event.wait or
// queue get blocks on. It counts the notifies not yet taken, so that a
// notify that comes before its wait (the notifier ran ahead) is not lost:
// the wait then returns at once, as Event.wait does once the event is set
// and a queue's get once an item is in. Each wait takes one: a wait given
// a duration that passes first gives up, and takes the notify meant for
// it when it comes (a model's waits are capped at their recorded length,
// so that a wrongly inferred notifier cannot hold a replay for ever).
//
// The wait is recorded as a plain wait is (thread.wait): a wait on its
// guest lock, the GIL released, the lock taken once notified. Waiters of
// several processes (Options.OneProcess off: a lock per process) share
// the notice, which is the run's.
type notice struct {
	mu      sync.Mutex
	pending int     // notifies not taken yet
	owed    int     // waits that gave up (their duration passed) before their notify came
	locks   []*lock // the locks waiters park on, one per process
}

// notify gives one notification and wakes the waiters to take it; it
// goes to a wait that gave up before it came, if one did.
func (n *notice) notify() {
	n.mu.Lock()
	if n.owed > 0 {
		n.owed--
		n.mu.Unlock()
		return
	}
	n.pending++
	locks := append([]*lock(nil), n.locks...)
	n.mu.Unlock()
	for _, l := range locks {
		l.mu.Lock()
		for _, w := range l.waiters {
			w.signal()
		}
		l.unlock()
	}
}

// take takes one notification if there is one; if not and giveUp, the
// wait gives up, and the notify meant for it, when it comes, goes to it.
func (n *notice) take(giveUp bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending > 0 {
		n.pending--
		return true
	}
	if giveUp {
		n.owed++
	}
	return false
}

// waitNotice waits until n gives a notification, on guest lock l (see
// notice), for at most d if d > 0 (Condition.wait's timeout; a model's
// recorded length).
func (th *thread) waitNotice(n *notice, l *lock, d time.Duration) error {
	n.mu.Lock()
	known := false
	for _, x := range n.locks {
		known = known || x == l
	}
	if !known {
		n.locks = append(n.locks, l)
	}
	n.mu.Unlock()
	l.mu.Lock()
	if err := th.beginLockWait(l); err != nil {
		return err
	}
	deadline := th.clock.Now() + int64(d)
	l.mu.Lock()
	for !n.take(false) {
		var timeout time.Duration
		if d > 0 {
			if timeout = time.Duration(deadline - th.clock.Now()); timeout <= 0 {
				n.take(true)
				break
			}
		}
		if l.park(th, timeout) == WakeStop {
			l.unlock()
			return errStopped
		}
	}
	l.unlock()
	return th.endLockWait(l, nil)
}
