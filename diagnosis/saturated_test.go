package diagnosis

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// webAppBeside is the web app of 8 handlers serving 50 requests each in
// process "web", from webAt, beside a process "batch" whose one thread
// computes from batchAt to batchEnd, on 4 cores: the web app's GIL is
// saturated, the batch's is not shared.
func webAppBeside(webAt, batchAt, batchEnd int64) *tracer.Trace {
	b := testkit.New("web-and-batch")
	b.Meta().Cores, b.Meta().GOMAXPROCS = 4, 4
	web := b.Process("web", 1)
	batch := b.Process("batch", 2)
	testkit.WebAppIn(b, web, 0, 8, 50, webAt)
	b.Thread(batch, "MainThread").Start(batchAt).Acquire(batchAt+1, 1, tracer.AcquireUncontended).Call(batchAt+2, b.Func("crunch", 30)).
		Return(batchEnd).Release(batchEnd+1, 1, tracer.ReleaseThreadEnd).End(batchEnd + 2)
	return b.Trace()
}

// TestSaturatedGILQuotesTheirOwnSpeedup: the gil-bound verdict's second
// wording (a GIL held 80 % of the wall or more, rule (b)) quotes the
// figures of the threads it speaks of, "the N threads" of the saturated
// GIL: their GIL's hold, the share of their work that needs it, their
// ceiling, estimate and achieved speedup; the run's achieved speedup only
// named as the run's, higher or lower with its cause, and the advice on
// their figures with the whole program's beside. It quoted the run's as
// theirs:
//   - the web app beside a batch process computing 200 ms: "The GIL was
//     held 100 % of the time and the 8 threads ...: the 43 % of their
//     work that needs the GIL ... caps them at 3.50x where the machine
//     could give 7.00x without a GIL; they achieved 3.48x", and "As
//     processes: an estimated 7.00x": the batch's compute counted as
//     their parallel work; they achieved 2.98x, capped at 3.00x (33 % of
//     their work needs the GIL).
//   - the batch computing 100 ms before the web app starts: "the 38 % ...
//     caps them at 3.25x where the machine could give 5.20x ...; they
//     achieved 2.59x": the 100 ms before them in their wall, and the
//     batch's work; they achieved 2.98x.
//
// Alone in the run (testkit.WebApp) the web app's figures are the run's,
// and the sentence and advice are as they were.
func TestSaturatedGILQuotesTheirOwnSpeedup(t *testing.T) {
	const head = "The GIL of web (pid 1) was held 100 % of its wall and its 8 threads spent 62 % of their time waiting for it: the 33 % of their work that needs the GIL (Python code) runs one thread at a time, which caps them at 3.00x where the machine could give 7.95x without a GIL; they achieved 2.98x."
	cases := []struct {
		name   string
		trace  func() *tracer.Trace
		text   string
		advice string
	}{{
		name:   "beside",
		trace:  func() *tracer.Trace { return webAppBeside(0, 0, 200*ms) },
		text:   head + " The run's 3.48x, in the Speedup section, is higher: it also counts the other threads' 200ms of compute as parallel work.",
		advice: "Move the Python compute out of the threads' way: into processes (ProcessPoolExecutor) or a native library that releases the GIL; keep the I/O in threads or asyncio. As processes: an estimated 7.95x on 4 cores for the 8 threads' own work (now 2.98x; the whole program: 7.00x as processes, 7.00x without a GIL, now 3.48x, the Speedup section). More threads will not help.",
	}, {
		name:   "after",
		trace:  func() *tracer.Trace { return webAppBeside(100*ms, 0, 100*ms) },
		text:   head + " The run's 2.59x, in the Speedup section, is lower: it is all the threads' work over the run's wall, which adds the other threads' 100ms of work and the 100ms of the run before they started.",
		advice: "Move the Python compute out of the threads' way: into processes (ProcessPoolExecutor) or a native library that releases the GIL; keep the I/O in threads or asyncio. As processes: an estimated 7.95x on 4 cores for the 8 threads' own work (now 2.98x; the whole program: 5.18x as processes, 5.18x without a GIL, now 2.59x, the Speedup section). More threads will not help.",
	}, {
		name:   "alone",
		trace:  func() *tracer.Trace { return testkit.WebApp(8, 50) },
		text:   "The GIL was held 100 % of the time and the 8 threads spent 62 % of their time waiting for it: the 33 % of their work that needs the GIL (Python code) runs one thread at a time, which caps them at 3.00x where the machine could give 5.94x without a GIL; they achieved 2.98x.",
		advice: "Move the Python compute out of the threads' way: into processes (ProcessPoolExecutor) or a native library that releases the GIL; keep the I/O in threads or asyncio. As processes: an estimated 5.94x on 2 cores (now 2.98x). More threads will not help.",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := c.trace()
			if err := tr.CheckValid(); err != nil {
				t.Fatalf("built trace is invalid: %v", err)
			}
			r := Analyze(tracer.Derive(tr))
			v := verdictOf(r, GILBound)
			if v == nil {
				t.Fatalf("verdicts %s, want gil-bound", r.VerdictCodes())
			}
			if v.Text != c.text {
				t.Errorf("text\n got %s\nwant %s", v.Text, c.text)
			}
			if v.Advice != c.advice {
				t.Errorf("advice\n got %s\nwant %s", v.Advice, c.advice)
			}
			if t.Failed() {
				t.Logf("speedup %+v, GIL held %v, work %+v", r.Speedup, r.GILHeldFraction, r.Work)
				for _, p := range r.Procs {
					t.Logf("%s: wall %d held %v", p.Name, p.WallNS, p.GILHeldFraction)
				}
			}
			if strings.Contains(v.Text, "  ") {
				t.Errorf("double space: %s", v.Text)
			}
		})
	}
}
