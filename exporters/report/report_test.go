package report

import (
	"bytes"
	"context"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trace *tracer.Trace
	}{
		{"countdown", testkit.Countdown(20)},
		{"mixed", testkit.Mixed()},
		{"convoy", testkit.Convoy(5)},
		{"lock-bound", testkit.LockBound(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []struct {
				ext    string
				format Format
			}{{"txt", Text}, {"json", JSON}} {
				var buf bytes.Buffer
				if err := New(&buf, f.format).Export(context.Background(), tracer.Derive(tc.trace)); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "report-"+tc.name+"."+f.ext, buf.Bytes())
			}
		})
	}
}

// TestBusyMachineFlagged: a run short of CPU says so, with the figure, in
// the text and in the JSON; the speedup says it comes from the overlap.
func TestBusyMachineFlagged(t *testing.T) {
	tr := testkit.Countdown(20)
	tr.Meta.Extra = map[string]string{"cpu_ns": "50000000"} // about half of the 107 ms the threads wanted
	s := tracer.Derive(tr)
	var txt, js bytes.Buffer
	if err := New(&txt, Text).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := New(&js, JSON).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Warning: busy machine: the run obtained 47 % of the CPU time its threads wanted, up to what its cores could give (50.0ms of 107ms)", "achieved, from the trace's overlap"} {
		if !bytes.Contains(txt.Bytes(), []byte(want)) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	for _, want := range []string{`"busy_machine": true`, `"obtained_share": 0.467`, `"achieved_from": "overlap"`} {
		if !bytes.Contains(js.Bytes(), []byte(want)) {
			t.Errorf("JSON lacks %s", want)
		}
	}
}
