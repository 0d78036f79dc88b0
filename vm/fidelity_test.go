package vm

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestFidelity prints docs/fidelity.md's table: the classic experiments in
// virtual time and in real time on this machine. It is a measurement, not
// a check: run it with scripts/fidelity-virtual.sh (GILTRACE_FIDELITY=1).
func TestFidelity(t *testing.T) {
	if os.Getenv("GILTRACE_FIDELITY") == "" {
		t.Skip("a measurement: GILTRACE_FIDELITY=1 (scripts/fidelity-virtual.sh)")
	}
	cores := 2
	lpm := Calibrate()
	run := func(w *workload.Workload, o Options, virtual bool) (*tracer.Trace, *tracer.Spans) {
		if virtual {
			o.ClockMode, o.Cores = workload.ClockVirtual, cores
		} else {
			o.LoopsPerMS = lpm
		}
		tr, err := Run(context.Background(), w, o)
		if err != nil {
			t.Fatal(err)
		}
		return tr, tracer.Derive(tr)
	}
	rows := []struct {
		name string
		f    func(virtual bool) string
	}{
		{"countdown 2 x 200 ms: 2 threads / back to back (wall)", func(v bool) string {
			_, a := run(counters(2, 1, 200*time.Millisecond), Options{}, v)
			_, b := run(counters(1, 2, 200*time.Millisecond), Options{}, v)
			return fmt.Sprintf("%.3f", float64(wall(a))/float64(wall(b)))
		}},
		{"countdown 2 x 200 ms: 2 processes / back to back (wall)", func(v bool) string {
			_, a := run(counters(1, 1, 200*time.Millisecond), Options{Processes: 2}, v)
			_, b := run(counters(1, 2, 200*time.Millisecond), Options{}, v)
			return fmt.Sprintf("%.3f", float64(wall(a))/float64(wall(b)))
		}},
		{"convoy: I/O thread's median GIL re-acquire, 5 ms interval", func(v bool) string { return convoyMedian(run, 5*time.Millisecond, v) }},
		{"convoy: I/O thread's median GIL re-acquire, 1 ms interval", func(v bool) string { return convoyMedian(run, time.Millisecond, v) }},
		{"2 CPU-bound threads (500 ms each): handoffs per second", func(v bool) string {
			tr, s := run(counters(2, 1, 500*time.Millisecond), Options{}, v)
			n := 0
			for _, h := range s.Handoffs {
				if h.From != h.To {
					n++
				}
			}
			return fmt.Sprintf("%.0f", float64(n)/(float64(tr.Duration())/1e9))
		}},
		{"mixed 20 x (compute 2 ms + sleep 2 ms): speedup at 1/2/4/8 threads", func(v bool) string {
			return speedups(run, []int{1, 2, 4, 8}, []workload.Op{compute(2 * time.Millisecond), blockIO(2 * time.Millisecond)}, v)
		}},
		{"GIL-releasing native 5 x 20 ms: speedup at 1/2/4 threads", func(v bool) string {
			return speedups(run, []int{1, 2, 4}, []workload.Op{native(20*time.Millisecond, true)}, v)
		}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| experiment | virtual (%d simulated cores) | real (this machine) | CPython |\n|---|---|---|---|\n", cores)
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | scripts/fidelity.sh |\n", r.name, r.f(true), r.f(false))
	}
	t.Log("\n" + b.String())
}

// counters is n threads each running compute d, repeat times.
func counters(n, repeat int, d time.Duration) *workload.Workload {
	return &workload.Workload{Name: "countdown", Seed: 1,
		Functions: fns(map[string][]workload.Op{"count": {compute(d)}}),
		Threads:   []workload.ThreadGroup{{Name: "T", Count: n, Run: "count", Repeat: repeat}}}
}

type runFunc func(w *workload.Workload, o Options, virtual bool) (*tracer.Trace, *tracer.Spans)

func convoyMedian(run runFunc, interval time.Duration, virtual bool) string {
	w := &workload.Workload{Name: "convoy", Seed: 1,
		Functions: fns(map[string][]workload.Op{
			"crunch": {compute(500 * time.Millisecond)},
			"serve":  {{Kind: workload.OpRepeat, Times: 40, Body: []workload.Op{blockIO(time.Millisecond)}}},
		}),
		Threads: []workload.ThreadGroup{group("cpu", 1, "crunch"), group("io", 1, "serve")}}
	tr, s := run(w, Options{SwitchInterval: interval}, virtual)
	waits := ioWaits(tr, s, "io", "cpu")
	if len(waits) == 0 {
		return "no waits"
	}
	return time.Duration(waits[len(waits)/2]).Round(time.Microsecond).String()
}

// speedups is the throughput of n threads running body 5 or 20 times over
// one thread's, for each n.
func speedups(run runFunc, ns []int, body []workload.Op, virtual bool) string {
	times := 20
	if body[0].Kind == workload.OpNative {
		times = 5
	}
	var out []string
	var base float64
	for _, n := range ns {
		w := &workload.Workload{Name: "mixed", Seed: 1,
			Functions: fns(map[string][]workload.Op{"f": {{Kind: workload.OpRepeat, Times: times, Body: body}}}),
			Threads:   []workload.ThreadGroup{group("T", n, "f")}}
		tr, _ := run(w, Options{}, virtual)
		thr := float64(n) / float64(tr.Duration())
		if n == ns[0] {
			base = thr
		}
		out = append(out, fmt.Sprintf("%.2f", thr/base))
	}
	return strings.Join(out, " / ")
}
