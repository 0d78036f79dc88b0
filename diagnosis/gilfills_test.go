package diagnosis

import (
	"fmt"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// queuePipeline is a reader sleeping between short GIL bursts beside 3
// parsers that take turns, through a queue's lock, on 1 ms of Python each,
// gap apart: the parsers wait for the queue, not for the GIL, which the
// run holds 1 ms + 30 us of each 1 ms + gap.
func queuePipeline(rounds int, gap int64) *tracer.Trace {
	b := testkit.New("pipeline")
	b.Meta().Cores = 2
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	q := b.Lock(p, "queue")
	parse, read := b.Func("parse", 12), b.Func("reader", 7)
	ps := make([]*testkit.Thread, 3)
	for i := range ps {
		ps[i] = b.Thread(p, fmt.Sprintf("parser%d", i))
		at := int64(i) * 10
		ps[i].Start(at).Acquire(at+1, gil, tracer.AcquireUncontended).Call(at+2, parse).Wait(at+3, q).Release(at+4, gil, tracer.ReleaseLockWait)
	}
	rd := b.Thread(p, "reader").Start(50)
	rd.Acquire(60, gil, tracer.AcquireUncontended).Call(70, read).IOBegin(80, "sleep").Release(90, gil, tracer.ReleaseIO)
	t := int64(100)
	for r := 0; r < rounds; r++ {
		k := ps[r%len(ps)]
		k.Acquire(t, q, tracer.AcquireAfterWait).Acquire(t+10, gil, tracer.AcquireUncontended)
		k.Release(t+20, q, tracer.ReleaseUnlock)
		end := t + ms
		k.Wait(end, q).Release(end+10, gil, tracer.ReleaseLockWait)
		rd.IOEnd(end+20*us).Acquire(end+20*us+10, gil, tracer.AcquireUncontended).IOBegin(end+50*us, "sleep").Release(end+50*us+10, gil, tracer.ReleaseIO)
		t = end + gap
	}
	rd.IOEnd(t).Acquire(t+10, gil, tracer.AcquireUncontended).Return(t+20).Release(t+30, gil, tracer.ReleaseThreadEnd).End(t + 40)
	t += 100
	for _, k := range ps {
		k.Acquire(t, q, tracer.AcquireAfterWait).Acquire(t+10, gil, tracer.AcquireUncontended).Release(t+20, q, tracer.ReleaseUnlock)
		k.Return(t+30).Release(t+40, gil, tracer.ReleaseThreadEnd).End(t + 50)
		t += 100
	}
	return b.Trace()
}

// TestGILFillsWall: threads whose GIL is held most of the wall by Python
// spread over them, waiting for each other in a queue rather than for the
// GIL, are gil-bound (rule c), never "scales" (QA: a queue.Queue pipeline,
// the GIL held 88 % of the wall, "GIL wait 11 %", was "scales, 2.34x,
// threads are the right tool": 1, 2 and 4 parsers ran as fast). With the
// GIL held half the wall they are not.
func TestGILFillsWall(t *testing.T) {
	r := Analyze(tracer.Derive(queuePipeline(60, 100*us)))
	if r.GILHeldFraction < GILBoundHeldFraction {
		t.Fatalf("GIL held %v: want the setting's saturated GIL", r.GILHeldFraction)
	}
	if r.VerdictCodes() != GILBound {
		t.Fatalf("verdicts %s (achieved %v): want gil-bound", r.VerdictCodes(), r.Speedup.Achieved)
	}
	v := r.Verdicts[0]
	if !strings.Contains(v.Text, "fills its wall") || !strings.Contains(v.Advice, "More threads will not help") {
		t.Errorf("gil-bound: %q / %q", v.Text, v.Advice)
	}
	r = Analyze(tracer.Derive(queuePipeline(60, 1200*us)))
	if r.GILHeldFraction >= GILBoundHeldFraction || hasCode(r.Verdicts, GILBound) {
		t.Errorf("GIL held %v: verdicts %s, want no gil-bound", r.GILHeldFraction, r.VerdictCodes())
	}
}

// TestGILFilledByOneThread: processes whose GIL one thread fills (a
// multiprocessing child computing, beside its queue's feeder thread that
// starts to send the result) do not hold "scales" off: their threads do
// not wait for each other; the processes overlap (review: any process of
// two threads whose GIL was held 80 % of its life did, and a program whose
// processes scaled got no verdict).
func TestGILFilledByOneThread(t *testing.T) {
	b := testkit.New("pool")
	b.Meta().Cores = 2
	f, put := b.Func("work", 5), b.Func("_feed", 9)
	for i := range 2 {
		p := b.Process(fmt.Sprintf("child-%d", i), 100+i)
		gil := tracer.LockID(i)
		m := b.Thread(p, "MainThread")
		m.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, f).Return(100*ms).Release(100*ms+10, gil, tracer.ReleaseThreadEnd).End(100*ms + 20)
		fd := b.Thread(p, "QueueFeederThread")
		fd.Start(99*ms).Wait(99*ms+10, gil).Acquire(100*ms+20, gil, tracer.AcquireAfterWait).Call(100*ms+30, put).
			IOBegin(100*ms+40, "network").Release(100*ms+50, gil, tracer.ReleaseIO).IOEnd(101*ms).
			Acquire(101*ms+10, gil, tracer.AcquireUncontended).Return(101*ms+20).Release(101*ms+30, gil, tracer.ReleaseThreadEnd).End(101*ms + 40)
	}
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	for _, p := range r.Procs {
		if p.GILHeldFraction < GILBoundHeldFraction || p.Threads != 2 {
			t.Fatalf("process %s: GIL held %v, %d threads: want the setting's filled GIL", p.Name, p.GILHeldFraction, p.Threads)
		}
	}
	if !hasCode(r.Verdicts, Scales) {
		t.Errorf("verdicts %s (achieved %v): want scales", r.VerdictCodes(), r.Speedup.Achieved)
	}
}

// twoParsers: 2 parsers taking turns, each per 10 ms running 4.5 ms,
// waiting 3.5 ms for a queue and 2 ms for the GIL; the GIL held 90 %.
func twoParsers(rounds int) *tracer.Trace {
	b := testkit.New("two-parsers")
	b.Meta().Cores = 2
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	q := b.Lock(p, "queue")
	parse := b.Func("parse", 12)
	p0, p1 := b.Thread(p, "parser0"), b.Thread(p, "parser1")
	p0.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, parse)
	p1.Start(0).Wait(30, gil)
	first := true
	for c := 0; c < rounds; c++ {
		B := int64(c) * 10 * ms
		// parser0 runs [B, B+4.5]
		p0.Wait(B+4500*us, q).Release(B+4500*us+1, gil, tracer.ReleaseLockWait)
		if first {
			p1.Acquire(5*ms, gil, tracer.AcquireAfterWait).Call(5*ms+10, parse)
			first = false
		} else {
			p1.Acquire(B+5*ms, gil, tracer.AcquireAfterWait).Release(B+5*ms+10, q, tracer.ReleaseUnlock)
		}
		p0.Acquire(B+8*ms, q, tracer.AcquireAfterWait).Wait(B+8*ms+10, gil)
		// parser1 runs [B+5, B+9.5]
		p1.Wait(B+9500*us, q).Release(B+9500*us+1, gil, tracer.ReleaseLockWait)
		p0.Acquire(B+10*ms, gil, tracer.AcquireAfterWait).Release(B+10*ms+10, q, tracer.ReleaseUnlock)
		p1.Acquire(B+13*ms, q, tracer.AcquireAfterWait).Wait(B+13*ms+10, gil)
	}
	E := int64(rounds) * 10 * ms
	p0.Return(E+1*ms).Release(E+1*ms+10, gil, tracer.ReleaseThreadEnd).End(E + 1*ms + 20)
	p1.Acquire(E+1*ms+30, gil, tracer.AcquireAfterWait).Release(E+1*ms+40, q, tracer.ReleaseUnlock).Return(E+1*ms+50).Release(E+1*ms+60, gil, tracer.ReleaseThreadEnd).End(E + 1*ms + 70)
	return b.Trace()
}

// TestGILFillsWallTwoParsers: rule (c) is tried when rule (a) fails for
// its CPU-bound threads' short GIL wait (review: 2 parsers taking turns,
// each 45 % running, 20 % waiting for the GIL and 35 % for their queue,
// the GIL held 90 %, got no verdict).
func TestGILFillsWallTwoParsers(t *testing.T) {
	tr := twoParsers(40)
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	if r.GILHeldFraction < GILBoundHeldFraction {
		t.Fatalf("GIL held %v: want the setting's saturated GIL", r.GILHeldFraction)
	}
	if r.VerdictCodes() != GILBound || !strings.Contains(r.Verdicts[0].Text, "fills its wall") {
		t.Errorf("verdicts %s: want gil-bound by rule (c)", r.VerdictCodes())
	}
}
