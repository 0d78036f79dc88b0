package diagnosis

import (
	"os"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// TestStoppedRunOpenWait: in a run giltrace stopped, a thread whose last
// span is a wait for a lock that never ended (the program was killed while
// its main thread joined two CPU-bound workers, a lock the trace does not
// name as a join) waits, in the flow, for the other threads of its process
// alive when it began, not for the whole of its recorded wait (QA: "the
// whole program would not end sooner: 1.01x as processes ... bounded by
// MainThread" beside a what-if of 1.90x). The workers did 98 and 100 ms
// of work: main's earliest end is W2's, about 101 ms, not
// the 200 ms of the run.
func TestStoppedRunOpenWait(t *testing.T) {
	b, err := os.ReadFile("testdata/stopped-join.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, stopped := range []bool{true, false} {
		text := string(b)
		if !stopped {
			text = strings.Replace(text, "meta extra \"stopped\" \"killed\"\n", "", 1)
		}
		tr, err := tracer.ParseText(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		s := tracer.Derive(tr)
		a := newAnalysis(tr, s, &Report{})
		a.r = Analyze(s)
		v, _ := a.flowOf().end(0)
		if stopped && (v < 100.5e6 || v > 102e6) {
			t.Errorf("stopped run: main's earliest end %.2f ms, want about 101 ms (W2's, from its reachable start)", float64(v)/1e6)
		}
		if !stopped && v < 199e6 {
			t.Errorf("a run not stopped: main's earliest end %.2f ms, want its recorded 200 ms (a wait that lasted as long as it did)", float64(v)/1e6)
		}
	}
}
