package diagnosis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestScalesAsProcessesKeepsThem: a program of processes whose work is
// mostly I/O scales; its advice keeps the processes (threads would put
// its compute back under one GIL) instead of calling threads the right
// tool, as it did when its I/O share passed half.
func TestScalesAsProcessesKeepsThem(t *testing.T) {
	w, err := workload.Parse("procs.yaml", []byte(`name: procs
clock: virtual
processes: 2
threads:
  - {name: worker, count: 2, run: work}
functions:
  work:
    - repeat: {times: 20, body: [{compute: 1ms}, {io: 3ms}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := vm.Run(context.Background(), w, vm.Options{Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := diagnosis.Analyze(tracer.Derive(tr))
	if r.Work.SerialShare >= 0.5 {
		t.Fatalf("serial share %.2f: the case wants mostly I/O", r.Work.SerialShare)
	}
	found := false
	for _, v := range r.Verdicts {
		if v.Code != diagnosis.Scales {
			continue
		}
		found = true
		if strings.Contains(v.Advice, "Threads are the right tool") || !strings.Contains(v.Advice, "Keep this design") {
			t.Errorf("advice for a program of processes: %s", v.Advice)
		}
		if !strings.Contains(v.Text, "2 processes") {
			t.Errorf("text: %s", v.Text)
		}
	}
	if !found {
		t.Errorf("verdicts %s, want scales", r.VerdictCodes())
	}
}

// TestGILBoundBesideASleeper: two CPU-bound threads taking turns on the
// GIL are gil-bound even beside a thread that sleeps through the run (a
// heartbeat): its sleep made the run's work look parallel enough that the
// run's GIL ceiling met its without-GIL estimate, and the verdict said
// that no threshold was reached.
func TestGILBoundBesideASleeper(t *testing.T) {
	for _, ticker := range []bool{false, true} {
		src := `name: heartbeat
clock: virtual
threads:
  - {name: cpu, count: 2, run: crunch}
`
		if ticker {
			src += "  - {name: ticker, run: tick}\n"
		}
		src += `functions:
  crunch:
    - compute: 300ms
  tick:
    - repeat: {times: 60, body: [{sleep: 10ms}]}
`
		w, err := workload.Parse("heartbeat.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := vm.Run(context.Background(), w, vm.Options{Cores: 2})
		if err != nil {
			t.Fatal(err)
		}
		r := diagnosis.Analyze(tracer.Derive(tr))
		if !strings.Contains(r.VerdictCodes(), diagnosis.GILBound) {
			t.Errorf("ticker %v: verdicts %q, want gil-bound among them (achieved %.2fx, GIL ceiling %.2fx, without a GIL %.2fx)",
				ticker, r.VerdictCodes(), r.Speedup.Achieved, r.Speedup.GILCeiling, r.Speedup.WithoutGIL)
		}
		for _, v := range r.Verdicts {
			// Their own work: 1.00x achieved, 2.00x as processes.
			if v.Code == diagnosis.GILBound && (!strings.Contains(v.Advice, "Move the compute to processes") || !strings.Contains(v.Text, "ran 1.00x as fast")) {
				t.Errorf("ticker %v: %s\n%s", ticker, v.Text, v.Advice)
			}
		}
	}
}
