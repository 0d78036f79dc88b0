package diagnosis

import (
	"os"
	"strings"
	"testing"
	"time"

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
	if js, _ := f.joinedUnseen(0, &f.spans(0)[joinSpan(t, f)]); len(js) != 1 || js[0] != 1 {
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

// TestTimedJoinLoopFlow: a main thread joining W in a loop of timed waits
// (`while t.is_alive(): t.join(0.04)`: its first wait runs out at 41 ms,
// the second ends as W does) waits for W from its first wait: its earliest
// end is W's (1 ms + 20 ms of work), its 0.1 ms between the waits and its
// 1 ms after, about 22 ms, not the 42 ms of its first wait taken as long
// as it took. If its second wait is on another thread's join lock (it gave
// up on W and joined another), the first wait took its 40 ms.
func TestTimedJoinLoopFlow(t *testing.T) {
	b, err := os.ReadFile("testdata/join-timed.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		text     string
		min, max float64 // main's earliest end, ms
		joined   int     // threads the first wait joined
	}{
		{"loop", string(b), 21, 23, 1},
		{"gave up", gaveUp(string(b)), 41, 43, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := tracer.ParseText(strings.NewReader(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			s := tracer.Derive(tr)
			a := newAnalysis(tr, s, &Report{})
			a.r = Analyze(s)
			f := a.flowOf()
			if v, _ := f.end(0); float64(v)/1e6 < tc.min || float64(v)/1e6 > tc.max {
				t.Errorf("main's earliest end %.2f ms, want %v to %v ms", float64(v)/1e6, tc.min, tc.max)
			}
			if js, _ := f.joinedUnseen(0, &f.spans(0)[joinSpan(t, f)]); len(js) != tc.joined || len(js) == 1 && js[0] != 1 {
				t.Errorf("the first wait joined %v, want %d thread(s) (W)", js, tc.joined)
			}
		})
	}
}

// gaveUp is join-timed.txt with main's waits from 90.1 ms on the other
// join lock.
func gaveUp(text string) string {
	x := strings.Index(text, "90100000 0 lock-wait")
	return text[:x] + strings.ReplaceAll(text[x:], "0x7f23c0000b70", "0x7f23c0000c80")
}

// TestTimedJoinGivenUp: a timed join that ran out (join(0.01)), then the
// main thread's own work taking turns with W, then a join: the timed wait
// lasts at most its recorded 10 ms in the flow, so main's work overlaps
// W's without a GIL (review: with the wait taken for a join, that work
// went after W's end, "188ms at the earliest", 1.02x as processes, where
// the base gave 1.88x).
func TestTimedJoinGivenUp(t *testing.T) {
	b, err := os.ReadFile("testdata/join-timed-gave-up.txt")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracer.ParseText(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	if r.Speedup.AsProcesses < 1.7 || r.Speedup.Limit.NS > r.WallNS {
		t.Errorf("as processes %.2fx, bound %v (%s) in a wall of %v: want about 1.9x, within the wall", r.Speedup.AsProcesses, time.Duration(r.Speedup.Limit.NS), r.Speedup.Limit.Text, time.Duration(r.WallNS))
	}
}
