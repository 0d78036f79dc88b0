package vm

import "slices"

// acquireCore gives v a core, waiting in the run queue if none is free.
func (c *vclock) acquireCore(v *vthread) {
	if !c.limited || v.onCore || c.halted(v) {
		return
	}
	// Back from a wait, or new: its core time counts from a slice behind
	// the least of the runnable threads (on a core, waiting for one, or
	// having lost theirs; with none, the least seen last: coreFloor), as
	// a fair scheduler places a waking thread (CFS's min_vruntime), so
	// that one that slept long does not keep its core later, once
	// preempted, until it has caught up with the others, nor one that ran
	// alone wait for a new one to catch up with it (sliceExpired; review:
	// main, alone 100 ms before it started two workers, then waited 90 ms
	// for a core). The threads waiting for a core count: with two
	// CPU-bound threads taking turns on a core, the one that had just
	// left it, a slice ahead, set the floor, and a thread back from an
	// I/O, placed a slice behind that, had no earlier deadline than the
	// one running and waited for the end of its slice (QA: with 2 or 3
	// CPU-bound processes on a core, half of a sleeper's 1 ms sleeps
	// lasted 3-9 ms).
	c.setFloor(v.now(), v)
	v.coreNS = max(v.coreNS, c.coreFloor-c.slice)
	if c.free > 0 {
		c.free--
		c.onCore(v, v.now())
		v.horizon = unknownHorizon
		return
	}
	if c.preemptCore(v) {
		return
	}
	v.inRunq, v.preempted = true, false
	c.runq = append(c.runq, v)
	c.yield(v)
	// Given a core, it may have lost it again before it ran.
	c.settleAll(v)
}

// setFloor sets coreFloor to the least core time at time t of the
// runnable threads but not (on a core, in the run queue, without their
// core), if there is one: it can go down as well as up.
func (c *vclock) setFloor(t int64, not *vthread) {
	least := int64(never)
	for _, w := range c.onCores {
		if w != not {
			least = min(least, w.coreTime(t))
		}
	}
	for _, ws := range [2][]*vthread{c.runq, c.lostq} {
		for _, w := range ws {
			if w != not {
				least = min(least, w.coreNS)
			}
		}
	}
	if least != never {
		c.coreFloor = least
	}
}

// onCore gives v a core at time t.
func (c *vclock) onCore(v *vthread, t int64) {
	v.onCore, v.sliceEnd, v.coreAt = true, t+c.slice, t
	v.deadline = v.coreNS + c.slice
	c.onCores = append(c.onCores, v)
}

// coreTime is the time v has had a core, at time t.
func (v *vthread) coreTime(t int64) int64 {
	if v.onCore {
		return v.coreNS + max(t-v.coreAt, 0)
	}
	return v.coreNS
}

// releaseCore gives v's core to the waiting thread with the earliest
// deadline (earliest), or to a thread that lost its core (releaseCoreTo).
func (c *vclock) releaseCore(v *vthread) {
	c.releaseCoreTo(v, c.earliest(-1))
}

// earliest is the index of the thread of the run queue with the earliest
// deadline (the least core time; the first of equals), among those that
// have had a core for no more than bound if bound >= 0 or are back from a
// wait; len(runq) if none is. EEVDF runs the earliest deadline: a thread
// back from an I/O behind CPU-bound threads of the queue is not made to
// wait for them (QA: 4 CPU-bound and 4 I/O threads on 2 cores, two I/Os
// of 1 ms lasted 4.2 ms).
func (c *vclock) earliest(bound int64) int {
	best := len(c.runq)
	for i, w := range c.runq {
		if bound >= 0 && w.preempted && w.coreNS > bound {
			continue
		}
		if best == len(c.runq) || w.coreNS < c.runq[best].coreNS {
			best = i
		}
	}
	return best
}

// releaseCoreTo gives v's core to the i-th thread of the run queue, if
// there is one.
func (c *vclock) releaseCoreTo(v *vthread, i int) {
	if !v.onCore {
		return
	}
	t := v.now()
	c.setFloor(t, nil) // v among them: the last one runnable sets it too
	v.coreNS = v.coreTime(t)
	v.onCore = false
	if k := slices.Index(c.onCores, v); k >= 0 {
		c.onCores = slices.Delete(c.onCores, k, k+1)
	}
	if len(c.lostq) > 0 {
		// The thread that lost its core first (preemptCore) gets it
		// back, unless the thread of the run queue has the earlier
		// deadline (EEVDF picks the earliest eligible deadline): a
		// waiter of the run queue is not passed over, slice after slice,
		// by a computing thread that a sleeper keeps preempting.
		if x := c.lostq[0]; i >= len(c.runq) || lostDeadline(x, c.slice) <= c.runq[i].coreNS+c.slice {
			c.giveBack(x, t)
			return
		}
	}
	if i >= len(c.runq) || c.signalledFirst(t, c.runq[i]) {
		c.free++
		return
	}
	w := c.runq[i]
	c.runq = append(c.runq[:i], c.runq[i+1:]...)
	w.inRunq = false
	c.onCore(w, t)
	c.pushEntry(w, t, 0, false)
}

// signalledFirst reports whether a parked thread that a signal woke at
// most a wake-up latency ago, its wake-up queued, would take a core before
// w of the run queue, the GIL's last holder on its way to wait for it
// again (it dropped the GIL on a drop request, and the switch has
// happened): one with less core time (as acquireCore places it back from
// its wait). Linux makes a signalled thread runnable at the
// signal; the latency is until it runs. Given to w, the core went to the
// thread that had waited for it through the hold: on 1 core, the GIL's
// last holder, runnable since the switch, took the GIL at the release
// that a drop request of an I/O thread caused, before the I/O thread the
// release woke could, every time (QA: at a 1 ms switch interval on 1
// core, an I/O thread beside two CPU-bound threads waited 9.98 s, where
// CPython's waited 7.8 ms at most). The core stays free for the
// signalled thread, which takes it when its wake-up comes (acquireCore).
func (c *vclock) signalledFirst(t int64, w *vthread) bool {
	if w.switching == nil {
		return false // only the GIL's last holder, on its way to wait for it again
	}
	for i := range c.q.len() {
		if x := c.q.get(i); x.parked && x.qwake && x.qwhy == WakeSignal && x.at <= t+c.latency && !x.onCore &&
			max(x.coreNS, c.coreFloor-c.slice) < w.coreNS {
			return true
		}
	}
	return false
}

// dispatch gives a free core, at time t, to the thread of the run queue
// with the earliest deadline, unless a signalled thread is to have it
// (signalledFirst): a core kept free for a signalled thread that, woken,
// waited again in place (the lock taken meanwhile) goes to the run queue.
func (c *vclock) dispatch(t int64) {
	if !c.limited || c.free <= 0 || len(c.runq) == 0 {
		return
	}
	i := c.earliest(-1)
	if i >= len(c.runq) || c.signalledFirst(t, c.runq[i]) {
		return
	}
	w := c.runq[i]
	c.runq = append(c.runq[:i], c.runq[i+1:]...)
	w.inRunq = false
	c.free--
	c.onCore(w, t)
	c.pushEntry(w, t, 0, false)
}

// sliceExpired ends v's time slice. It gives its core to the thread of
// the run queue with the earliest deadline (earliest) among those back
// from a wait and those that their own slice's end queued and have had a
// core for no more time than v, and goes to the back of the queue; if
// none is, it starts a new slice. The slices of the
// cores end about together: handing a core to whichever thread waits
// would give it, slice after slice, to the one the previous core's thread
// had just queued, and the same last one would wait every time (QA: 9
// threads on 8 cores, six never lost their core; 136 ms for 112.5 ms of
// fair shares). Deciding by core time, as a fair scheduler does, the
// cores take turns: one thread waits a slice, then the next.
func (c *vclock) sliceExpired(v *vthread) {
	now := v.coreTime(v.now())
	// A tie gives the core up too: one slice a turn (review: with "<",
	// evenly matched threads kept their cores for two slices).
	i := c.earliest(now)
	if i == len(c.runq) && (len(c.lostq) == 0 || lostDeadline(c.lostq[0], c.slice) > now+c.slice) {
		v.sliceEnd = v.now() + c.slice
		v.deadline = now + c.slice
		v.horizon = unknownHorizon
		return
	}
	c.releaseCoreTo(v, i)
	v.inRunq, v.preempted = true, true
	c.runq = append(c.runq, v)
	c.yield(v)
}

// preemptCore is the wake-up preemption of Linux's fair scheduler (EEVDF):
// v, back from a wait or new, finds no core free, and takes the core of
// the thread on a core whose deadline (the core time at which its slice
// ends) is the latest, if v's own (its core time, placed by acquireCore,
// plus a slice) is earlier. A thread back from a sleep or an I/O, owed
// core time, so runs at once, as on Linux, instead of waiting up to a
// slice (docs/vm.md, "Cores"). It reports whether v got a core.
//
// The thread that loses its core may have computed past this time
// already (it runs ahead, virtual_ahead.go), and nothing of what it did
// since was seen by another thread: it touches shared state only at its
// sync points, which it cannot have passed. So it is not stopped: it goes
// on computing, lost, and the time it spends without a core is owed
// (lostAt, debt) and paid before it next touches shared state (a sync
// point; the GIL let go on a drop request or a legacy tick: atBreaker) or
// at the end of its slice (settle), where its time moves forward by it.
// Against an exact preemption, the calls it records in between are early
// and what its process does meanwhile reaches it late (a drop request),
// both by at most that time (docs/vm.md, "Wake-up preemption"). The same
// whatever the run-ahead: TestVirtualRunAheadIsExact.
func (c *vclock) preemptCore(v *vthread) bool {
	t := v.now()
	var x *vthread
	var xd int64
	for _, w := range c.onCores {
		d := renewed(w.deadline, w.coreTime(t), c.slice)
		if x == nil || d > xd || d == xd && w.th.id > x.th.id {
			x, xd = w, d
		}
	}
	if x == nil || v.coreNS+c.slice >= xd {
		return false
	}
	x.coreNS = x.coreTime(t)
	x.onCore = false
	if k := slices.Index(c.onCores, x); k >= 0 {
		c.onCores = slices.Delete(c.onCores, k, k+1)
	}
	x.lost, x.lostAt = true, t
	c.lostq = append(c.lostq, x)
	c.onCore(v, t)
	v.horizon = unknownHorizon
	return true
}

// giveBack gives a core released at time t to x, which lost its own to a
// woken thread (preemptCore): its time without one is owed. Its slice is
// the one it had: a slice is core time served, and x's own time counts
// what it computed without a core too.
func (c *vclock) giveBack(x *vthread, t int64) {
	c.unlose(x)
	x.debt += t - x.lostAt
	x.onCore, x.coreAt = true, t
	c.onCores = append(c.onCores, x)
}

// unlose takes v out of the lost threads, if it is one.
func (c *vclock) unlose(v *vthread) {
	if !v.lost {
		return
	}
	v.lost = false
	c.lostq = slices.DeleteFunc(c.lostq, func(w *vthread) bool { return w == v })
}

// settle pays what v owes for the time it computed without a core
// (preemptCore), at a sync point or the end of its slice: given its core
// back meanwhile (giveBack), its time moves forward by that time; still
// without one, it waits for one in the run queue, and what it computed
// since it lost its core is done again from there.
func (c *vclock) settle(v *vthread) {
	owed := v.debt
	if v.lost {
		owed += v.now() - v.lostAt
	}
	lost := v.lost
	c.unlose(v)
	v.debt = 0
	if c.halted(v) {
		// Stopped (its process exited, or the run): it ends where the
		// stop queued it, owing nothing.
		return
	}
	if !lost {
		v.setTime(v.now() + owed)
		return
	}
	v.inRunq, v.preempted = true, true
	c.runq = append(c.runq, v)
	c.yield(v)
	if !c.halted(v) {
		v.setTime(v.now() + owed)
	}
}

// renewed is a deadline d at core time ct: a slice whose end its thread
// has not reached yet in its own time (it owes time: settle) is over in
// core time, and renewed as the scheduler would have at its end.
func renewed(d, ct, slice int64) int64 {
	if d <= ct {
		d += ((ct-d)/slice + 1) * slice
	}
	return d
}

// lostDeadline is the deadline of x, a thread without its core
// (preemptCore): its core time stands still meanwhile.
func lostDeadline(x *vthread, slice int64) int64 { return renewed(x.deadline, x.coreNS, slice) }
