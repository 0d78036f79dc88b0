package tracer_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// naiveBlame is the blame walk before timelines: every hold of the wait's
// lock during the wait, split by the holder's state spans, and the gaps.
func naiveBlame(s *tracer.Spans, w *tracer.Wait) []tracer.Blame {
	var out []tracer.Blame
	at := w.Start
	for _, h := range s.Holds {
		if h.Lock != w.Lock || h.End <= w.Start || h.Start >= w.End || h.End <= h.Start {
			continue
		}
		if h.Start > at {
			out = append(out, tracer.Blame{Holder: tracer.NoThread, Start: at, End: h.Start})
			at = h.Start
		}
		end := min(h.End, w.End)
		spans := s.ThreadStates(h.Thread)
		k := sort.Search(len(spans), func(j int) bool { return spans[j].End > at })
		for ; k < len(spans) && at < end && spans[k].Start < end; k++ {
			e := min(spans[k].End, end)
			out = append(out, tracer.Blame{Holder: h.Thread, Stack: spans[k].Stack, State: spans[k].State, Start: max(at, spans[k].Start), End: e})
			at = e
		}
		if at < end {
			out = append(out, tracer.Blame{Holder: h.Thread, State: tracer.StateRunning, Start: at, End: end})
			at = end
		}
	}
	if at < w.End {
		out = append(out, tracer.Blame{Holder: tracer.NoThread, Start: at, End: w.End})
	}
	return out
}

// waitedKey is a holder key of a lock's waiting: the lock, the holder, its
// stack and its state.
type waitedKey struct {
	lock   tracer.LockID
	holder tracer.ThreadID
	stack  tracer.StackID
	state  tracer.State
}

// TestBlameTimeline checks BlameOf against the naive walk, and Waited
// against the sum of every wait's parts, on the scenarios.
func TestBlameTimeline(t *testing.T) {
	traces := map[string]*tracer.Trace{}
	for _, sc := range testkit.All(t) {
		traces[sc.Name] = sc.Trace
	}
	traces["cpu-16"] = testkit.CPUThreads(16, 50)
	traces["web-app"] = testkit.WebApp(8, 10)
	traces["many"] = testkit.CPUThreads(200, 400)
	for name, tr := range traces {
		t.Run(name, func(t *testing.T) {
			s := tracer.Derive(tr)
			want := map[waitedKey]int64{}
			for i := range s.Waits {
				w := &s.Waits[i]
				var got []tracer.Blame
				for b := range s.BlameOf(w) {
					got = append(got, b)
				}
				exp := naiveBlame(s, w)
				if fmt.Sprint(got) != fmt.Sprint(exp) {
					t.Fatalf("wait %+v:\n got %v\nwant %v", w, got, exp)
				}
				if n := s.BlameParts(w); n < 1 || n-1 > len(got) {
					t.Errorf("wait %+v: BlameParts %d, %d parts", w, n, len(got))
				}
				var held int64
				byHolder := map[tracer.ThreadID]int64{}
				for _, b := range got {
					if b.Holder != tracer.NoThread {
						held += b.End - b.Start
						byHolder[b.Holder] += b.End - b.Start
					}
				}
				during := map[tracer.ThreadID]int64{}
				for id, ns := range s.HeldDuring(w) {
					during[id] += ns
				}
				for id, ns := range byHolder {
					if ns == 0 {
						delete(byHolder, id)
					}
				}
				if fmt.Sprint(during) != fmt.Sprint(byHolder) {
					t.Errorf("wait %+v: HeldDuring %v, BlameOf by holder %v", w, during, byHolder)
				}
				if h := s.Held(w); h != held {
					t.Errorf("wait %+v: Held %d, parts held %d", w, h, held)
				}
				for _, b := range got {
					if b.Holder != tracer.NoThread {
						want[waitedKey{w.Lock, b.Holder, b.Stack, b.State}] += b.End - b.Start
					}
				}
			}
			n := 0
			for l := range tr.Locks {
				for wi, held := range s.HeldEach(tracer.LockID(l)) {
					if h := s.Held(&s.Waits[wi]); h != held {
						t.Errorf("wait %+v: HeldEach %d, Held %d", s.Waits[wi], held, h)
					}
					n++
				}
			}
			if n != len(s.Waits) {
				t.Errorf("HeldEach yielded %d waits of %d", n, len(s.Waits))
			}
			got := map[waitedKey]int64{}
			for l := range tr.Locks {
				for b, waited := range s.Waited(tracer.LockID(l)) {
					if b.Holder != tracer.NoThread && waited != 0 {
						got[waitedKey{tracer.LockID(l), b.Holder, b.Stack, b.State}] += waited
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Waited by holder:\n got %v\nwant %v", got, want)
			}
			checkWaitedSums(t, s, func(l tracer.LockID, h tracer.ThreadID, st tracer.StackID, state tracer.State) int64 {
				return want[waitedKey{l, h, st, state}]
			}, len(want))
		})
	}
}

// checkWaitedSums checks s.WaitedSums against want (the naive sum of the
// parts of every wait, n keys of it): the same sums, each key once, in
// order, and the same slice from a second call.
func checkWaitedSums(t *testing.T, s *tracer.Spans, want func(tracer.LockID, tracer.ThreadID, tracer.StackID, tracer.State) int64, n int) {
	t.Helper()
	sums := s.WaitedSums()
	if len(sums) != n {
		t.Errorf("WaitedSums: %d keys, want %d", len(sums), n)
	}
	for i, w := range sums {
		if exp := want(w.Lock, w.Holder, w.Stack, w.State); w.Waited != exp || w.Segments < 1 {
			t.Errorf("WaitedSums %+v: want %d ns", w, exp)
		}
		if i > 0 {
			p := sums[i-1]
			if [4]uint64{uint64(p.Lock), uint64(p.Holder), uint64(p.Stack), uint64(p.State)} == [4]uint64{uint64(w.Lock), uint64(w.Holder), uint64(w.Stack), uint64(w.State)} ||
				p.Lock > w.Lock || p.Lock == w.Lock && (p.Holder > w.Holder || p.Holder == w.Holder && (p.Stack > w.Stack || p.Stack == w.Stack && p.State > w.State)) {
				t.Errorf("WaitedSums out of order: %+v then %+v", p, w)
			}
		}
	}
	if again := s.WaitedSums(); len(again) > 0 && &again[0] != &sums[0] {
		t.Error("WaitedSums computed twice")
	}
}

// TestHeldEachAnyEvents: HeldEach is Held for every wait, whatever the
// order of the events (holds that overlap are searched one by one).
func TestHeldEachAnyEvents(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 300 {
		data := make([]byte, 3*r.IntN(200))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		tr := testkit.FromBytes(data)
		s := tracer.Derive(tr)
		for l := range tr.Locks {
			for wi, held := range s.HeldEach(tracer.LockID(l)) {
				if h := s.Held(&s.Waits[wi]); h != held {
					t.Fatalf("events %v, wait %+v: HeldEach %d, Held %d", data, s.Waits[wi], held, h)
				}
			}
		}
		for i := range s.Waits { // HeldDuring: within the wait, whatever the events
			w := &s.Waits[i]
			var sum int64
			for _, ns := range s.HeldDuring(w) {
				if ns <= 0 {
					t.Fatalf("events %v, wait %+v: HeldDuring yielded %d", data, w, ns)
				}
				sum += ns
			}
			if sum > max(w.End-w.Start, 0) {
				t.Fatalf("events %v, wait %+v: HeldDuring %d in all", data, w, sum)
			}
		}
		want := map[waitedKey]int64{}
		for l := range tr.Locks {
			for b, waited := range s.Waited(tracer.LockID(l)) {
				if b.Holder != tracer.NoThread && waited > 0 {
					want[waitedKey{tracer.LockID(l), b.Holder, b.Stack, b.State}] += waited
				}
			}
		}
		checkWaitedSums(t, s, func(l tracer.LockID, h tracer.ThreadID, st tracer.StackID, state tracer.State) int64 {
			return want[waitedKey{l, h, st, state}]
		}, len(want))
	}
}
