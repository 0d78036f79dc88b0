package diagnosis_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/vm"
)

// TestThreadsOfOneFunctionClassifiedTogether is QA's file-reading with
// its parsing as long as its reads (compute: 8ms, as the fixture's comment
// suggests), in virtual time: four identical readers, whose reads took
// 313 to 330 ms (jitter) against 320 ms of parsing each. reader-4 was
// I/O-bound (51 %) and the other three CPU-bound, and the report gave a
// convoy of reader-4 behind them: "run the compute of reader-3, reader-1
// and reader-2 in processes ... keep the I/O in threads", with no word of
// a boundary. Threads of one function whose splits are that close are
// classified on their pooled work: the four alike, and the verdict is the
// saturated GIL's.
func TestThreadsOfOneFunctionClassifiedTogether(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "file-reading.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Replace(string(src), "compute: 1ms ", "compute: 8ms ", 1)
	if w == string(src) {
		t.Fatal("fixtures/file-reading.yaml has no `compute: 1ms ` to change")
	}
	w = strings.Replace(w, "threads:", "clock: virtual\nthreads:", 1)
	r := runWith(t, w, "cpython", vm.Options{})
	if v := verdict(r, diagnosis.Convoy); v != nil {
		t.Errorf("convoy among four identical threads: %s\n%s", v.Text, v.Advice)
	}
	if f := r.Procs[0].Fairness; f.CPUBoundThreads != 0 && f.CPUBoundThreads != 4 {
		t.Errorf("%d of the 4 readers CPU-bound: want all or none", f.CPUBoundThreads)
	}
	if !strings.Contains(r.VerdictCodes(), diagnosis.GILBound) {
		t.Errorf("verdicts %s, want gil-bound", r.VerdictCodes())
	}

}

// TestConvoyNearItsClassification: an I/O thread that is I/O-bound by
// 52.6 % of its work gets a convoy marked near the boundary, in the units
// of the sentence around it (QA: boundaries printed as raw ratios,
// "0.78434 against 0.75", among percentages).
func TestConvoyNearItsClassification(t *testing.T) {
	r := runWith(t, `name: cv
clock: virtual
threads:
  - {name: cpu, run: crunch}
  - {name: io, run: serve}
functions:
  crunch:
    - compute: 400ms
  serve:
    - repeat: {times: 20, body: [{io: 5ms}, {compute: 4500us}]}
`, "cpython", vm.Options{})
	v := verdict(r, diagnosis.Convoy)
	if v == nil || !v.NearBoundary || !strings.HasSuffix(v.Text, " Near the boundary (I/O share of io's work 52.6 % against 50 %): another run may not give this verdict.") {
		t.Errorf("verdicts %s, convoy %+v", r.VerdictCodes(), v)
	}
	var figures []string
	for _, b := range r.NearBoundary {
		figures = append(figures, b.Figures())
	}
	want := []string{"I/O share of io's work 52.6 % against 50 %", "without-GIL estimate / GIL ceiling 1.23x against 1.25x"}
	if strings.Join(figures, "; ") != strings.Join(want, "; ") {
		t.Errorf("near the boundary:\n got %q\nwant %q", figures, want)
	}
}
