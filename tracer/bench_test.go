package tracer

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"
)

// BenchmarkEmit: the cost of one event on the VM's hot path. "enabled"
// includes taking a new 64 Ki-event chunk when one is full (full chunks are
// let go, as if handed over); "enabled-reuse" rewrites one chunk, the
// append alone; "streamed-reuse" is that while a Stream reads the buffers
// (one atomic store more); "sequential-reuse" is that with the order log
// of a virtual run (Config.Sequential; its chunks let go as they fill);
// "disabled" is tracing switched off.
func BenchmarkEmit(b *testing.B) {
	for _, bc := range []struct {
		name                                  string
		disabled, reuse, streamed, sequential bool
	}{{"enabled", false, false, false, false}, {"enabled-reuse", false, true, false, false}, {"streamed-reuse", false, true, true, false},
		{"sequential-reuse", false, true, false, true}, {"disabled", true, false, false, false}} {
		b.Run(bc.name, func(b *testing.B) {
			r := NewRecorder(Config{MaxEvents: 1 << 50, Disabled: bc.disabled, Sequential: bc.sequential})
			r.streamed = bc.streamed
			buf := r.NewThread("t", 0)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := range b.N {
				buf.Emit(int64(i), KindCallEnter, 3, 0)
				if len(buf.chunks) > 1 {
					buf.chunks = buf.chunks[len(buf.chunks)-1:]
				}
				if bc.reuse && len(buf.cur) == cap(buf.cur) {
					buf.cur = buf.cur[:0]
				}
				if len(r.order.chunks) > 0 {
					r.order.chunks = r.order.chunks[:0]
				}
			}
			if cpu := cpuTime() - cpu; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
			}
		})
	}
}

var (
	largeOnce  sync.Once
	largeTrace *Trace
	largeFile  []byte
)

// large is a simulated run of about 1 M events and its file.
func large(b *testing.B) (*Trace, []byte) {
	largeOnce.Do(func() {
		largeTrace = genTrace(42, 2, 4, 1<<20)
		var buf bytes.Buffer
		if err := Write(&buf, largeTrace); err != nil {
			b.Fatal(err)
		}
		largeFile = buf.Bytes()
	})
	return largeTrace, largeFile
}

func BenchmarkWrite(b *testing.B) {
	t, file := large(b)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		if err := Write(io.Discard, t); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, len(t.Events), cpuTime()-cpu)
	b.ReportMetric(float64(len(file))/float64(len(t.Events)), "bytes/event")
}

// BenchmarkRead reads and validates (Read runs CheckValid).
func BenchmarkRead(b *testing.B) {
	t, file := large(b)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		if _, err := Read(bytes.NewReader(file)); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, len(t.Events), cpuTime()-cpu)
	b.ReportMetric(float64(len(file))/float64(len(t.Events)), "bytes/event")
}

func BenchmarkCheckValid(b *testing.B) {
	t, _ := large(b)
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		if err := t.CheckValid(); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, len(t.Events), cpuTime()-cpu)
}

// reportRates reports events per wall second and per CPU second (of the
// whole process, garbage collection included).
func reportRates(b *testing.B, events int, cpu time.Duration) {
	n := float64(events) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(n/cpu.Seconds(), "events/cpu-s")
	}
}
