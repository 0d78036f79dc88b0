package tracer

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// BenchmarkEmit: the cost of one event on the VM's hot path.
func BenchmarkEmit(b *testing.B) {
	for _, bc := range []struct {
		name     string
		disabled bool
	}{{"enabled", false}, {"disabled", true}} {
		b.Run(bc.name, func(b *testing.B) {
			r := NewRecorder(Config{MaxEvents: 1 << 50, Disabled: bc.disabled})
			buf := r.NewThread("t", 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				buf.Emit(int64(i), KindCallEnter, 3, 0)
				if len(buf.full) > 0 {
					buf.full = buf.full[:0] // let full chunks go, as if handed over
				}
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
	for range b.N {
		if err := Write(io.Discard, t); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(file))/float64(len(t.Events)), "bytes/event")
	b.ReportMetric(float64(len(t.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRead reads and validates (Read runs CheckValid).
func BenchmarkRead(b *testing.B) {
	t, file := large(b)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Read(bytes.NewReader(file)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(file))/float64(len(t.Events)), "bytes/event")
	b.ReportMetric(float64(len(t.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkCheckValid(b *testing.B) {
	t, _ := large(b)
	b.ResetTimer()
	for range b.N {
		if err := t.CheckValid(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(t.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
