package tracer_test

import (
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// BenchmarkWaitedSums: one sweep of every lock's Waited, as a consumer
// summing by holder would do it, against WaitedSums (the sweep and the
// sums, on a fresh Spans each time).
func BenchmarkWaitedSums(b *testing.B) {
	tr := testkit.WebApp(16, 20000)
	s := tracer.Derive(tr)
	b.Run("waited", func(b *testing.B) {
		for b.Loop() {
			var n int64
			for l := range tr.Locks {
				for bl, waited := range s.Waited(tracer.LockID(l)) {
					if bl.Holder != tracer.NoThread && waited > 0 {
						n += waited
					}
				}
			}
		}
	})
	b.Run("sums", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := tracer.Derive(tr)
			b.StartTimer()
			s.WaitedSums()
		}
	})
}
