package cpython

import (
	"testing"
	"time"
)

// TestPacer: the sampler's pacer ticks through a timerfd (a time.Ticker
// of 0.5 ms ticks every 1.1 ms when the program is otherwise idle), never
// sooner than its interval on average, and stops.
func TestPacer(t *testing.T) {
	const every, n = 500 * time.Microsecond, 40
	p := newPacer(every)
	if p.f == nil {
		t.Fatal("no timerfd: the pacer fell back to a time.Ticker")
	}
	start := time.Now()
	for range n {
		p.wait()
	}
	if d := time.Since(start); d < (n-1)*every {
		t.Errorf("%d ticks of %v in %v: sooner than the interval", n, every, d)
	}
	p.stop()
}
