package model_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/model"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// joinTrace is a real program's run, recorded on 1 core: the parent joins
// child 1 (I/O "wait" from 1 to 400 ms; child 1 ends at 395 ms), while
// child 2, CPU-bound, ends at 300 ms. With daemon, child 1 has a daemon
// thread asleep until its process exits (396 ms).
func joinTrace(daemon bool) *tracer.Trace {
	const ms = int64(1_000_000)
	b := testkit.New("join")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	b.Meta().Cores = 1
	par := b.Process("parent", 1)
	m := b.Thread(par, "MainThread")
	m.Start(0).Acquire(0, 0, tracer.AcquireUncontended).Call(0, b.Func("main", 3))
	m.IOBegin(1*ms, "wait").Release(1*ms, 0, tracer.ReleaseIO).IOEnd(400*ms).Acquire(400*ms, 0, tracer.AcquireUncontended)
	m.Return(401*ms).Release(401*ms, 0, tracer.ReleaseThreadEnd).End(401 * ms)
	p1 := b.Process("child", 2)
	g1 := b.Trace().Procs[p1].GIL
	c1 := b.Thread(p1, "MainThread")
	c1.Start(0).Acquire(0, g1, tracer.AcquireUncontended).Call(0, b.Func("work", 10))
	c1.IOBegin(1*ms, "disk").Release(1*ms, g1, tracer.ReleaseIO)
	if daemon {
		h := b.Thread(p1, "hb")
		h.Start(1*ms).Acquire(1*ms+1000, g1, tracer.AcquireUncontended).Call(1*ms+2000, b.Func("beat", 20))
		h.IOBegin(1*ms+3000, "sleep").Release(1*ms+3000, g1, tracer.ReleaseIO).End(396 * ms)
	}
	c1.IOEnd(2*ms).Acquire(2*ms, g1, tracer.AcquireUncontended)
	c1.Return(395*ms).Release(395*ms, g1, tracer.ReleaseThreadEnd).End(395 * ms)
	p2 := b.Process("child", 3)
	g2 := b.Trace().Procs[p2].GIL
	b.Thread(p2, "MainThread").Start(0).Acquire(0, g2, tracer.AcquireUncontended).Call(0, b.Func("hog", 30)).Return(300*ms).Release(300*ms, g2, tracer.ReleaseThreadEnd).End(300 * ms)
	return b.Trace()
}

// TestJoinEndsAtTheChildsExit: a parent's wait for a child (I/O "wait")
// that ended just after the child's exit is modelled as ended by it: on
// 3 simulated cores, where the children no longer share one, the parent
// ends when child 1 does (about 395 ms of its 393 ms of compute plus its
// read: not the recorded 400 ms), also when the child's last thread to
// end was a daemon, which the VM stops at its process's exit (review: the
// notify went into the daemon, stopped first, and the join kept its
// recorded length).
func TestJoinEndsAtTheChildsExit(t *testing.T) {
	for _, daemon := range []bool{false, true} {
		s := tracer.Derive(joinTrace(daemon))
		src, err := model.Build(s, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`io: \{duration: [0-9.]+ms, kind: wait, until: "[^"]+ from process 2 at its exit"\}`).Match(src) {
			t.Errorf("daemon %v: the join is no wait until child 1's exit:\n%s", daemon, src)
		}
		w, err := workload.Parse("m.yaml", src)
		if err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		seed := int64(1)
		run, err := vm.Run(context.Background(), w, vm.Options{ClockMode: workload.ClockVirtual, Cores: 3, Seed: &seed})
		if err != nil {
			t.Fatal(err)
		}
		rs := tracer.Derive(run)
		var parent, child int64
		for id, th := range run.Threads { // the model's processes 1 (the parent) and 2 (child 1)
			switch {
			case th.Name == "MainThread" && th.Proc == 0:
				parent = rs.Threads[id].End
			case th.Name == "MainThread" && th.Proc == 1:
				child = rs.Threads[id].End
			}
		}
		if child == 0 || parent < child || parent > child+2_000_000 {
			t.Errorf("daemon %v: the parent ended at %d, child 1 at %d: want the parent just after", daemon, parent, child)
		}
	}
}

// TestReadUnderLockKeepsItsHold: a read that another process's write
// ended, done while its thread held a shared lock, stays inside that
// hold (review: the hold was split in two, the read outside, so that
// another thread could take the lock during it).
func TestReadUnderLockKeepsItsHold(t *testing.T) {
	const ms = int64(1_000_000)
	b := testkit.New("lockread")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	b.Meta().Cores = 4
	p := b.Process("parent", 1)
	x := b.Lock(p, "X")
	a := b.Thread(p, "A")
	bb := b.Thread(p, "B")
	a.Start(0).Acquire(0, 0, tracer.AcquireUncontended).Call(0, b.Func("a", 3))
	a.Acquire(1*ms, x, tracer.AcquireUncontended)
	a.IOBegin(10*ms, "disk").Release(10*ms, 0, tracer.ReleaseIO)
	bb.Start(11*ms).Acquire(11*ms, 0, tracer.AcquireUncontended).Call(11*ms, b.Func("b", 13))
	bb.Wait(20*ms, x).Release(20*ms, 0, tracer.ReleaseLockWait)
	a.IOEnd(50*ms).Acquire(50*ms, 0, tracer.AcquireUncontended)
	a.Release(60*ms, x, tracer.ReleaseUnlock)
	a.Return(61*ms).Release(61*ms, 0, tracer.ReleaseThreadEnd).End(61 * ms)
	bb.Acquire(60*ms+100, x, tracer.AcquireAfterWait).Acquire(61*ms+50, 0, tracer.AcquireUncontended).Release(70*ms, x, tracer.ReleaseUnlock)
	// B takes X twice more: a lock that threads share (a mutex), not a
	// Condition's waiter lock.
	bb.Acquire(70*ms+200_000, x, tracer.AcquireUncontended).Release(70*ms+300_000, x, tracer.ReleaseUnlock).Acquire(70*ms+400_000, x, tracer.AcquireUncontended).Release(70*ms+500_000, x, tracer.ReleaseUnlock)
	bb.Return(71*ms).Release(71*ms, 0, tracer.ReleaseThreadEnd).End(71 * ms)
	c := b.Process("child", 2)
	g := b.Trace().Procs[c].GIL
	ct := b.Thread(c, "MainThread")
	ct.Start(0).Acquire(0, g, tracer.AcquireUncontended).Call(0, b.Func("w", 20))
	ct.IOBegin(49*ms+900_000, "disk").Release(49*ms+900_000, g, tracer.ReleaseIO).IOEnd(49*ms+950_000).Acquire(49*ms+950_000, g, tracer.AcquireUncontended)
	ct.Return(80*ms).Release(80*ms, g, tracer.ReleaseThreadEnd).End(80 * ms)
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	src, err := model.Build(tracer.Derive(tr), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// One hold of X, the read inside it.
	if !regexp.MustCompile(`(?s)- lock:\s+name: "X"\s+body:\s+- compute: [0-9.]+ms\s+- io: \{duration: 40ms, kind: disk, until: "[^"]+"\}\s+- compute: 10ms\n`).Match(src) {
		t.Errorf("the read is not inside A's one hold of X:\n%s", src)
	}
}

// TestShortCallsAreNoProcessWaits: 8 independent processes, each a thread
// making a 30 us blocking call every 100 us, at phases 12 us apart: none
// of those calls is a wait for another process (model.ProcessWaits lists
// none), whatever call of another began just before its end (review: 20
// 000 of the 160 000 were tied to each other by chance, each a notify in
// the model).
func TestShortCallsAreNoProcessWaits(t *testing.T) {
	const us = int64(1000)
	b := testkit.New("many")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	for i := range 8 {
		p := b.Process("p", 10+i)
		g := tracer.LockID(b.Trace().Procs[p].GIL)
		w := b.Thread(p, "MainThread")
		w.Start(0).Acquire(0, g, tracer.AcquireUncontended)
		for at := int64(i)*12*us + 1; at < 200_000*us; at += 100 * us {
			w.IOBegin(at, "network").Release(at, g, tracer.ReleaseIO).IOEnd(at+30*us).Acquire(at+30*us, g, tracer.AcquireUncontended)
		}
		w.Release(200_100*us, g, tracer.ReleaseThreadEnd).End(200_100 * us)
	}
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if ws := model.ProcessWaits(tracer.Derive(tr)); len(ws) != 0 {
		t.Errorf("%d process waits among 8 independent processes' short calls, want none", len(ws))
	}
}

// TestSemaphoreWaitsEndAtTheirRelease: scripts/whatif/mp_imap.py (a
// Pool(4) whose idle workers wait on the task queue's read lock) recorded
// with --cpus 1 (testdata in compare/): its waits on the semaphore (I/O
// semaphore) end in the model where another worker's Connection call
// returned, 7 of its 9 (docs/what-if.md).
func TestSemaphoreWaitsEndAtTheirRelease(t *testing.T) {
	tr, err := tracer.ReadFile("../compare/testdata/pool4-semaphore.giltrace")
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Build(tracer.Derive(tr), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if n, all := strings.Count(src, "kind: semaphore, until: "), strings.Count(src, "kind: semaphore"); n != 7 || all != 9 {
		t.Errorf("%d of %d semaphore waits end at a release, want 7 of 9:\n%s", n, all, src)
	}
}
