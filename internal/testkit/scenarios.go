package testkit

import "github.com/giltrace/giltrace/tracer"

// Countdown is Beazley's two counting threads under the cpython GIL: each
// thread runs count() for its share, and they take turns every switch
// interval through drop requests and forced handoffs.
//
// Timeline (ms): A holds 0-5; B waits from 0, requests a drop at 5; A
// releases at 5.1, B acquires forced at 5.2 and runs until 10.2, when A's
// drop request makes it release; and so on for rounds rounds; then both end.
func Countdown(rounds int) *tracer.Trace {
	b := New("countdown")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	count := b.Func("count", 3)
	main := b.Func("main", 8)
	threads := []*Thread{b.Thread(p, "T1"), b.Thread(p, "T2")}
	a, c := threads[0], threads[1]
	a.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, main).Call(30, count)
	c.Start(5).Wait(40, gil)
	holder, waiter := a, c
	t := int64(0)
	for i := 0; i < rounds; i++ {
		t += 5 * ms
		waiter.DropRequest(t, gil, holder.ID())
		holder.Release(t+100_000, gil, tracer.ReleaseDropRequest).Wait(t+100_010, gil)
		if i == 0 {
			waiter.Acquire(t+200_000, gil, tracer.AcquireForced).Call(t+200_010, main).Call(t+200_020, count)
		} else {
			waiter.Acquire(t+200_000, gil, tracer.AcquireForced)
		}
		t += 200_000
		holder, waiter = waiter, holder
	}
	// The holder finishes, then the waiter runs to its end.
	t += 3 * ms
	holder.Return(t).Return(t+10).Release(t+20, gil, tracer.ReleaseThreadEnd).End(t + 30)
	waiter.Acquire(t+50, gil, tracer.AcquireAfterWait)
	t += 2 * ms
	waiter.Return(t).Return(t+10).Release(t+20, gil, tracer.ReleaseThreadEnd).End(t + 30)
	return b.Trace()
}

// Mixed is a small trace with every event kind: two processes, one with a
// GIL and a guest lock and one free-threaded; calls, blocking I/O, native
// calls that release and that keep the GIL, a guest-lock wait, a drop
// request and a forced handoff.
func Mixed() *tracer.Trace {
	b := New("mixed")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	cache := b.Lock(p, "cache")
	handle := b.Func("handle", 10)
	parse := b.Func("parse", 20)
	query := b.Func("query", 30)
	hash := b.Func("hash", 40)

	w1 := b.Thread(p, "worker-1")
	w2 := b.Thread(p, "worker-2")
	// worker-1: parse (compute), a DB query (I/O), then hashing without the GIL.
	w1.Start(0).Acquire(100, gil, tracer.AcquireUncontended).Call(200, handle).Call(300, parse)
	// worker-2 starts and waits for the GIL; it asks for a drop at 5 ms.
	w2.Start(1000).Wait(1100, gil)
	w2.DropRequest(5*ms+1100, gil, w1.ID())
	w1.Release(5*ms+2000, gil, tracer.ReleaseDropRequest).Wait(5*ms+2100, gil)
	w2.Acquire(5*ms+3000, gil, tracer.AcquireForced).Call(5*ms+3100, handle)
	// worker-2 takes the cache lock and does I/O while holding it.
	w2.Acquire(5*ms+3200, cache, tracer.AcquireUncontended).IOBegin(5*ms+3300, "db").Release(5*ms+3400, gil, tracer.ReleaseIO)
	w1.Acquire(5*ms+4000, gil, tracer.AcquireAfterWait).Return(6*ms).Call(6*ms+100, query)
	// worker-1 wants the cache lock: it waits, releasing the GIL.
	w1.Wait(6*ms+200, cache).Release(6*ms+300, gil, tracer.ReleaseLockWait)
	w2.IOEnd(8*ms).Acquire(8*ms+100, gil, tracer.AcquireUncontended).Release(8*ms+200, cache, tracer.ReleaseUnlock)
	w1.Acquire(8*ms+300, cache, tracer.AcquireAfterWait).Wait(8*ms+400, gil)
	// worker-2 runs a native call that keeps the GIL, then returns and ends.
	w2.NativeBegin(8*ms+500, false).NativeEnd(10*ms).Return(10*ms+100).Release(10*ms+200, gil, tracer.ReleaseThreadEnd).End(10*ms + 300)
	w1.Acquire(10*ms+400, gil, tracer.AcquireAfterWait).Release(10*ms+500, cache, tracer.ReleaseUnlock).Return(10*ms + 600)
	w1.Call(10*ms+700, hash).NativeBegin(10*ms+800, true).Release(10*ms+900, gil, tracer.ReleaseNative)
	w1.NativeEnd(12*ms).Acquire(12*ms+100, gil, tracer.AcquireUncontended).Return(12*ms + 200).Return(12*ms + 300)
	w1.Release(12*ms+400, gil, tracer.ReleaseThreadEnd).End(12*ms + 500)

	// A free-threaded process: two threads computing in parallel.
	q := b.FreeThreadedProcess("python-nogil", 2)
	for i, name := range []string{"ft-1", "ft-2"} {
		th := b.Thread(q, name)
		off := int64(i) * 1000
		th.Start(off).Call(off+100, parse).IOBegin(3*ms+off, "network").IOEnd(4*ms + off).Return(9*ms + off).End(9*ms + off + 100)
	}
	return b.Trace()
}

// Large is a trace of about n events for benchmarks: 4 threads of one
// process take turns on the GIL through drop requests, with calls three
// deep, I/O and native calls, as a CPU- and I/O-bound run would record.
func Large(n int) *tracer.Trace {
	b := New("large")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	frames := []tracer.FrameID{b.Func("main", 1), b.Func("handle", 10), b.Func("parse", 20), b.Func("render", 30)}
	const nthreads = 4
	ths := make([]*Thread, nthreads)
	for i := range ths {
		ths[i] = b.Thread(p, "worker-"+string(rune('1'+i)))
		ths[i].Start(int64(i))
	}
	// take acquires the GIL for thread i; the first time, the thread then
	// enters main (a thread runs guest code only once it has the GIL).
	entered := make([]bool, nthreads)
	take := func(i int, at int64, how tracer.Acquire) *Thread {
		ths[i].Acquire(at, gil, how)
		if !entered[i] {
			ths[i].Call(at+5, frames[0])
			entered[i] = true
		}
		return ths[i]
	}
	take(0, 100, tracer.AcquireUncontended)
	for i := 1; i < nthreads; i++ {
		ths[i].Wait(int64(200+i), gil)
	}
	// Each round: the holder calls handle -> parse/render and returns, a
	// waiter requests a drop, the holder releases and the waiter takes it.
	// About 12 events a round.
	t := int64(1000)
	holder := 0
	for round := 0; round*12 < n; round++ {
		h := ths[holder]
		h.Call(t, frames[1]).Call(t+500, frames[2+round%2])
		if round%5 == 0 {
			h.IOBegin(t+600, "db").Release(t+700, gil, tracer.ReleaseIO)
			next := take((holder+1)%nthreads, t+800, tracer.AcquireAfterWait)
			h.IOEnd(t+50_000).Wait(t+50_100, gil)
			next.Call(t+60_000, frames[1]).Return(t + 70_000)
			h.DropRequest(t+79_000, gil, next.ID())
			next.Release(t+80_000, gil, tracer.ReleaseDropRequest).Wait(t+80_100, gil)
			h.Acquire(t+80_200, gil, tracer.AcquireForced)
		} else {
			if round%3 == 0 { // a native call that releases the GIL
				h.NativeBegin(t+600, true).Release(t+650, gil, tracer.ReleaseNative)
				h.NativeEnd(t+20_000).Acquire(t+20_050, gil, tracer.AcquireUncontended)
			} else {
				h.NativeBegin(t+600, false).NativeEnd(t + 20_000)
			}
		}
		h.Return(t + 90_000).Return(t + 90_100)
		next := (holder + 1 + round%(nthreads-1)) % nthreads
		ths[next].DropRequest(t+95_000, gil, h.ID())
		h.Release(t+100_000, gil, tracer.ReleaseDropRequest).Wait(t+100_100, gil)
		take(next, t+100_200, tracer.AcquireForced)
		holder = next
		t += 100_300
	}
	// The holder ends first; then each waiter in turn takes the GIL, returns
	// and ends.
	ths[holder].Return(t).Release(t+10, gil, tracer.ReleaseThreadEnd).End(t + 20)
	t += 100
	for i := 1; i < nthreads; i++ {
		take((holder+i)%nthreads, t, tracer.AcquireAfterWait).Return(t+10).Release(t+20, gil, tracer.ReleaseThreadEnd).End(t + 30)
		t += 100
	}
	return b.Trace()
}
