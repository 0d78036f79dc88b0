package vm

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

var (
	calibrateOnce sync.Once
	loopsPerMS    float64
)

// testLoopsPerMS calibrates once per test binary.
func testLoopsPerMS() float64 {
	calibrateOnce.Do(func() { loopsPerMS = Calibrate() })
	return loopsPerMS
}

// fns builds a workload's functions from name -> ops.
func fns(m map[string][]workload.Op) map[string]*workload.Function {
	out := map[string]*workload.Function{}
	line := 10
	for n, ops := range m {
		out[n] = &workload.Function{Name: n, Ops: ops, Line: line}
		line += 10
	}
	return out
}

func compute(d time.Duration) workload.Op { return workload.Op{Kind: workload.OpCompute, Duration: d} }
func loops(n int64) workload.Op           { return workload.Op{Kind: workload.OpCompute, Loops: n} }
func blockIO(d time.Duration) workload.Op {
	return workload.Op{Kind: workload.OpIO, Duration: d, IOKind: "net"}
}
func call(f string) workload.Op { return workload.Op{Kind: workload.OpCall, Func: f} }
func native(d time.Duration, releases bool) workload.Op {
	return workload.Op{Kind: workload.OpNative, Duration: d, ReleasesGIL: releases}
}

// mustRun runs w and checks that its trace is valid.
func mustRun(t *testing.T, w *workload.Workload, o Options) (*tracer.Trace, *tracer.Spans) {
	t.Helper()
	if o.LoopsPerMS == 0 {
		o.LoopsPerMS = testLoopsPerMS()
	}
	tr, err := Run(context.Background(), w, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid trace: %v", err)
	}
	return tr, tracer.Derive(tr)
}

func wall(s *tracer.Spans) time.Duration { return time.Duration(s.Trace.Duration()) }

func TestManyThreadsAreNotCut(t *testing.T) {
	w := &workload.Workload{Name: "many", Seed: 1,
		Functions: fns(map[string][]workload.Op{"f": {loops(100), blockIO(time.Millisecond)}}),
		Threads:   []workload.ThreadGroup{{Name: "T", Count: 300, Run: "f", Repeat: 1}}}
	tr, _ := mustRun(t, w, Options{})
	if tr.Dropped != 0 || len(tr.Threads) != 300 {
		t.Errorf("%d threads, %d events dropped: expected room for every thread's buffer", len(tr.Threads), tr.Dropped)
	}
}

// TestFixturesRun runs every bundled fixture for a moment (stopping it
// after 300 ms) and checks its trace.
func TestFixturesRun(t *testing.T) {
	paths, err := filepath.Glob("../fixtures/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			w, err := workload.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			tr, err := Run(ctx, w, Options{LoopsPerMS: testLoopsPerMS()})
			if err != nil && !errors.Is(err, ErrInterrupted) {
				t.Fatal(err)
			}
			if err := tr.CheckValid(); err != nil {
				t.Fatal(err)
			}
			if len(tr.Events) == 0 {
				t.Error("no events")
			}
		})
	}
}

func TestRunLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	w := &workload.Workload{Name: "mixed", Seed: 1,
		Functions: fns(map[string][]workload.Op{
			"f": {blockIO(time.Millisecond), native(time.Millisecond, true), {Kind: workload.OpLock, Lock: "l", Body: []workload.Op{loops(1000)}}, compute(time.Second)},
		}),
		Threads: []workload.ThreadGroup{{Name: "T", Count: 4, Run: "f", Repeat: 1}}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Run(ctx, w, Options{LoopsPerMS: testLoopsPerMS()}); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run: %v", err)
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d goroutines after Run, %d before", runtime.NumGoroutine(), before)
}
