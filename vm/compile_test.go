package vm

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

func TestCompileErrors(t *testing.T) {
	lock := func(name string, body ...workload.Op) workload.Op {
		return workload.Op{Kind: workload.OpLock, Lock: name, Body: body, Line: 7}
	}
	tests := []struct {
		name string
		fns  map[string][]workload.Op
		run  string
		want string
	}{
		{"unknown run", map[string][]workload.Op{"f": {loops(1)}}, "g", `run: unknown function "g"`},
		{"unknown call", map[string][]workload.Op{"f": {call("nope")}}, "f", `call of unknown function "nope"`},
		{"recursion", map[string][]workload.Op{"f": {call("g")}, "g": {call("f")}}, "f", "recursive call"},
		{"nested lock", map[string][]workload.Op{"f": {lock("l", lock("l", loops(1)))}}, "f", `lock "l" acquired while already held`},
		{"lock through a call", map[string][]workload.Op{"f": {lock("l", call("g"))}, "g": {lock("l", loops(1))}}, "f", `lock "l" acquired while already held`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &workload.Workload{Name: "bad", Functions: fns(tc.fns), Threads: []workload.ThreadGroup{group("T", 1, tc.run)}}
			_, err := Run(context.Background(), w, Options{LoopsPerMS: 1000})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCompileLoopsFromDuration(t *testing.T) {
	w := &workload.Workload{Name: "w", Functions: fns(map[string][]workload.Op{"f": {compute(3 * time.Millisecond), loops(42)}}),
		Threads: []workload.ThreadGroup{group("T", 1, "f")}}
	p, err := compile(w, tracer.NewRecorder(tracer.Config{}), 1000, false)
	if err != nil {
		t.Fatal(err)
	}
	// Each countdown starts with LOAD_CONST N; STORE_FAST n.
	var counts []int64
	ins := p.funcs[0].instrs
	for i := 0; i+1 < len(ins); i++ {
		if ins[i].op == opLoadConst && ins[i+1].op == opStoreFast {
			counts = append(counts, ins[i].b)
		}
	}
	if len(counts) != 2 || counts[0] != 3000 || counts[1] != 42 {
		t.Errorf("loop counts %v, want [3000 42] (3 ms at 1000 loops/ms, then exactly 42)", counts)
	}
}

func TestCompileLineTable(t *testing.T) {
	f := &workload.Function{Name: "f", Line: 10, Ops: []workload.Op{
		{Kind: workload.OpIO, Duration: time.Millisecond, Line: 11},
		{Kind: workload.OpRepeat, Times: 2, Line: 12, Body: []workload.Op{{Kind: workload.OpCompute, Loops: 5, Line: 13}}},
		{Kind: workload.OpLock, Lock: "l", Line: 14, Body: []workload.Op{{Kind: workload.OpNative, Duration: time.Millisecond, Line: 15}}},
	}}
	w := &workload.Workload{Name: "w", Functions: map[string]*workload.Function{"f": f}, Threads: []workload.ThreadGroup{{Name: "T", Run: "f", Line: 3}}}
	p, err := compile(w, tracer.NewRecorder(tracer.Config{}), 1, true)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[opcode][]int32{}
	for _, in := range p.funcs[0].instrs {
		lines[in.op] = append(lines[in.op], in.line)
	}
	want := map[opcode][]int32{
		opResume: {10}, opIO: {11}, opLockAcquire: {14}, opNative: {15}, opLockRelease: {14}, opReturn: {10},
		opTestGT: {12, 13}, opDecJumpBack: {13, 12},
	}
	for op, l := range want {
		if !slices.Equal(lines[op], l) {
			t.Errorf("opcode %d on lines %v, want %v", op, lines[op], l)
		}
	}
	if top := p.tops[0].instrs[0].line; top != 3 {
		t.Errorf("thread top level on line %d, want 3 (the thread group)", top)
	}
}
