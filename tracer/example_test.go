package tracer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func ExampleRead() {
	var buf bytes.Buffer
	if err := tracer.Write(&buf, testkit.Countdown(2)); err != nil {
		fmt.Println(err)
		return
	}
	full := buf.Bytes()

	t, err := tracer.Read(bytes.NewReader(full))
	fmt.Println(t.Summary(), err)

	// A file cut off mid-write: the complete part, and a warning.
	t, err = tracer.Read(bytes.NewReader(full[:len(full)-3]))
	var te *tracer.TruncatedError
	fmt.Println(t.Summary(), errors.As(err, &te))
	// Output:
	// workload "countdown" (cpython): 1 process, 2 threads, 25 events, 15.4ms, 0 dropped <nil>
	// workload "countdown" (cpython): 1 process, 2 threads, 25 events, 15.4ms, 0 dropped, truncated true
}

func ExampleWriteText() {
	b := testkit.New("hello")
	p := b.Process("python", 1)
	main := b.Func("main", 1)
	th := b.Thread(p, "T1")
	th.Start(0).Acquire(10, 0, tracer.AcquireUncontended).Call(20, main).IOBegin(30, "sleep").Release(40, 0, tracer.ReleaseIO)
	th.IOEnd(1000).Acquire(1010, 0, tracer.AcquireUncontended).Return(1020).Release(1030, 0, tracer.ReleaseThreadEnd).End(1040)
	t := b.Trace()
	t.Meta = tracer.Meta{} // keep the example short
	if err := tracer.WriteText(os.Stdout, t); err != nil {
		fmt.Println(err)
	}
	// Output:
	// giltrace-text 1
	// string 0 ""
	// string 1 "sleep"
	// process 0 "python" pid=1 gil=0
	// lock 0 "GIL" proc=0 gil
	// thread 0 "T1" proc=0
	// frame 0 "main" "test.yaml" 1
	// stack 1 parent=0 frame=0 # main
	// 0 T1 thread-start
	// 10 T1 lock-acquire GIL uncontended
	// 20 T1 call-enter @1 # main
	// 30 T1 io-begin sleep
	// 40 T1 lock-release GIL io
	// 1000 T1 io-end
	// 1010 T1 lock-acquire GIL uncontended
	// 1020 T1 call-exit
	// 1030 T1 lock-release GIL thread-end @0
	// 1040 T1 thread-end
}

// sleeper is a Source of one free-threaded thread that sleeps in I/O.
type sleeper struct{}

func (sleeper) Record(ctx context.Context, rec *tracer.Recorder) (tracer.Meta, error) {
	th := rec.NewThread("T1", rec.AddProcess("python", 1))
	sleep := rec.Intern("sleep")
	th.Emit(0, tracer.KindThreadStart, tracer.NoStack, 0)
	th.Emit(10, tracer.KindIOBegin, tracer.NoStack, uint64(sleep))
	th.Emit(1000, tracer.KindIOEnd, tracer.NoStack, 0)
	th.Emit(1010, tracer.KindThreadEnd, tracer.NoStack, 0)
	return tracer.Meta{Workload: "sleeper", GILMode: tracer.GILNone}, nil
}

func ExampleWithStream() {
	// Record streams the run into the buffer (a file, in giltrace record)
	// as it goes, in format version 2, and finishes it before returning.
	var buf bytes.Buffer
	st := tracer.NewStream(&buf, tracer.Meta{Workload: "sleeper (starting)"})
	t, err := tracer.Record(tracer.WithStream(context.Background(), st), sleeper{}, tracer.Config{})
	fmt.Println(t.Summary(), err, st.Err())

	back, err := tracer.Read(&buf)
	fmt.Println(back.Summary(), err)
	// Output:
	// workload "sleeper" (none): 1 process, 1 thread, 4 events, 1.01µs, 0 dropped <nil> <nil>
	// workload "sleeper" (none): 1 process, 1 thread, 4 events, 1.01µs, 0 dropped <nil>
}

func ExampleReadOptions() {
	var buf bytes.Buffer
	if err := tracer.Write(&buf, testkit.Countdown(2)); err != nil {
		fmt.Println(err)
		return
	}
	b := buf.Bytes()
	b[len(b)-20] ^= 1 // damage the last events record

	_, err := tracer.Read(bytes.NewReader(b))
	fmt.Println(err != nil)
	t, err := tracer.ReadOptions{Salvage: true}.Read(bytes.NewReader(b))
	var se *tracer.SalvagedError
	fmt.Println(errors.As(err, &se), t.Status().Truncated, t.Salvaged != "")
	// Output:
	// true
	// true true true
}
