package vm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

func startOp(g string) workload.Op { return workload.Op{Kind: workload.OpStart, Group: g} }

// startWorkload: "main" runs 10 ms of Python, starts group W (count
// threads of 4 ms of Python, start_after `after` from the start), runs
// `rest` more (if > 0) and joins W.
func startWorkload(count int, after, rest time.Duration) *workload.Workload {
	mainOps := []workload.Op{compute(10 * time.Millisecond), startOp("W")}
	if rest > 0 {
		mainOps = append(mainOps, compute(rest))
	}
	mainOps = append(mainOps, joinOp("W"))
	return &workload.Workload{Name: "start", Seed: 1,
		Functions: fns(map[string][]workload.Op{"main": mainOps, "work": {compute(4 * time.Millisecond)}}),
		Threads: []workload.ThreadGroup{group("main", 1, "main"),
			{Name: "W", Count: count, Run: "work", Repeat: 1, StartAfter: after}}}
}

// TestVirtualStart: W begins one wake-up latency after main's start op,
// at 10 ms of main's Python (plus the few instructions around it), plus
// its start_after exactly; not at time 0, and it records nothing before.
func TestVirtualStart(t *testing.T) {
	var at0 int64
	for _, after := range []time.Duration{0, 3 * time.Millisecond} {
		tr, _ := sim(t, startWorkload(1, after, 0), Options{Cores: 2})
		mainAcq := eventsOf(tr, tracer.KindLockAcquire, "main")[0].Time
		ws := eventsOf(tr, tracer.KindThreadStart, "W")
		want := mainAcq + int64(10*time.Millisecond) + vLatency + int64(after)
		if len(ws) != 1 || ws[0].Time < want || ws[0].Time > want+1000 {
			t.Fatalf("after %v: W started at %v, expected %d to 1 us later (main took the GIL at %d)", after, ws, want, mainAcq)
		}
		if after == 0 {
			at0 = ws[0].Time
		} else if ws[0].Time-at0 != int64(after) {
			t.Errorf("start_after %v: W started %d ns after it did without, expected exactly %d", after, ws[0].Time-at0, int64(after))
		}
		for _, e := range tr.Events {
			if tr.Threads[e.Thread].Name == "W" && e.Time < ws[0].Time {
				t.Errorf("after %v: W's event %v before its start", after, e)
			}
		}
	}
}

// TestVirtualStartFirst: a start as the starter's first operation starts
// the group at once, never before the starter.
func TestVirtualStartFirst(t *testing.T) {
	w := startWorkload(2, 0, time.Millisecond)
	w.Functions["main"].Ops = w.Functions["main"].Ops[1:]
	tr, _ := sim(t, w, Options{Cores: 2})
	mainStart := eventsOf(tr, tracer.KindThreadStart, "main")[0].Time
	for _, name := range []string{"W-1", "W-2"} {
		ws := eventsOf(tr, tracer.KindThreadStart, name)
		if len(ws) != 1 || ws[0].Time < mainStart || ws[0].Time > mainStart+vLatency+1000 {
			t.Errorf("%s started at %v, main at %d: expected within a latency", name, ws, mainStart)
		}
	}
}

// TestVirtualStartDeterministic: the same workload gives the same trace.
func TestVirtualStartDeterministic(t *testing.T) {
	w := startWorkload(3, time.Millisecond, 2*time.Millisecond)
	a, _ := sim(t, w, Options{Cores: 2})
	b, _ := sim(t, w, Options{Cores: 2})
	if string(traceBytes(t, a)) != string(traceBytes(t, b)) {
		t.Fatal("two virtual runs of a workload with a start differ")
	}
	if n := countKind(a, tracer.KindThreadEnd); n != 4 {
		t.Errorf("%d thread ends, expected 4", n)
	}
}

// TestStartRealTime: W starts after main's 10 ms sleep (a sleep: a
// compute's wall time depends on the calibration), in every GIL mode.
func TestStartRealTime(t *testing.T) {
	w := startWorkload(2, 0, time.Millisecond)
	w.Functions["main"].Ops[0] = workload.Op{Kind: workload.OpIO, IOKind: "sleep", Duration: 10 * time.Millisecond}
	for _, mode := range tracer.GILModes {
		tr, err := Run(context.Background(), w, Options{Mode: mode, LoopsPerMS: testLoopsPerMS()})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if err := tr.CheckValid(); err != nil {
			t.Fatalf("%s: invalid trace: %v", mode, err)
		}
		mainStart := eventsOf(tr, tracer.KindThreadStart, "main")[0].Time
		for _, name := range []string{"W-1", "W-2"} {
			ws := eventsOf(tr, tracer.KindThreadStart, name)
			if len(ws) != 1 || ws[0].Time-mainStart < int64(10*time.Millisecond) {
				t.Errorf("%s: %s started at %v, main at %d: expected after main's 10 ms", mode, name, ws, mainStart)
			}
		}
	}
}

// TestStopUnstartedThreads: a run stopped before the start (main's
// compute of an hour) stops at once, each thread ending.
func TestStopUnstartedThreads(t *testing.T) {
	w := startWorkload(2, 0, 0)
	w.Functions["main"].Ops[0] = compute(time.Hour)
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
			t.Fatalf("%s: invalid trace: %v", mode, err)
		}
		if n := countKind(tr, tracer.KindThreadEnd); n != len(tr.Threads) {
			t.Errorf("%s: %d thread ends for %d threads", mode, n, len(tr.Threads))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr, err := Run(ctx, w, Options{ClockMode: workload.ClockVirtual})
	if !errors.Is(err, ErrInterrupted) || tr == nil {
		t.Fatalf("virtual: Run: %v, expected ErrInterrupted and the trace", err)
	}
}

// TestThreadsOptionKeepsStarters: Options.Threads (record --threads,
// compare's sizes) sets every group's count but a starting group's: a
// thread can be started only once, and main started the workers once per
// copy of itself (QA: "--threads 2" ran a workload check refuses).
func TestThreadsOptionKeepsStarters(t *testing.T) {
	w, err := workload.Parse("fj.yaml", []byte("name: fj\nthreads:\n  - {name: main, run: m}\n  - {name: worker, count: 4, run: w}\nfunctions:\n  m: [{call: go}, {join: worker}]\n  go: [{start: worker}]\n  w: [{compute: 10ms}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Threads: 3})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, th := range tr.Threads {
		names[strings.TrimRight(th.Name, "-0123456789")]++
	}
	if names["main"] != 1 || names["worker"] != 3 {
		t.Errorf("threads %v, want 1 main and 3 workers", names)
	}
}
