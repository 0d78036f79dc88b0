package tracer_test

import (
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestTickerLateWake: chainsTrace's paced variant, but W's wait (a
// consumer of a ticker's put) ends 3 ms after MainThread let the GIL go for
// its next timeout, nobody holding it since (a late wake-up on a loaded
// core: tracer.IdleNotifyWindow). Notifier names MainThread as W's
// notifier, and WaitChains agrees: MainThread's loop paces W, a ticker,
// not a loop of timeouts that nobody waits for (review: the chains kept
// NotifyWindow, and took it for one).
func TestTickerLateWake(t *testing.T) {
	b := testkit.New("chains")
	b.Meta().Extra = map[string]string{"lock_wait_ends": "known", "source": "cpython"}
	p := b.Process("chains", 1)
	gil := tracer.LockID(0)
	l := b.Lock(p, "lock 0x10")
	m := newWaiter(b, p)
	l2 := b.Lock(p, "lock 0x20")
	w := b.Thread(p, "W")
	end := int64(203_500_000 + 3*ms) // 3 ms after MainThread's release at 203.5 ms
	w.Start(50*ms).Wait(50*ms, gil).Acquire(103_050_000, gil, tracer.AcquireAfterWait)
	w.Wait(103_100_000, l2).Release(103_100_000, gil, tracer.ReleaseLockWait)
	w.Acquire(end, l2, tracer.AcquireAfterWait).Release(end+100_000, l2, tracer.ReleaseThreadEnd).End(end + 100_000)
	m.timeout(3 * ms)
	m.timeout(ms / 2)
	m.timeout(ms / 2)
	m.wait(l, 20*ms, 50*ms)
	m.timeout(300 * ms)
	m.wait(l, 10*ms, ms)
	m.end()
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	id, at, ok := s.Notifier(w.ID(), end)
	if !ok || id != m.m.ID() {
		t.Fatalf("Notifier(W) = %d at %d (%v), want MainThread (%d)", id, at, ok, m.m.ID())
	}
	if cs := s.WaitChains(); len(cs[m.m.ID()]) > 0 {
		t.Errorf("W's wait is notified by MainThread (at %d), yet MainThread's loop is a chain that paces nobody: %+v", at, cs[m.m.ID()])
	}
}

// TestNotifyAllLateWake: S sets an Event that W1 and W2 wait on (both
// waiter locks released in S's hold, which ends at 10 ms). W1 wakes at
// once, holds the GIL 10.2-10.5 ms and blocks in I/O; W2 wakes 4 ms late
// (14 ms), nobody holding the GIL since W1. W1, woken by the same set, is
// not W2's notifier (review: the idle window took the last holder); S is
// not the last holder: none, and the wait keeps its length.
func TestNotifyAllLateWake(t *testing.T) {
	b := testkit.New("event")
	b.Meta().Extra = map[string]string{"lock_wait_ends": "known", "source": "cpython"}
	p := b.Process("event", 1)
	gil := tracer.LockID(0)
	l1 := b.Lock(p, "lock 0x10")
	l2 := b.Lock(p, "lock 0x20")
	s := b.Thread(p, "S")
	w1 := b.Thread(p, "W1")
	w2 := b.Thread(p, "W2")
	s.Start(0).Acquire(0, gil, tracer.AcquireUncontended).IOBegin(ms, "sleep").Release(ms, gil, tracer.ReleaseIO)
	w1.Start(0).Wait(0, gil).Acquire(ms+1000, gil, tracer.AcquireAfterWait).Wait(2*ms, l1).Release(2*ms, gil, tracer.ReleaseLockWait)
	w2.Start(0).Wait(0, gil).Acquire(2*ms+1000, gil, tracer.AcquireAfterWait).Wait(3*ms, l2).Release(3*ms, gil, tracer.ReleaseLockWait)
	s.IOEnd(9*ms).Acquire(9*ms, gil, tracer.AcquireUncontended).Release(10*ms, gil, tracer.ReleaseThreadEnd).End(10 * ms) // event.set() then ends
	w1.Acquire(10_100_000, l1, tracer.AcquireAfterWait).Acquire(10_200_000, gil, tracer.AcquireUncontended).Release(10_300_000, l1, tracer.ReleaseUnlock)
	w1.IOBegin(10_500_000, "network").Release(10_500_000, gil, tracer.ReleaseIO).IOEnd(30*ms).Acquire(30*ms, gil, tracer.AcquireUncontended).Release(31*ms, gil, tracer.ReleaseThreadEnd).End(31 * ms)
	w2.Acquire(14*ms, l2, tracer.AcquireAfterWait).Acquire(14*ms, gil, tracer.AcquireUncontended).Release(14_100_000, l2, tracer.ReleaseUnlock).Release(15*ms, gil, tracer.ReleaseThreadEnd).End(15 * ms)
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	sp := tracer.Derive(tr)
	if id, at, ok := sp.Notifier(w2.ID(), 14*ms); ok {
		t.Errorf("W2's notifier: %s at %d, want none", tr.Threads[id].Name, at)
	}
}

// TestWriterElsewhereTwoLoggers: the parent's select(timeout=0.1) runs
// out three times (nothing wrote to it) while two children each log a
// short write every 2 ms (interleaved): the two began as near, either
// could have written, and none is taken (review: without that rule every
// timeout was tied to the child's call begun last before it).
func TestWriterElsewhereTwoLoggers(t *testing.T) {
	b := testkit.New("timeouts")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	parent := b.Process("parent", 1)
	gil := tracer.LockID(0)
	m := b.Thread(parent, "MainThread")
	m.Start(0).Acquire(0, gil, tracer.AcquireUncontended)
	ends := []int64{110 * ms, 220 * ms, 330 * ms}
	for _, end := range ends {
		m.IOBegin(end-100*ms, "network").Release(end-100*ms, gil, tracer.ReleaseIO)
		m.IOEnd(end).Acquire(end, gil, tracer.AcquireUncontended)
	}
	m.Release(340*ms, gil, tracer.ReleaseThreadEnd).End(340 * ms)
	for i, pid := range []int{2, 3} {
		c := b.Process("child", pid)
		g := tracer.LockID(b.Trace().Procs[c].GIL)
		w := b.Thread(c, "MainThread")
		w.Start(0).Acquire(0, g, tracer.AcquireUncontended)
		for at := int64(i)*ms + ms/3; at < 335*ms; at += 2 * ms {
			w.IOBegin(at, "disk").Release(at, g, tracer.ReleaseIO).IOEnd(at+50_000).Acquire(at+50_000, g, tracer.AcquireUncontended)
		}
		w.Release(340*ms, g, tracer.ReleaseThreadEnd).End(340 * ms)
	}
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	n := 0
	for _, end := range ends {
		if id, at, ok := s.WriterElsewhere(m.ID(), end); ok {
			n++
			t.Logf("timeout ending at %d ms tied to thread %d's call at %d", end/ms, id, at)
		}
	}
	if n > 0 {
		t.Errorf("%d of 3 timeouts of a select tied to a child's unrelated log write", n)
	}
}
