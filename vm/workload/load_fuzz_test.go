package workload

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, that every error is a positioned
// LoadError of the file, and that every workload it accepts keeps the
// guarantees the VM relies on. The seed corpus in testdata/fuzz/FuzzParse
// holds the fixtures and crashers found so far; f.Add adds small cases.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("../../fixtures/*.yaml")
	for _, p := range paths {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	for _, tc := range parseErrorCases() {
		if len(tc.src) < 4096 { // the big ones only slow the fuzzer down
			f.Add([]byte(tc.src))
		}
	}
	f.Add([]byte(opYAML("lock: {name: l, body: [{repeat: {times: 2, body: [{io: {duration: 2ms, jitter: 1ms, kind: db}}]}}]}")))
	f.Add([]byte("name: t\nthreads: [{name: m, run: m}, {name: w, count: 2, run: a, start_after: 1ms}]\nfunctions:\n  m: [{lock: {name: l, body: [{join: w}]}}, {call: a}]\n  a: [{compute: 1ms}]\n"))
	f.Add([]byte("name: t\nthreads: [{name: m, run: m}, {name: w, count: 2, run: a, start_after: 1ms}]\nfunctions:\n  m: [{start: w}, {join: w}]\n  a: [{compute: 1ms}]\n"))
	f.Add([]byte("name: t\nprocesses: 3\nthreads: [{name: m, run: m, process: 1}, {name: w, run: a, process: 1}, {name: m, run: a, process: 2}, {name: m, run: m, process: 3}, {name: w, run: a, process: 3}]\nfunctions:\n  m: [{start: w}, {wait: {duration: 1ms, lock: q}}, {join: w}]\n  a: [{compute: 1ms}, {wait: 2ms}]\n"))
	f.Add([]byte("name: t\nthreads: [{run: a, count: 2}]\nfunctions:\n  a: &x [{call: b}]\n  b: [{native: {duration: 1ms, releases_gil: true}}]\n  c: *x\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		w, err := Parse("f.yaml", src)
		// Parse is linear in practice (milliseconds for a fuzz input); 10 s
		// is far beyond any noise and catches blow-ups (aliases, call graphs).
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Parse took %s", d)
		}
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || le.File != "f.yaml" || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %q (%T) is not a LoadError of f.yaml", err, err)
			}
			return
		}
		if err := checkWorkload(w); err != nil {
			t.Fatalf("Parse accepted a workload that breaks its guarantees: %v\n%s", err, src)
		}
	})
}

// checkWorkload verifies what Parse guarantees of a workload it accepts.
func checkWorkload(w *Workload) error {
	if !fileNameRe.MatchString(w.Name) || len(w.Name) > MaxNameLen {
		return fmt.Errorf("bad name %q", w.Name)
	}
	g := w.GIL
	if (g.Mode != "cpython" && g.Mode != "legacy" && g.Mode != "none") ||
		g.SwitchInterval < MinSwitchInterval || g.SwitchInterval > MaxDuration ||
		g.CheckInterval < 1 || g.CheckInterval > MaxCheckInterval {
		return fmt.Errorf("bad gil %+v", g)
	}
	if w.Processes < 1 || w.Processes > MaxProcesses {
		return fmt.Errorf("bad processes %d", w.Processes)
	}
	if len(w.Threads) == 0 || len(w.Functions) == 0 || len(w.Functions) > MaxFunctions {
		return fmt.Errorf("%d thread groups, %d functions", len(w.Threads), len(w.Functions))
	}
	total := 0
	for _, tg := range w.Threads {
		if tg.Count < 1 || tg.Repeat < 1 || tg.Repeat > MaxTimes || tg.StartAfter < 0 || tg.StartAfter > MaxDuration || tg.Name == "" {
			return fmt.Errorf("bad thread group %+v", tg)
		}
		if w.Functions[tg.Run] == nil {
			return fmt.Errorf("thread group %s runs unknown %q", tg.Name, tg.Run)
		}
		if tg.Process < 0 || tg.Process > w.Processes {
			return fmt.Errorf("thread group %s in process %d of %d", tg.Name, tg.Process, w.Processes)
		}
		if tg.Process != 0 {
			total += tg.Count
		} else {
			total += tg.Count * w.Processes
		}
	}
	if total > MaxThreads {
		return fmt.Errorf("%d threads", total)
	}
	ops := 0
	for name, fn := range w.Functions {
		if fn.Name != name || len(fn.Ops) == 0 {
			return fmt.Errorf("bad function %q: %+v", name, fn)
		}
		if err := checkOps(w, fn.Ops, 1, &ops); err != nil {
			return fmt.Errorf("function %s: %w", name, err)
		}
	}
	if ops > MaxOps {
		return fmt.Errorf("%d operations", ops)
	}
	memo := map[string]int{}
	for _, tg := range w.Threads {
		if d, err := callDepth(w, tg.Run, memo, map[string]bool{}); err != nil || d > MaxDepth {
			return fmt.Errorf("thread group %s: call depth %d: %v", tg.Name, d, err)
		}
	}
	return nil
}

// checkOps verifies the operations of one body at a nesting depth.
func checkOps(w *Workload, ops []Op, depth int, count *int) error {
	if depth > MaxDepth || len(ops) == 0 {
		return fmt.Errorf("body of %d ops at depth %d", len(ops), depth)
	}
	for _, op := range ops {
		*count++
		okDur := op.Duration > 0 && op.Duration <= MaxDuration
		var ok bool
		switch op.Kind {
		case OpCall:
			ok = w.Functions[op.Func] != nil
		case OpCompute:
			ok = (op.Loops == 0 && okDur) || (op.Duration == 0 && op.Loops >= 1 && op.Loops <= MaxLoops)
		case OpIO:
			ok = okDur && op.Jitter >= 0 && op.Jitter <= op.Duration && ioKindRe.MatchString(op.IOKind)
		case OpNative:
			ok = okDur
		case OpLock:
			ok = op.Lock != ""
		case OpWait:
			ok = okDur && op.Lock != "" && len(op.Body) == 0
		case OpRepeat:
			ok = op.Times >= 1 && op.Times <= MaxTimes
		case OpJoin, OpStart:
			for _, tg := range w.Threads {
				ok = ok || tg.Name == op.Group
			}
		}
		if !ok || op.Line < 1 || op.Col < 1 {
			return fmt.Errorf("bad op %+v", op)
		}
		if op.Kind == OpLock || op.Kind == OpRepeat {
			if err := checkOps(w, op.Body, depth+1, count); err != nil {
				return err
			}
		}
	}
	return nil
}

// callDepth is the number of frames of the deepest call chain from fn; it
// fails on recursion. memo holds finished functions, visiting the current chain.
func callDepth(w *Workload, fn string, memo map[string]int, visiting map[string]bool) (int, error) {
	if d, ok := memo[fn]; ok {
		return d, nil
	}
	if visiting[fn] {
		return 0, fmt.Errorf("recursion through %s", fn)
	}
	visiting[fn] = true
	defer delete(visiting, fn)
	deepest := 1
	var walk func(ops []Op) error
	walk = func(ops []Op) error {
		for _, op := range ops {
			switch op.Kind {
			case OpCall:
				d, err := callDepth(w, op.Func, memo, visiting)
				if err != nil {
					return err
				}
				deepest = max(deepest, d+1)
			case OpLock, OpRepeat:
				if err := walk(op.Body); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(w.Functions[fn].Ops); err != nil {
		return 0, err
	}
	memo[fn] = deepest
	return deepest, nil
}

// TestCheckWorkload makes sure the fuzz oracle can fail.
func TestCheckWorkload(t *testing.T) {
	w, err := Parse("t.yaml", []byte(opYAML("io: {duration: 2ms, jitter: 1ms}")))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkWorkload(w); err != nil {
		t.Fatalf("a valid workload fails the oracle: %v", err)
	}
	w.Functions["f"].Ops[0].Jitter = time.Hour
	if err := checkWorkload(w); err == nil {
		t.Error("the oracle accepts a jitter larger than the duration")
	}
	w.Functions["f"].Ops[0] = Op{Kind: OpCall, Func: "f", Line: 1, Col: 1}
	if err := checkWorkload(w); err == nil {
		t.Error("the oracle accepts recursion")
	}
}
