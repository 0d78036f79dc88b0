package vm

import "sync"

// A notice is what `wait: {lock: L, until: notify}` waits for and
// `notify: L` gives: CPython's Condition.notify, Event.set or a queue's
// put, which release the waiter lock a Condition.wait, Event.wait or
// queue get blocks on. It counts the notifies not yet taken, so that a
// notify that comes before its wait (the notifier ran ahead) is not lost:
// the wait then returns at once, as Event.wait does once the event is set
// and a queue's get once an item is in. Each wait takes one.
//
// The wait is recorded as a plain wait is (thread.wait): a wait on its
// guest lock, the GIL released, the lock taken once notified. Waiters of
// several processes (Options.OneProcess off: a lock per process) share
// the notice, which is the run's.
type notice struct {
	mu      sync.Mutex
	pending int     // notifies not taken yet
	locks   []*lock // the locks waiters park on, one per process
}

// notify gives one notification and wakes the waiters to take it.
func (n *notice) notify() {
	n.mu.Lock()
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

// take takes one notification if there is one.
func (n *notice) take() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending == 0 {
		return false
	}
	n.pending--
	return true
}

// waitNotice waits until n gives a notification, on guest lock l (see
// notice).
func (th *thread) waitNotice(n *notice, l *lock) error {
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
	got := false
	return th.endLockWait(l, func() bool {
		got = got || n.take()
		return got
	})
}
