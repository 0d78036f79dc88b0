package vm

import "slices"

// acquireCore gives v a core, waiting in the run queue if none is free.
func (c *vclock) acquireCore(v *vthread) {
	if !c.limited || v.onCore || c.halted(v) {
		return
	}
	// Back from a wait, or new: its core time counts from a slice behind
	// the least of the threads on a core (or, with none on a core, the
	// least seen before: coreFloor), as a fair scheduler places a waking
	// thread, so that one that slept long does not keep its core later,
	// once preempted, until it has caught up with the others, nor one
	// that ran alone wait for a new one to catch up with it
	// (sliceExpired; review: main, alone 100 ms before it started two
	// workers, then waited 90 ms for a core).
	c.raiseFloor(v.now())
	v.coreNS = max(v.coreNS, c.coreFloor-c.slice)
	if c.free > 0 {
		c.free--
		c.onCore(v, v.now())
		v.horizon = unknownHorizon
		return
	}
	v.inRunq, v.preempted = true, false
	c.runq = append(c.runq, v)
	c.yield(v)
}

// raiseFloor raises coreFloor to the least core time of the threads on a
// core at time t, if that is more.
func (c *vclock) raiseFloor(t int64) {
	least := int64(never)
	for _, w := range c.onCores {
		least = min(least, w.coreTime(t))
	}
	if least != never {
		c.coreFloor = max(c.coreFloor, least)
	}
}

// onCore gives v a core at time t.
func (c *vclock) onCore(v *vthread, t int64) {
	v.onCore, v.sliceEnd, v.coreAt = true, t+c.slice, t
	c.onCores = append(c.onCores, v)
}

// coreTime is the time v has had a core, at time t.
func (v *vthread) coreTime(t int64) int64 {
	if v.onCore {
		return v.coreNS + max(t-v.coreAt, 0)
	}
	return v.coreNS
}

// releaseCore gives v's core to the first thread waiting for one.
func (c *vclock) releaseCore(v *vthread) {
	c.releaseCoreTo(v, 0)
}

// releaseCoreTo gives v's core to the i-th thread of the run queue, if
// there is one.
func (c *vclock) releaseCoreTo(v *vthread, i int) {
	if !v.onCore {
		return
	}
	t := v.now()
	c.raiseFloor(t) // v among them: the last one on a core sets it too
	v.coreNS = v.coreTime(t)
	v.onCore = false
	if k := slices.Index(c.onCores, v); k >= 0 {
		c.onCores = slices.Delete(c.onCores, k, k+1)
	}
	if i >= len(c.runq) {
		c.free++
		return
	}
	w := c.runq[i]
	c.runq = append(c.runq[:i], c.runq[i+1:]...)
	w.inRunq = false
	c.onCore(w, t)
	c.pushEntry(w, t, 0, false)
}

// sliceExpired ends v's time slice. It gives its core to the first thread
// of the run queue that is back from a wait, or that its own slice's end
// queued and has had a core for less time than v, and goes to the back
// of the queue; if none is, it starts a new slice. The slices of the
// cores end about together: handing a core to whichever thread waits
// would give it, slice after slice, to the one the previous core's thread
// had just queued, and the same last one would wait every time (QA: 9
// threads on 8 cores, six never lost their core; 136 ms for 112.5 ms of
// fair shares). Deciding by core time, as a fair scheduler does, the
// cores take turns: one thread waits a slice, then the next.
func (c *vclock) sliceExpired(v *vthread) {
	now := v.coreTime(v.now())
	i := 0
	for ; i < len(c.runq); i++ {
		// A tie gives the core up too: one slice a turn (review: with
		// "<", evenly matched threads kept their cores for two slices).
		if w := c.runq[i]; !w.preempted || w.coreNS <= now {
			break
		}
	}
	if i == len(c.runq) {
		v.sliceEnd = v.now() + c.slice
		v.horizon = unknownHorizon
		return
	}
	c.releaseCoreTo(v, i)
	v.inRunq, v.preempted = true, true
	c.runq = append(c.runq, v)
	c.yield(v)
}
