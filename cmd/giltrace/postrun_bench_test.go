package main

// Benchmarks of what giltrace does after a run (issue 14's targets,
// figures in docs/performance.md): the time of record's post-run work
// against the time validate takes to read the same trace, the peak
// memory per event of report and of record's outputs (in a child
// process, from /proc/self/status VmHWM), and the cost per event of
// 1024 threads against 64.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// benchTraceEnv names a recorded trace to benchmark instead of a built
// one (for example a 1.5 M-event `giltrace record` of 16 threads).
const benchTraceEnv = "GILTRACE_BENCH_TRACE"

// benchTrace is the path of the trace to benchmark: $GILTRACE_BENCH_TRACE,
// or testkit.Turns(1.5 M events) written to a temporary file.
func benchTrace(b *testing.B) string {
	if p := os.Getenv(benchTraceEnv); p != "" {
		return p
	}
	p := filepath.Join(b.TempDir(), "turns.giltrace")
	if err := tracer.WriteFile(p, testkit.Turns(1_500_000)); err != nil {
		b.Fatal(err)
	}
	return p
}

// postRun is what record does once the run is over: write the trace,
// derive the spans once, write every default output, print the report.
// It writes trace.json whatever the size of the run (record writes
// trace.perfetto-trace instead past perfetto.LargeRun events:
// postRunBySize).
func postRun(ctx context.Context, t *tracer.Trace, dir string) error {
	return postRunFormats(ctx, t, dir, false)
}

// postRunBySize is postRun with the formats adapted to the size of the
// run, as record does (bySize).
func postRunBySize(ctx context.Context, t *tracer.Trace, dir string) error {
	return postRunFormats(ctx, t, dir, true)
}

func postRunFormats(ctx context.Context, t *tracer.Trace, dir string, bySizeToo bool) error {
	if err := tracer.WriteFile(filepath.Join(dir, "run.giltrace"), t); err != nil {
		return err
	}
	r := newRun(t)
	formats, _ := parseFormats("all")
	if bySizeToo {
		formats = bySize("all", formats, r, io.Discard)
	}
	if _, err := writeOutputs(ctx, dir, r, formats); err != nil {
		return err
	}
	return report.WriteText(io.Discard, r.diagnosis())
}

// BenchmarkPostRun: validate reads the trace (the yardstick); postrun is
// record's work after the run on the trace already in memory, with
// trace.json; record is the same with the formats record picks for the
// size of the run (trace.perfetto-trace instead of trace.json past 1 M
// events); report is `giltrace report` (read, derive, analyse, print).
func BenchmarkPostRun(b *testing.B) {
	path := benchTrace(b)
	t, err := tracer.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	n := len(t.Events)
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		cpu := testkit.CPUTime()
		for b.Loop() {
			if _, err := tracer.ReadFile(path); err != nil {
				b.Fatal(err)
			}
		}
		perEvent(b, n, cpu)
	})
	b.Run("postrun", func(b *testing.B) {
		b.ReportAllocs()
		dir := b.TempDir()
		cpu := testkit.CPUTime()
		for b.Loop() {
			if err := postRun(context.Background(), t, dir); err != nil {
				b.Fatal(err)
			}
		}
		perEvent(b, n, cpu)
	})
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		dir := b.TempDir()
		cpu := testkit.CPUTime()
		for b.Loop() {
			if err := postRunBySize(context.Background(), t, dir); err != nil {
				b.Fatal(err)
			}
		}
		perEvent(b, n, cpu)
	})
	b.Run("report", func(b *testing.B) {
		b.ReportAllocs()
		cpu := testkit.CPUTime()
		for b.Loop() {
			tr, err := tracer.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := report.New(io.Discard, report.Text).Export(context.Background(), tracer.Derive(tr)); err != nil {
				b.Fatal(err)
			}
		}
		perEvent(b, n, cpu)
	})
}

// perEvent reports wall and CPU nanoseconds per event of the trace: on the
// shared, loaded machine the CPU figure is the steadier one.
func perEvent(b *testing.B, events int, cpu time.Duration) {
	n := float64(events) * float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	if used := testkit.CPUTime() - cpu; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/n, "cpu-ns/event")
	}
}

// BenchmarkManyThreads is every output of n CPU-bound threads taking turns
// on one GIL, all queueing from the start (the blame of their first waits
// is n² parts): the cost per event must not grow with n.
func BenchmarkManyThreads(b *testing.B) {
	for _, n := range []int{64, 1024} {
		t := testkit.CPUThreads(n, 50_000)
		b.Run(fmt.Sprintf("threads=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			dir := b.TempDir()
			cpu := testkit.CPUTime()
			for b.Loop() {
				if err := postRun(context.Background(), t, dir); err != nil {
					b.Fatal(err)
				}
			}
			perEvent(b, len(t.Events), cpu)
		})
	}
}

// peakEnv makes the test binary a child that does one job on a trace and
// prints its peak resident memory: "validate", "report", "postrun" or
// "record".
const peakEnv = "GILTRACE_PEAK_JOB"

// TestPeakChild is the child of BenchmarkPeakMemory; it does nothing in a
// normal test run.
func TestPeakChild(t *testing.T) {
	job := os.Getenv(peakEnv)
	if job == "" {
		t.Skip("run by BenchmarkPeakMemory")
	}
	tr, err := tracer.ReadFile(os.Getenv(benchTraceEnv))
	if err != nil {
		t.Fatal(err)
	}
	if job != "validate" {
		// As the commands do before deriving: report after reading the
		// trace, record after its run (the reading's garbage, a streamed
		// trace's chunks of each thread, is not record's: its recorder's
		// buffers are freed there instead).
		tracer.FreeForAnalysis(analysisRoom(len(tr.Events)))
	}
	switch job {
	case "report":
		err = report.New(io.Discard, report.Text).Export(context.Background(), tracer.Derive(tr))
	case "postrun":
		err = postRun(context.Background(), tr, t.TempDir())
	case "record":
		err = postRunBySize(context.Background(), tr, t.TempDir())
	}
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("events %d peak %d\n", len(tr.Events), vmHWM(t))
}

// vmHWM is the process's peak resident set size in bytes.
func vmHWM(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// BenchmarkPeakMemory runs each job in a child process and reports its
// peak resident memory per event of the trace, and in MB. The target
// (issue 14): report and postrun at most 100 bytes per event + 50 MB.
func BenchmarkPeakMemory(b *testing.B) {
	path := benchTrace(b)
	for _, job := range []string{"validate", "report", "postrun", "record"} {
		b.Run(job, func(b *testing.B) {
			var events, peak int64
			start := time.Now()
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestPeakChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), peakEnv+"="+job, benchTraceEnv+"="+path)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%s: %v\n%s", job, err, out)
				}
				i := strings.Index(string(out), "events ")
				if i < 0 {
					b.Fatalf("%s: no figures in %s", job, out)
				}
				if _, err := fmt.Sscanf(string(out[i:]), "events %d peak %d", &events, &peak); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/float64(events), "peak-B/event")
			b.ReportMetric(float64(peak)/1e6, "peak-MB")
			b.ReportMetric(float64(peak-50e6)/float64(events), "B/event-over-50MB")
			b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/job")
		})
	}
}

// BenchmarkPostRunEach is each part of record's post-run work on its own,
// on one goroutine, on the trace BenchmarkPostRun uses: deriving the
// spans, writing the trace, the diagnosis, and each output written to
// io.Discard (no system calls), for the cost of each. The sweep of the
// locks' timelines that the diagnosis and the flame graph share
// (tracer.Spans.WaitedSums, computed once per Spans) is timed on its own,
// waited-sums, and is in neither's figure.
func BenchmarkPostRunEach(b *testing.B) {
	path := benchTrace(b)
	t, err := tracer.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	n := len(t.Events)
	b.Run("derive", func(b *testing.B) {
		cpu := testkit.CPUTime()
		for b.Loop() {
			tracer.Derive(t)
		}
		perEvent(b, n, cpu)
	})
	b.Run("trace", func(b *testing.B) {
		cpu := testkit.CPUTime()
		for b.Loop() {
			if err := tracer.Write(io.Discard, t); err != nil {
				b.Fatal(err)
			}
		}
		perEvent(b, n, cpu)
	})
	// The sums made once per run's spans, each on fresh spans (Derive
	// untimed): the waited sums alone, the sweep that pprof-blame and
	// WaitedSums share in record (PlanBlame), the state spans by key.
	for _, c := range []struct {
		name string
		plan bool
		sum  func(*tracer.Spans)
	}{
		{"waited-sums", false, func(s *tracer.Spans) { s.WaitedSums() }},
		{"blame-sums", true, func(s *tracer.Spans) { s.WaitedSums() }},
		{"state-sums", false, func(s *tracer.Spans) { s.StateSums() }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := tracer.Derive(t)
				if c.plan {
					pprof.PlanBlame(s)
				}
				b.StartTimer()
				c.sum(s)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/event")
		})
	}
	// The outputs below share one run's spans, as in record: the waited,
	// blame and state sums are made once, before them (waited-sums,
	// blame-sums and state-sums above measure them).
	r := newRun(t)
	pprof.PlanBlame(r.spans)
	r.spans.WaitedSums()
	r.spans.StateSums()
	b.Run("diagnosis", func(b *testing.B) {
		cpu := testkit.CPUTime()
		for b.Loop() {
			r.once = sync.Once{}
			r.diagnosis()
		}
		perEvent(b, n, cpu)
	})
	for _, o := range outputs() {
		b.Run(o.Name, func(b *testing.B) {
			cpu := testkit.CPUTime()
			for b.Loop() {
				if err := o.New(io.Discard, r).Export(context.Background(), r.spans); err != nil {
					b.Fatal(err)
				}
			}
			perEvent(b, n, cpu)
		})
	}
}
