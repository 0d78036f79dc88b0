package chrome_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/internal/chrometest"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// bigTrace builds a trace of about n events: four threads of one process
// take turns with the GIL as in testkit.Countdown, each turn a call (and
// every third turn a nested one), then a drop request and a forced
// handoff; at the end each thread takes the GIL once more and ends.
func bigTrace(tb testing.TB, n int) *tracer.Trace {
	tb.Helper()
	b := testkit.New("bench")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	work, fetch := b.Func("work", 3), b.Func("fetch", 9)
	th := make([]*testkit.Thread, 4)
	for i := range th {
		th[i] = b.Thread(p, fmt.Sprintf("T%d", i+1))
	}
	th[0].Start(0).Acquire(10, gil, tracer.AcquireUncontended)
	for i := 1; i < len(th); i++ {
		th[i].Start(int64(10*i)).Wait(int64(10*i+5), gil)
	}
	events := 2 + 2*(len(th)-1)
	t, h := int64(100), 0
	for r := 0; events+3*len(th) < n; r++ {
		w := (h + 1) % len(th)
		th[h].Call(t+1000, work)
		if r%3 == 0 {
			th[h].Call(t+2000, fetch).Return(t + 3000)
			events += 2
		}
		th[h].Return(t + 4000)
		th[w].DropRequest(t+5000, gil, th[h].ID())
		th[h].Release(t+5100, gil, tracer.ReleaseDropRequest).Wait(t+5110, gil)
		th[w].Acquire(t+5200, gil, tracer.AcquireForced)
		events += 6
		t, h = t+5200, w
	}
	for i := range th {
		x := th[(h+i)%len(th)]
		if i > 0 {
			x.Acquire(t+10, gil, tracer.AcquireAfterWait)
		}
		x.Release(t+20, gil, tracer.ReleaseThreadEnd).End(t + 30)
		t += 30
	}
	return b.Trace()
}

// countWriter counts bytes and lines (one JSON event per line) and
// discards them.
type countWriter struct{ n, lines int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	w.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// BenchmarkExport exports a trace of 1 M events (spans derived
// beforehand, as the CLI does once for every format) and reports trace
// events per second, output bytes, and bytes allocated per output byte.
func BenchmarkExport(b *testing.B) {
	tr := bigTrace(b, 1_000_000)
	spans := tracer.Derive(tr)
	b.ReportAllocs()
	b.ResetTimer()
	var out countWriter
	for i := 0; i < b.N; i++ {
		out.n, out.lines = 0, 0
		if err := chrome.New(&out).Export(context.Background(), spans); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(tr.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(out.n), "out-bytes/op")
	b.ReportMetric(float64(out.lines), "json-events/op")
}

// BenchmarkExportWithDerive is the same including tracer.Derive, as
// Exporter.Export does.
func BenchmarkExportWithDerive(b *testing.B) {
	tr := bigTrace(b, 1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := chrome.New(io.Discard).Export(context.Background(), tracer.Derive(tr)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(tr.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestMemoryBounded checks that the exporter streams: what it allocates
// beyond the spans is a small fraction of what it writes, so output far
// larger than memory never needs to be held.
func TestMemoryBounded(t *testing.T) {
	tr := bigTrace(t, 200_000)
	spans := tracer.Derive(tr)
	var out countWriter
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := chrome.New(&out).Export(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("wrote %d bytes, allocated %d bytes", out.n, alloc)
	if out.n < 10<<20 {
		t.Fatalf("wrote only %d bytes: the trace is too small for the check", out.n)
	}
	// The buffered writer (256 KiB) and a few tables: allow 1 MiB, against
	// an output of tens of MiB.
	if alloc > 1<<20 {
		t.Errorf("allocated %d bytes to write %d: the export does not stream", alloc, out.n)
	}
}

// TestLargeTraceIsValid runs the validator over the output of a trace of
// the benchmark's shape: many rounds of nested calls and handoffs.
func TestLargeTraceIsValid(t *testing.T) {
	tr := bigTrace(t, 30_000)
	spans := tracer.Derive(tr)
	var buf bytes.Buffer
	if err := chrome.New(&buf).Export(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	sum := validate(t, buf.Bytes())
	if len(sum.Flows) != len(spans.Handoffs) {
		t.Errorf("flows = %d, want %d handoffs", len(sum.Flows), len(spans.Handoffs))
	}
	gil := sum.Slices[chrometest.Track{PID: 1, TID: sum.TID(1, "GIL")}]
	holds := 0
	for _, s := range gil {
		if s.Dur > 0 {
			holds++
		}
	}
	if holds != len(spans.Holds) {
		t.Errorf("GIL track holds = %d, want %d", holds, len(spans.Holds))
	}
}
