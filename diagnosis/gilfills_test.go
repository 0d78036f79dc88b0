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
