package vm

// acquireCore gives v a core, waiting in the run queue if none is free.
func (c *vclock) acquireCore(v *vthread) {
	if !c.limited || v.onCore || c.halted(v) {
		return
	}
	if c.free > 0 {
		c.free--
		v.onCore, v.sliceEnd = true, v.now()+c.slice
		v.horizon = unknownHorizon
		return
	}
	v.inRunq = true
	c.runq = append(c.runq, v)
	c.yield(v)
}

// releaseCore gives v's core to the first thread waiting for one.
func (c *vclock) releaseCore(v *vthread) {
	if !v.onCore {
		return
	}
	v.onCore = false
	if len(c.runq) == 0 {
		c.free++
		return
	}
	w := c.runq[0]
	c.runq = c.runq[1:]
	w.inRunq = false
	t := v.now()
	w.onCore, w.sliceEnd = true, t+c.slice
	c.pushEntry(w, t, 0, false)
}

// sliceExpired ends v's time slice: it goes to the back of the run queue
// if a thread waits for a core, else it starts a new slice.
func (c *vclock) sliceExpired(v *vthread) {
	if len(c.runq) == 0 {
		v.sliceEnd = v.now() + c.slice
		v.horizon = unknownHorizon
		return
	}
	c.releaseCore(v)
	v.inRunq = true
	c.runq = append(c.runq, v)
	c.yield(v)
}
