package vm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

func joinOp(g string) workload.Op { return workload.Op{Kind: workload.OpJoin, Group: g} }

// joinWorkload: a thread "main" joins group W (count threads of 10 ms of
// Python each, started after `after`), then runs 1 ms.
func joinWorkload(count int, after time.Duration) *workload.Workload {
	return &workload.Workload{Name: "join", Seed: 1,
		Functions: fns(map[string][]workload.Op{"main": {joinOp("W"), compute(time.Millisecond)}, "work": {compute(10 * time.Millisecond)}}),
		Threads: []workload.ThreadGroup{group("main", 1, "main"),
			{Name: "W", Count: count, Run: "work", Repeat: 1, StartAfter: after}}}
}

// lockNamed is the ID of the lock called name.
func lockNamed(tr *tracer.Trace, name string) tracer.LockID {
	for i, l := range tr.Locks {
		if l.Name == name {
			return tracer.LockID(i)
		}
	}
	return tracer.NoLock
}

// lockEvents lists the events of kind k on lock l, of the thread named
// name ("" for any).
func lockEvents(tr *tracer.Trace, k tracer.Kind, l tracer.LockID, name string) []tracer.Event {
	var out []tracer.Event
	for _, e := range eventsOf(tr, k, name) {
		if e.Lock() == l {
			out = append(out, e)
		}
	}
	return out
}

// gilOf is the GIL of the trace's first process.
func gilOf(tr *tracer.Trace) tracer.LockID { return tr.Procs[0].GIL }

// TestVirtualJoinStartedThread: main joins W, which runs 10 ms of Python.
// main releases the GIL for the join (W takes it one wake-up latency
// later and runs without a drop request), waits on lock "join W" from its
// join until one latency after W released it at its end, then runs.
func TestVirtualJoinStartedThread(t *testing.T) {
	tr, s := sim(t, joinWorkload(1, 0), Options{Cores: 1})
	jl, gil := lockNamed(tr, "join W"), gilOf(tr)
	if jl == tracer.NoLock {
		t.Fatalf("no lock \"join W\" in %v", tr.Locks)
	}
	waits := lockEvents(tr, tracer.KindLockWait, jl, "main")
	rel := lockEvents(tr, tracer.KindLockRelease, gil, "main")
	if len(waits) != 1 || len(rel) == 0 || rel[0].Release() != tracer.ReleaseLockWait || rel[0].Time != waits[0].Time+1 {
		t.Fatalf("main: waits %v, GIL releases %v; expected one wait on join W, then the GIL released for it", waits, rel)
	}
	wAcq := lockEvents(tr, tracer.KindLockAcquire, gil, "W")
	if len(wAcq) != 1 || wAcq[0].Time-rel[0].Time > vLatency {
		t.Errorf("W took the GIL at %v (%d times), expected once, one latency after main released it at %v", wAcq, len(wAcq), rel[0].Time)
	}
	if n := len(eventsOf(tr, tracer.KindDropRequest, "")); n != 0 {
		t.Errorf("%d drop requests: the joiner holds no GIL while it waits", n)
	}
	// W holds its join lock from its first GIL acquire to its end.
	held := lockEvents(tr, tracer.KindLockAcquire, jl, "W")
	wRel := lockEvents(tr, tracer.KindLockRelease, jl, "W")
	if len(held) != 1 || held[0].Time != wAcq[0].Time+1 || held[0].Acquire() != tracer.AcquireUncontended ||
		len(wRel) != 1 || wRel[0].Release() != tracer.ReleaseThreadEnd {
		t.Fatalf("W's join lock: acquires %v, releases %v; expected taken at its start, released at its end", held, wRel)
	}
	got := lockEvents(tr, tracer.KindLockAcquire, jl, "main")
	if len(got) != 1 || got[0].Time != wRel[0].Time+vLatency || got[0].Acquire() != tracer.AcquireAfterWait {
		t.Errorf("main took join W at %v, expected one latency after W released it at %d", got, wRel[0].Time)
	}
	var joinWait int64
	for _, w := range s.Waits {
		if w.Lock == jl {
			joinWait += w.End - w.Start
		}
	}
	if want := got[0].Time - waits[0].Time; joinWait != want {
		t.Errorf("the join's lock wait spans %d ns, expected %d", joinWait, want)
	}
	ends := map[string]int64{}
	for _, e := range eventsOf(tr, tracer.KindThreadEnd, "") {
		ends[tr.Threads[e.Thread].Name] = e.Time
	}
	if ends["main"] <= ends["W"]+int64(time.Millisecond) {
		t.Errorf("main ended at %d, W at %d: expected main to run its 1 ms after W's end", ends["main"], ends["W"])
	}
}

// TestVirtualJoinWaitsForUnstartedThreads: the W threads start 5 ms after
// main has begun to join them; main waits for them all: its join of W-1
// began before W-1 started, and it ends after the last of them.
func TestVirtualJoinWaitsForUnstartedThreads(t *testing.T) {
	for _, count := range []int{1, 3} {
		tr, _ := sim(t, joinWorkload(count, 5*time.Millisecond), Options{})
		first := "W"
		if count > 1 {
			first = "W-1"
		}
		jl := lockNamed(tr, "join "+first)
		waits := lockEvents(tr, tracer.KindLockWait, jl, "main")
		if len(waits) != 1 || waits[0].Time >= int64(5*time.Millisecond) {
			t.Errorf("count %d: main's waits on join %s %v, expected one, before %s started at 5ms", count, first, waits, first)
		}
		if got := lockEvents(tr, tracer.KindLockAcquire, jl, "main"); len(got) != 1 ||
			got[0].Time != lockEvents(tr, tracer.KindLockRelease, jl, first)[0].Time+vLatency {
			t.Errorf("count %d: main took join %s at %v, expected one latency after %s's end", count, first, got, first)
		}
		var mainEnd, lastEnd int64
		for _, e := range eventsOf(tr, tracer.KindThreadEnd, "") {
			if tr.Threads[e.Thread].Name == "main" {
				mainEnd = e.Time
			} else {
				lastEnd = max(lastEnd, e.Time)
			}
		}
		if mainEnd < lastEnd+int64(time.Millisecond) {
			t.Errorf("count %d: main ended at %d, the last W at %d: expected main to end 1 ms after them", count, mainEnd, lastEnd)
		}
		// Each W's work is 10 ms of Python under one GIL: they end at
		// 5ms + count x 10ms at the earliest.
		if lastEnd < int64(5*time.Millisecond)+int64(count)*int64(10*time.Millisecond) {
			t.Errorf("count %d: the last W ended at %d, before its work could be done", count, lastEnd)
		}
	}
}

// TestVirtualJoinIsDeterministic: the same run gives the same bytes, on
// one core and on several.
func TestVirtualJoinIsDeterministic(t *testing.T) {
	w := joinWorkload(3, 2*time.Millisecond) // fns numbers lines in map order: one workload
	for _, cores := range []int{0, 1, 2} {
		a, _ := sim(t, w, Options{Version: "test", Cores: cores})
		b, _ := sim(t, w, Options{Version: "test", Cores: cores})
		if string(traceBytes(t, a)) != string(traceBytes(t, b)) {
			t.Errorf("cores %d: two runs differ", cores)
		}
	}
}

// TestJoinRealTime: the same join in real time, in every GIL mode.
func TestJoinRealTime(t *testing.T) {
	for _, mode := range tracer.GILModes {
		w := joinWorkload(2, 20*time.Millisecond)
		tr, err := Run(context.Background(), w, Options{Mode: mode, LoopsPerMS: testLoopsPerMS()})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if err := tr.CheckValid(); err != nil {
			t.Fatalf("%s: invalid trace: %v", mode, err)
		}
		var mainEnd, lastEnd, firstStart int64
		for _, e := range eventsOf(tr, tracer.KindThreadEnd, "") {
			if tr.Threads[e.Thread].Name == "main" {
				mainEnd = e.Time
			} else {
				lastEnd = max(lastEnd, e.Time)
			}
		}
		firstStart = eventsOf(tr, tracer.KindThreadStart, "W-1")[0].Time
		waits := lockEvents(tr, tracer.KindLockWait, lockNamed(tr, "join W-1"), "main")
		if len(waits) != 1 || waits[0].Time >= firstStart {
			t.Errorf("%s: main's waits on join W-1 %v, expected one, before W-1 started at %d", mode, waits, firstStart)
		}
		if mainEnd <= lastEnd {
			t.Errorf("%s: main ended at %d, before the last W at %d", mode, mainEnd, lastEnd)
		}
	}
}

// TestCancelUnblocksJoiner: a run stopped while a thread joins one that
// has not started (start_after 1h) stops at once with a valid trace.
func TestCancelUnblocksJoiner(t *testing.T) {
	w := joinWorkload(1, time.Hour)
	for _, mode := range tracer.GILModes {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		tr, err := Run(ctx, w, Options{Mode: mode, LoopsPerMS: testLoopsPerMS()})
		cancel()
		if !errors.Is(err, ErrInterrupted) || tr == nil {
			t.Fatalf("%s: Run returned %v, expected ErrInterrupted and the trace", mode, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Run took %v to stop", mode, d)
		}
		if err := tr.CheckValid(); err != nil {
			t.Fatalf("%s: invalid trace after interrupt: %v", mode, err)
		}
		if n := countKind(tr, tracer.KindThreadEnd); n != len(tr.Threads) {
			t.Errorf("%s: %d thread ends for %d threads", mode, n, len(tr.Threads))
		}
		if len(lockEvents(tr, tracer.KindLockWait, lockNamed(tr, "join W"), "main")) != 1 {
			t.Errorf("%s: main did not wait on join W", mode)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr, err := Run(ctx, w, Options{ClockMode: workload.ClockVirtual})
	if !errors.Is(err, ErrInterrupted) || tr == nil {
		t.Fatalf("virtual: Run: %v, expected ErrInterrupted and the trace", err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Errorf("virtual: invalid trace: %v", err)
	}
}

// TestNoJoinNoJoinLocks: a workload without joins has no join locks (its
// trace is what it was before joins existed).
func TestNoJoinNoJoinLocks(t *testing.T) {
	tr, _ := sim(t, lockedIO(), Options{})
	for _, l := range tr.Locks {
		if len(l.Name) > 5 && l.Name[:5] == "join " {
			t.Errorf("lock %q in a run without joins", l.Name)
		}
	}
}
