package tracer_test

import (
	"fmt"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// waiter builds the timed waits of thread m, which holds the GIL of its
// process between them, from at on.
type waiter struct {
	m   *testkit.Thread
	gil tracer.LockID
	at  int64
}

// newWaiter starts MainThread of process p (built by testkit's Process,
// whose GIL is the first lock) holding its GIL at 0.
func newWaiter(b *testkit.Builder, p tracer.ProcID) *waiter {
	w := &waiter{m: b.Thread(p, "MainThread")}
	w.m.Start(0).Acquire(0, w.gil, tracer.AcquireUncontended)
	return w
}

// timeout: a timed wait of 100 ms that ran out, then gap of work.
func (w *waiter) timeout(gap int64) {
	w.m.IOBegin(w.at, "lock-timeout").Release(w.at, w.gil, tracer.ReleaseIO)
	w.m.IOEnd(w.at+100*ms).Acquire(w.at+100*ms, w.gil, tracer.AcquireUncontended)
	w.at += 100*ms + gap
}

// wait: a wait of d for lock l that got it, then gap of work.
func (w *waiter) wait(l tracer.LockID, d, gap int64) {
	at := w.at
	w.m.Wait(at, l).Release(at, w.gil, tracer.ReleaseLockWait)
	w.m.Acquire(at+d, l, tracer.AcquireAfterWait).Acquire(at+d, w.gil, tracer.AcquireUncontended).Release(at+d+1000, l, tracer.ReleaseUnlock)
	w.at += d + gap
}

// end ends MainThread where its waits ended.
func (w *waiter) end() {
	w.m.Release(w.at, w.gil, tracer.ReleaseThreadEnd).End(w.at)
}

// chainsTrace: MainThread of a process with a GIL runs a loop of timed
// waits: a timeout followed by 3 ms of work, two followed by 0.5 ms, a
// notified wait of 20 ms (at 304 ms), 50 ms of work, a timeout given up
// (300 ms of work after it), a wait alone. With paced, thread W (started
// at 50 ms) waits for another lock from 103.1 ms to 203.2 ms, which ends
// while MainThread holds the GIL between two timeouts (a ticker's put).
func chainsTrace(known, paced bool) (*tracer.Trace, tracer.ThreadID) {
	b := testkit.New("chains")
	if known {
		b.Meta().Extra = map[string]string{"lock_wait_ends": "known"}
	}
	p := b.Process("chains", 1)
	gil := tracer.LockID(0) // Process adds it, the first lock
	l := b.Lock(p, "lock 0x10")
	m := newWaiter(b, p)
	if paced {
		l2 := b.Lock(p, "lock 0x20")
		w := b.Thread(p, "W")
		w.Start(50*ms).Wait(50*ms, gil).Acquire(103_050_000, gil, tracer.AcquireAfterWait)
		w.Wait(103_100_000, l2).Release(103_100_000, gil, tracer.ReleaseLockWait)
		w.Acquire(203_200_000, l2, tracer.AcquireAfterWait).Release(203_300_000, l2, tracer.ReleaseThreadEnd).End(203_300_000)
	}
	m.timeout(3 * ms) // followed by 3 ms of work: not in the chain after it
	m.timeout(ms / 2)
	m.timeout(ms / 2)
	m.wait(l, 20*ms, 50*ms) // the chain's end: timeouts 1 and 2
	m.timeout(300 * ms)     // given up: 300 ms of work after it
	m.wait(l, 10*ms, ms)    // a wait alone
	m.end()
	return b.Trace(), m.m.ID()
}

// TestWaitChains: a loop of timed waits that ran out (I/O "lock-timeout")
// until a wait that got its lock is a chain, from its first timeout that
// the loop's checks (at most 2 ms of work between two waits, GIL waits
// aside) lead on to the wait; a timeout followed by more work (given up)
// is in none, nor is any when the trace does not say that its waits' ends
// are known (lock_wait_ends), nor a loop during which another thread's
// wait ended while the loop's thread held the GIL (a ticker that others
// wait for).
func TestWaitChains(t *testing.T) {
	tr, id := chainsTrace(true, false)
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	cs := s.WaitChains()
	if len(cs) != 1 || len(cs[id]) != 1 {
		t.Fatalf("chains %+v, want one of MainThread", cs)
	}
	c := cs[id][0]
	sts := s.ThreadStates(id)
	if c.From != 103*ms || sts[c.First].Start != c.From || sts[c.Wait].State != tracer.StateLockWait || sts[c.Wait].Start != c.To || c.To != 304*ms {
		t.Errorf("chain %+v, want from 103 ms to the wait at 304 ms; spans %+v", c, sts)
	}
	tr, _ = chainsTrace(false, false)
	if cs := tracer.Derive(tr).WaitChains(); len(cs) != 0 {
		t.Errorf("without lock_wait_ends: chains %+v", cs)
	}
	tr, _ = chainsTrace(true, true)
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if cs := tracer.Derive(tr).WaitChains(); len(cs) != 0 {
		t.Errorf("a loop that another thread waited for: chains %+v", cs)
	}
}

// TestLoopedTimeouts: timeouts each followed, after no more work than
// they lasted, by the next, by a chain that a notified wait ends, or by a
// wait for a lock that got it while another thread held the GIL are in a
// loop; not those of a loop whose
// last wait had no notifier or that no wait ends, nor one followed by
// more work, or by a Thread.join (given up), nor a WaitChain's. LoopWait
// is the loop's and the chain's timeouts.
func TestLoopedTimeouts(t *testing.T) {
	b := testkit.New("looped")
	b.Meta().Extra = map[string]string{"lock_wait_ends": "known"}
	p := b.Process("looped", 1)
	gil := tracer.LockID(0) // Process adds it, the first lock
	l := b.Lock(p, "lock 0x10")
	j := b.Lock(p, "lock 0x30 (Thread.join)")
	m := newWaiter(b, p)
	// W holds the GIL as the loop's wait ends: its notifier.
	w := b.Thread(p, "W")
	w.Start(0).Wait(0, gil).Acquire(221*ms, gil, tracer.AcquireAfterWait).Release(224_500_000, gil, tracer.ReleaseThreadEnd).End(224_500_000)
	m.timeout(10 * ms) // looped
	m.timeout(10 * ms) // looped
	m.wait(l, 5*ms, ms)
	m.timeout(10 * ms) // a loop that no wait with a notifier ends
	m.timeout(10 * ms)
	m.wait(l, 5*ms, ms)
	m.timeout(300 * ms) // given up
	m.wait(l, 5*ms, ms)
	m.timeout(5 * ms) // then a join
	m.wait(j, 5*ms, ms)
	third := m.at / ms
	m.timeout(10 * ms) // looped: a chain follows, whose wait W2 notifies
	w2 := b.Thread(p, "W2")
	w2.Start(0).Wait(0, gil).Acquire(m.at+102*ms, gil, tracer.AcquireAfterWait).Release(m.at+105*ms, gil, tracer.ReleaseThreadEnd).End(m.at + 105*ms)
	m.timeout(ms / 2) // a chain's
	m.wait(l, 5*ms, ms)
	m.timeout(10 * ms) // a fixed-count loop: no wait ends it
	m.timeout(10 * ms)
	m.end()
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	var starts []int64
	sts := s.ThreadStates(m.m.ID())
	for _, k := range s.LoopedTimeouts()[m.m.ID()] {
		starts = append(starts, sts[k].Start/ms)
	}
	if len(starts) != 3 || starts[0] != 0 || starts[1] != 110 || starts[2] != third {
		t.Errorf("looped timeouts beginning at %v ms, want 0, 110 and %d", starts, third)
	}
	if cs := s.WaitChains()[m.m.ID()]; len(cs) != 1 {
		t.Errorf("chains %+v, want the last timeout's", cs)
	}
	if w := s.LoopWait(m.m.ID()); w < 399*ms || w > 400*ms { // (the recorder keeps each thread's times apart by a nanosecond or so)
		t.Errorf("loop wait %d ms, want 400 (three looped timeouts and a chain's)", w/ms)
	}
}

// TestWriter: the writer of what ended a wait on the process's own pipe
// (I/O own-io, in a real program's trace) is the one other thread with a
// blocking call begun within tracer.WriteWindow before the wait's end and
// ended within tracer.WriteWindow before it (a late wake-up) or
// tracer.NotifyWindow after: not the GIL's holder then (a CPU-bound
// thread), not another reader's read, begun long before and ended by the
// same broadcast, nor a sleep that ended then. None when no thread's call
// ended near it (a signal's wake-up descriptor), nor when two threads'
// short calls did (a bystander's file read beside the write). The kind is
// a real program's only: a VM run's workload may name a kind own-io.
func TestWriter(t *testing.T) {
	for _, real := range []bool{true, false} {
		b := testkit.New("writer")
		if real {
			b.Meta().Extra = map[string]string{"source": "cpython"}
		}
		p := b.Process("writer", 1)
		gil := tracer.LockID(0)
		r := b.Thread(p, "reader")
		r.Start(0).Acquire(0, gil, tracer.AcquireUncontended)
		r.IOBegin(1*ms, tracer.OwnIOKind).Release(1*ms, gil, tracer.ReleaseIO)
		r.IOEnd(50*ms).Wait(50*ms, gil).Acquire(60*ms, gil, tracer.AcquireAfterWait)
		r.IOBegin(70*ms, tracer.OwnIOKind).Release(70*ms, gil, tracer.ReleaseIO)
		r.IOEnd(90*ms).Acquire(90*ms, gil, tracer.AcquireUncontended)
		r.IOBegin(91*ms, tracer.OwnIOKind).Release(91*ms, gil, tracer.ReleaseIO)
		r.IOEnd(120*ms).Acquire(120*ms, gil, tracer.AcquireUncontended)
		r.Release(121*ms, gil, tracer.ReleaseThreadEnd).End(121 * ms)
		w := b.Thread(p, "writer")
		w.Start(2*ms).Acquire(2*ms, gil, tracer.AcquireUncontended).IOBegin(2*ms+1000, "sleep").Release(2*ms+1000, gil, tracer.ReleaseIO)
		w.IOEnd(48*ms).Acquire(48*ms, gil, tracer.AcquireUncontended)
		w.IOBegin(49*ms, "disk").Release(49*ms, gil, tracer.ReleaseIO)
		w.IOEnd(50*ms-20_000).Wait(50*ms-20_000, gil).Acquire(70*ms+1000, gil, tracer.AcquireAfterWait)
		// A late wake-up: its write ended 3 ms before the reader woke at 90 ms.
		w.IOBegin(86*ms, "disk").Release(86*ms, gil, tracer.ReleaseIO)
		w.IOEnd(87*ms).Wait(87*ms, gil).Acquire(91*ms+1000, gil, tracer.AcquireAfterWait)
		w.Release(91*ms+2000, gil, tracer.ReleaseThreadEnd).End(91*ms + 2000)
		r2 := b.Thread(p, "reader 2")
		r2.Start(4*ms).Acquire(4*ms, gil, tracer.AcquireUncontended).IOBegin(5*ms, tracer.OwnIOKind).Release(5*ms, gil, tracer.ReleaseIO)
		r2.IOEnd(50*ms-5_000).Wait(50*ms-5_000, gil).Acquire(121*ms+1000, gil, tracer.AcquireAfterWait).Release(121*ms+2000, gil, tracer.ReleaseThreadEnd).End(121*ms + 2000)
		sl := b.Thread(p, "sleeper")
		sl.Start(3*ms).Acquire(3*ms, gil, tracer.AcquireUncontended).IOBegin(3*ms+1000, "sleep").Release(3*ms+1000, gil, tracer.ReleaseIO)
		sl.IOEnd(120*ms).Wait(120*ms, gil).Acquire(122*ms, gil, tracer.AcquireAfterWait).Release(122*ms+1000, gil, tracer.ReleaseThreadEnd).End(122*ms + 1000)
		// Two threads whose short calls ended as the third wait ended: a
		// write and a bystander's file read, which is which unknown.
		for i, name := range []string{"writer 2", "bystander"} {
			x := b.Thread(p, name)
			at := 117*ms + int64(i)*200_000
			x.Start(at).Acquire(at, gil, tracer.AcquireUncontended).IOBegin(at+1000, "disk").Release(at+1000, gil, tracer.ReleaseIO)
			x.IOEnd(119*ms + int64(i)*300_000).End(119*ms + int64(i)*300_000 + 1)
		}
		c := b.Thread(p, "cpu")
		c.Start(49*ms+500_000).Acquire(49*ms+500_000, gil, tracer.AcquireUncontended).Release(59*ms, gil, tracer.ReleaseThreadEnd).End(59 * ms)
		tr := b.Trace()
		if err := tr.CheckValid(); err != nil {
			t.Fatal(err)
		}
		sp := tracer.Derive(tr)
		if got := tracer.OwnIOKindOf(sp.Trace) > 0; got != real {
			t.Fatalf("real %v: own-io kind found %v", real, got)
		}
		for _, tc := range []struct {
			end    int64
			writer string
			at     int64
		}{
			{50 * ms, "writer", 49 * ms},
			{90 * ms, "writer", 86 * ms},
			{120 * ms, "", 0},
		} {
			id, at, ok := sp.Writer(r.ID(), tc.end)
			name := ""
			if ok {
				name = sp.Trace.Threads[id].Name
			}
			if name != tc.writer || ok && at != tc.at {
				t.Errorf("the wait ended at %d ms: writer %q at %d, want %q at %d", tc.end/ms, name, at, tc.writer, tc.at)
			}
		}
	}
}

// TestWriterElsewhereAndExited: in a program of several processes, a read
// ended by another process's write finds that writer (WriterElsewhere),
// which Writer, its own process's, does not; a wait for a child (I/O
// "wait") ended after a child's exit finds the child's thread at its end
// (Exited), within ExitWindow, not a child that ended before the wait
// began, and none when two children ended as near.
func TestWriterElsewhereAndExited(t *testing.T) {
	b := testkit.New("procs")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	parent := b.Process("parent", 1)
	gil := tracer.LockID(0)
	m := b.Thread(parent, "MainThread")
	m.Start(0).Acquire(0, gil, tracer.AcquireUncontended)
	m.IOBegin(1*ms, "disk").Release(1*ms, gil, tracer.ReleaseIO) // a result's read
	m.IOEnd(100*ms).Acquire(100*ms, gil, tracer.AcquireUncontended)
	m.IOBegin(101*ms, "wait").Release(101*ms, gil, tracer.ReleaseIO) // join child 1
	m.IOEnd(210*ms).Acquire(210*ms, gil, tracer.AcquireUncontended)
	m.IOBegin(211*ms, "wait").Release(211*ms, gil, tracer.ReleaseIO) // children 2 and 3 ended as near
	m.IOEnd(400*ms).Acquire(400*ms, gil, tracer.AcquireUncontended)
	m.Release(401*ms, gil, tracer.ReleaseThreadEnd).End(401 * ms)
	child := func(pid int, end int64, write bool) {
		p := b.Process(fmt.Sprintf("child-%d", pid), pid)
		g := tracer.LockID(b.Trace().Procs[p].GIL)
		c := b.Thread(p, "MainThread")
		c.Start(0).Acquire(0, g, tracer.AcquireUncontended)
		if write {
			c.IOBegin(99*ms, "disk").Release(99*ms, g, tracer.ReleaseIO).IOEnd(99*ms+50_000).Acquire(99*ms+50_000, g, tracer.AcquireUncontended)
		}
		c.Release(end, g, tracer.ReleaseThreadEnd).End(end)
	}
	child(2, 180*ms, true) // writes at 99 ms, ends at 180 ms: 30 ms before the join returns
	child(3, 380*ms, false)
	child(4, 385*ms, false)
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	if id, at, ok := s.WriterElsewhere(0, 100*ms); !ok || tr.Threads[id].Proc == 0 || at != 99*ms {
		t.Errorf("WriterElsewhere: %d at %d (%v), want child 2's MainThread at 99 ms", id, at, ok)
	}
	if _, _, ok := s.Writer(0, 100*ms); ok {
		t.Error("Writer found a writer of another process")
	}
	if id, at, ok := s.Exited(0, 101*ms, 210*ms); !ok || tr.Threads[id].Proc != 1 || at != s.Threads[id].End || at/ms != 180 {
		t.Errorf("Exited: %d at %d (%v), want child 2's MainThread at 180 ms", id, at, ok)
	}
	if _, _, ok := s.Exited(0, 185*ms, 210*ms); ok {
		t.Error("Exited found a child that ended before the wait began")
	}
	if id, _, ok := s.Exited(0, 211*ms, 400*ms); ok {
		t.Errorf("Exited chose %d of two children that ended 20 and 15 ms before", id)
	}
}

// TestNotifierAfterIdleGIL: a wait that ended with its lock some
// milliseconds after the GIL's last holder let it go, nobody holding it
// since, was notified by that holder (a wake-up late on a loaded core),
// when the trace tells the waits that ran out apart; not without that,
// nor past tracer.IdleNotifyWindow, nor when the waiter itself held the
// GIL in between (its wait began after that holder let go).
func TestNotifierAfterIdleGIL(t *testing.T) {
	build := func(known bool, gap int64, own bool) (*tracer.Spans, tracer.ThreadID) {
		b := testkit.New("idle")
		b.Meta().Extra = map[string]string{"source": "cpython"}
		if known {
			b.Meta().Extra["lock_wait_ends"] = "known"
		}
		p := b.Process("idle", 1)
		gil := tracer.LockID(0)
		q := b.Lock(p, "lock 0x10") // a queue's: the waiter waits, the notifier puts
		n := b.Thread(p, "notifier")
		w := b.Thread(p, "waiter")
		w.Start(0).Acquire(0, gil, tracer.AcquireUncontended)
		waitAt := int64(ms)
		if own {
			// The waiter runs again after the notifier let go, then waits.
			w.IOBegin(ms, "disk").Release(ms, gil, tracer.ReleaseIO).IOEnd(60*ms).Acquire(60*ms, gil, tracer.AcquireUncontended)
			waitAt = 61 * ms
		}
		w.Wait(waitAt, q).Release(waitAt, gil, tracer.ReleaseLockWait)
		if own {
			n.Start(0).Wait(0, gil).Acquire(ms+1000, gil, tracer.AcquireAfterWait).Release(50*ms, gil, tracer.ReleaseThreadEnd).End(50 * ms)
		} else {
			n.Start(0).Wait(0, gil).Acquire(waitAt+1000, gil, tracer.AcquireAfterWait).Release(50*ms, gil, tracer.ReleaseThreadEnd).End(50 * ms)
		}
		end := 50*ms + gap
		if own {
			end = 61*ms + gap
		}
		w.Acquire(end, q, tracer.AcquireAfterWait).Acquire(end, gil, tracer.AcquireUncontended).Release(end+1000, q, tracer.ReleaseUnlock)
		w.Release(end+ms, gil, tracer.ReleaseThreadEnd).End(end + ms)
		tr := b.Trace()
		if err := tr.CheckValid(); err != nil {
			t.Fatal(err)
		}
		return tracer.Derive(tr), w.ID()
	}
	for _, tc := range []struct {
		name  string
		known bool
		gap   int64
		own   bool
		want  bool
	}{
		{"within NotifyWindow", false, tracer.NotifyWindow, false, true},
		{"4.4 ms late, timeouts told apart", true, 4_400_000, false, true},
		{"at IdleNotifyWindow", true, tracer.IdleNotifyWindow, false, true},
		{"4.4 ms late, a timeout would look the same", false, 4_400_000, false, false},
		{"past IdleNotifyWindow", true, tracer.IdleNotifyWindow + 1, false, false},
		{"the waiter held the GIL since", true, 2 * ms, true, false},
	} {
		s, w := build(tc.known, tc.gap, tc.own)
		sts := s.ThreadStates(w)
		var end int64
		for _, sp := range sts {
			if sp.State == tracer.StateLockWait {
				end = sp.End
			}
		}
		if end == 0 {
			t.Fatalf("%s: no lock wait in %+v", tc.name, sts)
		}
		id, at, ok := s.Notifier(w, end)
		if ok != tc.want || ok && (s.Trace.Threads[id].Name != "notifier" || at != 50*ms) {
			t.Errorf("%s: Notifier %d at %d (%v), want the notifier at its release (50 ms): %v", tc.name, id, at, ok, tc.want)
		}
	}
}

// TestWriterElsewhereReturnsLate: another process's write that began
// before the wait ended (within tracer.WriteWindowElsewhere) is its writer
// even when it returned long after (on 1 busy core the reader woke first),
// up to tracer.ExitWindow after; the one begun nearest before the wake-up,
// not the one that returned nearest it; none when another thread's began
// nearly as near (either could have written), unless that one is a read of
// a multiprocessing Connection; nor one begun earlier than
// WriteWindowElsewhere.
func TestWriterElsewhereReturnsLate(t *testing.T) {
	b := testkit.New("late")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	parent := b.Process("parent", 1)
	gil := tracer.LockID(0)
	m := b.Thread(parent, "MainThread")
	m.Start(0).Acquire(0, gil, tracer.AcquireUncontended)
	for _, end := range []int64{100 * ms, 200 * ms, 300 * ms, 400 * ms, 500 * ms, 600 * ms} {
		m.IOBegin(end-90*ms, "network").Release(end-90*ms, gil, tracer.ReleaseIO) // a select on the result pipe
		m.IOEnd(end).Acquire(end, gil, tracer.AcquireUncontended)
	}
	m.Release(601*ms, gil, tracer.ReleaseThreadEnd).End(601 * ms)
	write := func(th *testkit.Thread, g tracer.LockID, start, end int64) {
		th.IOBegin(start, "disk").Release(start, g, tracer.ReleaseIO).IOEnd(end).Acquire(end, g, tracer.AcquireUncontended)
	}
	c := b.Process("child", 2)
	g := tracer.LockID(b.Trace().Procs[c].GIL)
	w := b.Thread(c, "MainThread")
	w.Start(0).Acquire(0, g, tracer.AcquireUncontended)
	write(w, g, 100*ms-130_000, 102_600_000)      // begun 0.13 ms before the first select returned, back 2.6 ms after
	write(w, g, 200*ms-3_800_000, 213*ms)         // 3.8 ms before the second, back 13 ms after
	write(w, g, 300*ms-ms, 300*ms+ms)             // 1 ms before the fourth
	write(w, g, 400*ms-100_000, 460*ms)           // 0.1 ms before the third, back 60 ms after: past ExitWindow
	write(w, g, 500*ms-21*ms, 500*ms-20_900_000)  // 21 ms before the fifth: past WriteWindowElsewhere
	write(w, g, 600*ms-284_000, 600*ms+1_600_000) // a result's write 0.28 ms before the sixth (QA's pool)
	w.Release(610*ms, g, tracer.ReleaseThreadEnd).End(610 * ms)
	c2 := b.Process("child", 3)
	g2 := tracer.LockID(b.Trace().Procs[c2].GIL)
	w2 := b.Thread(c2, "MainThread")
	w2.Start(0).Acquire(0, g2, tracer.AcquireUncontended)
	write(w2, g2, 100*ms-4_900_000, 100*ms+100_000) // begun earlier, returned nearer: not it
	write(w2, g2, 300*ms-ms/2, 300*ms+2*ms)         // begun nearer than w's, but not 4 times as near: either
	// A read of the next task in Connection._recv, 1.1 ms before the sixth
	// and blocked past it: it wrote nothing, and is no rival.
	recv := b.Frame(tracer.Frame{Func: "Connection._recv", File: "/usr/lib/python3.11/multiprocessing/connection.py", Line: 395})
	w2.Call(600*ms-1_097_000, recv)
	write(w2, g2, 600*ms-1_097_000, 600*ms+17*ms)
	w2.Return(600*ms + 17*ms + 1000)
	w2.Release(620*ms, g2, tracer.ReleaseThreadEnd).End(620 * ms)
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	for _, tc := range []struct {
		end, at int64
		ok      bool
	}{
		{100 * ms, 100*ms - 130_000, true},
		{200 * ms, 200*ms - 3_800_000, true},
		{300 * ms, 0, false},
		{400 * ms, 0, false},
		{500 * ms, 0, false},
		{600 * ms, 600*ms - 284_000, true},
	} {
		id, at, ok := s.WriterElsewhere(m.ID(), tc.end)
		if ok != tc.ok || ok && (id != w.ID() || at != tc.at) {
			t.Errorf("WriterElsewhere at %d ms: %d at %d (%v), want the child's write at %d (%v)", tc.end/ms, id, at, ok, tc.at, tc.ok)
		}
	}
}

// TestWriterElsewhereRecv: a wait in a multiprocessing Connection's
// receive ended with a write, either of two begun as near (QA: a parent's
// Queue.get of two children's results, sent 3.7 and 2.2 ms before it
// woke): the nearest; so did a Pool's worker handler's select, which has
// no timeout (Pool._wait_for_updates); a plain select, which may have
// timed out, none.
func TestWriterElsewhereRecv(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames []tracer.Frame // outermost first
		taken  bool
	}{
		{"Connection._recv", []tracer.Frame{{Func: "Connection._recv", File: "/usr/lib/python3.11/multiprocessing/connection.py", Line: 395}}, true},
		{"a Pool's worker handler", []tracer.Frame{
			{Func: "Pool._wait_for_updates", File: "/usr/lib/python3.11/multiprocessing/pool.py", Line: 502},
			{Func: "wait", File: "/usr/lib/python3.11/multiprocessing/connection.py", Line: 930},
			{Func: "_PollLikeSelector.select", File: "/usr/lib/python3.11/selectors.py", Line: 415}}, true},
		{"a select", []tracer.Frame{{Func: "_PollLikeSelector.select", File: "/usr/lib/python3.11/selectors.py", Line: 415}}, false},
	} {
		b := testkit.New("recv")
		b.Meta().Extra = map[string]string{"source": "cpython"}
		parent := b.Process("parent", 1)
		gil := tracer.LockID(0)
		m := b.Thread(parent, "MainThread")
		m.Start(0).Acquire(0, gil, tracer.AcquireUncontended)
		for _, f := range tc.frames {
			m.Call(ms, b.Frame(f))
		}
		m.IOBegin(ms, "disk").Release(ms, gil, tracer.ReleaseIO).IOEnd(100*ms).Acquire(100*ms, gil, tracer.AcquireUncontended)
		for range tc.frames {
			m.Return(100*ms + 1000)
		}
		m.Release(101*ms, gil, tracer.ReleaseThreadEnd).End(101 * ms)
		send := b.Frame(tracer.Frame{Func: "Connection._send", File: "/usr/lib/python3.11/multiprocessing/connection.py", Line: 384})
		var feeders []*testkit.Thread
		for i, before := range []int64{3_700_000, 2_200_000} {
			c := b.Process("child", 2+i)
			g := tracer.LockID(b.Trace().Procs[c].GIL)
			f := b.Thread(c, "QueueFeederThread")
			f.Start(0).Acquire(0, g, tracer.AcquireUncontended).Call(100*ms-before, send)
			f.IOBegin(100*ms-before, "disk").Release(100*ms-before, g, tracer.ReleaseIO).IOEnd(100*ms+ms).Acquire(100*ms+ms, g, tracer.AcquireUncontended)
			f.Return(100*ms+ms+1000).Release(102*ms, g, tracer.ReleaseThreadEnd).End(102 * ms)
			feeders = append(feeders, f)
		}
		tr := b.Trace()
		if err := tr.CheckValid(); err != nil {
			t.Fatal(err)
		}
		s := tracer.Derive(tr)
		id, at, ok := s.WriterElsewhere(m.ID(), 100*ms)
		if tc.taken && (!ok || id != feeders[1].ID() || at/1000 != (100*ms-2_200_000)/1000) { // (the builder keeps a thread's times apart by a nanosecond)
			t.Errorf("%s: %d at %d (%v), want the nearer send (thread %d at 97.8 ms)", tc.name, id, at, ok, feeders[1].ID())
		}
		if !tc.taken && ok {
			t.Errorf("%s: %d at %d, want none (two sends as near)", tc.name, id, at)
		}
	}
}

// TestReleased: the release of a multiprocessing semaphore a thread waited
// on (a Pool's idle worker, for the task queue's read lock) is at the
// return of the last multiprocessing Connection call of another process's
// thread before the wait ended: the worker that held the lock around its
// read. Not a call of the waiter's own process, nor one that is no
// Connection's, nor one that returned before the wait began or more than
// IdleNotifyWindow before it ended.
func TestReleased(t *testing.T) {
	b := testkit.New("sem")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	recv := tracer.Frame{Func: "Connection._recv", File: "/usr/lib/python3.11/multiprocessing/connection.py", Line: 395}
	other := tracer.Frame{Func: "FileIO.read", File: "app.py", Line: 3}
	// call makes a blocking call of th in frame f from a to z.
	call := func(th *testkit.Thread, g tracer.LockID, f tracer.Frame, a, z int64) {
		th.Call(a, b.Frame(f)).IOBegin(a, "disk").Release(a, g, tracer.ReleaseIO).IOEnd(z).Acquire(z, g, tracer.AcquireUncontended).Return(z + 1000)
	}
	var waiter *testkit.Thread
	var holder, sibling *testkit.Thread
	for i := range 3 {
		p := b.Process("worker", 10+i)
		g := tracer.LockID(b.Trace().Procs[p].GIL)
		th := b.Thread(p, "MainThread")
		th.Start(0).Acquire(0, g, tracer.AcquireUncontended)
		switch i {
		case 0: // waits on the semaphore from 10 to 50 ms, from 100 to 200 ms
			th.IOBegin(10*ms, tracer.SemaphoreKind).Release(10*ms, g, tracer.ReleaseIO).IOEnd(50*ms).Acquire(50*ms, g, tracer.AcquireUncontended)
			th.IOBegin(100*ms, tracer.SemaphoreKind).Release(100*ms, g, tracer.ReleaseIO).IOEnd(200*ms).Acquire(200*ms, g, tracer.AcquireUncontended)
			waiter = th
		case 1: // holds the lock around its read, which returns at 49.5 ms
			call(th, g, recv, 5*ms, 49_500_000)
			call(th, g, recv, 60*ms, 70*ms) // returns 130 ms before the second wait ends
			holder = th
		case 2: // a file read that returns later: no Connection's
			call(th, g, other, 40*ms, 49_800_000)
			sibling = th
		}
		th.Release(300*ms, g, tracer.ReleaseThreadEnd).End(300 * ms)
	}
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	if id, at, ok := s.Released(waiter.ID(), 10*ms, 50*ms); !ok || id != holder.ID() || at/1000 != 49_500 {
		t.Errorf("Released at 50 ms: %d at %d (%v), want the reader (%d) at 49.5 ms, not %d's file read", id, at, ok, holder.ID(), sibling.ID())
	}
	if id, at, ok := s.Released(waiter.ID(), 100*ms, 200*ms); ok {
		t.Errorf("Released at 200 ms: %d at %d, want none (the last Connection call returned 130 ms before)", id, at)
	}
	if id, at, ok := s.Released(waiter.ID(), 49_600_000, 50*ms); ok {
		t.Errorf("Released of a wait begun after the read returned: %d at %d, want none", id, at)
	}
}
