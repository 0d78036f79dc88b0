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
