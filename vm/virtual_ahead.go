package vm

// check is the virtual clock's part of an eval breaker check: at the
// horizon the thread lets every earlier event happen, and at the end of
// its slice it may lose its core.
func (v *vthread) check() {
	c := v.c
	c.stopIfCancelled() // the eval breaker's stop bit is the clock's to set (breaker)
	if v.horizon == unknownHorizon {
		v.horizon = c.horizonOf(v)
	}
	if c.halted(v) || v.now() < v.horizon {
		return
	}
	c.pushEntry(v, v.now(), 0, false)
	if c.limited {
		v.safe = c.lookahead(v)
	}
	c.yield(v)
	if c.limited && v.now() >= v.sliceEnd && !c.halted(v) {
		if v.lost || v.debt > 0 {
			c.sync(v) // the end of its slice settles what it owes
		}
		if v.now() >= v.sliceEnd && !c.halted(v) { // sync settled: it has its core
			c.sliceExpired(v)
		}
	}
}

// horizonOf is how far v may compute without looking at other threads:
// until the end of its slice if cores can run out; in a process with a
// GIL, until the earliest queued thread of its process (a drop request,
// a new waiter), or the next event of any thread if one of its process
// waits for a core (a core released anywhere lets it run).
func (c *vclock) horizonOf(v *vthread) int64 {
	h := int64(never)
	if c.limited {
		h = v.sliceEnd
	}
	h = min(h, daemonBound(v))
	if strictOrder {
		if c.q.len() > 0 {
			h = min(h, c.q.firstAt())
		}
		return h
	}
	l := v.th.proc.gilLock
	if l == nil {
		return h
	}
	// A waiter's wake-up while v holds the cpython GIL and no drop request
	// is pending: the scheduler handles it without resuming the waiter
	// (rewait) and without a change that v could see, unless it is a
	// timeout with no switch since the wait began (it sets the drop
	// request); any other wake-up re-arms the wait, whose expiry then
	// sets it. So v may compute past the first one. The same for the
	// wake-up of a thread that dropped the GIL and waits for the switch
	// (switched): it then waits for the GIL. Not with limited cores: a
	// waiter woken with no core free waits for one.
	noop := int64(0)
	if !c.limited && l.interval > 0 && l.breaker != nil && l.holder == v.th && !l.breaker.has(bitDrop) {
		noop = int64(l.timedWait)
	}
	var waiting bool
	switch {
	case noop == 0:
		h = min(h, c.minPeerAt(v))
		if c.crossWakes(v) {
			h = min(h, c.othersAt(v))
		}
		waiting = c.peerInRunq(v)
	default:
		// A lazy lock's waiters' expiries are computed
		// (virtual_timers.go): few of its peers are queued, none waits
		// for a core (each has one), and the queue holds them.
		ws, n := v.peers, len(v.peers)
		if l.lazy {
			n = c.q.len()
		}
		for i := range n {
			var w *vthread
			if l.lazy {
				w = c.q.get(i)
			} else {
				w = ws[i]
			}
			if w == v || w.vp != v.vp {
				continue
			}
			at := w.at
			if w.parked && w.qwake && at != never && (w.wait == l && (w.qwhy != WakeTimeout || w.saved != l.switches) || w.switching == l) {
				at += noop
			}
			h = min(h, at)
			waiting = waiting || w.inRunq
		}
		if c.crossWakes(v) {
			h = min(h, c.othersAt(v))
		}
	}
	if waiting {
		h = min(h, c.coreFreeAt(v))
	}
	return h
}

// coreFreeAt is the earliest time a thread waiting for a core could get
// one, for v running: when a thread on a core gives it up, no earlier
// than that thread's safe time, or when a thread that wakes takes a core
// from another (preemptCore) and gives it up: a queued thread off the
// cores no earlier than its time, one that a thread wakes no earlier than
// a wake-up latency after the waker's time. (v gives its own up no
// earlier than its horizon.)
func (c *vclock) coreFreeAt(v *vthread) int64 {
	h := int64(never)
	for _, w := range c.threads {
		if w == v || w.qi < 0 {
			continue
		}
		if w.onCore || w.lost {
			h = min(h, w.at+c.latency)
			if w.onCore {
				h = min(h, w.safeTime())
			}
		} else {
			h = min(h, w.at)
		}
	}
	return h
}

// lookahead is the earliest time at which v, computing and queued now,
// could give its core up: not before the end of the countdown loop it is
// in (no blocking operation in between), the end of its slice, or, under
// the cpython GIL, an event of its process (a drop request makes it park).
func (c *vclock) lookahead(v *vthread) int64 {
	t := v.now()
	if n := v.loopLeft(); n > 0 {
		t += n * instrsPerLoop * c.psPerInstr / 1000
	}
	if c.limited {
		t = min(t, v.sliceEnd)
	}
	t = min(t, daemonBound(v))
	if v.th.proc.dropRequests() {
		t = min(t, c.minPeerAt(v))
	}
	return t
}

// minPeerAt is the earliest queued time of a thread of v's process other
// than v (never if none; a thread not queued has the time never, pop). In
// a run of one process every thread is a peer, and that is the queue's
// head, or its earlier child when v is the head: no pass over the threads
// (QA: 256 threads on 2 cores took 6.4 s, such passes most of it).
func (c *vclock) minPeerAt(v *vthread) int64 {
	if len(c.procs) != 1 {
		t := int64(never)
		for _, w := range v.peers {
			if w != v {
				t = min(t, w.at)
			}
		}
		return t
	}
	q := c.q.e
	switch {
	case len(q) == 0:
		return never
	case q[0].v != v.index:
		return q[0].at
	case len(q) == 1:
		return never
	case len(q) == 2:
		return q[1].at
	}
	return min(q[1].at, q[2].at)
}

// crossWakes reports whether a thread of another process than v's could
// wake a thread of v's: one of v's process waits until a notify, and a
// notice is the run's (notify.go). Woken, it waits for the GIL or asks
// for a drop, so the earliest time another process's thread could notify
// bounds v's run-ahead (othersAt). Review: a legacy GIL's holder passed
// over the ticks that such a notify's waiter made, 2 processes on 4 cores.
func (c *vclock) crossWakes(v *vthread) bool {
	return v.vp.noticeParked > 0 && len(c.procs) > 1
}

// othersAt is the earliest time a thread of another process than v's
// could act (a notify), as wakerBound counts it (two processes' workers
// computing beside a waiting main thread ran ahead of each other a check
// at a time when bound by their queued times alone).
func (c *vclock) othersAt(v *vthread) int64 { return c.actBound(v, v.th.proc) }

// peerInRunq reports whether a thread of v's process other than v waits
// for a core: every such thread is in the run queue (acquireCore,
// sliceExpired, settle), which is short.
func (c *vclock) peerInRunq(v *vthread) bool {
	for _, w := range c.runq {
		if w != v && w.inRunq && w.vp == v.vp {
			return true
		}
	}
	return false
}

// dropRequests reports whether the process's GIL has drop requests (the
// cpython mode): only they make a computing thread park, on another
// thread's event. A legacy tick releases the GIL and takes it straight
// back, with the same core.
func (p *process) dropRequests() bool { return p.gilLock != nil && p.gilLock.breaker != nil }

// stopAt is the instruction count at which v reaches its horizon or, if
// ticks, its next legacy tick: a fast-forward must stop before it.
func (v *vthread) stopAt(ticks bool) int64 {
	s := int64(never)
	if ticks {
		s = v.th.nextTick
	}
	if v.horizon == unknownHorizon {
		v.horizon = v.c.horizonOf(v)
	}
	if v.horizon != never {
		d := v.horizon - v.t
		s = min(s, v.baseI+(d*1000+v.c.psPerInstr-1)/v.c.psPerInstr)
	}
	return s
}

// noopTicks reports whether the thread's legacy ticks change nothing
// until its horizon: no thread waits for the GIL (legacyGIL.tick skips
// them), and only another thread of the process, at its queued time, can
// begin to wait.
func (v *vthread) noopTicks() bool {
	th := v.th
	l := th.proc.gilLock
	return th.checkInterval > 0 && l != nil && l.breaker == nil && l.waiting() == 0
}

// fastForward runs the countdown loop at the top frame's pc in one step,
// up to the last iteration whose eval breaker check would change nothing:
// the same instructions and the same checks as running it, at once. Legacy
// ticks that change nothing (noopTicks) are passed over, with the next
// tick due where those checks would have put it.
func (v *vthread) fastForward() {
	th := v.th
	if th.proc.breaker.load() != 0 || len(th.frames) == 0 {
		return
	}
	n := v.loopLeft()
	if n <= 0 {
		return
	}
	f := &th.frames[len(th.frames)-1]
	test, dec := &f.code.instrs[f.pc], &f.code.instrs[f.pc+lenTestGT]
	local := &th.locals[f.base+int(test.a)]
	noop := th.nextTick != never && v.noopTicks()
	stop := v.stopAt(!noop)
	if stop <= th.instrs {
		return
	}
	j := min(n, (stop-th.instrs-1)/instrsPerLoop)
	if j <= 0 {
		return
	}
	if noop {
		// The checks passed over are at th.instrs + k*instrsPerLoop,
		// k = 1..j; one at or past nextTick ticks and sets nextTick to
		// its count plus the check interval: from the first, every p
		// iterations.
		i0, ci := th.instrs, th.checkInterval
		k1 := max(1, (th.nextTick-i0+instrsPerLoop-1)/instrsPerLoop)
		if k1 <= j {
			p := max(1, (ci+instrsPerLoop-1)/instrsPerLoop)
			last := k1 + (j-k1)/p*p
			th.nextTick = i0 + last*instrsPerLoop + ci
		}
	}
	*local -= j * dec.b
	th.instrs += j * instrsPerLoop
}

// loopLeft is the iterations left of the countdown loop at the top frame's
// pc, or 0 if the thread is not at the head of one.
func (v *vthread) loopLeft() int64 {
	th := v.th
	if len(th.frames) == 0 {
		return 0
	}
	f := &th.frames[len(th.frames)-1]
	ins, pc := f.code.instrs, f.pc
	if pc+lenTestGT >= len(ins) {
		return 0
	}
	test, dec := &ins[pc], &ins[pc+lenTestGT]
	if test.op != opTestGT || dec.op != opDecJumpBack || dec.a != test.a || int(dec.c) != pc || dec.b <= 0 {
		return 0
	}
	x := th.locals[f.base+int(test.a)]
	if x <= test.b {
		return 0
	}
	if dec.b == 1 { // n -= 1: no division (a 64-bit one was most of this)
		return x - test.b
	}
	return (x - test.b + dec.b - 1) / dec.b
}

// daemonBound is how far a daemon thread may run ahead: to the earliest
// time a thread of its process that is not a daemon may run (its queued
// time, or, parked, the earliest queued entry) or, waiting for a core in
// a countdown, end, where it may make the process exit, stopping v
// (process.exit).
// never for a thread that is not a daemon.
func daemonBound(v *vthread) int64 {
	b := int64(never)
	if !v.th.daemon {
		return b
	}
	free, waker := int64(-1), int64(-1) // coreFreeAt and wakerBound, each once, when needed: they do not depend on w
	for _, w := range v.peers {
		if w == v || w.th.daemon || w.ended {
			continue
		}
		if w.at != never {
			// Queued in the middle of a countdown, it cannot end before
			// the countdown does (QA: bound by their quanta, two daemons
			// beside computing threads on 4 cores ran a loop iteration
			// at a time, 4 s for a what-if row of 2.2 s).
			b = min(b, w.actsAt())
		} else if w.inRunq {
			// Waiting for a core, in the middle of a countdown: it cannot
			// end (and make the process exit) before it has done the
			// loop's iterations left, from its time now on. A computing
			// daemon touches nothing shared (it syncs first), so only the
			// exit bounds it. QA: bound by the earliest queued entry,
			// the other daemon's, two daemons on 2 cores beside their
			// main thread took turns a few instructions at a time, 4.3 s
			// of CPU for 1 s simulated, and an attach's what-if replays
			// took seconds. Nor before it has a core again, no earlier
			// than one frees (coreFreeAt): bound by its own time alone,
			// a peer about to end, not in a countdown, held a daemon to
			// one iteration a check until its slice's end (QA: a what-if
			// row of 2.2 s on 4 cores took 4 s to simulate).
			if free < 0 {
				free = v.c.coreFreeAt(v)
			}
			if free != never { // never: no core frees before v's own horizon
				b = min(b, w.resumesAt(free))
			}
		} else if v.c.q.len() > 0 {
			// Parked or waiting for a core: whichever thread wakes it
			// or frees a core runs first, no earlier than the earliest
			// queued entry (v itself, at a lock or a core, is the
			// earliest then, and its push resets this horizon), nor
			// than where a thread computing in a countdown could act
			// (wakerBound).
			if waker < 0 {
				waker = v.c.wakerBound(v)
			}
			b = min(b, waker)
		}
	}
	return b
}

// actsAt is the earliest time queued thread v could act: its queued
// time, or, queued at a check in the middle of a countdown (not a
// wake-up), the countdown's end, before which it touches nothing shared.
func (v *vthread) actsAt() int64 {
	if n := v.loopLeft(); n > 0 && !v.qwake {
		return max(v.at, v.now()+n*instrsPerLoop*v.c.psPerInstr/1000)
	}
	return v.at
}

// resumesAt is the earliest time v, waiting for a core, could act: once a
// core frees (free, at the earliest), after the rest of its countdown.
func (v *vthread) resumesAt(free int64) int64 {
	return max(v.now(), free) + v.loopLeft()*instrsPerLoop*v.c.psPerInstr/1000
}

// wakerBound is the earliest time a thread other than v could touch
// shared state, for a daemon v beside a parked thread of its process,
// which only such a touch can wake: a queued thread's time, but for one
// queued in the middle of a countdown the countdown's end (it touches
// nothing before; giving its core up lets a thread waiting for one run,
// which the next term bounds); for a thread waiting for a core, the
// earliest time a core frees (coreFreeAt) plus what is left of its
// countdown. QA: bound by each other's entries and safe times, two
// daemons beside a parked main thread on 4 cores took turns a loop
// iteration at a time: a what-if row of 2.2 s took 4 s to simulate.
func (c *vclock) wakerBound(v *vthread) int64 { return c.actBound(v, nil) }

// actBound is the earliest time a thread other than v, and not of process
// skip, could touch shared state (wakerBound).
func (c *vclock) actBound(v *vthread, skip *process) int64 {
	b := int64(never)
	for i := range c.q.len() {
		if x := c.q.get(i); x != v && x.th.proc != skip {
			b = min(b, x.actsAt())
		}
	}
	free := int64(-1) // coreFreeAt, once needed
	for _, w := range c.runq {
		if w == v || w.th.proc == skip {
			continue
		}
		if free < 0 {
			free = c.coreFreeAt(v)
		}
		if free != never {
			b = min(b, w.resumesAt(free))
		}
	}
	return b
}
