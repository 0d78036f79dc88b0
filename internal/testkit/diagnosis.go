package testkit

// The situations the diagnosis's verdicts name (CPU-bound threads on one
// GIL, I/O threads, a convoy, a native call that keeps the GIL, a guest
// lock, free-threaded threads, processes, one thread), for the tests of the
// diagnosis, the report and compare. Every trace follows tracer's event
// protocol and passes CheckValid.

import (
	"fmt"

	"github.com/giltrace/giltrace/tracer"
)

// Times are in nanoseconds.
const (
	us = int64(1000)
	ms = 1000 * us
)

var gil0 = tracer.LockID(0) // the GIL of a builder's first process

// CPUThreads is n >= 2 CPU-bound threads taking turns on one GIL every switch
// interval, through drop requests and forced handoffs.
func CPUThreads(n, rounds int) *tracer.Trace {
	b := New(fmt.Sprintf("cpu-%d", n))
	p := b.Process("python", 1)
	count := b.Func("count", 3)
	ths := make([]*Thread, n)
	called := make([]bool, n)
	for i := range ths {
		ths[i] = b.Thread(p, fmt.Sprintf("T%d", i+1))
	}
	ths[0].Start(0).Acquire(10, gil0, tracer.AcquireUncontended).Call(20, count)
	called[0] = true
	for i := 1; i < n; i++ {
		ths[i].Start(int64(100+i)).Wait(int64(200+i), gil0)
	}
	holder, t := 0, int64(0)
	for r := 0; r < rounds; r++ {
		t += 5 * ms
		next := (holder + 1) % n
		ths[next].DropRequest(t, gil0, ths[holder].ID())
		ths[holder].Release(t+100*us, gil0, tracer.ReleaseDropRequest).Wait(t+100*us+10, gil0)
		ths[next].Acquire(t+200*us, gil0, tracer.AcquireForced)
		if !called[next] {
			ths[next].Call(t+200*us+10, count)
			called[next] = true
		}
		holder, t = next, t+200*us
	}
	t += ms
	for k := 0; k < n; k++ {
		h := (holder + k) % n
		if k > 0 {
			ths[h].Acquire(t, gil0, tracer.AcquireAfterWait)
			if !called[h] {
				ths[h].Call(t+10, count)
				called[h] = true
			}
		}
		t += ms
		ths[h].Return(t).Release(t+10, gil0, tracer.ReleaseThreadEnd).End(t + 20)
		t += 30
	}
	return b.Trace()
}

// IOThreads is n threads doing 10 ms of I/O after 100 us of Python, staggered
// so that they never contend for the GIL.
func IOThreads(n, rounds int) *tracer.Trace {
	b := New(fmt.Sprintf("io-%d", n))
	p := b.Process("python", 1)
	fetch := b.Func("fetch", 7)
	period := 10*ms + 200*us
	for i := 0; i < n; i++ {
		th := b.Thread(p, fmt.Sprintf("io-%d", i+1))
		off := int64(i) * 200 * us
		th.Start(off).Acquire(off+10, gil0, tracer.AcquireUncontended).Call(off+20, fetch)
		for r := 0; r < rounds; r++ {
			t := off + int64(r)*period
			if r > 0 {
				th.Acquire(t, gil0, tracer.AcquireUncontended)
			}
			th.IOBegin(t+100*us, "network").Release(t+100*us+10, gil0, tracer.ReleaseIO).IOEnd(t + 10*ms + 100*us)
		}
		t := off + int64(rounds)*period
		th.Acquire(t, gil0, tracer.AcquireUncontended).Return(t+10).Release(t+20, gil0, tracer.ReleaseThreadEnd).End(t + 30)
	}
	return b.Trace()
}

// Convoy is a CPU-bound thread beside an I/O-bound one that does 1 ms
// of I/O, then waits a switch interval for the GIL, then runs 50 us.
func Convoy(rounds int) *tracer.Trace { return convoyBehind("convoy", rounds, "cpu") }

// ConvoyTakingTurns is Convoy behind two CPU-bound threads that take turns
// holding the GIL: each drop request the I/O thread makes is to the one
// holding it then, and the other takes the GIL when the I/O thread goes
// back to its I/O (the convoy's advice names both: cpu-a and cpu-b).
func ConvoyTakingTurns(rounds int) *tracer.Trace {
	return convoyBehind("convoy-two", rounds, "cpu-a", "cpu-b")
}

// convoyBehind is an I/O thread's convoy behind the CPU-bound threads
// named, which take the GIL in turn (one thread: always the same), for
// rounds of a 5 ms hold, the I/O thread's forced acquire and its 1 ms I/O.
func convoyBehind(name string, rounds int, cpus ...string) *tracer.Trace {
	b := New(name)
	p := b.Process("python", 1)
	crunch, serve := b.Func("crunch", 17), b.Func("serve", 19)
	cs := make([]*Thread, len(cpus))
	for i, n := range cpus {
		cs[i] = b.Thread(p, n)
	}
	io := b.Thread(p, "io")
	cs[0].Start(0).Acquire(10, gil0, tracer.AcquireUncontended).Call(20, crunch)
	for i, c := range cs[1:] {
		c.Start(int64(50+20*i)).Wait(int64(60+20*i), gil0)
	}
	io.Start(100).Wait(200, gil0)
	called := map[*Thread]bool{cs[0]: true}
	t := int64(200)
	for r := 0; r < rounds; r++ {
		holder, next := cs[r%len(cs)], cs[(r+1)%len(cs)]
		t += 5 * ms
		io.DropRequest(t, gil0, holder.ID())
		holder.Release(t+50*us, gil0, tracer.ReleaseDropRequest).Wait(t+50*us+10, gil0)
		io.Acquire(t+100*us, gil0, tracer.AcquireForced)
		if r == 0 {
			io.Call(t+100*us+10, serve)
		}
		io.IOBegin(t+150*us, "network").Release(t+150*us+10, gil0, tracer.ReleaseIO)
		next.Acquire(t+160*us, gil0, tracer.AcquireAfterWait)
		if !called[next] {
			next.Call(t+160*us+10, crunch)
			called[next] = true
		}
		io.IOEnd(t+1150*us).Wait(t+1150*us+10, gil0)
		t += 1150*us + 10
	}
	t += ms
	holder := cs[rounds%len(cs)]
	holder.Return(t).Release(t+10, gil0, tracer.ReleaseThreadEnd).End(t + 20)
	for _, c := range cs {
		if c != holder {
			t += 40
			c.Acquire(t-10, gil0, tracer.AcquireAfterWait).Return(t).Release(t+10, gil0, tracer.ReleaseThreadEnd).End(t + 20)
		}
	}
	io.Acquire(t+30, gil0, tracer.AcquireAfterWait).Return(t+40).Release(t+50, gil0, tracer.ReleaseThreadEnd).End(t + 60)
	return b.Trace()
}

// NativeHolding is an extension thread whose 19 ms native call keeps the
// GIL beside a thread that wants to compute: the drop request is honoured
// only when the call returns.
func NativeHolding(rounds int) *tracer.Trace {
	b := New("native-holding")
	p := b.Process("python", 1)
	transform, tick := b.Func("transform", 21), b.Func("tick", 24)
	e, h := b.Thread(p, "extension"), b.Thread(p, "heartbeat")
	e.Start(0).Acquire(10, gil0, tracer.AcquireUncontended).Call(20, transform)
	h.Start(100).Wait(200, gil0)
	t := int64(0)
	for r := 0; r < rounds; r++ {
		e.NativeBegin(t+ms, false)
		h.DropRequest(t+5*ms, gil0, e.ID())
		e.NativeEnd(t+20*ms).Release(t+20*ms+10, gil0, tracer.ReleaseDropRequest).Wait(t+20*ms+20, gil0)
		h.Acquire(t+20*ms+50, gil0, tracer.AcquireForced)
		if r == 0 {
			h.Call(t+20*ms+60, tick)
		}
		e.DropRequest(t+25*ms+50, gil0, h.ID())
		h.Release(t+25*ms+100, gil0, tracer.ReleaseDropRequest).Wait(t+25*ms+110, gil0)
		e.Acquire(t+25*ms+150, gil0, tracer.AcquireForced)
		t += 25*ms + 150
	}
	e.Return(t+ms).Release(t+ms+10, gil0, tracer.ReleaseThreadEnd).End(t + ms + 20)
	h.Acquire(t+ms+30, gil0, tracer.AcquireAfterWait).Return(t+2*ms).Release(t+2*ms+10, gil0, tracer.ReleaseThreadEnd).End(t + 2*ms + 20)
	return b.Trace()
}

// LockBound is two threads that hold a guest lock around 8 ms of I/O and
// run 1 ms outside it: each waits for the lock while the other holds it.
func LockBound(rounds int) *tracer.Trace {
	b := New("lock-bound")
	p := b.Process("python", 1)
	cache := b.Lock(p, "cache")
	update := b.Func("update", 30)
	x, y := b.Thread(p, "worker-1"), b.Thread(p, "worker-2")
	x.Start(0).Acquire(10, gil0, tracer.AcquireUncontended).Call(20, update).Acquire(30, cache, tracer.AcquireUncontended)
	y.Start(40).Wait(50, gil0)
	x.IOBegin(1000, "db").Release(1010, gil0, tracer.ReleaseIO)
	y.Acquire(1020, gil0, tracer.AcquireAfterWait).Call(1030, update).Wait(1040, cache).Release(1050, gil0, tracer.ReleaseLockWait)
	t := int64(1000) // x's I/O began; x holds the lock, y waits for it
	for r := 0; r < rounds; r++ {
		x.IOEnd(t+8*ms).Acquire(t+8*ms+10, gil0, tracer.AcquireUncontended).Release(t+8*ms+20, cache, tracer.ReleaseUnlock)
		y.Acquire(t+8*ms+30, cache, tracer.AcquireAfterWait).Wait(t+8*ms+40, gil0)
		x.Wait(t+9*ms+40, cache).Release(t+9*ms+50, gil0, tracer.ReleaseLockWait)
		y.Acquire(t+9*ms+60, gil0, tracer.AcquireAfterWait).IOBegin(t+9*ms+70, "db").Release(t+9*ms+80, gil0, tracer.ReleaseIO)
		t += 9*ms + 70
		x, y = y, x
	}
	x.IOEnd(t+8*ms).Acquire(t+8*ms+10, gil0, tracer.AcquireUncontended).Release(t+8*ms+20, cache, tracer.ReleaseUnlock)
	y.Acquire(t+8*ms+30, cache, tracer.AcquireAfterWait).Wait(t+8*ms+40, gil0)
	x.Return(t+8*ms+50).Release(t+8*ms+60, gil0, tracer.ReleaseThreadEnd).End(t + 8*ms + 70)
	y.Acquire(t+8*ms+80, gil0, tracer.AcquireAfterWait).Release(t+8*ms+90, cache, tracer.ReleaseUnlock).Return(t + 8*ms + 100)
	y.Release(t+8*ms+110, gil0, tracer.ReleaseThreadEnd).End(t + 8*ms + 120)
	return b.Trace()
}

// FreeThreaded is n threads computing for d nanoseconds at once without a
// GIL.
func FreeThreaded(n int, d int64) *tracer.Trace {
	b := New(fmt.Sprintf("free-%d", n))
	b.Meta().GILMode = "none"
	q := b.FreeThreadedProcess("python-nogil", 1)
	count := b.Func("count", 3)
	for i := 0; i < n; i++ {
		off := int64(i)
		b.Thread(q, fmt.Sprintf("T%d", i+1)).Start(off).Call(off+10, count).Return(d).End(d + 10)
	}
	return b.Trace()
}

// Processes is n processes of one thread each, computing for d
// nanoseconds at once, each holding its own GIL.
func Processes(n int, d int64) *tracer.Trace {
	b := New(fmt.Sprintf("processes-%d", n))
	count := b.Func("count", 3)
	for i := 0; i < n; i++ {
		p := b.Process(fmt.Sprintf("python-%d", i+1), i+1)
		gil := tracer.LockID(i) // each Process adds its GIL, in order
		off := int64(i)
		b.Thread(p, "counter").Start(off).Acquire(off+10, gil, tracer.AcquireUncontended).Call(off+20, count).
			Return(d).Release(d+10, gil, tracer.ReleaseThreadEnd).End(d + 20)
	}
	return b.Trace()
}

// SingleThread is one thread computing 50 ms with one 10 ms I/O.
func SingleThread() *tracer.Trace {
	b := New("single")
	p := b.Process("python", 1)
	main := b.Func("main", 1)
	b.Thread(p, "MainThread").Start(0).Acquire(10, gil0, tracer.AcquireUncontended).Call(20, main).
		IOBegin(20*ms, "file").Release(20*ms+10, gil0, tracer.ReleaseIO).IOEnd(30*ms).
		Acquire(30*ms+10, gil0, tracer.AcquireUncontended).Return(60*ms).Release(60*ms+10, gil0, tracer.ReleaseThreadEnd).End(60*ms + 20)
	return b.Trace()
}

// Serial is one thread computing for d nanoseconds.
func Serial(d int64) *tracer.Trace {
	b := New("serial")
	p := b.Process("python", 1)
	count := b.Func("count", 3)
	b.Thread(p, "T1").Start(0).Acquire(10, gil0, tracer.AcquireUncontended).Call(20, count).
		Return(d).Release(d+10, gil0, tracer.ReleaseThreadEnd).End(d + 20)
	return b.Trace()
}

// LegacyUnfair is two CPU-bound threads on the legacy GIL: T1 releases it
// every check interval (1 ms here) and wins it straight back every time
// but once, while T2 waits; T2 runs when T1 is done.
func LegacyUnfair(rounds int) *tracer.Trace {
	b := New("legacy-unfair")
	b.Meta().GILMode = "legacy"
	b.Meta().SwitchInterval = 0
	p := b.Process("python", 1)
	count := b.Func("count", 3)
	t1, t2 := b.Thread(p, "T1"), b.Thread(p, "T2")
	t1.Start(0).Acquire(10, gil0, tracer.AcquireUncontended).Call(20, count)
	t2.Start(30).Wait(40, gil0)
	t := int64(0)
	for r := 0; r < rounds; r++ {
		t += ms
		t1.Release(t, gil0, tracer.ReleaseLegacyTick).Wait(t+1, gil0)
		if r == rounds/2 {
			t2.Acquire(t+2, gil0, tracer.AcquireAfterWait).Call(t+3, count)
			t += ms
			t2.Release(t, gil0, tracer.ReleaseLegacyTick).Wait(t+1, gil0)
		}
		t1.Acquire(t+2, gil0, tracer.AcquireAfterWait)
	}
	t += ms
	t1.Return(t).Release(t+10, gil0, tracer.ReleaseThreadEnd).End(t + 20)
	t2.Acquire(t+30, gil0, tracer.AcquireAfterWait)
	t += int64(rounds/2) * ms
	t2.Return(t).Release(t+10, gil0, tracer.ReleaseThreadEnd).End(t + 20)
	return b.Trace()
}
