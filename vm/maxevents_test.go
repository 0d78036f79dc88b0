package vm

import (
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// TestMaxEventsCapped: the recorder's bound leaves each thread room for its
// buffer but never passes twice the tracer's default, whatever the threads
// (1024 threads asked 128 Mi events, 4 GiB, and a run that filled them died
// out of memory merging them).
func TestMaxEventsCapped(t *testing.T) {
	for _, c := range []struct{ threads, want int }{
		{1, tracer.DefaultMaxEvents},
		{128, tracer.DefaultMaxEvents},
		{200, 200 * threadReserve},
		{1024, 2 * tracer.DefaultMaxEvents},
		{1 << 20, 2 * tracer.DefaultMaxEvents},
	} {
		if got := maxEvents(0, settings{threads: c.threads}); got != c.want {
			t.Errorf("%d threads: bound %d, want %d", c.threads, got, c.want)
		}
	}
	if got := maxEvents(5, settings{threads: 1024}); got != 5 {
		t.Errorf("asked 5: bound %d", got)
	}
}
