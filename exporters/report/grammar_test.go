package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// virtualText runs workload src in virtual time with o and renders its
// report as text.
func virtualText(t *testing.T, src string, o vm.Options) string {
	t.Helper()
	w, err := workload.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := vm.Run(context.Background(), w, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := New(&buf, Text).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestReportGrammar: the QA's list of sentences that read wrong, each on
// the run that printed it: a one-thread run on one core ("on 1 simulated
// cores", "1 were taken at 1 function line", "longest GIL wait: <1us ...
// at 0ns", "measured: not known (no one-thread run ...)"), a free-threaded
// run (a "native+GIL" column of zeros), and two threads whose fairness
// counts differ from the threads table's with no word of why.
func TestReportGrammar(t *testing.T) {
	const one = `name: one
clock: virtual
cores: 1
threads:
  - {name: w, run: f}
functions:
  f:
    - compute: 10ms
`
	text := virtualText(t, one, vm.Options{})
	for _, c := range []struct {
		want, not string
	}{
		{"on 1 simulated core, seed", "on 1 simulated cores"},
		{"1 was taken at 1 function line that held it under 1us", "1 were taken"},
		{"    longest GIL wait: under 1us (every thread took the GIL at once)\n", "<1us by"},
		{"  simulated: this run is the one-thread run\n", "no one-thread run"},
		{"estimated on 1 core, with the same threads", "1 cores"},
	} {
		if !strings.Contains(text, c.want) || strings.Contains(text, c.not) {
			t.Errorf("one thread: want %q, not %q:\n%s", c.want, c.not, text)
		}
	}

	const two = `name: two
clock: virtual
gil: {mode: MODE}
threads:
  - {name: w, count: 2, run: f}
functions:
  f:
    - compute: 50ms
`
	text = virtualText(t, strings.Replace(two, "MODE", "none", 1), vm.Options{})
	if strings.Contains(text, "native+GIL") {
		t.Errorf("free-threaded: a native+GIL column:\n%s", text)
	}
	text = virtualText(t, strings.Replace(two, "MODE", "cpython", 1), vm.Options{})
	if !strings.Contains(text, "native+GIL") {
		t.Errorf("with a GIL: no native+GIL column:\n%s", text)
	}
	// The first thread takes the GIL alone before the second starts: that
	// acquisition is in the table, not in the fairness counts.
	if !strings.Contains(text, "(of their 20 in the threads table: the other one came when no other of them wanted the GIL)") {
		t.Errorf("fairness counts against the threads table:\n%s", text)
	}
}

// TestNoGILCeilingWithoutAGIL: a free-threaded run's Speedup section gives
// no GIL ceiling (QA: "ceiling for 16 threads: GIL 10.42x" on a run with
// no GIL); a run with one does.
func TestNoGILCeilingWithoutAGIL(t *testing.T) {
	for _, mode := range []string{"none", "cpython"} {
		r := &diagnosis.Report{Summary: diagnosis.Summary{GILMode: mode, WallNS: 1e9}, Speedup: diagnosis.Speedup{Threads: 16, Cores: 2, GILCeiling: 10.42, AmdahlLaw: 16}}
		var b strings.Builder
		writeSpeedup(&b, r)
		gil := strings.Contains(b.String(), "GIL 10.42x")
		if mode == "none" && (gil || !strings.Contains(b.String(), "none from a GIL (free-threaded)")) || mode == "cpython" && !gil {
			t.Errorf("GIL mode %s:\n%s", mode, b.String())
		}
	}
}
