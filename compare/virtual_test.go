package compare

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestFixtureVerdictsVirtual is TestFixtureVerdictsLive in virtual time:
// one run each, exact, whatever the machine (fidelity: the same verdicts as
// real runs). ml-preprocessing is included: a simulated run is never
// descheduled while it holds the GIL.
func TestFixtureVerdictsVirtual(t *testing.T) {
	want := map[string]string{"ml-preprocessing": diagnosis.Scales}
	for n, v := range fixtureVerdicts {
		want[n] = v
	}
	for name, verdict := range want {
		t.Run(name, func(t *testing.T) {
			w, err := workload.Load(filepath.Join("..", "fixtures", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := vm.Run(context.Background(), w, vm.Options{ClockMode: workload.ClockVirtual})
			if err != nil {
				t.Fatal(err)
			}
			r := diagnosis.Analyze(tracer.Derive(tr))
			var codes []string
			for _, v := range r.Verdicts {
				codes = append(codes, v.Code)
			}
			if !slices.Contains(codes, verdict) {
				var text strings.Builder
				report.WriteText(&text, r)
				t.Errorf("%s in virtual time: verdicts %v, want %s among them\n%s", name, codes, verdict, text.String())
			}
		})
	}
}

// TestCompareVirtualScales: compare's default, virtual time on N simulated
// cores: processes and free-threaded scale N x exactly, threads under the
// GIL not at all, on every machine.
func TestCompareVirtualScales(t *testing.T) {
	w, err := workload.Parse("countdown.yaml", []byte("name: countdown-short\nthreads:\n  - name: counter\n    run: countdown\nfunctions:\n  countdown:\n    - compute: 40ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 8, 64} {
		res, err := Run(context.Background(), Options{Workload: w.Name, CallsPerThread: CallsPerThread(w), Threads: []int{n}},
			NewVMRunner(w, VMOptions{Cores: n, Version: "test"}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Cores != n || res.Clock != "virtual" {
			t.Errorf("result on %d cores, clock %q, want %d, virtual", res.Cores, res.Clock, n)
		}
		var text strings.Builder
		if err := res.WriteText(&text); err != nil || !strings.Contains(text.String(), "simulated cores (virtual time)") {
			t.Errorf("table does not say it was simulated (%v):\n%s", err, text.String())
		}
		for _, row := range res.Rows {
			if row.Threads != n {
				continue
			}
			want := float64(n)
			if row.Mode == Threads {
				want = 1
			}
			t.Logf("%s-%d on %d cores: speedup %.3f", row.Mode, n, n, row.Speedup)
			if row.Speedup < want*0.95 || row.Speedup > want*1.05 {
				t.Errorf("%s-%d on %d cores: speedup %.3f, want %.0f +- 5 %%", row.Mode, n, n, row.Speedup, want)
			}
		}
	}
}

// TestCompareLegacyNoSwitchInterval: the legacy GIL has no switch
// interval, so its rows have none (0, "-" in the table), as free-threaded
// rows, rather than the 5ms default recorded in its traces' metadata.
func TestCompareLegacyNoSwitchInterval(t *testing.T) {
	w, err := workload.Parse("legacy.yaml", []byte("name: legacy-short\ngil: {mode: legacy, check_interval: 100}\nthreads:\n  - name: counter\n    run: countdown\nfunctions:\n  countdown:\n    - compute: 10ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Workload: w.Name, CallsPerThread: CallsPerThread(w), Threads: []int{2}, Modes: []string{Threads, Processes}},
		NewVMRunner(w, VMOptions{Cores: 2, Version: "test"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		if r.SwitchIntervalNS != 0 {
			t.Errorf("legacy row %s-%d: switch_interval_ns %d, want 0 (none)", r.Mode, r.Threads, r.SwitchIntervalNS)
		}
	}
	var text strings.Builder
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "5ms") {
		t.Errorf("legacy table shows a switch interval:\n%s", text.String())
	}
}

// TestCompareWorkloadCores: without --cores, compare simulates the
// workload's cores: as record does (QA: a workload of cores: 3 was
// compared on this machine's cores); --cores wins over it.
func TestCompareWorkloadCores(t *testing.T) {
	w := &workload.Workload{Name: "c", Cores: 3}
	for _, tc := range []struct {
		o    VMOptions
		want int
	}{{VMOptions{}, 3}, {VMOptions{Cores: 5}, 5}} {
		if got := tc.o.variant(w, Variant{Mode: Threads, Threads: 2}, 0).Cores; got != tc.want {
			t.Errorf("options %+v: %d simulated cores, want %d", tc.o, got, tc.want)
		}
	}
}

// TestCallsOfAStarter: a group that starts others keeps its count at
// every size, so its calls are not the unit of throughput: main starting
// N workers of 3 calls each makes 3N calls (QA: it counted N calls of
// main too), and the speedup is the same either way.
func TestCallsOfAStarter(t *testing.T) {
	w, err := workload.Parse("starter.yaml", []byte(`
name: starter
functions:
  main:
    - start: workers
    - join: workers
  work:
    - compute: 1ms
threads:
  - name: main
    run: main
  - name: workers
    count: 2
    run: work
    repeat: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := CallsPerThread(w); got != 3 {
		t.Fatalf("CallsPerThread = %d, want 3 (the workers' repeat)", got)
	}
	res, err := Run(context.Background(), Options{Workload: w.Name, CallsPerThread: CallsPerThread(w), Threads: []int{1, 2}, Modes: []string{Threads, Processes}},
		NewVMRunner(w, VMOptions{Cores: 4, Version: "test"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range res.Rows {
		if row.Calls != 3*row.Threads {
			t.Errorf("%s %d: %d calls, want %d", row.Mode, row.Threads, row.Calls, 3*row.Threads)
		}
	}
}

// TestCallsOfADaemon: a daemon group's calls are not counted beside
// groups that are not daemons: it is stopped when they end, its calls not
// all made (QA: a heartbeat of repeat 100000 beside two 50 ms workers,
// 1992827 calls/s); a workload whose only group that scales is a daemon
// counts it.
func TestCallsOfADaemon(t *testing.T) {
	w, err := workload.Parse("daemon.yaml", []byte(`
name: daemon
functions:
  work: [{compute: 50ms}]
  beat: [{sleep: 5ms}]
threads:
  - {name: w, count: 2, run: work}
  - {name: hb, run: beat, repeat: 100000, daemon: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := CallsPerThread(w); got != 1 {
		t.Errorf("CallsPerThread = %d, want 1 (a worker's call, not the daemon's)", got)
	}
	w, err = workload.Parse("daemons.yaml", []byte(`
name: daemons
functions:
  main: [{start: hb}, {sleep: 20ms}]
  beat: [{sleep: 5ms}]
threads:
  - {name: main, run: main}
  - {name: hb, run: beat, repeat: 3, daemon: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := CallsPerThread(w); got != 3 {
		t.Errorf("CallsPerThread = %d, want 3 (the daemon, the only group that scales)", got)
	}
}
