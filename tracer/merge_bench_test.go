package tracer

import (
	"fmt"
	"testing"
)

// mergeInput is threads x per events in chunks as a Recorder holds them,
// the threads taking turns every run events (as threads sharing a GIL do;
// run 1 is the worst case of free-threaded threads).
func mergeInput(threads, per, run int) [][][]Event {
	var seqs [][][]Event
	for th := range threads {
		evs := make([]Event, per)
		for i := range evs {
			turn, k := i/run, i%run
			evs[i] = Event{Time: int64((turn*threads+th)*run + k), Thread: ThreadID(th), Kind: KindCallEnter}
		}
		var seq [][]Event
		for len(evs) > 0 {
			n := min(len(evs), chunkEvents)
			seq = append(seq, evs[:n])
			evs = evs[n:]
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// BenchmarkMergeEvents: Recorder.Finish's merge of 3 threads' 6 Mi events.
func BenchmarkMergeEvents(b *testing.B) {
	for _, run := range []int{1, 1000} {
		b.Run(map[int]string{1: "interleaved", 1000: "gil-turns"}[run], func(b *testing.B) {
			seqs := mergeInput(3, 2<<20, run)
			b.ResetTimer()
			for range b.N {
				mergeEvents(seqs)
			}
		})
	}
}

// BenchmarkGatherEvents: Finish's merge (merge) against its gather of a
// sequential recorder's log (gather, order.go) of the same events, 16
// threads' 2 Mi events taking turns every run events: every event in
// order, as a virtual run's nearly are.
func BenchmarkGatherEvents(b *testing.B) {
	for _, run := range []int{1, 3, 1000} {
		// The same events emitted in the trace's order into a sequential
		// recorder, which logs it.
		r := NewRecorder(Config{Sequential: true, MaxEvents: 16 * 128 << 10})
		var bufs []*Buffer
		for range 16 {
			bufs = append(bufs, r.NewThread("t", 0))
		}
		for _, e := range mergeEvents(mergeInput(16, 128<<10, run)) {
			bufs[e.Thread].Emit(e.Time, e.Kind, e.Stack, e.Arg)
		}
		var seqs [][][]Event
		for _, b := range bufs {
			seqs = append(seqs, b.sequence())
		}
		out := make([]Event, countEvents(seqs))
		b.Run(fmt.Sprintf("merge-run%d", run), func(b *testing.B) {
			for range b.N {
				mergeInto(out, seqs)
			}
		})
		b.Run(fmt.Sprintf("gather-run%d", run), func(b *testing.B) {
			for range b.N {
				if !r.order.gather(out, seqs) {
					b.Fatal("not gathered")
				}
			}
		})
	}
}
