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
// guest lock, the GIL released, the lock taken once notified; an io with
// until: is recorded as I/O (thread.io). Waiters of
// several processes (Options.OneProcess off: a lock per process) share
// the notice, which is the run's.
type notice struct {
	mu       sync.Mutex
	name     string
	pending  int                // notifies not taken yet
	owed     []uint64           // the arrivals of waits that gave up (their duration passed) before their notify came, in order
	seq      uint64             // waits arrived so far
	arrived  map[*thread]uint64 // the arrival of each thread in queue
	queue    []*thread          // the threads waiting, in order of arrival: the first takes the next notify
	sleepers []*thread          // the waiting threads parked now, to wake at a notify
}

// wake signals the parked waiters; called without n.mu.
func wake(ths []*thread) {
	for _, th := range ths {
		th.signal()
	}
}

// notify gives one notification and wakes the waiters to take it, the
// first to have come taking it (Condition.notify's order); when a wait
// that gave up before its notify came arrived before them, it goes to
// that wait, and ends none.
func (n *notice) notify() {
	n.mu.Lock()
	if len(n.owed) > 0 && (len(n.queue) == 0 || n.owed[0] < n.arrived[n.queue[0]]) {
		// Meant for a wait that gave up (a model's capped wait, whose
		// notifier came late): not for a wait queued after it, which it
		// would end before its own notify (review: a read's late notify
		// ended the join that followed it), but not before one that came
		// first either (TestNotifyCaseGiveUpKeepsOrder).
		n.owed = n.owed[1:]
		n.mu.Unlock()
		return
	}
	n.pending++
	ths := slices.Clone(n.sleepers)
	n.mu.Unlock()
	wake(ths)
}

// takeLocked takes one notification for th, under n.mu, if there is one
// and th is the first waiting; if not and giveUp, th gives up: it takes
// one if one is pending (its duration ran out as it came), else the
// notify meant for it, when it comes, goes to it (notify).
func (n *notice) takeLocked(th *thread, giveUp bool) bool {
	if n.pending > 0 && (giveUp || len(n.queue) > 0 && n.queue[0] == th) {
		n.pending--
		n.dequeue(th)
		return true
	}
	if giveUp {
		at := n.dequeue(th)
		i, _ := slices.BinarySearch(n.owed, at)
		n.owed = slices.Insert(n.owed, i, at)
	}
	return false
}

// enqueue puts th last in n's queue, noting its arrival. Called with
// n.mu held.
func (n *notice) enqueue(th *thread) {
	if n.arrived == nil {
		n.arrived = map[*thread]uint64{}
	}
	n.seq++
	n.arrived[th] = n.seq
	n.queue = append(n.queue, th)
}

// dequeue takes th out of n's queue and returns its arrival. Called with
// n.mu held.
func (n *notice) dequeue(th *thread) uint64 {
	at := n.arrived[th]
	delete(n.arrived, th)
	n.queue = slices.DeleteFunc(n.queue, func(x *thread) bool { return x == th })
	return at
}

// waitNotice waits until n gives th a notification, for at most d if
// d > 0 (Condition.wait's timeout; a model's recorded length), recorded
// as a wait on guest lock l (see notice). It parks on the notice, not on
// l: a thread waiting to take l is woken by l's release, not this one.
func (th *thread) waitNotice(n *notice, l *lock, d time.Duration) error {
	n.mu.Lock()
	n.enqueue(th)
	n.mu.Unlock()
	l.mu.Lock()
	if err := th.beginLockWait(l); err != nil {
		n.mu.Lock()
		n.dequeue(th)
		n.mu.Unlock()
		return err
	}
	if err := th.takeNotice(n, d); err != nil {
		return err
	}
	return th.endLockWait(l, nil)
}

// awaitNotice waits, with nothing recorded (an I/O ended by a notify:
// thread.io records it), until n gives th a notification, for at most d.
func (th *thread) awaitNotice(n *notice, d time.Duration) error {
	n.mu.Lock()
	n.enqueue(th)
	n.mu.Unlock()
	return th.takeNotice(n, d)
}

// takeNotice is the wait of waitNotice and awaitNotice, th in n's queue.
func (th *thread) takeNotice(n *notice, d time.Duration) error {
	if d <= 0 {
		th.noticeWaits.enter(th, n)
	}
	deadline := th.clock.Now() + int64(d)
	n.mu.Lock()
	for !n.takeLocked(th, false) {
		var timeout time.Duration
		if d > 0 {
			if timeout = time.Duration(deadline - th.clock.Now()); timeout <= 0 {
				n.takeLocked(th, true)
				break
			}
		}
		th.drainWake()
		n.sleepers = append(n.sleepers, th)
		n.mu.Unlock()
		if th.vt != nil {
			th.vt.vp.noticeParked++ // a thread of another process may wake it (vclock.crossWakes)
		}
		w := th.clock.Park(th.ctx, th.wake, timeout)
		if th.vt != nil {
			th.vt.vp.noticeParked--
		}
		n.mu.Lock()
		n.sleepers = slices.DeleteFunc(n.sleepers, func(x *thread) bool { return x == th })
		if w == WakeStop {
			n.dequeue(th)
			n.mu.Unlock()
			th.noticeWaits.leave(th)
			return errStopped
		}
	}
	// The next waiter may take a notify still pending: it was woken
	// before it was first.
	var next []*thread
	if n.pending > 0 {
		next = slices.Clone(n.sleepers)
	}
	n.mu.Unlock()
	wake(next)
	th.noticeWaits.leave(th) // it has what it waited for: no longer stuck
	return nil
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
	gated   int                 // threads not started, waiting for a start: operation
	waiting map[*thread]*notice // the threads waiting, and what each waits for
	stop    context.CancelCauseFunc
}

// newNoticeWaits tracks the run of threads, which stop stops.
func newNoticeWaits(threads []*thread, stop context.CancelCauseFunc) *noticeWaits {
	w := &noticeWaits{live: len(threads), waiting: map[*thread]*notice{}, stop: stop}
	for _, th := range threads {
		if th.gate != nil {
			w.gated++
		}
	}
	return w
}

// started records a thread's start: (its gate opened): while every other
// thread waits until a notify, none would have started it.
func (w *noticeWaits) started() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gated--
	w.check()
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

// of is what th waits until notified, nil if it does not (or w is nil).
func (w *noticeWaits) of(th *thread) *notice {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting[th]
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

// check stops the run if every thread left waits until a notify (or for
// a start that only they could give), and no notify given is left for any
// of them to take.
func (w *noticeWaits) check() {
	if w.live <= 0 || len(w.waiting) == 0 || len(w.waiting)+w.gated < w.live {
		return
	}
	var ws []string
	for th, n := range w.waiting {
		if th.daemon && th.proc.exited.Load() {
			return // its process exited: it stops, not stuck (process.exit)
		}
		n.mu.Lock()
		stuck := n.pending == 0 && slices.Contains(n.queue, th) // else it has taken one, or will
		n.mu.Unlock()
		if !stuck {
			return
		}
		ws = append(ws, fmt.Sprintf("%s on %q", th.name, n.name))
	}
	sort.Strings(ws)
	unstarted := ""
	if w.gated > 0 {
		unstarted = fmt.Sprintf("; %d more wait for a start: that none of them will give", w.gated)
	}
	w.stop(fmt.Errorf("%w: every thread left waits until a notify that no thread is left to give (%s%s): the workload's waits until: notify outnumber its notifies, or come before what would give them", errNotifyDeadlock, strings.Join(ws, ", "), unstarted))
}

// errNotifyDeadlock is the cause of a run stopped by noticeWaits.
var errNotifyDeadlock = errors.New("deadlock")
