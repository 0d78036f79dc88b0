package vm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// Behaviour of whole runs, with bounds loose enough for a noisy 2-core
// machine shared with other work.

func group(name string, count int, run string) workload.ThreadGroup {
	return workload.ThreadGroup{Name: name, Count: count, Run: run, Repeat: 1}
}

// measured is a run's wall time and the CPU time the process spent during
// it. CPU time does not stretch when the machine is busy, wall time does.
type measured struct{ wall, cpu time.Duration }

func (m measured) parallelism() float64 { return float64(m.cpu) / float64(m.wall) }

func measure(t *testing.T, w *workload.Workload, o Options) measured {
	t.Helper()
	if o.LoopsPerMS == 0 {
		o.LoopsPerMS = testLoopsPerMS() // calibrate outside the measurement
	}
	c0, w0 := cpuTime(), time.Now()
	mustRun(t, w, o)
	return measured{time.Since(w0), cpuTime() - c0}
}

// attempts runs try up to n times until it reports success: timing on a
// shared machine is noisy, but a broken GIL fails every attempt.
func attempts(t *testing.T, n int, try func() (ok bool, msg string)) {
	t.Helper()
	if msg, ok := retry(t, n, try); !ok {
		t.Error(msg)
	}
}

// retry runs try up to n times until it reports success, logging each
// failure; it returns the last failure's message.
func retry(t *testing.T, n int, try func() (ok bool, msg string)) (string, bool) {
	t.Helper()
	var msg string
	for range n {
		var ok bool
		if ok, msg = try(); ok {
			return "", true
		}
		t.Logf("attempt failed: %s", msg)
	}
	return msg, false
}

// needCores skips a test of parallel speed-up when the machine does not
// give this process two cores now.
func needCores(t *testing.T) {
	t.Helper()
	if runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs 2 cores")
	}
	if cores := availableCores(); cores < 1.6 {
		t.Skipf("the machine gives this process %.2f cores now (busy): a speed-up cannot show", cores)
	}
}

func TestTwoCPUThreadsTakeTheirWorkBackToBack(t *testing.T) {
	const n = 3_000_000
	one := &workload.Workload{Name: "one", Seed: 1,
		Functions: fns(map[string][]workload.Op{"count": {loops(n)}}),
		Threads:   []workload.ThreadGroup{group("T", 1, "count")}}
	two := &workload.Workload{Name: "two", Seed: 1,
		Functions: fns(map[string][]workload.Op{"count": {loops(n)}}),
		Threads:   []workload.ThreadGroup{group("T", 2, "count")}}
	attempts(t, 3, func() (bool, string) {
		m1, m2 := measure(t, one, Options{}), measure(t, two, Options{})
		// Under the GIL one thread computes at a time: the wall time is
		// at least the CPU time of both threads' work, about twice one's.
		ok := m2.wall >= m1.cpu*16/10 && m2.parallelism() <= 1.15
		return ok, fmt.Sprintf("one thread %v (CPU %v), two threads %v (CPU %v): expected two to take >= 1.6x one's work, without running in parallel",
			m1.wall, m1.cpu, m2.wall, m2.cpu)
	})
}

func TestIOThreadsOverlap(t *testing.T) {
	w := &workload.Workload{Name: "io", Seed: 1,
		Functions: fns(map[string][]workload.Op{"fetch": {{Kind: workload.OpRepeat, Times: 5, Body: []workload.Op{blockIO(10 * time.Millisecond)}}}}),
		Threads:   []workload.ThreadGroup{group("T", 4, "fetch")}}
	// Serially 4 x 5 x 10 ms = 200 ms; overlapped about 50 ms.
	var best time.Duration
	for range 3 {
		tr, s := mustRun(t, w, Options{})
		for i := range tr.Threads {
			if io := s.ThreadTotals(tracer.ThreadID(i))[tracer.StateIO]; io < int64(50*time.Millisecond) {
				t.Errorf("thread %s in I/O for %v, expected >= 50ms", tr.Threads[i].Name, time.Duration(io))
			}
		}
		if best == 0 || wall(s) < best {
			best = wall(s)
		}
	}
	if best > 150*time.Millisecond {
		t.Errorf("4 I/O-bound threads took %v (best of 3), expected their I/O to overlap (about 50ms, serially 200ms)", best)
	}
}

func TestReleasingNativeCallsOverlap(t *testing.T) {
	const d = 40 * time.Millisecond
	w := &workload.Workload{Name: "hash", Seed: 1,
		Functions: fns(map[string][]workload.Op{"hash": {native(d, true)}}),
		Threads:   []workload.ThreadGroup{group("T", 2, "hash")}}
	// 1. What the VM decides, whatever the machine: both calls run
	// outside the GIL at the same time.
	tr, _ := mustRun(t, w, Options{})
	var begin, end [2]int64
	for _, e := range tr.Events {
		switch e.Kind {
		case tracer.KindNativeBegin:
			begin[e.Thread] = e.Time
		case tracer.KindNativeEnd:
			end[e.Thread] = e.Time
		}
	}
	// Each call spans the other's whole run but for scheduling slack: a
	// lock serializing them would leave them side by side instead.
	overlap := min(end[0], end[1]) - max(begin[0], begin[1])
	if shorter := min(end[0]-begin[0], end[1]-begin[1]); overlap < shorter/2 {
		t.Errorf("native calls [%v, %v] and [%v, %v] overlap for %v: expected them to run side by side",
			begin[0], end[0], begin[1], end[1], time.Duration(overlap))
	}
	// 2. What the machine makes of it: a native call is CPU work (the
	// thread's CPU clock), so they end sooner together only when the
	// machine gives this process two cores. Each attempt first times two
	// plain threads burning the same CPU outside the VM, and asks the VM
	// to do about as well: a momentary spell of load slows both alike.
	needCores(t)
	attemptsOrSkipIfBusy(t, 3, func() (bool, string) {
		ref := twoBurns(d)
		_, s := mustRun(t, w, Options{})
		ok := wall(s) <= d*16/10 || wall(s) <= ref*13/10+5*time.Millisecond
		return ok, fmt.Sprintf("2 threads in a %v GIL-releasing native call took %v (two plain threads burning %v each just before: %v), expected them to overlap",
			d, wall(s), d, ref)
	})
}

// twoBurns is the wall time two operating-system threads take to burn d of
// CPU each at the same time, as a native call does: about d on two free
// cores, 2d on one.
func twoBurns(d time.Duration) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { burnCPU(context.Background(), d) })
	}
	wg.Wait()
	return time.Since(start)
}

// TestNativeCallIsCPUWork: a native call burns its duration of the thread's
// CPU time, not of wall time: the process uses about that much CPU, and
// four calls on fewer cores cannot end sooner than the CPU allows.
func TestNativeCallIsCPUWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the thread CPU clock is read on Linux only")
	}
	const d = 30 * time.Millisecond
	w := &workload.Workload{Name: "hash", Seed: 1,
		Functions: fns(map[string][]workload.Op{"hash": {native(d, true)}}),
		Threads:   []workload.ThreadGroup{group("T", 4, "hash")}}
	m := measure(t, w, Options{})
	if m.cpu < 4*d*9/10 {
		t.Errorf("4 native calls of %v used %v of CPU, expected at least %v", d, m.cpu, 4*d*9/10)
	}
	// CPU time cannot exceed the cores times the wall time: the calls
	// took at least 4 x d / cores of wall time.
	if cores := runtime.NumCPU(); cores < 4 {
		if min := 4 * d / time.Duration(cores) * 9 / 10; m.wall < min {
			t.Errorf("4 native calls of %v on %d cores ended after %v, expected at least %v", d, cores, m.wall, min)
		}
	}
}

func TestHoldingNativeCallBlocksOthers(t *testing.T) {
	const d = 30 * time.Millisecond
	w := &workload.Workload{Name: "cext", Seed: 1,
		Functions: fns(map[string][]workload.Op{
			"ext":   {native(d, false)},
			"small": {loops(1000)},
		}),
		Threads: []workload.ThreadGroup{group("ext", 1, "ext"), {Name: "other", Count: 1, Run: "small", Repeat: 1, StartAfter: 5 * time.Millisecond}}}
	tr, s := mustRun(t, w, Options{SwitchInterval: time.Millisecond})
	var begin, end int64 = -1, -1
	var acquires []int64
	for _, e := range tr.Events {
		name := tr.Threads[e.Thread].Name
		switch {
		case name == "ext" && e.Kind == tracer.KindNativeBegin:
			begin = e.Time
		case name == "ext" && e.Kind == tracer.KindNativeEnd:
			end = e.Time
		case name == "other" && e.Kind == tracer.KindLockAcquire:
			acquires = append(acquires, e.Time)
		}
	}
	if begin < 0 || end < 0 || len(acquires) == 0 {
		t.Fatalf("native call [%d, %d], other's acquires %v: missing", begin, end, acquires)
	}
	// Nobody takes the GIL while a native call that keeps it runs, however
	// long the other thread waits.
	for _, a := range acquires {
		if begin < a && a < end {
			t.Errorf("the other thread acquired the GIL at %v, during the GIL-holding native call [%v, %v]",
				time.Duration(a), time.Duration(begin), time.Duration(end))
		}
	}
	if other := s.Threads[1]; other.Start > begin && other.Start < end {
		t.Logf("the other thread waited %v for the native call to return", time.Duration(acquires[0]-other.Start))
	}
}

func TestFreeThreadingAndProcessesScale(t *testing.T) {
	const n = 5_000_000
	w := twoCounters(tracer.GILCPython, 0)
	w.Functions = fns(map[string][]workload.Op{"count": {loops(n)}})
	one := *w
	one.Threads = []workload.ThreadGroup{group("T", 1, "count")}
	for _, tc := range []struct {
		name string
		w    *workload.Workload
		o    Options
	}{
		{"free-threaded", w, Options{Mode: tracer.GILNone}},
		{"2 processes", &one, Options{Processes: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 1. What the VM decides, whatever the machine: nothing
			// serialises the two threads, so both run at once.
			_, s := mustRun(t, tc.w, tc.o)
			var running int64
			for id := range s.Threads {
				running += s.ThreadTotals(tracer.ThreadID(id))[tracer.StateRunning]
			}
			// Serialised threads give at most 1.0; a machine that gives
			// the process less than two cores brings both nearer to 1
			// (1.49 with 0.94 cores in a CI run).
			if overlap := float64(running) / float64(s.Trace.Duration()); overlap < 1.25 {
				t.Errorf("2 CPU-bound threads, %s: running %v in %v of wall time (overlap %.2f), expected both to run at once",
					tc.name, time.Duration(running), wall(s), overlap)
			}
			// 2. What the machine makes of it: two cores' worth of CPU.
			// Judged only when the machine gives this process two cores
			// (other packages' tests run beside this one).
			needCores(t)
			// Each attempt first measures what two plain threads get, so
			// that a momentary spell of load does not fail it.
			attemptsOrSkipIfBusy(t, 3, func() (bool, string) {
				const d = 30 * time.Millisecond
				ref := float64(2*d) / float64(twoBurns(d))
				m := measure(t, tc.w, tc.o)
				return m.parallelism() >= 1.3 || m.parallelism() >= ref*0.8, fmt.Sprintf("2 CPU-bound threads, %s: CPU %v in %v of wall time, expected them to run in parallel (>= 1.3 cores, or 0.8 of the %.2f cores two plain threads got just before)",
					tc.name, m.cpu, m.wall, ref)
			})
		})
	}
}

// attemptsOrSkipIfBusy is attempts for a test of parallel speed-up: when
// every attempt fails and the machine no longer gives this process two
// cores, the test is skipped rather than failed.
func attemptsOrSkipIfBusy(t *testing.T, n int, try func() (ok bool, msg string)) {
	t.Helper()
	msg, ok := retry(t, n, try)
	if ok {
		return
	}
	if cores := availableCores(); cores < 1.6 {
		t.Skipf("%s; but the machine now gives this process %.2f cores (busy)", msg, cores)
	}
	t.Error(msg)
}

func TestConvoyIOThreadWaitsAboutASwitchInterval(t *testing.T) {
	const interval = 5 * time.Millisecond
	w := &workload.Workload{Name: "convoy", Seed: 1,
		Functions: fns(map[string][]workload.Op{
			"crunch": {compute(250 * time.Millisecond)},
			"serve":  {{Kind: workload.OpRepeat, Times: 12, Body: []workload.Op{blockIO(time.Millisecond)}}},
		}),
		Threads: []workload.ThreadGroup{group("cpu", 1, "crunch"), {Name: "io", Count: 1, Run: "serve", Repeat: 1, StartAfter: 2 * time.Millisecond}}}
	tr, s := mustRun(t, w, Options{SwitchInterval: interval})
	var ioThread tracer.ThreadID
	for i, th := range tr.Threads {
		if th.Name == "io" {
			ioThread = tracer.ThreadID(i)
		}
	}
	cpuEnd := s.Threads[0].End
	var waits []int64
	for _, wt := range s.Waits {
		if wt.Thread == ioThread && wt.Contended && wt.End < cpuEnd {
			waits = append(waits, wt.End-wt.Start)
		}
	}
	if len(waits) < 3 {
		t.Skipf("only %d contended waits of the I/O thread while the CPU thread ran (busy machine)", len(waits))
	}
	slices.Sort(waits)
	// The CPU-bound thread releases the GIL only on a drop request, which
	// comes a full switch interval after the wait began.
	if min := time.Duration(waits[0]); min < interval {
		t.Errorf("the I/O thread re-acquired the GIL after %v, less than the %v switch interval", min, interval)
	}
	med := time.Duration(waits[len(waits)/2])
	t.Logf("I/O thread: %d re-acquires, median wait %v (switch interval %v)", len(waits), med, interval)
	if med > interval*20 {
		t.Errorf("median re-acquire wait of the I/O thread %v, expected about the %v switch interval", med, interval)
	}
}

// lockedIO is three threads that each take lock "cache" five times around
// 2 ms of blocking I/O, with 1 ms of compute between.
func lockedIO() *workload.Workload {
	return &workload.Workload{Name: "locks", Seed: 1,
		Functions: fns(map[string][]workload.Op{
			"work": {{Kind: workload.OpRepeat, Times: 5, Body: []workload.Op{
				{Kind: workload.OpLock, Lock: "cache", Body: []workload.Op{blockIO(2 * time.Millisecond)}},
				compute(time.Millisecond),
			}}},
		}),
		Threads: []workload.ThreadGroup{group("T", 3, "work")}}
}

func TestGuestLockContention(t *testing.T) {
	w := lockedIO()
	tr, s := mustRun(t, w, Options{})
	var cache tracer.LockID = tracer.NoLock
	for i, l := range tr.Locks {
		if l.Name == "cache" && !l.GIL {
			cache = tracer.LockID(i)
		}
	}
	if cache == tracer.NoLock {
		t.Fatal("no guest lock cache in the trace")
	}
	holds, waited := 0, 0
	for _, h := range s.Holds {
		if h.Lock == cache {
			holds++
		}
	}
	var lockWait int64
	for i := range tr.Threads {
		lockWait += s.ThreadTotals(tracer.ThreadID(i))[tracer.StateLockWait]
	}
	for _, wt := range s.Waits {
		if wt.Lock == cache && wt.Contended {
			waited++
		}
	}
	if holds != 15 {
		t.Errorf("%d holds of the guest lock, expected 3 threads x 5", holds)
	}
	// The lock is held across 2 ms of I/O: threads that run at the same
	// time queue on it (a busy machine may start them one after another).
	var lastStart, firstEnd int64 = 0, s.Trace.Duration()
	for _, th := range s.Threads {
		lastStart, firstEnd = max(lastStart, th.Start), min(firstEnd, th.End)
	}
	if lastStart+int64(10*time.Millisecond) < firstEnd && (waited == 0 || lockWait == 0) {
		t.Errorf("%d waits, %v in lock-wait: expected threads to block on the guest lock", waited, time.Duration(lockWait))
	}
}

func TestProcessesHaveTheirOwnGIL(t *testing.T) {
	w := twoCounters(tracer.GILCPython, 0)
	w.Functions = fns(map[string][]workload.Op{"count": {{Kind: workload.OpLock, Lock: "cache", Body: []workload.Op{loops(1000)}}}})
	tr, _ := mustRun(t, w, Options{Processes: 3})
	caches := map[tracer.ProcID]bool{}
	for _, l := range tr.Locks {
		if l.Name == "cache" && !l.GIL {
			caches[l.Proc] = true
		}
	}
	if len(caches) != 3 {
		t.Errorf("guest lock cache in %d processes, expected one per process", len(caches))
	}
	if len(tr.Procs) != 3 || len(tr.Threads) != 6 {
		t.Fatalf("%d processes, %d threads: expected 3 and 6", len(tr.Procs), len(tr.Threads))
	}
	for i, p := range tr.Procs {
		if p.PID != i+1 || p.GIL == tracer.NoLock || tr.Locks[p.GIL].Proc != tracer.ProcID(i) {
			t.Errorf("process %d: pid %d, GIL %d", i, p.PID, p.GIL)
		}
	}
	for _, th := range tr.Threads {
		if th.Name != "T-1" && th.Name != "T-2" {
			t.Errorf("thread name %q, expected T-1 or T-2", th.Name)
		}
	}
}

func TestCancelYieldsValidTrace(t *testing.T) {
	w := &workload.Workload{Name: "long", Seed: 1,
		Functions: fns(map[string][]workload.Op{
			"crunch": {compute(20 * time.Second)},
			"serve":  {{Kind: workload.OpRepeat, Times: 1000, Body: []workload.Op{blockIO(3 * time.Millisecond), call("hash")}}},
			"hash":   {native(2*time.Millisecond, true), native(2*time.Millisecond, false)},
			"locked": {{Kind: workload.OpRepeat, Times: 1000, Body: []workload.Op{{Kind: workload.OpLock, Lock: "l", Body: []workload.Op{blockIO(time.Millisecond), compute(time.Millisecond)}}}}},
		}),
		Threads: []workload.ThreadGroup{group("cpu", 2, "crunch"), group("io", 2, "serve"), group("lock", 2, "locked"),
			{Name: "late", Count: 1, Run: "crunch", Repeat: 1, StartAfter: time.Hour}},
	}
	for _, mode := range tracer.GILModes {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
			defer cancel()
			start := time.Now()
			tr, err := Run(ctx, w, Options{Mode: mode, LoopsPerMS: testLoopsPerMS()})
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("Run returned %v, expected ErrInterrupted", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Run took %v to stop", d)
			}
			if tr == nil {
				t.Fatal("no trace")
			}
			if err := tr.CheckValid(); err != nil {
				t.Fatalf("invalid trace after interrupt: %v", err)
			}
			if tr.Meta.Extra["interrupted"] != "true" {
				t.Errorf("Meta.Extra = %v, expected interrupted", tr.Meta.Extra)
			}
			if n := countKind(tr, tracer.KindThreadEnd); n != len(tr.Threads) {
				t.Errorf("%d thread ends for %d threads", n, len(tr.Threads))
			}
		})
	}
}

func TestMeta(t *testing.T) {
	w := twoCounters(tracer.GILCPython, time.Millisecond)
	w.Source = []byte("name: countdown\n")
	tr, _ := mustRun(t, w, Options{Version: "v1.2.3", SwitchInterval: 3 * time.Millisecond})
	m := tr.Meta
	if m.Workload != "countdown" || m.WorkloadFile != "countdown.yaml" || m.WorkloadSource != "name: countdown\n" ||
		m.GILMode != tracer.GILCPython || m.SwitchInterval != 3*time.Millisecond || m.CheckInterval != workload.DefaultCheckInterval ||
		m.Cores != runtime.NumCPU() || m.GOMAXPROCS != runtime.GOMAXPROCS(0) || m.LoopsPerMS != testLoopsPerMS() ||
		m.Start.IsZero() || m.Version != "v1.2.3" {
		t.Errorf("Meta = %+v", m)
	}
}

// availableCores measures how many cores the machine gives this process
// now: two goroutines spin for 30 ms; CPU time over wall time.
func availableCores() float64 {
	const d = 30 * time.Millisecond
	c0, w0 := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for end := time.Now().Add(d); time.Now().Before(end); {
			}
		})
	}
	wg.Wait()
	return float64(cpuTime()-c0) / float64(time.Since(w0))
}
