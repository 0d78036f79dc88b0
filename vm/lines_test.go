package vm

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// at sets an op's workload line.
func at(line int, op workload.Op) workload.Op { op.Line = line; return op }

// TestEventsCarryTheirOperationsLine: every event an operation emits has
// the function at that operation's line on top of its stack; a call's
// stack is its function at its first operation, under the caller at the
// call's line; after I/O the thread takes the GIL back at the next
// operation's line.
func TestEventsCarryTheirOperationsLine(t *testing.T) {
	w := &workload.Workload{Name: "lines", File: "lines.yaml", Seed: 1,
		Functions: map[string]*workload.Function{
			"main": {Name: "main", Line: 10, Ops: []workload.Op{
				at(11, loops(100)),
				at(12, call("sub")),
				at(13, workload.Op{Kind: workload.OpRepeat, Times: 2, Body: []workload.Op{
					at(14, blockIO(time.Millisecond)),
					at(15, loops(100)),
				}}),
				at(16, workload.Op{Kind: workload.OpLock, Lock: "l", Body: []workload.Op{at(17, loops(10))}}),
			}},
			"sub": {Name: "sub", Line: 20, Ops: []workload.Op{at(21, blockIO(time.Millisecond))}},
		},
		Threads: []workload.ThreadGroup{group("T", 1, "main")}}
	tr, _ := mustRun(t, w, Options{LoopsPerMS: testLoopsPerMS()})
	top := func(st tracer.StackID) (string, int) {
		if st == tracer.NoStack {
			return "", 0
		}
		f := tr.Frames[tr.Stacks[st].Frame]
		return f.Func, f.Line
	}
	var ios, afterIO []int
	lastIOEnd := false
	for _, e := range tr.Events {
		fn, line := top(e.Stack)
		switch e.Kind {
		case tracer.KindCallEnter:
			caller, callLine := top(tr.Stacks[e.Stack].Parent)
			if fn == "main" && (line != 11 || caller != "") || fn == "sub" && (line != 21 || caller != "main" || callLine != 12) {
				t.Errorf("call-enter %s:%d under %s:%d", fn, line, caller, callLine)
			}
		case tracer.KindIOBegin:
			ios = append(ios, line)
		case tracer.KindLockAcquire:
			if lastIOEnd {
				afterIO = append(afterIO, line)
			}
			if tr.Locks[e.Lock()].Name == "l" && line != 16 {
				t.Errorf("lock acquired at line %d, want 16", line)
			}
		}
		lastIOEnd = e.Kind == tracer.KindIOEnd || (lastIOEnd && e.Kind == tracer.KindLockWait)
	}
	if want := []int{21, 14, 14}; !slices.Equal(ios, want) {
		t.Errorf("I/O at lines %v, want %v", ios, want)
	}
	// After sub's I/O the thread returns (sub's definition line), after
	// each repeat's I/O it runs line 15.
	if want := []int{20, 15, 15}; !slices.Equal(afterIO, want) {
		t.Errorf("GIL taken back after I/O at lines %v, want %v", afterIO, want)
	}
}

// TestComputeOnItsOwnLine: a compute's running time is on its own line
// after an operation whose last event is at the operation's own line: a
// native call keeping the GIL, named or not, an uncontended lock (its
// body's compute), a call's return. The thread records a line event
// (tracer.KindLine) as it moves on (QA: all 20 ms of a lock body's
// compute, and 9 ms of a compute after a native call, were on the lock's
// and the call's lines). In virtual time, on one thread: exact.
func TestComputeOnItsOwnLine(t *testing.T) {
	w, err := workload.Parse("lines.yaml", []byte(`name: lines
clock: virtual
threads:
  - {name: a, run: f, repeat: 5}
functions:
  f:
    - native: {duration: 2ms, name: ext.hold}
    - compute: 3ms
    - native: {duration: 1ms}
    - compute: 2ms
    - lock:
        name: L
        body:
          - compute: 4ms
    - call: g
    - compute: 5ms
  g:
    - compute: 1ms
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Run(context.Background(), w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	running := map[int]time.Duration{} // by the line of f's frame on top
	for _, sp := range s.States {
		if sp.State != tracer.StateRunning || sp.Stack == tracer.NoStack {
			continue
		}
		f := tr.Frames[tr.Stacks[sp.Stack].Frame]
		if f.Func == "f" {
			running[f.Line] += time.Duration(sp.End - sp.Start)
		}
	}
	// Lines: 7 native (named), 8 compute, 9 native, 10 compute, 11 lock,
	// 14 its body's compute, 15 call, 16 compute.
	for line, want := range map[int]time.Duration{8: 15 * time.Millisecond, 10: 10 * time.Millisecond, 14: 20 * time.Millisecond, 16: 25 * time.Millisecond} {
		if got := running[line]; got < want || got > want+want/100 {
			t.Errorf("line %d: running %v, want %v (every line: %v)", line, got, want, running)
		}
	}
	for _, line := range []int{7, 9, 11, 15} {
		if got := running[line]; got > time.Millisecond/10 {
			t.Errorf("line %d, an operation with no compute of its own: running %v (every line: %v)", line, got, running)
		}
	}
}
