package vm

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
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
func fns(m map[string][]Op) map[string]*Function {
	out := map[string]*Function{}
	line := 10
	for n, ops := range m {
		out[n] = &Function{Name: n, Ops: ops, Line: line}
		line += 10
	}
	return out
}

func compute(d time.Duration) Op { return Op{Kind: OpCompute, Duration: d} }
func loops(n int64) Op           { return Op{Kind: OpCompute, Loops: n} }
func blockIO(d time.Duration) Op { return Op{Kind: OpIO, Duration: d, IOKind: "net"} }
func call(f string) Op           { return Op{Kind: OpCall, Func: f} }
func native(d time.Duration, releases bool) Op {
	return Op{Kind: OpNative, Duration: d, ReleasesGIL: releases}
}

// mustRun runs w and checks that its trace is valid.
func mustRun(t *testing.T, w *Workload, o Options) (*tracer.Trace, *tracer.Spans) {
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

func dumpEvents(t *testing.T, tr *tracer.Trace) {
	for _, e := range tr.Events {
		arg := ""
		switch e.Kind {
		case tracer.KindLockAcquire:
			arg = e.Acquire().String()
		case tracer.KindLockRelease:
			arg = e.Release().String()
		}
		t.Logf("%10.3fms %-6s %-13s %s", float64(e.Time)/1e6, tr.Threads[e.Thread].Name, e.Kind, arg)
	}
}
