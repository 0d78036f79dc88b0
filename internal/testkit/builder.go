// Package testkit is giltrace's test support in one place: a Builder that
// makes traces without running a VM or editing bytes, the named trace
// scenarios every package's tests run on (the exporters', the diagnosis's
// verdict situations, benchmarks' large traces), the recorded fixture
// traces, and the benchmarks' rate reporting. It is not API: only tests
// import it.
//
// A Builder adds processes, locks, threads and functions, and each Thread
// emits events at explicit times. Times are nanoseconds since the run's
// start; a thread's times must increase (equal or earlier times are moved
// to one nanosecond after the thread's previous event, as the recorder
// does).
package testkit

import (
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// File is the workload file name given to every frame.
const File = "test.yaml"

// Builder builds a trace. It is not safe for concurrent use.
type Builder struct {
	r    *tracer.Recorder
	meta tracer.Meta
}

// New returns a builder whose trace has the given workload name, cpython
// mode, a 5 ms switch interval, 2 cores, and a fixed start time.
func New(workload string) *Builder {
	return &Builder{
		r: tracer.NewRecorder(tracer.Config{}),
		meta: tracer.Meta{
			Workload:       workload,
			WorkloadFile:   File,
			GILMode:        "cpython",
			SwitchInterval: 5 * time.Millisecond,
			CheckInterval:  100,
			Cores:          2,
			GOMAXPROCS:     2,
			LoopsPerMS:     50000,
			Start:          time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Version:        "test",
		},
	}
}

// Meta returns the trace's metadata, to be changed before Trace.
func (b *Builder) Meta() *tracer.Meta { return &b.meta }

// Process adds a VM process with a GIL named "GIL" and returns it.
func (b *Builder) Process(name string, pid int) tracer.ProcID {
	p := b.r.AddProcess(name, pid)
	b.r.AddLock("GIL", p, true)
	return p
}

// FreeThreadedProcess adds a VM process without a GIL.
func (b *Builder) FreeThreadedProcess(name string, pid int) tracer.ProcID {
	return b.r.AddProcess(name, pid)
}

// Lock adds a guest lock of process p.
func (b *Builder) Lock(p tracer.ProcID, name string) tracer.LockID {
	return b.r.AddLock(name, p, false)
}

// Func returns the frame of function name defined at line of File.
func (b *Builder) Func(name string, line int) tracer.FrameID {
	return b.r.AddFrame(tracer.Frame{Func: name, File: File, Line: line})
}

// Frame returns the frame f, added on first use.
func (b *Builder) Frame(f tracer.Frame) tracer.FrameID { return b.r.AddFrame(f) }

// Thread adds a thread of process p.
func (b *Builder) Thread(p tracer.ProcID, name string) *Thread {
	return &Thread{b: b, buf: b.r.NewThread(name, p)}
}

// Intern returns the StringID of s.
func (b *Builder) Intern(s string) tracer.StringID { return b.r.Intern(s) }

// Trace returns the built trace. The builder must not be used afterwards.
func (b *Builder) Trace() *tracer.Trace { return b.r.Finish(b.meta) }

// Thread emits the events of one thread.
type Thread struct {
	b     *Builder
	buf   *tracer.Buffer
	stack []tracer.StackID
}

// ID is the thread's ID.
func (t *Thread) ID() tracer.ThreadID { return t.buf.Thread() }

// Stack is the thread's current stack.
func (t *Thread) Stack() tracer.StackID {
	if len(t.stack) == 0 {
		return tracer.NoStack
	}
	return t.stack[len(t.stack)-1]
}

func (t *Thread) emit(at int64, k tracer.Kind, arg uint64) *Thread {
	t.buf.Emit(at, k, t.Stack(), arg)
	return t
}

// Start emits ThreadStart.
func (t *Thread) Start(at int64) *Thread { return t.emit(at, tracer.KindThreadStart, 0) }

// StartExisted begins a thread that existed before the trace began
// (attach), first seen at at.
func (t *Thread) StartExisted(at int64) *Thread {
	return t.emit(at, tracer.KindThreadStart, tracer.ThreadExisted)
}

// End emits ThreadEnd.
func (t *Thread) End(at int64) *Thread { return t.emit(at, tracer.KindThreadEnd, 0) }

// Wait emits LockWait for l.
func (t *Thread) Wait(at int64, l tracer.LockID) *Thread {
	return t.emit(at, tracer.KindLockWait, tracer.LockArg(l, 0))
}

// Acquire emits LockAcquire of l.
func (t *Thread) Acquire(at int64, l tracer.LockID, how tracer.Acquire) *Thread {
	return t.emit(at, tracer.KindLockAcquire, tracer.LockArg(l, uint8(how)))
}

// Release emits LockRelease of l.
func (t *Thread) Release(at int64, l tracer.LockID, why tracer.Release) *Thread {
	return t.emit(at, tracer.KindLockRelease, tracer.LockArg(l, uint8(why)))
}

// DropRequest emits a drop request of l held by holder.
func (t *Thread) DropRequest(at int64, l tracer.LockID, holder tracer.ThreadID) *Thread {
	return t.emit(at, tracer.KindDropRequest, tracer.DropArg(l, holder))
}

// IOBegin emits IOBegin of the given kind.
func (t *Thread) IOBegin(at int64, kind string) *Thread {
	return t.emit(at, tracer.KindIOBegin, uint64(t.b.r.Intern(kind)))
}

// IOEnd emits IOEnd.
func (t *Thread) IOEnd(at int64) *Thread { return t.emit(at, tracer.KindIOEnd, 0) }

// NativeBegin emits NativeBegin.
func (t *Thread) NativeBegin(at int64, releasesGIL bool) *Thread {
	return t.emit(at, tracer.KindNativeBegin, tracer.NativeArg(releasesGIL))
}

// NativeEnd emits NativeEnd.
func (t *Thread) NativeEnd(at int64) *Thread { return t.emit(at, tracer.KindNativeEnd, 0) }

// Call enters function f.
func (t *Thread) Call(at int64, f tracer.FrameID) *Thread {
	s := t.b.r.Stack(t.Stack(), f)
	t.stack = append(t.stack, s)
	return t.emit(at, tracer.KindCallEnter, 0)
}

// Line moves the thread, running, to frame f of its innermost call (the
// same function at another line): a line event.
func (t *Thread) Line(at int64, f tracer.FrameID) *Thread {
	parent := tracer.NoStack
	if n := len(t.stack); n > 1 {
		parent = t.stack[n-2]
	}
	t.stack[len(t.stack)-1] = t.b.r.Stack(parent, f)
	return t.emit(at, tracer.KindLine, 0)
}

// Return exits the innermost function.
func (t *Thread) Return(at int64) *Thread {
	t.emit(at, tracer.KindCallExit, 0)
	t.stack = t.stack[:len(t.stack)-1]
	return t
}
