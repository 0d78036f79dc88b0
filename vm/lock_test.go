package vm

import (
	"context"
	"testing"
	"time"
)

// TestLockMutexOffInVirtualTime: the guest locks of a virtual run have no
// mutex (their threads are coroutines that run one at a time); those of a
// real run keep theirs.
func TestLockMutexOffInVirtualTime(t *testing.T) {
	if l := newLock(0, newVClock(context.Background(), 1, VirtualLoopsPerMS, 0), 1); !l.mu.off {
		t.Error("a virtual run's lock has its mutex on")
	}
	if l := newLock(0, &realClock{}, 1); l.mu.off {
		t.Error("a real run's lock has its mutex off")
	}
}

// TestLateTimeoutOnlyAtLongIntervals: real time draws a no-op timeout late
// (lateTimeout) only at switch intervals of lateFrom or more: below, the
// kernel already makes the VM's threads late as often as CPython's
// (TestLateExpiries, 2026-12-02: 20.6-21.2 % and 29.3-33.5 % of the no-op
// expiries at 1 and
// 0.2 ms, CPython about 20 % and 26 %), and drawing more had 4 threads
// at 0.2 ms switch 0.81-0.90 as often as CPython's (docs/fidelity.md).
func TestLateTimeoutOnlyAtLongIntervals(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		late     bool // whether some of 1000 draws are late
	}{
		{200 * time.Microsecond, false},
		{time.Millisecond, false},
		{lateFrom, true},
		{5 * time.Millisecond, true},
	} {
		l := newLock(0, &realClock{start: time.Now()}, 1)
		l.interval = tc.interval
		l.locked, l.switches = true, 2
		th := &thread{wake: NewWaker()}
		n := 0
		for range 1000 {
			if l.lateTimeout(th, 1) { // a switch since the wait began (1 != 2)
				n++
			}
		}
		if got := n > 0; got != tc.late || tc.late && (n < 100 || n > 200) {
			t.Errorf("interval %v: %d of 1000 no-op timeouts late, want late %v (about %.0f)", tc.interval, n, tc.late, lateChance*1000)
		}
	}
}
