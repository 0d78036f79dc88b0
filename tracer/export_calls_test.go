package tracer

import (
	"context"
	"testing"
)

// SetCallsApart sets how many call spans a run needs for them to be
// derived on another goroutine, and returns what restores it (tests).
func SetCallsApart(n int) (restore func()) {
	prev := callsApart
	callsApart = n
	return func() { callsApart = prev }
}

// TestCallPassStops: the calls' pass gives up at once on a done context
// (it runs on its own goroutine beside the rest, which deriveContext
// waits for): no call is paired; with a live one, calls are.
func TestCallPassStops(t *testing.T) {
	tr := genTrace(3, 1, 3, 3*deriveCheck)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := newDeriver(tr, true)
	d.stopPrefault()
	d.callPass(ctx)
	for i, cs := range d.calls {
		if len(cs.calls) != 0 {
			t.Fatalf("thread %d: %d calls paired after the context was done", i, len(cs.calls))
		}
	}
	d = newDeriver(tr, true)
	d.stopPrefault()
	d.callPass(context.Background())
	n := 0
	for _, cs := range d.calls {
		n += len(cs.calls)
	}
	if n == 0 {
		t.Fatal("genTrace has no calls")
	}
}

// SetSweepCells sets the bound of a blame sweep's table (sweepCells), and
// returns what restores it (tests).
func SetSweepCells(n int) (restore func()) {
	prev := sweepCells
	sweepCells = n
	return func() { sweepCells = prev }
}
