package report

import (
	"bytes"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestFairnessTooFewToCompare: two CPU-bound threads that took the GIL
// from each other once are not compared ("fewest acquisitions 0, most 1,
// ratio 0.00" was printed for two loops that slept between short
// computes, QA): the line says there were too few acquisitions, and no
// verdict calls the GIL unfair.
func TestFairnessTooFewToCompare(t *testing.T) {
	const ms = int64(1e6)
	b := testkit.New("few")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	work := b.Func("work", 3)
	a, c := b.Thread(p, "A"), b.Thread(p, "B")
	a.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, work)
	c.Start(100).Wait(110, gil)
	at := 5 * ms
	c.DropRequest(at, gil, a.ID())
	a.Release(at+100, gil, tracer.ReleaseDropRequest).Wait(at+110, gil)
	c.Acquire(at+200, gil, tracer.AcquireForced).Call(at+210, work)
	at = 10 * ms
	c.Return(at).Release(at+10, gil, tracer.ReleaseThreadEnd).End(at + 20)
	a.Acquire(at+30, gil, tracer.AcquireAfterWait).Return(at+40).Release(at+50, gil, tracer.ReleaseThreadEnd).End(at + 60)
	txt, _ := textAndJSON(t, tracer.Derive(b.Trace()))
	if want := "fairness among 2 CPU-bound threads: too few acquisitions while they competed to compare (most 1, by "; !bytes.Contains(txt.Bytes(), []byte(want)) {
		t.Errorf("text lacks %q:\n%s", want, txt.String())
	}
	for _, bad := range []string{"ratio 0.00", "unfair"} {
		if bytes.Contains(txt.Bytes(), []byte(bad)) {
			t.Errorf("text has %q:\n%s", bad, txt.String())
		}
	}
}
