package vm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
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
	name    string
	pending int       // notifies not taken yet
	owed    int       // waits that gave up (their duration passed) before their notify came
	queue   []*thread // the threads waiting, in order of arrival: the first takes the next notify
	locks   []*lock   // the locks waiters park on, one per process
	waits   *noticeWaits
}

// notify gives one notification and wakes the waiters to take it, the
// first to have come taking it (Condition.notify's order); it goes to a
// wait that gave up before it came, if one did.
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

// take takes one notification for th if there is one and th is the first
// waiting; if not and giveUp, th gives up, and the notify meant for it,
// when it comes, goes to it.
func (n *notice) take(th *thread, giveUp bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending > 0 && len(n.queue) > 0 && n.queue[0] == th {
		n.pending--
		n.queue = n.queue[1:]
		return true
	}
	if giveUp {
		n.queue = slices.DeleteFunc(n.queue, func(x *thread) bool { return x == th })
		n.owed++
	}
	return false
}

// waitNotice waits until n gives th a notification, on guest lock l (see
// notice), for at most d if d > 0 (Condition.wait's timeout; a model's
// recorded length).
func (th *thread) waitNotice(n *notice, l *lock, d time.Duration) error {
	n.mu.Lock()
	if !slices.Contains(n.locks, l) {
		n.locks = append(n.locks, l)
	}
	n.queue = append(n.queue, th)
	n.mu.Unlock()
	l.mu.Lock()
	if err := th.beginLockWait(l); err != nil {
		return err
	}
	if d <= 0 {
		n.waits.enter(th, n)
		defer n.waits.leave(th)
	}
	deadline := th.clock.Now() + int64(d)
	l.mu.Lock()
	for !n.take(th, false) {
		var timeout time.Duration
		if d > 0 {
			if timeout = time.Duration(deadline - th.clock.Now()); timeout <= 0 {
				n.take(th, true)
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

// noticeWaits finds the deadlock of a run whose threads all wait until a
// notify that none of them is left to give (the virtual clock finds every
// deadlock, with a message that cannot say this; the real one none): it
// counts the threads not ended and those in a wait until notified without
// a duration, and stops the run with an error naming the waits when they
// are the same.
type noticeWaits struct {
	mu      sync.Mutex
	live    int
	waiting map[*thread]*notice // the threads waiting, and what each waits for
	stop    context.CancelCauseFunc
}

func newNoticeWaits(threads int, stop context.CancelCauseFunc) *noticeWaits {
	return &noticeWaits{live: threads, waiting: map[*thread]*notice{}, stop: stop}
}

// enter records th waiting until n notifies.
func (w *noticeWaits) enter(th *thread, n *notice) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting[th] = n
	w.check()
}

// leave records th's wait over.
func (w *noticeWaits) leave(th *thread) {
	if w == nil {
		return
	}
	w.mu.Lock()
	delete(w.waiting, th)
	w.mu.Unlock()
}

// ended records a thread's end.
func (w *noticeWaits) ended() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.live--
	w.check()
}

// check stops the run if every thread left waits until a notify, and no
// notify given is left for any of them to take.
func (w *noticeWaits) check() {
	if w.live <= 0 || len(w.waiting) < w.live {
		return
	}
	var ws []string
	for th, n := range w.waiting {
		n.mu.Lock()
		pending := n.pending
		n.mu.Unlock()
		if pending > 0 {
			return // it will take it, and run on
		}
		ws = append(ws, fmt.Sprintf("%s on %q", th.name, n.name))
	}
	sort.Strings(ws)
	w.stop(fmt.Errorf("%w: every thread left waits until a notify that no thread is left to give (%s): the workload's waits until: notify outnumber its notifies", errNotifyDeadlock, strings.Join(ws, ", ")))
}

// errNotifyDeadlock is the cause of a run stopped by noticeWaits.
var errNotifyDeadlock = errors.New("deadlock")
