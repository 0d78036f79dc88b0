package vm

import "github.com/giltrace/giltrace/tracer"

// Lazy timed waits. A waiter of the cpython GIL waits at most a switch
// interval (plus the timer latency: timedWait, T) at a time; when its wait
// expires it sets the drop request if the GIL has not changed hands since
// that wait began, and waits again. While the GIL is held, an expiry at
// time x matters only if no switch happened in (x-T, x]: every other one
// re-arms the wait and changes nothing anyone sees. With 8 threads, 7
// waiters expired once a switch each, and the scheduler handled each
// expiry (rewait): the largest share of a contended switch's time
// (docs/performance.md).
//
// A lazy lock computes its waiters' expiries instead of queueing them: a
// waiter's wait that began at s expires at s+T, s+2T, ... (its chain,
// unbroken by expiries that change nothing), and of all the waiters only
// the first expiry that matters is queued, as its waiter's wake-up entry
// (rep): while the lock is held with no drop request pending, the
// earliest expiry at or after the latest switch plus T; while it is free,
// the earliest expiry from now on (the waiter wakes and takes the lock, as
// in lock.acquire); none while a drop request is pending. Whatever
// changes that (a switch, a release, a waiter that comes or goes, the
// drop request) computes it again (rearm), from the waiters' next
// expiries (fire), which only move forward, walking the few waiters of
// the ring (below) that can hold the earliest.
//
// The same events at the same times as queueing every expiry
// (TestLazyTimersAreExact), a switch at the very time of an expiry taken
// in the queue's order as there, given one rule that both follow since
// 2026-12-04 (docs/vm.md): an expiry that changes nothing leaves its
// waiter's place in the waiter list, from which a release picks the
// waiter it wakes at random (before, it moved to the back; the list's
// order now changes only when a wait begins or ends). Only without core
// limits: there a waiter whose wait expires needs a core, and may wait
// for one, so every expiry acts.

// eagerTimers (tests) queues every expiry, as before lazy locks.
var eagerTimers bool

// arm begins v's timed wait on l at its time: its first expiry a timed
// wait from now, and, if that comes first and matters, it is queued.
// Called for a waiter just added (its saved switch number that of its
// wait's beginning, lock.waitAndTake), with nothing else changed since
// the last rearm.
func (l *lock) arm(v *vthread) {
	v.chain = v.now()
	v.chainSw = v.saved
	v.phase = l.phaseOf(v.chain)
	v.fire = v.chain + int64(l.timedWait)
	v.armed = true
	l.narmed++
	if l.ringOn {
		near := int32(-1)
		if m := l.minV; m != nil {
			near = m.index
		}
		l.ring.insertNear(v.index, ringKey(v.phase, v.id), near)
	} else if l.narmed >= ringFrom && int64(l.timedWait) <= maxRingPeriod {
		l.buildRing()
	}
	if m := l.minV; m != nil && (v.fire < m.fire || v.fire == m.fire && v.th.id < m.th.id) {
		l.minV = v
	}
	if l.locked && l.breaker.has(bitDrop) {
		return // no expiry matters until the release
	}
	f := l.matters(v, v.fire)
	if r := l.rep; r != nil && (r.at < f || r.at == f && r.th.id < v.th.id) {
		return
	}
	l.queue(v, f)
}

// next is v's first expiry that has not passed at the running thread's
// turn: later than now, or now and after it in the queue's order (a
// lower thread ID's entry at the same time comes first). v's timed wait
// began (arm): its phase is known, and no division is needed
// (nextAtAhead).
func (l *lock) next(v *vthread) int64 {
	cur := v.c.cur
	now := cur.now()
	return l.nextAtAhead(v, now, cur.th.id, ahead(v.phase, l.phaseOf(now), int64(l.timedWait)))
}

// nextAt is next for the running thread's time now and ID id.
func (l *lock) nextAt(v *vthread, now int64, id tracer.ThreadID) int64 {
	f := v.fire
	if f <= now {
		t := int64(l.timedWait)
		f = upTo(f, now, t)
		if f == now && v.id < id {
			f += t
		}
		v.fire = f
	}
	return f
}

// nextAtAhead is nextAt for a waiter of the ring whose phase comes a
// (in [0, timed wait)) after now's: its next expiry, once passed, is now
// + a, a whole number of timed waits after its last (a waiter's expiries
// are all its chain's: arm, expire and nextAt keep them so), without
// upTo's division. A waiter of a ring is walked once in many switches
// (once in 63 with 64 threads), its last expiry many timed waits old,
// and nearly every walk divided (docs/performance.md, "Eighteenth
// pass").
func (l *lock) nextAtAhead(v *vthread, now int64, id tracer.ThreadID, a int64) int64 {
	f := v.fire
	if f <= now {
		f = now + a
		if f == now && v.id < id {
			f += int64(l.timedWait)
		}
		v.fire = f
	}
	return f
}

// upTo is the first of f, f+t, f+2t, ... at or after b: usually f or
// f+t (a waiter's next expiry falls behind by a timed wait at most
// between two looks), without a division for those.
func upTo(f, b, t int64) int64 {
	if f >= b {
		return f
	}
	if f += t; f >= b {
		return f
	}
	return f + (b-f+t-1)/t*t
}

// matters is v's first expiry at or after f (one of its chain's) that
// matters now: any while the lock is free; while it is held, the first of
// its chain if the lock has not changed hands since the wait began (its
// saved switch number), or one whose timed wait (the chain's previous
// expiry) began after the latest switch. An expiry re-arms the wait
// (rewait) at its time, in the queue's order: a switch at that very time
// came before it if the thread that took the lock has the lower ID.
func (l *lock) matters(v *vthread, f int64) int64 {
	if !l.locked {
		return f
	}
	t := int64(l.timedWait)
	if f == v.chain+t {
		if l.switches == v.chainSw {
			return f
		}
		f += t
	}
	f = upTo(f, l.switchAt+t, t)
	if f-t == l.switchAt && l.last.id > v.id {
		f += t
	}
	return f
}

// queue makes v the waiter whose expiry at f is queued, taking the
// previous one's out of the queue.
func (l *lock) queue(v *vthread, f int64) {
	c := v.c
	if r := l.rep; r != nil && r != v && r.qi >= 0 && r.qwhy == WakeTimeout {
		c.q.remove(r)
	}
	l.rep = v
	v.saved = l.switches // horizonOf: an expiry that matters
	if v.qi < 0 || v.at != f || v.qwhy != WakeTimeout {
		c.push(v, f, WakeTimeout)
	}
}

// rearm computes which expiry matters first (rep) after a change of the
// lock's state: a switch, a release, the drop request set, or its
// queued waiter gone.
func (l *lock) rearm() {
	c := l.vc
	var best *vthread
	bestAt := int64(never)
	if !l.locked || !l.breaker.has(bitDrop) {
		now, id := c.cur.now(), c.cur.th.id
		if m := l.minV; m != nil && (m.fire > now || m.fire == now && m.th.id > id) && (m.qi < 0 || m == l.rep && m.qwhy == WakeTimeout) {
			// No waiter's next expiry has passed, and m's comes first:
			// free, it is the first that matters; just taken by a switch
			// now, every waiter's next expiry began its wait before the
			// switch and changes nothing, and the one after it (a timed
			// wait later, all in the same order) matters.
			if !l.locked {
				l.queue(m, m.fire)
				return
			}
			if l.switchAt == now && l.last == c.cur.th {
				l.queue(m, l.matters(m, m.fire))
				return
			}
		}
		if l.ringOn {
			l.minV, best, bestAt = l.ringWalks(now, id)
		} else {
			best, bestAt = l.pass(now, id)
		}
	}
	if best == nil {
		if r := l.rep; r != nil && r.qi >= 0 && r.qwhy == WakeTimeout {
			c.q.remove(r)
		}
		l.rep = nil
		return
	}
	l.queue(best, bestAt)
}

// unarm ends v's timed wait on l: it left the waiters (woken, or its wait
// over). If its expiry was the one queued, another is, unless rearm is
// false (the caller's rearm will: lock.leave).
func (l *lock) unarm(v *vthread, rearm bool) {
	var after *vthread
	if l.minV == v && v.armed {
		after = l.after(v)
	}
	if v.armed {
		l.disarm(v)
	}
	v.armed = false
	if l.minV == v {
		l.minV = after
	}
	if l.rep != v {
		return
	}
	if v.qi >= 0 && v.qwhy == WakeTimeout {
		v.c.q.remove(v)
	}
	l.rep = nil
	if rearm {
		l.rearm()
	}
}

// expiryMatters reports whether v's wait on l, held, ended by a timeout
// at v's time, saw no switch (rewait): its saved switch number is the
// current one; on a lazy lock, whose expiries that change nothing do not
// save it, matters says.
func (l *lock) expiryMatters(v *vthread) bool {
	if l.lazy {
		return l.matters(v, v.t) == v.t
	}
	return l.switches == v.saved
}

// expire is v's queued expiry on l, held, at its time: it sets the drop
// request if no switch happened during the wait that ends (an event, as
// in lock.woken), and v waits on, without resuming it; the next expiry
// that matters is queued.
func (c *vclock) expire(v *vthread, l *lock) {
	c.q.popMin()
	t := v.at
	v.at = never
	v.setTime(t)
	c.cur = v
	l.rep = nil
	if l.matters(v, t) == t && l.breaker.set(bitDrop) {
		l.stamp(v.th, tracer.KindDropRequest, tracer.DropArg(l.id, l.holder.id))
	}
	v.fire = t + int64(l.timedWait)
	if l.ringOn {
		// v's expiry, at its phase, was now: the first from now on is its
		// successor's in the ring's order (the walk's from now).
		l.minV = l.after(v)
	} else if l.minV == v {
		l.minV = nil
	}
	l.rearm()
}

// after is, on a lock that keeps a ring, the armed waiter whose next
// expiry comes first after v's, v's next expiry not passed at the running
// thread's turn and coming first of all (minV), or v at its phase now: v's
// successor in the ring's order, its next expiry brought forward to now
// (nextAtAhead). nil without a ring, or if v's has passed: minV is then
// not known (a walk finds it).
func (l *lock) after(v *vthread) *vthread {
	r := &l.ring
	if !l.ringOn || r.n < 2 || !r.has(v.index) {
		return nil
	}
	cur := l.vc.cur
	now, id := cur.now(), cur.th.id
	if v.fire < now || v.fire == now && v.id < id {
		return nil
	}
	s := l.vc.threads[r.nodes[v.index].next]
	l.nextAtAhead(s, now, id, ahead(s.phase, l.phaseOf(now), int64(l.timedWait)))
	return s
}

// keepExpiry queues the next expiry of v, the waiter a release of l wakes:
// until the wake-up (a wake-up latency later) its timed wait goes on, and
// if it expires first, v wakes then (the lock is free: it takes it) or,
// the lock taken meanwhile, waits again (rewait). Called after v left the
// waiters, right before the release signals it, at the same time: if the
// wake-up comes first, it alone is queued.
func (l *lock) keepExpiry(v *vthread) {
	c := v.c
	f := l.next(v)
	if f > c.cur.now()+c.latency {
		return // the wake-up comes first and takes the entry's place (vclock.signal)
	}
	v.saved = l.switches // horizonOf: a switch before it makes it change nothing
	c.push(v, f, WakeTimeout)
}

// The ring. A waiter's expiries are its chain's times, chain + kT (T the
// timed wait), all with its phase, chain mod T. From any time x, the next
// expiries of the waiters come in the order of their phases from x's
// (cyclically), then of their IDs: the ring's order, which expiries
// leave alone. So each of rearm's passes walks the ring from x's phase:
// a waiter there expires at x + (phase - x's phase) mod T at the
// earliest (its bound), the bounds only grow along the walk, and once
// one is past the earliest expiry found nothing after it can beat that.
// A walk reads a few waiters, where a pass over every waiter read 64
// with 64 threads, a quarter of the simulation (docs/performance.md).
// Keeping the ring (virtual_ring.go) costs a waiter's link and unlink
// a switch, more than a pass over a few waiters: the lock keeps one from
// ringFrom armed waiters on, and gives it up below ringTo (a pass over
// them then).

// The ring's bounds: with 8 threads (7 waiters) the pass was 5-9 %
// faster than the ring, with 16 the ring 5 % (BenchmarkVirtualThreads).
// Variables for the tests, which lower them so that rings are built and
// given up in random workloads of a few threads too.
var ringFrom, ringTo = 12, 6

// ringBuilt (tests) is told of every ring a lock begins to keep.
var ringBuilt func()

// phase is t's phase in a chain of period T: t mod T, in [0, T).
func phase(t, T int64) int64 {
	if p := t % T; p >= 0 {
		return p
	}
	return t%T + T
}

// maxRingPeriod is the longest timed wait whose phases fit a ring key's
// upper 32 bits (4.3 s): a lock whose timed wait is longer keeps no ring
// (its pass over every waiter finds the same).
const maxRingPeriod = 1<<32 - 1

// ringKey is the key of phase p (in [0, maxRingPeriod]) and ID id.
func ringKey(p int64, id tracer.ThreadID) uint64 { return uint64(p)<<32 | uint64(id) }

// phaseOf is x's phase in the lock's chains, x mod its timed wait,
// without a division for the times it is asked about, which mostly move
// forward by less than a timed wait: from the latest multiple of it
// (phaseBase).
func (l *lock) phaseOf(x int64) int64 {
	t := int64(l.timedWait)
	d := x - l.phaseBase
	if d >= 0 && d < t {
		return d
	}
	if d >= t && d < 2*t {
		l.phaseBase += t
		return d - t
	}
	p := phase(x, t)
	l.phaseBase = x - p
	return p
}

// ahead is how far phase p comes after phase px, both in [0, t): (p -
// px) mod t, without a division.
func ahead(p, px, t int64) int64 {
	if d := p - px; d >= 0 {
		return d
	}
	return p - px + t
}

// disarm counts v, armed, out of the armed waiters, and takes it out
// of the ring; below ringTo armed waiters the ring is given up.
func (l *lock) disarm(v *vthread) {
	l.narmed--
	if !l.ringOn {
		return
	}
	if l.narmed < ringTo {
		l.ringOn = false
		l.ring.empty()
		return
	}
	l.ring.remove(v.index)
}

// buildRing puts every armed waiter in the ring, which rearm walks from
// now on.
func (l *lock) buildRing() {
	if ringBuilt != nil {
		ringBuilt()
	}
	l.ringOn = true
	l.ring.init(len(l.vc.threads), int64(l.timedWait))
	for _, v := range l.vwaiters {
		if v.armed {
			l.ring.insert(v.index, ringKey(v.phase, v.id))
		}
	}
}

// pass is rearm's pass over every waiter, without the ring: it sets
// minV and returns the first expiry that matters and its waiter (nil,
// never if none does).
func (l *lock) pass(now int64, id tracer.ThreadID) (*vthread, int64) {
	var best, first *vthread // first: of the next expiries, the earliest (minV)
	bestAt, firstAt, firstID, bestID := int64(never), int64(never), tracer.ThreadID(0), tracer.ThreadID(0)
	locked := l.locked
	for _, v := range l.vwaiters {
		if !v.armed {
			continue // parking: its wait begins at arm
		}
		f := l.nextAt(v, now, id)
		if first == nil || f < firstAt || f == firstAt && v.id < firstID {
			first, firstAt, firstID = v, f, v.id
		}
		if l.queuedToStop(v) {
			continue
		}
		if locked { // while free, every expiry matters: f itself
			f = l.matters(v, f)
		}
		if best == nil || f < bestAt || f == bestAt && v.id < bestID {
			best, bestAt, bestID = v, f, v.id
		}
	}
	l.minV = first
	return best, bestAt
}

// queuedToStop reports whether armed waiter v is queued for another
// reason than its expiry (to stop): none of its expiries is queued.
func (l *lock) queuedToStop(v *vthread) bool {
	return v.qi >= 0 && (v != l.rep || v.qwhy != WakeTimeout)
}

// firstNext is the waiter whose next expiry (nextAt) comes first, in the
// queue's order, at time now with the running thread's ID id; nil if
// none is armed. Every next expiry is at or after now.
func (l *lock) firstNext(now int64, id tracer.ThreadID) *vthread {
	v, _ := l.walk(now, id, now, false)
	return v
}

// firstMatters is the waiter whose next expiry that matters (matters of
// nextAt; the lock free, nextAt itself) comes first, and that expiry; a
// waiter already queued to stop has none (nil, never if none has).
// Every such expiry is at or after now and, the lock held, after the
// latest switch by a timed wait: a wait that began since that switch
// began at or after it.
func (l *lock) firstMatters(now int64, id tracer.ThreadID) (*vthread, int64) {
	x := now
	if l.locked {
		x = max(now, l.switchAt+int64(l.timedWait))
	}
	return l.walk(now, id, x, true)
}

// ringWalks is rearm's walks of the ring: the waiter whose next expiry
// comes first (firstNext), and the first expiry that matters and its
// waiter (firstMatters).
//
// Free, every expiry matters: the first of all is the first that
// matters, unless its waiter is queued to stop (one walk, not two). Held,
// the walks start at the phases of now and of firstMatters' bound, the
// same phase right after a switch (the bound a timed wait from now) and
// once the switch is a timed wait old: then one walk does both
// (walkBoth), where a switch with 64 contended threads walked twice from
// the same place.
func (l *lock) ringWalks(now int64, id tracer.ThreadID) (first, best *vthread, bestAt int64) {
	t := int64(l.timedWait)
	if x := max(now, l.switchAt+t); l.locked && (x == now || x == now+t) {
		return l.walkBoth(now, id, x)
	}
	if first = l.firstNext(now, id); !l.locked && first != nil && !l.queuedToStop(first) {
		return first, first, first.fire
	}
	best, bestAt = l.firstMatters(now, id)
	return first, best, bestAt
}

// walkBoth is firstNext's walk and firstMatters' from x (now, or a timed
// wait after it: the same phase) at once: each waiter the longer of the
// two reads, in the same order, each search stopping where its own walk
// would. nextAt, which moves a waiter's next expiry forward to now, is
// called once for every waiter either walk would call it for: the same
// result as the two.
func (l *lock) walkBoth(now int64, id tracer.ThreadID, x int64) (first, best *vthread, bestAt int64) {
	r := &l.ring
	n := r.n
	if n == 0 {
		return nil, nil, never
	}
	t, threads, locked := int64(l.timedWait), l.vc.threads, l.locked
	px := l.phaseOf(now)
	firstAt, firstID, bestID := int64(never), tracer.ThreadID(0), tracer.ThreadID(0)
	bestAt = never
	for i, k := r.from(ringKey(px, 0)), 0; k < n; i, k = r.nodes[i].next, k+1 {
		a := ahead(int64(r.nodes[i].key>>32), px, t)
		done1 := first != nil && now+a > firstAt
		done2 := best != nil && x+a > bestAt
		if done1 && done2 {
			break
		}
		v := threads[i]
		f := l.nextAtAhead(v, now, id, a)
		if !done1 && (first == nil || f < firstAt || f == firstAt && v.id < firstID) {
			first, firstAt, firstID = v, f, v.id
		}
		if done2 || l.queuedToStop(v) {
			continue
		}
		if locked {
			f = l.matters(v, f)
		}
		if best == nil || f < bestAt || f == bestAt && v.id < bestID {
			best, bestAt, bestID = v, f, v.id
		}
	}
	return first, best, bestAt
}

// walk is the ring's walk of firstNext (mattering false) and firstMatters
// (true) from x, at or before every expiry it looks for: the first of
// them, in the queue's order, and its waiter.
func (l *lock) walk(now int64, id tracer.ThreadID, x int64, mattering bool) (*vthread, int64) {
	r := &l.ring
	n := r.n
	if n == 0 {
		return nil, never
	}
	t, threads, locked := int64(l.timedWait), l.vc.threads, l.locked
	pn := l.phaseOf(now) // first: x is in [now, now + t], within phaseOf's cheap range after it
	px := l.phaseOf(x)
	dx := ahead(px, pn, t) // x's phase after now's
	var best *vthread
	bestAt, bestID := int64(never), tracer.ThreadID(0)
	for i, k := r.from(ringKey(px, 0)), 0; k < n; i, k = r.nodes[i].next, k+1 {
		ax := ahead(int64(r.nodes[i].key>>32), px, t) // its phase after x's
		if best != nil && x+ax > bestAt {
			break
		}
		v := threads[i]
		if mattering && l.queuedToStop(v) {
			continue
		}
		a := ax + dx // its phase after now's
		if a >= t {
			a -= t
		}
		f := l.nextAtAhead(v, now, id, a)
		if mattering && locked {
			f = l.matters(v, f)
		}
		if best == nil || f < bestAt || f == bestAt && v.id < bestID {
			best, bestAt, bestID = v, f, v.id
		}
	}
	return best, bestAt
}
