package vm

// A start (the workload's `start: GROUP`) is CPython's Thread.start: the
// threads of the group, which wait until then without a core and without
// events, begin when a thread executes the start. A started thread's
// start_after counts from its start. The starter does not wait for the
// started thread (CPython's start waits for the new thread's bootstrap,
// a few microseconds): it goes on at once, and the started thread begins
// after the wake-up latency (virtual time), or when the operating system
// runs it (real time). The start itself records no event; the started
// thread's ThreadStart shows it. A start of threads already started does
// nothing (the loader refuses workloads that would do so). A run stopped
// before a gated thread was started ends it where it waited, as a thread
// stopped during its start_after: ThreadStart and ThreadEnd at once. Only
// started groups have gates, so a workload without starts runs as before.
type startGate struct {
	l    *lock // its mu guards open, its waiters are the gated thread
	home int   // the gated thread's workload process (thread.home)
	open bool
}

// addGate makes th, a thread of group gi of process p, wait for a start.
func (r *runner) addGate(p *process, gi int, th *thread) {
	if p.gates == nil {
		p.gates = make([][]*startGate, len(r.w.Threads))
	}
	g := &startGate{l: newLock(0, r.clock, uint64(r.s.seed)+uint64(p.id)), home: th.home}
	p.gates[gi] = append(p.gates[gi], g)
	th.gate = g
}

// wait parks th until its gate opens; false if the run was stopped first.
func (g *startGate) wait(th *thread) bool {
	l := g.l
	l.mu.Lock()
	for !g.open {
		if l.park(th, 0) == WakeStop {
			l.unlock()
			return false
		}
	}
	l.unlock()
	return true
}

// startGroups opens the gates of every thread of the groups gs of the
// thread's process, in order.
func (th *thread) startGroups(gs []int) {
	for _, gi := range gs {
		for _, g := range th.proc.gates[gi] {
			if g.home != th.home {
				continue // another workload process's (Options.OneProcess)
			}
			l := g.l
			l.mu.Lock()
			opened := !g.open
			if opened {
				g.open = true
				for _, w := range l.waiters {
					l.wakeLater(w)
				}
			}
			l.unlock()
			if opened {
				th.noticeWaits.started()
			}
		}
	}
}
