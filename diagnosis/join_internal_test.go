package diagnosis

import (
	"os"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// joinWithoutHoldText is TestJoinWithoutHold's trace (joinlock_test.go).
func joinWithoutHoldText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/join-without-hold.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJoinWithoutHoldFlow: main's earliest end in the flow is the joined
// worker's earliest end (1 ms + 20 ms of work) and its 1 ms after the
// join, 22 ms, not the 101 ms it took; the bound TestJoinWithoutHold
// checks is another thread's and hides it.
func TestJoinWithoutHoldFlow(t *testing.T) {
	tr, err := tracer.ParseText(strings.NewReader(joinWithoutHoldText(t)))
	if err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	r := Analyze(s)
	a := newAnalysis(tr, s, &Report{})
	a.r = r
	f := a.flowOf()
	v, _ := f.end(0) // MainThread
	if v < 21e6 || v > 23e6 {
		t.Errorf("main's earliest end %.2f ms, want about 22 ms (the worker's 21 ms, then 1 ms)", float64(v)/1e6)
	}
	if js := f.joinedUnseen(0, &f.spans(0)[joinSpan(t, f)]); len(js) != 1 || js[0] != 1 {
		t.Errorf("joined %v, want [1] (W; B ended before the join's wait began)", js)
	}
}

// joinSpan is the index of main's wait on the join lock.
func joinSpan(t *testing.T, f *flow) int {
	t.Helper()
	for k, sp := range f.spans(0) {
		if sp.State == tracer.StateLockWait {
			return k
		}
	}
	t.Fatal("no lock wait of main")
	return 0
}
