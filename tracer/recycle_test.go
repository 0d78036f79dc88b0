package tracer

import (
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
)

// recordRun records threads x n events of a run numbered run (its events'
// args say which run wrote them) and finishes it.
func recordRun(cfg Config, run, threads, n int) *Trace {
	r := NewRecorder(cfg)
	p := r.AddProcess("p", 1)
	var bufs []*Buffer
	for range threads {
		bufs = append(bufs, r.NewThread("t", p))
	}
	for i := range n {
		for j, b := range bufs {
			b.Emit(int64(i*threads+j), KindCallEnter, NoStack, uint64(run)<<32|uint64(i))
		}
	}
	t := r.Finish(Meta{})
	r.recycle()
	return t
}

// TestRecycledChunks: a run's chunks and slabs, given back once finished, are
// taken by the next run's recorder, whose trace is the same as with fresh
// arrays; the first trace is untouched by the run that reuses its chunks;
// a streamed recorder keeps its arrays.
func TestRecycledChunks(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // the pools keep what they hold until a collection
	for _, huge := range []bool{false, true} {
		cfg := Config{HugePages: huge}
		emptyPools() // fresh arrays
		want := recordRun(cfg, 2, 3, 5000)
		first := recordRun(cfg, 1, 4, 70_000) // full-size chunks and slabs
		firstEvents := slices.Clone(first.Events)
		// Under the race detector the pool may drop what it is given.
		if _, reused := takeEvents(firstChunkEvents); !reused && !raceEnabled {
			t.Fatalf("huge %v: no array given back after Finish", huge)
		}
		got := recordRun(cfg, 2, 3, 5000)
		if !slices.Equal(got.Events, want.Events) {
			t.Errorf("huge %v: a run on recycled arrays differs from one on fresh arrays", huge)
		}
		if !slices.Equal(first.Events, firstEvents) {
			t.Errorf("huge %v: the first trace changed when its arrays were reused", huge)
		}
		for _, e := range got.Events {
			if e.Arg>>32 != 2 {
				t.Fatalf("huge %v: an event of another run in the trace: %+v", huge, e)
			}
		}
	}

	// A streamed recorder's arrays stay with it.
	emptyPools()
	r := NewRecorder(Config{})
	r.streamed = true
	b := r.NewThread("t", r.AddProcess("p", 1))
	for i := range 100 {
		b.Emit(int64(i), KindCallEnter, NoStack, 0)
	}
	r.Finish(Meta{})
	r.recycle()
	for i := range eventPools {
		if eventPools[i].Get() != nil {
			t.Errorf("a streamed recorder gave its arrays back (pool %d)", i)
		}
	}
}

// emptyPools empties the pools: two collections (a pool's content goes
// to its victim cache at the first, is dropped at the second), which see
// every processor's share, where Get sees only those it may steal.
func emptyPools() {
	runtime.GC()
	runtime.GC()
}

func TestPoolIndex(t *testing.T) {
	for n, want := range map[int]int{0: -1, 1: -1, 1023: -1, 1024: 0, 1536: -1, 2048: 1, 64 << 10: 6, 128 << 10: 7, 256 << 10: -1} {
		if got := poolIndex(n); got != want {
			t.Errorf("poolIndex(%d) = %d, want %d", n, got, want)
		}
	}
}
