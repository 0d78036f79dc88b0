package tracer_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestBlameSumsAreTheWalk: the blame of every lock swept along its
// timeline (BlameSums) is the blame walked wait by wait (BlameOf), key for
// key, with the sweep's table and past its bound; TotalBlameParts is
// BlameParts summed; WaitedSums after PlanBlameSums (from the same sweep)
// are those of their own sweep, and so they are when the parts are more
// than the plan's bound (then swept on their own).
func TestBlameSumsAreTheWalk(t *testing.T) {
	testBlameSums(t)
	defer tracer.SetSweepCells(0)()
	testBlameSums(t)
}

type blameKey struct {
	lock   tracer.LockID
	holder tracer.ThreadID
	stack  tracer.StackID
	state  tracer.State
	waiter tracer.ThreadID
}

func testBlameSums(t *testing.T) {
	cases := append(testkit.All(t),
		testkit.Case{Name: "turns", Trace: testkit.Turns(20_000)},
		testkit.Case{Name: "threads", Trace: testkit.CPUThreads(40, 300)},
		testkit.Case{Name: "webapp", Trace: testkit.WebApp(6, 200)},
	)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 300 { // events in any order: some locks are walked
		cases = append(cases, testkit.Case{Name: fmt.Sprintf("bytes-%d", i), Trace: testkit.RandomBytes(r, 200)})
	}
	swept, summed := 0, 0
	for _, c := range cases {
		s := tracer.Derive(c.Trace)
		parts := 0
		for i := range s.Waits {
			parts += s.BlameParts(&s.Waits[i])
		}
		if got := s.TotalBlameParts(); got != parts {
			t.Errorf("%s: TotalBlameParts %d, BlameParts summed %d", c.Name, got, parts)
		}
		s.PlanBlameSums(parts)
		sums, sw := s.BlameSums()
		got := map[blameKey][2]int64{}
		for _, x := range sums {
			k := blameKey{x.Lock, x.Holder, x.Stack, x.State, x.Waiter}
			if _, dup := got[k]; dup {
				t.Errorf("%s: %+v summed twice", c.Name, k)
			}
			if x.Parts <= 0 {
				t.Errorf("%s: %+v: %d parts", c.Name, k, x.Parts)
			}
			got[k] = [2]int64{x.Parts, x.Waited}
		}
		want := map[blameKey][2]int64{}
		for i := range s.Waits {
			w := &s.Waits[i]
			if int(w.Lock) >= len(sw) || !sw[w.Lock] {
				continue
			}
			for bl := range s.BlameOf(w) {
				if bl.End <= bl.Start {
					continue
				}
				k := blameKey{w.Lock, bl.Holder, bl.Stack, bl.State, w.Thread}
				if bl.Holder == tracer.NoThread {
					k.stack, k.state = tracer.NoStack, 0
				}
				v := want[k]
				want[k] = [2]int64{v[0] + 1, v[1] + bl.End - bl.Start}
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d keys swept, %d walked", c.Name, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %+v: swept %v, walked %v", c.Name, k, got[k], v)
			}
		}
		for l, ok := range sw {
			if ok {
				swept++
			} else if !strings.HasPrefix(c.Name, "bytes-") {
				t.Errorf("%s: lock %d not swept", c.Name, l)
			}
		}
		summed += len(sums)
		// WaitedSums from the sweep, against their own; and with too
		// many parts for the plan, their own.
		lean := tracer.Derive(c.Trace).WaitedSums()
		if fused := s.WaitedSums(); !slices.Equal(fused, lean) {
			t.Errorf("%s: WaitedSums from the blame sweep\n%+v\nwant\n%+v", c.Name, fused, lean)
		}
		if parts > 0 {
			// Past the plan's bound, WaitedSums sweeps on its own (the
			// sums are not made), and BlameSums still gives the sums.
			over := tracer.Derive(c.Trace)
			over.PlanBlameSums(parts - 1)
			if ws := over.WaitedSums(); !slices.Equal(ws, lean) {
				t.Errorf("%s: WaitedSums planned past the parts\n%+v\nwant\n%+v", c.Name, ws, lean)
			}
			if got, _ := over.BlameSums(); !slices.Equal(got, sums) {
				t.Errorf("%s: BlameSums after WaitedSums past the plan's bound differ", c.Name)
			}
		}
	}
	if swept == 0 || summed == 0 {
		t.Errorf("%d locks swept, %d sums", swept, summed)
	}
}

// TestStateSums: StateSums is the state spans summed by thread, state,
// stack and lock or I/O kind, by thread, then in the order each key first
// appears; its Lock and IOKind are the spans'.
func TestStateSums(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := append(testkit.All(t), testkit.Case{Name: "webapp", Trace: testkit.WebApp(6, 200)})
	for i := range 100 {
		cases = append(cases, testkit.Case{Name: fmt.Sprintf("bytes-%d", i), Trace: testkit.RandomBytes(r, 200)})
	}
	for _, c := range cases {
		s := tracer.Derive(c.Trace)
		type k struct {
			thread tracer.ThreadID
			state  tracer.State
			stack  tracer.StackID
			lock   tracer.LockID
			io     tracer.StringID
		}
		var want []tracer.StateSum
		var wantKeys []k
		index := map[k]int{}
		for _, sp := range s.States {
			key := k{sp.Thread, sp.State, sp.Stack, sp.Lock(), sp.IOKind()}
			i, ok := index[key]
			if !ok {
				i = len(want)
				index[key] = i
				want = append(want, tracer.StateSum{Thread: sp.Thread, State: sp.State, Stack: sp.Stack})
				wantKeys = append(wantKeys, key)
			}
			want[i].Spans++
			want[i].NS += sp.End - sp.Start
		}
		got := s.StateSums()
		if len(got) != len(want) {
			t.Fatalf("%s: %d sums, want %d", c.Name, len(got), len(want))
		}
		for i, x := range got {
			w, wk := want[i], wantKeys[i]
			if x.Thread != w.Thread || x.State != w.State || x.Stack != w.Stack || x.Spans != w.Spans || x.NS != w.NS || x.Lock() != wk.lock || x.IOKind() != wk.io {
				t.Fatalf("%s: sum %d: %+v (lock %d, I/O %d), want %+v (lock %d, I/O %d)", c.Name, i, x, x.Lock(), x.IOKind(), w, wk.lock, wk.io)
			}
		}
	}
}
