package testkit

import (
	"fmt"

	"github.com/giltrace/giltrace/tracer"
)

// WebApp is the I/O-heavy web app of issue 14: handlers threads of one
// process, each serving requests x [2 ms network I/O, then 1 ms of Python
// compute], sharing one GIL with no OS in the way (the machine has cores
// to spare). The GIL is granted first come, first served; 1 ms of compute
// ends before a waiter's switch interval (5 ms) runs out, so there are no
// drop requests. With 8 handlers the GIL is saturated (8 x 1 ms of every
// 3 ms), about 7 handlers wait for it at any time, and the run's runnable
// CPU demand is one core: the GIL, not the cores, limits it.
func WebApp(handlers, requests int) *tracer.Trace {
	b := New(fmt.Sprintf("web-app-%d", handlers))
	b.Meta().Cores = 2
	p := b.Process("python", 1)
	WebAppIn(b, p, gil0, handlers, requests, 0)
	return b.Trace()
}

// WebAppIn adds WebApp's handlers to process p of b, whose GIL is gil,
// starting at startAt (beside other processes of a test's trace).
func WebAppIn(b *Builder, p tracer.ProcID, gil tracer.LockID, handlers, requests int, startAt int64) {
	handle := b.Func("handle", 12)
	ths := make([]*Thread, handlers)
	// ready[i]: when handler i next wants the GIL; done[i]: requests served.
	ready := make([]int64, handlers)
	done := make([]int, handlers)
	waiting := make([]bool, handlers)
	for i := range ths {
		ths[i] = b.Thread(p, fmt.Sprintf("handler-%d", i+1))
		start := startAt + int64(i)*10*us
		ths[i].Start(start).Acquire(start+1, gil, tracer.AcquireUncontended).Call(start+2, handle).
			IOBegin(start+3, "network").Release(start+4, gil, tracer.ReleaseIO)
		ready[i] = start + 4 + 2*ms
	}
	free := int64(0) // when the GIL is next free
	for {
		// The handler that wanted the GIL first gets it.
		next := -1
		for i := range ths {
			if done[i] < requests && (next < 0 || ready[i] < ready[next]) {
				next = i
			}
		}
		if next < 0 {
			return
		}
		th := ths[next]
		if !waiting[next] {
			th.IOEnd(ready[next])
		}
		// Everyone else whose I/O ended before the GIL comes free waits.
		for i := range ths {
			if i != next && done[i] < requests && !waiting[i] && ready[i] < max(free, ready[next]) {
				ths[i].IOEnd(ready[i]).Wait(ready[i]+1, gil)
				waiting[i] = true
			}
		}
		at := max(free, ready[next]+2)
		how := tracer.AcquireUncontended
		if waiting[next] {
			how = tracer.AcquireAfterWait
		} else if at > ready[next]+2 {
			th.Wait(ready[next]+1, gil)
			how = tracer.AcquireAfterWait
		}
		waiting[next] = false
		th.Acquire(at, gil, how)
		end := at + ms // the compute
		done[next]++
		if done[next] == requests {
			th.Return(end).Release(end+1, gil, tracer.ReleaseThreadEnd).End(end + 2)
			free = end + 2
			continue
		}
		th.IOBegin(end, "network").Release(end+1, gil, tracer.ReleaseIO)
		free = end + 2
		ready[next] = end + 1 + 2*ms
	}
}
