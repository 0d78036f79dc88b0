package pprof

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestBlameSweepIsTheWalk: the blame of every lock swept along its
// timeline is the blame walked wait by wait (Spans.BlameOf), key for key,
// with its table and past its bound; blameParts is Spans.BlameParts
// summed.
func TestBlameSweepIsTheWalk(t *testing.T) {
	testBlameSweep(t)
	defer func(n int) { sweepCells = n }(sweepCells)
	sweepCells = 0
	testBlameSweep(t)
}

func testBlameSweep(t *testing.T) {
	cases := append(testkit.All(t),
		testkit.Case{Name: "turns", Trace: testkit.Turns(20_000)},
		testkit.Case{Name: "threads", Trace: testkit.CPUThreads(40, 300)},
		testkit.Case{Name: "webapp", Trace: testkit.WebApp(6, 200)},
	)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 300 { // events in any order: some locks are walked
		cases = append(cases, testkit.Case{Name: fmt.Sprintf("bytes-%d", i), Trace: testkit.RandomBytes(r, 200)})
	}
	swept := 0
	for _, c := range cases {
		s := tracer.Derive(c.Trace)
		parts := 0
		for i := range s.Waits {
			parts += s.BlameParts(&s.Waits[i])
		}
		if got := blameParts(s); got != parts {
			t.Errorf("%s: blameParts %d, BlameParts summed %d", c.Name, got, parts)
		}
		walked := newBuilder(c.Trace)
		for i := range s.Waits {
			w := &s.Waits[i]
			for bl := range s.BlameOf(w) {
				if bl.End <= bl.Start {
					continue
				}
				k := key{thread: bl.Holder, state: int32(bl.State), stack: bl.Stack, lock: walked.guestLock(w.Lock), waiter: w.Thread}
				if bl.Holder == tracer.NoThread {
					k.state, k.stack = stateHandoff, tracer.NoStack
				}
				walked.add(k, 1, bl.End-bl.Start)
			}
		}
		sw := newBuilder(c.Trace)
		for l := range c.Trace.Locks {
			if sw.blameSweep(s, tracer.LockID(l)) {
				swept++
				continue
			}
			if !strings.HasPrefix(c.Name, "bytes-") {
				t.Errorf("%s: lock %d not swept", c.Name, l)
			}
			for _, wi := range s.LockWaits(tracer.LockID(l)) { // walked, as blame does
				w := &s.Waits[wi]
				for bl := range s.BlameOf(w) {
					if bl.End <= bl.Start {
						continue
					}
					k := key{thread: bl.Holder, state: int32(bl.State), stack: bl.Stack, lock: sw.guestLock(w.Lock), waiter: w.Thread}
					if bl.Holder == tracer.NoThread {
						k.state, k.stack = stateHandoff, tracer.NoStack
					}
					sw.add(k, 1, bl.End-bl.Start)
				}
			}
		}
		want := map[key]value{}
		for i, k := range walked.keys.keys {
			want[k] = walked.vals[i]
		}
		if len(sw.keys.keys) != len(want) {
			t.Errorf("%s: %d keys swept, %d walked", c.Name, len(sw.keys.keys), len(want))
		}
		for i, k := range sw.keys.keys {
			if sw.vals[i] != want[k] {
				t.Errorf("%s: %+v: swept %+v, walked %+v", c.Name, k, sw.vals[i], want[k])
			}
		}
	}
	if swept == 0 {
		t.Error("no lock swept")
	}
}

// TestGallop: gallop gives sort.Search's answer from any hint.
func TestGallop(t *testing.T) {
	for n := range 40 {
		for answer := 0; answer <= n; answer++ {
			for hint := -1; hint <= n+1; hint++ {
				if got := gallop(n, hint, func(j int) bool { return j >= answer }); got != answer {
					t.Fatalf("n %d, hint %d: %d, want %d", n, hint, got, answer)
				}
			}
		}
	}
}

// TestKeyIndexRecent: the per-thread recent keys in front of keyIndex's
// table give every key the number the table gives it, whatever the order:
// threads that cycle through more keys than they keep, keys of no thread
// (NoThread, past maxRecentThreads), and enough keys to grow the table.
func TestKeyIndexRecent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var x keyIndex
	want := map[key]int{}
	for range 200_000 {
		k := key{thread: tracer.ThreadID(r.IntN(40)), state: int32(r.IntN(3)), stack: tracer.StackID(r.IntN(2 * recentKeys))}
		switch r.IntN(20) {
		case 0:
			k.thread = tracer.NoThread
		case 1:
			k.thread = maxRecentThreads + tracer.ThreadID(r.IntN(3))
		case 2:
			k.waiter = tracer.ThreadID(r.IntN(1000)) // many keys: the table grows
		}
		n, ok := want[k]
		if !ok {
			n = len(want)
			want[k] = n
		}
		i, added := x.index(k)
		if i != n || added == ok {
			t.Fatalf("index(%+v) = %d, %v; want %d, %v", k, i, added, n, !ok)
		}
	}
	if len(x.keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(x.keys), len(want))
	}
}
