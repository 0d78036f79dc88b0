package tracer

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSequentialAsMerged: a sequential recorder (Config.Sequential), fed
// its threads' events in turns as a virtual run does, nearly in time
// order (simultaneous events of several threads in any order, a thread
// now and then running ahead), gives the trace a recorder that merges
// gives, whether its log is gathered or, too far from the trace's order,
// merged; with several chunks per thread and per log, and with events
// dropped at the bound. Both ways are taken, and gather alone puts each
// event where mergeEvents does.
func TestSequentialAsMerged(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	kinds := []Kind{KindLockRelease, KindLockAcquire, KindLockWait, KindDropRequest, KindCallEnter, KindCallExit}
	gathered, merged := 0, 0
	for round := range 400 {
		threads := 1 + r.IntN(12)
		n := r.IntN(3000)
		if round%50 == 0 {
			n = 40_000 + r.IntN(20_000) // past a log chunk and a thread's first chunks
		}
		ahead := 0.0 // the chance that an event runs ahead of the others
		if round%3 == 0 {
			ahead = []float64{0.001, 0.01, 0.2}[r.IntN(3)]
		}
		max := 0
		if round%7 == 0 {
			max = 1 + r.IntN(n+1) // events dropped at the bound
		}
		seq := NewRecorder(Config{Sequential: true, MaxEvents: max})
		mer := NewRecorder(Config{MaxEvents: max})
		var sb, mb []*Buffer
		for range threads {
			sb = append(sb, seq.NewThread("t", 0))
			mb = append(mb, mer.NewThread("t", 0))
		}
		now := int64(0)
		for i := range n {
			th := r.IntN(threads)
			if r.IntN(4) != 0 {
				now += int64(r.IntN(20)) // else simultaneous with the last
			}
			tm := now
			if r.Float64() < ahead {
				tm += int64(r.IntN(5000))
			}
			k := kinds[r.IntN(len(kinds))]
			got := sb[th].Emit(tm, k, NoStack, uint64(i))
			if want := mb[th].Emit(tm, k, NoStack, uint64(i)); got != want {
				t.Fatalf("round %d: Emit returned %d, %d merging", round, got, want)
			}
		}
		var seqs [][][]Event
		for _, b := range sb {
			seqs = append(seqs, b.sequence())
		}
		out := make([]Event, countEvents(seqs))
		if seq.order.gather(out, seqs) {
			gathered++
			if !slices.Equal(out, mergeEvents(seqs)) {
				t.Fatalf("round %d: gather's order differs from the merge's", round)
			}
		} else {
			merged++
		}
		got, want := seq.Finish(Meta{}), mer.Finish(Meta{})
		if !slices.Equal(got.Events, want.Events) || got.Dropped != want.Dropped {
			t.Fatalf("round %d (%d threads, %d events, ahead %v, bound %d): the sequential recorder's trace differs from the merged one (%d/%d events, dropped %d/%d)",
				round, threads, n, ahead, max, len(got.Events), len(want.Events), got.Dropped, want.Dropped)
		}
		seq.recycle()
		mer.recycle()
	}
	if gathered < 150 || merged < 20 {
		t.Fatalf("gathered %d runs and merged %d: both ways should be taken", gathered, merged)
	}
}

// TestOrderLogOff: without Config.Sequential, nothing is logged and the
// buffers are merged.
func TestOrderLogOff(t *testing.T) {
	r := NewRecorder(Config{})
	b := r.NewThread("t", 0)
	b.Emit(1, KindCallEnter, NoStack, 0)
	if r.order.len() != 0 || r.order.gather(make([]Event, 1), [][][]Event{{b.cur}}) {
		t.Fatal("a recorder that is not sequential logged its events")
	}
}

// TestGatherSetsAsideFarEvents: threads that start together, as a
// virtual run's 1 024 threads do: thread k's start (time 0) is logged
// after the lock events of the k threads before it (times 1 to k), far
// further back than gatherWindow. gather sets those aside and merges
// them in (it had moved each back, past its budget, and the trace was
// merged instead): the same order as the merge, at every count of
// threads around the window and the bound of events set aside.
func TestGatherSetsAsideFarEvents(t *testing.T) {
	for _, threads := range []int{2, gatherWindow, gatherWindow + 2, 300, 1024} {
		for _, after := range []int{0, 10, 10_000} { // events after the start, the GIL's holder's
			r := NewRecorder(Config{Sequential: true, MaxEvents: 1 << 30})
			var bufs []*Buffer
			for range threads {
				bufs = append(bufs, r.NewThread("t", 0))
			}
			lockT := int64(0)
			for _, b := range bufs {
				b.Emit(0, KindThreadStart, NoStack, 0)
				lockT++
				b.Emit(lockT, KindLockWait, NoStack, 0)
			}
			for i := range after {
				bufs[0].Emit(lockT+1+int64(i), KindCallEnter, NoStack, 0)
			}
			var seqs [][][]Event
			for _, b := range bufs {
				seqs = append(seqs, b.sequence())
			}
			out := make([]Event, countEvents(seqs))
			want := mergeEvents(seqs)
			ok := r.order.gather(out, seqs)
			// Thread k's start goes back k places, past the lock events
			// of those before it: beyond the window it is set aside. In
			// a long run (after) that is a few of its events: gathered.
			if after == 10_000 && !ok {
				t.Fatalf("%d threads, %d events after: not gathered", threads, after)
			}
			if ok && !slices.Equal(out, want) {
				t.Fatalf("%d threads, %d events after: gather's order differs from the merge's", threads, after)
			}
		}
	}
}
