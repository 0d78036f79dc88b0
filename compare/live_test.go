package compare

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// fixtureVerdicts is the verdict each fixture must get (among others that
// may apply) when run live. ml-preprocessing is left out: when the machine
// is oversubscribed its Python glue is descheduled while holding the GIL,
// and the run really becomes gil-bound.
var fixtureVerdicts = map[string]string{
	"countdown":               diagnosis.GILBound,
	"countdown-legacy":        diagnosis.GILBound,
	"image-processing":        diagnosis.GILBound,
	"web-scraping":            diagnosis.Scales,
	"convoy":                  diagnosis.Convoy,
	"c-extension-holding-gil": diagnosis.GILHeldInNative,
	"lock-contention":         diagnosis.LockBound,
	"multiprocessing":         diagnosis.Scales,
	"free-threaded":           diagnosis.Scales,
}

// TestFixtureVerdictsLive runs every fixture on the VM and checks the
// report's verdict. The verdicts rest on what the VM lets threads do (the
// GIL, locks, I/O), not on how fast the machine is, so they hold on a busy
// machine; the test only needs time.
func TestFixtureVerdictsLive(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs every fixture on the VM (about 20 s of runs), not under -race")
	}
	lpm := vm.Calibrate()
	names := make([]string, 0, len(fixtureVerdicts))
	for n := range fixtureVerdicts {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			w, err := workload.Load(filepath.Join("..", "fixtures", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			// A busy machine can deschedule a thread that holds the GIL for
			// long enough to change a run; the verdict must hold in one of
			// three runs (a wrong rule fails all three).
			for attempt := 1; ; attempt++ {
				start := time.Now()
				tr, err := vm.Run(context.Background(), w, vm.Options{LoopsPerMS: lpm})
				if err != nil {
					t.Fatal(err)
				}
				r := diagnosis.Analyze(tracer.Derive(tr))
				var codes []string
				for _, v := range r.Verdicts {
					codes = append(codes, v.Code)
				}
				t.Logf("%s run %d in %v: %s", name, attempt, time.Since(start).Round(time.Millisecond), strings.Join(codes, ","))
				if slices.Contains(codes, fixtureVerdicts[name]) {
					return
				}
				for _, v := range r.Verdicts {
					t.Logf("%s: %s", v.Code, v.Text)
				}
				if attempt == 3 {
					var text strings.Builder
					report.WriteText(&text, r)
					t.Fatalf("%s: verdicts %v in 3 runs, want %s among them; the last report:\n%s", name, codes, fixtureVerdicts[name], text.String())
				}
			}
		})
	}
}

// TestCompareCountdownLive compares a short countdown as threads, processes
// and free-threaded. What the GIL allows is asserted from the traces (GIL
// wait, overlap, verdicts), which a busy machine does not change; the
// measured speedups are logged, as a busy 2-core machine makes them noise.
func TestCompareCountdownLive(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs the VM, not under -race")
	}
	path := filepath.Join(t.TempDir(), "countdown.yaml")
	src := "name: countdown-short\nthreads:\n  - name: counter\n    count: 2\n    run: countdown\nfunctions:\n  countdown:\n    - compute: 40ms\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := workload.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// What the GIL allows is exact, but a machine busy with other tests
	// can start one thread of a short run late and shrink its overlap: the
	// comparison must hold in one of eight runs, 2 s apart, so that a
	// burst of another package's tests passes (a clean-clone CI run at
	// 7666ba7: three runs back to back in 1.3 s, all at overlap
	// 1.49-1.50 beside the other packages' tests; alone it passes).
	var problems []string
	for attempt := 1; attempt <= 8; attempt++ {
		if attempt > 1 {
			time.Sleep(2 * time.Second)
		}
		if problems = compareCountdown(t, w); len(problems) == 0 {
			return
		}
		t.Logf("run %d: %s", attempt, strings.Join(problems, "; "))
	}
	t.Error(strings.Join(problems, "\n"))
}

// compareCountdown runs the comparison of w with 2 threads and returns what
// is wrong with it.
func compareCountdown(t *testing.T, w *workload.Workload) (problems []string) {
	t.Helper()
	dir := t.TempDir()
	res, err := Run(context.Background(), Options{Workload: w.Name, CallsPerThread: CallsPerThread(w), Threads: []int{2}, Dir: dir}, NewVMRunner(w, VMOptions{Clock: workload.ClockReal, Version: "test"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Charts() { // as the CLI writes them (atomically, there)
		var b bytes.Buffer
		if err := c.Write(&b); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.Name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var text strings.Builder
	res.WriteText(&text)
	t.Log("\n" + text.String())
	if len(res.Rows) != 6 {
		t.Fatalf("%d rows, want 6", len(res.Rows))
	}
	for _, row := range res.Rows {
		if _, err := os.Stat(row.Trace); err != nil {
			t.Errorf("%s-%d: trace not kept: %v", row.Mode, row.Threads, err)
		}
		if row.Threads != 2 {
			continue
		}
		switch row.Mode {
		case Threads:
			if row.GILWaitFraction < 0.25 || row.Overlap > 1.3 || !slices.Contains(row.Verdicts, diagnosis.GILBound) {
				problems = append(problems, fmt.Sprintf("threads-2: GIL wait %.2f, overlap %.2f, verdicts %v; want >= 0.25, <= 1.3, gil-bound", row.GILWaitFraction, row.Overlap, row.Verdicts))
			}
		default:
			if row.GILWaitFraction > 0.1 || row.Overlap < 1.5 || !slices.Contains(row.Verdicts, diagnosis.Scales) {
				problems = append(problems, fmt.Sprintf("%s-2: GIL wait %.2f, overlap %.2f, verdicts %v; want <= 0.1, >= 1.5, scales", row.Mode, row.GILWaitFraction, row.Overlap, row.Verdicts))
			}
		}
	}
	for _, f := range []string{"speedup.svg", "speedup.png", "overlap.svg", "overlap.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("chart %s not written: %v", f, err)
		}
	}
	return problems
}
