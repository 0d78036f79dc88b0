package diagnosis_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
)

// TestJoinedByTwoIsNotShared: a lock that its first holder keeps until it
// ends, taken after that by each of the threads that waited for it, is a
// join (two threads joining one), not a lock the threads share: compare
// on a model of two CPU-bound threads and a joining main thread, run with
// two copies of each, called the join lock-bound ("its critical section
// runs one thread at a time").
func TestJoinedByTwoIsNotShared(t *testing.T) {
	text := `giltrace-text 1
meta workload "join"
meta gil-mode "cpython"
meta switch-interval 5000000
meta cores 2
string 0 ""
string 1 "disk"
process 0 "join" pid=100 gil=0
lock 0 "GIL" proc=0 gil
lock 1 "join T" proc=0
thread 0 "T" proc=0
thread 1 "A" proc=0
thread 2 "B" proc=0
0 0 thread-start
0 1 thread-start
0 2 thread-start
1 0 lock-acquire GIL uncontended
2 0 lock-acquire "join T" uncontended
3 0 io-begin disk
4 0 lock-release GIL io
5 1 lock-acquire GIL uncontended
6 1 lock-wait "join T"
7 1 lock-release GIL lock-wait
8 2 lock-acquire GIL uncontended
9 2 lock-wait "join T"
10 2 lock-release GIL lock-wait
100000000 0 io-end
100000001 0 lock-acquire GIL uncontended
100000002 0 lock-release "join T" thread-end
100000003 0 lock-release GIL thread-end
100000004 0 thread-end
100000005 1 lock-acquire "join T" after-wait
100000006 1 lock-acquire GIL uncontended
100000007 1 lock-release "join T" unlock
100000008 2 lock-acquire "join T" after-wait
100000009 1 lock-release GIL thread-end
100000010 1 thread-end
100000011 2 lock-acquire GIL uncontended
100000012 2 lock-release "join T" unlock
100000013 2 lock-release GIL thread-end
100000014 2 thread-end
`
	tr, err := tracer.ParseText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := diagnosis.Analyze(tracer.Derive(tr))
	for _, l := range r.Locks {
		if l.Name == "join T" && (l.Shared || l.Holds != 3) {
			t.Errorf("join T: %+v, want 3 holds, not shared", l)
		}
	}
	for _, v := range r.Verdicts {
		if v.Code == "lock-bound" {
			t.Errorf("verdict lock-bound on a join: %s", v.Text)
		}
	}
}

// TestJoinWithoutHold: a real program recorded without --lock-holds has
// no hold of a thread's join lock (the thread took it uncontended at its
// start), only the joiner's wait on it, named for Thread.join. The wait
// lasts until the joined thread could have ended, not as long as it took:
// QA found a countdown's main thread joining three workers bounded at
// 389 ms "at the earliest", where the workers could have ended by 284 ms
// and the what-if replayed processes at 309 ms. Here the worker W runs
// 1-11 ms and 90-100 ms, waiting between for the GIL, which B holds from
// 11 to 90 ms, so without a GIL W ends at 21 ms and main, after 1 ms more
// of work, at 22 ms: the bound is B's end, 90 ms, and as processes the
// run's 101 ms of work take 1.12x less; taking the join as long as it took
// ends main at 101 ms, 1.0x.
func TestJoinWithoutHold(t *testing.T) {
	text, err := os.ReadFile("testdata/join-without-hold.txt") // its flow: TestJoinWithoutHoldFlow
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracer.ParseText(strings.NewReader(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := diagnosis.Analyze(tracer.Derive(tr))
	sp := r.Speedup
	// Main's earliest end: W's 20 ms of work from 1 ms, then main's 1 ms;
	// B's 79 ms from 11 ms end at 90 ms: the bound is B's, 90 ms.
	if sp.Limit.NS > 91e6 {
		t.Errorf("no-GIL bound %v (%s), want at most B's end, 90ms: the join taken as long as it took", time.Duration(sp.Limit.NS), sp.Limit.Text)
	}
	if sp.AsProcesses < 1.05 {
		t.Errorf("as processes %.2fx, want about 101/90 = 1.12x", sp.AsProcesses)
	}
}

// TestJoinLockNotALimit: a thread's join lock, whose holds a recording
// with --lock-holds observes (the thread holds it for its life), bounds
// no estimate as a lock's "critical sections" (QA: lk.py's two threads,
// "bounded by lock 0x7ff634000b70 (Thread.join)'s critical sections
// (1.68s of work, one thread at a time)"). Here A holds its join lock for
// 110 ms of its life, which bounded the estimate before.
func TestJoinLockNotALimit(t *testing.T) {
	text := `giltrace-text 1
meta workload "j"
meta gil-mode "cpython"
meta switch-interval 5000000
meta cores 2
meta extra "source" "cpython"
meta extra "lock_holds" "observed"
string 0 ""
process 0 "j" pid=100 gil=0
lock 0 "GIL" proc=0 gil
lock 1 "lock 0x10 (Thread.join)" proc=0
lock 2 "lock 0x20 (Thread.join)" proc=0
thread 0 "MainThread" proc=0
thread 1 "A" proc=0
thread 2 "B" proc=0
0 0 thread-start
1 0 lock-acquire GIL uncontended
2 1 thread-start
2 2 thread-start
3 1 lock-wait GIL
4 2 lock-wait GIL
5 0 lock-wait "lock 0x10 (Thread.join)"
6 0 lock-release GIL lock-wait
7 1 lock-acquire GIL after-wait
8 1 lock-acquire "lock 0x10 (Thread.join)" uncontended
50000000 1 lock-release GIL drop-request
50000001 2 lock-acquire GIL after-wait
50000002 2 lock-acquire "lock 0x20 (Thread.join)" uncontended
50000003 1 lock-wait GIL
100000000 2 lock-release GIL drop-request
100000001 1 lock-acquire GIL after-wait
100000002 2 lock-wait GIL
150000000 1 lock-release "lock 0x10 (Thread.join)" unlock
150000001 1 lock-release GIL thread-end
150000002 1 thread-end
150000003 2 lock-acquire GIL after-wait
200000000 2 lock-release "lock 0x20 (Thread.join)" unlock
200000001 2 lock-release GIL thread-end
200000002 2 thread-end
200000003 0 lock-acquire "lock 0x10 (Thread.join)" after-wait
200000004 0 lock-acquire GIL uncontended
210000000 0 lock-release "lock 0x10 (Thread.join)" unlock
210000001 0 lock-release GIL thread-end
210000002 0 thread-end
`
	tr, err := tracer.ParseText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := diagnosis.Analyze(tracer.Derive(tr))
	if l := r.Speedup.Limit; l.Kind == diagnosis.LimitLock || strings.Contains(l.Text, "Thread.join") {
		t.Errorf("the estimate bounded by %+v, a thread's join lock", l)
	}
}
