package tracer_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// existedTrace is one process with a GIL and two threads: T1 started in
// the trace, T2 existed before it (an attach) and is first seen at 50.
func existedTrace() *tracer.Trace {
	gil := tracer.LockID(0)
	return &tracer.Trace{
		Meta:    tracer.Meta{Workload: "attached", GILMode: tracer.GILCPython},
		Strings: []string{""},
		Stacks:  []tracer.Stack{{}},
		Procs:   []tracer.Process{{Name: "p", PID: 1, GIL: gil}},
		Locks:   []tracer.Lock{{Name: "GIL", Proc: 0, GIL: true}},
		Threads: []tracer.Thread{{Name: "T1", Proc: 0}, {Name: "T2", Proc: 0}},
		Events: []tracer.Event{
			{Time: 10, Thread: 0, Kind: tracer.KindThreadStart},
			{Time: 11, Thread: 0, Kind: tracer.KindLockAcquire, Arg: tracer.LockArg(gil, uint8(tracer.AcquireUncontended))},
			{Time: 40, Thread: 0, Kind: tracer.KindLockRelease, Arg: tracer.LockArg(gil, uint8(tracer.ReleaseThreadEnd))},
			{Time: 41, Thread: 0, Kind: tracer.KindThreadEnd},
			{Time: 50, Thread: 1, Kind: tracer.KindThreadStart, Arg: tracer.ThreadExisted},
			{Time: 51, Thread: 1, Kind: tracer.KindLockAcquire, Arg: tracer.LockArg(gil, uint8(tracer.AcquireUncontended))},
			{Time: 60, Thread: 1, Kind: tracer.KindLockRelease, Arg: tracer.LockArg(gil, uint8(tracer.ReleaseThreadEnd))},
			{Time: 61, Thread: 1, Kind: tracer.KindThreadEnd},
		},
	}
}

// TestThreadExisted: a ThreadStart's ThreadExisted survives the binary and
// the text forms ("thread-start existed"), and Derive marks the thread.
func TestThreadExisted(t *testing.T) {
	tr := existedTrace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	var bin bytes.Buffer
	if err := tracer.Write(&bin, tr); err != nil {
		t.Fatal(err)
	}
	fromBin, err := tracer.Read(&bin)
	if err != nil {
		t.Fatal(err)
	}
	var txt bytes.Buffer
	if err := tracer.WriteText(&txt, tr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "T2 thread-start existed") {
		t.Errorf("the text form lacks %q:\n%s", "T2 thread-start existed", txt.String())
	}
	fromText, err := tracer.ParseText(&txt)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*tracer.Trace{"binary": fromBin, "text": fromText} {
		s := tracer.Derive(got)
		if s.Threads[0].Existed || !s.Threads[1].Existed {
			t.Errorf("%s: Existed %v, %v; want false, true", name, s.Threads[0].Existed, s.Threads[1].Existed)
		}
	}
}
